"""Squall-wide SSH settings (``runners.ssh``), as the runners receive them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HostKeyChecking(StrEnum):
    """OpenSSH's ``StrictHostKeyChecking`` yes / accept-new / no."""

    STRICT = "strict"
    ACCEPT_NEW = "accept-new"
    OFF = "off"


@dataclass(frozen=True)
class SshOptions:
    # Login user when an action names none (st2's ``system_user``); None: Squall's OS user.
    user: str | None = None
    # Private key when an action gives none; None: ~/.ssh/id_* and the SSH agent.
    key_file: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    host_key_checking: HostKeyChecking = HostKeyChecking.STRICT
    connect_timeout: float = 10.0
    # Most hosts one parallel action works on at once.
    max_parallel: int = 10
