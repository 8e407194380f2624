"""``squall pack validate``: the loader's own errors, against everything the config loads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from core.packs.validate import validate_pack
from tests.conftest import ROOT, cli

README_FILES = {
    "# packs/demo/rules/sample.yaml": "rules/sample.yaml",
    "# actions/deploy.yaml": "actions/deploy.yaml",
    "# actions/workflows/deploy.yaml": "actions/workflows/deploy.yaml",
}


def readme_demo_pack(packs: Path) -> Path:
    """packs/demo as the README shows it: its webhook rule and its deploy workflow."""
    demo = packs / "demo"
    (demo / "rules").mkdir(parents=True)
    (demo / "actions" / "workflows").mkdir(parents=True)
    (demo / "pack.yaml").write_text("name: demo\nversion: 0.1.0\nauthor: me\ndescription: d\n")
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    for block in blocks:
        first = block.splitlines()[0]
        if first in README_FILES:
            (demo / README_FILES[first]).write_text(block)
    assert all((demo / name).exists() for name in README_FILES.values())
    return demo


def config(tmp_path: Path, packs: Path) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(f"packs: {{paths: ['{packs}']}}\nhttp: {{enabled: false}}\n")
    return path


def test_the_readme_demo_pack_is_valid_in_its_packs_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pack sits in a folder the config loads: validating it there used to drop the whole
    context ("unknown action 'core.echo'", "The action "core.local" is not registered")."""
    packs = tmp_path / "packs"
    demo = readme_demo_pack(packs)
    code, out, _ = cli(capsys, config(tmp_path, packs), "pack", "validate", str(demo))
    assert (code, out) == (0, f"{demo}: OK\n")
    code, out, _ = cli(capsys, config(tmp_path, packs), "action", "list")
    assert "demo.deploy" in out  # and it loads


def test_symlinks_leaving_the_pack_fail_as_loading_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    (outside / "actions").mkdir(parents=True)
    (outside / "actions" / "a.yaml").write_text("name: a\nrunner_type: noop\n")
    (outside / "pack.yaml").write_text("name: p1\nversion: 0.1.0\nauthor: me\ndescription: d\n")
    packs = tmp_path / "packs"
    linked_manifest = packs / "p1"
    linked_manifest.mkdir(parents=True)
    (linked_manifest / "pack.yaml").symlink_to(outside / "pack.yaml")
    linked_actions = packs / "p2"
    linked_actions.mkdir()
    (linked_actions / "pack.yaml").write_text(
        "name: p2\nversion: 0.1.0\nauthor: me\ndescription: d\n"
    )
    (linked_actions / "actions").symlink_to(outside / "actions")
    settings = config(tmp_path, packs)
    code, out, _ = cli(capsys, settings, "pack", "validate", str(linked_manifest))
    assert code == 1
    assert out == f"{linked_manifest}/pack.yaml: 'pack.yaml' leaves the pack through a symlink\n"
    code, out, _ = cli(capsys, settings, "pack", "validate", str(linked_actions))
    assert code == 1
    assert out == f"{linked_actions}/actions: 'actions' leaves the pack through a symlink\n"
    code, doctor, _ = cli(capsys, settings, "doctor")  # loading says the same
    assert f"FAIL  packs: {linked_actions}/actions: 'actions' leaves the pack" in doctor


def test_a_folder_without_pack_yaml_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "nopack"
    (empty / "docs").mkdir(parents=True)
    code, out, _ = cli(capsys, config(tmp_path, tmp_path / "none"), "pack", "validate", str(empty))
    assert (code, out) == (1, f"{empty}/pack.yaml: not a pack: pack.yaml is missing\n")


def test_a_pack_inside_the_bundled_folder_sees_the_bundled_actions(tmp_path: Path) -> None:
    """The README puts the demo pack in the checkout's packs/, the bundled folder itself."""
    bundled = tmp_path / "packs"
    shutil.copytree(ROOT / "packs", bundled, ignore=shutil.ignore_patterns("__pycache__"))
    demo = readme_demo_pack(bundled)
    assert validate_pack(demo, context_paths=[bundled]) == []
