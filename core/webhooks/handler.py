"""Webhook request → decision, without HTTP: size cap, auth, body parsing, payload building.

The aiohttp layer (bot/http/webhooks.py) only moves bytes in and statuses out; every decision that
can be tested without a server lives here and fails with ``WebhookError(status, message)``.
Messages are safe to return to the caller: they never hold a secret or a signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

import orjson

from core.models.trigger_instance import TriggerInstance
from core.webhooks import jsondata
from core.webhooks.hmac_check import verify
from core.webhooks.presets import PRESETS, scheme_from_config, secret_from_config
from core.webhooks.redact import payload_headers
from core.webhooks.signatures import SignatureScheme

GENERIC_HOOK = "st2"
WEBHOOK_TRIGGER = "core.st2.webhook"
# Deeper JSON is refused (security.md §4.7): rules and templates walk payloads recursively.
MAX_JSON_DEPTH = 64
TRACE_TAG_HEADER = "St2-Trace-Tag"
MAX_TRACE_TAG = 256


# The refusal reasons metrics count (core.observe.metrics.REFUSAL_REASONS), by status when the
# raiser names none.
_REASON_OF_STATUS = {401: "auth", 403: "auth", 404: "not_found", 413: "size", 503: "store"}


class WebhookError(Exception):
    """A refusal with the HTTP status to answer, a caller-safe message and a short reason."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or _REASON_OF_STATUS.get(status, "bad_body")


class Dispatcher(Protocol):
    """What the webhook routes need from core.triggers.dispatcher.TriggerDispatcher."""

    async def dispatch(
        self,
        trigger_ref: str,
        payload: dict[str, Any],
        *,
        trigger_parameters: dict[str, Any] | None = None,
        source: str = "",
        dedupe_key: str | None = None,
        trace_tag: str | None = None,
    ) -> TriggerInstance | None: ...


@dataclass(frozen=True)
class HookAuth:
    """How one hook authenticates its callers; ``kind="none"`` is the explicit opt-out and
    ``api-key`` (st2's way, and the default for a hook without settings) needs a stored key."""

    kind: Literal["none", "signature", "api-key"]
    scheme: SignatureScheme | None = None
    secret: bytes = field(default=b"", repr=False)

    @property
    def label(self) -> str:
        """A name safe to list: ``none``, ``api-key``, a preset name, or ``hmac``."""
        if self.scheme is None:
            return self.kind
        names = [name for name, preset in PRESETS.items() if preset.header == self.scheme.header]
        return names[0] if names else "hmac"


def auth_from_config(value: object) -> HookAuth:
    """Parse a hook's ``auth`` setting; ValueError names the bad field, never the secret."""
    if value == "none":
        return HookAuth(kind="none")
    if not isinstance(value, Mapping):
        raise ValueError("expected 'none' or a mapping with preset or type")
    try:
        scheme = scheme_from_config(value, path="auth")
        secret = secret_from_config(value, path="auth")
    except ValueError as error:
        raise ValueError(str(error).removeprefix("auth.").removeprefix("auth: ")) from None
    if secret is None:
        raise ValueError("secret: is required (use ${ENV_VAR} to keep it out of the file)")
    return HookAuth(kind="signature", scheme=scheme, secret=secret)


def normalize_hook(url: str) -> str:
    """st2 strips leading/trailing slashes: ``/a/`` and ``a`` are one hook."""
    return url.strip("/")


def check_declared_size(content_length: int | None, limit: int) -> None:
    """Refuse early on the declared length, before reading or hashing anything."""
    if content_length is not None and content_length > limit:
        raise WebhookError(413, f"body larger than {limit} bytes")


API_KEY_AUTH = HookAuth(kind="api-key")


def effective_auth(auth: HookAuth | None) -> HookAuth:
    """Auth is required by default: a hook with no settings entry needs an API key."""
    return API_KEY_AUTH if auth is None else auth


