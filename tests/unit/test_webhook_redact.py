"""redact_headers / redact_query: credentials never reach storage or logs (§1.1, #4983)."""

from __future__ import annotations

import pytest

from core.models import MASK
from core.webhooks import is_sensitive_header, redact_headers, redact_query


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "St2-Api-Key",
        "X-Auth-Token",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
        "X-Slack-Signature",
        "Stripe-Signature",
        "X-Gitlab-Token",
        "X-Webhook-Secret",
        "X-Api-Key",
        "X-API_KEY",
        "Db-Password",
        "svix-signature",
    ],
)
def test_sensitive_headers_are_masked_in_any_case(name: str) -> None:
    for spelling in (name, name.lower(), name.upper()):
        assert is_sensitive_header(spelling)
        assert redact_headers({spelling: "s3cr3t"}) == {spelling: MASK}


def test_other_headers_are_kept() -> None:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Delivery": "d-1",
        "X-GitHub-Event": "push",
        "X-Slack-Request-Timestamp": "1700000000",
        "User-Agent": "GitHub-Hookshot/abc",
        "Idempotency-Key": "idem-1",
    }
    assert redact_headers(headers) == headers


def test_redact_returns_a_copy() -> None:
    headers = {"Authorization": "Bearer abc", "Accept": "*/*"}
    assert redact_headers(headers) == {"Authorization": MASK, "Accept": "*/*"}
    assert headers["Authorization"] == "Bearer abc"


@pytest.mark.parametrize(
    "name",
    [
        "st2-api-key",
        "x-auth-token",
        "token",
        "access_token",
        "refresh-token",
        "key",
        "api_key",
        "apikey",
        "private_key",
        "sig",
        "signature",
        "code",
        "password",
        "client_secret",
        "Token",
    ],
)
def test_sensitive_query_params_are_masked(name: str) -> None:
    assert redact_query({name: "v"}) == {name: MASK}


def test_other_query_params_are_kept() -> None:
    query = {"page": "2", "monkey": "x", "signal": "y", "keyword": "z", "ref": "main"}
    assert redact_query(query) == query
