"""remote-shell-cmd / remote-shell-script against a real OpenSSH server (tests/sshd.py)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from core.models import Action, ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.remote.connect import Connections, credentials
from core.runners.remote.hosts import parse_target
from core.runners.remote.options import HostKeyChecking, SshOptions
from core.runners.remote.runners import RemoteShellCmdRunner, RemoteShellScriptRunner
from tests.conftest import poll_until
from tests.sshd import PASSPHRASE, PASSWORD, SUDO_PASSWORD_USER, Sshd

S = ExecutionStatus
SCRIPTS = Path(__file__).parent.parent / "fixtures" / "scripts"
WAIT = 30.0


def _options(sshd: Sshd, tmp_path: Path, **overrides: Any) -> SshOptions:
    known = tmp_path / "known_hosts"
    if not known.exists():
        known.write_text(sshd.known_hosts())
    values: dict[str, Any] = {
        "user": sshd.user,
        "key_file": str(sshd.client_key),
        "known_hosts": str(known),
        "connect_timeout": 10.0,
    }
    return SshOptions(**{**values, **overrides})


def _ctx(
    tmp_path: Path,
    runner_parameters: Mapping[str, Any],
    *,
    runner_type: str = "remote-shell-cmd",
    entry_point: str = "",
    parameters: Mapping[str, Any] | None = None,
    action_parameters: Mapping[str, Any] | None = None,
    cancel: asyncio.Event | None = None,
) -> RunContext:
    action = Action(
        pack="tests",
        name="remote",
        runner_type=runner_type,
        pack_path=tmp_path / "pack",
        entry_point=entry_point,
        parameters=parameters or {},
    )
    return RunContext(
        execution_id=f"ex-{uuid.uuid4().hex[:8]}",
        action=action,
        runner_parameters={"timeout": 30, "cwd": "/tmp", **runner_parameters},
        action_parameters=action_parameters or {},
        cancel=cancel or asyncio.Event(),
        env={"ST2_ACTION_PACK_NAME": "tests"},
    )


async def _cmd(sshd: Sshd, tmp_path: Path, cmd: str, **params: Any) -> RunnerResult:
    options = _options(sshd, tmp_path)
    runner = RemoteShellCmdRunner(options)
    hosts = params.pop("hosts", sshd.hosts(1))
    async with asyncio.timeout(WAIT):
        return await runner.run(_ctx(tmp_path, {"cmd": cmd, "hosts": hosts, **params}))


def _processes_with(token: str) -> list[str]:
    """Command lines of live processes on this machine (the "remote" hosts) naming token."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if token in text and "pytest" not in text:
            found.append(text)
    return found


# --- remote-shell-cmd ----------------------------------------------------------------------


async def test_cmd_runs_on_three_hosts_in_parallel(sshd: Sshd, tmp_path: Path) -> None:
    # Each host waits until all three have started: only a parallel run can finish.
    barrier = Path(f"/tmp/squall-barrier-{uuid.uuid4().hex}")
    cmd = (
        f"echo x >> {barrier}; "
        f"for i in $(seq 100); do [ $(wc -l < {barrier}) -ge 3 ] && break; sleep 0.1; done; "
        f"[ $(wc -l < {barrier}) -ge 3 ] && whoami"
    )
    try:
        result = await _cmd(sshd, tmp_path, cmd, hosts=sshd.hosts(3), parallel=True)
    finally:
        barrier.unlink(missing_ok=True)
    assert result.status is S.SUCCEEDED, result.result
    assert sorted(result.result) == sorted(f"127.0.0.1:{port}" for port in sshd.ports[:3])
    for entry in result.result.values():
        assert entry == {
            "stdout": sshd.user,
            "stderr": "",
            "return_code": 0,
            "succeeded": True,
            "failed": False,
        }


async def test_parallel_false_runs_one_host_after_another(sshd: Sshd, tmp_path: Path) -> None:
    marker = Path(f"/tmp/squall-serial-{uuid.uuid4().hex}")
    cmd = f"echo start >> {marker}; sleep 0.3; echo end >> {marker}"
    try:
        result = await _cmd(sshd, tmp_path, cmd, hosts=sshd.hosts(2), parallel=False)
        lines = marker.read_text().split()
    finally:
        marker.unlink(missing_ok=True)
    assert result.status is S.SUCCEEDED
    assert lines == ["start", "end", "start", "end"]


