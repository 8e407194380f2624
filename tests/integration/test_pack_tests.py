"""``squall pack test``: a pack's own unit tests run against Squall's ``st2tests``.

The test pack reproduces what Exchange packs' tests do: ``BaseActionTestCase`` with a config
from ``get_fixture_content`` and the in-memory ``action_service``, a pack-local base in
``actions/lib``, ``import mock``, ``st2tests.config.parse_args()``, ``BaseSensorTestCase``
with ``assertTriggerDispatched``, and ``BaseActionAliasTestCase`` (Squall's alias parser).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.integration.test_pack_install import make_wheel

PACK = Path(__file__).resolve().parents[1] / "fixtures" / "st2packs" / "testable"


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    copy = tmp_path / "testable"
    shutil.copytree(PACK, copy)
    return copy


def config(tmp_path: Path, wheels: Path | None = None) -> Path:
    path = tmp_path / "squall.yaml"
    pip = f", pip_args: [--no-index, --find-links, '{wheels}']" if wheels else ""
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{virtualenvs_dir: '{tmp_path / 'venvs'}'{pip}}}\n"
        "http: {enabled: false}\n"
    )
    return path


def test_a_packs_own_tests_pass_with_the_st2tests_stand_in(
    pack: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capfd, config(tmp_path), "pack", "test", str(pack))  # type: ignore[arg-type]
    assert code == 0, out + err
    assert "4 passed" in out


def test_a_failing_pack_test_fails_the_command(
    pack: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    test = pack / "tests" / "test_sensor_ticker.py"
    test.write_text(test.read_text().replace('{"count": 2}', '{"count": 3}'))
    code, out, _err = cli(capfd, config(tmp_path), "pack", "test", str(pack))  # type: ignore[arg-type]
    assert code == 1
    assert "1 failed, 3 passed" in out
    assert 'Trigger "testable.tick" hasn\'t been dispatched' in out


def test_requirements_tests_are_installed_into_a_test_venv(
    pack: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "squall_testdep", "1.2", {"squall_testdep.py": 'VERSION = "1.2"\n'})
    (pack / "requirements-tests.txt").write_text("squall_testdep==1.2\n")
    (pack / "tests" / "test_dep.py").write_text(
        "import sys\n\nimport squall_testdep\n\n\n"
        "def test_the_dependency_comes_from_the_test_venv():\n"
        "    assert squall_testdep.VERSION == '1.2'\n"
        "    assert '.tests' in sys.executable\n"
    )
    code, out, err = cli(capfd, config(tmp_path, wheels), "pack", "test", str(pack))  # type: ignore[arg-type]
    assert code == 0, out + err
    assert "5 passed" in out
    assert (tmp_path / "venvs" / ".tests" / "testable" / "bin" / "python").exists()


def test_extra_arguments_go_to_pytest(
    pack: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = ["pack", "test", str(pack), "--pytest-args=-k alias"]
    code, out, err = cli(capfd, config(tmp_path), *argv)  # type: ignore[arg-type]
    assert code == 0, out + err
    assert "1 passed, 3 deselected" in out


def test_a_pack_without_tests_is_a_clear_error(
    pack: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(pack / "tests")
    code, _, err = cli(capfd, config(tmp_path), "pack", "test", str(pack))  # type: ignore[arg-type]
    assert code == 1 and "the pack has no tests/ folder" in err
