"""``squall pack install|setup-venv|remove`` and per-pack virtualenvs, offline.

Wheels are written by the test into a local folder (``packs.pip_args: [--no-index,
--find-links, DIR]``): a fake ``PyYAML`` that conflicts with the PyYAML Squall itself runs on,
in two versions, so two packs pin different versions and neither touches Squall's own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from bot.app import open_engine
from bot.settings import load_settings
from core.models import Action, ExecutionStatus
from core.packs.install import SourceError, parse_source
from core.runners.base import RunContext
from core.runners.pack_python import PackPythonSettings, interpreter_for
from core.runners.python import PythonScriptRunner
from tests.conftest import cli, cli_json, poll_until, wait_dead

S = ExecutionStatus
WAIT = 120.0  # pip and a new interpreter under a loaded machine; never reached when it works


def make_wheel(folder: Path, name: str, version: str, files: Mapping[str, str]) -> Path:
    """A pure-Python wheel, written directly (no build backend, no network)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    contents = {
        **files,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: squall-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return wheel


def fake_yaml(folder: Path, version: str) -> None:
    make_wheel(folder, "PyYAML", version, {"yaml/__init__.py": f'__version__ = "{version}"\n'})


ACTION_META = """\
---
name: versions
runner_type: python-script
entry_point: versions.py
"""
ACTION_CODE = """\
import sys

import yaml

from st2common.runners.base_action import Action


class Versions(Action):
    def run(self):
        return {"yaml": yaml.__version__, "python": sys.executable}
"""


def write_pack(root: Path, ref: str, requirements: str | None) -> Path:
    pack = root / ref
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        f"ref: {ref}\nname: {ref}\ndescription: d\nversion: 1.0.0\nauthor: t\n"
    )
    (pack / "actions" / "versions.yaml").write_text(ACTION_META)
    (pack / "actions" / "versions.py").write_text(ACTION_CODE)
    if requirements is not None:
        (pack / "requirements.txt").write_text(requirements)
    return pack


def git(repo: Path, *argv: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *argv],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    wheels = tmp_path / "wheels"
    fake_yaml(wheels, "3.99")
    fake_yaml(wheels, "3.98")
    sources = tmp_path / "sources"
    write_pack(sources, "pin_new", "PyYAML==3.99\n")
    repo = write_pack(sources, "pin_old", "PyYAML==3.98\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    git(repo, "tag", "v1")
    (repo / "actions" / "versions.yaml").write_text(ACTION_META.replace("versions", "changed"))
    git(repo, "commit", "-q", "-am", "after v1")
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{tmp_path / 'installed'}'], virtualenvs_dir: '{tmp_path / 'venvs'}',"
        f" pip_args: [--no-index, --find-links, '{wheels}']}}\n"
        "http: {enabled: false}\n"
    )
    return {"config": config, "sources": sources, "root": tmp_path}


async def run_versions(config: Path, ref: str) -> dict[str, str]:
    async with open_engine(load_settings(config)) as engine:
        requested = await engine.executions.request(f"{ref}.versions", {})
        done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.SUCCEEDED, done.result
    result: dict[str, str] = done.result["result"]  # type: ignore[index]
    return result


