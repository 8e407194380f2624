"""List and get routes over what is held in memory (pack content, runner types): the same
steps for every such resource, so each module only says where the items are and how one looks.

A list is sorted by ref, filtered by exact equality of the named query
parameters with the item's attributes of the same name (``?pack=core&name=local``), then paged
and projected as st2 does. A get answers 404 with st2's wording for an unknown ref.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiohttp import web

from bot.app import Engine
from bot.http.api.base import (
    LIMIT,
    OFFSET,
    Param,
    RouteTable,
    engine_of,
    ok,
    page_of,
    paging,
    projected,
)
from bot.http.api.errors import not_found

T = TypeVar("T")
ToApi = Callable[[T], dict[str, Any]]
LIST_PARAMS = (LIMIT, OFFSET, Param("include_attributes"), Param("exclude_attributes"))
OBJECT_LIST = {"type": "array", "items": {"type": "object"}}
REF = Param("ref_or_id", where="path", required=True)


def add_content_routes(
    routes: RouteTable,
    collection: str,
    items: Callable[[Engine], Mapping[str, T]],
    to_api: ToApi[T],
    *,
    one: str,
    many: str,
    filters: Sequence[str] = (),
    param: str = "ref_or_id",
) -> None:
    """``GET /api/v1/<collection>`` (sorted by key, filtered, paged, projected) and
    ``GET /api/v1/<collection>/{param}`` over the mapping ``items`` returns (ref → item)."""

    async def list_items(request: web.Request) -> web.Response:
        wanted = [(f, request.query.get(f)) for f in filters]
        docs = [
            to_api(item)
            for _, item in sorted(items(engine_of(request)).items())
            if all(not value or getattr(item, f) == value for f, value in wanted)
        ]
        limit, offset = paging(request)
        return page_of(projected(request, docs), limit, offset)

    async def get_item(request: web.Request) -> web.Response:
        ref = request.match_info[param]
        found = items(engine_of(request)).get(ref)
        if found is None:
            raise not_found(one, ref)
        return ok(to_api(found))

    name = collection.replace("/", "_")
    for handler, prefix in ((list_items, "list_"), (get_item, "get_")):
        handler.__name__ = handler.__qualname__ = prefix + name  # the OpenAPI operationId
    path = f"/api/v1/{collection}"
    list_params = (*LIST_PARAMS, *(Param(f) for f in filters))
    routes.add("GET", path, f"List {many}", params=list_params, response=OBJECT_LIST)(list_items)
    get_params = (Param(param, where="path", required=True),)
    routes.add("GET", f"{path}/{{{param}}}", f"One {one}", params=get_params)(get_item)
