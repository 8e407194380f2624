"""SSH connections of one execution: credentials, host-key policy, reuse, clear errors."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.runners.remote.hosts import Target
from core.runners.remote.options import HostKeyChecking, SshOptions
from core.runners.remote.sshlib import asyncssh

_KEY_MATERIAL = "PRIVATE KEY-----"


class RemoteHostError(Exception):
    """A host the action could not run on (login, upload); the message names host and reason."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str | None
    # None: asyncssh's defaults (~/.ssh/id_*, the agent); else exactly these keys.
    keys: tuple[asyncssh.SSHKey, ...] | None


def credentials(params: Mapping[str, Any], options: SshOptions) -> Credentials:
    """The action's ``username``/``private_key``/``password`` over ``runners.ssh`` defaults.

    Raises ``RemoteHostError`` for a key that cannot be read (never echoing key material).
    """
    username = params.get("username") or options.user or getpass.getuser()
    passphrase = params.get("passphrase") or None
    key_text = params.get("private_key") or None
    try:
        if key_text and _KEY_MATERIAL in key_text:
            keys: tuple[asyncssh.SSHKey, ...] | None = (
                asyncssh.import_private_key(key_text, passphrase),
            )
        elif key_text or options.key_file:
            path = os.path.expanduser(str(key_text or options.key_file))
            keys = (asyncssh.read_private_key(path, passphrase),)
        else:
            keys = None
    except (OSError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        source = "private_key material" if key_text and _KEY_MATERIAL in key_text else "key file"
        raise RemoteHostError(f"cannot read the {source}: {exc}") from None
    return Credentials(str(username), params.get("password") or None, keys)


class _HostKeyPolicy(asyncssh.SSHClient):
    """Called by asyncssh for a host key not in known_hosts: accept-new adds unknown hosts."""

    def __init__(self, known: asyncssh.SSHKnownHosts, path: Path, mode: HostKeyChecking) -> None:
        self.known = known
        self.path = path
        self.mode = mode
        self.refusal = ""

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        name = host if port == 22 else f"[{host}]:{port}"
        if self.known.match(host, addr, port)[0]:
            self.refusal = (
                f"host key of {name} does not match {self.path}: the host was reinstalled or "
                "someone is intercepting the connection; remove the old line if it is expected"
            )
            return False
        if self.mode is not HostKeyChecking.ACCEPT_NEW:
            self.refusal = (
                f"host key of {name} is not in {self.path} (runners.ssh.known_hosts); add it "
                "(ssh-keyscan) or set runners.ssh.host_key_checking: accept-new"
            )
            return False
        _remember(self.path, name, key)
        return True


def _remember(path: Path, name: str, key: asyncssh.SSHKey) -> None:
    """Append ``name key`` to known_hosts (synchronous: no other connect interleaves)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{name} {key.export_public_key().decode().strip()}\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)


def _known_hosts(path: Path) -> asyncssh.SSHKnownHosts:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise RemoteHostError(f"cannot read known_hosts {path}: {exc.strerror}") from None
    return asyncssh.import_known_hosts(text)


class Connections:
    """One connection per (host, port, user) for the length of one execution."""

    def __init__(self, options: SshOptions, creds: Credentials, bastion: Target | None) -> None:
        self.options = options
        self.creds = creds
        self.bastion = bastion
        self._open: dict[tuple[str, int, str], asyncio.Task[asyncssh.SSHClientConnection]] = {}

    async def get(self, target: Target) -> asyncssh.SSHClientConnection:
        key = (target.host, target.port, self.creds.username)
        task = self._open.get(key)
        if task is None:
            task = asyncio.ensure_future(self._connect(target))
            self._open[key] = task
        return await asyncio.shield(task)

    async def close(self) -> None:
        for task in self._open.values():
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                conn = await task
                conn.close()
                await conn.wait_closed()
        self._open.clear()

    async def _connect(self, target: Target) -> asyncssh.SSHClientConnection:
        tunnel = None
        if self.bastion is not None and target != self.bastion:
            tunnel = await self.get(self.bastion)
        path = Path(os.path.expanduser(self.options.known_hosts))
        checking = self.options.host_key_checking
        known = None if checking is HostKeyChecking.OFF else _known_hosts(path)
        policy = _HostKeyPolicy(known or asyncssh.import_known_hosts(""), path, checking)
        try:
            conn, _ = await asyncio.wait_for(
                asyncssh.create_connection(
                    lambda: policy, target.host, target.port, **self._login(known, tunnel)
                ),
                self.options.connect_timeout,
            )
        except Exception as exc:
            raise RemoteHostError(_describe(exc, target, self, policy)) from None
        return conn

    def _login(
        self, known: asyncssh.SSHKnownHosts | None, tunnel: asyncssh.SSHClientConnection | None
    ) -> dict[str, Any]:
        creds = self.creds
        login: dict[str, Any] = {
            "username": creds.username,
            "known_hosts": known,
            "password": creds.password,
            "tunnel": tunnel,
            # Explicit credentials are the only ones tried (as st2 does): a wrong key must fail
            # as a wrong key, not succeed through whatever an agent holds.
            "agent_path": () if creds.keys is None and creds.password is None else None,
        }
        if creds.keys is not None:
            login["client_keys"] = list(creds.keys)
        elif creds.password is not None:
            login["client_keys"] = None
        return login


def _describe(exc: BaseException, target: Target, pool: Connections, policy: _HostKeyPolicy) -> str:
    where = f"{pool.creds.username}@{target.label}"
    if isinstance(exc, RemoteHostError):
        return str(exc)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return policy.refusal or f"host key of {target.label} not verified: {exc.reason}"
    if isinstance(exc, asyncssh.PermissionDenied):
        return f"authentication failed for {where}: the server refused the key or password"
    if isinstance(exc, TimeoutError):
        return (
            f"cannot reach {target.label}: no SSH handshake within "
            f"{pool.options.connect_timeout:g} s (runners.ssh.connect_timeout)"
        )
    if isinstance(exc, OSError):
        return f"cannot reach {target.label}: {exc.strerror or exc}"
    if isinstance(exc, asyncssh.Error):
        return f"SSH error with {where}: {exc.reason}"
    return f"SSH error with {where}: {type(exc).__name__}: {exc}"
