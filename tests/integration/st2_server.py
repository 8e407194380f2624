"""A live ``squall serve`` and the real ``st2`` CLI (st2client 3.9.0 in ``.venv-st2``) against it.

``make test`` builds ``.venv-st2`` (its own venv: st2client pins libraries Squall must not
share). Users: alice (admin, with a password and an API key), bob (no role: may run nothing),
carol (may run core.echo only).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, ROOT

ST2 = ROOT / ".venv-st2" / "bin" / "st2"
ALICE_PASSWORD = "correct-horse-battery"
PACK_PATHS = [FIXTURES / "e2e", FIXTURES / "api", FIXTURES / "workflow_pack"]
CONFIG = """\
store:
  url: sqlite:///var/squall.db
packs:
  paths: {paths}
http:
  enabled: true
  port: {port}
api:
  stream_heartbeat_seconds: 0.5
chat:
  console:
    enabled: false
users:
  alice:
    roles: [admin]
  bob:
    roles: []
  carol:
    roles: [echoer]
roles:
  echoer:
    - allow: {{actions: ["core.echo"]}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def squall(config: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass
class Server:
    base: str
    config: Path
    home: Path
    keys: dict[str, str] = field(default_factory=dict)

    def env(self, user: str | None = "alice", token: str | None = None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "ST2_BASE_URL": self.base,
            "ST2_API_URL": f"{self.base}/api/v1",
            "ST2_AUTH_URL": f"{self.base}/auth/v1",
            "ST2_STREAM_URL": f"{self.base}/stream/v1",
        }
        if token is not None:
            env["ST2_AUTH_TOKEN"] = token
        elif user is not None:
            env["ST2_API_KEY"] = self.keys[user]
        return env

    def st2(
        self, *args: str, user: str | None = "alice", token: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ST2), *args], env=self.env(user, token), capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def st2_json(self, *args: str, user: str | None = "alice", token: str | None = None) -> Any:
        done = self.st2(*args, "-j", user=user, token=token)
        assert done.returncode == 0, f"st2 {' '.join(args)}: {done.stdout}{done.stderr}"
        return json.loads(done.stdout)

    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str | None = "alice",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if user is not None:
            request.add_header("St2-Api-Key", self.keys[user])
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status, got = response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, got = error.read(), error.code, dict(error.headers)
        text = raw.decode()
        try:
            return status, got, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, got, text

    def wait_stream_clients(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.http("GET", "/healthz", user=None)[2]["stream_clients"] < count:
            assert time.monotonic() < deadline, "no stream client connected"
            time.sleep(0.05)

    def wait_status(self, execution_id: str, statuses: Sequence[str], timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            _, _, doc = self.http("GET", f"/api/v1/executions/{execution_id}")
            if doc["status"] in statuses:
                return doc
            assert time.monotonic() < deadline, f"{execution_id} still {doc['status']}"
            time.sleep(0.1)


@contextlib.contextmanager
def running_server(directory: Path) -> Iterator[Server]:
    port = free_port()
    config = directory / "squall.yaml"
    config.write_text(CONFIG.format(port=port, paths=json.dumps([str(p) for p in PACK_PATHS])))
    home = directory / "home"
    home.mkdir()
    server = Server(f"http://127.0.0.1:{port}", config, home)
    for user in ("alice", "bob", "carol"):
        created = json.loads(squall(config, "apikey", "create", "--user", user, "--json"))
        server.keys[user] = created["key"]
    squall(config, "user", "passwd", "alice", "--password-stdin", stdin=ALICE_PASSWORD + "\n")
    log = (directory / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--no-console", "--config", str(config)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_ready(server, proc, directory / "serve.log")
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _wait_ready(server: Server, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited:\n{log.read_text()}"
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(server.base + "/readyz", timeout=2),
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"serve never became ready:\n{log.read_text()}")
