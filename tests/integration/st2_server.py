"""A live ``squall serve`` and the real ``st2`` CLI (st2client 3.9.0 in ``.venv-st2``) against it.

``make test`` builds ``.venv-st2`` (its own venv: st2client pins libraries Squall must not
share). Users: alice (admin, with a password and an API key), bob (no role: may run nothing),
carol (may run core.echo only).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import FIXTURES, ROOT
from tests.ports import free_port
from tests.serve_process import terminate, wait_ready

ST2 = ROOT / ".venv-st2" / "bin" / "st2"
ALICE_PASSWORD = "correct-horse-battery"
USERS = ("alice", "bob", "carol")
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


S = TypeVar("S", bound=Server)


def prepare(directory: Path, config_template: str, server: type[S], passwords: dict[str, str]) -> S:
    """A config from ``config_template`` (with the test packs, a free port) and a ``server``
    whose USERS each have an API key; those in ``passwords`` get that password."""
    port = free_port()
    config = directory / "squall.yaml"
    installed = directory / "packs"  # first: `st2 pack install` writes here, never the fixtures
    installed.mkdir()
    paths = json.dumps([str(p) for p in (installed, *PACK_PATHS)])
    config.write_text(config_template.format(port=port, paths=paths))
    home = directory / "home"
    home.mkdir()
    prepared = server(f"http://127.0.0.1:{port}", config, home)
    for user in USERS:
        created = json.loads(squall(config, "apikey", "create", "--user", user, "--json"))
        prepared.keys[user] = created["key"]
    for user, password in passwords.items():
        squall(config, "user", "passwd", user, "--password-stdin", stdin=password + "\n")
    return prepared


@contextlib.contextmanager
def running_server(directory: Path) -> Iterator[Server]:
    server = prepare(directory, CONFIG, Server, {"alice": ALICE_PASSWORD})
    config = server.config
    log = (directory / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--no-console", "--config", str(config)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_ready(server.base, proc, (directory / "serve.log").read_text)
        yield server
    finally:
        terminate(proc)
        log.close()
