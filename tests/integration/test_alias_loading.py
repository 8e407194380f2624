"""Loading aliases from packs and site folders; errors name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import load_settings
from core.aliases import AliasIndex, AmbiguousAliasMatch
from core.models import AliasApproval
from core.packs.loader import load_packs
from core.packs.validate import validate_pack
from tests import packs
from tests.conftest import FIXTURES, ROOT, SITE_ALIASES

BUNDLED = ROOT / "packs"
SITE = FIXTURES / "aliases" / "site"


def make_pack(root: Path, aliases: dict[str, str]) -> Path:
    return packs.make_pack(
        root, "demo", {f"aliases/{name}": text for name, text in aliases.items()}
    )


def errors_of(pack: Path) -> list[str]:
    errors = validate_pack(pack, context_paths=[BUNDLED])
    return [f"{e.file.name}: {e.yaml_path}: {e.message}" for e in errors]


def test_bundled_packs_ship_no_aliases_the_site_folder_has_squalls() -> None:
    """As StackStorm's core pack: no aliases. Squall's conveniences are site aliases."""
    assert load_packs([BUNDLED], config_dir=None).index.aliases == {}
    result = load_packs([BUNDLED], config_dir=None, alias_paths=[SITE_ALIASES])
    assert result.errors == []
    aliases = result.index.aliases
    assert set(aliases) == {"site.echo", "site.noop", "site.uuid"}
    assert all(a.site and a.source.startswith(str(SITE_ALIASES)) for a in aliases.values())
    assert aliases["site.echo"].action_ref == "core.echo"


def test_a_pack_alias_is_not_ambiguous_with_anything_bundled(tmp_path: Path) -> None:
    pack = make_pack(
        tmp_path, {"say.yaml": "name: say\naction_ref: core.echo\nformats: ['echo {{text}}']\n"}
    )
    result = load_packs([BUNDLED, pack], config_dir=None)
    assert result.errors == []
    matches = AliasIndex(result.index.aliases.values()).match("echo hello")
    assert [(m.alias.ref, m.alias.site, m.parameters) for m in matches] == [
        ("demo.say", False, {"text": "hello"})
    ]
    # Only with the site folder asked for does Squall's own `echo {{message}}` compete.
    with_site = load_packs([BUNDLED, pack], config_dir=None, alias_paths=[SITE_ALIASES])
    with pytest.raises(AmbiguousAliasMatch):
        AliasIndex(with_site.index.aliases.values()).match("echo hello")


def test_site_alias_errors_name_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "a_unknown.yaml").write_text("name: a\naction_ref: core.nope\nformats: [x]\n")
    (tmp_path / "b_missing.yaml").write_text("name: b\nformats: [y]\n")
    (tmp_path / "c_typo.yaml").write_text("name: c\naction_ref: core.noop\nformat: [z]\n")
    (tmp_path / "d_badfmt.yaml").write_text(
        "name: d\naction_ref: core.noop\nformats: ['run {{a}} {{a}}']\n"
    )
    (tmp_path / "e_ok.yaml").write_text("name: e\naction_ref: core.noop\nformats: [fine]\n")
    result = load_packs([BUNDLED], config_dir=None, alias_paths=[tmp_path])
    found = sorted((e.file, e.yaml_path) for e in result.errors)
    assert found == [
        (tmp_path / "a_unknown.yaml", "action_ref"),
        (tmp_path / "b_missing.yaml", "action_ref"),
        (tmp_path / "c_typo.yaml", "format"),
        (tmp_path / "d_badfmt.yaml", "formats[0]"),
    ]
    unknown = next(e for e in result.errors if e.file.name == "a_unknown.yaml")
    assert "unknown action 'core.nope'" in unknown.message
    assert set(result.index.aliases) == {"site.e"}  # the valid one still loads


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
    (tmp_path / "a.yaml").write_text("name: echo\naction_ref: core.noop\nformats: [x]\n")
    result = load_packs([BUNDLED], config_dir=None, alias_paths=[SITE_ALIASES, tmp_path])
    assert [str(e.file.name) + ": " + e.yaml_path for e in result.errors] == ["a.yaml: name"]
    assert result.index.aliases["site.echo"].action_ref == "core.echo"


def test_example_config_loads_the_repository_site_aliases() -> None:
    settings = load_settings(ROOT / "config.example.yaml")
    assert settings.aliases.paths == (SITE_ALIASES,)
