"""st2's error shape, ``{"faultstring": …}``, for every failure of an API route."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.executions.service import ExecutionError
from core.packs.index import UnknownContentError
from core.params import ParameterError
from core.store.base import StoreError

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_PREFIXES = ("/api/v1", "/auth/v1", "/stream/v1")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def fault(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"faultstring": message}, status=status, headers=headers)


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, f'Resource with a reference or id "{name}" not found')


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Known failures become their st2 status; anything else is a logged 500 without details."""
    if not request.path.startswith(API_PREFIXES):
        return await handler(request)
    return await shaped(request, handler)


async def shaped(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``handler``'s answer, its failures shaped as api_errors says (webhook deliveries, which
    skip the middlewares, call this directly)."""
    try:
        return await handler(request)
    except ApiError as error:
        return fault(error.status, error.message, error.headers)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        reason = http.reason if http.status != 404 else f"The resource {request.path} was not found"
        return fault(http.status, reason, _allow_header(http))
    except UnknownContentError as unknown:
        return fault(404, str(unknown.args[0]) if unknown.args else "not found")
    except (ParameterError, ValueError, json.JSONDecodeError) as bad:
        return fault(400, str(bad) or type(bad).__name__)
    except ExecutionError as refused:
        return fault(400, str(refused))
    except StoreError:
        logger.exception("API %s %s: store failure", request.method, request.path)
        return fault(503, "The store is unavailable; retry later")
    except Exception:
        logger.exception("API %s %s failed", request.method, request.path)
        return fault(500, "Internal Server Error")


def _allow_header(http: web.HTTPException) -> dict[str, str] | None:
    allow = http.headers.get("Allow")
    return {"Allow": allow} if allow else None
