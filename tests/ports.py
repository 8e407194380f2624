"""Ports for the servers tests start (``squall serve``, SecantusDB, st2's API …).

Not ``bind(0)`` and release: the kernel then hands out a port from its ephemeral range
(32768 and up), where every other worker's ``bind(0)`` and outgoing connection also take
theirs, and one of them could take the port before the server under test binds it (seen in
CI: "address already in use" from a serve that never listened). Instead each pytest-xdist
worker counts through a block of its own below that range, skipping ports something holds.
"""

from __future__ import annotations

import itertools
import os
import socket

_FIRST = 10_000
_BLOCK = 2_000  # ports per worker; 10 workers fit below 32768
_WORKERS = 10


def _worker_number() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, … (none: not distributed)
    digits = name.removeprefix("gw")
    return int(digits) % _WORKERS if digits.isdigit() else 0


_START = _FIRST + _BLOCK * _worker_number()
_COUNTER = itertools.count()  # next() is atomic: tests that start servers from threads share it


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds now and that this process has not handed out."""
    for _ in range(_BLOCK):
        port = _START + next(_COUNTER) % _BLOCK
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_START}-{_START + _BLOCK - 1}")
