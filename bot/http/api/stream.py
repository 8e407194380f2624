"""``GET /stream/v1/stream``: Server-Sent Events with st2's event names and payloads.

``events=`` keeps only those event names; ``action_refs=`` / ``execution_ids=`` filter execution
events. A client that reconnects with ``Last-Event-ID`` (or ``?last_event_id=``) first gets
every event it missed from the bus's replay buffer (core.stream.bus). Idle connections get a
comment line every ``api.stream_heartbeat_seconds``. ``end_execution_id`` + ``end_event`` close
the stream after that event of that execution (what ``st2 execution tail`` and ``st2 pack
install`` ask for); an execution that had already ended gets its final update at once. While
clients are connected, changes other processes make reach the stream through the follower
(core.stream.follower, every ``api.stream_follow_seconds``).
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bot.app import Engine
from bot.http.api.base import MAX_ID, Param, RouteTable, engine_of, query_list
from core.stream.bus import StreamEvent, Subscription
from core.stream.follower import ExecutionFollower

routes = RouteTable("stream")
FOLLOWER = web.AppKey("stream_follower", ExecutionFollower)
STREAM_PARAMS = (
    Param("events"),
    Param("action_refs"),
    Param("execution_ids"),
    Param("end_execution_id"),
    Param("end_event"),
    Param("last_event_id"),
)


class _Filter:
    def __init__(self, request: web.Request) -> None:
        self.events = set(query_list(request, "events"))
        self.actions = set(query_list(request, "action_refs"))
        self.executions = set(query_list(request, "execution_ids"))
        self.end_id = request.query.get("end_execution_id")
        self.end_event = request.query.get("end_event")

    def wants(self, event: StreamEvent) -> bool:
        if self.events and event.name not in self.events:
            return False
        if not (self.actions or self.executions) or not event.name.startswith("st2.execution"):
            return True
        data = event.data
        execution_id = data.get("execution_id") or data.get("id")
        action = data.get("action_ref") or (data.get("action") or {}).get("ref")
        return (not self.executions or execution_id in self.executions) and (
            not self.actions or action in self.actions
        )

    def ends(self, event: StreamEvent) -> bool:
        if not self.end_id or event.data.get("id") != self.end_id:
            return False
        if self.end_event and event.name != self.end_event:
            return False
        return str(event.data.get("status")) in COMPLETED_STATUSES


COMPLETED_STATUSES = frozenset({"succeeded", "failed", "timeout", "canceled", "abandoned"})


def add_follower(app: web.Application, engine: Engine) -> None:
    interval = engine.settings.api.stream_follow_seconds
    if interval is None or engine.stream_events is None:
        return
    follower = ExecutionFollower(
        engine.store.executions, engine.stream_events, engine.stream, interval
    )
    app[FOLLOWER] = follower

    async def stop(app: web.Application) -> None:
        await follower.close()

    app.on_cleanup.append(stop)


async def _already_finished(engine: Engine, wanted: _Filter) -> StreamEvent | None:
    """The final update of ``end_execution_id`` when it ended before the client subscribed
    (a quick ``st2 pack install`` can): its event went by, and waiting would never end. Asked
    after subscribing, so an end that comes later arrives on the subscription instead."""
    if not wanted.end_id or len(wanted.end_id) > MAX_ID:
        return None
    execution = await engine.store.executions.get(wanted.end_id)
    if execution is None or not execution.is_completed:
        return None
    doc = {**engine.executions.to_api(execution), "liveaction": {"id": execution.id}}
    seq = engine.stream.last_seq
    name = wanted.end_event or "st2.execution__update"
    return StreamEvent(seq, f"{engine.stream.boot}-{seq}", name, lambda: doc)


def encode(event: StreamEvent) -> bytes:
    data = json.dumps(event.data, default=str, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n".encode()


@routes.add("GET", "/stream/v1/stream", "Server-Sent Events of executions (st2's event names)",
            params=STREAM_PARAMS, response={"type": "string"}, streams=True)  # fmt: skip
async def stream(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    wanted = _Filter(request)
    last_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    heartbeat = engine.settings.api.stream_heartbeat_seconds
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=UTF-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    with engine.stream.subscribe(last_id) as sub:
        if FOLLOWER in request.app:
            request.app[FOLLOWER].wake()
        await response.prepare(request)
        try:
            await _send(response, sub, wanted, engine, heartbeat)
            await response.write_eof()
        except ConnectionResetError:  # the client went away: the usual end of a stream
            pass
    return response


async def _send(
    response: web.StreamResponse, sub: Subscription, wanted: _Filter, engine: Engine,
    heartbeat: float,
) -> None:  # fmt: skip
    """The replay, then live events and heartbeats, until the end event or an overflow."""
    # The retry hint and an opening comment make clients (and proxies) see the stream live.
    await response.write(b"retry: 1000\n: connected\n\n")
    if not sub.resumed:
        await response.write(b": last event id not in the replay buffer; replay from oldest\n\n")
    for event in sub.replay:
        if wanted.wants(event):
            await response.write(encode(event))
            if wanted.ends(event):
                return
    finished = await _already_finished(engine, wanted)
    if finished is not None:
        if wanted.wants(finished):
            await response.write(encode(finished))
        return
    while not sub.overflowed:
        try:
            event = await asyncio.wait_for(sub.queue.get(), heartbeat)
        except TimeoutError:
            await response.write(b": heartbeat\n\n")
            continue
        if wanted.wants(event):
            await response.write(encode(event))
            if wanted.ends(event):
                return
