"""Fixtures shared by every test layer."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.cli.main import main
from tests import mongo_server
from tests.sshd import sshd  # noqa: F401  (the session's OpenSSH server fixture)

if TYPE_CHECKING:
    from bot.app import Engine
    from core.models import Execution, ExecutionStatus

# Test packs carry their own tests/, run by `squall pack test` in their own environment.
collect_ignore = ["fixtures"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# Squall's convenience aliases (echo, noop, uuid), which config.example.yaml loads.
SITE_ALIASES = ROOT / "aliases"

# A developer's own $SQUALL_CONFIG or ~/.config/squall/squall.yaml must not leak into the tests
# (config discovery would find them); children started by tests inherit this environment.
os.environ.pop("SQUALL_CONFIG", None)
os.environ["XDG_CONFIG_HOME"] = str(ROOT / "tests" / "fixtures" / "no-user-config")


MONGO_URL_ENV = "SQUALL_TEST_MONGO_URL"


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """A real MongoDB-protocol server for the whole session: ``SQUALL_TEST_MONGO_URL`` if set,
    else one SecantusDB started here (see tests/mongo_server.py) and always stopped."""
    given = os.environ.get(MONGO_URL_ENV)
    if given:
        yield given
        return
    server = mongo_server.start()
    os.environ[MONGO_URL_ENV] = server.url  # for subprocesses the tests start
    try:
        yield server.url
    finally:
        os.environ.pop(MONGO_URL_ENV, None)
        server.stop()


def write_config(directory: Path, extra: str = "") -> Path:
    """A Squall config in ``directory``: SQLite there, the e2e test pack, the repository's site
    aliases (as config.example.yaml; unless ``extra`` sets ``aliases:``), no listener."""
    config = directory / "squall.yaml"
    site = "" if "aliases:" in extra else f"aliases:\n  paths: ['{SITE_ALIASES}']\n"
    config.write_text(
        "store:\n"
        "  url: sqlite:///var/squall.db\n"
        "packs:\n"
        f"  paths: ['{FIXTURES / 'e2e'}']\n" + site + "http:\n"
        "  enabled: false\n"
        "executions:\n"
        "  max_concurrency: 4\n" + extra  # extra may continue the executions section
    )
    return config


@pytest.fixture
def squall_config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def wait_status(config: Path, execution_id: str, status: str, timeout: float = 30) -> None:
    """Poll the SQLite file of a Squall running in another process until the status shows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(config.parent / "var" / "squall.db") as db:
            row = db.execute("select status from executions where id = ?", (execution_id,))
            found = row.fetchone()
        if found and found[0] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} never reached {status}")


def group_alive(pgid: int) -> bool:
    """True while a non-zombie process of group ``pgid`` exists (zombies await their reaper)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def process_alive(pid: int) -> bool:
    """A zombie nobody has reaped yet counts as gone: it can no longer run anything."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def poll_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait until ``condition()`` holds: /proc and files offer nothing to await."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def wait_dead(pid: int, timeout: float = 10) -> None:
    await poll_until(lambda: not process_alive(pid), timeout)


async def wait_execution(
    engine: Engine, execution_id: str, *statuses: ExecutionStatus, timeout: float = 10
) -> Execution:
    """The execution once the store holds it in one of ``statuses`` (polled; bounded)."""
    async with asyncio.timeout(timeout):
        while True:
            current = await engine.store.executions.get(execution_id)
            if current is not None and current.status in statuses:
                return current
            await asyncio.sleep(0.02)


def cli(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    """Run ``squall ARGV --config CONFIG`` in-process: (exit code, stdout, stderr)."""
    code = main([*argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, Any]:
    code, out, err = cli(capsys, config, *argv, "--json")
    assert out, err
    return code, json.loads(out)


# Modules that start many processes (serve, sshd sessions, the st2 CLI, Chromium) or kill them:
# under `make test` (pytest-xdist, --dist loadgroup) they share one worker, one after another,
# so two of them never load the 2-core machine at once; the rest spreads over the other worker.
PROCESS_HEAVY = frozenset({
    "tests/browser/test_console.py",
    "tests/integration/test_api_schemathesis.py",
    "tests/integration/test_cluster.py",
    "tests/integration/test_crash_recovery.py",
    "tests/integration/test_st2_cli.py",
    "tests/integration/test_st2_cli_packs.py",
    "tests/integration/test_st2_stream.py",
    "tests/integration/test_store_processes.py",
    "tests/integration/test_webhook_faults.py",
    "tests/integration/test_webhook_kill9.py",
    "tests/integration/test_workflow_kill9.py",
})  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::", 1)[0] in PROCESS_HEAVY:
            item.add_marker(pytest.mark.xdist_group("process-heavy"))
