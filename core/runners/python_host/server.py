"""The fork server: a warmed interpreter that forks one child per python-script execution.

Single-threaded on purpose (forking a threaded process is unsafe): one selector loop over the
control socket and a SIGCHLD wakeup pipe. Each ``run`` is forked at once and its fds closed in
the server, so a child never holds another run's pipes; reaping happens only in the loop, after
``started`` was sent, so Squall always sees ``started`` before ``exit``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import selectors
import signal
import socket
from types import FrameType
from typing import Any

from . import child
from .protocol import FDS_PER_RUN, MAX_FDS_PER_RUN, MAX_MESSAGE, decode, encode

# What pack actions import most, paid once here instead of once per execution. Missing
# optional ones (yaml, six, requests) are skipped.
PRELOAD = (
    *("abc", "argparse", "base64", "collections", "copy", "csv", "datetime", "functools"),
    *("hashlib", "inspect", "ipaddress", "itertools", "json", "logging", "random", "re"),
    *("shlex", "socket", "string", "subprocess", "tempfile", "textwrap", "time", "traceback"),
    *("urllib.parse", "urllib.request", "uuid", "yaml", "six", "requests"),
    *("st2common.runners.base_action", "st2reactor.sensor.base"),
)


def main(sock_fd: int) -> int:
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    # Keep the warmed heap out of the collector so children don't copy its pages on write.
    gc.freeze()
    Server(socket.socket(fileno=sock_fd)).serve()
    return 0


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD needs a Python handler for ``set_wakeup_fd`` to fire; the loop does the work."""


class Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: dict[int, int] = {}  # pid -> request id
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.selector = selectors.DefaultSelector()

    def serve(self) -> None:
        # Squall owns our lifetime (EOF on the socket); a Ctrl-C on its terminal is not for us.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, _on_signal)
        self.selector.register(self.sock, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send({"op": "ready", "pid": os.getpid()})
            while self.step():
                pass

    def step(self) -> bool:
        for key, _ in self.selector.select():
            if key.fileobj is self.sock:
                if not self.on_request():
                    return False
            else:
                self.reap()
        return True

    def send(self, message: dict[str, Any]) -> None:
        self.sock.send(encode(message))

    def on_request(self) -> bool:
        data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, MAX_FDS_PER_RUN)
        try:
            if not data:
                return False  # Squall closed its end: stop serving.
            self.start(decode(data), fds)
        finally:
            for fd in fds:  # the child has its copies now; ours would delay EOF for Squall
                os.close(fd)
        return True

    def start(self, message: dict[str, Any], fds: list[int]) -> None:
        request_id = message.get("id")
        try:
            if message.get("op") != "run" or not isinstance(request_id, int):
                raise ValueError(f"bad request {message!r}")
            if not FDS_PER_RUN <= len(fds) <= MAX_FDS_PER_RUN:
                raise ValueError(f"bad request {message!r} with {len(fds)} fds")
            pid = os.fork()
        except (OSError, ValueError) as e:
            self.send({"op": "error", "id": request_id, "message": str(e)})
            return
        if pid == 0:
            child.forked(fds, self.close_in_child)
        self.children[pid] = request_id
        self.send({"op": "started", "id": request_id, "pid": pid})

    def close_in_child(self) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.selector.close()
        self.sock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)

    def reap(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wake_r, 512):
                pass
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request_id = self.children.pop(pid, None)
            if request_id is not None:
                code = os.waitstatus_to_exitcode(status)
                self.send({"op": "exit", "id": request_id, "returncode": code})
