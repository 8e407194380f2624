"""A fake Slack on 127.0.0.1: the Web API, response_url sink, file uploads and Socket Mode.

Only Slack's network boundary is faked: slack-bolt and slack_sdk run unmodified against it.
Every Web API call is recorded (method, arguments, time); ``wait_for`` waits for calls with a
bound. Faults are scripted per method (``fail_next``: a status such as 429 with headers), a
token can be refused (``refuse``), and the Socket Mode websocket can be dropped to test
reconnects. Messages are form or JSON bodies, as slack_sdk sends both.

Time limits, on the fake's own clock (``now``; ``advance`` moves it, nobody sleeps): a
``response_url`` lives 30 minutes from the request that carried it (then Slack answers 404
``expired_url``), and ``deliver`` sends a request to the app the way Slack does, waiting at most
3 seconds (real time) for the acknowledgement. A late ack is a failure: a slash command or a
click shows the user ``operation_timeout`` (recorded in ``ack_failures``). An event is retried as
the Events API does: up to three times — nearly at once, then after 1 minute, then after 5
minutes (``RETRY_DELAYS``) — with ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``
(``http_timeout`` for a late ack, ``http_error`` for a non-2xx answer, unless it carried
``X-Slack-No-Retry: 1``). A late request is not abandoned: Slack sends the retry while the app
may still be handling the first one, so the app sees both. Each retry is signed when sent. The
waits between retries run on the fake's clock (it moves by the whole delay) but only
``time_scale`` of it passes in real time, so a test sees Slack's schedule without waiting six
minutes; every request sent is in ``deliveries`` (retry number, reason, fake time, answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import WSMsgType, web

from tests.fakes.server import serving
from tests.fakes.slack_limits import block_errors, view_errors

TEAM = "T1"
BOT_USER = "UBOT"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-1-A1-test"
RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60
ACK_SECONDS = 3.0
EVENT_RETRIES = 3
RETRY_DELAYS = (0.0, 60.0, 300.0)  # after the failure: nearly at once, 1 minute, 5 minutes


@dataclass
class Delivery:
    """One request the fake sent to the app: which retry (None: the first), why, when (fake
    time), and the answer once it came (None while in flight or if it never came)."""

    retry: str | None
    reason: str | None
    at: float
    answer: tuple[int, str] | None = None


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float
    token: str


@dataclass
class _Fault:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)  # response_url posts
    channels: dict[str, str] = field(default_factory=lambda: {"alerts": "C0ALERTS"})
    refused: set[str] = field(default_factory=set)
    acks: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    socket_opens: int = 0
    base: str = ""
    posted_ts: set[str] = field(default_factory=set)  # chat.update of anything else fails
    rejected: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    response_url_uses: dict[str, int] = field(default_factory=dict)
    response_url_issued: dict[str, float] = field(default_factory=dict)  # name → fake time
    ack_failures: list[dict[str, Any]] = field(default_factory=list)
    ack_deadline: float = ACK_SECONDS
    offset: float = 0.0  # how far the fake's clock is ahead of time.monotonic()
    time_scale: float = 0.01  # real seconds per second of waiting between retries (1: Slack's)
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._faults: dict[str, list[_Fault]] = {}
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)
        self._envelopes: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._socket: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()

    # -- set-up -------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str) -> str:
        """A response_url for a request sent now: it expires 30 minutes from now (a name used
        again is a new request's url, so its 30 minutes start again)."""
        self.response_url_issued[name] = self.now()
        return f"{self.base}/hooks/{name}"

    # -- the clock ------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def refuse(self, token: str) -> None:
        self.refused.add(token)

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        count: int = 1,
        headers: dict[str, str] | None = None,
        error: str = "fatal_error",
    ) -> None:
        fault = _Fault(status, headers or {}, {"ok": False, "error": error})
        self._faults.setdefault(method, []).extend([fault] * count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/hooks/{name:.*}", self._hook)
        app.router.add_get("/link", self._link)
        return app

    # -- recorded calls -------------------------------------------------------------------
    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10) -> list[Call]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.called(method)) >= count), timeout
            )
        return self.called(method)

    async def wait_for_response(self, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.responses) >= count), timeout
            )
        return self.responses

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # -- the Web API ----------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        if request.content_type == "application/json":
            args = json.loads(raw or "{}")
        else:
            args = {**dict(request.query), **dict(parse_qsl(raw))}
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = token or str(args.get("token") or "")
        await self._record(Call(method, args, time.monotonic(), token))
        faults = self._faults.get(method)
        if faults:
            fault = faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        if not token.startswith(("xoxb-", "xapp-")) or token in self.refused:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        refused = self._refusal(method, args)
        if refused is not None:
            self.rejected.append((method, refused))
            return web.json_response(refused)
        return web.json_response(self._answer(method, args))

    def _refusal(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """What the real Slack refuses, in its error shape (tests/fakes/slack_limits.py)."""
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        errors: list[str] = []
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            errors = block_errors(blocks)
            if method == "chat.update" and str(args.get("ts")) not in self.posted_ts:
                return {"ok": False, "error": "message_not_found"}
        elif method in ("views.open", "views.update", "views.push"):
            view = args.get("view")
            errors = view_errors(json.loads(view) if isinstance(view, str) else view)
        if errors:
            return {"ok": False, "error": "invalid_blocks", "errors": errors}
        return None

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "BBOT"}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"{self.base.replace('http', 'ws')}/link"}
        if method in ("chat.postMessage", "chat.update"):
            ts = args.get("ts") or f"1700000000.{next(self._ts):06d}"
            self.posted_ts.add(str(ts))
            return {"ok": True, "channel": args.get("channel"), "ts": ts}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}
        if method == "conversations.list":
            listed = [{"id": cid, "name": name} for name, cid in self.channels.items()]
            return {"ok": True, "channels": listed, "response_metadata": {"next_cursor": ""}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts)}"
            return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = args["files"] if isinstance(args["files"], list) else json.loads(args["files"])
            return {"ok": True, "files": [{"id": f["id"]} for f in files]}
        return {"ok": True}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK")

    async def _hook(self, request: web.Request) -> web.Response:
        # A response_url takes five posts and lives 30 minutes; then Slack answers 404.
        name = request.match_info["name"]
        issued = self.response_url_issued.get(name, self.now())
        if self.now() - issued > RESPONSE_URL_SECONDS:
            self.rejected.append(("response_url", {"error": "expired_url"}))
            return web.Response(status=404, text="expired_url")
        self.response_url_uses[name] = self.response_url_uses.get(name, 0) + 1
        if self.response_url_uses[name] > RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        body = await request.json()
        errors = block_errors(body.get("blocks"))
        if errors:
            self.rejected.append(("response_url", {"errors": errors}))
            return web.json_response({"ok": False, "error": "invalid_blocks"}, status=400)
        async with self._changed:
            self.responses.append({"url": request.match_info["name"], **body})
            self._changed.notify_all()
        return web.Response(text="ok")

    # -- requests to the app, with Slack's 3-second acknowledgement ------------------------
    async def deliver(
        self, url: str, body: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """POST ``body`` to the app as Slack would; ``(status, text)`` of the answer Slack took.

        No answer within 3 s is Slack's ``operation_timeout``: the user sees that error for a
        command or a click; an event (a JSON body) is retried on Slack's schedule. Returns once
        Slack took an answer or gave up, and every request sent has had its answer (bounded)."""
        is_event = body.startswith("{")
        reason: str | None = None
        answer: tuple[int, str] = (0, "operation_timeout")
        in_flight: set[asyncio.Task[tuple[int, str, bool]]] = set()
        async with aiohttp.ClientSession() as session:
            try:
                for attempt in range(EVENT_RETRIES + 1 if is_event else 1):
                    if attempt:
                        await self._wait(RETRY_DELAYS[attempt - 1])
                    sent = dict(headers or sign(body))  # signed when sent, as Slack does
                    if is_event:
                        sent["Content-Type"] = "application/json"
                    if attempt:
                        sent |= {
                            "X-Slack-Retry-Num": str(attempt),
                            "X-Slack-Retry-Reason": str(reason),
                        }
                    record = Delivery(str(attempt) if attempt else None, reason, self.now())
                    self.deliveries.append(record)
                    post = asyncio.create_task(self._post(session, url, body, sent, record))
                    done, _ = await asyncio.wait({post}, timeout=self.ack_deadline)
                    if not done:  # late: Slack stops waiting, the request goes on
                        in_flight.add(post)
                        self.ack_failures.append(
                            {"error": "operation_timeout", "attempt": attempt, "body": body}
                        )
                        reason, answer = "http_timeout", (0, "operation_timeout")
                        continue
                    status, text, no_retry = post.result()
                    answer = (status, text)
                    if 200 <= status < 300 or no_retry:
                        break
                    reason = "http_error"
            finally:
                if in_flight:
                    await asyncio.wait(in_flight, timeout=30)
        return answer

    async def _post(
        self, session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str],
        record: Delivery,
    ) -> tuple[int, str, bool]:  # fmt: skip
        async with session.post(url, data=body.encode(), headers=headers) as response:
            record.answer = (response.status, await response.text())
            return (*record.answer, response.headers.get("X-Slack-No-Retry") == "1")

    async def _wait(self, seconds: float) -> None:
        """Wait ``seconds`` of Slack's time: the fake's clock moves by all of it."""
        await asyncio.sleep(seconds * self.time_scale)
        self.offset += seconds * (1 - self.time_scale)

    def expect_ack(self, envelope_id: str) -> asyncio.Task[dict[str, Any] | None]:
        """Socket Mode: the ack of ``envelope_id`` within 3 s, else ``None`` and a failure."""

        async def wait() -> dict[str, Any] | None:
            try:
                async with asyncio.timeout(self.ack_deadline):
                    while True:
                        ack = await self.acks.get()
                        if ack.get("envelope_id") == envelope_id:
                            return ack
            except TimeoutError:
                self.ack_failures.append({"error": "operation_timeout", "envelope": envelope_id})
                return None

        return asyncio.create_task(wait())

    # -- Socket Mode ----------------------------------------------------------------------
    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.socket_opens += 1
        self._socket = ws
        await ws.send_json({"type": "hello", "num_connections": 1})
        self._connected.set()
        pump = asyncio.create_task(self._pump(ws))
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self.acks.put_nowait(json.loads(frame.data))
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self._connected.clear()
        return ws

    async def _pump(self, ws: web.WebSocketResponse) -> None:
        while (envelope := await self._envelopes.get()) is not None:
            await ws.send_json(envelope)

    async def wait_connected(self, opens: int = 1, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while self.socket_opens < opens or not self._connected.is_set():
                await asyncio.sleep(0.02)

    def push_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        envelope_id = f"env-{next(self._ts)}"
        self._envelopes.put_nowait(
            {"envelope_id": envelope_id, "type": kind, "accepts_response_payload": True,
             "payload": payload}
        )  # fmt: skip
        return envelope_id

    async def drop_socket(self) -> None:
        """The connection breaks, as a network or a Slack restart would break it."""
        if self._socket is not None:
            await self._socket.close()


@contextlib.asynccontextmanager
async def running_fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    async with serving(fake.app()) as base:
        fake.base = base
        try:
            yield fake
        finally:
            fake._envelopes.put_nowait(None)


# -- signed requests, as Slack sends them ---------------------------------------------------
def sign(body: str, *, secret: str = SIGNING_SECRET, ts: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if ts is None else ts))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command(
    text: str, user: str, *, channel: str = "C0GENERAL", response_url: str
) -> dict[str, Any]:
    return {
        "token": "unused", "team_id": TEAM, "team_domain": "squall", "channel_id": channel,
        "channel_name": "general", "user_id": user, "user_name": user.lower(),
        "command": "/squall", "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": "trig-1",
    }  # fmt: skip


def block_action(
    value: str,
    user: str,
    *,
    message_ts: str,
    channel: str = "C0GENERAL",
    response_url: str,
    action_id: str = "squall-0",
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A1",
        "team": {"id": TEAM, "domain": "squall"},
        "channel": {"id": channel, "name": "general"},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "message": {"ts": message_ts, "bot_id": "BBOT", "type": "message", "text": "card"},
        "response_url": response_url,
        "trigger_id": "trig-2",
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
             "action_ts": "1700000100.000001"}
        ],
    }  # fmt: skip


def event_callback(event: dict[str, Any], event_id: str = "Ev1") -> dict[str, Any]:
    return {
        "token": "unused", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }  # fmt: skip


def form(fields: dict[str, Any]) -> str:
    return urlencode(fields)


def interactive(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})