async def test_one_failing_host_fails_the_execution(sshd: Sshd, tmp_path: Path) -> None:
    bad = f"127.0.0.1:{sshd.ports[0]}"
    cmd = "echo out; echo err >&2; exit 3"
    hosts = f"{bad},127.0.0.1:{_closed_port()}"
    result = await _cmd(sshd, tmp_path, cmd, hosts=hosts, parallel=True)
    assert result.status is S.FAILED
    assert result.result[bad] == {
        "stdout": "out",
        "stderr": "err",
        "return_code": 3,
        "succeeded": False,
        "failed": True,
    }
    unreachable = next(v for k, v in result.result.items() if k != bad)
    assert unreachable["return_code"] == 255
    assert unreachable["succeeded"] is False
    assert "cannot reach 127.0.0.1:" in unreachable["error"]


async def test_mixed_success_fails_but_keeps_every_host(sshd: Sshd, tmp_path: Path) -> None:
    ok, ko = sshd.ports[0], sshd.ports[1]
    # The port is not visible to the command, so fail on the second host through a file.
    flag = Path(f"/tmp/squall-once-{uuid.uuid4().hex}")
    cmd = f"if mkdir {flag} 2>/dev/null; then echo first; else exit 1; fi"
    try:
        result = await _cmd(sshd, tmp_path, cmd, hosts=f"127.0.0.1:{ok},127.0.0.1:{ko}")
    finally:
        flag.rmdir()
    assert result.status is S.FAILED
    assert [entry["succeeded"] for entry in result.result.values()] == [True, False]


async def test_host_refusing_the_session_is_a_clear_host_error(sshd: Sshd, tmp_path: Path) -> None:
    refusing = f"127.0.0.1:{sshd.no_session_port}"
    (tmp_path / "known_hosts").write_text(
        sshd.known_hosts() + f"[127.0.0.1]:{sshd.no_session_port} {sshd.host_key_line}\n"
    )
    result = await _cmd(sshd, tmp_path, "echo ok", hosts=f"{sshd.hosts(1)},{refusing}")
    assert result.status is S.FAILED
    assert result.result[f"127.0.0.1:{sshd.ports[0]}"]["succeeded"] is True
    entry = result.result[refusing]
    assert entry["return_code"] == 255
    assert entry["error"].startswith(f"SSH error with {refusing}: ")


async def test_env_and_cwd(sshd: Sshd, tmp_path: Path) -> None:
    value = 'it\'s a "quoted" $HOME `x` value'
    result = await _cmd(
        sshd, tmp_path, 'pwd; printf "%s\\n" "$GREETING"; echo "$ST2_ACTION_PACK_NAME"',
        cwd="/usr/share", env={"GREETING": value},
    )  # fmt: skip
    assert result.status is S.SUCCEEDED, result.result
    (entry,) = result.result.values()
    assert entry["stdout"] == f"/usr/share\n{value}\ntests"


async def test_bad_env_name_is_refused_before_connecting(sshd: Sshd, tmp_path: Path) -> None:
    result = await _cmd(sshd, tmp_path, "true", env={"A;rm -rf /": "x"})
    assert result.status is S.FAILED
    assert result.result["error"] == "env: 'A;rm -rf /' is not a valid environment variable name"


async def test_sudo_runs_as_root(sshd: Sshd, tmp_path: Path) -> None:
    result = await _cmd(sshd, tmp_path, "whoami; echo $GREETING", sudo=True, env={"GREETING": "hi"})
    assert result.status is S.SUCCEEDED, result.result
    (entry,) = result.result.values()
    assert entry["stdout"] == "root\nhi"


async def test_sudo_password(sshd: Sshd, tmp_path: Path) -> None:
    """A user whose sudo asks for a password: sudo_password goes to ``sudo -S`` on stdin."""
    base = {"username": SUDO_PASSWORD_USER, "sudo": True}
    result = await _cmd(sshd, tmp_path, "whoami", **base, sudo_password=PASSWORD)
    assert result.status is S.SUCCEEDED, result.result
    (entry,) = result.result.values()
    assert entry["stdout"] == "root"
    # Without it sudo fails at once (-n) instead of waiting for a prompt nobody answers.
    result = await _cmd(sshd, tmp_path, "whoami", **base)
    (entry,) = result.result.values()
    assert result.status is S.FAILED
    assert "a password is required" in entry["stderr"]
    result = await _cmd(sshd, tmp_path, "whoami", **base, sudo_password="wrong")
    assert result.status is S.FAILED


