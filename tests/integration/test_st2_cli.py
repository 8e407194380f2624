"""The real ``st2`` CLI (st2client 3.9.0) against a live ``squall serve``: issue 15's list."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.st2_server import ALICE_PASSWORD, ST2, Server, running_server, squall

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client venv missing: run `make .venv-st2/.installed`"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("st2cli")) as live:
        yield live


def run_async(server: Server, action: str, parameters: dict[str, Any], user: str = "alice") -> str:
    status, _, doc = server.http(
        "POST", "/api/v1/executions", {"action": action, "parameters": parameters}, user=user
    )
    assert status == 201, doc
    return str(doc["id"])


def first_json(text: str) -> Any:
    """The first JSON document of st2's output (pause/resume print the workflow's tasks after)."""
    return json.JSONDecoder().raw_decode(text.lstrip())[0]


def test_action_list_get_and_runner_list(server: Server) -> None:
    refs = [a["ref"] for a in server.st2_json("action", "list")]
    assert "core.local" in refs and "apitest.count" in refs
    action = server.st2_json("action", "get", "core.local")
    assert action["ref"] == "core.local" and action["runner_type"] == "local-shell-cmd"
    runners = [r["name"] for r in server.st2_json("runner", "list")]
    assert {"local-shell-cmd", "python-script", "orquesta"} <= set(runners)


def test_run_core_local_succeeds_with_stdout(server: Server) -> None:
    done = server.st2("run", "core.local", "cmd=echo hi", "-j")
    assert done.returncode == 0, done.stderr
    execution = json.loads(done.stdout)
    assert execution["status"] == "succeeded"
    assert execution["result"]["stdout"] == "hi"
    assert execution["context"]["user"] == "alice"


def test_run_that_fails_exits_1_with_status_failed(server: Server) -> None:
    done = server.st2("run", "core.local", "cmd=echo oops >&2; exit 3", "-j")
    assert done.returncode == 1
    execution = json.loads(done.stdout)
    assert execution["status"] == "failed"
    assert execution["result"]["return_code"] == 3
    assert execution["result"]["stderr"] == "oops"


def test_execution_list_and_get(server: Server) -> None:
    ids = [run_async(server, "core.noop", {}) for _ in range(6)]
    for execution_id in ids:
        server.wait_status(execution_id, ["succeeded"])
    listed = server.st2_json("execution", "list", "-n", "5")
    # The five newest (st2 prints them oldest first).
    assert [e["id"] for e in listed] == ids[1:]
    status, headers, _ = server.http("GET", "/api/v1/executions?limit=5&parent=null")
    assert status == 200 and int(headers["X-Total-Count"]) >= 6
    total = int(headers["X-Total-Count"])
    got = server.st2_json("execution", "get", ids[0])
    assert got["id"] == ids[0] and got["status"] == "succeeded"
    assert got["action"]["ref"] == "core.noop"
    # Filters as the CLI sends them.
    after = server.http("GET", f"/api/v1/executions/{ids[2]}")[2]["start_timestamp"]
    newer = server.st2_json("execution", "list", "--timestamp-gt", after, "-n", "50")
    assert {e["id"] for e in newer} == set(ids[3:])
    # After a bound, the newest first (the CLI's default sort_desc) or the oldest (sort_asc);
    # st2 prints either page oldest-last reversed.
    newest_two = server.st2_json("execution", "list", "--timestamp-gt", after, "-n", "2")
    assert [e["id"] for e in newest_two] == [ids[4], ids[5]]
    oldest_two = server.st2_json(
        "execution", "list", "--timestamp-gt", after, "-n", "2", "-s", "asc"
    )
    assert [e["id"] for e in oldest_two] == [ids[4], ids[3]]
    first = server.http("GET", "/api/v1/executions?parent=null&limit=1&sort_asc=True")[2]
    last = server.http(
        "GET", f"/api/v1/executions?parent=null&limit=1&sort_asc=True&offset={total - 1}"
    )[2]
    assert first[0]["start_timestamp"] <= last[0]["start_timestamp"]
    by_action = server.st2_json(
        "execution", "list", "--action", "core.noop", "--status", "succeeded", "--user", "alice"
    )
    assert set(ids) <= {e["id"] for e in by_action}
    assert {e["action"]["ref"] for e in by_action} == {"core.noop"}
    assert server.st2_json("execution", "list", "--user", "nobody") == []


def test_execution_tail_follows_live_output(server: Server, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    parameters = {"lines": 4, "pause": 0.4, "gate": str(gate)}
    execution_id = run_async(server, "apitest.count", parameters)
    server.wait_status(execution_id, ["running"])
    unbuffered = {**server.env(), "PYTHONUNBUFFERED": "1"}  # each line as st2 prints it
    tail = subprocess.Popen(
        [str(ST2), "execution", "tail", execution_id], env=unbuffered,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        server.wait_stream_clients(1)  # the tail listens: now let the action print
        gate.touch()
        assert tail.stdout is not None
        first = tail.stdout.readline()
        # The first line arrives while the action still runs: it came through the stream.
        status = server.http("GET", f"/api/v1/executions/{execution_id}")[2]["status"]
        rest, _ = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait(timeout=10)
    lines = (first + rest).splitlines()
    assert status == "running"
    assert [line for line in lines if line.startswith("line-")] == [
        "line-1", "line-2", "line-3", "line-4"
    ]  # fmt: skip
    assert f"Execution {execution_id} has completed (status=succeeded)." in lines
    assert tail.returncode == 0


def test_execution_cancel(server: Server) -> None:
    execution_id = run_async(server, "apitest.count", {"lines": 100, "pause": 0.2})
    server.wait_status(execution_id, ["running"])
    done = server.st2("execution", "cancel", execution_id)
    assert done.returncode == 0, done.stderr
    assert "canceled" in done.stdout
    assert server.wait_status(execution_id, ["canceled"])["status"] == "canceled"
    again = server.http("DELETE", f"/api/v1/executions/{execution_id}")
    assert again[0] == 400 and "cannot be canceled" in again[2]["faultstring"]


def test_execution_re_run(server: Server) -> None:
    first = server.st2_json("run", "core.local", "cmd=echo again")
    rerun = server.st2_json("execution", "re-run", first["id"])
    assert rerun["id"] != first["id"]
    done = server.wait_status(rerun["id"], ["succeeded", "failed"])
    assert done["status"] == "succeeded" and done["result"]["stdout"] == "again"
    assert done["context"]["re-run"] == {"ref": first["id"]}


def test_workflow_pause_and_resume(server: Server, tmp_path: Path) -> None:
    gate = tmp_path / "open"
    workflow = run_async(server, "apitest.gated_wf", {"gate": str(gate)})
    server.wait_status(workflow, ["running"])
    paused = first_json(server.st2("execution", "pause", workflow, "-j").stdout)
    assert paused["status"] in ("pausing", "paused")
    gate.touch()  # the running task ends; no next task starts while pausing
    server.wait_status(workflow, ["paused"])
    resumed = first_json(server.st2("execution", "resume", workflow, "-j").stdout)
    assert resumed["status"] in ("resuming", "running", "succeeded")
    assert server.wait_status(workflow, ["succeeded", "failed"])["status"] == "succeeded"
    children = server.http("GET", f"/api/v1/executions/{workflow}/children")[2]
    assert [c["context"]["orquesta"]["task_name"] for c in children] == ["wait", "after"]
    refused = server.http("PUT", f"/api/v1/executions/{workflow}", {"status": "pausing"})
    assert refused[0] == 400 and "cannot pause" in refused[2]["faultstring"]


def test_keys_set_get_list_delete_with_secrets_and_user_scope(server: Server) -> None:
    server.st2_json("key", "set", "api_plain", "v1")
    secret = server.st2_json("key", "set", "api_secret", "s3cret", "--encrypt")
    assert secret["value"] != "s3cret"  # ciphertext, as st2 shows it
    server.st2_json("key", "set", "api_mine", "m1", "--scope", "user")
    assert server.st2_json("key", "get", "api_plain")["value"] == "v1"
    assert server.st2_json("key", "get", "api_secret", "--decrypt")["value"] == "s3cret"
    assert server.st2_json("key", "get", "api_mine", "--scope", "user")["value"] == "m1"
    names = {k["name"] for k in server.st2_json("key", "list")}
    assert {"api_plain", "api_secret", "alice:api_mine"} <= names
    listed = {k["name"]: k for k in server.st2_json("key", "list", "--decrypt")}
    assert listed["api_secret"]["value"] == "s3cret"
    # bob may read system keys but not decrypt system secrets, nor read alice's own keys.
    assert server.st2_json("key", "get", "api_secret", user="bob")["value"] != "s3cret"
    refused = server.st2("key", "get", "api_secret", "--decrypt", user="bob")
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    assert "alice:api_mine" not in {k["name"] for k in server.st2_json("key", "list", user="bob")}
    spying = server.http("GET", "/api/v1/keys?scope=user&user=alice", user="bob")
    assert spying[0] == 403
    for args in (("api_plain",), ("api_secret",), ("api_mine", "--scope", "user")):
        done = server.st2("key", "delete", *args)
        assert done.returncode == 0 and "deleted" in done.stdout
    assert server.http("GET", "/api/v1/keys/api_plain")[0] == 404


def test_rule_list_get_enable_disable(server: Server) -> None:
    refs = {r["ref"] for r in server.st2_json("rule", "list")}
    assert "apitest.on_hook" in refs
    assert server.st2_json("rule", "get", "apitest.on_hook")["trigger"]["type"] == (
        "core.st2.webhook"
    )
    assert server.st2_json("rule", "disable", "apitest.on_hook")["enabled"] is False
    assert server.http("GET", "/api/v1/rules/apitest.on_hook")[2]["enabled"] is False
    assert server.st2_json("rule", "enable", "apitest.on_hook")["enabled"] is True
    refused = server.st2("rule", "disable", "apitest.on_hook", user="bob")
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr


def test_webhook_trigger_instances_and_rule_enforcements(server: Server) -> None:
    hooks = server.st2_json("webhook", "list")
    assert "apitest" in [h["url"] for h in hooks]
    status, _, _ = server.http("POST", "/api/v1/webhooks/apitest", {"n": 1})
    assert status == 202
    deadline = time.monotonic() + 20
    while True:
        instances = server.st2_json("trigger-instance", "list", "--trigger", "core.st2.webhook")
        enforced = server.st2_json("rule-enforcement", "list", "--rule", "apitest.on_hook")
        if instances and enforced and enforced[0].get("execution_id"):
            break
        assert time.monotonic() < deadline, (instances, enforced)
        time.sleep(0.2)
    instance = server.http("GET", f"/api/v1/triggerinstances/{instances[0]['id']}")[2]
    assert instance["payload"]["body"] == {"n": 1}
    assert enforced[0]["trigger_instance_id"] == instances[0]["id"]
    again = server.http("POST", f"/api/v1/triggerinstances/{instances[0]['id']}/re_emit")
    assert again[0] == 200 and again[2]["trigger_instance"]["payload"]["body"] == {"n": 1}
    # Exact totals, and occurrence-time bounds (exclusive), as the CLI sends them.
    everything = server.http("GET", "/api/v1/triggerinstances?trigger=core.st2.webhook&limit=-1")
    one = server.http("GET", "/api/v1/triggerinstances?trigger=core.st2.webhook&limit=1")
    assert int(one[1]["X-Total-Count"]) == len(everything[2]) >= 2
    first_at = instance["occurrence_time"]
    later = server.st2_json(
        "trigger-instance", "list", "--trigger", "core.st2.webhook", "--timestamp-gt", first_at
    )
    assert again[2]["trigger_instance"]["id"] in {i["id"] for i in later}
    assert instance["id"] not in {i["id"] for i in later}
    earlier = server.http("GET", f"/api/v1/triggerinstances?timestamp_lt={first_at}")[2]
    assert instance["id"] not in {i["id"] for i in earlier}
    bad = server.http("GET", "/api/v1/triggerinstances?timestamp_gt=yesterday")
    assert bad[0] == 400 and "timestamp_gt" in bad[2]["faultstring"]
    enforcements = server.http("GET", "/api/v1/ruleenforcements?rule_ref=apitest.on_hook&limit=1")
    everyone = server.http("GET", "/api/v1/ruleenforcements?rule_ref=apitest.on_hook&limit=-1")
    assert int(enforcements[1]["X-Total-Count"]) == len(everyone[2]) >= 2
    triggers = {t["ref"] for t in server.st2_json("trigger", "list")}
    assert {"core.st2.webhook", "core.st2.CronTimer"} <= triggers


def test_action_alias_list_match_execute(server: Server) -> None:
    assert "apitest.say" in {a["ref"] for a in server.st2_json("action-alias", "list")}
    matched = server.st2_json("action-alias", "match", "say hello there")
    assert matched[0]["name"] == "say"
    done = server.st2("action-alias", "execute", "say hello there")
    assert done.returncode == 0, done.stderr
    execution_id = done.stdout.split("st2 execution get ")[1].split()[0]
    execution = server.wait_status(execution_id, ["succeeded", "failed"])
    assert execution["result"]["stdout"] == "hello there"
    assert execution["context"]["action_alias_ref"] == "apitest.say"
    nothing = server.http("POST", "/api/v1/actionalias/match", {"command": "nonsense words"})
    assert nothing[0] == 400 and "matched no patterns" in nothing[2]["faultstring"]


def test_an_approval_gated_alias_is_held_not_run(server: Server) -> None:
    done = server.st2("action-alias", "execute", "shout hello")
    assert done.returncode == 0, done.stdout + done.stderr
    execution_id = done.stdout.split("st2 execution get ")[1].split()[0]
    time.sleep(1)
    held = server.http("GET", f"/api/v1/executions/{execution_id}")[2]
    assert held["status"] == "pending" and held["result"] is None  # waits for bob, as in chat


def test_inquiry_list_get_respond(server: Server) -> None:
    workflow = run_async(server, "flows.ask", {})
    deadline = time.monotonic() + 20
    while not (inquiries := server.st2_json("inquiry", "list")):
        assert time.monotonic() < deadline, "no inquiry appeared"
        time.sleep(0.2)
    inquiry = server.st2_json("inquiry", "get", inquiries[0]["id"])
    assert inquiry["users"] == ["bob", "erin"]
    refused = server.st2("inquiry", "respond", inquiry["id"], "-r", '{"approved": true}')
    assert refused.returncode != 0 and "may not answer" in refused.stdout + refused.stderr
    answered = server.st2(
        "inquiry", "respond", inquiry["id"], "-r", '{"approved": true, "reason": "ok"}',
        user="bob",
    )  # fmt: skip
    assert answered.returncode == 0, answered.stdout + answered.stderr
    done = server.wait_status(workflow, ["succeeded", "failed"])
    assert done["status"] == "succeeded" and done["result"]["output"]["reason"] == "ok"


def test_pack_policy_and_policy_type_lists(server: Server) -> None:
    assert {"core", "apitest"} <= {p["ref"] for p in server.st2_json("pack", "list")}
    assert server.st2_json("pack", "get", "apitest")["version"] == "0.2.0"
    assert "apitest.count_limit" in {p["ref"] for p in server.st2_json("policy", "list")}
    assert "action.concurrency" in {p["id"] for p in server.st2_json("policy-type", "list")}
    search = server.http("POST", "/api/v1/packs/index/search", {"query": "x"})
    assert search[0] == 501 and "no pack index" in search[2]["faultstring"]
    create = server.http("POST", "/api/v1/actions", {"name": "x"})
    assert create[0] == 405 and "pack files" in create[2]["faultstring"]


def test_apikey_create_list_delete(server: Server) -> None:
    created = server.st2_json("apikey", "create", "-m", '{"name": "ci"}')
    key, key_id = created["key"], created["id"]
    assert key.startswith("sqk_") and created["user"] == "alice"
    assert key_id in {k["id"] for k in server.st2_json("apikey", "list")}
    server.keys["fresh"] = key
    assert server.http("GET", "/api/v1/actions/core.noop", user="fresh")[0] == 200
    done = server.st2("apikey", "delete", key_id)
    assert done.returncode == 0 and "deleted" in done.stdout
    assert server.http("GET", "/api/v1/actions/core.noop", user="fresh")[0] == 401
    listed = {k["id"]: k for k in server.http("GET", "/api/v1/apikeys")[2]}
    assert listed[key_id]["enabled"] is False
    assert key_id not in {k["id"] for k in server.st2_json("apikey", "list", user="bob")}


def test_login_then_commands_with_the_token(server: Server) -> None:
    done = server.st2("login", "alice", "-p", ALICE_PASSWORD, user=None)
    assert done.returncode == 0 and "Logged in as alice" in done.stdout
    # st2 login cached the token under HOME; no key, no token in the environment.
    assert server.st2_json("action", "get", "core.noop", user=None)["ref"] == "core.noop"
    token = server.st2_json("auth", "alice", "-p", ALICE_PASSWORD, user=None)["token"]
    ran = server.st2_json("run", "core.echo", "message=tok", user=None, token=token)
    assert ran["result"]["stdout"] == "tok" and ran["context"]["user"] == "alice"
    wrong = server.st2("auth", "alice", "-p", "not-the-password", user=None)
    assert wrong.returncode != 0 and "Invalid or missing credentials" in wrong.stdout + wrong.stderr
    # A new password ends the sessions of the old one.
    squall(server.config, "user", "passwd", "alice", "--password-stdin", stdin="another-pass-1\n")
    status, _, _ = server.http("GET", "/api/v1/user", user=None, headers={"X-Auth-Token": token})
    assert status == 401
    assert server.st2_json("auth", "alice", "-p", "another-pass-1", user=None)["token"]


def test_refused_for_a_user_without_permission(server: Server) -> None:
    refused = server.st2("run", "core.local", "cmd=id", user="bob")
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
    assert 'doesn\'t have required permission "action_execute"' in refused.stdout + refused.stderr
    carol = server.st2_json("run", "core.echo", "message=hi", user="carol")
    assert carol["status"] == "succeeded"
    refused_local = server.http(
        "POST",
        "/api/v1/executions",
        {"action": "core.local", "parameters": {"cmd": "id"}},
        user="carol",
    )
    assert refused_local[0] == 403
    nobody = server.http("GET", "/api/v1/actions", user=None)
    assert nobody[0] == 401 and "faultstring" in nobody[2]


def test_failed_logins_are_throttled_and_audited(server: Server) -> None:
    statuses = []
    for _ in range(6):
        status, _, _ = server.http(
            "POST", "/auth/v1/tokens", {}, user=None,
            headers={"Authorization": "Basic " + _b64("mallory:guess")},
        )  # fmt: skip
        statuses.append(status)
    assert statuses == [401] * 5 + [429]  # api.max_login_failures: 5
    db = server.config.parent / "var" / "squall.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT doc FROM audit WHERE kind = 'auth.login' AND user = 'mallory'"
        ).fetchall()
    docs = [json.loads(row[0]) for row in rows]
    assert len(docs) == 6 and not any(d["allowed"] for d in docs)
    assert "throttled" in docs[-1]["reason"]
    assert all("guess" not in row[0] for row in rows)


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_an_action_calls_the_api_back_with_its_own_token(server: Server) -> None:
    done = server.st2_json("run", "apitest.st2_kv", f"st2={ST2}", "key=from_action")
    assert done["status"] == "succeeded", done["result"]
    stdout = done["result"]["stdout"]
    written = json.loads(stdout.split("token=")[0])
    assert written["value"] == f"written by {done['id']}"
    assert written["name"] == "alice:from_action"  # the execution's user, through its token
    token = stdout.split("token=")[1].strip()
    status, _, _ = server.http("GET", "/api/v1/keys", user=None, headers={"X-Auth-Token": token})
    assert status == 401  # revoked when the action ended


def test_a_python_action_calls_the_api_back_with_its_own_token(server: Server) -> None:
    done = server.st2_json("run", "apitest.api_callback", "key=from_python")
    assert done["status"] == "succeeded", done["result"]
    result = done["result"]["result"]
    assert result["me"] == "alice" and result["value"] == "from python"
    status, _, _ = server.http("GET", "/api/v1/user", user=None,
                               headers={"X-Auth-Token": result["token"]})  # fmt: skip
    assert status == 401  # revoked when the action ended


def test_openapi_document_lists_what_is_served(server: Server) -> None:
    status, _, doc = server.http("GET", "/api/v1/openapi.json", user=None)
    assert status == 200 and doc["openapi"].startswith("3.")
    assert {"/api/v1/executions", "/auth/v1/tokens", "/stream/v1/stream"} <= set(doc["paths"])
    assert "/api/v1/rbac/roles" not in doc["paths"]
    version = server.http("GET", "/api/v1/")
    assert version[0] == 200 and version[2]["version"]


def traces(server: Server, *args: str) -> list[Any]:
    """``st2 trace list`` prints one trace as a document and several as a list."""
    found = server.st2_json("trace", "list", *args)
    return [found] if isinstance(found, dict) else list(found)


def test_trace_list_and_get_follow_a_tagged_webhook(server: Server) -> None:
    status, _, _ = server.http(
        "POST", "/api/v1/webhooks/apitest", {"n": 7}, headers={"St2-Trace-Tag": "cli-trace"}
    )
    assert status == 202
    deadline = time.monotonic() + 30
    while True:
        listed = traces(server, "--trace-tag", "cli-trace")
        if listed and listed[0].get("action_executions"):
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.2)
    assert [t["trace_tag"] for t in listed] == ["cli-trace"]
    trace = server.st2_json("trace", "get", listed[0]["id"])
    assert [c["ref"] for c in trace["trigger_instances"]] == ["core.st2.webhook"]
    assert [c["ref"] for c in trace["rules"]] == ["apitest.on_hook"]
    execution_id = trace["action_executions"][0]["object_id"]
    assert [t["id"] for t in traces(server, "--execution", execution_id)] == [trace["id"]]
    # An API run starts a trace of its own, caused by the API call.
    run = server.st2_json("run", "core.noop")
    own = traces(server, "--execution", run["id"])
    assert own[0]["action_executions"][0]["caused_by"] == {"type": "api", "id": "alice"}
    assert len(traces(server, "-n", "50")) >= 2
    oldest = server.http("GET", "/api/v1/traces?limit=1&sort_asc=True")[2]
    newest = server.http("GET", "/api/v1/traces?limit=1&sort_desc=True")[2]
    assert oldest[0]["id"] != newest[0]["id"]
    assert oldest[0]["start_timestamp"] < newest[0]["start_timestamp"]
    assert server.st2("trace", "get", "nope").returncode != 0
