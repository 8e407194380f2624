"""``/stream/v1/stream``: st2's events, ``events=`` filtering, heartbeats, and a resume with
``Last-Event-ID`` that loses nothing published while the client was away."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.st2_server import ST2, Server, running_server

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client venv missing: run `make .venv-st2/.installed`"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("stream")) as live:
        yield live


class Sse:
    """A raw SSE connection: events as (id, name, data) plus the comment lines seen."""

    def __init__(self, server: Server, query: str = "", last_id: str | None = None) -> None:
        host, port = server.base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"St2-Api-Key": server.keys["alice"]}
        if last_id:
            headers["Last-Event-ID"] = last_id
        self.conn.request("GET", "/stream/v1/stream" + query, headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type", "").startswith("text/event-stream")
        self.comments: list[str] = []

    def next_event(self, timeout: float = 10) -> tuple[str, str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        while time.monotonic() < deadline:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line)
            elif line == "" and "data" in fields:
                return fields["id"], fields["event"], json.loads(fields["data"])
            elif ": " in line:
                name, _, value = line.partition(": ")
                fields[name] = value
        raise AssertionError("no event in time")

    def events_until(self, predicate: Any, timeout: float = 20) -> list[tuple[str, str, Any]]:
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(max(0.1, deadline - time.monotonic()))
            seen.append(event)
            if predicate(event):
                return seen

    def close(self) -> None:
        self.conn.close()


def _run(server: Server, message: str) -> str:
    status, _, doc = server.http(
        "POST", "/api/v1/executions", {"action": "core.echo", "parameters": {"message": message}}
    )
    assert status == 201
    return str(doc["id"])


def _done(execution_id: str) -> Any:
    return lambda e: (
        e[1] == "st2.execution__update" and e[2]["id"] == execution_id
        and e[2]["status"] == "succeeded"
    )  # fmt: skip


def test_execution_events_with_st2_names_and_payloads(server: Server) -> None:
    sse = Sse(server)
    try:
        execution_id = _run(server, "streamed")
        events = sse.events_until(_done(execution_id))
    finally:
        sse.close()
    mine = [(name, data) for _, name, data in events if data.get("id") == execution_id]
    names = [name for name, _ in mine]
    assert names[:2] == ["st2.execution__create", "st2.liveaction__create"]
    assert "st2.liveaction__update" in names
    statuses = [d["status"] for n, d in mine if n == "st2.execution__update"]
    # requested → (scheduled, when claimed by the loop) → running → succeeded
    assert statuses in (["scheduled", "running", "succeeded"], ["running", "succeeded"])
    assert mine[-1][1]["result"]["stdout"] == "streamed"
    assert mine[-1][1]["action"]["ref"] == "core.echo"


def test_events_filter_and_heartbeats(server: Server) -> None:
    sse = Sse(server, "?events=st2.execution__update")
    try:
        execution_id = _run(server, "filtered")
        events = sse.events_until(_done(execution_id))
        time.sleep(1.2)  # api.stream_heartbeat_seconds is 0.5 in these tests
        later = _run(server, "later")
        events += sse.events_until(_done(later))
    finally:
        sse.close()
    assert {name for _, name, _ in events} == {"st2.execution__update"}
    assert ": heartbeat" in sse.comments


def test_output_events_while_the_action_runs(server: Server) -> None:
    sse = Sse(server, "?events=st2.execution.output__create,st2.execution__update")
    try:
        status, _, doc = server.http(
            "POST", "/api/v1/executions", {"action": "apitest.count", "parameters": {"lines": 2}}
        )
        assert status == 201
        events = sse.events_until(_done(doc["id"]))
    finally:
        sse.close()
    output = [d for _, n, d in events if n == "st2.execution.output__create"]
    assert "".join(d["data"] for d in output) == "line-1\nline-2\n"
    assert {d["output_type"] for d in output} == {"stdout"}
    assert all(d["execution_id"] == doc["id"] for d in output)


def test_resume_with_last_event_id_loses_nothing(server: Server) -> None:
    sse = Sse(server)
    first = _run(server, "before")
    seen = sse.events_until(_done(first))
    last_id = seen[-1][0]
    sse.close()
    # While no client listens: three executions come and go.
    missed = [_run(server, f"away-{n}") for n in range(3)]
    for execution_id in missed:
        server.wait_status(execution_id, ["succeeded"])
    resumed = Sse(server, last_id=last_id)
    pending = set(missed)

    def all_done(event: tuple[str, str, Any]) -> bool:
        if event[1] == "st2.execution__update" and event[2]["status"] == "succeeded":
            pending.discard(event[2]["id"])
        return not pending

    try:
        replayed = resumed.events_until(all_done)
    finally:
        resumed.close()
    boot, seq = last_id.split("-")
    numbers = [int(event_id.split("-")[1]) for event_id, _, _ in replayed]
    # Every event after the last one seen, in order, none twice, none skipped.
    assert numbers == list(range(int(seq) + 1, int(seq) + 1 + len(numbers)))
    assert all(event_id.startswith(boot + "-") for event_id, _, _ in replayed)
    for execution_id in missed:
        statuses = [d["status"] for _, n, d in replayed
                    if n == "st2.execution__update" and d["id"] == execution_id]  # fmt: skip
        assert statuses in (["scheduled", "running", "succeeded"], ["running", "succeeded"])


def test_stream_needs_credentials(server: Server) -> None:
    status, _, doc = server.http("GET", "/stream/v1/stream", user=None)
    assert status == 401 and "faultstring" in doc


def test_a_client_that_goes_away_ends_its_stream_quietly(server: Server) -> None:
    """A client leaving is normal: the handler ends without an error or a traceback."""
    before = server.http("GET", "/healthz", user=None)[2]["stream_clients"]
    sse = Sse(server)
    server.wait_stream_clients(before + 1)
    sse.close()
    execution_id = _run(server, "nobody listens")
    server.wait_status(execution_id, ["succeeded"])
    deadline = time.monotonic() + 20
    while server.http("GET", "/healthz", user=None)[2]["stream_clients"] > before:
        assert time.monotonic() < deadline, "the stream of a gone client never ended"
        time.sleep(0.1)
    log = (server.config.parent / "serve.log").read_text()
    assert "stream failed" not in log and "Traceback" not in log, log[-3000:]