async def test_sudo_password_timeout_still_kills_the_group(sshd: Sshd, tmp_path: Path) -> None:
    token = f"{3000 + int(uuid.uuid4().int % 900)}.{uuid.uuid4().int % 1000}"
    await poll_until(lambda: not _processes_with(token), WAIT)
    result = await _cmd(
        sshd, tmp_path, f"sleep {token} & sleep {token}", timeout=1, sudo=True,
        username=SUDO_PASSWORD_USER, sudo_password=PASSWORD,
    )  # fmt: skip
    assert result.status is S.TIMEOUT, result.result
    await poll_until(lambda: not _processes_with(token), WAIT)


async def test_json_stdout_is_decoded(sshd: Sshd, tmp_path: Path) -> None:
    result = await _cmd(sshd, tmp_path, """echo '{"a": [1, 2]}'""")
    (entry,) = result.result.values()
    assert entry["stdout"] == {"a": [1, 2]}


@pytest.mark.parametrize("sudo", [False, True])
async def test_timeout_kills_the_remote_process_group(
    sshd: Sshd, tmp_path: Path, sudo: bool
) -> None:
    token = f"{3000 + int(uuid.uuid4().int % 900)}.{uuid.uuid4().int % 1000}"
    # A background job and a foreground one: both must die with the group.
    cmd = f"sleep {token} & sleep {token}1; echo never"
    await poll_until(lambda: not _processes_with(token), WAIT)
    result = await _cmd(sshd, tmp_path, cmd, timeout=1, sudo=sudo, hosts=sshd.hosts(2))
    assert result.status is S.TIMEOUT, result.result
    for entry in result.result.values():
        assert entry["timeout"] is True
        assert entry["return_code"] == -9
        assert entry["error"] == "Action failed to complete in 1 seconds"
    await poll_until(lambda: not _processes_with(token), WAIT)


async def test_cancel_kills_the_remote_process_group(sshd: Sshd, tmp_path: Path) -> None:
    token = f"{3000 + int(uuid.uuid4().int % 900)}.{uuid.uuid4().int % 1000}"
    cancel = asyncio.Event()
    runner = RemoteShellCmdRunner(_options(sshd, tmp_path))
    ctx = _ctx(tmp_path, {"cmd": f"sleep {token} & sleep {token}", "hosts": sshd.hosts(1)},
               cancel=cancel)  # fmt: skip
    task = asyncio.create_task(runner.run(ctx))
    await poll_until(lambda: len(_processes_with(token)) >= 2, WAIT)
    cancel.set()
    async with asyncio.timeout(WAIT):
        result = await task
    assert result.status is S.CANCELED
    await poll_until(lambda: not _processes_with(token), WAIT)


async def test_wrong_key_is_an_authentication_error(sshd: Sshd, tmp_path: Path) -> None:
    runner = RemoteShellCmdRunner(_options(sshd, tmp_path, key_file=str(sshd.wrong_key)))
    async with asyncio.timeout(WAIT):
        result = await runner.run(_ctx(tmp_path, {"cmd": "true", "hosts": sshd.hosts(1)}))
    assert result.status is S.FAILED
    (entry,) = result.result.values()
    assert entry["error"] == (
        f"authentication failed for {sshd.user}@127.0.0.1:{sshd.ports[0]}: "
        "the server refused the key or password"
    )


async def test_private_key_material_overrides_the_default(sshd: Sshd, tmp_path: Path) -> None:
    # The configured default key is wrong; the action's own key material logs in.
    options = _options(sshd, tmp_path, key_file=str(sshd.wrong_key))
    ctx = _ctx(tmp_path, {"cmd": "echo ok", "hosts": sshd.hosts(1),
                          "private_key": sshd.client_key.read_text()})  # fmt: skip
    async with asyncio.timeout(WAIT):
        result = await RemoteShellCmdRunner(options).run(ctx)
    assert result.status is S.SUCCEEDED, result.result


async def test_password_login(sshd: Sshd, tmp_path: Path) -> None:
    options = _options(sshd, tmp_path, key_file=None)
    for password, status in ((PASSWORD, S.SUCCEEDED), ("wrong", S.FAILED)):
        ctx = _ctx(tmp_path, {"cmd": "whoami", "hosts": sshd.hosts(1), "password": password})
        async with asyncio.timeout(WAIT):
            result = await RemoteShellCmdRunner(options).run(ctx)
        assert result.status is status, result.result
    (entry,) = result.result.values()
    assert entry["error"].startswith(f"authentication failed for {sshd.user}@127.0.0.1:")


