"""The built-in trigger types of pack ``core`` (st2-format §5.1), as data.

Schemas follow st2's ``st2common/constants/triggers.py`` in draft 4 form (``required`` lists),
so the loader validates rule parameters with them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from core.models.trigger import TriggerType

_STRING = {"type": "string"}
_OBJECT = {"type": "object"}
_TIMEZONE = {"type": "string", "description": "Timezone name, e.g. UTC or Europe/Paris."}


def _params(properties: Mapping[str, Any], *required: str) -> dict[str, Any]:
    # Unknown parameters are refused: they would silently name a different trigger instance.
    schema: dict[str, Any] = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _payload(**properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def _cron_field(minimum: int, maximum: int) -> dict[str, Any]:
    # APScheduler takes ints or expressions such as ``*/5``, ``1-5`` or ``mon-fri``.
    # The bounds apply to integers only (draft 4), so messages say "greater than the maximum".
    return {"type": ["string", "integer"], "minimum": minimum, "maximum": maximum}


_TIMER_PAYLOAD = _payload(executed_at={"type": "string"}, schedule={"type": ["object", "null"]})

_CRON_FIELDS = {
    "timezone": _TIMEZONE,
    "year": {"type": ["string", "integer"]},
    "month": _cron_field(1, 12),
    "day": _cron_field(1, 31),
    "week": _cron_field(1, 53),
    "day_of_week": _cron_field(0, 6),  # 0 is Monday, as in APScheduler
    "hour": _cron_field(0, 23),
    "minute": _cron_field(0, 59),
    "second": _cron_field(0, 59),
}

_EXECUTION_FIELDS = ("execution_id", "status", "start_timestamp", "action_ref", "runner_ref")


def _any_fields(*names: str) -> dict[str, Any]:
    return _payload(**{name: {} for name in names})


def _builtin(
    name: str,
    description: str,
    payload: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
) -> TriggerType:
    return TriggerType(
        pack="core",
        name=name,
        description=description,
        parameters_schema=parameters or {},
        payload_schema=payload,
    )


_TYPES = (
    _builtin(
        "st2.webhook",
        "Trigger type for registering webhooks that can consume arbitrary payload.",
        _payload(
            headers=_OBJECT,
            headers_lower=_OBJECT,
            body={"anyOf": [{"type": "array"}, {"type": "object"}]},
        ),
        _params({"url": _STRING}, "url"),
    ),
    _builtin(
        "st2.IntervalTimer",
        "Triggers on specified intervals. e.g. every 30s, 1week etc.",
        _TIMER_PAYLOAD,
        _params(
            {
                "timezone": _TIMEZONE,
                "unit": {"enum": ["weeks", "days", "hours", "minutes", "seconds"]},
                "delta": {"type": "integer"},
            },
            "unit",
            "delta",
        ),
    ),
    _builtin(
        "st2.DateTimer",
        "Triggers exactly once when the current time matches the specified time.",
        _TIMER_PAYLOAD,
        _params({"timezone": _TIMEZONE, "date": _STRING}, "date"),
    ),
    _builtin(
        "st2.CronTimer",
        "Triggers whenever current time matches the specified time constraints like a UNIX cron "
        "scheduler.",
        _TIMER_PAYLOAD,
        _params(_CRON_FIELDS),
    ),
    _builtin(
        "st2.generic.actiontrigger",
        "Trigger encapsulating the completion of an action execution.",
        _any_fields(*_EXECUTION_FIELDS, "action_name", "parameters", "result"),
    ),
    _builtin(
        "st2.generic.notifytrigger",
        "Notification trigger.",
        _any_fields(*_EXECUTION_FIELDS, "end_timestamp", "route", "channel", "message", "data"),
    ),
    _builtin(
        "st2.generic.inquiry",
        "Trigger indicating a new Inquiry has entered a pending state.",
        _payload(id=_STRING, route=_STRING),
    ),
    _builtin(
        "st2.action.file_written",
        "Trigger encapsulating action file being written on disk.",
        _any_fields("ref", "file_path", "host_info"),
    ),
    _builtin(
        "st2.sensor.process_spawn",
        "Trigger indicating sensor process is started up.",
        _any_fields("object"),
    ),
    _builtin(
        "st2.sensor.process_exit",
        "Trigger indicating sensor process is stopped.",
        _any_fields("object"),
    ),
    _builtin(
        "st2.key_value_pair.create",
        "Trigger encapsulating datastore item creation.",
        _any_fields("object"),
    ),
    _builtin(
        "st2.key_value_pair.update",
        "Trigger encapsulating datastore set action.",
        _any_fields("object"),
    ),
    _builtin(
        "st2.key_value_pair.value_change",
        "Trigger encapsulating a change of datastore item value.",
        _any_fields("old_object", "new_object"),
    ),
    _builtin(
        "st2.key_value_pair.delete",
        "Trigger encapsulating datastore item deletion.",
        _any_fields("object"),
    ),
)

# Read-only: every ContentIndex starts from a copy of this.
BUILTIN_TRIGGER_TYPES: Mapping[str, TriggerType] = MappingProxyType({t.ref: t for t in _TYPES})

WEBHOOK = "core.st2.webhook"
INTERVAL_TIMER = "core.st2.IntervalTimer"
DATE_TIMER = "core.st2.DateTimer"
CRON_TIMER = "core.st2.CronTimer"
ACTION_TRIGGER = "core.st2.generic.actiontrigger"
NOTIFY_TRIGGER = "core.st2.generic.notifytrigger"
INQUIRY_TRIGGER = "core.st2.generic.inquiry"
TIMER_TYPES = frozenset({INTERVAL_TIMER, DATE_TIMER, CRON_TIMER})
