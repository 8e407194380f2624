"""``squall rule list|get|enable|disable|test`` in process, on the rule_demo fixture pack
(nothing is run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, cli, cli_json

RULE_TEST = FIXTURES / "rule_test"
RULE_FILE = RULE_TEST / "rule_demo" / "rules" / "greet.yaml"
MATCH = RULE_TEST / "match.json"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store:\n  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{RULE_TEST}']\n"
        "http:\n  enabled: false\n"
    )
    return path


def instance(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_match_prints_rendered_parameters(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = cli(
        capsys, config, "rule", "test", "rule_demo.greet", "--trigger-instance", str(MATCH)
    )
    assert code == 0
    assert "rule_demo.greet: matches" in out
    assert "  message: st2" in out.splitlines()
    assert "action core.echo (not run):" in out


def test_match_json(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, report = cli_json(
        capsys, config, "rule", "test", "rule_demo.greet", "--trigger-instance", str(MATCH)
    )
    assert code == 0
    assert report["matched"] is True
    assert report["action"]["ref"] == "core.echo"
    assert report["action"]["parameters"]["message"] == "st2"
    assert report["action"]["error"] is None
    assert "sudo_password" not in report["action"]["parameters"]  # unset: not shown


def test_rule_file_is_loaded_and_checked(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, report = cli_json(
        capsys, config, "rule", "test", str(RULE_FILE), "--trigger-instance", str(MATCH)
    )
    assert (code, report["rule"], report["matched"]) == (0, "rule_demo.greet", True)


def test_invalid_rule_file_is_one_line_error(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\npack: rule_demo\ntrigger: {type: core.st2.webhook}\naction: {ref: core.nope}\n"
    )
    code, out, err = cli(capsys, config, "rule", "test", str(bad), "--trigger-instance", str(MATCH))
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "core.nope" in err


def test_non_match_explains_the_failing_criterion(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    path = instance(tmp_path, {"trigger": "core.st2.webhook", "payload": {"body": {"name": "x"}}})
    code, out, _ = cli(
        capsys, config, "rule", "test", "rule_demo.greet", "--trigger-instance", path
    )
    assert code == 1
    assert "does not match" in out
    assert "trigger.body.name: equals 'st2' but value was 'x'" in out
    code, report = cli_json(
        capsys, config, "rule", "test", "rule_demo.greet", "--trigger-instance", path
    )
    assert (code, report["matched"], report["failed_key"]) == (1, False, "trigger.body.name")
    assert report["action"] is None


def test_st2_export_shape_and_trigger_mismatch(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    exported = {
        "id": "x",
        "trigger": {"type": "core.st2.webhook"},
        "payload": {"body": {"name": "st2"}},
        "status": "processed",
    }
    export = {"trigger_instance": exported}
    code, report = cli_json(
        capsys,
        config,
        "rule",
        "test",
        "rule_demo.greet",
        "--trigger-instance",
        instance(tmp_path, export),
    )
    assert (code, report["matched"]) == (0, True)
    other = {"trigger": "core.st2.IntervalTimer", "payload": {"body": {"name": "st2"}}}
    code, report = cli_json(
        capsys,
        config,
        "rule",
        "test",
        "rule_demo.greet",
        "--trigger-instance",
        instance(tmp_path, other),
    )
    assert (code, report["matched"]) == (1, False)
    assert "core.st2.IntervalTimer" in report["reason"]


def test_unknown_rule_is_a_clear_error(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = cli(
        capsys, config, "rule", "test", "rule_demo.gret", "--trigger-instance", str(MATCH)
    )
    assert (code, out) == (1, "")
    assert err.strip() == "error: unknown rule 'rule_demo.gret'; did you mean 'rule_demo.greet'?"
    code, _, err = cli(capsys, config, "rule", "get", "nope.nope")
    assert code == 1 and err.strip() == "error: unknown rule 'nope.nope'"


def test_bad_trigger_instance_file(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    code, _, err = cli(
        capsys, config, "rule", "test", "rule_demo.greet", "--trigger-instance", str(path)
    )
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1


def test_list_enabled_and_all(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, rules = cli_json(capsys, config, "rule", "list")
    assert code == 0 and [r["ref"] for r in rules] == ["rule_demo.greet"]
    code, rules = cli_json(capsys, config, "rule", "list", "--all", "--pack", "rule_demo")
    assert [r["ref"] for r in rules] == ["rule_demo.dormant", "rule_demo.greet"]
    code, out, _ = cli(capsys, config, "rule", "list")
    assert out.splitlines()[0].split()[:3] == ["REF", "ENABLED", "TYPE"]
    assert "core.st2.webhook" in out


def test_get(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, rule = cli_json(capsys, config, "rule", "get", "rule_demo.greet")
    assert code == 0
    assert rule["trigger"] == {"type": "core.st2.webhook", "parameters": {"url": "/rule_demo/"}}
    assert rule["action"]["parameters"] == {"message": "{{ trigger.body.name }}"}
    code, out, _ = cli(capsys, config, "rule", "get", "rule_demo.greet")
    assert "ref: rule_demo.greet" in out


def test_disabled_rule_does_not_match(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, report = cli_json(
        capsys, config, "rule", "test", "rule_demo.dormant", "--trigger-instance", str(MATCH)
    )
    assert (code, report["matched"]) == (1, False)
    assert "disabled" in report["reason"]


# --- rule enable|disable ------------------------------------------------------------------------


def test_enable_and_disable_change_the_effective_state(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, rule = cli_json(capsys, config, "rule", "enable", "rule_demo.dormant")
    assert (code, rule["ref"], rule["enabled"]) == (0, "rule_demo.dormant", True)
    code, rules = cli_json(capsys, config, "rule", "list")
    assert [r["ref"] for r in rules] == ["rule_demo.dormant", "rule_demo.greet"]
    code, out, _ = cli(capsys, config, "rule", "disable", "rule_demo.greet")
    assert (code, out.strip()) == (0, "rule rule_demo.greet disabled")
    code, rule = cli_json(capsys, config, "rule", "get", "rule_demo.greet")
    assert rule["enabled"] is False
    code, rules = cli_json(capsys, config, "rule", "list")
    assert [r["ref"] for r in rules] == ["rule_demo.dormant"]
    # rule test sees the stored state too: the enabled dormant rule is evaluated, not skipped.
    code, report = cli_json(
        capsys, config, "rule", "test", "rule_demo.greet", "--trigger-instance", str(MATCH)
    )
    assert (code, report["matched"]) == (1, False) and "disabled" in report["reason"]


def test_switching_an_unknown_rule_fails_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    for command in ("enable", "disable"):
        code, out, err = cli(capsys, config, "rule", command, "rule_demo.gret")
        assert (code, out) == (1, "")
        assert err.strip() == (
            "error: unknown rule 'rule_demo.gret'; did you mean 'rule_demo.greet'?"
        )
    code, rules = cli_json(capsys, config, "rule", "list", "--all")
    assert {r["ref"]: r["enabled"] for r in rules} == {
        "chatops.notify": False,  # bundled, off by default
        "rule_demo.dormant": False,
        "rule_demo.greet": True,
    }


def test_rendering_reads_the_real_datastore(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    assert cli(capsys, config, "key", "set", "greeting", "hello")[0] == 0
    rule = tmp_path / "kv_greet.yaml"
    rule.write_text(
        RULE_FILE.read_text().replace(
            '"{{ trigger.body.name }}"', '"{{ st2kv.system.greeting }} {{ trigger.body.name }}"'
        )
    )
    code, report = cli_json(
        capsys, config, "rule", "test", str(rule), "--trigger-instance", str(MATCH)
    )
    assert code == 0
    assert report["action"]["parameters"]["message"] == "hello st2"


def test_criteria_pattern_reads_the_real_datastore(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    assert cli(capsys, config, "key", "set", "wanted", "st2")[0] == 0
    rule = tmp_path / "kv_criteria.yaml"
    rule.write_text(
        RULE_FILE.read_text().replace("pattern: st2", 'pattern: "{{ st2kv.system.wanted }}"')
    )
    assert 'pattern: "{{ st2kv.system.wanted }}"' in rule.read_text()
    code, report = cli_json(
        capsys, config, "rule", "test", str(rule), "--trigger-instance", str(MATCH)
    )
    assert code == 0, report
    assert report["matched"] is True
    assert cli(capsys, config, "key", "set", "wanted", "someone else")[0] == 0
    code, report = cli_json(
        capsys, config, "rule", "test", str(rule), "--trigger-instance", str(MATCH)
    )
    assert code == 1 and report["matched"] is False
