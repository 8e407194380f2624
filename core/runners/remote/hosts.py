"""Where to connect: st2's ``hosts`` list (``a,b:2222``) as targets. Pure."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PORT = 22


class HostListError(ValueError):
    """A ``hosts`` or ``bastion_host`` value that names no usable host."""


@dataclass(frozen=True)
class Target:
    """One host as the action named it; ``label`` keys the result as in st2."""

    label: str
    host: str
    port: int


def parse_target(entry: str, default_port: int) -> Target:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    text = entry.strip()
    if not text:
        raise HostListError("empty host name")
    host, port = text, default_port
    if text.startswith("["):
        inside, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise HostListError(f"bad host {text!r}: expected [address]:port")
        host, port = inside, _port(rest[1:], text) if rest else default_port
    elif text.count(":") == 1:
        name, _, port_text = text.partition(":")
        host, port = name, _port(port_text, text)
    if not host:
        raise HostListError(f"bad host {text!r}: no host name")
    return Target(label=text, host=host, port=port)


def parse_hosts(value: object, default_port: int | None) -> list[Target]:
    """Every target of a comma list, duplicates dropped (st2 runs a host once)."""
    if not isinstance(value, str) or not value.strip():
        raise HostListError("hosts is required: a comma-separated list such as web1,web2:2222")
    port = default_port or DEFAULT_PORT
    targets: dict[str, Target] = {}
    for entry in value.split(","):
        if entry.strip():
            target = parse_target(entry, port)
            targets.setdefault(target.label, target)
    if not targets:
        raise HostListError(f"hosts names no host: {value!r}")
    return list(targets.values())


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise HostListError(f"bad port in host {entry!r}: expected 1-65535")
    return int(text)
