"""Pack problems as data: every error names its file and the YAML path inside it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# A location inside a YAML document: mapping keys and list indexes, outermost first.
YamlPath = tuple[str | int, ...]


def format_path(path: YamlPath) -> str:
    """``("parameters", "cmd", "type")`` → ``parameters.cmd.type``; indexes → ``tags[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class PackError:
    """One problem in one pack file; ``validate_pack`` and the loader return lists of these."""

    file: Path
    yaml_path: str
    message: str
    # Not part of equality: tests and callers compare what and where, the line is a reading aid.
    line: int | None = field(default=None, compare=False)
    # A warning reports something that still loads (and fails later, when used); an error
    # means the item was left out.
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}: {self.yaml_path}: " if self.yaml_path else f"{self.file}: "
        suffix = f" (line {self.line})" if self.line is not None else ""
        return f"{where}{self.message}{suffix}"


def only_errors(problems: list[PackError]) -> list[PackError]:
    return [p for p in problems if not p.warning]


class PackFileError(Exception):
    """A pack file cannot be used at all (unreadable, not YAML, unsafe); carries its PackError."""

    def __init__(self, error: PackError) -> None:
        super().__init__(str(error))
        self.error = error


class FileProblems:
    """Adds errors for one file to a shared list, with the line of the nearest known YAML path."""

    def __init__(
        self,
        file: Path,
        errors: list[PackError],
        lines: Mapping[YamlPath, int] | None = None,
        prefix: YamlPath = (),
    ) -> None:
        self.file = file
        self.count = 0
        self._errors = errors
        self._lines = lines or {}
        self._prefix = prefix

    def under(self, prefix: YamlPath) -> FileProblems:
        """Problems of a part of this file (``trigger_types[0]``), counted on their own."""
        return FileProblems(self.file, self._errors, self._lines, (*self._prefix, *prefix))

    def add(self, path: YamlPath, message: str) -> None:
        path = (*self._prefix, *path)
        self._errors.append(PackError(self.file, format_path(path), message, self._line(path)))
        self.count += 1

    def warn(self, path: YamlPath, message: str) -> None:
        """Reported, but the item still loads (``count`` is unchanged)."""
        path = (*self._prefix, *path)
        error = PackError(self.file, format_path(path), message, self._line(path), warning=True)
        self._errors.append(error)

    def _line(self, path: YamlPath) -> int | None:
        # A missing key has no line of its own: point at its parent mapping instead.
        for end in range(len(path), -1, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return None
