"""The workflow state's documents are encoded as the executions' (orjson when it takes them):
the same text as json.dumps, and what JSON cannot hold (a datetime a publish left in the
context) written as its str, as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from core.store.sqlite_workflows import _json


def test_the_same_text_as_the_standard_library() -> None:
    doc = {"id": "t1", "ctxs": {"in": [0], "out": {}}, "prev": {"t0__t0": 0},
           "result": {"stdout": "héllo ✓", "n": 1.5, "big": 2**70, "none": None}}  # fmt: skip
    assert _json(doc) == json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(_json(doc)) == doc


def test_what_json_cannot_hold_is_written_as_its_str() -> None:
    when = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
    assert json.loads(_json({"value": when, 1: "x"})) == {"value": str(when), "1": "x"}
