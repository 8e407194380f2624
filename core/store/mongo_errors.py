"""Driver errors → StoreError / DocumentRejected, with the URL's password redacted."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from bson.errors import BSONError
from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

from core.store.base import DocumentRejected, StoreError

# What a repository calls around each driver call: ``store_errors`` naming its store.
Errors = Callable[[], AbstractContextManager[None]]


def redact(url: str) -> str:
    """``url`` without its password, fit for error messages and logs."""
    return re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)


# Server error codes for a document past the BSON size limit (BSONObjectTooLarge, and the
# "resulting document after update is larger than 16 MiB" variants).
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})


@contextmanager
def store_errors(where: str) -> Iterator[None]:
    """Every driver error a store call can raise becomes a StoreError (DocumentRejected when
    the document itself is the problem): BSON encoding errors (DocumentTooLarge,
    InvalidDocument, InvalidBSON) are not PyMongoErrors, and an integer beyond 64 bits is a
    plain OverflowError."""
    try:
        yield
    except DocumentRejected:
        raise
    except (BSONError, OverflowError) as exc:
        raise DocumentRejected(f"{where}: document refused: {exc}") from exc
    except OperationFailure as exc:
        if exc.code in TOO_LARGE_CODES:
            raise DocumentRejected(f"{where}: document refused: {error_reason(exc)}") from exc
        raise StoreError(f"{where}: {error_reason(exc)}") from exc
    except PyMongoError as exc:
        raise StoreError(f"{where}: {error_reason(exc)}") from exc


def error_reason(exc: Exception) -> str:
    # Redacted in case the driver quotes the URL.
    text = redact(str(exc))
    if isinstance(exc, ServerSelectionTimeoutError):
        # The first part names the hosts, the reason and the timeout; the rest is a long dump.
        return "no server reachable: " + text.partition(", Topology Description:")[0]
    return text
