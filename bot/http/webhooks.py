"""aiohttp routes for ``/api/v1/webhooks``: bytes in, core.webhooks.handler decides, 202 out.

A 202 is only sent once the dispatcher returned, i.e. the trigger instance is persisted; if the
store is down the caller gets a 503 and can retry (the provider's own redelivery).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestPayloadError

from bot.http.api.base import CALLER
from bot.http.api.errors import Handler, shaped
from bot.http.listener import RAW_BODIES
from bot.http.webhook_refusals import RefusalLog
from bot.settings.schema import WebhooksSettings
from core.observe import metrics
from core.packs.index import UnknownTriggerTypeError
from core.rules.ruleset import RuleSet
from core.webhooks.apikey_check import ApiKeyLookup, require_api_key
from core.webhooks.encoding import decode_body
from core.webhooks.handler import (
    GENERIC_HOOK,
    WEBHOOK_TRIGGER,
    Dispatcher,
    WebhookError,
    authorize,
    build_payload,
    check_declared_size,
    check_storable,
    effective_auth,
    generic_target,
    normalize_hook,
    parse_body,
    require_json,
    trace_tag_of,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookRoutes:
    """The hooks some enabled rule listens to, their settings, and where instances go."""

    settings: WebhooksSettings
    rules: RuleSet  # read per request: enabling a rule opens its hook without a restart
    dispatcher: Dispatcher
    api_keys: ApiKeyLookup  # read per request: a revoked key is refused at once
    refusals: RefusalLog | None = None  # refused deliveries go to the audit log

    @property
    def hooks(self) -> frozenset[str]:
        return self.rules.webhook_urls()

    def register(self, app: web.Application) -> None:
        receive = self.receive  # one bound method: the route, and what the shortcut knows
        app.router.add_get("/api/v1/webhooks", self.list_hooks)
        app.router.add_get("/api/v1/webhooks/{url:.*}", self.show_hook)
        app.router.add_post("/api/v1/webhooks/{url:.*}", receive)
        app.middlewares.insert(0, _deliveries_first(receive))

    async def list_hooks(self, request: web.Request) -> web.Response:
        # Reading the hook list needs an API key (or, with the API on, a token), as every st2
        # API call does.
        try:
            await self._check_reader(request)
        except WebhookError as refused:
            return _error(refused.status, refused.message)
        return web.json_response([self._row(hook) for hook in sorted({*self.hooks, GENERIC_HOOK})])

    async def show_hook(self, request: web.Request) -> web.Response:
        hook = normalize_hook(request.match_info["url"])
        try:
            await self._check_reader(request)
        except WebhookError as refused:
            return _error(refused.status, refused.message)
        if hook != GENERIC_HOOK and hook not in self.hooks:
            return _error(404, f"Webhook {hook} not registered with st2")
        return web.json_response(self._row(hook))

    def _row(self, hook: str) -> dict[str, Any]:
        # st2's shape (a trigger of core.st2.webhook; `st2 webhook list` reads parameters.url)
        # plus Squall's url and auth.
        return {
            "id": f"{WEBHOOK_TRIGGER}:{hook}",
            "type": WEBHOOK_TRIGGER,
            "parameters": {"url": hook},
            "url": hook,
            "auth": effective_auth(self.settings.auth_for(hook)).label,
        }

    async def _check_reader(self, request: web.Request) -> None:
        """An API key, unless the API's auth middleware already authenticated the caller."""
        if request.get(CALLER) is None:  # set by the REST API's auth middleware
            await self._check_api_key(request)

    async def receive(self, request: web.Request) -> web.Response:
        hook = normalize_hook(request.match_info["url"])
        try:
            return await self._receive(hook, request)
        except WebhookError as refused:
            logger.info("webhook %r refused (%d): %s", hook, refused.status, refused.message)
            metrics.WEBHOOK_REFUSED.labels(refused.reason).inc()
            if self.refusals is not None:
                await self.refusals.refused(
                    hook, refused.status, refused.reason, refused.message, request.remote
                )
            return _error(refused.status, refused.message)

    async def _receive(self, hook: str, request: web.Request) -> web.Response:
        auth = effective_auth(self.settings.auth_for(hook))
        if auth.kind == "api-key":
            # As st2's auth middleware: before the 404, so callers without a key cannot probe
            # which hooks exist, and before spending anything on the body.
            await self._check_api_key(request)
        if hook != GENERIC_HOOK and hook not in self.hooks:
            raise WebhookError(404, f"Webhook {hook} not registered with st2")
        headers = request.headers
        content_type = headers.get("Content-Type", "")
        if auth.kind == "none":
            require_json(content_type)
        body = await _read_capped(request, self.settings.max_body_bytes)
        delivery_id = authorize(hook, auth, headers, body, time.time())
        parsed = parse_body(content_type, body)
        if hook == GENERIC_HOOK:
            trigger, payload = generic_target(parsed)
            parameters: dict[str, Any] | None = None
        else:
            trigger, payload = WEBHOOK_TRIGGER, build_payload(headers, parsed, auth)
            parameters = {"url": hook}
        check_storable(payload)
        # Scoped by hook: two hooks may well see the same provider delivery id.
        dedupe_key = None if delivery_id is None else f"{hook}:{delivery_id}"
        tag = trace_tag_of(headers)
        await self._dispatch(hook, trigger, payload, parameters, dedupe_key, tag)
        return web.json_response(parsed, status=202)

    async def _check_api_key(self, request: web.Request) -> None:
        """WebhookError 401 without a valid key, 503 when the store cannot tell."""
        try:
            await require_api_key(self.api_keys, request.headers, request.query)
        except WebhookError:
            raise
        except Exception:
            logger.exception("webhook API key lookup failed")
            raise WebhookError(503, "could not check the API key; retry later") from None

    async def _dispatch(
        self,
        hook: str,
        trigger: str,
        payload: dict[str, Any],
        parameters: dict[str, Any] | None,
        dedupe_key: str | None,
        trace_tag: str | None,
    ) -> None:
        try:
            instance = await self.dispatcher.dispatch(
                trigger,
                payload,
                trigger_parameters=parameters,
                source=f"webhook:{hook}",
                dedupe_key=dedupe_key,
                trace_tag=trace_tag,
            )
        except UnknownTriggerTypeError:
            raise WebhookError(400, f"unknown trigger type {trigger!r}") from None
        except Exception:
            # Whatever broke (store down, disk full), the delivery was not persisted: say so.
            logger.exception("webhook %s: dispatch failed", hook)
            raise WebhookError(503, "could not store the trigger instance; retry later") from None
        if instance is None:
            logger.info("webhook %s: duplicate delivery %s acknowledged", hook, dedupe_key)


