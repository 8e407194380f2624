"""The SSRF policy's pure parts: address checks, literal spellings, per-action host lists."""

from __future__ import annotations

import ipaddress

import pytest

from core.runners.ssrf import (
    BlockedAddressError,
    HttpPolicy,
    check_literal,
    host_list_error,
    literal_address,
)

DEFAULT = HttpPolicy()
STRICT = HttpPolicy.strict()


@pytest.mark.parametrize(
    ("address", "default_denied", "strict_denied"),
    [
        ("169.254.169.254", True, True),
        ("169.254.0.1", True, True),
        ("0.0.0.0", True, True),
        ("0.1.2.3", True, True),
        ("224.0.0.1", True, True),
        ("239.255.255.250", True, True),
        ("255.255.255.255", True, True),
        ("::", True, True),
        ("fe80::1", True, True),
        ("ff02::1", True, True),
        ("::ffff:169.254.169.254", True, True),
        ("2002:a9fe:a9fe::1", True, True),  # 6to4 wrapping 169.254.169.254
        ("127.0.0.1", False, True),
        ("127.255.0.9", False, True),
        ("::1", False, True),
        ("::ffff:127.0.0.1", False, True),
        ("10.1.2.3", False, True),
        ("172.16.0.1", False, True),
        ("172.31.255.255", False, True),
        ("192.168.1.1", False, True),
        ("100.64.0.1", False, True),
        ("fd00::1", False, True),
        ("fc00::1", False, True),
        ("93.184.216.34", False, False),
        ("172.32.0.1", False, False),
        ("2606:4700::1111", False, False),
        ("::ffff:8.8.8.8", False, False),
    ],
)
def test_denial_by_preset(address: str, default_denied: bool, strict_denied: bool) -> None:
    parsed = ipaddress.ip_address(address)
    assert (DEFAULT.denial_reason(parsed) is not None) is default_denied
    assert (STRICT.denial_reason(parsed) is not None) is strict_denied


def test_reason_names_address_and_network() -> None:
    reason = DEFAULT.denial_reason(ipaddress.ip_address("169.254.169.254"))
    assert reason == "169.254.169.254 is in denied network 169.254.0.0/16"


def test_allowed_networks_are_exceptions() -> None:
    policy = HttpPolicy.strict(allowed_networks=("10.0.0.5/32", "::1/128"))
    assert policy.denial_reason(ipaddress.ip_address("10.0.0.5")) is None
    assert policy.denial_reason(ipaddress.ip_address("::ffff:10.0.0.5")) is None
    assert policy.denial_reason(ipaddress.ip_address("::1")) is None
    assert policy.denial_reason(ipaddress.ip_address("10.0.0.6")) is not None


def test_custom_denied_networks() -> None:
    policy = HttpPolicy(denied_networks=("127.0.0.2/32",))
    assert policy.denial_reason(ipaddress.ip_address("127.0.0.2")) is not None
    assert policy.denial_reason(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.denial_reason(ipaddress.ip_address("169.254.169.254")) is None


def test_bad_network_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        HttpPolicy(denied_networks=("not-a-network",))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("example.com", None),
        ("cafe.be", None),
        ("deadbeef", None),
        ("1.2.3.4.5", None),
        ("", None),
    ],
)
def test_literal_address(host: str, expected: str | None) -> None:
    address = literal_address(host)
    assert (None if address is None else str(address)) == expected


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "2852039166", "0xa9fea9fe", "[::ffff:169.254.169.254]", "0.0.0.0"]
)
def test_check_literal_blocks_every_spelling(host: str) -> None:
    with pytest.raises(BlockedAddressError) as caught:
        check_literal(DEFAULT, host)
    assert host in str(caught.value)
    assert "169.254.169.254" in str(caught.value) or "0.0.0.0" in str(caught.value)


@pytest.mark.parametrize("host", ["example.com", "127.0.0.1", "8.8.8.8"])
def test_check_literal_passes_allowed_and_names(host: str) -> None:
    check_literal(DEFAULT, host)


@pytest.mark.parametrize(
    ("host", "whitelist", "blacklist", "blocked"),
    [
        ("example.com", [], [], False),
        ("example.com", ["example.com"], [], False),
        ("EXAMPLE.com.", ["example.com"], [], False),
        ("other.com", ["example.com"], [], True),
        ("example.com", [], ["example.com"], True),
        ("Example.COM", [], ["example.com"], True),
        ("other.com", [], ["example.com"], False),
        # Other spellings of a listed address are the same host.
        ("2130706433", [], ["127.0.0.1"], True),
        ("127.0.0.1", ["0x7f.1"], [], False),
        ("[::1]", [], ["::1"], True),
    ],
)
def test_host_lists(host: str, whitelist: list[str], blacklist: list[str], blocked: bool) -> None:
    assert (host_list_error(host, whitelist, blacklist) is not None) is blocked


def test_host_lists_are_mutually_exclusive() -> None:
    error = host_list_error("a.com", ["a.com"], ["b.com"])
    assert error is not None and "mutually exclusive" in error
