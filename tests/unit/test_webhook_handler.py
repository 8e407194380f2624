"""The webhook decision logic without HTTP: auth, limits, body parsing, payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from multidict import CIMultiDict

from core.models import MASK
from core.store.jsontext import dumps
from core.webhooks.handler import (
    API_KEY_AUTH,
    MAX_JSON_DEPTH,
    HookAuth,
    WebhookError,
    auth_from_config,
    authorize,
    build_payload,
    check_declared_size,
    check_storable,
    effective_auth,
    generic_target,
    normalize_hook,
    parse_body,
    trace_tag_of,
)

SECRET = "It's a Secret to Everybody"
BODY = b'{"name": "st2"}'


def github_headers(body: bytes, secret: str = SECRET, delivery: str = "d-1") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": delivery}


def refusal(call: Any, *args: Any) -> WebhookError:
    with pytest.raises(WebhookError) as caught:
        call(*args)
    return caught.value


GITHUB = auth_from_config({"preset": "github", "secret": SECRET})


# --- auth settings ------------------------------------------------------------------------------


def test_auth_from_config_kinds() -> None:
    assert auth_from_config("none") == HookAuth(kind="none")
    assert GITHUB.kind == "signature" and GITHUB.label == "github"
    assert SECRET not in repr(GITHUB)
    custom = auth_from_config({"type": "hmac", "header": "X-Sig", "secret": "s"})
    assert custom.label == "hmac"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "expected 'none' or a mapping"),
        ("None", "expected 'none' or a mapping"),
        ({"preset": "github"}, "secret: is required"),
        ({"preset": "github", "secret": ""}, "secret: must be a non-empty string"),
        ({"type": "hmac", "secret": "x"}, "header: is required"),
        ({"preset": "nope", "secret": "x"}, "preset: must be one of"),
    ],
)
def test_auth_from_config_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        auth_from_config(value)


# --- authorize ----------------------------------------------------------------------------------


def test_a_hook_without_auth_settings_needs_an_api_key() -> None:
    assert effective_auth(None) == API_KEY_AUTH and API_KEY_AUTH.label == "api-key"
    assert effective_auth(GITHUB) is GITHUB
    # The key is checked before the body is read (apikey_check); no signature is expected.
    assert authorize("hook", API_KEY_AUTH, {}, BODY, 0.0) is None


def test_auth_none_lets_anyone_in() -> None:
    assert authorize("open", HookAuth(kind="none"), {}, BODY, 0.0) is None


def test_a_good_github_signature_returns_the_delivery_id() -> None:
    assert authorize("gh", GITHUB, github_headers(BODY), BODY, 0.0) == "d-1"


def test_a_missing_signature_is_401() -> None:
    error = refusal(authorize, "gh", GITHUB, {"X-GitHub-Delivery": "d"}, BODY, 0.0)
    assert error.status == 401 and "missing header" in error.message


def test_a_changed_body_is_403_without_leaking_anything() -> None:
    headers = github_headers(BODY)
    error = refusal(authorize, "gh", GITHUB, headers, BODY.replace(b"st2", b"st3"), 0.0)
    assert error.status == 403 and error.message == "signature check failed: signature mismatch"
    assert SECRET not in error.message and headers["X-Hub-Signature-256"] not in error.message


def test_a_signature_with_another_secret_is_403() -> None:
    error = refusal(authorize, "gh", GITHUB, github_headers(BODY, secret="other"), BODY, 0.0)
    assert error.status == 403


# --- size ---------------------------------------------------------------------------------------


def test_declared_size_over_the_cap_is_413() -> None:
    check_declared_size(None, 10)
    check_declared_size(10, 10)
    assert refusal(check_declared_size, 11, 10).status == 413


# --- body parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", BODY, {"name": "st2"}),
        ("application/json; charset=utf-8", b"[1, 2]", [1, 2]),
        ("", BODY, {"name": "st2"}),
        ("application/json", b"", {}),
        ("application/vnd.github+json", BODY, {"name": "st2"}),
        ("application/x-www-form-urlencoded", b"a=1&a=2&b=", {"a": ["1", "2"], "b": [""]}),
        ("text/plain", "héllo".encode(), "héllo"),
    ],
)
def test_bodies_are_parsed_by_content_type(content_type: str, body: bytes, expected: Any) -> None:
    assert parse_body(content_type, body) == expected


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", b"{not json", "invalid JSON"),
        ("application/json", b'"a string"', "must be an object or an array"),
        ("application/json", b"42", "must be an object or an array"),
        ("application/json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("application/json", b"[" * 200 + b"]" * 200, f"deeper than {MAX_JSON_DEPTH}"),
        ("application/json", b"[" + b"9" * 5000 + b"]", "invalid JSON"),
        ("application/json", b'{"a": "\xff"}', "not valid UTF-8"),
        ("application/octet-stream", b"\x00", "Unsupported Content-Type"),
        ("multipart/form-data; boundary=x", b"", "Unsupported Content-Type"),
    ],
)
def test_bad_bodies_are_400(content_type: str, body: bytes, message: str) -> None:
    error = refusal(parse_body, content_type, body)
    assert error.status == 400 and message in error.message


def test_nesting_at_the_limit_is_accepted() -> None:
    depth = MAX_JSON_DEPTH
    assert parse_body("application/json", b"[" * depth + b"]" * depth) is not None


# --- payloads -----------------------------------------------------------------------------------


def test_payload_removes_st2_auth_headers_and_masks_other_credentials() -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=abc",
        "St2-Api-Key": "k",
        "x-auth-token": "t",
        "Cookie": "session=1",
    }
    payload = build_payload(headers, {"name": "st2"})
    assert payload["body"] == {"name": "st2"}
    # As st2: X-Auth-Token, St2-Api-Key and Cookie are gone from both views, in any case.
    assert payload["headers"] == {"Content-Type": "application/json", "X-Hub-Signature-256": MASK}
    assert payload["headers_lower"] == {
        "content-type": "application/json",
        "x-hub-signature-256": MASK,
    }
    assert "sha256=abc" not in json.dumps(payload) and "session=1" not in json.dumps(payload)


# --- the generic st2 hook -----------------------------------------------------------------------


def test_generic_target() -> None:
    assert generic_target({"trigger": "a.b", "payload": {"x": 1}}) == ("a.b", {"x": 1})
    assert generic_target({"trigger": "a.b"}) == ("a.b", {})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "Trigger not specified."),
        ({"trigger": 5}, "trigger must be a string"),
        ({"trigger": "a.b", "payload": [1]}, "payload must be a JSON object"),
    ],
)
def test_generic_target_errors(body: Any, message: str) -> None:
    error = refusal(generic_target, body)
    assert error.status == 400 and message in error.message


def test_normalize_hook() -> None:
    assert normalize_hook("/github/push/") == "github/push"


def test_a_generic_hmac_hooks_own_signature_header_is_masked_in_the_payload() -> None:
    """Its name (chosen by the operator) says nothing about a credential: mask it by config."""
    auth = auth_from_config({"type": "hmac", "header": "X-Mac", "secret": "s"})
    headers = {"X-Mac": "deadbeef" * 8, "X-Other": "kept", "Content-Type": "application/json"}
    payload = build_payload(headers, {"a": 1}, auth)
    assert payload["headers"]["X-Mac"] == MASK and payload["headers_lower"]["x-mac"] == MASK
    assert payload["headers"]["X-Other"] == "kept"


@pytest.mark.parametrize("body", [b'{"": 1e310}', b'{"a": -1e999}', b"[NaN]", b'{"a": Infinity}'])
def test_numbers_no_store_can_keep_are_bad_input(body: bytes) -> None:
    # Found by the listener fuzz: 1e310 parsed as inf, the store refused it after the 202
    # decision, and the caller got a 503 for what is its own bad input.
    with pytest.raises(WebhookError) as refused:
        parse_body("application/json", body)
    assert refused.value.status == 400


def test_large_but_finite_numbers_stay_numbers() -> None:
    assert parse_body("application/json", b'{"a": 1e308, "b": 12345678901234567890}') == {
        "a": 1e308,
        "b": 12345678901234567890,
    }


def test_payload_header_names_are_plain_strings() -> None:
    """aiohttp's names are multidict ``istr``; stored they must be ``str`` (orjson takes only
    exact ``str`` keys: an ``istr`` made every instance fall back to json.dumps)."""
    payload = build_payload(CIMultiDict({"X-Thing": "1"}), {"a": 1})
    assert [type(name) for name in payload["headers"]] == [str]
    assert [type(name) for name in payload["headers_lower"]] == [str]
    assert (
        dumps(payload)
        == '{"headers":{"X-Thing":"1"},"headers_lower":{"x-thing":"1"},"body":{"a":1}}'
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"body": {"a": "\ud800"}},
        {"headers": {"X-Thing": "caf\udce9"}, "body": {}},  # a header byte that is not UTF-8
        {"body": {"n": 2**70, "s": ["ok", {"k": "\udfff"}]}},  # beside what orjson refuses
        {"body": {"\ud800": 1}},
    ],
)
def test_text_no_store_can_encode_is_a_400(payload: Any) -> None:
    error = refusal(check_storable, payload)
    assert error.status == 400 and "surrogate" in error.message


@pytest.mark.parametrize(
    "payload", [{"body": {"n": 2**70, "s": "é😀"}}, {"body": [1.5, None, True, {"a": []}]}]
)
def test_storable_text_passes(payload: Any) -> None:
    check_storable(payload)


@pytest.mark.parametrize(
    ("headers", "tag"),
    [({}, None), ({"St2-Trace-Tag": ""}, None), ({"st2-trace-tag": "  "}, None),
     ({"St2-Trace-Tag": " deploy-77 "}, "deploy-77")],
)  # fmt: skip
def test_the_trace_tag_header(headers: dict[str, str], tag: str | None) -> None:
    assert trace_tag_of(CIMultiDict(headers)) == tag


@pytest.mark.parametrize("value", ["x" * 257, "a\x00b", "a\nb"])
def test_a_bad_trace_tag_is_400(value: str) -> None:
    assert refusal(trace_tag_of, CIMultiDict({"St2-Trace-Tag": value})).status == 400
