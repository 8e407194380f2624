"""``squall trigger|trigger-instance|rule-enforcement|webhook`` in process, on dispatch_demo."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import open_engine
from bot.settings import load_settings
from core.models.trigger_instance import FINISHED
from core.store.base import ExecutionQuery
from tests.conftest import FIXTURES, cli, cli_json

WEBHOOK = "core.st2.webhook"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store:\n  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{FIXTURES / 'dispatch'}']\n"
        "http:\n  enabled: false\n"
        "webhooks:\n  hooks:\n    sample:\n      auth: none\n"
    )
    return path


async def _fire(config: Path) -> str:
    async with open_engine(load_settings(config), start=False) as engine:
        payload = {"headers": {}, "headers_lower": {}, "body": {"name": "st2"}}
        instance = await engine.triggers.dispatch(
            WEBHOOK, payload, trigger_parameters={"url": "sample"}
        )
        assert instance is not None
        async with asyncio.timeout(10):
            while True:
                current = await engine.store.trigger_instances.get(instance.id)
                if current is not None and current.status in FINISHED:
                    break
                await asyncio.sleep(0.02)
        await engine.triggers.stop()
        return instance.id


async def _execution_count(config: Path) -> int:
    async with open_engine(load_settings(config), start=False) as engine:
        return len(await engine.store.executions.list(ExecutionQuery(limit=100)))


@pytest.fixture
def fired(config: Path) -> str:
    return asyncio.run(_fire(config))


def test_trigger_list(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, apis = cli_json(capsys, config, "trigger", "list")
    assert code == 0
    webhook = next(a for a in apis if a["ref"] == WEBHOOK)
    assert "url" in webhook["parameters"]
    code, out, _ = cli(capsys, config, "trigger", "list", "--pack", "core")
    assert code == 0 and WEBHOOK in out and out.startswith("REF")


def test_instance_list_and_get(
    capsys: pytest.CaptureFixture[str], config: Path, fired: str
) -> None:
    code, docs = cli_json(capsys, config, "trigger-instance", "list", "--trigger", WEBHOOK)
    assert code == 0
    assert [(d["id"], d["status"]) for d in docs] == [(fired, "processed")]
    code, docs = cli_json(capsys, config, "trigger-instance", "list", "--status", "pending")
    assert (code, docs) == (0, [])
    code, doc = cli_json(capsys, config, "trigger-instance", "get", fired)
    assert code == 0 and doc["payload"]["body"] == {"name": "st2"}
    assert doc["trigger_parameters"] == {"url": "sample"}
    code, out, _ = cli(capsys, config, "trigger-instance", "get", fired)
    assert code == 0 and "name: st2" in out


def test_enforcement_list(capsys: pytest.CaptureFixture[str], config: Path, fired: str) -> None:
    code, docs = cli_json(capsys, config, "rule-enforcement", "list", "--trigger-instance", fired)
    assert code == 0
    (enforcement,) = docs
    assert enforcement["rule_ref"] == "dispatch_demo.greet"
    assert enforcement["execution_id"]
    code, docs = cli_json(capsys, config, "rule-enforcement", "list", "--rule", "nope.nope")
    assert (code, docs) == (0, [])
    code, out, _ = cli(capsys, config, "rule-enforcement", "list")
    assert code == 0 and "dispatch_demo.greet" in out


def test_re_emit_creates_instance_and_execution(
    capsys: pytest.CaptureFixture[str], config: Path, fired: str
) -> None:
    assert asyncio.run(_execution_count(config)) == 1
    code, doc = cli_json(capsys, config, "trigger-instance", "re-emit", fired)
    assert code == 0
    assert doc["id"] != fired and doc["status"] == "processed"
    assert doc["payload"]["body"] == {"name": "st2"}
    assert doc["trigger_parameters"] == {"url": "sample"}
    code, docs = cli_json(capsys, config, "trigger-instance", "list")
    assert {d["id"] for d in docs} == {fired, doc["id"]}
    code, found = cli_json(
        capsys, config, "rule-enforcement", "list", "--trigger-instance", doc["id"]
    )
    assert [e["rule_ref"] for e in found] == ["dispatch_demo.greet"]
    assert asyncio.run(_execution_count(config)) == 2


def test_webhook_list(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, rows = cli_json(capsys, config, "webhook", "list")
    assert code == 0
    by_url = {row["url"]: row for row in rows}
    assert by_url["sample"] == {"url": "sample", "rules": ["dispatch_demo.greet"], "auth": "none"}
    assert by_url["pair"]["auth"] == "api-key"
    assert by_url["pair"]["rules"] == ["dispatch_demo.pair_disabled", "dispatch_demo.pair_echo"]
    code, out, _ = cli(capsys, config, "webhook", "list")
    assert code == 0 and "sample" in out and "dispatch_demo.greet" in out


@pytest.mark.parametrize("command", ["get", "re-emit"])
def test_unknown_instance_is_one_line_error(
    capsys: pytest.CaptureFixture[str], config: Path, command: str
) -> None:
    code, out, err = cli(capsys, config, "trigger-instance", command, "nope")
    assert code == 1 and out == ""
    assert err == "error: trigger instance nope not found\n"
