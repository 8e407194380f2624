"""Sensor metadata (``sensors/*.yaml``): the trigger types a sensor declares.

st2 registers the ``trigger_types`` of every sensor at pack registration, so rules on them
load even before the sensor runs. Squall does the same: each entry becomes the trigger type
``<pack>.<name>``, checked like ``triggers/*.yaml`` (errors name ``trigger_types[i]``).
Running the sensors themselves (``class_name``, ``entry_point``, ``poll_interval``) is the
sensor container's job, not the loader's.
"""

from __future__ import annotations

from core.models import TriggerType
from core.packs import schemacheck
from core.packs.content import PackContent
from core.packs.errors import PackError
from core.packs.index import ContentIndex
from core.packs.metadata import metadata_files, read_metadata
from core.packs.triggers import trigger_type_from

SENSORS_DIR = "sensors"

_SENSOR = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "class_name": {"type": "string"},
            "entry_point": {"type": "string"},
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "poll_interval": {"type": "number"},
            "trigger_types": {"type": "array", "items": {"type": "object"}},
        },
    }
)


def sensor_trigger_types(content: PackContent, errors: list[PackError]) -> list[TriggerType]:
    """Every valid trigger type declared by the pack's sensors, in file order."""
    found: list[TriggerType] = []
    for relative in metadata_files(content.directory, SENSORS_DIR, errors):
        read = read_metadata(content.directory, relative, errors)
        if read is None:
            continue
        doc, problems = read
        schemacheck.check(_SENSOR, doc.data, problems)
        declared = doc.data.get("trigger_types", [])
        if problems.count or not isinstance(declared, list):
            continue
        for position, data in enumerate(declared):
            trigger = trigger_type_from(
                data, content.pack, problems.under(("trigger_types", position))
            )
            if trigger is not None:
                found.append(trigger)
    return found


class SensorKind:
    """Adds the trigger types of ``sensors/*.yaml`` to the pack's (``TriggerKind`` registers
    them); a name ``triggers/*.yaml`` already defines keeps that definition."""

    def load(self, content: PackContent, errors: list[PackError]) -> None:
        known = {t.name for t in content.trigger_types}
        for trigger in sensor_trigger_types(content, errors):
            if trigger.name not in known:
                known.add(trigger.name)
                content.trigger_types.append(trigger)

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        """Nothing of its own: the trigger types are registered with the pack's others."""
