"""``squall alias list|match`` end to end through the CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, SITE_ALIASES, cli, cli_json, write_config
from tests.packs import make_pack

SITE = FIXTURES / "aliases" / "site"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"aliases:\n  paths: ['{SITE_ALIASES}', '{SITE}']\n")


def test_list_shows_site_aliases_with_their_source(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, data = cli_json(capsys, config, "alias", "list")
    assert code == 0
    sources = {a["ref"]: a["source"] for a in data}
    # Squall's convenience aliases and the fixture folder's, one with its own ``pack: ops``
    assert sources == {
        "site.echo": "site",
        "site.noop": "site",
        "site.uuid": "site",
        "site.ping": "site",
        "site.duplicates": "site",
        "ops.ping": "site",
    }
    uuid = next(a for a in data if a["ref"] == "site.uuid")
    assert uuid["formats"][0]["representation"] == ["uuid {{uuid_type=uuid4}}"]
    code, out, _ = cli(capsys, config, "alias", "list")
    lines = out.splitlines()
    header, echo = lines[0], next(line for line in lines if "site.echo" in line)
    assert header.split()[:3] == ["REF", "SOURCE", "ENABLED"]
    assert echo.split()[:3] == ["site.echo", "site", "True"]


def test_a_pack_alias_shows_its_pack_as_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, f"aliases:\n  paths: ['{SITE_ALIASES}']\n")
    config.write_text(
        config.read_text().replace(
            f"  paths: ['{FIXTURES / 'e2e'}']", f"  paths: ['{FIXTURES / 'chat'}']"
        )
    )
    code, data = cli_json(capsys, config, "alias", "list", "--pack", "chat_demo")
    assert code == 0 and data
    assert {a["source"] for a in data} == {"chat_demo"}


def test_match_prints_alias_format_and_parameters(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, data = cli_json(capsys, config, "alias", "match", "echo hello world")
    assert (code, data) == (
        0,
        {
            "alias": "site.echo",
            "format": "echo {{message}}",
            "parameters": {"message": "hello world"},
        },
    )


def test_match_picks_the_most_specific_format(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, data = cli_json(capsys, config, "alias", "match", "ping 8.8.8.8 count 3")
    assert (code, data["alias"], data["parameters"]) == (
        0,
        "ops.ping",
        {"host": "8.8.8.8", "count": "3"},
    )


def test_no_match_exits_1_with_the_reason(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = cli(capsys, config, "alias", "match", "launch rockets")
    assert (code, out) == (1, "")
    assert "error: Command 'launch rockets' matched no patterns" in err


def test_ambiguity_exits_1_listing_candidates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    site = tmp_path / "aliases"
    site.mkdir()
    for name in ("a", "b"):
        (site / f"{name}.yaml").write_text(
            f"name: {name}\naction_ref: core.noop\nformats: ['deploy {{{{app}}}}']\n"
        )
    config = write_config(tmp_path, "aliases:\n  paths: [aliases]\n")  # next to the config
    code, data = cli_json(capsys, config, "alias", "match", "deploy web")
    assert code == 1
    assert [c["alias"] for c in data["candidates"]] == ["site.a", "site.b"]
    assert "matched more than 1 pattern" in data["error"]


def test_match_multiple_lists_every_parameter_set(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    text = "JKROWLING-4 is a duplicate of JRRTOLKIEN-24 which is a duplicate of DRSEUSS-12"
    code, data = cli_json(capsys, config, "alias", "match", text)
    assert (code, data["alias"], data["parameters"]) == (
        0,
        "site.duplicates",
        {"issue_key": "JRRTOLKIEN-24"},
    )
    assert data["all_parameters"] == [{"issue_key": "JRRTOLKIEN-24"}, {"issue_key": "DRSEUSS-12"}]


def test_match_casts_to_the_action_types(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = cli(capsys, config, "alias", "match", "echo 42")
    assert code == 0
    assert out.splitlines() == ["site.echo  (echo {{message}})", "  message: '42'"]


def test_pack_validate_reports_alias_errors(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    alias = "name: go\naction_ref: demo.missing\nformats: [go]\n"
    pack = make_pack(tmp_path, "demo", {"aliases/go.yaml": alias})
    code, data = cli_json(capsys, config, "pack", "validate", str(pack))
    assert code == 1
    assert data["errors"] == [
        f"{pack / 'aliases' / 'go.yaml'}: action_ref: unknown action 'demo.missing'"
    ]


def test_alias_test_runs_and_prints_ack_and_result(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, out, _ = cli(capsys, config, "alias", "test", "echo hello there")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "site.echo  (echo {{message}})"
    assert lines[1].startswith("ack: I'll take it from here! Your execution ID for reference is")
    assert lines[2:4] == ["result:", "hello there"]
    assert lines[4].endswith(": succeeded")


def test_alias_test_json_and_failure_exit_code(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    code, data = cli_json(capsys, config, "alias", "test", "uuid uuid1")
    assert code == 0
    assert data["parameters"] == {"uuid_type": "uuid1"}
    assert data["ack"] is None  # the bundled uuid alias disables its ack
    assert data["result"]["text"] == data["execution"]["result"]["result"]
    code, _, err = cli(capsys, config, "alias", "test", "launch rockets")
    assert code == 1 and "matched no patterns" in err


@pytest.mark.parametrize("typed", ["echo hi\x1b[31mred", "echo a\nb", "echo txt\u202eexe.sh"])
def test_alias_test_refuses_control_characters_like_chat(
    capsys: pytest.CaptureFixture[str], config: Path, typed: str
) -> None:
    code, out, err = cli(capsys, config, "alias", "test", typed)
    assert code == 1 and out == ""
    assert "parameter 'message': control characters" in err
