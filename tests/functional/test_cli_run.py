"""``squall run`` end to end: real packs, real SQLite, real subprocesses (in-process CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.conftest import cli_json
from tests.packs import make_pack


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_local_echo_succeeds(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, ex = cli_json(capsys, squall_config, "run", "core.local", "cmd=echo hi")
    assert code == 0
    assert ex["status"] == "succeeded"
    assert ex["result"]["stdout"] == "hi"
    assert ex["result"]["return_code"] == 0
    assert ex["action"]["ref"] == "core.local"
    assert ex["context"]["user"] == "cli"
    assert ex["elapsed_seconds"] >= 0
    assert [entry["status"] for entry in ex["log"]] == [
        "requested", "scheduled", "running", "succeeded",
    ]  # fmt: skip


def test_exit_code_three_fails(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, ex = cli_json(capsys, squall_config, "run", "core.local", "cmd=exit 3")
    assert code == 1
    assert ex["status"] == "failed"
    assert ex["result"]["return_code"] == 3


def test_timeout(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, ex = cli_json(capsys, squall_config, "run", "core.local", "cmd=sleep 5", "timeout=1")
    assert code == 1
    assert ex["status"] == "timeout"
    assert ex["parameters"]["timeout"] == 1  # typed by the schema, not the string "1"


def test_echo_and_json_stdout(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, ex = cli_json(capsys, squall_config, "run", "core.echo", "message=hello world")
    assert (code, ex["result"]["stdout"]) == (0, "hello world")
    code, ex = cli_json(capsys, squall_config, "run", "core.local", """cmd=echo '{"a": 1}'""")
    assert ex["result"]["stdout"] == {"a": 1}


UNKNOWN_PARAM = "Additional properties are not allowed ('foo' was unexpected)"
IMMUTABLE = "Override of immutable parameter(s) ['cmd'] is unsupported."


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["core.local", "cmd=true", "foo=1"], UNKNOWN_PARAM),
        (["core.local"], "'cmd' is a required property"),
        (["core.echo", "message=x", "cmd=rm -rf /"], IMMUTABLE),
        (["core.nope"], "core.nope"),
    ],
)  # fmt: skip
def test_bad_parameters_fail_before_running(
    capsys: pytest.CaptureFixture[str], squall_config: Path, argv: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, "run", *argv, "--config", str(squall_config))
    assert code == 1
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    code, listed = cli_json(capsys, squall_config, "execution", "list")
    assert listed == []  # nothing was stored for a rejected request


def test_python_action_false_tuple(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, ex = cli_json(capsys, squall_config, "run", "e2e.fail_with")
    assert code == 1
    assert ex["status"] == "failed"
    assert ex["result"]["result"] == {"e": 1}


def test_secret_masked_in_output(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, ex = cli_json(capsys, squall_config, "run", "e2e.secret_echo", "token=s3cr3t-value")
    assert code == 0
    assert ex["parameters"]["token"] == "********"
    assert ex["result"]["stdout"] == "token=********"
    code, out, _ = run_cli(capsys, "execution", "get", ex["id"], "--config", str(squall_config))
    assert "s3cr3t-value" not in out and "********" in out


def test_script_action_argv(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, ex = cli_json(capsys, squall_config, "run", "e2e.greet", "greeting=$(touch pwned)")
    assert code == 0
    assert ex["result"]["stdout"] == "--count=1\n$(touch pwned)"
    assert not (squall_config.parent / "pwned").exists()


def test_async_run_then_list_and_cancel(
    capsys: pytest.CaptureFixture[str], squall_config: Path
) -> None:
    code, queued = cli_json(capsys, squall_config, "run", "core.noop", "--async")
    assert code == 0 and queued["status"] == "requested"
    code, listed = cli_json(capsys, squall_config, "execution", "list", "--status", "requested")
    assert [e["id"] for e in listed] == [queued["id"]]
    code, canceled = cli_json(capsys, squall_config, "execution", "cancel", queued["id"])
    assert canceled["status"] == "canceled"
    assert canceled["result"]["message"] == "Action canceled by user."
    code, got = cli_json(capsys, squall_config, "execution", "get", queued["id"])
    assert code == 1 and got["status"] == "canceled"


def test_human_output(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, out, _ = run_cli(capsys, "run", "core.echo", "message=hi", "--config", str(squall_config))
    assert code == 0
    assert "status: succeeded" in out and "stdout: hi" in out
    code, out, _ = run_cli(capsys, "execution", "list", "--config", str(squall_config))
    assert out.splitlines()[0].split()[:3] == ["ID", "ACTION", "STATUS"]
    assert "core.echo" in out


def test_action_and_pack_commands(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, actions = cli_json(capsys, squall_config, "action", "list")
    assert code == 0
    refs = {a["ref"] for a in actions}
    assert {"core.local", "core.echo", "core.noop", "core.http", "e2e.greet"} <= refs
    code, action = cli_json(capsys, squall_config, "action", "get", "core.local")
    assert code == 0
    assert action["parameters"]["timeout"]["default"] == 60  # merged runner parameters
    _, packs = cli_json(capsys, squall_config, "pack", "list")
    assert {p["ref"] for p in packs} >= {"core", "e2e"}


def test_pack_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bundled = Path(__file__).resolve().parents[2] / "packs" / "core"
    code, out, _ = run_cli(capsys, "pack", "validate", str(bundled))
    assert code == 0 and out.strip().endswith("OK")
    broken = tmp_path / "broken"
    (broken / "actions").mkdir(parents=True)
    (broken / "pack.yaml").write_text("name: broken\n")
    (broken / "actions" / "a.yaml").write_text("name: a\nrunner_type: nope\n")
    code, out, _ = run_cli(capsys, "pack", "validate", str(broken), "--json")
    report = json.loads(out)
    assert code == 1 and not report["valid"]
    assert any("pack.yaml" in e and "description" in e for e in report["errors"])
    assert any("a.yaml" in e and "runner_type" in e for e in report["errors"])


def test_bad_config_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("store:\n  url: 5\nhttp:\n  prot: 1\n")
    code, _, err = run_cli(capsys, "action", "list", "--config", str(config))
    assert code == 1
    assert "store.url" in err and "http.prot" in err
    assert "Traceback" not in err


def test_pack_validate_checks_pack_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pack = Path(__file__).resolve().parents[1] / "fixtures" / "packs" / "good" / "hello-st2"
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "hello_st2.yaml").write_text("retries: many\n")
    config = tmp_path / "squall.yaml"
    config.write_text("packs:\n  config_dir: configs\n")
    code, out, _ = run_cli(capsys, "pack", "validate", str(pack), "--config", str(config))
    assert code == 1
    assert "hello_st2.yaml" in out and "retries" in out
    assert "token" in out  # required, no default, missing


def test_pack_validate_resolves_references_to_bundled_packs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rule = (
        "name: r\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: sample}\n"
        "action:\n  ref: core.echo\n  parameters: {message: hi}\n"
    )
    pack = make_pack(tmp_path, "mypack", {"rules/r.yaml": rule})
    code, out, _ = run_cli(capsys, "pack", "validate", str(pack))
    assert (code, out.strip()) == (0, f"{pack}: OK")
    (pack / "rules" / "r.yaml").write_text(rule.replace("core.echo", "core.ecoh"))
    code, out, _ = run_cli(capsys, "pack", "validate", str(pack))
    assert code == 1
    assert "r.yaml: action.ref: unknown action 'core.ecoh'; did you mean 'core.echo'?" in out
    assert "packs/core" not in out  # only the validated pack's errors are shown
