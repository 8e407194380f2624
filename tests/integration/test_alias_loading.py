"""Loading aliases from packs and site folders; errors name the file and field."""

from __future__ import annotations

from pathlib import Path

from core.models import AliasApproval
from core.packs.loader import load_packs
from core.packs.validate import validate_pack
from tests.conftest import FIXTURES, ROOT

BUNDLED = ROOT / "packs"
SITE = FIXTURES / "aliases" / "site"


def make_pack(root: Path, aliases: dict[str, str]) -> Path:
    pack = root / "demo"
    (pack / "aliases").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: demo\nversion: 1.0.0\ndescription: demo\nauthor: me\n")
    for name, text in aliases.items():
        (pack / "aliases" / name).write_text(text)
    return pack


def errors_of(pack: Path) -> list[str]:
    errors = validate_pack(pack, context_paths=[BUNDLED])
    return [f"{e.file.name}: {e.yaml_path}: {e.message}" for e in errors]


def test_bundled_aliases_load_cleanly() -> None:
    result = load_packs([BUNDLED], config_dir=None)
    assert result.errors == []
    assert {"core.echo", "core.uuid", "core.noop"} <= set(result.index.aliases)


def test_site_aliases_load_after_packs_with_default_pack_site() -> None:
    result = load_packs([BUNDLED], config_dir=None, alias_paths=[SITE])
    assert result.errors == []
    site = result.index.aliases["site.ping"]
    assert site.approval == AliasApproval(("alice", "role:admins"), 1800.0, False)
    assert site.source == str(SITE / "plain.yaml")
    assert result.index.aliases["ops.ping"].formats[0].representations == (
        "ping {{host}} count {{count}}",
    )


def test_missing_site_folder_is_skipped(tmp_path: Path) -> None:
    result = load_packs([BUNDLED], config_dir=None, alias_paths=[tmp_path / "none"])
    assert result.errors == []


def test_unknown_action_ref_is_an_error_naming_file_and_field(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, {"a.yaml": "name: a\naction_ref: core.nope\nformats: [x]\n"})
    assert errors_of(pack) == [
        "a.yaml: action_ref: unknown action 'core.nope'; did you mean 'core.noop'?"
    ]


def test_shape_errors_name_file_and_field(tmp_path: Path) -> None:
    pack = make_pack(
        tmp_path,
        {
            "missing.yaml": "name: m\nformats: [x]\n",
            "typo.yaml": "name: t\naction_ref: core.noop\nformat: [x]\n",
            "badfmt.yaml": "name: b\naction_ref: core.noop\nformats: ['run {{a}} {{a}}']\n",
            "badrep.yaml": (
                "name: r\naction_ref: core.noop\nformats:\n"
                "  - {display: d, representation: ['ok', '(unclosed']}\n"
            ),
            "ttl.yaml": "name: t2\naction_ref: core.noop\napproval: {approvers: [a], ttl: soon}\n",
            "noapprovers.yaml": "name: n\naction_ref: core.noop\napproval: {ttl: 10}\n",
            "approver.yaml": (
                "name: ap\naction_ref: core.noop\napproval: {approvers: [ann, 'role:', ' ']}\n"
            ),
        },
    )
    errors = validate_pack(pack, context_paths=[BUNDLED])
    assert sorted((e.file.name, e.yaml_path) for e in errors) == [
        ("approver.yaml", "approval.approvers[1]"),
        ("approver.yaml", "approval.approvers[2]"),
        ("badfmt.yaml", "formats[0]"),
        ("badrep.yaml", "formats[0].representation[1]"),
        ("missing.yaml", "action_ref"),
        ("noapprovers.yaml", "approval"),
        ("ttl.yaml", "approval.ttl"),
        ("typo.yaml", "format"),
    ]


def test_duplicate_site_alias_ref_keeps_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: echo\npack: core\naction_ref: core.noop\nformats: [x]\n"
    )
    result = load_packs([BUNDLED], config_dir=None, alias_paths=[tmp_path])
    assert [str(e.file.name) + ": " + e.yaml_path for e in result.errors] == ["a.yaml: name"]
    assert result.index.aliases["core.echo"].action_ref == "core.echo"
