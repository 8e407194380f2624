"""``squall run core.remote …`` and contrib/linux-style remote actions against the test sshd."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from tests.conftest import FIXTURES
from tests.sshd import Sshd


def _config(tmp_path: Path, sshd: Sshd, checking: str = "strict") -> Path:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts())
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{FIXTURES / 'remote'}']}}\n"
        "http: {enabled: false}\n"
        "runners:\n"
        "  ssh:\n"
        f"    user: {sshd.user}\n"
        f"    key_file: {sshd.client_key}\n"
        f"    known_hosts: {known}\n"
        f"    host_key_checking: {checking}\n"
    )
    return config


def _run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, Any]:
    code = main(["run", *argv, "--config", str(config), "--json"])
    out, err = capsys.readouterr()
    assert out, err
    return code, json.loads(out)


def test_core_remote_runs_hostname(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sshd: Sshd
) -> None:
    config = _config(tmp_path, sshd)
    port = f"port={sshd.ports[0]}"  # the test sshd is not on 22; `port` is st2's parameter
    code, ex = _run(capsys, config, "core.remote", "hosts=127.0.0.1", "cmd=hostname", port)
    assert code == 0, ex
    assert ex["status"] == "succeeded"
    assert ex["result"] == {
        "127.0.0.1": {
            "stdout": socket.gethostname(),
            "stderr": "",
            "return_code": 0,
            "succeeded": True,
            "failed": False,
        }
    }


def test_core_remote_sudo_and_secret_parameters_are_masked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sshd: Sshd
) -> None:
    key = sshd.client_key.read_text()
    code, ex = _run(
        capsys, _config(tmp_path, sshd), "core.remote_sudo", f"hosts={sshd.hosts(2)}",
        "cmd=whoami", f"private_key={key}",
    )  # fmt: skip
    assert code == 0, ex
    assert {entry["stdout"] for entry in ex["result"].values()} == {"root"}
    assert ex["parameters"]["private_key"] == "********"


def test_failing_host_fails_the_cli_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sshd: Sshd
) -> None:
    code, ex = _run(
        capsys, _config(tmp_path, sshd), "core.remote", f"hosts={sshd.hosts(1)}", "cmd=exit 4"
    )
    assert code != 0
    assert ex["status"] == "failed"
    assert ex["result"][f"127.0.0.1:{sshd.ports[0]}"]["return_code"] == 4


def test_linux_like_actions_run_over_ssh(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sshd: Sshd
) -> None:
    config = _config(tmp_path, sshd)
    hosts = f"hosts=127.0.0.1:{sshd.ports[1]}"
    target = Path(f"/tmp/squall-touch-{uuid.uuid4().hex}")
    copy = target.with_suffix(".copy")
    try:
        code, ex = _run(capsys, config, "linux_like.file_touch", hosts, f"file={target}")
        assert code == 0, ex
        assert target.read_text().strip().isdigit()
        code, ex = _run(
            capsys, config, "linux_like.cp", hosts, f"source={target}",
            f"destination={copy}", "force=true",
        )  # fmt: skip
        assert code == 0, ex
        assert ex["result"][f"127.0.0.1:{sshd.ports[1]}"]["stdout"].startswith("'")
        assert copy.read_text() == target.read_text()
    finally:
        target.unlink(missing_ok=True)
        copy.unlink(missing_ok=True)
    code, ex = _run(capsys, config, "linux_like.netstat", hosts)
    assert code == 0, ex
    assert ex["result"][f"127.0.0.1:{sshd.ports[1]}"]["stdout"].startswith("root\n")
    code, ex = _run(capsys, config, "linux_like.check_loadavg", hosts, "period=5")
    assert code == 0, ex
    assert list(ex["result"][f"127.0.0.1:{sshd.ports[1]}"]["stdout"]) == ["5"]
