"""A fake Discord on 127.0.0.1: REST v10 and the JSON gateway, enough to run discord.py for real.

discord.py is pointed here by two class attributes (``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``, see ``point_discord_py_at``); nothing of discord.py is
patched. The fake keeps a message store (so clicks can be built from the stored components, as
Discord does), records every REST call, hands out command ids on sync, and pushes
``INTERACTION_CREATE`` dispatches for slash commands, autocomplete, clicks and modal submits.
``drop_gateway`` closes the websocket and ``request_reconnect`` sends op 7; either way
discord.py RESUMEs on a new connection.

Time limits, on the fake's own clock (``now``; ``advance`` moves it, nobody sleeps): an
interaction's initial response comes within 3 s of its creation or Discord answers 404
``Unknown interaction`` (10062) and the user sees "This interaction failed"; its token serves
follow-ups and ``@original`` edits for 15 minutes, then 401 ``Invalid Webhook Token`` (50027).

The gateway (sessions, RESUME, INVALID_SESSION, op 7 RECONNECT) is in discord_gateway.py.

A channel message posted with ``enforce_nonce`` and a ``nonce`` the bot used in the past few
minutes (``NONCE_SECONDS``) is not posted again: Discord answers with the earlier message.

Replies are JSON with ``Content-Type: application/json`` exactly (discord.py compares it), and
the interaction callback answers ``?with_response=1`` with an InteractionCallbackResponse.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord_gateway import (  # noqa: F401 (the tests import them from here)
    ALERTS_ID,
    APP_ID,
    BOT_ID,
    BOT_USER,
    CHANNEL_ID,
    CHANNELS,
    GUILD,
    GUILD_ID,
    THREAD_ID,
    TOKEN,
    Gateway,
)
from tests.fakes.discord_limits import command_problems, invalid_form_body, message_problems
from tests.fakes.server import serving

# Discord's answer to a second initial response to one interaction.
ALREADY_ACKNOWLEDGED = 40060
UNKNOWN_INTERACTION = 10062  # no initial response within 3 s
INVALID_WEBHOOK_TOKEN = 50027  # an interaction token used after 15 minutes
INITIAL_RESPONSE_SECONDS = 3.0
TOKEN_SECONDS = 15 * 60
NONCE_SECONDS = 5 * 60  # "checked for uniqueness in the past few minutes"


def user(user_id: str, name: str) -> dict[str, Any]:
    return {"id": user_id, "username": name, "discriminator": "0", "global_name": name,
            "avatar": None, "bot": False, "flags": 0}  # fmt: skip


@dataclass
class Call:
    method: str
    path: str
    body: dict[str, Any]
    files: dict[str, bytes]
    at: float


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data).encode(), content_type="application/json"
    )


@dataclass
class FakeDiscord(Gateway):
    base: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scope → commands
    identifies: int = 0
    resumes: int = 0
    refused_tokens: set[str] = field(default_factory=set)
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    offset: float = 0.0  # how far the fake's clock is ahead of time.monotonic()
    identified_instead_of_resuming: int = 0
    invalid_sessions: int = 0
    resume_paths: list[str] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)  # event names sent again on RESUME
    reconnects_requested: int = 0  # op 7 sent

    def __post_init__(self) -> None:
        self._ids = itertools.count(2000000000000000000)
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._ws: web.WebSocketResponse | None = None
        self._ready = asyncio.Event()
        self._interactions: dict[str, dict[str, Any]] = {}  # token → interaction
        self._original: dict[str, str] = {}  # interaction token → response message id
        self._answered: set[str] = set()  # interaction tokens given their initial response
        self._created: dict[str, float] = {}  # interaction token → fake time of creation
        self._dms: dict[str, str] = {}  # user id → DM channel id
        self._session: str | None = None  # the session a client may resume
        self._history: list[dict[str, Any]] = []  # the session's dispatches, for RESUME
        self._nonces: dict[str, tuple[str, float]] = {}  # nonce → (message id, fake time)
        self._held_back = False
        self._drop_after_post = 0  # channel posts to create, then drop the connection

    # -- the clock ------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    # -- set-up ---------------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        return f"{self.base}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"{self.base.replace('http', 'ws')}/gateway"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume-gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        return app

    def snowflake(self) -> str:
        return str(next(self._ids))

    # -- recorded calls -------------------------------------------------------------------
    def called(self, method: str, fragment: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and fragment in c.path]

    async def wait_for(
        self, method: str, fragment: str, count: int = 1, timeout: float = 10
    ) -> list[Call]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.called(method, fragment)) >= count),
                timeout,
            )
        return self.called(method, fragment)

    async def wait_until(self, check: Any, timeout: float = 10) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(check), timeout)

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _touched(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- REST -----------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body, files = await _read_body(request)
        await self._record(Call(request.method, path, body, files, time.monotonic()))
        auth = request.headers.get("Authorization", "")
        if path.startswith(("/users/@me", "/oauth2", "/applications", "/channels")) and (
            auth.removeprefix("Bot ") in self.refused_tokens
        ):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        parts = path.strip("/").split("/")
        handler = self._route(request.method, parts)
        if handler is None:
            return _json({"message": f"fake: no route {request.method} {path}", "code": 0}, 404)
        expired = self._expired(parts)
        if expired is not None:
            self.rejected.append((path, [expired["message"]]))
            return _json(expired, 401 if expired["code"] == INVALID_WEBHOOK_TOKEN else 404)
        problems = self._problems(request.method, parts, body)
        if problems:
            self.rejected.append((path, problems))
            return _json(invalid_form_body(problems), 400)
        result = await handler(parts, body, files, request)
        await self._touched()
        return result

    def _expired(self, parts: list[str]) -> dict[str, Any] | None:
        """Discord's clocks: 3 s for the initial response, 15 minutes for the token."""
        if parts[0] == "interactions" and len(parts) == 4:
            created = self._created.get(parts[2])
            if created is None or self.now() - created > INITIAL_RESPONSE_SECONDS:
                return {"message": "Unknown interaction", "code": UNKNOWN_INTERACTION}
        if parts[0] == "webhooks" and len(parts) >= 3 and parts[1] == APP_ID:
            created = self._created.get(parts[2])
            if created is None or self.now() - created > TOKEN_SECONDS:
                return {"message": "Invalid Webhook Token", "code": INVALID_WEBHOOK_TOKEN}
        return None

    def _problems(self, method: str, parts: list[str], body: Any) -> list[str]:
        """What the real Discord refuses (tests/fakes/discord_limits.py)."""
        if parts[0] == "applications" and method == "PUT":
            return command_problems(body)
        if parts[0] == "interactions" and isinstance(body, dict):
            return message_problems(body.get("data"))
        if method in ("POST", "PATCH") and parts[0] in ("webhooks", "channels"):
            return message_problems(body)
        return []

    def _route(self, method: str, parts: list[str]) -> Any:
        key = (method, parts[0], len(parts))
        table = {
            ("GET", "users", 2): self._me,
            ("POST", "users", 3): self._open_dm,
            ("GET", "oauth2", 3): self._app_info,
            ("PUT", "applications", 3): self._sync_commands,
            ("PUT", "applications", 5): self._sync_commands,
            ("GET", "applications", 3): self._get_commands,
            ("GET", "applications", 5): self._get_commands,
            ("POST", "interactions", 4): self._callback,
            ("POST", "webhooks", 3): self._followup,
            ("GET", "webhooks", 5): self._get_webhook_message,
            ("PATCH", "webhooks", 5): self._edit_webhook_message,
            ("DELETE", "webhooks", 5): self._delete_webhook_message,
            ("POST", "channels", 3): self._channel_post,
            ("PATCH", "channels", 4): self._channel_edit,
            ("GET", "channels", 2): self._get_channel,
        }
        return table.get(key)

    async def _me(self, *_: Any) -> web.Response:
        return _json(BOT_USER)

    def dm_channel(self, user_id: str) -> str:
        """The id of the direct-message channel with ``user_id`` (the same one every time)."""
        return self._dms.setdefault(user_id, self.snowflake())

    async def _open_dm(self, parts: list[str], body: Any, *_: Any) -> web.Response:
        recipient = str(body.get("recipient_id"))
        return _json({"id": self.dm_channel(recipient), "type": 1, "last_message_id": None,
                      "recipients": [user(recipient, f"user{recipient[-4:]}")]})  # fmt: skip

    async def _app_info(self, *_: Any) -> web.Response:
        return _json({
            "id": APP_ID, "name": "Squall", "description": "", "icon": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": user("1", "owner"), "verify_key": "00",
            "flags": 0, "summary": "", "team": None, "interactions_endpoint_url": None,
        })  # fmt: skip

    async def _sync_commands(self, parts: list[str], body: Any, *_: Any) -> web.Response:
        scope = parts[3] if len(parts) == 5 else "global"
        synced = []
        for command in body if isinstance(body, list) else []:
            synced.append({**command, "id": self.snowflake(), "application_id": APP_ID,
                           "version": "1", "type": command.get("type", 1)})  # fmt: skip
        self.commands[scope] = synced
        return _json(synced)

    async def _get_commands(self, parts: list[str], *_: Any) -> web.Response:
        return _json(self.commands.get(parts[3] if len(parts) == 5 else "global", []))

    def _message(self, channel_id: str, data: dict[str, Any], flags: int = 0) -> dict[str, Any]:
        message = {
            "id": self.snowflake(), "channel_id": channel_id, "guild_id": GUILD_ID,
            "author": BOT_USER, "content": data.get("content") or "",
            "timestamp": "2026-01-01T00:00:00+00:00", "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": data.get("embeds") or [], "pinned": False, "type": 0,
            "components": data.get("components") or [], "flags": flags | (data.get("flags") or 0),
        }  # fmt: skip
        self.messages[message["id"]] = message
        return message

    def _apply(
        self, message: dict[str, Any], data: dict[str, Any], files: dict[str, bytes]
    ) -> None:
        for key in ("content", "embeds", "components"):
            if key in data and data[key] is not None:
                message[key] = data[key]
        if files:
            message["attachments"] = [
                {"id": self.snowflake(), "filename": name, "size": len(content),
                 "url": f"{self.base}/files/{name}", "proxy_url": "", "content": content.decode()}
                for name, content in files.items()
            ]  # fmt: skip
        message["edited_timestamp"] = "2026-01-01T00:00:01+00:00"

    async def _callback(
        self, parts: list[str], body: Any, files: dict[str, bytes], request: web.Request
    ) -> web.Response:
        interaction = self._interactions[parts[2]]
        if parts[2] in self._answered:  # one initial response per interaction
            message = "Interaction has already been acknowledged."
            return _json({"message": message, "code": ALREADY_ACKNOWLEDGED}, 400)
        self._answered.add(parts[2])
        kind = body.get("type")
        data = body.get("data") or {}
        response: dict[str, Any] = {
            "interaction": {"id": interaction["id"], "type": interaction["type"]},
        }
        if kind in (4, 5):  # a new message (5: deferred, "thinking")
            message = self._message(interaction["channel_id"], data)
            message["interaction_metadata"] = {"id": interaction["id"], "type": interaction["type"],
                                               "user": interaction["member"]["user"]}  # fmt: skip
            self._apply(message, data, files)
            self._original[parts[2]] = message["id"]
            response["interaction"] |= {
                "response_message_id": message["id"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
            }
            response["resource"] = {"type": kind, "message": message}
        elif kind == 7:  # update the clicked message
            message = self.messages[interaction["message"]["id"]]
            self._apply(message, data, files)
            response["resource"] = {"type": 7, "message": message}
        elif kind == 6:  # deferred update of the clicked message
            self._original[parts[2]] = interaction.get("message", {}).get("id", "")
            response["resource"] = {"type": 6}
        else:  # 8: autocomplete choices, 9: modal
            response["resource"] = {"type": kind}
        return _json(response)

    async def _followup(
        self, parts: list[str], body: Any, files: dict[str, bytes], request: web.Request
    ) -> web.Response:
        interaction = self._interactions[parts[2]]
        message = self._message(interaction["channel_id"], body)
        self._apply(message, body, files)
        return _json(message)

    def _webhook_target(self, parts: list[str]) -> dict[str, Any]:
        token, target = parts[2], parts[4]
        message_id = self._original[token] if target == "@original" else target
        return self.messages[message_id]

    async def _get_webhook_message(self, parts: list[str], *_: Any) -> web.Response:
        return _json(self._webhook_target(parts))

    async def _edit_webhook_message(
        self, parts: list[str], body: Any, files: dict[str, bytes], _: Any
    ) -> web.Response:
        message = self._webhook_target(parts)
        self._apply(message, body, files)
        return _json(message)

    async def _delete_webhook_message(self, parts: list[str], *_: Any) -> web.Response:
        self.messages.pop(self._webhook_target(parts)["id"], None)
        return web.Response(status=204)

    def drop_after_post(self, count: int = 1) -> None:
        """The next ``count`` channel posts are made, then their connection drops (the bot
        never hears of them and tries again)."""
        self._drop_after_post += count

    async def _channel_post(
        self, parts: list[str], body: Any, files: dict[str, bytes], request: web.Request
    ) -> web.Response:
        nonce = str(body.get("nonce") or "") if body.get("enforce_nonce") else ""
        earlier = self._nonces.get(nonce) if nonce else None
        if earlier and earlier[0] in self.messages and self.now() - earlier[1] < NONCE_SECONDS:
            return _json(self.messages[earlier[0]])
        message = self._message(parts[1], body)
        self._apply(message, body, files)
        if nonce:
            self._nonces[nonce] = (message["id"], self.now())
        if self._drop_after_post > 0:  # posted, but the answer is lost on the way
            self._drop_after_post -= 1
            assert request.transport is not None
            request.transport.close()
        return _json(message)

    async def _channel_edit(
        self, parts: list[str], body: Any, files: dict[str, bytes], _: Any
    ) -> web.Response:
        message = self.messages.get(parts[3])
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        self._apply(message, body, files)
        return _json(message)

    async def _get_channel(self, parts: list[str], *_: Any) -> web.Response:
        channel = next((c for c in CHANNELS if c["id"] == parts[1]), None)
        return (
            _json(channel) if channel else _json({"message": "Unknown Channel", "code": 10003}, 404)
        )

    # -- interactions ---------------------------------------------------------------------
    def _interaction(
        self,
        kind: int,
        who: dict[str, Any],
        data: dict[str, Any],
        *,
        channel_id: str = CHANNEL_ID,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        token = f"itoken-{self.snowflake()}"
        self._created[token] = self.now()
        interaction = {
            "id": self.snowflake(), "application_id": APP_ID, "type": kind, "token": token,
            "version": 1, "guild_id": GUILD_ID, "channel_id": channel_id,
            "channel": next(c for c in CHANNELS if c["id"] == channel_id),
            "member": {"user": who, "roles": [], "joined_at": "2026-01-01T00:00:00+00:00",
                       "permissions": "2147483647", "deaf": False, "mute": False, "flags": 0},
            "app_permissions": "2147483647", "locale": "en-US", "guild_locale": "en-US",
            "entitlements": [], "authorizing_integration_owners": {"0": GUILD_ID}, "context": 0,
            "attachment_size_limit": 8388608,
            "data": data,
        }  # fmt: skip
        if message is not None:
            interaction["message"] = message
        self._interactions[token] = interaction
        return interaction

    def command_data(self, name: str, options: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``data`` of a command interaction; guild commands carry their guild id."""
        for scope, synced in self.commands.items():
            for command in synced:
                if command["name"] == name:
                    data = {"id": command["id"], "name": name, "type": 1, "options": options}
                    return data if scope == "global" else {**data, "guild_id": scope}
        raise KeyError(f"command {name!r} was never synced")

    async def slash(
        self, name: str, options: list[dict[str, Any]], who: dict[str, Any]
    ) -> dict[str, Any]:
        interaction = self._interaction(2, who, self.command_data(name, options))
        await self._dispatch("INTERACTION_CREATE", interaction)
        return interaction

    async def autocomplete(
        self, name: str, options: list[dict[str, Any]], who: dict[str, Any]
    ) -> dict[str, Any]:
        interaction = self._interaction(4, who, self.command_data(name, options))
        await self._dispatch("INTERACTION_CREATE", interaction)
        return interaction

    async def click(self, message_id: str, custom_id: str, who: dict[str, Any]) -> dict[str, Any]:
        message = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        interaction = self._interaction(
            3, who, data, channel_id=message["channel_id"], message=message
        )
        await self._dispatch("INTERACTION_CREATE", interaction)
        return interaction

    async def submit_modal(
        self, message_id: str, custom_id: str, values: dict[str, str], who: dict[str, Any]
    ) -> dict[str, Any]:
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
        message = self.messages[message_id]
        data = {"custom_id": custom_id, "components": rows}
        interaction = self._interaction(
            5, who, data, channel_id=message["channel_id"], message=message
        )
        await self._dispatch("INTERACTION_CREATE", interaction)
        return interaction

    async def say(self, channel_id: str, content: str, who: dict[str, Any]) -> dict[str, Any]:
        """Someone posts a message in a channel (or thread) of the guild."""
        message = {
            "id": self.snowflake(), "channel_id": channel_id, "guild_id": GUILD_ID, "author": who,
            "member": {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False,
                       "mute": False, "flags": 0},
            "content": content, "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [BOT_USER] if f"<@{BOT_ID}>" in content else [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
        }  # fmt: skip
        await self._dispatch("MESSAGE_CREATE", message)
        return message

    def callbacks(self, interaction: dict[str, Any]) -> list[Call]:
        return self.called("POST", f"/interactions/{interaction['id']}/")

    def original(self, interaction: dict[str, Any]) -> dict[str, Any]:
        """The interaction's response message ({} until there is one)."""
        message_id = self._original.get(interaction["token"])
        return self.messages.get(message_id, {}) if message_id else {}

    def buttons(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def _read_body(request: web.Request) -> tuple[Any, dict[str, bytes]]:
    if request.content_type.startswith("multipart/"):
        payload: Any = {}
        files: dict[str, bytes] = {}
        reader = await request.multipart()
        async for part in reader:  # type: ignore[union-attr]
            if part.name == "payload_json":
                payload = json.loads(await part.text())  # type: ignore[union-attr]
            else:
                files[part.filename or part.name or "file"] = await part.read()  # type: ignore[union-attr]
        return payload, files
    raw = await request.read()
    return (json.loads(raw) if raw else {}), {}


@contextlib.asynccontextmanager
async def running_fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    async with serving(fake.app()) as base:
        fake.base = base
        yield fake
