"""What every API route shares: the engine and caller of a request, paging, JSON bodies, and a
route table that both registers the handlers and describes them for ``/api/v1/openapi.json``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from bot.app import Engine
from bot.http.api.errors import ApiError
from core.auth.service import Caller
from core.models.execution import parse_ts
from core.webhooks import jsondata

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Schema = dict[str, Any]
CALLER = web.RequestKey("squall_caller", Caller)
ENGINE = web.AppKey("api_engine", Engine)
MAX_LIMIT = 1000
MAX_OFFSET = 10**9  # beyond any store; SQLite integers overflow at 2**63
MAX_BODY_BYTES = 1024 * 1024
MAX_ID = 64  # longer ids are not even looked up (no stored id is that long)
T = TypeVar("T")


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    where: str = "query"
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    status: int = 200
    response: Schema = field(default_factory=lambda: {"type": "object"})
    public: bool = False  # no credentials needed (the openapi document, token creation)
    streams: bool = False  # text/event-stream


@dataclass
class RouteTable:
    """Routes of one resource module, in the order they are registered."""

    tag: str
    routes: list[Route] = field(default_factory=list)

    def add(
        self, method: str, path: str, summary: str, **kwargs: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, path, handler, summary, self.tag, **kwargs))
            return handler

        return register

    def register(self, app: web.Application) -> None:
        for route in self.routes:
            app.router.add_route(route.method, route.path, route.handler)
            if not route.path.endswith("/"):  # st2client asks for `/runnertypes/?name=…`
                app.router.add_route(route.method, route.path + "/", route.handler)


def engine_of(request: web.Request) -> Engine:
    return request.app[ENGINE]


LIMIT = Param("limit", {"type": "integer", "maximum": MAX_LIMIT})
OFFSET = Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET})


def caller(request: web.Request) -> Caller:
    found = request.get(CALLER)
    if not isinstance(found, Caller):  # a route registered as public asked for a caller
        raise ApiError(401, "Unauthorized - One of Token or API key required.")
    return found


def is_admin(request: web.Request) -> bool:
    return "admin" in caller(request).user.roles


def require_admin(request: web.Request, what: str) -> Caller:
    """Caller with the ``admin`` role, else 403 (managing keys, rules, other users' data)."""
    who = caller(request)
    if "admin" not in who.user.roles:
        raise ApiError(403, f'User "{who.user.name}" doesn\'t have required permission to {what}')
    return who


def acting_user(request: web.Request, asked: Any, what: str) -> str:
    """The user a request acts for: the caller, or (admins only) the ``user`` it names."""
    who = caller(request)
    if asked in (None, "", who.user.name):
        return who.user.name
    if not isinstance(asked, str):
        raise ApiError(400, "user: expected a string")
    require_admin(request, f'{what} "{asked}"')
    return asked


async def by_id(
    ident: str, get: Callable[[str], Awaitable[T | None]], named: str = "Resource with a"
) -> T:
    """What ``get`` finds for ``ident``, else st2's 404 ``<named> id "…" not found``."""
    found = await get(ident) if len(ident) <= MAX_ID else None
    if found is None:
        raise ApiError(404, f'{named} id "{ident[:MAX_ID]}" not found')
    return found


def int_query(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"{name}: expected an integer, got {text[:40]!r}") from None


def flag(request: web.Request, name: str) -> bool:
    """A switch as st2 clients send them (``sort_asc=True``): set unless empty, false or 0."""
    return request.query.get(name, "").strip().lower() not in ("", "false", "0", "no")


def paging(request: web.Request, default_limit: int = 100) -> tuple[int, int]:
    """(limit, offset) as st2 takes them; ``limit=-1`` (or 0) means as many as allowed."""
    limit = int_query(request, "limit", default_limit)
    offset = int_query(request, "offset", 0)
    if limit <= 0:
        limit = MAX_LIMIT
    if limit > MAX_LIMIT:
        raise ApiError(400, f"limit: at most {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise ApiError(400, f"offset: must be between 0 and {MAX_OFFSET}")
    return limit, offset


def page(items: Sequence[Any], total: int, limit: int) -> web.Response:
    headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
    return web.json_response(list(items), headers=headers, dumps=dumps)


def page_of(items: Sequence[Any], limit: int, offset: int) -> web.Response:
    """Page an in-memory list (pack content)."""
    return page(items[offset : offset + limit], len(items), limit)


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def dumps(data: Any) -> str:
    return json.dumps(data, default=str)


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = jsondata.loads(raw)
    except RecursionError:
        raise ApiError(400, "request body: JSON nested too deeply") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, numbers no store can keep
        raise ApiError(400, "request body: invalid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body: expected a JSON object")
    return data


def query_timestamp(request: web.Request, name: str) -> datetime | None:
    """An ISO 8601 UTC bound such as ``timestamp_gt`` (st2 requires the timezone)."""
    text = request.query.get(name)
    if not text:
        return None
    try:
        stamp = parse_ts(text)
    except ValueError:
        raise ApiError(
            400, f"{name}: expected an ISO 8601 UTC timestamp, got {text[:40]!r}"
        ) from None
    if stamp is None or stamp.tzinfo is None:
        raise ApiError(400, f"{name}: the timestamp needs a timezone (e.g. Z)")
    return stamp


def query_list(request: web.Request, name: str) -> list[str]:
    """``?name=a,b&name=c`` → [a, b, c] (st2 accepts both forms)."""
    return [part for value in request.query.getall(name, []) for part in value.split(",") if part]


def projected(request: web.Request, docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """st2's ``include_attributes`` / ``exclude_attributes`` (dotted paths reach into objects)."""
    include = query_list(request, "include_attributes")
    exclude = query_list(request, "exclude_attributes")
    if not include and not exclude:
        return list(docs)
    return [_project(doc, include, exclude) for doc in docs]


def _project(doc: dict[str, Any], include: list[str], exclude: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if include:
        for path in ["id", *include]:
            _copy_path(doc, out, path.split("."))
    else:
        out = dict(doc)
    for path in exclude:
        if path != "id":
            out.pop(path, None)
    return out


def _copy_path(src: dict[str, Any], dst: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head not in src:
        return
    if not rest or not isinstance(src[head], dict):
        dst[head] = src[head]
        return
    inner = dst.setdefault(head, {})
    if isinstance(inner, dict):
        _copy_path(src[head], inner, rest)
