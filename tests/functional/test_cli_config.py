"""Which config a command uses: options before and after the sub-command, discovery, doctor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.conftest import ROOT, write_config
from tests.ports import free_port
from tests.serve_process import Output, start_serve, stop


def actions(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return [action["ref"] for action in json.loads(out)]


@pytest.mark.parametrize(
    "argv",
    [
        ("--config", "{config}", "--json", "action", "list"),
        ("action", "list", "--config", "{config}", "--json"),
        ("--json", "action", "--config", "{config}", "list"),
    ],
)
def test_options_work_before_and_after_the_sub_command(
    capsys: pytest.CaptureFixture[str], squall_config: Path, argv: tuple[str, ...]
) -> None:
    refs = actions(capsys, *(a.format(config=squall_config) for a in argv))
    assert "e2e.greet" in refs  # the config's own pack: it was read


def test_a_missing_config_file_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (
        ["--config", "nope.yaml", "action", "list"],
        ["action", "list", "--config", "nope.yaml"],
    ):
        assert main(argv) == 1
        assert "nope.yaml: config file not found" in capsys.readouterr().err
    monkeypatch.setenv("SQUALL_CONFIG", "gone.yaml")
    assert main(["action", "list"]) == 1
    assert "gone.yaml: config file not found" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()  # no store made up from defaults


def test_discovery_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_dir = tmp_path / "xdg" / "squall"
    user_dir.mkdir(parents=True)
    write_config(user_dir)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert "e2e.greet" in actions(capsys, "--json", "action", "list")  # the user's config folder
    assert (user_dir / "var" / "squall.db").exists()

    (work / "squall.yaml").write_text("http: {enabled: false}\n")  # ./squall.yaml comes first
    assert "e2e.greet" not in actions(capsys, "--json", "action", "list")
    assert (work / "var" / "squall.db").exists()

    (tmp_path / "elsewhere").mkdir()
    env_config = write_config(tmp_path / "elsewhere")
    monkeypatch.setenv("SQUALL_CONFIG", str(env_config))  # $SQUALL_CONFIG before ./squall.yaml
    assert "e2e.greet" in actions(capsys, "--json", "action", "list")


def test_a_command_that_creates_a_store_says_which(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["execution", "list"]) == 0
    err = capsys.readouterr().err
    assert f"squall: creating a new store {tmp_path}/var/squall.db (no config file found" in err
    assert main(["execution", "list"]) == 0
    assert "creating a new store" not in capsys.readouterr().err  # only when it is new


def test_doctor_compares_its_store_with_the_running_serve(tmp_path: Path) -> None:
    port = free_port()
    listener = f"http: {{enabled: true, port: {port}}}\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    served = tmp_path / "a" / "squall.yaml"
    served.write_text(listener)
    other = tmp_path / "b" / "squall.yaml"
    other.write_text(listener)
    proc = start_serve(served, "--no-console")
    out = Output(proc)
    try:
        out.until("listening on")

        def doctor(config: Path) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "bot", "doctor", "--config", str(config)],
                cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip

        same = doctor(served)
        assert same.returncode == 0, same.stdout
        assert "ok    serve: running" in same.stdout
        mine = doctor(other)
        assert mine.returncode == 1
        assert (
            f"FAIL  serve: the serve on http://127.0.0.1:{port}/healthz uses store "
            f"sqlite:{tmp_path}/a/var/squall.db, this config uses sqlite:{tmp_path}/b/var/squall.db"
        ) in mine.stdout
    finally:
        stop(proc)
