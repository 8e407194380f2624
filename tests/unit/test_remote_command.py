"""Pure parts of the remote runners: the hosts list and the quoted remote command line."""

from __future__ import annotations

import shlex

import pytest

from core.runners.remote.command import (
    CommandError,
    Sudo,
    kill_group_command,
    parse_group_line,
    remote_command,
    remote_launcher,
    script_body,
)
from core.runners.remote.hosts import HostListError, Target, parse_hosts


def test_hosts_list_with_ports_ipv6_and_duplicates() -> None:
    assert parse_hosts(" web1, web2:2222,[::1]:2200,web1 ,", 22) == [
        Target("web1", "web1", 22),
        Target("web2:2222", "web2", 2222),
        Target("[::1]:2200", "::1", 2200),
    ]
    assert parse_hosts("web1", 2022) == [Target("web1", "web1", 2022)]
    assert parse_hosts("::1", None) == [Target("::1", "::1", 22)]


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ("", "hosts is required: a comma-separated list such as web1,web2:2222"),
        (" , ", "hosts names no host: ' , '"),
        ("web:0", "bad port in host 'web:0': expected 1-65535"),
        ("web:ssh", "bad port in host 'web:ssh': expected 1-65535"),
        (":22", "bad host ':22': no host name"),
        ("[::1", "bad host '[::1': expected [address]:port"),
    ],
)
def test_bad_hosts_are_named(hosts: str, message: str) -> None:
    with pytest.raises(HostListError) as caught:
        parse_hosts(hosts, None)
    assert str(caught.value) == message


def test_remote_command_wraps_and_quotes() -> None:
    # End to end through a real shell: tests/integration/test_runner_remote.py (env and cwd).
    line = remote_command("echo hi", cwd="/tmp/a b", env={"X": "it's"}, sudo=Sudo(False))
    words = shlex.split(line)
    assert words[:4] == ["setsid", "-w", "bash", "-c"]
    assert words[4] == (
        "printf 'squall-remote-pgid:%s\\n' \"$$\"; "
        "cd '/tmp/a b' && export X='it'\"'\"'s' && echo hi"
    )


def test_sudo_prefixes() -> None:
    assert remote_command("id", cwd=None, env={}, sudo=Sudo(True)).startswith("sudo -n -E -- ")
    with_password = Sudo(True, "pw")
    assert remote_command("id", cwd=None, env={}, sudo=with_password).startswith(
        "sudo -S -p '' -E -- "
    )
    assert with_password.stdin() == b"pw\n"
    assert kill_group_command(42, Sudo(True)) == "sudo -n -E -- kill -KILL -- -42"
    assert kill_group_command(42, Sudo(False)) == "kill -KILL -- -42"


def test_bad_env_name_is_refused() -> None:
    with pytest.raises(CommandError, match="env: 'A B' is not a valid environment variable name"):
        remote_command("true", cwd=None, env={"A B": "x"}, sudo=Sudo(False))


def test_script_body_and_launcher() -> None:
    assert script_body(["bash"], ["/tmp/d/s.sh", "--a=b c", "x'y"]) == (
        "bash /tmp/d/s.sh '--a=b c' 'x'\"'\"'y'"
    )
    assert remote_launcher(b"#!/bin/sh", debug=False) == []
    assert remote_launcher(b"#!/usr/bin/env bash", debug=True) == ["bash", "-x"]
    assert remote_launcher(b"echo no shebang", debug=False) == ["bash"]
    assert remote_launcher(b"#!/usr/bin/python3", debug=True) == []
    assert parse_group_line(b"hello\n") is None
    assert parse_group_line(b"squall-remote-pgid:123\n") == 123
