"""How an execution is a row of the SQLite ``executions`` table (shared by the executions
repository and the trigger instance settle, which stores executions in its own transaction)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from core.models import Execution
from core.models.execution import isoformat
from core.store.base import MAX_DOCUMENT_BYTES, DocumentRejected
from core.store.jsontext import dumps

COLUMNS = (
    "status, action_ref, user, parent, start_timestamp, end_timestamp, owner, lease_expires, doc,"
    " trace_id, trace_tag"
)
_MARKS = ", ".join("?" * len(COLUMNS.split(",")))
INSERT = f"INSERT INTO executions (id, {COLUMNS}) VALUES (?, {_MARKS})"
# A compare-and-set on the status: values in ``COLUMNS`` order, then the id, then the status.
REPLACE = f"UPDATE executions SET ({COLUMNS}) = ({_MARKS}) WHERE id = ? AND status = ?"
# The same when only the columns a status change moves differ from the stored row: SQLite
# rewrites the entry of every index with a column in the SET list, changed or not, so
# ``REPLACE`` moved all eight indexes of an execution at each status change (bench-like rows,
# 15 per transaction: 23 → 14 µs of CPU and 1.6 → 0.6 WAL pages per update).
_CHANGING = (0, 5, 6, 7, 8)  # status, end_timestamp, owner, lease_expires, doc
_FIXED = (1, 2, 3, 4, 9, 10)  # action_ref, user, parent, start_timestamp, trace_id, trace_tag
_COLUMN_NAMES = [name.strip() for name in COLUMNS.split(",")]
_NARROW_REPLACE = (
    f"UPDATE executions SET ({', '.join(_COLUMN_NAMES[i] for i in _CHANGING)})"
    f" = ({', '.join('?' * len(_CHANGING))}) WHERE id = ? AND status = ? AND "
    + " AND ".join(f"{_COLUMN_NAMES[i]} IS ?" for i in _FIXED)
)


# Fixed-width UTC text (microseconds always written), so string order is time order: the
# documents' own timestamp format, which the columns the store filters and sorts on repeat.
stamp = isoformat


def execution_values(execution: Execution) -> tuple[Any, ...]:
    """Column values in ``COLUMNS`` order."""
    user = execution.context.get("user")
    return (
        str(execution.status),
        execution.action_ref,
        user if isinstance(user, str) else None,
        execution.parent,
        stamp(execution.start_timestamp),
        stamp(execution.end_timestamp),
        execution.owner,
        stamp(execution.lease_expires),
        _encode(execution),
        *trace_columns(execution.context.get("trace_context")),
    )


def replace_row(conn: sqlite3.Connection, args: Sequence[Any]) -> int:
    """Run ``REPLACE`` with ``args`` (its parameters); the rows changed (1: the CAS won).

    Tries ``_NARROW_REPLACE`` first: it changes the row only if the other columns hold these
    values already, as they do after every status change; else (say a context that names
    another user) the whole ``REPLACE``, in the same transaction.
    """
    values, key = args[:-2], args[-2:]
    narrow = (*(values[i] for i in _CHANGING), *key, *(values[i] for i in _FIXED))
    changed = conn.execute(_NARROW_REPLACE, narrow).rowcount
    return changed or conn.execute(REPLACE, args).rowcount


def trace_columns(trace: Any) -> tuple[Any, Any]:
    """(trace id, trace tag) of a stored ``trace_context``: what ``json_extract`` read from the
    document before these were columns (sqlite_schema v12)."""
    if not isinstance(trace, dict):
        return None, None
    return trace.get("id_"), trace.get("trace_tag")


def _encode(execution: Execution) -> str:
    """The execution as JSON, held to the same 16 MiB as on MongoDB, so a result that fits
    one backend fits the other (SQLite's own limit is near 1 GB)."""
    try:
        text = dumps(execution.to_doc())
    except (TypeError, ValueError) as exc:
        raise DocumentRejected(f"execution {execution.id}: document refused: {exc}") from exc
    # Each character is at most 4 bytes in UTF-8: encode only when it could be too large.
    if len(text) * 4 > MAX_DOCUMENT_BYTES and (size := len(text.encode())) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(
            f"execution {execution.id}: document refused: {size} bytes, more than the"
            f" {MAX_DOCUMENT_BYTES} bytes an execution may take"
        )
    return text
