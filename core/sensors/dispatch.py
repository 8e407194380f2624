"""A sensor's ``dispatch``: the trigger it names, its payload checked, then the rules engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from core.models.trace import TraceContext
from core.packs import ContentIndex
from core.packs.index import UnknownTriggerTypeError
from core.sensors.triggers import TriggerDict
from core.triggers.dispatcher import TriggerDispatcher


class DispatchRefused(ValueError):
    """A dispatch the sensor gets an error for (unknown trigger, payload off its schema)."""


def sensor_source(ref: str) -> str:
    return f"sensor:{ref}"


async def dispatch_from_sensor(
    dispatcher: TriggerDispatcher | None,
    index: ContentIndex,
    sensor_ref: str,
    args: Mapping[str, Any],
    known_triggers: Mapping[str, TriggerDict],
    *,
    validate: bool,
) -> str:
    """Store the instance (before returning: the sensor's ``dispatch`` waits for this) and
    have it processed; returns the instance id. Without a dispatcher (``squall sensor run``
    without ``--store``) the dispatch is checked but stored nowhere.

    ``trigger`` is a trigger type ref, or the ``ref`` of a trigger the sensor was given through
    ``add_trigger`` (then the instance carries that trigger's parameters, as in st2).
    """
    name = args.get("trigger")
    payload = args.get("payload") or {}
    if not isinstance(name, str) or not name:
        raise DispatchRefused("dispatch: trigger must be a trigger ref such as 'mypack.event'")
    if not isinstance(payload, dict):
        raise DispatchRefused(f"dispatch: the payload of {name} must be an object")
    trigger = known_triggers.get(name)
    type_ref = str(trigger["type"]) if trigger else name
    parameters = dict(trigger["parameters"]) if trigger else None
    try:
        trigger_type = index.get_trigger_type(type_ref)
    except UnknownTriggerTypeError as exc:
        raise DispatchRefused(str(exc)) from None
    if validate and trigger_type.payload_schema:
        error = best_match(Draft4Validator(dict(trigger_type.payload_schema)).iter_errors(payload))
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path) or "payload"
            raise DispatchRefused(
                f"payload of {type_ref} does not match its payload_schema at {where}: "
                f"{error.message} (sensors.validate_payload)"
            )
    if dispatcher is None:
        return ""
    # st2's trace_context: an existing trace's id_, or a trace_tag to start or join.
    raw = args.get("trace_context")
    context: dict[str, Any] = raw if isinstance(raw, dict) else {}
    tag = context.get("trace_tag") if isinstance(context.get("trace_tag"), str) else None
    instance = await dispatcher.dispatch(
        type_ref,
        payload,
        trigger_parameters=parameters,
        source=sensor_source(sensor_ref),
        trace_tag=tag,
        trace=TraceContext.from_doc(context),
    )
    return instance.id if instance is not None else ""