async def test_encrypted_key_file_with_passphrase(sshd: Sshd, tmp_path: Path) -> None:
    options = _options(sshd, tmp_path, key_file=str(sshd.wrong_key))
    params = {"cmd": "echo ok", "hosts": sshd.hosts(1), "private_key": str(sshd.encrypted_key)}
    async with asyncio.timeout(WAIT):
        result = await RemoteShellCmdRunner(options).run(
            _ctx(tmp_path, {**params, "passphrase": PASSPHRASE})
        )
        assert result.status is S.SUCCEEDED, result.result
        result = await RemoteShellCmdRunner(options).run(
            _ctx(tmp_path, {**params, "passphrase": "not it"})
        )
    assert result.status is S.FAILED
    assert result.result["error"].startswith("cannot read the key file: ")
    assert PASSPHRASE not in json.dumps(result.result)


async def test_silent_server_is_a_connect_timeout(sshd: Sshd, tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        options = _options(sshd, tmp_path, connect_timeout=0.5)
        async with asyncio.timeout(WAIT):
            result = await RemoteShellCmdRunner(options).run(
                _ctx(tmp_path, {"cmd": "true", "hosts": f"127.0.0.1:{port}"})
            )
    assert result.status is S.FAILED
    assert result.result[f"127.0.0.1:{port}"]["error"] == (
        f"cannot reach 127.0.0.1:{port}: no SSH handshake within 0.5 s "
        "(runners.ssh.connect_timeout)"
    )


async def test_one_connection_per_host_and_user(sshd: Sshd, tmp_path: Path) -> None:
    options = _options(sshd, tmp_path)
    connections = Connections(options, credentials({}, options), None)
    target = parse_target(f"127.0.0.1:{sshd.ports[0]}", 22)
    try:
        async with asyncio.timeout(WAIT):
            first, second = await asyncio.gather(connections.get(target), connections.get(target))
            assert first is second
            other = await connections.get(parse_target(f"127.0.0.1:{sshd.ports[1]}", 22))
        assert other is not first
    finally:
        await connections.close()


async def test_unknown_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    result = await _cmd(sshd, tmp_path, "true")
    assert result.status is S.FAILED
    (entry,) = result.result.values()
    assert entry["error"] == (
        f"host key of [127.0.0.1]:{sshd.ports[0]} is not in {known} (runners.ssh.known_hosts); "
        "add it (ssh-keyscan) or set runners.ssh.host_key_checking: accept-new"
    )
    assert known.read_text() == ""


async def test_changed_host_key_is_refused_even_with_accept_new(sshd: Sshd, tmp_path: Path) -> None:
    other = (sshd.wrong_key.with_suffix(".pub")).read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.ports[0]} {other[0]} {other[1]}\n")
    options = _options(sshd, tmp_path, host_key_checking=HostKeyChecking.ACCEPT_NEW)
    async with asyncio.timeout(WAIT):
        result = await RemoteShellCmdRunner(options).run(
            _ctx(tmp_path, {"cmd": "true", "hosts": sshd.hosts(1)})
        )
    assert result.status is S.FAILED
    (entry,) = result.result.values()
    assert entry["error"].startswith(f"host key of [127.0.0.1]:{sshd.ports[0]} does not match")


