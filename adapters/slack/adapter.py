"""The Slack adapter: slack-bolt's ``AsyncApp`` in Socket Mode (default) or HTTP mode.

Bolt receives and acknowledges (slash commands and clicks are acked before any work, well
inside Slack's 3 seconds); its listeners only translate the payload (``convert``) and queue a
``ChatEvent`` for the bot. Outbound posts go through bolt's ``AsyncWebClient``, whose retry
handlers honour ``Retry-After`` on 429 and back off with jitter on 5xx and connection errors;
a lock per channel keeps posts to one channel in order. The bot's Delivery retries whatever
still fails and counts it (``/healthz``, ``squall doctor``).

Socket Mode reconnects are the bot's (backoff with jitter), not slack_sdk's: the socket client's
own reconnect loop is turned off and ``events()`` raises ``ConnectionLost`` when the session
is gone, so the adapter state in ``/healthz`` is always true. HTTP mode mounts one route on
Squall's aiohttp listener; bolt verifies each request's v0 signature (HMAC-SHA256 over the raw
body, 5-minute window both ways, constant-time compare) and answers 401 when it fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import RandomJitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.base import (
    AdapterState,
    Attachment,
    Capabilities,
    ChatAdapter,
    ChatEvent,
    ChatPlace,
    ConnectionLost,
    CredentialError,
    HttpRoute,
    OutgoingMessage,
    SentMessage,
)
from adapters.slack.convert import (
    ACTION_PREFIX,
    FORM_ACTION,
    MODAL_CALLBACK,
    action_event,
    command_event,
    message_event,
    modal_event,
    response_modal,
    to_slack,
)
from core.models.approval import Approval, ApprovalStatus

__all__ = ["SLACK_CAPABILITIES", "SlackAdapter", "SlackConfig"]

logger = logging.getLogger(__name__)

SLACK_CAPABILITIES: Final = Capabilities(
    buttons=True, edits=True, threads=True, files=True, ephemeral=True, max_text=3000,
    max_fields=10, max_field_text=1900,  # 2000 per field, with the bold title in it
)  # fmt: skip
# Errors that mean the token itself is refused: reconnecting cannot help.
_CREDENTIAL_ERRORS: Final = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
     "no_permission", "missing_scope", "not_allowed_token_type"}
)  # fmt: skip
_SEEN_EVENTS: Final = 10_000
_RESPONSE_URL_SECONDS: Final = 25 * 60  # Slack keeps a response_url for 30 minutes
_RESPONSE_URL_USES: Final = 5  # and takes five posts on it
_REMEMBERED: Final = 1000  # response urls and approvals kept for forms, at most
# Every button Squall puts on a card (``squall-<n>``), but not the form button.
_CARD_BUTTON: Final = re.compile(rf"^{ACTION_PREFIX}-\d+$")
_RETRY_INTERVALS: Final = BackoffRetryIntervalCalculator(backoff_factor=0.5, jitter=RandomJitter())


@dataclass(frozen=True)
class SlackConfig:
    """Everything the adapter needs; bot/settings builds it from ``chat.slack``."""

    bot_token: str
    mode: Literal["socket", "http"] = "socket"
    app_token: str = ""
    signing_secret: str = ""
    slash_command: str = "/squall"
    api_url: str = "https://slack.com/api/"
    events_path: str = "/slack/events"
    ping_interval: float = 10.0
    connect_timeout: float = 15.0
    max_body_bytes: int = 1_048_576
    name: str = "slack"


class _ServerErrorRetry(AsyncRetryHandler):
    """5xx from Slack (or a proxy in front of it): try again with backoff and jitter."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


def _web_client(config: SlackConfig) -> AsyncWebClient:
    base = config.api_url if config.api_url.endswith("/") else config.api_url + "/"
    return AsyncWebClient(
        token=config.bot_token,
        base_url=base,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            _ServerErrorRetry(max_retry_count=3, interval_calculator=_RETRY_INTERVALS),
            AsyncConnectionErrorRetryHandler(
                max_retry_count=3, interval_calculator=_RETRY_INTERVALS
            ),
        ],
    )


