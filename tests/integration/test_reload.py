"""Content reload in a real ``squall serve``: SIGHUP, ``squall pack reload``, ``packs.watch``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.app import open_engine
from bot.reload import ContentReloads, snapshot, watch_forever, watched_paths
from bot.settings import load_settings
from tests.conftest import ROOT
from tests.ports import free_port
from tests.serve_process import Output, start_serve, stop

RULE = """\
name: greet
pack: live
enabled: true
trigger: {type: core.st2.webhook, parameters: {url: greet}}
action: {ref: live.hello}
"""


def write_pack(packs: Path) -> Path:
    pack = packs / "live"
    (pack / "actions").mkdir(parents=True)
    (pack / "rules").mkdir()
    (pack / "pack.yaml").write_text("name: live\nversion: 0.1.0\nauthor: me\ndescription: d\n")
    (pack / "actions" / "hello.yaml").write_text("name: hello\nrunner_type: noop\n")
    return pack


def write_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{tmp_path / 'packs'}']{extra}}}\n"
        f"http: {{enabled: true, port: {port}}}\n"
        "webhooks: {hooks: {greet: {auth: none}}}\n"
    )
    return config


@contextmanager
def serving(config: Path) -> Iterator[Output]:
    proc = start_serve(config, "--no-console")
    out = Output(proc)
    try:
        out.until("listening on")
        yield out
    finally:
        stop(proc)


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


def post_hook(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/webhooks/greet", data=b"{}", method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def eventually(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def squall(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv, "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_sighup_and_pack_reload_load_new_content_and_keep_it_on_errors(tmp_path: Path) -> None:
    port = free_port()
    pack = write_pack(tmp_path / "packs")
    config = write_config(tmp_path, port)
    with serving(config) as out:
        start = health(port)
        assert start["content"] == {"generation": 0, "errors": []}
        assert post_hook(port) == 404  # no rule listens yet

        (pack / "rules" / "greet.yaml").write_text(RULE)
        (pack / "actions" / "bye.yaml").write_text("name: bye\nrunner_type: noop\n")
        os.kill(int(start["pid"]), signal.SIGHUP)
        eventually(lambda: health(port)["content"]["generation"] == 1, "no reload after SIGHUP")
        after = health(port)
        assert after["content"]["errors"] == []
        assert after["actions"] == start["actions"] + 1
        assert post_hook(port) == 202  # the new rule opened its hook in the running process
        out.until("content reloaded (SIGHUP)")

        (pack / "actions" / "bye.yaml").write_text("name: bye\nrunner_type: [broken\n")
        reloaded = squall(config, "pack", "reload")
        assert reloaded.returncode == 1, reloaded.stdout + reloaded.stderr
        assert reloaded.stdout.startswith("not reloaded (the content loaded before stays):\n")
        assert "bye.yaml" in reloaded.stdout
        kept = health(port)
        assert kept["content"]["generation"] == 2 and kept["actions"] == after["actions"]
        assert post_hook(port) == 202  # still the last good content

        (pack / "actions" / "bye.yaml").unlink()
        reloaded = squall(config, "pack", "reload")
        assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
        assert reloaded.stdout.startswith("reloaded: ")
        assert health(port)["actions"] == start["actions"]


def test_packs_watch_reloads_when_files_change(tmp_path: Path) -> None:
    port = free_port()
    pack = write_pack(tmp_path / "packs")
    config = write_config(tmp_path, port, ", watch: true, watch_interval_seconds: 0.2")
    with serving(config) as out:
        assert post_hook(port) == 404
        (pack / "rules" / "greet.yaml").write_text(RULE)
        eventually(lambda: post_hook(port) == 202, "the watcher never loaded the new rule")
        out.until("content reloaded (files changed)")


def test_pack_reload_without_a_serve_says_so(tmp_path: Path) -> None:
    write_pack(tmp_path / "packs")
    port = free_port()
    done = squall(write_config(tmp_path, port), "pack", "reload")
    assert done.returncode == 1
    assert f"error: no squall serve answers on http://127.0.0.1:{port}/healthz" in done.stderr


async def test_the_watcher_compares_with_what_was_loaded_not_with_its_first_look(
    tmp_path: Path,
) -> None:
    # A change made between loading and the watcher's first poll (serve already answering)
    # was missed when the watcher took its own first snapshot.
    pack = write_pack(tmp_path / "packs")
    config = write_config(tmp_path, free_port(), ", watch: true")
    async with open_engine(load_settings(config)) as engine:
        loaded = snapshot(watched_paths(engine))
        (pack / "rules" / "greet.yaml").write_text(RULE)  # before the watcher ever runs
        watcher = asyncio.create_task(watch_forever(ContentReloads(engine), 0.01, loaded))
        try:
            async with asyncio.timeout(20):
                while "live.greet" not in {rule.ref for rule in engine.rules.all()}:
                    await asyncio.sleep(0.02)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
