"""Which addresses the http-request runner may connect to (security.md §4.5).

Host names are resolved once, every resolved address is checked, and the connection goes to
exactly those checked addresses (:class:`VettingResolver`), so DNS rebinding between the check
and the connect is not possible.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Never useful to an action and classic SSRF targets: link-local (cloud metadata at
# 169.254.169.254), "this network", multicast, broadcast, the unspecified IPv6 address.
DEFAULT_DENIED: tuple[str, ...] = (
    "0.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "fe80::/10",
    "ff00::/8",
)
# Also everything internal: loopback, private, shared (CGNAT), benchmarking, reserved.
STRICT_DENIED: tuple[str, ...] = (
    *DEFAULT_DENIED,
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "198.18.0.0/15",
    "240.0.0.0/4",
    "::1/128",
    "fc00::/7",
    "fec0::/10",
)
# Characters of the legacy IPv4 spellings inet_aton accepts: 2130706433, 0x7f.1, 0177.0.0.1.
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")


@dataclass(frozen=True)
class HttpPolicy:
    denied_networks: tuple[str, ...] = DEFAULT_DENIED
    # Exceptions carved out of the denied networks (e.g. one internal API).
    allowed_networks: tuple[str, ...] = ()
    allowed_schemes: tuple[str, ...] = ("http", "https")

    @classmethod
    def strict(cls, allowed_networks: tuple[str, ...] = ()) -> HttpPolicy:
        """Deny every internal address too: the preset for chat-supplied URLs."""
        return cls(denied_networks=STRICT_DENIED, allowed_networks=allowed_networks)

    def __post_init__(self) -> None:
        # Parse now so a typo in the configuration fails at startup, not on the first request.
        _ = self._denied, self._allowed

    @cached_property
    def _denied(self) -> tuple[IPNetwork, ...]:
        return _networks(self.denied_networks)

    @cached_property
    def _allowed(self) -> tuple[IPNetwork, ...]:
        return _networks(self.allowed_networks)

    def denial_reason(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be contacted, or None when it may."""
        for candidate in _embedded(address):
            network = next((n for n in self._denied if candidate in n), None)
            if network is not None and not any(candidate in n for n in self._allowed):
                return f"{candidate} is in denied network {network}"
        return None


class BlockedAddressError(OSError):
    """A request the policy refused; an ``OSError`` so aiohttp passes it through its resolver."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"request to {host} ({address}) blocked: {reason}")
        self.host = host
        self.address = address


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, in any spelling the C library would accept."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _LEGACY_IPV4.fullmatch(host) or not any(c.isdigit() for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_literal(policy: HttpPolicy, host: str) -> None:
    """Refuse a host that is a denied IP literal (aiohttp connects to those without resolving)."""
    address = literal_address(host)
    if address is None:
        return
    reason = policy.denial_reason(address)
    if reason is not None:
        raise BlockedAddressError(host, str(address), reason)


def host_list_error(host: str, whitelist: Iterable[str], blacklist: Iterable[str]) -> str | None:
    """st2's per-action ``url_hosts_whitelist``/``url_hosts_blacklist``, by host name."""
    allowed, denied = {_host_key(h) for h in whitelist}, {_host_key(h) for h in blacklist}
    if allowed and denied:
        return "url_hosts_blacklist and url_hosts_whitelist are mutually exclusive"
    key = _host_key(host)
    if allowed and key not in allowed:
        return f"host {host} is not in url_hosts_whitelist"
    if key in denied:
        return f"host {host} is in url_hosts_blacklist"
    return None


async def vet_host(
    policy: HttpPolicy, host: str, port: int, family: int = 0
) -> list[ResolveResult]:
    """Resolve ``host`` off the event loop; every address must pass, or none is returned."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    results: list[ResolveResult] = []
    for fam, _, proto, _, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        reason = policy.denial_reason(address)
        if reason is not None:
            raise BlockedAddressError(host, str(address), reason)
        results.append(
            ResolveResult(
                hostname=host,
                host=str(address),
                port=int(sockaddr[1]),
                family=fam,
                proto=proto,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
        )
    if not results:
        raise OSError(f"{host} did not resolve to any address")
    return results


class VettingResolver(AbstractResolver):
    """An aiohttp resolver that only ever returns addresses the policy allows."""

    def __init__(self, policy: HttpPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return await vet_host(self._policy, host, port, family)

    async def close(self) -> None:
        """Nothing to release: lookups run in the loop's default executor."""


def _networks(specs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(spec, strict=False) for spec in specs)


def _embedded(address: IPAddress) -> Iterator[IPAddress]:
    """The address plus any IPv4 address it carries (``::ffff:127.0.0.1``, 6to4)."""
    yield address
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                yield inner


def _host_key(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    address = literal_address(host)
    return str(address) if address is not None else host.strip("[]")