class _DropTokenSkipped(logging.Filter):
    """bolt warns "As you gave `client` as well, `token` will be unused" whenever
    ``$SLACK_BOT_TOKEN`` is set (it reads it as a default), though Squall's client carries the
    configured token: a warning about nothing, in every ``serve`` and ``squall doctor``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


# bolt's loggers derive from the one given to AsyncApp; other bolt warnings pass.
_BOLT_LOGGER = logging.getLogger("slack_bolt.squall")
_BOLT_LOGGER.addFilter(_DropTokenSkipped())


class SlackAdapter(ChatAdapter):
    def __init__(self, config: SlackConfig) -> None:
        self.config = config
        self.name = config.name
        self.capabilities = SLACK_CAPABILITIES
        self.state = AdapterState.STARTING
        self.client = _web_client(config)
        self.bot_user_id: str | None = None
        self.team_id = ""
        self.app = AsyncApp(
            # Named: without a name bolt takes the caller's file name from inspect.stack(),
            # which reads the source of every frame into linecache (~0.5 MB kept for good).
            name="squall",
            client=self.client,
            logger=_BOLT_LOGGER,
            signing_secret=config.signing_secret or None,
            request_verification_enabled=config.mode == "http",
            ssl_check_enabled=config.mode == "http",
            url_verification_enabled=config.mode == "http",
        )
        self._inbox: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
        self._socket: AsyncSocketModeHandler | None = None
        self._channel_ids: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # (channel, user) → [url, expires (monotonic), uses left]
        self._response_urls: dict[tuple[str, str], tuple[str, float, int]] = {}
        self._approvals: dict[str, Approval] = {}
        self._seen_events: dict[str, None] = {}  # insertion-ordered: the oldest go first
        self.clock: Callable[[], float] = time.monotonic  # response_url ages (tests move it)
        self._register_listeners()

    # -- inbound (bolt listeners: translate and queue, nothing more) -------------------------
    def _register_listeners(self) -> None:
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.command(self.config.slash_command)(self._on_command)
        self.app.action(FORM_ACTION)(self._on_form)
        self.app.action(_CARD_BUTTON)(self._on_action)
        self.app.view(MODAL_CALLBACK)(self._on_view)

    def _queue(self, event: ChatEvent | None) -> None:
        if event is not None:
            self._inbox.put_nowait(event)

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if self._first_delivery(body):
            team = str(body.get("team_id") or event.get("team") or self.team_id)
            self._queue(message_event(event, team, self.bot_user_id, mention=True))

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if self._first_delivery(body):
            team = str(body.get("team_id") or event.get("team") or self.team_id)
            self._queue(message_event(event, team, self.bot_user_id, mention=False))

    def _first_delivery(self, body: dict[str, Any]) -> bool:
        """Slack re-sends an event it thinks was not received (``X-Slack-Retry-Num``): the
        event id makes the retry a no-op, so a command never runs twice."""
        event_id = body.get("event_id")
        if not isinstance(event_id, str):
            return True
        if event_id in self._seen_events:
            return False
        self._seen_events[event_id] = None
        if len(self._seen_events) > _SEEN_EVENTS:
            self._seen_events.pop(next(iter(self._seen_events)))
        return True

    async def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        await ack()
        event = command_event(command)
        if not event.text:
            event = replace(event, text="help")
        self._remember_response_url(event)
        self._queue(event)

    async def _on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        event = action_event(body, action)
        if event is not None:
            self._remember_response_url(event)
        self._queue(event)

    async def _on_form(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        event = action_event(body, {"value": "whoami"})  # who clicked, and where
        try:
            approval_id = json.loads(action.get("value") or "{}").get("approval")
        except ValueError:
            approval_id = None
        approval = self._approvals.get(str(approval_id))
        if event is None or approval is None:
            return
        view = response_modal(approval.id, approval.schema, approval.title, event.place)
        try:
            await self.client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            logger.warning("slack: cannot open the response form: %s", exc.response.get("error"))

    async def _on_view(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self._queue(modal_event(body))

    def _remember_response_url(self, event: ChatEvent) -> None:
        if event.reply_token:
            now = self.clock()
            key = (event.place.channel, event.identity.user_id)
            self._response_urls.pop(key, None)  # re-inserted last: the newest
            self._response_urls[key] = (
                event.reply_token,
                now + _RESPONSE_URL_SECONDS,
                _RESPONSE_URL_USES,
            )
            expired = [k for k, (_, until, left) in self._response_urls.items()
                       if until <= now or left <= 0]  # fmt: skip
            for stale in expired:
                del self._response_urls[stale]
            _keep_newest(self._response_urls, _REMEMBERED)

    # -- connection ---------------------------------------------------------------------------
    async def connect(self) -> None:
        self.state = AdapterState.STARTING
        auth = await self._call(self.client.auth_test(), "bot token")
        self.bot_user_id = str(auth.get("user_id") or "") or None
        self.team_id = str(auth.get("team_id") or "")
        if self.config.mode == "socket":
            await self._open_socket()
        self.state = AdapterState.CONNECTED

    async def _open_socket(self) -> None:
        await self._close_socket()
        opened = await self._call(
            self.client.apps_connections_open(app_token=self.config.app_token), "app token"
        )
        handler = AsyncSocketModeHandler(
            self.app, app_token=self.config.app_token, ping_interval=self.config.ping_interval
        )
        handler.client.wss_uri = str(opened["url"])
        # The bot reconnects (with backoff and jitter); slack_sdk's own loop would hide drops.
        handler.client.auto_reconnect_enabled = False
        handler.client.default_auto_reconnect_enabled = False
        self._socket = handler
        try:
            connecting = handler.connect_async()  # type: ignore[no-untyped-call]
            await asyncio.wait_for(connecting, self.config.connect_timeout)
        except TimeoutError:
            await self._close_socket()
            raise ConnectionLost("Slack Socket Mode: the websocket did not open in time") from None

    async def _call(self, call: Awaitable[Any], what: str) -> Any:
        try:
            return await call
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc)
            if error in _CREDENTIAL_ERRORS:
                raise CredentialError(f"Slack refused the {what}: {error}") from None
            raise ConnectionLost(f"Slack: {error}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ConnectionLost(f"Slack unreachable: {exc}") from None

    async def events(self) -> AsyncIterator[ChatEvent]:
        while True:
            try:
                event = await asyncio.wait_for(self._inbox.get(), self.config.ping_interval)
            except TimeoutError:
                await self._check_socket()
                continue
            if event is None:
                return
            yield event

    async def _check_socket(self) -> None:
        if self._socket is not None and not await self._socket.client.is_connected():
            self.state = AdapterState.RECONNECTING
            raise ConnectionLost("Slack Socket Mode session closed")

    async def close(self) -> None:
        self.state = AdapterState.CLOSED
        await self._close_socket()
        self._inbox.put_nowait(None)

    async def _close_socket(self) -> None:
        if self._socket is not None:
            socket, self._socket = self._socket, None
            try:
                await socket.close_async()  # type: ignore[no-untyped-call]
            except Exception:  # closing a broken session must not stop a reconnect
                logger.debug("slack: old socket did not close cleanly", exc_info=True)

    async def check(self) -> str | None:
        try:
            await self._call(self.client.auth_test(), "bot token")
            if self.config.mode == "socket":
                await self._call(
                    self.client.apps_connections_open(app_token=self.config.app_token),
                    "app token",
                )
        except (CredentialError, ConnectionLost) as exc:
            return str(exc)
        return None

    # -- HTTP mode ------------------------------------------------------------------------
    def http_routes(self) -> Sequence[HttpRoute]:
        if self.config.mode != "http":
            return ()
        return (("POST", self.config.events_path, self._http_request),)

    async def _http_request(self, request: web.Request) -> web.StreamResponse:
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return web.Response(status=413, text="request body too large")
        raw = await request.content.read(limit + 1)
        if len(raw) > limit:
            return web.Response(status=413, text="request body too large")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.Response(status=400, text="request body is not UTF-8")
        headers: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in request.headers.items()}
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=headers)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    # -- outbound -------------------------------------------------------------------------
    def _lock(self, channel: str) -> asyncio.Lock:
        return self._locks.setdefault(channel, asyncio.Lock())

    async def channel_id(self, channel: str) -> str:
        """A channel id as given, or ``#name`` resolved once (conversations.list) and cached."""
        if not channel.startswith("#"):
            return channel
        name = channel[1:]
        if name not in self._channel_ids:
            self._channel_ids.update(await self._list_channels())
        try:
            return self._channel_ids[name]
        except KeyError:
            raise LookupError(f"Slack channel {channel} not found (is the bot in it?)") from None

    async def _list_channels(self) -> dict[str, str]:
        found: dict[str, str] = {}
        cursor = None
        while True:
            page = await self.client.conversations_list(
                types="public_channel,private_channel", limit=1000, cursor=cursor
            )
            found.update({str(c["name"]): str(c["id"]) for c in page.get("channels") or ()})
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    def _remember(self, message: OutgoingMessage) -> None:
        """Approvals whose card may open a form; a decided one needs no form any more."""
        approval = message.approval
        if approval is None:
            return
        if approval.status is ApprovalStatus.PENDING:
            self._approvals[approval.id] = approval
            _keep_newest(self._approvals, _REMEMBERED)
        else:
            self._approvals.pop(approval.id, None)

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        channel = await self.channel_id(place.channel)
        self._remember(message)
        payload = to_slack(message)
        async with self._lock(channel):
            if message.ephemeral and message.audience:
                return await self._ephemeral(place, channel, message.audience, payload)
            posted = await self.client.chat_postMessage(
                channel=channel, thread_ts=place.thread, unfurl_links=False, **payload
            )
            ts = str(posted["ts"])
            sent_place = ChatPlace(
                self.name, str(posted["channel"]), place.thread, None, place.is_direct
            )
            if message.attachment is not None:
                await self._upload(sent_place.channel, place.thread or ts, message.attachment)
        return SentMessage(sent_place, ts)

    async def _ephemeral(
        self, place: ChatPlace, channel: str, user: str, payload: dict[str, Any]
    ) -> SentMessage:
        key = (place.channel, user)
        url, expires, left = self._response_urls.get(key, ("", 0.0, 0))
        if url and self.clock() < expires and left > 0:
            # Works where the bot is not a member (a slash command in any channel or DM).
            self._response_urls[key] = (url, expires, left - 1)
            answer = await AsyncWebhookClient(url).send(
                response_type="ephemeral", replace_original=False, **payload
            )
            if answer.status_code == 200:
                return SentMessage(place, "ephemeral")
            # Slack refused it (404 expired_url / used_url): never again; say it another way.
            logger.info("slack: response_url refused (%s), posting instead", answer.status_code)
            self._response_urls.pop(key, None)
        posted = await self.client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=place.thread, **payload
        )
        return SentMessage(place, f"ephemeral:{posted.get('message_ts', '')}")

    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        if sent.message_id.startswith("ephemeral"):
            return await self.send(sent.place, message)  # Slack cannot edit those
        self._remember(message)
        channel = sent.place.channel
        async with self._lock(channel):
            await self.client.chat_update(channel=channel, ts=sent.message_id, **to_slack(message))
            if message.attachment is not None:
                thread = sent.place.thread or sent.message_id
                await self._upload(channel, thread, message.attachment)
        return sent

    async def _upload(self, channel: str, thread: str, attachment: Attachment) -> None:
        await self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread,
            content=attachment.content,
            filename=attachment.filename,
            title=attachment.filename,
            initial_comment=f"Full output ({len(attachment.content)} characters)",
        )


def _keep_newest(mapping: dict[Any, Any], size: int) -> None:
    """Drop the oldest entries (insertion order) beyond ``size``: these maps never grow forever."""
    for key in list(mapping)[: max(0, len(mapping) - size)]:
        del mapping[key]