def authorize(
    hook: str, auth: HookAuth, headers: Mapping[str, str], body: bytes, now: float
) -> str | None:
    """Check a hook's signature over ``body``; returns the delivery id when the scheme has one.

    Only signatures are checked here: an ``api-key`` hook's key is checked before its body is
    read (core.webhooks.apikey_check), and ``none`` lets everyone in.
    """
    if auth.kind != "signature" or auth.scheme is None:
        return None
    verdict = verify(auth.scheme, auth.secret, headers, body, now)
    if not verdict.ok:
        # A present but wrong signature is forbidden; anything missing or garbled is 401.
        status = 403 if verdict.reason == "signature mismatch" else 401
        # A signature whose timestamp left the window is a replayed (or very late) delivery.
        reason = "replay" if verdict.reason.startswith("timestamp outside") else "signature"
        raise WebhookError(status, f"signature check failed: {verdict.reason}", reason)
    return verdict.delivery_id


def parse_body(content_type: str, body: bytes) -> Any:
    """Decode ``body`` by media type (st2-format.md §5.2); bad input is a 400, never a 500."""
    media = content_type.split(";", 1)[0].strip().lower() or "application/json"
    if media == "application/json" or media.endswith("+json"):
        return _json_body(body)
    if media == "application/x-www-form-urlencoded":
        return parse_qs(_text(body), keep_blank_values=True)
    if media.startswith("text/"):
        return _text(body)
    raise WebhookError(400, f"Unsupported Content-Type {media!r}")


def require_json(content_type: str) -> None:
    """An ``auth: none`` hook takes JSON only. Any web page open in a browser on the host can
    POST ``text/plain`` or a form to it (a "simple" cross-site request, no preflight); a
    cross-site ``application/json`` needs a CORS preflight, which this listener never grants."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise WebhookError(
            415, "a hook with auth: none accepts only Content-Type: application/json"
        )


def check_storable(payload: Any) -> None:
    """400 for text no store can encode: a lone surrogate (``"\\ud800"`` is valid JSON) or
    header bytes that are not UTF-8 (aiohttp keeps them as surrogate escapes)."""
    try:
        orjson.dumps(payload)  # refuses the same text, in C; what else it refuses is walked
        return
    except orjson.JSONEncodeError:
        pass
    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise WebhookError(
                    400, "text holds a lone surrogate or bytes that are not UTF-8"
                ) from None
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookError(400, "body is not valid UTF-8") from None


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        value = jsondata.loads(_text(body))
    except RecursionError:
        raise WebhookError(400, "JSON nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, and ints over the 4300-digit limit
        raise WebhookError(400, f"invalid JSON: {error}") from None
    if not isinstance(value, dict | list):
        raise WebhookError(400, "JSON body must be an object or an array")
    # Each level needs a bracket: fewer brackets than the limit need no walk.
    if body.count(b"{") + body.count(b"[") >= MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise WebhookError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    # Iterative: the point is to refuse what recursion would choke on.
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def build_payload(
    headers: Mapping[str, str], body: Any, auth: HookAuth | None = None
) -> dict[str, Any]:
    """The trigger payload; st2's auth headers are removed and other credentials masked here,
    before anything is stored — the hook's own signature header too, whatever its name."""
    own = (
        frozenset({auth.scheme.header.lower()})
        if auth is not None and auth.scheme is not None
        else frozenset()
    )
    safe = payload_headers(headers, masked=own)
    lower = {name.lower(): value for name, value in safe.items()}
    return {"headers": safe, "headers_lower": lower, "body": body}


def trace_tag_of(headers: Mapping[str, str]) -> str | None:
    """st2's ``St2-Trace-Tag`` header: the trace this delivery starts or joins."""
    raw = headers.get(TRACE_TAG_HEADER)
    if not raw:  # most deliveries carry none
        return None
    tag = raw.strip()
    if len(tag) > MAX_TRACE_TAG:
        raise WebhookError(400, f"{TRACE_TAG_HEADER} longer than {MAX_TRACE_TAG} characters")
    if any(not ch.isprintable() for ch in tag):
        raise WebhookError(400, f"{TRACE_TAG_HEADER} holds control characters")
    return tag or None


def generic_target(body: Any) -> tuple[str, dict[str, Any]]:
    """``/webhooks/st2``: the body names the trigger and carries its payload."""
    if not isinstance(body, dict):
        raise WebhookError(400, "body must be a JSON object with trigger and payload")
    trigger = body.get("trigger")
    if not trigger:
        raise WebhookError(400, "Trigger not specified.")
    if not isinstance(trigger, str):
        raise WebhookError(400, "trigger must be a string")
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise WebhookError(400, "payload must be a JSON object")
    return trigger, payload
