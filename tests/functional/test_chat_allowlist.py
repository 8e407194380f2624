"""Permission constraints are an allow-list (security.md row 51), on every chat path.

alice's role allows ``core.local`` only with ``cmd: ^uptime$``. The attack: keep ``cmd`` allowed
and smuggle the command in through a parameter the rule does not name — ``env`` exporting a
bash function called ``uptime``, ``cwd``, ``sudo``, ``timeout`` — then repeat it with ``rerun``.
"""

from __future__ import annotations

from pathlib import Path

from adapters.console.testing import TestChat
from core.store import ExecutionQuery
from tests.functional.harness import running
from tests.functional.test_chat_aliases import config, titled

BASH_FUNCTION = """'env={"BASH_FUNC_uptime%%":"() { echo PWNED; }"}'"""


async def test_an_unnamed_parameter_rides_along_with_an_allowed_cmd_and_is_refused(
    tmp_path: Path,
) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        for extra in ["cwd=/", "timeout=5", "kwarg_op=-x", """'env={"X":"1"}'"""]:
            chat.push(f"run core.local cmd=uptime {extra}", user_id="alice")
            refusal = await chat.next_message()
            name = extra.strip("'").split("=")[0]
            assert f"parameter {name!r} is not allowed by roles.ops[1]" in refusal.message.text
        assert await engine.store.executions.list(ExecutionQuery()) == []
        # The default value of an unnamed parameter is no change: allowed.
        chat.push("run core.local cmd=uptime timeout=60", user_id="alice")
        done = await chat.wait_for(titled("core.local", edited=True), timeout=20)
        assert done.message.status == "succeeded"


async def test_exported_bash_function_in_env_is_refused_for_everyone(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        chat.push(f"run core.local cmd=uptime {BASH_FUNCTION}", user_id="alice")
        refusal = await chat.next_message()
        assert 'parameter "env"' in refusal.message.text
        # An admin is not restricted by rules, but env keys must still be variable names.
        chat.push(f"run core.local cmd=uptime {BASH_FUNCTION}", user_id="console")
        error = await chat.next_message()
        assert 'parameter "env"' in error.message.text and error.message.text.startswith("error:")
        assert await engine.store.executions.list(ExecutionQuery()) == []
        assert all("PWNED" not in posted.text for posted in chat.posted)


async def test_rerun_of_someone_elses_execution_is_checked_as_the_rerunning_user(
    tmp_path: Path,
) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        chat.push("run core.local cmd=uptime cwd=/", user_id="console")  # admin: allowed
        done = await chat.wait_for(titled("core.local", edited=True), timeout=20)
        assert done.message.status == "succeeded"
        [first] = await engine.store.executions.list(ExecutionQuery())
        chat.push(f"rerun {first.id}", user_id="alice")
        refusal = await chat.wait_for(lambda p: "not allowed" in p.text)
        assert "parameter 'cwd' is not allowed by roles.ops[1]" in refusal.message.text
        assert len(await engine.store.executions.list(ExecutionQuery())) == 1
