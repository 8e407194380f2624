"""A real ``squall serve`` with the CLI beside it: API keys guard a hook, and ``rule
enable|disable`` from another process opens and closes it without a restart."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.packs import make_pack
from tests.ports import free_port
from tests.serve_process import running_serve

REFRESH_SECONDS = 0.2
# Generous: the bound is refresh_seconds, the rest is slack for a loaded CI machine.
SWITCH_TIMEOUT = 20.0
RULE = """---
name: keyed
pack: keys_demo
enabled: true
trigger: {type: core.st2.webhook, parameters: {url: keyed}}
action:
  ref: core.echo
  parameters: {message: "{{ trigger.body.name }}"}
"""


def write_config(root: Path, port: int) -> Path:
    make_pack(root / "packs", "keys_demo", {"rules/keyed.yaml": RULE})
    config = root / "squall.yaml"
    config.write_text(
        "store:\n  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{root / 'packs'}']\n"
        f"http:\n  enabled: true\n  port: {port}\n"
        f"rules:\n  refresh_seconds: {REFRESH_SECONDS}\n"
    )
    return config


def squall(config: Path, *argv: str) -> Any:
    """Run ``squall ARGV --json`` in its own process, as a user in another shell would."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", *argv, "--json", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def post(port: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/webhooks/keyed",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def wait_for(condition: Any, what: str, timeout: float = SWITCH_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def echoed(config: Path) -> list[str]:
    """stdout of the succeeded core.echo executions, read from the SQLite file."""
    with sqlite3.connect(config.parent / "var" / "squall.db") as db:
        rows = db.execute(
            "select doc from executions where action_ref = 'core.echo' and status = 'succeeded'"
        ).fetchall()
    return sorted(json.loads(doc)["result"]["stdout"] for (doc,) in rows)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    config = write_config(tmp_path, port)
    squall(config, "rule", "list")  # creates the store before serve and the CLI race for it
    with running_serve(config, port):
        yield config, port


def test_api_keys_guard_a_hook_and_rule_switches_apply_live(served: tuple[Path, int]) -> None:
    config, port = served
    assert post(port, {"name": "anonymous"}) == 401
    created = squall(config, "apikey", "create", "--name", "ci")
    key = {"St2-Api-Key": created["key"]}
    assert post(port, {"name": "keyed"}, key) == 202
    wait_for(lambda: echoed(config) == ["keyed"], "the rule's execution")

    assert squall(config, "rule", "disable", "keys_demo.keyed")["enabled"] is False
    wait_for(lambda: post(port, {"name": "off"}, key) == 404, "the hook to close")
    assert squall(config, "rule", "enable", "keys_demo.keyed")["enabled"] is True
    wait_for(lambda: post(port, {"name": "on"}, key) == 202, "the hook to reopen")
    wait_for(lambda: "on" in echoed(config), "the reopened hook's execution")

    squall(config, "apikey", "revoke", created["id"])
    assert post(port, {"name": "revoked"}, key) == 401
