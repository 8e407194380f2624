"""Which sensors the loaded packs have: ``sensors/*.yaml`` with ``class_name`` and ``entry_point``.

The pack loader registers their trigger types (``core.packs.sensors``); this reads the rest,
what running one needs. Errors name the file and field, like every pack error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.models import Pack
from core.packs.errors import PackError
from core.packs.metadata import metadata_files, read_metadata
from core.packs.paths import PackDir, UnsafePathError
from core.packs.sensors import SENSORS_DIR


@dataclass(frozen=True)
class SensorSpec:
    pack: str
    class_name: str
    entry_point: Path
    pack_path: Path
    trigger_types: tuple[str, ...]
    poll_interval: float | None
    enabled: bool
    description: str = ""

    @property
    def ref(self) -> str:
        """st2's sensor ref: ``<pack>.<class_name>``."""
        return f"{self.pack}.{self.class_name}"


def load_sensor_specs(packs: Iterable[Pack], errors: list[PackError]) -> list[SensorSpec]:
    """Every valid sensor of ``packs``, in pack then file order."""
    found: list[SensorSpec] = []
    for pack in packs:
        pack_dir = PackDir.at(pack.path)
        for relative in metadata_files(pack_dir, SENSORS_DIR, errors):
            spec = _read(pack, pack_dir, relative, errors)
            if spec is not None:
                found.append(spec)
    return found


def _read(
    pack: Pack, pack_dir: PackDir, relative: str, errors: list[PackError]
) -> SensorSpec | None:
    read = read_metadata(pack_dir, relative, errors)
    if read is None:
        return None
    doc, problems = read
    data = doc.data
    class_name, entry = data.get("class_name"), data.get("entry_point")
    if not isinstance(class_name, str) or not class_name:
        problems.add(("class_name",), "required: the sensor's Python class")
    if not isinstance(entry, str) or not entry.endswith(".py"):
        problems.add(("entry_point",), "required: the sensor's .py file, relative to sensors/")
    if problems.count:
        return None
    try:
        entry_path = pack_dir.resolve(f"{SENSORS_DIR}/{entry}")
    except UnsafePathError as exc:
        problems.add(("entry_point",), str(exc))
        return None
    if not entry_path.is_file():
        problems.add(("entry_point",), f"{SENSORS_DIR}/{entry} does not exist")
        return None
    interval = data.get("poll_interval")
    declared = data.get("trigger_types") or []
    return SensorSpec(
        pack=pack.ref,
        class_name=str(class_name),
        entry_point=entry_path,
        pack_path=pack_dir.root,
        trigger_types=tuple(
            _trigger_ref(pack.ref, item) for item in declared if isinstance(item, dict)
        ),
        poll_interval=float(interval) if isinstance(interval, int | float) else None,
        enabled=data.get("enabled", True) is not False,
        description=str(data.get("description") or ""),
    )


def _trigger_ref(pack: str, item: dict[str, object]) -> str:
    name = str(item.get("name", ""))
    return name if "." in name else f"{pack}.{name}"