def test_install_two_packs_pinning_different_versions_each_in_its_own_venv(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    code, report = cli_json(
        capsys, config, "pack", "install", str(sources / "pin_new"), f"{sources / 'pin_old'}=v1"
    )
    assert code == 0, report
    assert [r["ref"] for r in report] == ["pin_new", "pin_old"]
    assert all(r["skipped"] == [] for r in report)
    # The git source was checked out at the tag: the action renamed after v1 is not there.
    installed = root / "installed"
    assert (installed / "pin_old" / "actions" / "versions.yaml").read_text() == ACTION_META
    assert not (installed / "pin_old" / ".git").exists()
    new = asyncio.run(run_versions(config, "pin_new"))
    old = asyncio.run(run_versions(config, "pin_old"))
    assert new == {"yaml": "3.99", "python": str(root / "venvs" / "pin_new" / "bin" / "python")}
    assert old == {"yaml": "3.98", "python": str(root / "venvs" / "pin_old" / "bin" / "python")}
    assert yaml.__version__ not in ("3.98", "3.99")  # Squall's own environment is untouched
    code, out, _ = cli(capsys, config, "doctor")
    assert "venvs:" not in out


def test_doctor_names_packs_that_need_setup_venv_then_setup_venv_builds_it(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    code, out, err = cli(capsys, config, "pack", "install", "--no-venv", str(sources / "pin_new"))
    assert code == 0, err
    _, out, _ = cli(capsys, config, "doctor")
    assert (
        "warn  venvs: pack pin_new has a requirements.txt but no virtualenv: "
        "run `squall pack setup-venv pin_new`" in out
    )
    code, out, err = cli(capsys, config, "pack", "setup-venv", "pin_new")
    assert code == 0, err
    assert asyncio.run(run_versions(config, "pin_new"))["yaml"] == "3.99"
    (root / "installed" / "pin_new" / "requirements.txt").write_text("PyYAML==3.98\n")
    _, out, _ = cli(capsys, config, "doctor")
    assert "pack pin_new changed its requirements.txt since its virtualenv was built" in out
    assert cli(capsys, config, "pack", "setup-venv", "pin_new")[0] == 0
    assert asyncio.run(run_versions(config, "pin_new"))["yaml"] == "3.98"


def test_a_failed_venv_build_says_why_and_keeps_the_old_venv(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    assert cli(capsys, config, "pack", "install", str(sources / "pin_new"))[0] == 0
    (root / "installed" / "pin_new" / "requirements.txt").write_text("PyYAML==9.9\n")
    code, _, err = cli(capsys, config, "pack", "setup-venv", "pin_new")
    assert code == 1
    assert "pip failed" in err and "PyYAML==9.9" in err
    assert asyncio.run(run_versions(config, "pin_new"))["yaml"] == "3.99"


def test_remove_deletes_the_pack_and_its_venv(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    assert cli(capsys, config, "pack", "install", str(sources / "pin_new"))[0] == 0
    code, _, err = cli(capsys, config, "pack", "remove", "pin_new")
    assert code == 0, err
    assert not (root / "installed" / "pin_new").exists()
    assert not (root / "venvs" / "pin_new").exists()
    code, _, err = cli(capsys, config, "pack", "remove", "pin_new")
    assert code == 1 and "is not installed" in err


def test_install_refuses_a_source_whose_pack_yaml_is_unusable(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    (sources / "pin_new" / "pack.yaml").write_text("name: x\n")
    code, _, err = cli(capsys, config, "pack", "install", str(sources / "pin_new"))
    assert code == 1 and "pack.yaml cannot be used" in err and "version" in err
    assert not (root / "installed" / "pin_new").exists()
    code, _, err = cli(capsys, config, "pack", "install", str(root / "nowhere"))
    assert code == 1 and "no such folder" in err
    code, _, err = cli(capsys, config, "pack", "install", f"{sources / 'pin_new'}=--upload-pack=x")
    assert code == 1 and "is not a git branch, tag or commit" in err


def test_install_lists_items_that_will_not_load_and_installs_the_rest(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    broken = sources / "pin_new" / "actions" / "broken.yaml"
    broken.write_text("name: broken\nrunner_type: no-such-runner\n")
    code, out, err = cli(capsys, config, "pack", "install", "--no-venv", str(sources / "pin_new"))
    assert code == 0, err
    assert "will not load: " in out and "broken.yaml: runner_type: unknown runner" in out
    assert (root / "installed" / "pin_new" / "actions" / "versions.py").exists()


async def test_one_fork_server_per_venv_started_on_use_and_stopped_when_idle(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    # The CLI runs its own event loop: give it a thread.
    code, _, err = await asyncio.to_thread(
        cli, capsys, config, "pack", "install", str(sources / "pin_new")
    )
    assert code == 0, err
    settings = PackPythonSettings(virtualenvs_dir=root / "venvs")
    runner = PythonScriptRunner(packs=settings, venv_idle_seconds=0.5)
    pack_path = root / "installed" / "pin_new"
    action = Action(
        pack="pin_new",
        name="versions",
        runner_type="python-script",
        pack_path=pack_path,
        entry_point="versions.py",
    )
    interpreter = interpreter_for(settings, "pin_new")
    try:
        assert runner.server_pid(interpreter) is None  # nothing started before first use
        ctx = RunContext(execution_id="e1", action=action, runner_parameters={},
                         action_parameters={})  # fmt: skip
        async with asyncio.timeout(WAIT):
            first = await runner.run(ctx)
        assert first.status is S.SUCCEEDED, first.result
        server = runner.server_pid(interpreter)
        assert server is not None and runner.fork_server_pid != server
        async with asyncio.timeout(WAIT):
            await runner.run(ctx)
        assert runner.server_pid(interpreter) == server  # warmed and reused
        await poll_until(lambda: runner.server_pid(interpreter) is None, timeout=WAIT)
        await wait_dead(server, WAIT)
    finally:
        await runner.close()


def test_json_report_is_plain_data(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources = setup["config"], setup["sources"]
    code, report = cli_json(
        capsys, config, "pack", "install", "--no-venv", str(sources / "pin_new")
    )
    assert code == 0
    assert json.loads(json.dumps(report)) == report and report[0]["venv"] is None


def test_a_pack_yaml_without_ref_installs_under_its_name(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, sources, root = setup["config"], setup["sources"], setup["root"]
    source = sources / "stackstorm-noref"
    (source / "actions").mkdir(parents=True)
    (source / "pack.yaml").write_text("name: noref\ndescription: d\nversion: 1.0.0\nauthor: t\n")
    code, report = cli_json(capsys, config, "pack", "install", "--no-venv", str(source))
    assert code == 0, report
    assert report[0]["ref"] == "noref" and (root / "installed" / "noref" / "pack.yaml").exists()


def test_file_urls_name_local_folders_and_repositories_as_st2(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    plain = parse_source(f"file://{folder}")
    assert (plain.location, plain.git) == (str(folder), False)
    bare = tmp_path / "repo"  # a bare repository without the .git suffix
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True, timeout=30)
    found = parse_source(f"file://{bare}=v1")
    assert (found.location, found.ref, found.git) == (str(bare), "v1", True)
    for text, message in (
        ("file://relative/pack", "needs an absolute path"),
        (f"file://{tmp_path}/missing", "no such folder"),
        ("some_exchange_name", "no pack index"),
        (f"file://{folder}=v1", "=ref needs a git repository"),
        (f"{bare}=--upload-pack=x", "is not a git branch, tag or commit"),
    ):
        with pytest.raises(SourceError, match=message):
            parse_source(text)
