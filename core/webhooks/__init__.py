"""Pure webhook verification: provider signatures, st2-style API keys, credential redaction."""

from core.webhooks.apikeys import (
    check_api_key,
    extract_api_key,
    generate_api_key,
    hash_api_key,
    key_id,
)
from core.webhooks.hmac_check import verify
from core.webhooks.presets import (
    GITHUB,
    PRESETS,
    SLACK,
    STRIPE,
    scheme_from_config,
    secret_from_config,
)
from core.webhooks.redact import is_sensitive_header, redact_headers, redact_query
from core.webhooks.signatures import SignatureScheme, Verdict

__all__ = [
    "GITHUB",
    "PRESETS",
    "SLACK",
    "STRIPE",
    "SignatureScheme",
    "Verdict",
    "check_api_key",
    "extract_api_key",
    "generate_api_key",
    "hash_api_key",
    "is_sensitive_header",
    "key_id",
    "redact_headers",
    "redact_query",
    "scheme_from_config",
    "secret_from_config",
    "verify",
]
