"""RuleSet ← stored ``rule enable|disable`` overrides, on a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from core.models import Rule, RuleAction, RuleTrigger
from core.rules.index import WEBHOOK_TRIGGER
from core.rules.refresh import load_overrides, refresh_forever
from core.rules.ruleset import RuleSet
from core.store import Store, open_store

INTERVAL = 0.05


def rule(name: str, *, enabled: bool) -> Rule:
    trigger = RuleTrigger(WEBHOOK_TRIGGER, {"url": name})
    return Rule("demo", name, trigger, RuleAction("core.noop", {}), enabled=enabled)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store("sqlite:///squall.db", base_dir=str(tmp_path))
    await opened.open()
    yield opened
    await opened.close()


async def test_load_overrides_applies_what_the_store_holds(store: Store) -> None:
    rules = RuleSet([rule("on", enabled=True), rule("off", enabled=False)])
    assert await load_overrides(rules, store.rule_states) is False
    await store.rule_states.set("demo.off", True, "cli")
    await store.rule_states.set("demo.on", False, "cli")
    assert await load_overrides(rules, store.rule_states) is True
    assert rules.webhook_urls() == frozenset({"off"})


async def test_refresh_forever_follows_changes_made_by_another_writer(
    store: Store, tmp_path: Path
) -> None:
    rules = RuleSet([rule("hook", enabled=True)])
    changes: list[frozenset[str]] = []
    rules.subscribe(lambda current: changes.append(current.webhook_urls()))
    # The CLI's own connection to the same file, as another process would have.
    other = open_store("sqlite:///squall.db", base_dir=str(tmp_path))
    await other.open()
    task = asyncio.create_task(refresh_forever(rules, store.rule_states, INTERVAL))
    try:
        await other.rule_states.set("demo.hook", False, "cli")
        await _until(lambda: changes == [frozenset()])
        await other.rule_states.set("demo.hook", True, "cli")
        await _until(lambda: changes == [frozenset(), frozenset({"hook"})])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await other.close()


async def test_refresh_survives_a_closed_store_and_keeps_the_rules(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    rules = RuleSet([rule("hook", enabled=True)])
    states = store.rule_states
    await store.close()  # the repository's reads now fail
    task = asyncio.create_task(refresh_forever(rules, states, INTERVAL))
    try:
        await _until(lambda: caplog.text.count("could not refresh rule states") >= 2)
        assert not task.done() and rules.webhook_urls() == frozenset({"hook"})
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until(condition: object, timeout: float = 10) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_refresh_interval_setting(tmp_path: Path) -> None:
    assert Settings.defaults(tmp_path).rules.refresh_seconds == 2.0
    config = tmp_path / "squall.yaml"
    config.write_text("rules:\n  refresh_seconds: 0.5\n")
    assert load_settings(config, env={}).rules.refresh_seconds == 0.5
    config.write_text("rules:\n  refresh_seconds: 0\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env={})
    assert caught.value.errors == ["rules.refresh_seconds: expected number >= 0.1, got 0.0"]
