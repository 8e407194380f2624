"""The fake Discord's gateway (tests/fakes/discord.py): HELLO, IDENTIFY → READY + GUILD_CREATE,
heartbeats, dispatches kept for a RESUME, INVALID_SESSION, and RECONNECT (op 7).

Sessions: READY carries a ``resume_gateway_url`` (its own path). Dispatches sent while no client
is connected — or after the gateway told the client to reconnect — are kept; a RESUME (op 6)
with the session id and the last sequence number replays everything after that number and then
sends RESUMED; a RESUME of an unknown session gets INVALID_SESSION (op 9, not resumable). A fresh
IDENTIFY while the old session could have been resumed is counted in
``identified_instead_of_resuming`` (what Discord punishes with a new session: the missed events
are lost). ``request_reconnect`` sends op 7 as Discord does before it moves or restarts a
gateway server: the client is to close, connect to the resume URL and RESUME.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "1000000000000000001"
BOT_ID = "1000000000000000002"
GUILD_ID = "1000000000000000003"
CHANNEL_ID = "1000000000000000004"
ALERTS_ID = "1000000000000000005"
THREAD_ID = "1000000000000000006"
TOKEN = "fake-bot-token"
BOT_USER = {"id": BOT_ID, "username": "squall", "discriminator": "0", "global_name": "Squall",
            "avatar": None, "bot": True, "flags": 0}  # fmt: skip
CHANNELS = [
    {"id": CHANNEL_ID, "type": 0, "name": "general", "guild_id": GUILD_ID, "position": 0,
     "permission_overwrites": [], "nsfw": False, "parent_id": None},
    {"id": ALERTS_ID, "type": 0, "name": "alerts", "guild_id": GUILD_ID, "position": 1,
     "permission_overwrites": [], "nsfw": False, "parent_id": None},
]  # fmt: skip
GUILD = {
    "id": GUILD_ID, "name": "Squall Test", "icon": None, "owner_id": "1", "afk_timeout": 300,
    "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
    "roles": [{"id": GUILD_ID, "name": "@everyone", "permissions": "2147483647", "position": 0,
               "color": 0, "hoist": False, "managed": False, "mentionable": False}],
    "emojis": [], "stickers": [], "features": [], "mfa_level": 0, "system_channel_flags": 0,
    "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0, "member_count": 2,
    "large": False, "unavailable": False, "channels": CHANNELS, "members": [],
    "threads": [{"id": THREAD_ID, "type": 11, "name": "deploys", "guild_id": GUILD_ID,
                 "parent_id": CHANNEL_ID, "owner_id": "1", "message_count": 0, "member_count": 1,
                 "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                     "archive_timestamp": "2026-01-01T00:00:00+00:00",
                                     "locked": False}}],
    "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
    "joined_at": "2026-01-01T00:00:00+00:00",
}  # fmt: skip


class Gateway:
    """The gateway half of ``FakeDiscord`` (which holds the state named here)."""

    identifies: int
    resumes: int
    identified_instead_of_resuming: int
    invalid_sessions: int
    reconnects_requested: int
    resume_paths: list[str]
    replayed: list[str]
    last_identify: dict[str, Any]
    _ws: web.WebSocketResponse | None
    _ready: asyncio.Event
    _session: str | None
    _history: list[dict[str, Any]]
    _seq: Any
    _held_back: bool  # op 7 sent: dispatches wait for the RESUME

    @property
    def gateway_url(self) -> str:
        raise NotImplementedError

    async def _touched(self) -> None:
        raise NotImplementedError

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}, "s": None, "t": None})
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await self._on_gateway(ws, request.path, json.loads(frame.data))
                    await self._touched()
        finally:
            self._ready.clear()
            if self._ws is ws:
                self._ws = None
        return ws

    async def _on_gateway(
        self, ws: web.WebSocketResponse, path: str, payload: dict[str, Any]
    ) -> None:
        if payload["op"] == 1:
            await ws.send_json({"op": 11, "d": None})
        elif payload["op"] == 2:
            if self._session is not None:  # it could have resumed: the missed events are lost
                self.identified_instead_of_resuming += 1
            self._held_back = False
            self.identifies += 1
            self.last_identify = payload["d"]
            self._session = f"session-{self.identifies}"
            self._history = []
            await self._dispatch("READY", self._ready_payload())
            await self._dispatch("GUILD_CREATE", GUILD)
            self._ready.set()
        elif payload["op"] == 6:
            resume = payload["d"]
            if resume.get("session_id") != self._session or resume.get("token") != TOKEN:
                self.invalid_sessions += 1
                self._session = None  # the client must IDENTIFY now: that one is not a fault
                await ws.send_json({"op": 9, "d": False, "s": None, "t": None})
                return
            self.resumes += 1
            self.resume_paths.append(path)
            seq, index = int(resume.get("seq") or 0), 0
            while index < len(self._history):  # one dispatched meanwhile is replayed too
                missed = self._history[index]
                index += 1
                if missed["s"] > seq:
                    self.replayed.append(missed["t"])
                    await ws.send_json(missed)
            self._held_back = False
            await self._dispatch("RESUMED", {})
            self._ready.set()

    def _ready_payload(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": BOT_USER,
            "session_id": f"session-{self.identifies}",
            "resume_gateway_url": self.gateway_url.replace("/gateway", "/resume-gateway"),
            "guilds": [{"id": GUILD_ID, "unavailable": True}],
            "application": {"id": APP_ID, "flags": 0},
            "shard": [0, 1],
            "private_channels": [],
            "relationships": [],
            "presences": [],
        }

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch, or keep it for a RESUME while no client is connected (or the
        client was told to reconnect)."""
        dispatch = {"op": 0, "t": event, "s": next(self._seq), "d": data}
        self._history.append(dispatch)
        if self._ws is not None and not self._ws.closed and not self._held_back:
            await self._ws.send_json(dispatch)

    async def wait_ready(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    def forget_session(self) -> None:
        """Discord no longer knows the session: the next RESUME gets INVALID_SESSION."""
        self._session = "forgotten"

    async def request_reconnect(self) -> None:
        """Op 7 RECONNECT, as Discord sends before it moves a session: the client closes,
        connects to the resume URL and RESUMEs; dispatches meanwhile wait for the RESUME."""
        assert self._ws is not None, "no client connected"
        self.reconnects_requested += 1
        self._held_back = True
        self._ready.clear()
        await self._ws.send_json({"op": 7, "d": None, "s": None, "t": None})

    async def drop_gateway(self) -> None:
        if self._ws is not None:
            self._ready.clear()
            await self._ws.close(code=4000)
