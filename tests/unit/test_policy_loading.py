"""Policies (``policies/*.yaml``, st2-format §9): loading and every validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from core.models.policy import Policy
from core.packs.loader import LoadResult, load_packs
from core.packs.validate import validate_pack

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "packs"
FIXTURE = ROOT / "tests" / "fixtures" / "policies"
MANIFEST = "name: mine\ndescription: d\nversion: 1.0.0\nauthor: me\n"
ACTION = "name: act\nrunner_type: local-shell-cmd\nparameters:\n  host: {type: string}\n"


def pack_with(root: Path, policies: dict[str, str]) -> Path:
    pack = root / "mine"
    files = {"pack.yaml": MANIFEST, "actions/act.yaml": ACTION}
    files.update({f"policies/{name}": text for name, text in policies.items()})
    for relative, text in files.items():
        (pack / relative).parent.mkdir(parents=True, exist_ok=True)
        (pack / relative).write_text(text)
    return pack


def load(pack: Path) -> LoadResult:
    return load_packs([BUNDLED, pack], config_dir=None)


def errors(result: LoadResult) -> list[tuple[str, str, str]]:
    return sorted((e.file.name, e.yaml_path, e.message) for e in result.errors)


def test_fixture_policies_load_with_st2_defaults() -> None:
    result = load_packs([BUNDLED, FIXTURE], config_dir=None)
    assert result.errors == []
    gated = result.index.policies["pol.gated.concurrency"]
    assert gated == Policy(
        pack="pol",
        name="gated.concurrency",
        resource_ref="pol.gated",
        policy_type="action.concurrency",
        parameters={"threshold": 1},
        description="One gated execution at a time; the others wait.",
        enabled=True,
        metadata_file=gated.metadata_file,
    )
    assert result.index.policies["pol.steady.disabled"].enabled is False
    assert result.index.policies["pol.keyed.concurrency"].enabled is True  # st2's default


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.nope\n",
            "policy_type",
            "unknown policy type 'action.nope'; expected one of 'action.concurrency', "
            "'action.concurrency.attr', 'action.retry'",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.concurrency\n",
            "parameters.threshold",
            "required key is missing",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.concurrency\n"
            "parameters: {threshold: -1}\n",
            "parameters.threshold",
            "-1 is less than the minimum of 0",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.concurrency\n"
            "parameters: {threshold: 'two'}\n",
            "parameters.threshold",
            "expected an integer, got string 'two'",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.concurrency\n"
            "parameters: {threshold: 1, action: wait}\n",
            "parameters.action",
            "expected one of 'delay', 'cancel'; got string 'wait'",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.concurrency.attr\n"
            "parameters: {threshold: 1}\n",
            "parameters.attributes",
            "required key is missing",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.retry\n"
            "parameters: {retry_on: crash}\n",
            "parameters.retry_on",
            "expected one of 'failure', 'timeout'; got string 'crash'",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.retry\n"
            "parameters: {retry_on: failure, max_retry_count: 6}\n",
            "parameters.max_retry_count",
            "6 is greater than the maximum of 5",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.retry\n"
            "parameters: {retry_on: failure, delay: 121}\n",
            "parameters.delay",
            "121 is greater than the maximum of 120",
        ),
        (
            "name: p\nresource_ref: mine.act\npolicy_type: action.retry\n"
            "parameters: {retry_on: failure, tries: 3}\n",
            "parameters.tries",
            "unknown key",
        ),
        ("name: p\npolicy_type: action.retry\n", "resource_ref", "required key is missing"),
    ],
)
def test_invalid_policy_names_file_and_field(
    tmp_path: Path, text: str, path: str, message: str
) -> None:
    result = load(pack_with(tmp_path, {"p.yaml": text}))
    found = [(p, m) for f, p, m in errors(result) if f == "p.yaml"]
    assert any(p == path and m.startswith(message) for p, m in found), found
    assert result.index.policies == {}


def test_references_resolve_across_packs_and_attributes_name_parameters(tmp_path: Path) -> None:
    pack = pack_with(
        tmp_path,
        {
            "ok.yaml": "name: ok\nresource_ref: core.local\npolicy_type: action.concurrency\n"
            "parameters: {threshold: 2}\n",
            "typo.yaml": "name: typo\nresource_ref: mine.acct\npolicy_type: action.concurrency\n"
            "parameters: {threshold: 2}\n",
            "attr.yaml": "name: attr\nresource_ref: mine.act\n"
            "policy_type: action.concurrency.attr\n"
            "parameters: {threshold: 1, attributes: [host, hots, timeout]}\n",
        },
    )
    result = load(pack)
    assert errors(result) == [
        ("attr.yaml", "parameters.attributes[1]", "'hots' is not a parameter of action mine.act"),
        ("typo.yaml", "resource_ref", "unknown action 'mine.acct'; did you mean 'mine.act'?"),
    ]
    assert sorted(result.index.policies) == ["mine.ok"]


def test_pack_validate_reports_policy_errors(tmp_path: Path) -> None:
    pack = pack_with(
        tmp_path,
        {"p.yaml": "name: p\nresource_ref: core.nope\npolicy_type: action.concurrency\n"},
    )
    found = {(e.file.name, e.yaml_path) for e in validate_pack(pack, context_paths=[BUNDLED])}
    assert found == {("p.yaml", "parameters.threshold")}  # shape first; refs once it is sound
    (pack / "policies" / "p.yaml").write_text(
        "name: p\nresource_ref: core.nope\npolicy_type: action.concurrency\n"
        "parameters: {threshold: 1}\n"
    )
    found = {(e.file.name, e.yaml_path) for e in validate_pack(pack, context_paths=[BUNDLED])}
    assert found == {("p.yaml", "resource_ref")}


def test_squall_pack_validate_prints_policy_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pack = pack_with(
        tmp_path,
        {
            "p.yaml": "name: p\nresource_ref: mine.act\npolicy_type: action.retry\n"
            "parameters: {retry_on: failure, max_retry_count: 0}\n"
        },
    )
    code = main(["pack", "validate", str(pack)])
    out = capsys.readouterr().out
    assert code == 1
    assert "p.yaml" in out and "parameters.max_retry_count" in out
