"""Content real packs ship never stops Squall (issue 13, item 5).

One broken item is skipped with its file and field named; what st2 accepts loads: a
``local-shell-cmd`` with an ``entry_point``, ``notify`` to an unknown route, a rule on an
action of a pack that is not installed (its enforcements fail), a pack config missing a
required key (the action that reads it fails), trigger types declared by ``sensors/*.yaml``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import ExecutionStatus
from core.models.trigger_instance import FINISHED, TriggerInstance
from core.packs.loader import LoadResult, load_packs
from tests.conftest import cli

S = ExecutionStatus
ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "tests" / "fixtures" / "st2packs" / "resilient"
BUNDLED = ROOT / "packs"
WAIT = 20.0


def problems(result: LoadResult) -> list[tuple[str, str, str, bool]]:
    return sorted(
        (e.file.name, e.yaml_path, e.message, e.warning)
        for e in result.errors
        if e.file.is_relative_to(PACK) or e.file.name == "resilient.yaml"
    )


def config(tmp_path: Path, token: str | None = None, *, with_pack: bool = True) -> Path:
    configs = tmp_path / "configs"
    configs.mkdir(exist_ok=True)
    if token is not None:
        (configs / "resilient.yaml").write_text(f"api_token: {token}\n")
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: [{repr(str(PACK)) if with_pack else ''}], config_dir: '{configs}'}}\n"
        "http: {enabled: false}\n"
        "executions: {max_concurrency: 2, python_fork_server: false}\n"
    )
    return path


def test_one_bad_item_is_skipped_and_named_everything_else_loads(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    result = load_packs([BUNDLED, PACK], config_dir=tmp_path / "configs")
    missing = "required key is missing and the schema has no default; actions that read it "
    assert problems(result) == [
        ("broken.yaml", "paramters", "unknown key; did you mean 'parameters'?", False),
        (
            "event_sensor.yaml",
            "trigger_types[1].payload_schema.type",
            "invalid JSON schema: 'nonsense' is not valid under any of the given schemas",
            False,
        ),
        ("resilient.yaml", "api_token", missing + "fail until it is set", True),
        (
            "uses_missing_pack.yaml",
            "action.ref",
            "action 'notinstalled.do_thing': pack 'notinstalled' is not installed; the rule is "
            "loaded and its enforcements fail",
            True,
        ),
    ]
    index = result.index
    assert sorted(a.name for a in [a for a in index.actions.values() if a.pack == "resilient"]) == [
        "cmd_with_entry",
        "notify_unknown_route",
        "reads_token",
    ]
    assert index.get_trigger_type("resilient.event1").description == "An event from the sensor."
    assert "resilient.bad_event" not in index.trigger_types
    mine = sorted(r for r in index.rules if r.startswith("resilient."))
    assert mine == ["resilient.on_sensor_event", "resilient.uses_missing_pack"]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(config(tmp_path))) as opened:
        yield opened


async def finished(engine: Engine, instance_id: str) -> TriggerInstance:
    async with asyncio.timeout(WAIT):
        while True:
            current = await engine.store.trigger_instances.get(instance_id)
            assert current is not None
            if current.status in FINISHED:
                return current
            await asyncio.sleep(0.02)


async def test_sensor_trigger_fires_its_rules_and_a_missing_pack_fails_at_enforcement(
    engine: Engine,
) -> None:
    instance = await engine.triggers.dispatch("resilient.event1", {"who": "ann"})
    assert instance is not None
    await finished(engine, instance.id)
    found = await engine.store.rule_enforcements.list(trigger_instance_id=instance.id)
    by_rule = {e.rule_ref: e for e in found}
    missing = by_rule["resilient.uses_missing_pack"]
    assert missing.execution_id is None
    assert missing.failure_reason == "UnknownActionError: unknown action 'notinstalled.do_thing'"
    ran = by_rule["resilient.on_sensor_event"]
    assert ran.failure_reason is None and ran.execution_id is not None
    done = await engine.executions.wait(ran.execution_id, timeout=WAIT)
    assert done.status is S.SUCCEEDED
    assert done.result["stdout"] == "entry point ignored"


async def test_missing_required_config_fails_the_action_that_reads_it(engine: Engine) -> None:
    requested = await engine.executions.request("resilient.reads_token", {})
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.FAILED
    assert 'Config for pack "resilient" is missing key "api_token"' in done.result["stderr"]
    region = await engine.executions.request("resilient.reads_token", {"key": "region"})
    assert (await engine.executions.wait(region.id, timeout=WAIT)).result["result"] == "eu"


async def test_notify_to_an_unknown_route_runs_the_action(engine: Engine) -> None:
    requested = await engine.executions.request("resilient.notify_unknown_route", {})
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.SUCCEEDED and done.result["stdout"] == "notified"


async def test_with_the_config_set_the_action_reads_it(tmp_path: Path) -> None:
    async with open_engine(load_settings(config(tmp_path, token="s3cret"))) as engine:
        requested = await engine.executions.request("resilient.reads_token", {})
        done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.SUCCEEDED and done.result["result"] == "s3cret"


def test_doctor_warns_about_what_loads_and_fails_what_was_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, config(tmp_path), "doctor")
    assert code == 1
    assert "FAIL  packs: " in out and "broken.yaml: paramters: unknown key" in out
    assert "warn  packs: " in out and "pack 'notinstalled' is not installed" in out
    assert "resilient.yaml: api_token: required key is missing" in out


def test_pack_validate_passes_with_warnings_once_the_broken_items_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "resilient"
    shutil.copytree(PACK, copy)
    (copy / "actions" / "broken.yaml").unlink()
    sensor = copy / "sensors" / "event_sensor.yaml"
    sensor.write_text(sensor.read_text().replace("type: nonsense", "type: object"))
    settings = config(tmp_path, with_pack=False)
    code, out, _ = cli(capsys, settings, "pack", "validate", str(copy))
    assert code == 0, out
    assert "warning: " in out and "pack 'notinstalled' is not installed" in out
    assert "notify.on-complete.routes: unknown route 'slack'" in out
    assert out.rstrip().endswith("OK (with warnings)")
