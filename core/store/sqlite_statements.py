"""Statements the SQLite writer thread runs for the repositories (beside sqlite_db's
``fetch_all`` and ``row_count``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any


def insert_new(conn: sqlite3.Connection, sql: str, row: Sequence[Any]) -> bool:
    """Run the INSERT ``sql``; False when a unique key already holds ``row`` (a duplicate).

    SQLite undoes only the refused statement, so the rest of the writer's batch is unaffected.
    """
    try:
        conn.execute(sql, row)
    except sqlite3.IntegrityError:
        return False
    return True
