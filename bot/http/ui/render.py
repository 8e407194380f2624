"""The console's own Jinja environment: autoescaping, templates from this package.

It is NOT core.templates' sandboxed environment: that one renders pack and user content; this
one renders only the console's own templates, and every value put into them is escaped.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

from bot.http.ui.session import SESSION, csrf_token

ENV = Environment(
    loader=PackageLoader("bot.http.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=ChainableUndefined,  # optional fields of API documents read as empty
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session = request.get(SESSION)
    page = ENV.get_template(template).render(
        user=None if session is None else session.caller.user,
        csrf=None if session is None else csrf_token(session.plaintext),
        path=request.path,
        **context,
    )
    return web.Response(
        text=page,
        status=status,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
            "Referrer-Policy": "same-origin",
        },
    )


def problem(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "problem.html", status=status, status_code=status, message=message)
