"""verify / scheme_from_config: provider presets and the generic HMAC check (security.md §3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.webhooks import (
    GITHUB,
    SLACK,
    STRIPE,
    SignatureScheme,
    Verdict,
    scheme_from_config,
    secret_from_config,
    verify,
)

SECRET = b"whsec-very-secret-value"
BODY = b'{"action":"opened","number":7}'
NOW = 1_700_000_000.0
TS = str(int(NOW))


def sign(message: bytes, secret: bytes = SECRET, algorithm: str = "sha256") -> str:
    return hmac.new(secret, message, algorithm).hexdigest()


def github_headers(body: bytes = BODY, secret: bytes = SECRET) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + sign(body, secret),
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }


def slack_headers(body: bytes = BODY, ts: str = TS) -> dict[str, str]:
    return {
        "X-Slack-Signature": "v0=" + sign(b"v0:" + ts.encode() + b":" + body),
        "X-Slack-Request-Timestamp": ts,
    }


def stripe_header(body: bytes = BODY, ts: str = TS, secret: bytes = SECRET) -> str:
    return f"t={ts},v1={sign(ts.encode() + b'.' + body, secret)}"


# --- presets -----------------------------------------------------------------------------------


def test_github_valid() -> None:
    verdict = verify(GITHUB, SECRET, github_headers(), BODY, NOW)
    assert verdict == Verdict(True, "ok", "72d3162e-cc78-11e3-81ab-4c9367dc0958")


def test_slack_valid() -> None:
    assert verify(SLACK, SECRET, slack_headers(), BODY, NOW).ok


def test_stripe_valid() -> None:
    headers = {"Stripe-Signature": stripe_header()}
    assert verify(STRIPE, SECRET, headers, BODY, NOW).ok


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [
        (GITHUB, github_headers()),
        (SLACK, slack_headers()),
        (STRIPE, {"Stripe-Signature": stripe_header()}),
    ],
)
def test_one_byte_body_change_fails(scheme: SignatureScheme, headers: dict[str, str]) -> None:
    tampered = BODY.replace(b"7", b"8")
    assert verify(scheme, SECRET, headers, tampered, NOW) == Verdict(
        False, "signature mismatch", headers.get("X-GitHub-Delivery")
    )


def test_wrong_secret_fails() -> None:
    headers = github_headers(secret=b"other-secret")
    assert verify(GITHUB, SECRET, headers, BODY, NOW).reason == "signature mismatch"


def test_empty_secret_fails_closed() -> None:
    headers = github_headers(secret=b"")
    assert verify(GITHUB, b"", headers, BODY, NOW).reason == "no secret configured"


def test_wrong_prefix() -> None:
    headers = {"X-Hub-Signature-256": "sha1=" + sign(BODY)}
    verdict = verify(GITHUB, SECRET, headers, BODY, NOW)
    assert not verdict.ok
    assert verdict.reason == "malformed header X-Hub-Signature-256: expected prefix 'sha256='"


def test_missing_signature_header() -> None:
    verdict = verify(GITHUB, SECRET, {"X-GitHub-Delivery": "d-1"}, BODY, NOW)
    assert verdict == Verdict(False, "missing header X-Hub-Signature-256", "d-1")


def test_empty_signature_header_counts_as_missing() -> None:
    verdict = verify(GITHUB, SECRET, {"X-Hub-Signature-256": "  "}, BODY, NOW)
    assert verdict.reason == "missing header X-Hub-Signature-256"


def test_missing_timestamp_header() -> None:
    headers = slack_headers()
    del headers["X-Slack-Request-Timestamp"]
    verdict = verify(SLACK, SECRET, headers, BODY, NOW)
    assert verdict.reason == "missing header X-Slack-Request-Timestamp"


def test_header_names_are_case_insensitive() -> None:
    headers = {name.lower(): value for name, value in github_headers().items()}
    assert verify(GITHUB, SECRET, headers, BODY, NOW).ok
    upper = {name.upper(): value for name, value in slack_headers().items()}
    assert verify(SLACK, SECRET, upper, BODY, NOW).ok


def test_duplicate_header_in_different_case_is_refused() -> None:
    class Pairs(dict[str, str]):
        """A multidict-like mapping whose items() repeats a name in another case."""

        def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
            good = "sha256=" + sign(BODY)
            return [("X-Hub-Signature-256", good), ("x-hub-signature-256", "sha256=00")]

    verdict = verify(GITHUB, SECRET, Pairs(), BODY, NOW)
    assert verdict.reason == "duplicate header X-Hub-Signature-256"


def test_uppercase_hex_signature_is_accepted() -> None:
    headers = {"X-Hub-Signature-256": "sha256=" + sign(BODY).upper()}
    assert verify(GITHUB, SECRET, headers, BODY, NOW).ok


MALFORMED = "malformed signature in header X-Hub-Signature-256"


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("xyz", MALFORMED),
        ("ab cd", MALFORMED),
        ("\u00e91", MALFORMED),
        ("abc", "signature mismatch"),
    ],
)
def test_malformed_hex_signature(signature: str, reason: str) -> None:
    verdict = verify(GITHUB, SECRET, {"X-Hub-Signature-256": "sha256=" + signature}, BODY, NOW)
    assert verdict == Verdict(False, reason)


# --- freshness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, 301, -10_000, 10_000])
def test_stale_and_future_timestamps(offset: int) -> None:
    ts = str(int(NOW) + offset)
    slack = verify(SLACK, SECRET, slack_headers(ts=ts), BODY, NOW)
    stripe = verify(STRIPE, SECRET, {"Stripe-Signature": stripe_header(ts=ts)}, BODY, NOW)
    assert slack == stripe == Verdict(False, "timestamp outside the 300 s window")


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_window_edges_are_accepted(offset: int) -> None:
    ts = str(int(NOW) + offset)
    assert verify(SLACK, SECRET, slack_headers(ts=ts), BODY, NOW).ok


@pytest.mark.parametrize("ts", ["abc", "-1", "+1700000000", "1700000000.5", "1_700_000_000", "١٢٣"])
def test_malformed_timestamp(ts: str) -> None:
    verdict = verify(SLACK, SECRET, slack_headers(ts=ts), BODY, NOW)
    assert verdict == Verdict(False, "malformed timestamp")


def test_timestamp_is_signed() -> None:
    headers = slack_headers()
    headers["X-Slack-Request-Timestamp"] = str(int(NOW) + 1)
    assert verify(SLACK, SECRET, headers, BODY, NOW).reason == "signature mismatch"


# --- Stripe header parsing ---------------------------------------------------------------------


def test_stripe_multiple_v1_any_match() -> None:
    good = sign(TS.encode() + b"." + BODY)
    stale = sign(TS.encode() + b"." + BODY, b"old-secret")
    for header in (f"t={TS},v1={stale},v1={good}", f"t={TS},v1={good},v1={stale}"):
        assert verify(STRIPE, SECRET, {"stripe-signature": header}, BODY, NOW).ok


def test_stripe_ignores_other_schemes() -> None:
    header = stripe_header() + ",v0=" + "0" * 64
    assert verify(STRIPE, SECRET, {"Stripe-Signature": header}, BODY, NOW).ok


def test_stripe_all_v1_wrong() -> None:
    header = f"t={TS},v1={'0' * 64},v1={'1' * 64}"
    verdict = verify(STRIPE, SECRET, {"Stripe-Signature": header}, BODY, NOW)
    assert verdict.reason == "signature mismatch"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("garbage", "malformed header Stripe-Signature"),
        (f"t={TS},,v1=ab", "malformed header Stripe-Signature"),
        (f"t={TS},v1=", "malformed header Stripe-Signature"),
        ("v1=abcd", "malformed header Stripe-Signature: expected one t="),
        (f"t={TS},t={TS},v1=abcd", "malformed header Stripe-Signature: expected one t="),
        (f"t={TS}", "malformed header Stripe-Signature: no v1= signature"),
        ("t=soon,v1=abcd", "malformed timestamp"),
    ],
)
def test_stripe_malformed_headers(header: str, reason: str) -> None:
    verdict = verify(STRIPE, SECRET, {"Stripe-Signature": header}, BODY, NOW)
    assert verdict == Verdict(False, reason)


# --- generic schemes ---------------------------------------------------------------------------


def test_generic_sha512_base64_with_delivery_id_in_template() -> None:
    scheme = scheme_from_config(
        {
            "type": "hmac",
            "header": "Webhook-Signature",
            "algorithm": "sha512",
            "encoding": "base64",
            "timestamp_header": "Webhook-Timestamp",
            "delivery_header": "Webhook-Id",
            "template": "{delivery_id}.{timestamp}.{body}",
        }
    )
    message = b"msg_1." + TS.encode() + b"." + BODY
    signature = base64.b64encode(hmac.digest(SECRET, message, hashlib.sha512)).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": TS, "webhook-signature": signature}
    assert verify(scheme, SECRET, headers, BODY, NOW) == Verdict(True, "ok", "msg_1")
    headers["webhook-id"] = "msg_2"
    assert verify(scheme, SECRET, headers, BODY, NOW).reason == "signature mismatch"
    del headers["webhook-id"]
    assert verify(scheme, SECRET, headers, BODY, NOW).reason == "missing delivery id"


def test_generic_sha1_hex_prefix() -> None:
    scheme = scheme_from_config(
        {"preset": "hmac", "header": "X-Hub-Signature", "algorithm": "sha1", "prefix": "sha1="}
    )
    headers = {"X-Hub-Signature": "sha1=" + sign(BODY, algorithm="sha1")}
    assert verify(scheme, SECRET, headers, BODY, NOW).ok


def test_generic_malformed_base64() -> None:
    scheme = SignatureScheme(header="Sig", encoding="base64")
    verdict = verify(scheme, SECRET, {"Sig": "not base64!"}, BODY, NOW)
    assert verdict.reason == "malformed signature in header Sig"


# --- secrecy of reasons ------------------------------------------------------------------------


def test_reasons_never_echo_secret_or_signatures() -> None:
    expected = sign(BODY)
    cases = [
        (GITHUB, {"X-Hub-Signature-256": "sha256=" + sign(BODY + b"x")}, BODY),
        (GITHUB, {"X-Hub-Signature-256": "sha256=" + expected}, BODY + b"x"),
        (GITHUB, {"X-Hub-Signature-256": "md5=" + expected}, BODY),
        (STRIPE, {"Stripe-Signature": "t=1,v1=" + expected}, BODY),
        (SLACK, slack_headers(ts="x" + expected), BODY),
    ]
    for scheme, headers, body in cases:
        verdict = verify(scheme, SECRET, headers, body, NOW)
        assert not verdict.ok
        for leak in (SECRET.decode(), expected, sign(body), expected[:16]):
            assert leak not in verdict.reason


@given(st.binary(min_size=1, max_size=256), st.data())
def test_flipping_any_body_byte_fails(body: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(body) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = body[:index] + bytes([body[index] ^ mask]) + body[index + 1 :]
    assert verify(GITHUB, SECRET, github_headers(body), body, NOW).ok
    assert not verify(GITHUB, SECRET, github_headers(body), tampered, NOW).ok
    stripe = {"Stripe-Signature": stripe_header(body)}
    assert verify(STRIPE, SECRET, stripe, body, NOW).ok
    assert not verify(STRIPE, SECRET, stripe, tampered, NOW).ok


# --- scheme_from_config ------------------------------------------------------------------------


def test_presets_from_config() -> None:
    assert scheme_from_config({"preset": "github"}) is GITHUB
    assert scheme_from_config({"type": "slack", "secret": "s"}) is SLACK
    assert scheme_from_config({"preset": "stripe", "window": 60}).window == 60


def test_generic_defaults() -> None:
    scheme = scheme_from_config({"type": "hmac", "header": "X-Sig"})
    assert scheme == SignatureScheme(header="X-Sig")
    timed = scheme_from_config(
        {
            "type": "hmac",
            "header": "X-Sig",
            "timestamp_header": "X-Ts",
            "template": "{timestamp}.{body}",
        }
    )
    assert timed.window == 300


def test_generic_keyed_is_stripe_like() -> None:
    config = {
        "type": "hmac",
        "header": "Stripe-Signature",
        "keyed": True,
        "template": "{timestamp}.{body}",
    }
    assert scheme_from_config(config) == STRIPE


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "hooks.gh.type: must be one of github, slack, stripe, hmac (got None)"),
        ({"preset": "gitlab"}, "hooks.gh.preset: must be one of github, slack, stripe, hmac"),
        ({"preset": "github", "type": "slack"}, "hooks.gh: give either preset or type"),
        ({"preset": "github", "header": "X"}, "hooks.gh.header: unknown field"),
        ({"preset": "github", "window": 60}, "hooks.gh.window: preset 'github' signs no timestamp"),
        ({"preset": "slack", "window": True}, "hooks.gh.window: must be a positive number"),
        ({"preset": "slack", "window": 0}, "hooks.gh.window: must be a positive number"),
        ({"type": "hmac"}, "hooks.gh.header: is required"),
        ({"type": "hmac", "header": 5}, "hooks.gh.header: must be a string"),
        ({"type": "hmac", "header": " "}, "hooks.gh.header: must be a non-empty header name"),
        ({"type": "hmac", "header": "X", "algorithm": "md5"}, "hooks.gh.algorithm: must be one"),
        ({"type": "hmac", "header": "X", "encoding": "b32"}, "hooks.gh.encoding: must be one"),
        ({"type": "hmac", "header": "X", "keyed": "yes"}, "hooks.gh.keyed: must be true or false"),
        (
            {"type": "hmac", "header": "X", "template": "{ts}"},
            "hooks.gh.template: must contain {body}",
        ),
        (
            {"type": "hmac", "header": "X", "timestamp_header": "T"},
            "hooks.gh.template: must contain {timestamp} exactly when",
        ),
        (
            {"type": "hmac", "header": "X", "template": "{timestamp}{body}"},
            "hooks.gh.template: must contain {timestamp} exactly when",
        ),
        (
            {"type": "hmac", "header": "X", "window": 300},
            "hooks.gh.window: is required with a timestamp and meaningless without one",
        ),
        (
            {"type": "hmac", "header": "X", "template": "{delivery_id}{body}"},
            "hooks.gh.template: uses {delivery_id} but no delivery_header",
        ),
        (
            {
                "type": "hmac",
                "header": "X",
                "keyed": True,
                "prefix": "v=",
                "template": "{timestamp}{body}",
            },
            "hooks.gh.prefix: is not used with a keyed header",
        ),
        ({"type": "hmac", "header": "X", "frob": 1}, "hooks.gh.frob: unknown field"),
        ({"preset": "github", "secret": ""}, "hooks.gh.secret: must be a non-empty string"),
    ],
)
def test_bad_config(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        scheme_from_config(config, path="hooks.gh")


def test_bad_config_never_echoes_secret() -> None:
    with pytest.raises(ValueError) as info:
        scheme_from_config({"preset": "github", "secret": 12345678})
    assert "12345678" not in str(info.value)


def test_not_a_mapping() -> None:
    with pytest.raises(ValueError, match=r"^signature: must be a mapping"):
        scheme_from_config(["github"])  # type: ignore[arg-type]


def test_secret_from_config() -> None:
    assert secret_from_config({"preset": "github", "secret": "s3"}) == b"s3"
    assert secret_from_config({"preset": "github"}) is None


def test_scheme_constructor_validates() -> None:
    with pytest.raises(ValueError, match=r"^algorithm: must be one of sha1, sha256, sha512"):
        SignatureScheme(header="X", algorithm="md5")  # type: ignore[arg-type]
