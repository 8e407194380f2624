"""A live ``squall serve`` for the console's browser tests: the HTTP listener on 127.0.0.1 and
the console chat on the process's stdin/stdout (so a test can read the chat cards it prints).

Users: alice (admin, password ``ALICE_PASSWORD``, an API key), bob (no role: may run nothing),
carol (may run core.echo only), and console (whoever types at the console chat).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT
from tests.functional.test_serve_console import Output
from tests.integration.st2_server import (
    ALICE_PASSWORD,
    PACK_PATHS,
    Server,
    free_port,
    squall,
)

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
    enabled: true
routes:
  ops: {{adapter: console, channel: console}}
users:
  alice:
    roles: [admin]
  bob:
    roles: []
  carol:
    roles: [echoer]
  console:
    identities: ["console:local:console"]
    roles: [admin]
roles:
  echoer:
    - allow: {{actions: ["core.echo"]}}
"""
PASSWORDS = {"alice": ALICE_PASSWORD, "bob": "bob-has-no-roles", "carol": "carol-echoes-only"}


class ConsoleServer(Server):
    proc: subprocess.Popen[str]
    chat: Output

    def type(self, line: str) -> None:
        """A line typed at the console chat."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


@contextlib.contextmanager
def console_server(directory: Path) -> Iterator[ConsoleServer]:
    port = free_port()
    config = directory / "squall.yaml"
    config.write_text(CONFIG.format(port=port, paths=json.dumps([str(p) for p in PACK_PATHS])))
    home = directory / "home"
    home.mkdir()
    server = ConsoleServer(f"http://127.0.0.1:{port}", config, home)
    for user, password in PASSWORDS.items():
        created = json.loads(squall(config, "apikey", "create", "--user", user, "--json"))
        server.keys[user] = created["key"]
        squall(config, "user", "passwd", user, "--password-stdin", stdin=password + "\n")
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", str(config)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    )  # fmt: skip
    server.chat = Output(server.proc)
    try:
        _wait_ready(server)
        yield server
    finally:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=10)
        for pipe in (server.proc.stdin, server.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


def _wait_ready(server: ConsoleServer) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, f"serve exited:\n{server.chat.seen}"
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(server.base + "/readyz", timeout=2),
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"serve never became ready:\n{server.chat.seen}")
