"""``squall serve`` as a user runs it: type at the console chat, see the run card update."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, wait_status, write_config
from tests.ports import free_port
from tests.serve_process import Output, start_serve, stop, type_line


def test_console_runs_core_echo_and_quits(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace("  enabled: false", f"  enabled: true\n  port: {port}")
    )
    proc = start_serve(config)
    out = Output(proc)
    try:
        out.until("Squall console")
        type_line(proc, "run core.echo message=hi")
        output = out.until("core.echo (succeeded)")
        assert "execution " in output and "requested (core.echo)" in output
        assert "\n    hi\n" in out.until("· ")  # the card's code block, then its footer
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            health = json.load(resp)
        assert health["status"] == "ok" and health["store"] == "sqlite"
        assert health["adapters"] == {"console": "connected"}
        assert health["delivery_failures"] == 0
        doctor = subprocess.run(
            [sys.executable, "-m", "bot", "doctor", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert doctor.returncode == 0, doctor.stdout
        assert "ok    serve: running; adapters {'console': 'connected'}" in doctor.stdout
        type_line(proc, "bogus")
        out.until("I don't know 'bogus'. Type help.")
        type_line(proc, "!help")
        assert "echo {{message}}" in out.until("Built-in commands:")
        type_line(proc, "!echo hello")
        out.until("I'll take it from here! Your execution ID for reference is")
        done = out.until("core.echo (succeeded)")
        assert "↻ updated" in done
        assert "hello" in out.until("· ")
        type_line(proc, "quit")
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)


def run_at_console(proc: subprocess.Popen[str], out: Output, line: str) -> str:
    """Type ``line`` (a ``run``) at the console once it greets; the id of the execution."""
    out.until("Squall console")
    type_line(proc, line)
    requested = out.until("requested")
    return requested.split("execution ", 1)[1].split()[0]


def test_sigterm_abandons_running_and_exits_zero(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  shutdown_grace_seconds: 0.5\n")
    proc = start_serve(config)
    out = Output(proc)
    try:
        execution_id = run_at_console(proc, out, "run core.local cmd='sleep 60'")
        wait_status(config, execution_id, "running")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)
    got = subprocess.run(
        [sys.executable, "-m", "bot", "execution", "get", execution_id, "--json",
         "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert json.loads(got.stdout)["status"] == "abandoned"


def test_sigterm_lets_running_work_finish_and_posts_its_result(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  shutdown_grace_seconds: 30\n")
    proc = start_serve(config)
    out = Output(proc)
    try:
        execution_id = run_at_console(proc, out, "run core.local cmd='sleep 1.5; echo slept'")
        wait_status(config, execution_id, "running")
        os.kill(proc.pid, signal.SIGTERM)
        finished = out.until("core.local (succeeded)")
        assert "↻ updated" in finished
        assert "    slept" in out.until("· ")
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)


def test_piped_input_finishes_its_runs_prints_results_and_exits(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--config", str(config)],
        input="noop\nrun core.local cmd='sleep 1; echo done'\n",
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "core.noop (succeeded)" in done.stdout
    assert "core.local (succeeded)" in done.stdout and "    done\n" in done.stdout


def test_empty_input_keeps_serving(tmp_path: Path) -> None:
    """</dev/null (a service manager, nohup) is not a script that ended: Squall stays up."""
    config = write_config(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", str(config)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    out = Output(proc)
    try:
        out.until("Squall console")  # the console read its (empty) input by now
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_at_a_terminal_the_prompt_stays_intact_and_logs_go_to_a_file(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace("  enabled: false", f"  enabled: true\n  port: {port}")
    )
    main_fd, child_fd = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", str(config)],
        cwd=ROOT, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(child_fd)
    screen = Terminal(main_fd)
    try:
        screen.until("squall>")
        os.write(main_fd, b"run core.local cmd='sleep 1; echo done'\r")
        screen.until("core.local (succeeded)")
        screen.until("squall>")  # typed while output prints, Ctrl-D would meet a cooked tty
        os.write(main_fd, b"\x04")  # Ctrl-D stops Squall
        assert screen.read_until_exit(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(main_fd)
    lines = [line.strip() for line in rendered(screen.text)]
    assert f"Logs go to {tmp_path}/var/squall.log." in lines
    assert "[#console] core.local (requested)" in lines  # not "squall> [#console] …"
    shown = [line for line in lines if line]
    assert shown[-1] == "squall>"  # the prompt, redrawn under the last card
    assert shown[-2].startswith("execution ") and " · " in shown[-2]  # the card's footer
    assert not [line for line in lines if "INFO" in line or "WARNING  bot" in line]
    logged = (tmp_path / "var" / "squall.log").read_text()
    assert f"INFO     bot.serve: listening on http://127.0.0.1:{port}" in logged
    assert "requested: core.local" in logged


CURSOR = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\r|\n|[^\x1b\r\n]")


def rendered(output: str) -> list[str]:
    """The lines a terminal shows for ``output``: enough of VT100 for prompt-toolkit's
    single-line prompt (carriage return, cursor left/right/up, erase to end)."""
    rows: list[list[str]] = [[]]
    row = col = 0
    for found in CURSOR.finditer(output):
        text, args, command = found.group(0), found.group(1) or "", found.group(2)
        count = int(args) if args.isdigit() else 1
        if text == "\r":
            col = 0
        elif text == "\n":
            row += 1
            rows.extend([] for _ in range(row + 1 - len(rows)))
        elif command == "D":
            col = max(0, col - count)
        elif command == "C":
            col += count
        elif command == "A":
            row = max(0, row - count)
        elif command in ("J", "K"):
            del rows[row][col:]
            if command == "J":
                del rows[row + 1 :]
        elif command is None:
            line = rows[row]
            line.extend(" " * (col - len(line)))
            line[col : col + 1] = [text]
            col += 1
    return ["".join(line) for line in rows]


class Terminal:
    """What a program wrote to its pseudo-terminal, read with bounded waits."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.text = ""
        self.mark = 0

    def read_until_exit(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
        """Keep reading (a program blocks writing to a terminal nobody reads), until it exits."""
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"still running; the terminal shows:\n{self.text}"
            ready, _, _ = select.select([self.fd], [], [], min(remaining, 0.2))
            if ready:
                with contextlib.suppress(OSError):
                    self.text += os.read(self.fd, 65536).decode(errors="replace")
        return proc.returncode

    def until(self, needle: str, timeout: float = 30) -> None:
        """Read until ``needle`` shows after the previous one found (escape codes ignored)."""
        deadline = time.monotonic() + timeout
        while (found := ANSI.sub("", self.text).find(needle, self.mark)) < 0:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{needle!r} never appeared in:\n{self.text}"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    self.text += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the program closed the terminal
                    break
        self.mark = found + len(needle)
