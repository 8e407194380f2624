"""The README's workflow example, as written, with config.example.yaml's users and roles: the
console user may answer its inquiry (roles: [ops]), sees the buttons, and an answer given with
the CLI edits the card in chat. Someone who may not answer gets no buttons."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import yaml

from adapters.console.testing import Posted, TestChat
from tests.conftest import ROOT
from tests.functional.harness import running
from tests.functional.test_cli_pack_validate import readme_demo_pack


def example_people(tmp_path: Path, extra_users: str = "") -> Path:
    """A config with the example's users and roles; its own store and the README's pack."""
    example = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    packs = tmp_path / "packs"
    readme_demo_pack(packs)
    people = {"users": example["users"], "roles": example["roles"]}
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{packs}']}}\n"
        "http: {enabled: false}\n"
        "executions: {python_fork_server: false}\n" + yaml.safe_dump(people) + extra_users
    )
    return config


def asking(posted: Posted) -> bool:
    return posted.message.status == "awaiting approval"


async def test_the_console_user_answers_the_readme_inquiry_from_the_cli(tmp_path: Path) -> None:
    config = example_people(tmp_path)
    chat = TestChat(one_reader=True)
    async with running(config, chat):
        chat.push("run demo.deploy hosts=web1,web2")
        card = await chat.wait_for(asking, timeout=30)
        assert [b.label for b in card.message.buttons] == ["Approve", "Deny"]
        approval = card.message.approval
        assert approval is not None
        chat.push("approvals")
        assert approval.id in (await chat.wait_for(lambda p: "Waiting for you" in p.text)).text

        answer = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "inquiry", "respond", approval.id, "--approve",
             "--as", "console", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert answer.returncode == 0, answer.stderr
        answered = await chat.wait_for(
            lambda p: p.message_id == card.message_id and p.edited, timeout=30
        )
        assert answered.message.status == "approved" and not answered.message.buttons
        done = await chat.wait_for(lambda p: p.message.status == "succeeded"
                                   and p.message.title == "demo.deploy", timeout=30)  # fmt: skip
        assert "reason: null" in done.text


async def test_a_console_user_who_may_not_answer_gets_no_buttons(tmp_path: Path) -> None:
    """Out of the box before: the console admin, not in ops, saw buttons and was refused."""
    config = example_people(tmp_path, "workflows: {inquiry_self_response: false}\n")
    config.write_text(
        config.read_text().replace("roles:\n    - admin\n    - ops", "roles:\n    - admin")
    )
    chat = TestChat(one_reader=True)
    async with running(config, chat):
        chat.push("run demo.deploy hosts=web1")
        card = await chat.wait_for(asking, timeout=30)
        assert card.message.buttons == ()
        assert "you may not answer" in card.text
