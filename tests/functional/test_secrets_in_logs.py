"""No secret in the process log, at DEBUG, in text or JSON (security.md: secrets masked in logs).

An action run with a ``secret: true`` parameter whose output echoes it, a shell command given a
``decrypt_kv`` value, and a workflow whose input is secret and that publishes a decrypted value:
every line the process logs while they run is searched for the secret strings.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import open_engine
from bot.logs import configure_logging
from bot.settings import load_settings
from core.authz.authorizer import SquallUser
from core.models import ExecutionStatus
from tests.conftest import wait_execution
from tests.functional.harness import CHAT_PACK
from tests.functional.test_secrets_at_rest import workflow_pack

PARAM_SECRET = "hunter2LOGPARAMSECRET"
KV_SECRET = "SUPERSECRETLOGKVVALUE"
WF_SECRET = "hunter2LOGWORKFLOWINPUT"
WF_KV_SECRET = "SUPERSECRETLOGWORKFLOWKV"


def bad_flow(pack: Path) -> None:
    """A workflow handing its secret input to an integer parameter: the refusal names the
    value (jsonschema does), and the workflow logs the refusal."""
    (pack / "actions" / "bad.yaml").write_text(
        "name: bad\npack: sealwf\nrunner_type: orquesta\nenabled: true\n"
        "entry_point: workflows/bad.yaml\n"
        "parameters: {password: {type: string, secret: true, required: true}}\n"
    )
    (pack / "actions" / "workflows" / "bad.yaml").write_text(
        "version: 1.0\ninput: [password]\ntasks:\n  wait:\n    action: core.pause\n"
        "    input: {max_pause: \"{{ ctx('password') }}\"}\n"
    )


@pytest.fixture
def log_stream(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    configure_logging("DEBUG", request.param, stream=stream)
    try:
        yield stream
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "squall"]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


@pytest.mark.parametrize("log_stream", ["text", "json"], indirect=True)
async def test_secrets_appear_in_no_log_line(tmp_path: Path, log_stream: io.StringIO) -> None:
    out = tmp_path / "out.txt"
    path = workflow_pack(tmp_path, out)
    path.write_text(
        path.read_text().replace("packs: {paths: [", f"packs: {{paths: ['{CHAT_PACK}', ")
    )
    bad_flow(tmp_path / "packs" / "sealwf")
    async with open_engine(load_settings(path)) as engine:
        await engine.kv.set("tok", KV_SECRET, secret=True)
        echoed = await engine.executions.request("chat_demo.secret_echo", {"token": PARAM_SECRET})
        done = await engine.executions.wait(echoed.id, timeout=20)
        assert done.status is ExecutionStatus.SUCCEEDED, done.result
        assert done.result is not None and PARAM_SECRET in done.result["stdout"]  # it ran
        decrypted = await engine.executions.request(
            "core.local", {"cmd": "echo {{ st2kv.system.tok | decrypt_kv }}"}
        )
        done = await engine.executions.wait(decrypted.id, timeout=20)
        assert done.result is not None and KV_SECRET in done.result["stdout"]
        await engine.kv.set("tok", WF_KV_SECRET, secret=True)
        flow = await engine.executions.request("sealwf.flow", {"password": WF_SECRET})
        await wait_execution(engine, flow.id, ExecutionStatus.PAUSED)
        [pending] = await engine.approvals.list_pending()
        await engine.approvals.respond(
            pending.id, SquallUser("carol", ()), {"continue": True}, {"adapter": "console"}
        )
        done = await engine.executions.wait(flow.id, timeout=20)
        assert done.status is ExecutionStatus.SUCCEEDED, done.result
        assert out.read_text() == f"{WF_KV_SECRET}:{WF_SECRET}"
        bad = await engine.executions.request("sealwf.bad", {"password": WF_SECRET})
        done = await engine.executions.wait(bad.id, timeout=20)
        assert done.status is ExecutionStatus.FAILED  # the task could not even be requested
    logged = log_stream.getvalue()
    lines = logged.splitlines()
    # DEBUG really logged what happened: the workflows' status changes are DEBUG lines
    # (a count of all lines would change with what libraries log: APScheduler's four lines
    # went when it became loaded only for timer rules).
    assert len(lines) > 12 and sum("core.workflows.mirror" in line for line in lines) >= 4
    for secret in (PARAM_SECRET, KV_SECRET, WF_SECRET, WF_KV_SECRET):
        leaking = [line for line in logged.splitlines() if secret in line]
        assert not leaking, leaking[:3]
