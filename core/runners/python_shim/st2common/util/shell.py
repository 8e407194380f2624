"""st2's ``st2common.util.shell``: quoting and running commands from pack code."""

import contextlib
import shlex
import subprocess
from subprocess import list2cmdline

__all__ = ["kill_process", "quote_unix", "quote_windows", "run_command"]


def quote_unix(value):
    """``value`` as one POSIX shell token."""
    return shlex.quote(value)


def quote_windows(value):
    """``value`` as one token of an MS C runtime command line."""
    return list2cmdline([value])


def run_command(
    cmd,
    stdin=None,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    shell=False,
    cwd=None,
    env=None,
    timeout=None,
    preexec_func=None,
    kill_func=None,
    read_stdout_func=None,
    read_stderr_func=None,
    read_stdout_buffer=None,
    read_stderr_buffer=None,
    stdin_value=None,
    bufsize=0,
):
    """Run ``cmd`` and return ``(exit_code, stdout, stderr)`` as text (st2's contract).

    The streaming arguments of st2's eventlet version are accepted and ignored; a timeout
    kills the command and returns exit code -9 like st2.
    """
    process = subprocess.Popen(
        cmd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        shell=shell,
        cwd=cwd,
        env=env,
        preexec_fn=preexec_func,
    )
    data = stdin_value.encode() if isinstance(stdin_value, str) else stdin_value
    try:
        out, err = process.communicate(data, timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        (kill_func or kill_process)(process)
        out, err = process.communicate()
        code = -9
    return code, _text(out), _text(err)


def kill_process(process):
    """Kill ``process`` and the children it started."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _text(data):
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