async def _read_capped(request: web.Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; refuse as soon as more arrive (a lying Content-Length),
    then decode its Content-Encoding with the same cap (the listener does not decompress)."""
    check_declared_size(request.content_length, limit)
    content = request.content
    chunks: list[bytes] = []
    total = 0
    try:
        while not content.at_eof():
            # What already arrived is taken without awaiting (a webhook body usually came
            # with its headers); otherwise wait for more (b"" once the body ended).
            chunk = content.read_nowait() or await content.readany()
            total += len(chunk)
            check_declared_size(total, limit)
            chunks.append(chunk)
    except (RequestPayloadError, HttpProcessingError) as exc:
        raise WebhookError(400, f"cannot read the body: {type(exc).__name__}") from None
    body = b"".join(chunks)
    if not request.app.get(RAW_BODIES, False):  # aiohttp decoded it already (test servers)
        return body
    return decode_body(request.headers.get("Content-Encoding", ""), body, limit)


def _deliveries_first(receive: Handler) -> Middleware:
    """Webhook deliveries go to their route past the app's other middlewares (each layer costs
    ~0.8 µs a delivery), none of which has anything to do for them: the API's auth lets them
    through (a hook checks its own auth), the console's act under /ui only, and the API's
    error shaping is applied here as well, with or without the API."""

    @web.middleware
    async def deliveries_first(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.handler is receive:
            return await shaped(request, receive)
        return await handler(request)

    return deliveries_first


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"faultstring": message}, status=status)
