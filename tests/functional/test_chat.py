"""Chat end to end over the real console adapter (TestChat): run cards, routes, retries, chatops."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from adapters.base import Capabilities
from adapters.console.testing import TestChat
from bot.chat.runtime import ChatConfigError
from core.observe.metrics import REGISTRY
from tests.conftest import poll_until
from tests.functional.harness import CHAT_ENGINE, running


def config(tmp_path: Path, routes: str = "  ops: {adapter: console, channel: alerts}\n") -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(CHAT_ENGINE + "chat: {delivery_attempts: 3}\n" + f"routes:\n{routes}")
    return path


async def test_run_card_is_posted_then_edited_with_the_result(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run core.echo message=hello")
        ack = await chat.next_message()
        assert ack.message.status == "requested" and not ack.edited
        done = await chat.wait_for(lambda p: p.edited)
        assert done.message_id == ack.message_id
        assert done.message.status == "succeeded"
        assert done.message.code == "hello"
        assert "↻ updated" in done.text


async def test_secret_output_is_masked_on_the_card(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run chat_demo.secret_echo token=hunter2")
        done = await chat.wait_for(lambda p: p.edited)
        assert done.message.code == "token is ********"
        assert all("hunter2" not in posted.text for posted in chat.posted)


async def test_long_output_is_truncated_on_the_card(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run chat_demo.long_output count=3000")
        done = await chat.wait_for(lambda p: p.edited, timeout=20)
        assert done.message.code is not None
        assert "more characters]" in done.message.code
        assert len(done.message.code) < chat.adapter.capabilities.max_text


async def test_notify_route_reaches_its_channel_without_a_rule(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run chat_demo.announce who=ana")
        note = await chat.wait_for(lambda p: p.place.channel == "alerts")
        assert note.message.text == "ana announced"
        assert note.text.startswith("[#alerts] chat_demo.announce (succeeded)")


async def test_a_failed_post_is_retried(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.fail_next_sends(2)  # attempts: 3, so the third try posts
        chat.push("help")
        reply = await chat.next_message()
        assert reply.text.startswith("[#console] Commands you can run")
        assert runtime.delivery.failures == 0
        chat.fail_next_sends(3)
        chat.push("help")
        await poll_until(lambda: runtime.delivery.failures == 1)
        chat.push("actions")
        after = await chat.next_message()
        assert "chatops.post_message" in after.text
        assert runtime.health()["delivery_failures"] == 1


async def test_chatops_post_message_to_a_route_and_post_result(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run chatops.post_message route=ops message='deploy done'")
        posted = await chat.wait_for(lambda p: p.place.channel == "alerts")
        assert posted.text == "[#alerts] deploy done"
        done = await chat.wait_for(lambda p: p.edited and p.message.title == "chatops.post_message")
        assert done.message.status == "succeeded"
        chat.push("run core.noop")
        noop = await chat.wait_for(lambda p: p.edited and p.message.title == "core.noop")
        execution_id = (noop.message.footer or "").split()[1]
        chat.push(f"run chatops.post_result execution_id={execution_id} channel=reports")
        result = await chat.wait_for(lambda p: p.place.channel == "reports")
        assert result.message.title == "core.noop" and result.message.status == "succeeded"


async def test_chatops_to_an_unknown_route_fails_the_execution(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run chatops.post_message route=nowhere message=x")
        done = await chat.wait_for(lambda p: p.edited)
        assert done.message.status == "failed"
        assert "unknown route 'nowhere'" in (done.message.code or "")


async def test_unknown_notify_route_is_reported_and_ignored_the_action_still_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chat = TestChat()
    caplog.set_level(logging.WARNING, logger="bot.chat.runtime")
    async with running(config(tmp_path, routes="  other: {adapter: console, channel: x}\n"), chat):
        reported = [r.getMessage() for r in caplog.records if "notify route ignored" in r.message]
        assert any(
            "announce.yaml: notify.on-success.routes: unknown route 'ops'" in m for m in reported
        )
        chat.push("run chat_demo.announce who=ana")
        done = await chat.wait_for(lambda p: p.edited)
        assert done.message.status == "succeeded"
        assert not [p for p in chat.posted if p.place.channel in ("x", "alerts")]


async def test_route_to_an_adapter_that_is_not_running_is_refused(tmp_path: Path) -> None:
    chat = TestChat()
    routes = "  ops: {adapter: slack, channel: C1}\n"
    with pytest.raises(
        ChatConfigError, match=re.escape("routes.ops.adapter: unknown adapter 'slack'")
    ):
        async with running(config(tmp_path, routes=routes), chat):
            pass


async def test_someone_else_cannot_quit_and_channel_messages_need_the_prefix(
    tmp_path: Path,
) -> None:
    chat = TestChat(name="console")
    async with running(config(tmp_path), chat) as runtime:
        chat.push("help", user_id="bob", channel="general")
        first = await chat.next_message()
        assert first.place.channel == "general" and "commands:" in first.text
        chat.push("quit")
        await chat.wait_for(lambda p: "stopping Squall" in p.text)
        assert runtime.commands.stop_requested.is_set()


async def test_without_edits_the_result_is_a_reply_in_the_cards_thread(tmp_path: Path) -> None:
    chat = TestChat(capabilities=Capabilities(edits=False))
    async with running(config(tmp_path), chat):
        chat.push("run core.echo message=threaded")
        ack = await chat.next_message()
        reply = await chat.next_message()
        assert not reply.edited and reply.message_id != ack.message_id
        assert reply.place.thread == ack.message_id
        assert reply.message.code == "threaded"


async def test_chat_traffic_and_store_calls_show_on_the_metrics(tmp_path: Path) -> None:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    received = value("squall_chat_messages_received_total", adapter="console")
    delivered = value("squall_chat_deliveries_total", adapter="console", outcome="delivered")
    retried = value("squall_chat_deliveries_total", adapter="console", outcome="retried")
    inserts = value(
        "squall_store_operation_seconds_count", backend="sqlite", operation="executions.insert"
    )
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.fail_next_sends(1)
        chat.push("run core.noop")
        done = await chat.wait_for(lambda p: p.edited)
        trace_id = (done.message.footer or "").rsplit(" ", 1)[-1]
    assert value("squall_chat_messages_received_total", adapter="console") == received + 1
    assert value("squall_chat_deliveries_total", adapter="console", outcome="retried") == (
        retried + 1
    )
    # The ack card and its edit with the result.
    assert value("squall_chat_deliveries_total", adapter="console", outcome="delivered") == (
        delivered + 2
    )
    assert (
        value(
            "squall_store_operation_seconds_count", backend="sqlite", operation="executions.insert"
        )
        == inserts + 1
    )
    assert len(trace_id) == 24


async def test_a_shell_card_shows_running_while_the_command_runs(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run core.local cmd='sleep 3; echo done'")  # "running" shows after 1 s
        ack = await chat.wait_for(lambda p: p.message.title == "core.local")
        assert ack.message.status == "requested"
        same = lambda p: p.message_id == ack.message_id and p.edited  # noqa: E731
        shown = await chat.wait_for(same)
        assert shown.message.status == "running"
        assert shown.message.text == ack.message.text.replace(" requested ", " running ")
        done = await chat.wait_for(same, timeout=30)
        assert done.message.status == "succeeded" and done.message.code == "done"
