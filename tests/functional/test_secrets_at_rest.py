"""No secret at rest in clear (security.md rows 25, 26, 53): grep the database file's bytes.

The attack run found ``login bob with hunter2`` (a ``secret: true`` value inside the rendered
``cmd``, even for a denied request) in the ``audit`` table, a ``decrypt_kv`` result there too,
and raw parameters and unmasked stdout in ``executions``. Here a secret goes through every
path that writes a document — a run whose output echoes it, a denied request, a value
decrypted from the datastore, an approval-gated request (its approval document too) — and
then neither the database nor its ``-wal``/``-shm`` holds it, while the runner still got it
and files are owner-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.console.testing import TestChat
from bot.app import open_engine
from bot.settings import load_settings
from core.approvals.gate import GatedRequest
from core.authz.authorizer import SquallUser
from core.models import MASK, Execution, ExecutionStatus
from core.store import ExecutionQuery
from tests.conftest import wait_execution
from tests.functional.harness import running
from tests.functional.test_chat_aliases import config, titled
from tests.packs import make_pack

RUN_SECRET = "hunter2RUNSECRET"
DENIED_SECRET = "hunter2DENIEDSECRET"
KV_SECRET = "SUPERSECRETVALUE42"
HELD_SECRET = "hunter2HELDSECRET"


def database_bytes(tmp_path: Path) -> bytes:
    files = sorted((tmp_path / "var").glob("squall.db*"))
    assert files, "no database files"
    return b"".join(path.read_bytes() for path in files)


async def test_no_secret_reaches_the_database_files_in_clear(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        chat.push(f"run chat_demo.secret_echo token={RUN_SECRET}", user_id="console")
        done = await chat.wait_for(titled("chat_demo.secret_echo", edited=True), timeout=20)
        assert done.message.status == "succeeded"
        chat.push(f"run chat_demo.secret_echo token={DENIED_SECRET}", user_id="carol")
        assert "You may not run" in (await chat.next_message()).message.text
        await engine.kv.set("tok", KV_SECRET, secret=True)
        requested = await engine.executions.request(
            "core.local", {"cmd": "echo {{ st2kv.system.tok | decrypt_kv }}"}
        )
        decrypted = await engine.executions.wait(requested.id, timeout=20)
        assert decrypted.result is not None
        assert decrypted.result["stdout"].strip() == KV_SECRET  # the runner had the plaintext
        gated = GatedRequest(
            action_ref="chat_demo.secret_echo", parameters={"token": HELD_SECRET},
            context={"user": "alice"}, title="echo a secret?", approvers=("bob",),
            approver_roles=(), ttl=None,
        )  # fmt: skip
        held, approval = await engine.gate.request(
            gated, requester=SquallUser("alice", ("ops",)), place={"adapter": "console"}
        )
        assert approval.subject["parameters"]["token"] == MASK
        # What was stored reads back whole: a held execution still runs with its secret.
        released = await engine.executions.release(held.id, {})
        assert released is not None
        ran = await engine.executions.wait(held.id, timeout=20)
        assert ran.status is ExecutionStatus.SUCCEEDED
        assert ran.parameters["token"] == HELD_SECRET
        assert len(await engine.store.executions.list(ExecutionQuery())) == 3
        raw = database_bytes(tmp_path)
        for secret in (RUN_SECRET, DENIED_SECRET, KV_SECRET, HELD_SECRET):
            assert secret.encode() not in raw, secret
    raw = database_bytes(tmp_path)
    for secret in (RUN_SECRET, DENIED_SECRET, KV_SECRET, HELD_SECRET):
        assert secret.encode() not in raw, secret


async def test_database_and_key_files_are_owner_only(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("help")
        await chat.next_message()
        var = tmp_path / "var"
        assert stat.S_IMODE(var.stat().st_mode) == 0o700
        files = list(var.glob("squall.db*"))
        assert {p.name for p in files} >= {"squall.db", "squall.db-wal", "squall.db-shm"}
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        keys = [p for p in tmp_path.rglob("*key*") if p.is_file()]
        assert keys
        for path in keys:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


RULE_SECRET = "hunter2RULESECRET"


async def test_an_execution_a_rule_fires_is_stored_sealed_too(tmp_path: Path) -> None:
    """Rule-fired executions are written with their trigger instance's settlement, not through
    the executions repository: they must be sealed there as well."""
    parameters = "{token: '{{ st2kv.system.tok | decrypt_kv }}'}"
    async with rule_fired(tmp_path, "chat_demo.secret_echo", parameters, RULE_SECRET) as fired:
        assert fired.status is ExecutionStatus.SUCCEEDED
        assert fired.parameters["token"] == RULE_SECRET  # opened for whoever reads it
        assert RULE_SECRET.encode() not in database_bytes(tmp_path)


@contextlib.asynccontextmanager
async def rule_fired(
    tmp_path: Path, action_ref: str, parameters: str, secret: str
) -> AsyncIterator[Execution]:
    """A webhook rule (pack ``sealed``) running ``action_ref`` with ``parameters`` (YAML flow
    style), which may use the datastore secret ``tok``, set to ``secret``: yields the execution
    it fired, completed, while the engine still runs."""
    rule = (
        "name: fire\npack: sealed\nenabled: true\n"
        "trigger: {type: core.st2.webhook, parameters: {url: fire}}\n"
        f"action:\n  ref: {action_ref}\n  parameters: {parameters}\n"
    )
    make_pack(tmp_path / "packs", "sealed", {"rules/fire.yaml": rule})
    path = config(tmp_path)
    path.write_text(
        path.read_text().replace("packs: {paths: [", f"packs: {{paths: ['{tmp_path / 'packs'}', ")
    )
    async with running(path, TestChat()) as runtime:
        engine = runtime.commands.engine
        await engine.kv.set("tok", secret, secret=True)
        await engine.triggers.dispatch(
            "core.st2.webhook", {"body": {}}, trigger_parameters={"url": "fire"}
        )
        async with asyncio.timeout(20):
            while True:
                found = await engine.store.executions.list(ExecutionQuery(action_ref=action_ref))
                if found and found[0].is_completed:
                    break
                await asyncio.sleep(0.05)
        yield found[0]


WF_INPUT_SECRET = "hunter2WORKFLOWINPUT"
WF_KV_SECRET = "SUPERSECRETWORKFLOWKV"
FLOW = """\
version: 1.0
input: [password]
vars: [{got: null}]
tasks:
  fetch:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        publish:
          - got: "{{ st2kv('system.tok', decrypt=true) }}"
          - both: "{{ ctx('got') }}:{{ ctx('password') }}"
        do: wait
  wait:
    action: core.ask
    next:
      - when: "{{ succeeded() }}"
        do: use
  use:
    action: core.local
    input:
      cmd: "printf %s '{{ ctx('got') }}:{{ ctx('password') }}' > OUT"
