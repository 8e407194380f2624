"""A real OpenSSH server for the remote-runner tests: ``sshd -D`` on 127.0.0.1, several ports.

Each port stands for one "host". The server has its own config, a temporary host key and one
authorized client key; it logs in one dedicated unprivileged user, ``squall-ssh``, who may run
anything through Debian's ``sudo`` without a password (so ``sudo: true`` really changes user).
The user is created when missing, which needs root: ``make test`` runs as root in CI and here.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "squall-ssh"
# A second user whose sudo asks for the password (sudo_password).
SUDO_PASSWORD_USER = "squall-ssh-pw"
# The test user's login password (password authentication is on for the password tests).
PASSWORD = "squall-test-password"
PASSPHRASE = "squall key passphrase"
SUDOERS = Path("/etc/sudoers.d/squall-ssh-test")
SUDOERS_RULES = f"{USER} ALL=(ALL) NOPASSWD: ALL\n{SUDO_PASSWORD_USER} ALL=(ALL) ALL\n"
HOSTS = 4
_START_SECONDS = 15.0


@dataclass(frozen=True)
class Sshd:
    dir: Path
    ports: tuple[int, ...]
    user: str
    client_key: Path  # authorized
    wrong_key: Path  # a valid key the server does not know
    encrypted_key: Path  # authorized, protected by PASSPHRASE
    host_key_line: str  # "<type> <base64>" of the server's host key
    no_session_port: int  # logs in, then refuses every session channel

    def hosts(self, count: int | None = None) -> str:
        """``127.0.0.1:p1,127.0.0.1:p2,…`` for the first ``count`` "hosts"."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports[:count])

    def known_hosts(self) -> str:
        return "".join(f"[127.0.0.1]:{port} {self.host_key_line}\n" for port in self.ports)


def _find(program: str) -> str:
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin:/sbin")
    if found is None:
        pytest.fail(
            f"{program} not found: the remote-runner tests need Debian's openssh-server and "
            "sudo (`make test` installs them as root: apt-get install openssh-server sudo)"
        )
    return found


def _ensure_users() -> None:
    for user in (USER, SUDO_PASSWORD_USER):
        try:
            pwd.getpwnam(user)
        except KeyError:
            if os.geteuid() != 0:
                pytest.fail(f"the test user {user!r} is missing and only root can create it")
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", user], check=True)
        if os.geteuid() == 0:
            # A password, so the account is not locked ("!": sshd without PAM refuses it),
            # and password login and sudo_password can be tested.
            subprocess.run(["chpasswd"], input=f"{user}:{PASSWORD}\n", text=True, check=True)
    if os.geteuid() == 0:
        SUDOERS.write_text(SUDOERS_RULES)
        SUDOERS.chmod(0o440)


def _keygen(path: Path, passphrase: str = "") -> None:
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "squall-test",
            "-f",
            str(path),
        ],
        check=True,
    )


def _free_ports(count: int) -> tuple[int, ...]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = tuple(sock.getsockname()[1] for sock in sockets)
    for sock in sockets:
        sock.close()
    return ports


def _config(folder: Path, ports: tuple[int, ...]) -> Path:
    lines = [f"Port {port}" for port in ports] + [
        "ListenAddress 127.0.0.1",
        f"HostKey {folder / 'host_key'}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin no",
        f"AllowUsers {USER} {SUDO_PASSWORD_USER}",
        "Subsystem sftp internal-sftp",
        "MaxSessions 50",
        "MaxStartups 50",
        "LogLevel ERROR",
        # The last port logs in but opens no session: a host that fails after login.
        f"Match LocalPort {ports[-1]}",
        "  MaxSessions 0",
    ]
    config = folder / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    return config


def _wait_listening(ports: tuple[int, ...], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_SECONDS
    pending = set(ports)
    while pending and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with {proc.returncode} while starting")
        for port in list(pending):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    pending.discard(port)
        time.sleep(0.05)
    if pending:
        pytest.fail(f"sshd did not listen on {sorted(pending)} within {_START_SECONDS:g} s")


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    sshd_bin = _find("sshd")
    _find("sudo")
    _ensure_users()
    # Readable by the test user: sshd reads authorized_keys with the user's rights.
    folder = Path(tempfile.mkdtemp(prefix="squall-sshd-"))
    folder.chmod(0o755)
    try:
        _keygen(folder / "host_key")
        _keygen(folder / "client_key")
        _keygen(folder / "wrong_key")
        _keygen(folder / "encrypted_key", PASSPHRASE)
        keys = [folder / "client_key.pub", folder / "encrypted_key.pub"]
        (folder / "authorized_keys").write_text("".join(key.read_text() for key in keys))
        (folder / "authorized_keys").chmod(0o644)
        ports = _free_ports(HOSTS + 1)
        config = _config(folder, ports)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        subprocess.run([sshd_bin, "-t", "-f", str(config)], check=True)
        proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(config)])
        try:
            _wait_listening(ports, proc)
            host_key = (folder / "host_key.pub").read_text().split()
            yield Sshd(
                folder,
                ports[:HOSTS],
                USER,
                folder / "client_key",
                folder / "wrong_key",
                folder / "encrypted_key",
                f"{host_key[0]} {host_key[1]}",
                ports[-1],
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
