"""Human output for the CLI and the console: aligned tables and readable executions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

EXECUTION_COLUMNS = ("id", "action", "status", "user", "start_timestamp", "elapsed_seconds")


def describe_error(exc: BaseException) -> str:
    """One clear line for the user; KeyError wraps its text in quotes, so unwrap it."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max([len(col), *(len(r[i]) for r in cells)]) for i, col in enumerate(columns)]
    lines = ["  ".join(col.upper().ljust(w) for col, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def execution_summary(api: Mapping[str, Any]) -> str:
    """A short, readable view of an execution (the shape of ``execution_to_api``)."""
    elapsed = api.get("elapsed_seconds")
    status = api["status"] + (f" ({elapsed:.3f}s elapsed)" if elapsed is not None else "")
    head = {
        "id": api["id"],
        "action.ref": api["action"]["ref"],
        "status": status,
        "start_timestamp": api["start_timestamp"],
        "end_timestamp": api["end_timestamp"],
    }
    lines = [f"{key}: {value}" for key, value in head.items() if value is not None]
    given = {k: v for k, v in (api.get("parameters") or {}).items() if v is not None}
    if given:
        lines.append("parameters:")
        lines.append(_indented(given))
    if api.get("result") is not None:
        lines.append("result:")
        lines.append(_indented(api["result"]))
    return "\n".join(lines)


def _indented(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True)
    return "\n".join("  " + line for line in text.rstrip().splitlines())
