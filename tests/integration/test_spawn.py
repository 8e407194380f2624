"""core.runners.spawn: pipes read straight off the loop's selector, the exit from a pidfd (or,
without pidfds, from a waiting thread), and nothing left open afterwards. Real bash processes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from core.runners import spawn as spawn_module
from core.runners.process import TIMEOUT_RETURN_CODE, ProcessOutcome, run_process
from tests.conftest import wait_dead

WAIT = 10.0  # upper bound for anything a test waits on; never reached when things work


async def _run(
    argv: list[str], *, timeout: float | None = None, on_output: object = None
) -> ProcessOutcome:
    async with asyncio.timeout(WAIT):
        return await run_process(
            argv, cwd=None, env=dict(os.environ), timeout=timeout, cancel=asyncio.Event(),
            output_limit=1 << 20, on_start=None, on_output=on_output,  # type: ignore[arg-type]
        )  # fmt: skip


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(params=["pidfd", "thread"])
def exit_watch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of learning of a child's exit; the thread is what systems without pidfds get."""
    if request.param == "pidfd" and not spawn_module._PIDFDS:
        pytest.skip("this kernel offers no pidfds")
    monkeypatch.setattr(spawn_module, "_PIDFDS", request.param == "pidfd")
    return str(request.param)


async def test_output_exit_code_and_nothing_left_open(exit_watch: str) -> None:
    before = _open_fds()
    outcomes = await asyncio.gather(
        *(_run(["bash", "-c", f"echo out{i}; echo err{i} >&2; exit {i}"]) for i in range(20))
    )
    for i, outcome in enumerate(outcomes):  # each child's output reaches its own caller
        assert outcome == ProcessOutcome(f"out{i}\n", f"err{i}\n", i, False, False)
    assert _open_fds() == before  # no pipe or pidfd leaked


async def test_timeout_kills_and_keeps_partial_output(exit_watch: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    before = _open_fds()
    outcome = await _run(
        ["bash", "-c", f"echo partial; sleep 300 & echo $! > {pidfile}; wait"], timeout=0.3
    )
    assert outcome.timed_out and outcome.return_code == TIMEOUT_RETURN_CODE
    assert outcome.stdout == "partial\n"
    await wait_dead(int(pidfile.read_text()), WAIT)
    assert _open_fds() == before


async def test_output_is_streamed_as_it_arrives(exit_watch: str) -> None:
    seen: list[tuple[str, str]] = []
    # é split across two writes: shown whole, once.
    script = r"printf 'a\303'; sleep 0.1; printf '\251b'; echo e >&2"
    outcome = await _run(["bash", "-c", script], on_output=lambda n, t: seen.append((n, t)))
    assert outcome.stdout == "aéb"
    assert "".join(t for n, t in seen if n == "stdout") == "aéb"
    assert [t for n, t in seen if n == "stderr"] == ["e\n"]


async def test_actions_inherit_no_descriptor_of_ours(exit_watch: str) -> None:
    # bash lists its own fds: stdin, stdout, stderr and the one ls opens to read the directory.
    outcome = await _run(["bash", "-c", "ls /proc/self/fd"])
    assert sorted(int(fd) for fd in outcome.stdout.split()) == [0, 1, 2, 3]


async def test_missing_program_leaves_nothing_open(exit_watch: str) -> None:
    before = _open_fds()
    with pytest.raises(FileNotFoundError):
        await _run(["/nonexistent/program"])
    assert _open_fds() == before


async def test_a_child_that_closes_its_output_is_waited_for(exit_watch: str) -> None:
    """Both pipes end while the child still runs: its exit is still waited for, then read."""
    before = _open_fds()
    outcome = await _run(["bash", "-c", "echo bye; exec >&- 2>&-; sleep 0.3; exit 3"])
    assert outcome == ProcessOutcome("bye\n", "", 3, False, False)
    assert _open_fds() == before


async def _run_with_path(argv: list[str], path: str) -> ProcessOutcome:
    async with asyncio.timeout(WAIT):
        return await run_process(
            argv, cwd=None, env={**os.environ, "PATH": path}, timeout=None,
            cancel=asyncio.Event(), output_limit=1 << 20, on_start=None,
        )  # fmt: skip


def _program(folder: Path, name: str, says: str) -> None:
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\necho {says}\n")
    script.chmod(0o755)


async def test_a_program_is_found_again_when_it_moved(tmp_path: Path) -> None:
    """Found once per name and PATH (as a shell's command hash); gone: searched again."""
    first, second = tmp_path / "first", tmp_path / "second"
    path = f"{first}:{second}:{os.environ['PATH']}"
    _program(first, "squall-spawn-probe", "first")
    _program(second, "squall-spawn-probe", "second")
    assert (await _run_with_path(["squall-spawn-probe"], path)).stdout == "first\n"
    assert spawn_module._PROGRAMS[("squall-spawn-probe", path)] == str(first / "squall-spawn-probe")
    (first / "squall-spawn-probe").unlink()
    assert (await _run_with_path(["squall-spawn-probe"], path)).stdout == "second\n"
    (second / "squall-spawn-probe").unlink()
    with pytest.raises(FileNotFoundError):
        await _run_with_path(["squall-spawn-probe"], path)


async def test_argv0_is_kept_and_relative_path_entries_are_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = await _run_with_path(["bash", "-c", "echo $0"], os.environ["PATH"])
    assert outcome.stdout == "bash\n"  # the name as given, not the file found
    _program(tmp_path / "rel", "squall-spawn-rel", "relative")
    path = f"rel:{os.environ['PATH']}"
    monkeypatch.chdir(tmp_path)  # "rel" is found from the child's working directory
    assert (await _run_with_path(["squall-spawn-rel"], path)).stdout == "relative\n"
    assert ("squall-spawn-rel", path) not in spawn_module._PROGRAMS
