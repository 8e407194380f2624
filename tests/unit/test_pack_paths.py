"""resolve_inside: every way out of a pack is refused (security.md §4.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.packs import UnsafePathError, resolve_inside


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    root = tmp_path / "packs" / "core"
    (root / "actions" / "lib").mkdir(parents=True)
    (root / "actions" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "packs" / "core_evil").mkdir()
    (tmp_path / "packs" / "core_evil" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    return root


def test_plain_relative_path_resolves_inside(pack: Path) -> None:
    assert resolve_inside(pack, "actions/run.sh") == (pack / "actions" / "run.sh").resolve()


def test_dotdot_that_stays_inside_is_allowed(pack: Path) -> None:
    assert resolve_inside(pack, "actions/lib/../run.sh") == (pack / "actions/run.sh").resolve()


def test_missing_file_inside_is_allowed(pack: Path) -> None:
    # Existence is the caller's question; containment is this function's.
    assert resolve_inside(pack, "actions/nope.sh") == (pack / "actions/nope.sh").resolve()


@pytest.mark.parametrize(
    "relative",
    ["../secret.txt", "actions/../../../secret.txt", "../../../../../../etc/passwd", ".."],
)
def test_dotdot_escape_is_refused(pack: Path, relative: str) -> None:
    with pytest.raises(UnsafePathError, match="points outside the pack"):
        resolve_inside(pack, relative)


@pytest.mark.parametrize("relative", ["/etc/passwd", "//etc/passwd"])
def test_absolute_path_is_refused(pack: Path, relative: str) -> None:
    with pytest.raises(UnsafePathError, match="is absolute"):
        resolve_inside(pack, relative)


def test_absolute_path_inside_the_pack_is_refused_too(pack: Path) -> None:
    with pytest.raises(UnsafePathError, match="is absolute"):
        resolve_inside(pack, str(pack / "actions" / "run.sh"))


def test_symlink_leaving_the_pack_is_refused(pack: Path) -> None:
    (pack / "actions" / "link.sh").symlink_to(pack.parent.parent / "secret.txt")
    with pytest.raises(UnsafePathError, match="leaves the pack through a symlink"):
        resolve_inside(pack, "actions/link.sh")


def test_symlinked_directory_leaving_the_pack_is_refused(pack: Path) -> None:
    (pack / "actions" / "outside").symlink_to(pack.parent.parent, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="through a symlink"):
        resolve_inside(pack, "actions/outside/secret.txt")


def test_symlink_staying_inside_is_allowed(pack: Path) -> None:
    (pack / "actions" / "lib" / "alias.sh").symlink_to(pack / "actions" / "run.sh")
    assert resolve_inside(pack, "actions/lib/alias.sh") == (pack / "actions/run.sh").resolve()


def test_sibling_with_the_same_prefix_is_outside(pack: Path) -> None:
    # "/packs/core_evil/run.sh".startswith("/packs/core") is True; the path check is not fooled.
    with pytest.raises(UnsafePathError, match="points outside the pack"):
        resolve_inside(pack, "../core_evil/run.sh")


def test_symlink_to_sibling_with_the_same_prefix_is_outside(pack: Path) -> None:
    (pack / "actions" / "evil.sh").symlink_to(pack.parent / "core_evil" / "run.sh")
    with pytest.raises(UnsafePathError, match="through a symlink"):
        resolve_inside(pack, "actions/evil.sh")


def test_root_given_through_a_symlink_is_resolved_first(pack: Path, tmp_path: Path) -> None:
    link = tmp_path / "linked_pack"
    link.symlink_to(pack, target_is_directory=True)
    assert resolve_inside(link, "actions/run.sh") == (pack / "actions/run.sh").resolve()


def test_symlink_loop_is_refused(pack: Path) -> None:
    (pack / "a").symlink_to(pack / "b")
    (pack / "b").symlink_to(pack / "a")
    with pytest.raises(UnsafePathError):
        resolve_inside(pack, "a")


@pytest.mark.parametrize(("relative", "reason"), [("", "is empty"), ("a\x00b", "NUL byte")])
def test_empty_and_nul_paths_are_refused(pack: Path, relative: str, reason: str) -> None:
    with pytest.raises(UnsafePathError, match=reason):
        resolve_inside(pack, relative)


def test_error_carries_the_path_and_reason(pack: Path) -> None:
    with pytest.raises(UnsafePathError) as caught:
        resolve_inside(pack, "../x")
    assert (caught.value.relative, caught.value.reason) == ("../x", "points outside the pack")
    assert str(caught.value) == "'../x' points outside the pack"
    assert isinstance(caught.value, ValueError)
