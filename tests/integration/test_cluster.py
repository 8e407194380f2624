"""Three ``squall serve`` processes on one MongoDB store (the session's SecantusDB).

A (``--roles http,chat,timers``, started first, so it holds the ``timers`` and
``chat:console`` leases) runs no executions; B and C have every role. Short leases (2 s,
renewed every 0.5 s) keep the takeover test quick. The tests run in file order on one cluster:
the last one kills A with SIGKILL.

- 1,000 webhook events over the three listeners → exactly 1,000 executions, each run once;
- a 1-second interval timer → one tick per second cluster-wide, not one per process;
- a chat message typed at A is answered by A for a run executed on B or C (chat outbox), an
  inquiry asked by a workflow conducted on B or C is posted by A and edited by A with the
  answer given through the CLI, and a workflow started from A's chat shows its progress and
  then its result on A's run card, and a plain action started there shows "running" (relayed
  from the process running it) before its result;
- cancel, pause and resume requested from another process reach the one running the work;
- a stream client of A sees an execution started by the CLI and run by B or C, to its end;
- kill -9 of B while it runs a command and a workflow: C abandons the command (killing what B
  left running) and carries the workflow on, without a restart;
- kill -9 of A: C takes the timers and the chat within lease + renew, ticks go on without a
  gap or a double, and a result finished afterwards reaches the chat once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from bot.cli.main import main
from tests.conftest import FIXTURES, SITE_ALIASES, group_alive
from tests.ports import free_port
from tests.serve_process import Output, start_serve, terminate

LEASE, RENEW = 2.0, 0.5
EVENTS = 1000
pytestmark = pytest.mark.timeout(300)


@dataclass
class Node:
    name: str
    config: Path
    port: int
    proc: subprocess.Popen[str]
    output: Output
    holder: str = ""

    def readyz(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/readyz"
        with urllib.request.urlopen(url, timeout=5) as response:
            data: dict[str, Any] = json.load(response)
        return data

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


@dataclass
class Cluster:
    url: str
    database: str
    nodes: dict[str, Node]
    db: Any
    started: float = field(default_factory=time.time)

    def leases(self) -> dict[str, str]:
        now = datetime.now().astimezone().isoformat()
        return {
            doc["_id"]: doc["holder"]
            for doc in self.db.leases.find({})
            if doc["expires"] >= now.replace("+00:00", "Z")
        }


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            found = check()
            if found:
                return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


FINAL = ("succeeded", "failed", "canceled", "timeout", "abandoned")


def write_config(directory: Path, name: str, url: str, port: int) -> Path:
    config = directory / f"{name}.yaml"
    config.write_text(
        f"store: {{url: '{url}'}}\n"
        f"packs: {{paths: ['{FIXTURES / 'cluster'}', '{FIXTURES / 'workflow_pack'}']}}\n"
        f"aliases: {{paths: ['{SITE_ALIASES}']}}\n"
        f"http: {{port: {port}}}\n"
        f"cluster: {{lease_seconds: {LEASE}, renew_seconds: {RENEW}, outbox_poll_seconds: 0.1}}\n"
        "executions: {max_concurrency: 16, shutdown_grace_seconds: 0,"
        " python_fork_server: false}\n"
        "timers: {misfire_grace_seconds: 5}\n"
        "webhooks: {hooks: {hit: {auth: none}}}\n"
        "routes: {ops: {adapter: console, channel: ops}}\n"
    )
    return config


def start(directory: Path, name: str, url: str, roles: str) -> Node:
    port = free_port()
    config = write_config(directory, name, url, port)
    proc = start_serve(config, "--roles", roles)
    return Node(name, config, port, proc, Output(proc))


def stop(node: Node) -> None:
    terminate(node.proc)


@pytest.fixture(scope="module")
def cluster(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("cluster")
    database = f"squall_cluster_{uuid.uuid4().hex[:12]}"
    url = mongo_url.rstrip("/") + "/" + database
    client: Any = MongoClient(mongo_url)
    nodes: dict[str, Node] = {}
    try:
        # A first, alone: it creates the datastore key the others read, and takes the leases.
        nodes["a"] = start(directory, "a", url, "http,chat,timers")
        nodes["a"].holder = wait_for("A ready", lambda: nodes["a"].readyz())["cluster"]["process"]
        nodes["b"] = start(directory, "b", url, "engine,http,chat,timers,sensors")
        nodes["c"] = start(directory, "c", url, "engine,http,chat,timers,sensors")
        for name in ("b", "c"):
            ready = wait_for(f"{name} ready", nodes[name].readyz)
            nodes[name].holder = ready["cluster"]["process"]
        yield Cluster(url, database, nodes, client[database])
    finally:
        for node in nodes.values():
            stop(node)
        client.drop_database(database)
        client.close()


def post(port: int, n: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/webhooks/hit",
        data=json.dumps({"n": n}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def test_a_holds_the_leases_and_readyz_says_who_holds_what(cluster: Cluster) -> None:
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    held = cluster.leases()
    # A has no sensors role: B or C, whichever asked first, runs the sensors and the takeover.
    assert held.pop("sensors") in (b.holder, cluster.nodes["c"].holder)
    assert held.pop("recovery") in (b.holder, cluster.nodes["c"].holder)
    assert held == {"timers": a.holder, "chat:console": a.holder}
    ready = b.readyz()["cluster"]
    assert ready["process"] == b.holder and "engine" in ready["roles"]
    leases = {lease["name"]: lease for lease in ready["leases"]}
    assert leases["timers"]["holder"] == a.holder and not leases["timers"]["mine"]
    with contextlib.redirect_stdout(buffer := _Buffer()):
        main(["doctor", "--config", str(b.config), "--json"])
    checks = json.loads(buffer.text)["checks"]
    assert f"ok    lease timers: held: {a.holder} since" in "\n".join(checks), checks
    assert f"ok    lease chat:console: held: {a.holder} since" in "\n".join(checks), checks


def test_1000_webhook_events_over_three_processes_run_exactly_1000_executions(
    cluster: Cluster,
) -> None:
    ports = [node.port for node in cluster.nodes.values()]
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda n: post(ports[n % 3], n), range(EVENTS)))
    assert codes == [202] * EVENTS
    db = cluster.db
    hit = {"context.rule.ref": "cluster.hit"}

    def all_done() -> bool:
        return db.executions.count_documents({**hit, "status": "succeeded"}) >= EVENTS

    wait_for("1000 executions", all_done, timeout=180)
    time.sleep(1)  # a double would show up now, not later
    executions = list(db.executions.find(hit))
    assert len(executions) == EVENTS
    instances = Counter(e["context"]["trigger_instance"]["id"] for e in executions)
    assert len(instances) == EVENTS and set(instances.values()) == {1}
    for execution in executions:
        runs = [c for c in execution["log"] if c["status"] == "running"]
        assert len(runs) == 1, execution["_id"]
    owners = Counter(e["owner"] for e in executions)
    engines = {cluster.nodes["b"].holder, cluster.nodes["c"].holder}
    assert set(owners) <= engines, "A has no engine role: it runs nothing"
    webhooks = {"trigger": "core.st2.webhook"}
    assert db.trigger_instances.count_documents(webhooks) == EVENTS
    assert db.trigger_instances.count_documents({**webhooks, "status": "processed"}) == EVENTS
    assert db.rule_enforcements.count_documents({"rule_ref": "cluster.hit"}) == EVENTS


def fire_times(cluster: Cluster) -> list[float]:
    """The scheduled time of every stored tick (from its dedupe key), oldest first."""
    docs = cluster.db.trigger_instances.find({"trigger": "core.st2.IntervalTimer"})
    keys = [doc["dedupe_key"] for doc in docs]
    assert len(keys) == len(set(keys)), "a tick was stored twice"
    return sorted(datetime.fromisoformat(key.split(":", 2)[2]).timestamp() for key in keys)


def test_a_one_second_timer_ticks_once_per_second_cluster_wide(cluster: Cluster) -> None:
    wait_for("12 s of ticks", lambda: len(fire_times(cluster)) >= 12, timeout=60)
    times = fire_times(cluster)
    window = [t for t in times if times[1] + 0.5 <= t < times[1] + 10.5]
    # Three processes, one timer: 10 ticks in 10 s, not 30. (A loop stalled for over a second
    # on an overloaded machine coalesces a tick by the misfire policy: 9 is that, never more.)
    assert len(window) in (9, 10), times
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) > 0.9, gaps  # never two ticks for one second
    runs = cluster.db.executions.count_documents({"context.rule.ref": "cluster.tick"})
    assert runs <= len(fire_times(cluster))


def test_a_chat_message_on_a_is_answered_by_a_for_a_run_executed_elsewhere(
    cluster: Cluster,
) -> None:
    a = cluster.nodes["a"]
    a.type("!echo from-a")
    card = a.output.until("from-a", timeout=30)
    assert "updated core.echo (succeeded)" in card, "A edited its own run card"
    execution = wait_for(
        "the echo execution",
        lambda: cluster.db.executions.find_one(
            {"action_ref": "core.echo", "parameters.message": "from-a", "status": "succeeded"}
        ),
    )
    assert execution["owner"] in {cluster.nodes["b"].holder, cluster.nodes["c"].holder}
    assert execution["context"]["chat"]["adapter"] == "console"
    for other in ("b", "c"):
        assert "from-a" not in cluster.nodes[other].output.seen, "standby chats stay silent"
    # Posted, then removed from the outbox.
    wait_for("an empty outbox", lambda: cluster.db.outbox.count_documents({}) == 0, timeout=10)


def test_an_inquiry_asked_on_b_is_posted_by_a(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    flow = run_cli(a.config, "run", "cluster.ask_ops", "--async")
    card = a.output.until("confirm: waiting for an answer", timeout=30)
    assert "[#ops]" in card, "posted to the route's channel by the chat owner"
    [pending] = [
        p for p in run_cli_list(a.config, "inquiry", "list") if p["workflow"] == flow["id"]
    ]
    asked = cluster.db.executions.find_one({"_id": pending["id"]})
    assert asked["owner"] in {cluster.nodes["b"].holder, cluster.nodes["c"].holder}
    # Decided in the CLI's process, which holds no chat: A edits the card it posted.
    run_cli(a.config, "inquiry", "respond", pending["id"], "-r", '{"approved": true}')
    outcome = a.output.until("(approved)", timeout=30).splitlines()[-1]
    assert outcome.startswith("[#ops] ↻ updated"), outcome
    wait_for("workflow done", lambda: status(cluster, flow["id"]) == "succeeded", timeout=30)
    for other in ("b", "c"):
        assert "confirm: waiting" not in cluster.nodes[other].output.seen
        assert "(approved)" not in cluster.nodes[other].output.seen


def test_a_workflow_from_chat_on_a_run_elsewhere_shows_its_progress_then_result_on_a(
    cluster: Cluster,
) -> None:
    a = cluster.nodes["a"]
    a.type("!run flows.slow seconds=2")
    seen = a.output.until("↻ updated flows.slow (succeeded)", timeout=60)
    flow = cluster.db.executions.find_one(
        {"action_ref": "flows.slow", "context.chat": {"$ne": None}}
    )
    assert flow["owner"] in {cluster.nodes["b"].holder, cluster.nodes["c"].holder}
    progress = seen.index("↻ updated flows.slow (running)")
    assert re.search(r"tasks: \d done · 1 running", seen[progress:]), seen
    time.sleep(1)  # a stale progress edit would show up now
    after = a.output.seen[a.output.seen.index("↻ updated flows.slow (succeeded)") :]
    assert "tasks:" not in after, "the result edit comes last"


def test_a_plain_run_from_chat_on_a_run_elsewhere_shows_running_then_its_result_on_a(
    cluster: Cluster,
) -> None:
    a = cluster.nodes["a"]
    a.type("!run core.local cmd='sleep 2; echo slow-elsewhere'")
    seen = a.output.until("↻ updated core.local (succeeded)", timeout=60)
    running = seen.index("↻ updated core.local (running)")  # relayed: B or C runs it
    assert running < seen.index("↻ updated core.local (succeeded)"), seen
    run = cluster.db.executions.find_one({"parameters.cmd": "sleep 2; echo slow-elsewhere"})
    assert run["owner"] in {cluster.nodes["b"].holder, cluster.nodes["c"].holder}


def run_cli(config: Path, *argv: str) -> dict[str, Any]:
    with contextlib.redirect_stdout(buffer := _Buffer()):
        code = main([*argv, "--config", str(config), "--json"])
    assert code == 0, buffer.text
    data: dict[str, Any] = json.loads(buffer.text)
    return data


def run_cli_list(config: Path, *argv: str) -> list[dict[str, Any]]:
    with contextlib.redirect_stdout(buffer := _Buffer()):
        code = main([*argv, "--config", str(config), "--json"])
    assert code == 0, buffer.text
    found: list[dict[str, Any]] = json.loads(buffer.text)
    return found


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def status(cluster: Cluster, execution_id: str) -> str:
    doc = cluster.db.executions.find_one({"_id": execution_id}, {"status": 1})
    return str(doc["status"]) if doc else ""


def test_cancel_pause_and_resume_reach_the_process_running_the_work(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    slow = run_cli(a.config, "run", "core.local", "cmd=sleep 30", "--async")
    running = wait_for(
        "sleep running",
        lambda: cluster.db.executions.find_one(
            {"_id": slow["id"], "status": "running", "pgid": {"$ne": None}}
        ),
    )
    assert running["owner"] in {cluster.nodes["b"].holder, cluster.nodes["c"].holder}
    run_cli(a.config, "execution", "cancel", slow["id"])
    wait_for("canceled", lambda: status(cluster, slow["id"]) == "canceled", timeout=20)
    wait_for("its process group gone", lambda: not group_alive(running["pgid"]), timeout=10)

    flow = run_cli(a.config, "run", "flows.slow", "seconds=3", "--async")
    wait_for("workflow running", lambda: status(cluster, flow["id"]) == "running")
    time.sleep(0.3)
    run_cli(a.config, "execution", "pause", flow["id"])
    wait_for("paused", lambda: status(cluster, flow["id"]) == "paused", timeout=30)
    run_cli(a.config, "execution", "resume", flow["id"])
    wait_for("succeeded", lambda: status(cluster, flow["id"]) == "succeeded", timeout=30)


def test_a_stream_on_a_carries_an_execution_started_and_run_elsewhere(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    key = run_cli(a.config, "apikey", "create")["key"]  # no user: the default role, may read
    events = "st2.execution__create,st2.execution__update"
    url = f"http://127.0.0.1:{a.port}/stream/v1/stream?events={events}&st2-api-key={key}"
    with urllib.request.urlopen(url, timeout=60) as stream:
        while stream.readline().strip() != b": connected":
            pass
        # Started by the CLI (a process of its own), run by B or C: A changes nothing.
        started = run_cli(a.config, "run", "core.local", "cmd=sleep 1; echo far", "--async")
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while "succeeded" not in seen:
            assert time.monotonic() < deadline, seen
            line = stream.readline().decode()
            if line.startswith("data: "):
                doc = json.loads(line[len("data: ") :])
                if doc["id"] == started["id"]:
                    seen.append(doc["status"])
    assert "running" in seen or seen[0] == "succeeded", seen
    run = cluster.db.executions.find_one({"_id": started["id"]})
    assert run["owner"] in {cluster.nodes["b"].holder, cluster.nodes["c"].holder}


def test_kill_9_of_an_engine_process_its_work_is_taken_over_while_the_others_run(
    cluster: Cluster,
) -> None:
    a, b, c = (cluster.nodes[name] for name in "abc")
    c.proc.send_signal(signal.SIGSTOP)  # so that B claims both
    try:
        slow = run_cli(a.config, "run", "core.local", "cmd=sleep 30", "--async")
        flow = run_cli(a.config, "run", "flows.slow", "seconds=3", "--async")
        running = wait_for(
            "sleep running on B",
            lambda: cluster.db.executions.find_one(
                {"_id": slow["id"], "status": "running", "pgid": {"$ne": None}}
            ),
        )
        wait_for("workflow running", lambda: status(cluster, flow["id"]) == "running")
    finally:
        c.proc.send_signal(signal.SIGCONT)
    assert running["owner"] == b.holder
    assert cluster.db.executions.find_one({"_id": flow["id"]})["owner"] == b.holder
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(timeout=10)

    # C abandons what B was running (and kills the process B left behind) and takes the
    # workflow up, without a restart: its task that was running on B is abandoned (its command
    # may have run), so the workflow follows its transitions to the end, never left running.
    wait_for("sleep abandoned", lambda: status(cluster, slow["id"]) == "abandoned", timeout=20)
    wait_for("its process group gone", lambda: not group_alive(running["pgid"]), timeout=10)
    wait_for("workflow finished", lambda: status(cluster, flow["id"]) in FINAL, timeout=60)
    flow_doc = cluster.db.executions.find_one({"_id": flow["id"]})
    assert flow_doc["owner"] == c.holder
    tasks = {t["context"]["orquesta"]["task_name"]: t["status"]
             for t in cluster.db.executions.find({"parent": flow["id"]})}  # fmt: skip
    if tasks.get("first") == "abandoned":  # B died while the first task ran
        assert flow_doc["status"] == "failed" and "second" not in tasks
    else:  # B died before the first task started: C ran the whole workflow
        assert flow_doc["status"] == "succeeded" and tasks == {
            "first": "succeeded",
            "second": "succeeded",
        }


def test_kill_9_of_the_timers_and_chat_leader_moves_both_and_loses_nothing(
    cluster: Cluster,
) -> None:
    a = cluster.nodes["a"]
    before = len(fire_times(cluster))
    killed_at = time.time()
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)

    def new_holders() -> dict[str, str] | None:
        leases = cluster.leases()
        moved = leases.get("timers") not in (None, a.holder)
        chat = leases.get("chat:console") not in (None, a.holder)
        return leases if moved and chat else None

    leases = wait_for("takeover", new_holders, timeout=LEASE + RENEW + 5)
    took = time.time() - killed_at
    assert took < LEASE + RENEW + 1, took
    survivors = {n.holder: n for n in cluster.nodes.values() if n.proc.poll() is None}
    assert leases["timers"] in survivors and leases["chat:console"] in survivors

    wait_for("ticks again", lambda: len(fire_times(cluster)) >= before + 5, timeout=30)
    times = fire_times(cluster)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) > 0.3, gaps  # never a double
    assert max(gaps) < LEASE + RENEW + 1.5, gaps  # the takeover gap: lease + renew + a tick

    # A result finished while A is gone reaches the chat once, from its new owner.
    chat = survivors[leases["chat:console"]]
    run_cli(cluster.nodes["c"].config, "run", "cluster.notified", "tag=after-kill")
    chat.output.until("cluster notified after-kill", timeout=20)
    time.sleep(1)
    everything = "".join(n.output.seen for n in survivors.values())
    assert everything.count("cluster notified after-kill") == 1
