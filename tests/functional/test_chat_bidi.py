"""Bidi override characters (U+202E, Trojan Source) are refused from chat and shown visibly
on cards (security.md row 56, issue 16 §9)."""

from __future__ import annotations

from pathlib import Path

from adapters.console.testing import TestChat
from core.store import ExecutionQuery
from tests.functional.harness import running
from tests.functional.test_chat import config

RLO = "\u202e"


async def test_a_typed_value_with_a_bidi_override_is_refused(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.push(f"run core.echo message=invoice{RLO}fdp.exe")
        refusal = await chat.next_message()
        assert "control characters (such as newlines or bidi overrides)" in refusal.text
        engine = runtime.commands.engine
        assert await engine.store.executions.list(ExecutionQuery()) == []


async def test_a_bidi_override_in_output_is_shown_visibly_on_the_card(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run core.local cmd=\"printf 'invoice\\342\\200\\256fdp.exe'\"")
        done = await chat.wait_for(lambda p: p.edited, timeout=20)
        assert done.message.status == "succeeded"
        assert done.message.code is not None and "invoice<U+202E>fdp.exe" in done.message.code
        assert all(RLO not in posted.text for posted in chat.posted)
