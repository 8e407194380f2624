"""Provider presets and ``scheme_from_config``: turn a hook's settings into a SignatureScheme.

Accepted settings (``path`` prefixes every error so the user can find the bad field)::

    {preset: github}                      # or slack / stripe; ``window`` may be overridden
    {type: hmac, header: X-Signature, algorithm: sha256, encoding: hex, prefix: "sha256=",
     timestamp_header: X-Timestamp, template: "{timestamp}.{body}", window: 300,
     delivery_header: X-Delivery, keyed: false, secret: ...}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from core.webhooks.signatures import (
    ALGORITHMS,
    ENCODINGS,
    SignatureScheme,
)

DEFAULT_WINDOW = 300

GITHUB = SignatureScheme(
    header="X-Hub-Signature-256",
    prefix="sha256=",
    delivery_header="X-GitHub-Delivery",
)
SLACK = SignatureScheme(
    header="X-Slack-Signature",
    prefix="v0=",
    template="v0:{timestamp}:{body}",
    timestamp_header="X-Slack-Request-Timestamp",
    window=DEFAULT_WINDOW,
)
STRIPE = SignatureScheme(
    header="Stripe-Signature",
    template="{timestamp}.{body}",
    keyed=True,
    window=DEFAULT_WINDOW,
)
PRESETS: Mapping[str, SignatureScheme] = {"github": GITHUB, "slack": SLACK, "stripe": STRIPE}
GENERIC = "hmac"

_COMMON_FIELDS = frozenset({"preset", "type", "secret"})
_PRESET_FIELDS = _COMMON_FIELDS | {"window"}
_STR_FIELDS = ("header", "prefix", "template", "signature_key", "timestamp_key")
_OPTIONAL_STR_FIELDS = ("timestamp_header", "delivery_header")
_GENERIC_FIELDS = (
    _COMMON_FIELDS
    | set(_STR_FIELDS)
    | set(_OPTIONAL_STR_FIELDS)
    | {"algorithm", "encoding", "keyed", "window"}
)


def scheme_from_config(config: Mapping[str, Any], path: str = "signature") -> SignatureScheme:
    """Validate ``config``; raise ValueError naming ``path.field`` on the first problem."""
    if not isinstance(config, Mapping):
        raise ValueError(f"{path}: must be a mapping")
    kind = _kind(config, path)
    _check_secret(config, path)
    if kind == GENERIC:
        _check_known(config, _GENERIC_FIELDS, path)
        return _generic(config, path)
    _check_known(config, _PRESET_FIELDS, path)
    preset = PRESETS[kind]
    if "window" not in config:
        return preset
    if not preset.timestamped:
        raise ValueError(f"{path}.window: preset {kind!r} signs no timestamp")
    return dataclasses.replace(preset, window=_window(config["window"], path))


def secret_from_config(config: Mapping[str, Any], path: str = "signature") -> bytes | None:
    """The hook's ``secret`` as bytes, or None when the secret is kept elsewhere."""
    _check_secret(config, path)
    secret = config.get("secret")
    return None if secret is None else str(secret).encode()


def _kind(config: Mapping[str, Any], path: str) -> str:
    # ``type`` mirrors the brief's ``{type: hmac}``; ``preset`` the named providers.
    if "preset" in config and "type" in config and config["preset"] != config["type"]:
        raise ValueError(f"{path}: give either preset or type, not both")
    field = "preset" if "preset" in config else "type"
    kind = config.get(field)
    choices = (*PRESETS, GENERIC)
    if kind not in choices:
        raise ValueError(f"{path}.{field}: must be one of {', '.join(choices)} (got {kind!r})")
    return str(kind)


def _check_secret(config: Mapping[str, Any], path: str) -> None:
    secret = config.get("secret")
    # Never echo the value: it may be a real secret with a typo.
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ValueError(f"{path}.secret: must be a non-empty string")


def _check_known(config: Mapping[str, Any], allowed: AbstractSet[str], path: str) -> None:
    for key in config:
        if key not in allowed:
            raise ValueError(f"{path}.{key}: unknown field")


def _generic(config: Mapping[str, Any], path: str) -> SignatureScheme:
    values: dict[str, Any] = {}
    for field in _STR_FIELDS:
        if field in config:
            values[field] = _string(config[field], f"{path}.{field}")
    for field in _OPTIONAL_STR_FIELDS:
        if config.get(field) is not None:
            values[field] = _string(config[field], f"{path}.{field}")
    if "header" not in values:
        raise ValueError(f"{path}.header: is required")
    values["algorithm"] = _choice(config.get("algorithm", "sha256"), ALGORITHMS, path, "algorithm")
    values["encoding"] = _choice(config.get("encoding", "hex"), ENCODINGS, path, "encoding")
    values["keyed"] = _flag(config.get("keyed", False), f"{path}.keyed")
    timestamped = values["keyed"] or "timestamp_header" in values
    if config.get("window") is not None:
        values["window"] = _window(config["window"], path)
    elif timestamped:
        values["window"] = DEFAULT_WINDOW
    return _build(values, path)


def _build(values: dict[str, Any], path: str) -> SignatureScheme:
    try:
        return SignatureScheme(**values)
    except ValueError as error:
        # __post_init__ reports "field: message"; prefix the path so the user can find it.
        raise ValueError(f"{path}.{error}") from None


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a string")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: must be true or false")
    return value


def _choice(value: Any, options: tuple[str, ...], path: str, field: str) -> str:
    if value not in options:
        raise ValueError(f"{path}.{field}: must be one of {', '.join(options)} (got {value!r})")
    return str(value)


def _window(value: Any, path: str) -> int:
    # bool is an int subclass; ``window: true`` is a typo, not one second.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{path}.window: must be a positive number of seconds")
    return value
