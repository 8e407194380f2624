"""Password hashes: scrypt with a random salt per password; never the plaintext.

The stored form names its parameters (``scrypt$n$r$p$salt$hash``), so they can be raised later
without invalidating existing hashes. Pure CPU work: callers run it off the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
# OWASP's minimum for scrypt (N=2^17, r=8, p=1) costs 128 MiB; 2^15 keeps a login ~50 ms and
# 32 MiB on a small box, still far beyond what an offline guesser likes.
N, R, P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024
_DKLEN = 32
MIN_LENGTH = 8
MAX_LENGTH = 1024  # bounds the work an unauthenticated caller can ask for


def hash_password(password: str) -> str:
    check_password_text(password)
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, N, R, P)
    return "$".join((SCHEME, str(N), str(R), str(P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison of the derived key; False for any malformed stored value."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        derived = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, expected)


def check_password_text(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password too short: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"password too long: at most {MAX_LENGTH} characters")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_DKLEN)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
