"""What ``squall serve`` imports before any content runs: heavy libraries that only some
deployments use wait until they are used (README "Performance", idle RSS). A subprocess, so
this test session's own imports do not count."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

# Library → what brings it in when it is needed (MB resident it costs at start-up).
LATER = {
    "asyncssh": "the first remote-shell-cmd/-script run",  # 7-18
    "prompt_toolkit": "the console chat at a terminal",  # 7-18
    "cryptography": "the first secret sealed or opened",  # 7-18
    "re2": "the first rule regex operator or permission parameter regex",  # 1.7
    "apscheduler": "the first timer rule scheduled",  # ~1 (with multiprocessing)
    "yaql": "the first YAQL expression parsed (a workflow loaded or run)",  # ~1.5 (pbr, dateutil)
    "importlib.metadata": "the version: the API's index or an HTTP action's User-Agent",  # 0.4
}


def test_serve_leaves_optional_heavy_libraries_for_later() -> None:
    code = (
        "import json, sys\n"
        "import bot.cli.main, bot.serve, bot.chat.runtime\n"
        "from core.runners.registry import build_runners\n"
        "from adapters.console import ConsoleAdapter\n"
        "import adapters.slack, adapters.discord, bot.http.api.app\n"
        "build_runners(); ConsoleAdapter(read_stdin=False)\n"
        # the timer service of every serve, started without any timer rule
        "import asyncio, datetime\n"
        "from core.rules.ruleset import RuleSet\n"
        "from core.triggers.timers import TimerService\n"
        "now = lambda: datetime.datetime.now(datetime.UTC)\n"
        "timers = TimerService(None, RuleSet([]), now=now)\n"
        "async def cycle() -> None:\n"
        "    await timers.start(); assert timers.running; await timers.stop()\n"
        "asyncio.run(cycle())\n"
        f"print(json.dumps([m for m in {sorted(LATER)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_bundled_packs_load_without_yaql() -> None:
    """The bundled content (every serve loads it) writes its workflow expressions in Jinja:
    validating a YAQL expression at load builds yaql's parser, ~3.3 MB resident."""
    code = (
        "import json, sys\n"
        "from bot.settings.bundled import bundled_dir\n"
        "from core.packs.loader import load_packs\n"
        "result = load_packs([bundled_dir('packs')], config_dir=None)\n"
        "assert not result.errors, result.errors\n"
        "assert {'packs.install', 'packs.uninstall'} <= set(result.index.workflow_definitions)\n"
        "print(json.dumps('yaql' in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) is False


def test_slack_adapter_reads_no_source_files() -> None:
    """Unnamed, slack-bolt's app names itself with ``inspect.stack()``: that reads every
    calling frame's source file into linecache, where it stays (~0.5 MB of a serve)."""
    code = (
        "import json, linecache\n"
        "from adapters.slack.adapter import SlackAdapter\n"
        "from adapters.slack import SlackConfig\n"
        "config = SlackConfig(bot_token='xoxb-test', app_token='xapp-test', mode='socket')\n"
        "adapter = SlackAdapter(config)\n"
        "files = sorted(k for k in linecache.cache if not k.startswith('<'))  # attrs: '<attrs…>'\n"
        "print(json.dumps([adapter.app.name, files]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["squall", []]
