"""Run cards: per-runner default bodies, truncation with a marker, attachments, masked secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.chat.cards import (
    ack_card,
    approval_card,
    default_body,
    footer,
    result_card,
    truncate,
)
from core.aliases.render import RenderedResult
from core.executions.api import execution_to_api
from core.models import Action, Execution, ExecutionStatus
from core.models.approval import Approval
from core.models.chat import Capabilities, Field


def api(runner: str, result: dict[str, Any], status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": "ex1",
        "action": {"ref": "demo.act"},
        "runner": {"name": runner},
        "status": status,
        "result": result,
        "elapsed_seconds": 1.5,
    }


def test_ack_card_offers_cancel_as_a_typed_command() -> None:
    card = ack_card(api("noop", {}, "requested"))
    assert card.text == "execution ex1 requested (demo.act)"
    assert card.status == "requested"
    assert [b.command for b in card.buttons] == ["cancel ex1"]
    assert ack_card(api("noop", {}), "on it").text == "on it"


def test_shell_body_is_stdout_stderr_and_return_code() -> None:
    fields, output = default_body(
        api("local-shell-cmd", {"stdout": "out", "stderr": "err", "return_code": 3})
    )
    assert fields == (Field("return_code", "3"),)
    assert output == "out\nstderr:\nerr"


def test_python_body_is_the_result_and_http_body_is_status_and_body() -> None:
    fields, output = default_body(api("python-script", {"result": {"a": 1}, "exit_code": 0}))
    assert fields == (Field("exit_code", "0"),) and '"a": 1' in output
    fields, output = default_body(api("http-request", {"status_code": 201, "body": "made"}))
    assert fields == (Field("status_code", "201"),) and output == "made"


def test_alias_rendered_text_replaces_the_default_body() -> None:
    rendered = RenderedResult("head", "pretty", {"slack": {"color": "good"}})
    card = result_card(api("local-shell-cmd", {"stdout": "raw"}), Capabilities(), rendered)
    assert (card.pretext, card.text, card.code, card.fields) == ("head", "pretty", None, ())
    assert card.extra == {"slack": {"color": "good"}}
    assert card.footer == "execution ex1 · 1.50s"
    assert [b.command for b in card.buttons] == ["rerun ex1"]


def test_long_alias_text_is_cut_and_attached() -> None:
    rendered = RenderedResult(None, "y" * 3000)
    card = result_card(api("noop", {}), Capabilities(files=True, max_text=1000), rendered)
    assert len(card.text) < 1000 and card.text.endswith("full output attached]")
    assert card.attachment is not None and card.attachment.content == "y" * 3000


def test_truncate_marks_how_much_is_hidden() -> None:
    assert truncate("abc", 5, attached=False) == "abc"
    assert truncate("abcdefgh", 3, attached=False) == "abc\n… [truncated: 5 more characters]"
    assert truncate("abcdefgh", 3, attached=True).endswith("full output attached]")


def test_long_output_is_truncated_and_attached_whole_only_where_files_work() -> None:
    long = "x" * 5000
    body = api("local-shell-cmd", {"stdout": long, "return_code": 0})
    no_files = result_card(body, Capabilities(max_text=1000))
    assert no_files.attachment is None
    assert no_files.code is not None and len(no_files.code) < 1000
    assert "truncated: 4400 more characters]" in no_files.code
    with_files = result_card(body, Capabilities(max_text=1000, files=True))
    assert with_files.attachment is not None and with_files.attachment.content == long
    assert with_files.code is not None and "full output attached" in with_files.code


def test_secret_parameters_never_reach_the_card() -> None:
    action = Action(
        pack="demo",
        name="act",
        runner_type="local-shell-cmd",
        pack_path=Path("/packs/demo"),
        parameters={"token": {"type": "string", "secret": True}},
    )
    execution = Execution.request(
        "demo.act", "local-shell-cmd", {"token": "hunter2", "cmd": "echo"}
    )
    done = execution.with_changes(
        status=ExecutionStatus.SUCCEEDED, result={"stdout": "token is hunter2", "return_code": 0}
    )
    card = result_card(execution_to_api(done, action), Capabilities())
    assert card.code == "token is ********"


def test_a_workflow_result_reads_as_yaml_not_json() -> None:
    result = {"output": {"deployed": ["web1", "web2"], "reason": None}}
    fields, output = default_body(api("orquesta", result))
    assert fields == ()
    assert output == "deployed:\n- web1\n- web2\nreason: null"
    failed = {"output": {}, "errors": [{"task_id": "each_host", "message": "exit 1"}]}
    _, output = default_body(api("orquesta", failed, "failed"))
    assert output == "errors:\n- task_id: each_host\n  message: exit 1"


def test_approval_card_parameters_stay_on_one_line() -> None:
    approval = Approval(
        id="ap1", title="deploy", requester="alice", created_at=datetime(2026, 1, 1, tzinfo=UTC),
        subject={"parameters": {"hosts": ["web1", "web2"], "opts": {"a": 1}, "n": 3}},
    )  # fmt: skip
    shown = {f.title: f.value for f in approval_card(approval).fields}
    assert shown["hosts"] == "web1, web2"
    assert shown["opts"] == '{"a": 1}'
    assert shown["n"] == "3"


def test_footer_names_the_trace_of_the_run() -> None:
    traced = {**api("noop", {}), "context": {"trace_context": {"id_": "t" * 24, "trace_tag": None}}}
    assert footer(traced) == f"execution ex1 · 1.50s · trace {'t' * 24}"
