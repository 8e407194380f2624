"""``/api/v1/openapi.json``: an OpenAPI 3 document built from the route tables themselves, so
it describes exactly the routes that are registered (and nothing st2 has that Squall lacks)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.http.api.base import Route

ERROR = {
    "type": "object",
    "required": ["faultstring"],
    "properties": {"faultstring": {"type": "string"}},
}
SECURITY_SCHEMES = {
    "api_key": {"type": "apiKey", "in": "header", "name": "St2-Api-Key"},
    "api_key_query": {"type": "apiKey", "in": "query", "name": "st2-api-key"},
    "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
    "token_query": {"type": "apiKey", "in": "query", "name": "x-auth-token"},
    "basic": {"type": "http", "scheme": "basic"},
}
_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def document(routes: Iterable[Route], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = _PATH_PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Squall: StackStorm-compatible API",
            "version": version,
            "description": "The subset of StackStorm's API that Squall serves (README: Using "
            'the st2 CLI and API). Errors are {"faultstring": ...}.',
        },
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": {"Error": ERROR},
        },
        "security": [{"api_key": []}, {"token": []}, {"api_key_query": []}, {"token_query": []}],
    }


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.tag}.{route.handler.__name__}.{route.method.lower()}",
        "responses": _responses(route),
    }
    params = [_param(p) for p in route.params]
    for name in _PATH_PARAM.findall(route.path):
        if not any(p["name"] == name and p["in"] == "path" for p in params):
            params.append({"name": name, "in": "path", "required": True,
                           "schema": {"type": "string"}})  # fmt: skip
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": route.body}},
        }
    if route.public:
        op["security"] = [{"basic": []}] if route.path.startswith("/auth/") else []
    return op


def _param(param: Any) -> dict[str, Any]:
    out = {"name": param.name, "in": param.where, "schema": param.schema}
    if param.required or param.where == "path":
        out["required"] = True
    if param.description:
        out["description"] = param.description
    return out


def _responses(route: Route) -> dict[str, Any]:
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if route.status >= 400:
        return {str(route.status): error, "default": error}
    if route.status == 204:
        return {"204": {"description": "Done, no content"}, "default": error}
    if route.streams:
        content = {"text/event-stream": {"schema": {"type": "string"}}}
    elif route.response.get("type") == "string":
        content = {"text/plain": {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": route.response}}
    ok: dict[str, Any] = {"description": "OK", "content": content}
    if route.response.get("type") == "array":
        ok["headers"] = {"X-Total-Count": {"schema": {"type": "integer"}}}
    return {str(route.status): ok, "default": error}