output:
  - got: "{{ ctx('got') }}"
"""


def workflow_pack(tmp_path: Path, out: Path) -> Path:
    """A workflow whose input is a secret parameter and that publishes a decrypted value, then
    waits on an inquiry (so it can be stopped mid-way) and hands both to a shell task."""
    pack = tmp_path / "packs" / "sealwf"
    (pack / "actions" / "workflows").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "ref: sealwf\nname: sealwf\ndescription: d\nversion: 0.1.0\nauthor: t\n"
    )
    (pack / "actions" / "flow.yaml").write_text(
        "name: flow\npack: sealwf\nrunner_type: orquesta\nenabled: true\n"
        "entry_point: workflows/flow.yaml\n"
        "parameters: {password: {type: string, secret: true, required: true}}\n"
    )
    (pack / "actions" / "workflows" / "flow.yaml").write_text(FLOW.replace("OUT", str(out)))
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{pack.parent}']}}\n"
        "http: {enabled: false}\n"
        "executions: {max_concurrency: 4, python_fork_server: false,"
        " shutdown_grace_seconds: 0.5}\n"
    )
    return path


async def test_workflow_state_holds_no_secret_in_clear_and_runs_on_after_a_restart(
    tmp_path: Path,
) -> None:
    """The conductor's saved context (inputs, published values) is sealed like executions, and
    read back opened: stopped while waiting on an inquiry, the workflow carries on in a new
    process with the real secret input and decrypted value."""
    out = tmp_path / "out.txt"
    path = workflow_pack(tmp_path, out)
    async with open_engine(load_settings(path)) as engine:
        await engine.kv.set("tok", WF_KV_SECRET, secret=True)
        requested = await engine.executions.request("sealwf.flow", {"password": WF_INPUT_SECRET})
        await wait_execution(engine, requested.id, ExecutionStatus.PAUSED, timeout=20)
        stored = await engine.store.workflows.load(requested.id)
        assert stored is not None and WF_KV_SECRET in str(stored.records)  # opened on load
        raw = database_bytes(tmp_path)
        assert b"workflow_records" in raw  # the state is in these files
        for secret in (WF_INPUT_SECRET, WF_KV_SECRET):
            assert secret.encode() not in raw, secret
    async with open_engine(load_settings(path)) as engine:
        [pending] = await engine.approvals.list_pending()
        await engine.approvals.respond(
            pending.id, SquallUser("carol", ()), {"continue": True}, {"adapter": "console"}
        )
        done = await engine.executions.wait(requested.id, timeout=20)
        assert done.status is ExecutionStatus.SUCCEEDED, done.result
        stored_done = await engine.store.executions.get(requested.id)
        assert stored_done is not None and stored_done.result is not None
        assert stored_done.result["output"]["got"] == MASK  # the published secret, at rest
        assert out.read_text() == f"{WF_KV_SECRET}:{WF_INPUT_SECRET}"  # the real values ran
        raw = database_bytes(tmp_path)
        for secret in (WF_INPUT_SECRET, WF_KV_SECRET):
            assert secret.encode() not in raw, secret


RULE_PLAIN_SECRET = "hunter2RULEPLAINPARAM"


async def test_a_rule_rendering_decrypt_kv_into_a_plain_parameter_is_sealed(
    tmp_path: Path,
) -> None:
    """``{{ st2kv.system.x | decrypt_kv }}`` in a rule's action parameters, into a parameter
    its action does not declare secret (``core.local``'s ``cmd``): masked and sealed like one."""
    out = tmp_path / "rule-out.txt"
    parameters = f"{{cmd: \"printf %s '{{{{ st2kv.system.tok | decrypt_kv }}}}' > {out}\"}}"
    async with rule_fired(tmp_path, "core.local", parameters, RULE_PLAIN_SECRET) as fired:
        assert fired.status is ExecutionStatus.SUCCEEDED, fired.result
        assert out.read_text() == RULE_PLAIN_SECRET  # the command ran with the plaintext
        assert RULE_PLAIN_SECRET in fired.parameters["cmd"]  # opened for whoever reads it
        assert "cmd" in fired.context.get("decrypted_parameters", [])  # the API masks it
        assert RULE_PLAIN_SECRET.encode() not in database_bytes(tmp_path)