async def test_accept_new_trusts_and_records_a_new_host(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    options = _options(sshd, tmp_path, host_key_checking=HostKeyChecking.ACCEPT_NEW)
    for _ in range(2):  # the second run finds the recorded key
        async with asyncio.timeout(WAIT):
            result = await RemoteShellCmdRunner(options).run(
                _ctx(tmp_path, {"cmd": "echo ok", "hosts": sshd.hosts(2), "parallel": True})
            )
        assert result.status is S.SUCCEEDED, result.result
    assert sorted(known.read_text().splitlines()) == sorted(sshd.known_hosts().splitlines()[:2])


async def test_off_skips_host_key_checking(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    options = _options(sshd, tmp_path, host_key_checking=HostKeyChecking.OFF)
    async with asyncio.timeout(WAIT):
        result = await RemoteShellCmdRunner(options).run(
            _ctx(tmp_path, {"cmd": "echo ok", "hosts": sshd.hosts(1)})
        )
    assert result.status is S.SUCCEEDED
    assert known.read_text() == ""


async def test_bastion_host_tunnels_the_connection(sshd: Sshd, tmp_path: Path) -> None:
    result = await _cmd(
        sshd, tmp_path, "echo via", hosts=sshd.hosts(1)[:0] + f"127.0.0.1:{sshd.ports[1]}",
        bastion_host=f"127.0.0.1:{sshd.ports[2]}",
    )  # fmt: skip
    assert result.status is S.SUCCEEDED, result.result


async def test_bad_hosts_value_is_a_clear_error(sshd: Sshd, tmp_path: Path) -> None:
    result = await _cmd(sshd, tmp_path, "true", hosts="web1:99999")
    assert result.status is S.FAILED
    assert result.result["error"] == "bad port in host 'web1:99999': expected 1-65535"


# --- remote-shell-script -------------------------------------------------------------------


def _script_pack(tmp_path: Path) -> None:
    actions = tmp_path / "pack" / "actions"
    (actions / "lib").mkdir(parents=True)
    shutil.copy(SCRIPTS / "print_args.sh", actions / "print_args.sh")
    (actions / "lib" / "helper.txt").write_text("from lib\n")
    (actions / "where.sh").write_text(
        '#!/bin/bash\nprintf "%s\\n" "$(cat "$(dirname "$0")/lib/helper.txt")" "$0"\n'
    )


async def test_script_with_positional_and_named_arguments(sshd: Sshd, tmp_path: Path) -> None:
    _script_pack(tmp_path)
    parameters = {
        "first": {"type": "string", "position": 0},
        "second": {"type": "string", "position": 1},
        "flag": {"type": "boolean"},
        "name": {"type": "string"},
    }
    values = {
        "first": "two words",
        "second": 'it\'s "quoted"; $(touch /tmp/pwned) `id`',
        "flag": True,
        "name": "a b'c",
    }
    ctx = _ctx(tmp_path, {"hosts": sshd.hosts(2), "parallel": True},
               runner_type="remote-shell-script", entry_point="print_args.sh",
               parameters=parameters, action_parameters=values)  # fmt: skip
    async with asyncio.timeout(WAIT):
        result = await RemoteShellScriptRunner(_options(sshd, tmp_path)).run(ctx)
    assert result.status is S.SUCCEEDED, result.result
    for entry in result.result.values():
        args = entry["stdout"].split("\0")[:-1]
        assert args == ["--flag", "--name=a b'c", "two words", values["second"]]
    assert not Path("/tmp/pwned").exists()


async def test_script_dir_is_per_execution_and_removed(sshd: Sshd, tmp_path: Path) -> None:
    _script_pack(tmp_path)
    ctx = _ctx(tmp_path, {"hosts": sshd.hosts(1)}, runner_type="remote-shell-script",
               entry_point="where.sh")  # fmt: skip
    async with asyncio.timeout(WAIT):
        result = await RemoteShellScriptRunner(_options(sshd, tmp_path)).run(ctx)
    assert result.status is S.SUCCEEDED, result.result
    (entry,) = result.result.values()
    lib_line, path = entry["stdout"].split("\n")
    assert lib_line == "from lib"
    assert re.fullmatch(rf"/tmp/squall-{ctx.execution_id}-[0-9a-f]{{8}}/where\.sh", path)
    assert not Path(path).parent.exists()


async def test_script_without_shebang_runs_under_bash_with_sudo(sshd: Sshd, tmp_path: Path) -> None:
    actions = tmp_path / "pack" / "actions"
    actions.mkdir(parents=True)
    (actions / "who.sh").write_text('echo "$(whoami) in $(pwd)"\n')
    ctx = _ctx(tmp_path, {"hosts": sshd.hosts(1), "sudo": True, "cwd": "/var"},
               runner_type="remote-shell-script", entry_point="who.sh")  # fmt: skip
    async with asyncio.timeout(WAIT):
        result = await RemoteShellScriptRunner(_options(sshd, tmp_path)).run(ctx)
    assert result.status is S.SUCCEEDED, result.result
    (entry,) = result.result.values()
    assert entry["stdout"] == "root in /var"


async def test_script_timeout_removes_the_upload_too(sshd: Sshd, tmp_path: Path) -> None:
    actions = tmp_path / "pack" / "actions"
    actions.mkdir(parents=True)
    token = f"{3000 + int(uuid.uuid4().int % 900)}.{uuid.uuid4().int % 1000}"
    (actions / "slow.sh").write_text(f"#!/bin/sh\nsleep {token}\n")
    ctx = _ctx(tmp_path, {"hosts": sshd.hosts(1), "timeout": 1},
               runner_type="remote-shell-script", entry_point="slow.sh")  # fmt: skip
    async with asyncio.timeout(WAIT):
        result = await RemoteShellScriptRunner(_options(sshd, tmp_path)).run(ctx)
    assert result.status is S.TIMEOUT
    assert not list(Path("/tmp").glob(f"squall-{ctx.execution_id}-*"))
    await poll_until(lambda: not _processes_with(token), WAIT)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
