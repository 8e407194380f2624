"""Safe YAML loading for pack files (security.md §4.3), keeping the line of every key.

Only PyYAML's safe loader is used: a ``!!python/object`` tag is a load error, never executed.
YAML 1.1 semantics stay as PyYAML gives them (``yes``/``on`` are booleans), as in StackStorm.
Aliases are allowed (real packs use anchors), but a document whose aliases would expand past
``MAX_EXPANDED_NODES`` is refused: PyYAML builds shared references cheaply, and the blow-up
("billion laughs") would only happen later, in json.dumps, Jinja or deepcopy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.packs.errors import PackError, PackFileError, YamlPath

MAX_YAML_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 1_000_000
MAX_DEPTH = 100

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDoc:
    data: dict[Any, Any]
    # 1-based line of each key / list item, by YAML path.
    lines: dict[YamlPath, int]


def load_yaml_mapping(read_path: Path, shown: Path, *, allow_empty: bool = False) -> YamlDoc:
    """Load a YAML file whose top level must be a mapping.

    ``read_path`` is the (already checked) file to open, ``shown`` the name used in errors.
    ``allow_empty``: an empty document counts as ``{}`` (pack configs) instead of an error.
    """
    loader = _Loader(_read_text(read_path, shown))
    try:
        return _parse(loader, shown, allow_empty=allow_empty)
    except yaml.constructor.ConstructorError as exc:
        # Safe loading refuses python/* and unknown tags; say so instead of "constructor".
        message = f"unsupported YAML tag {_tag(exc)}: only plain YAML is allowed in packs"
        raise _error(shown, message, _yaml_line(exc)) from exc
    except yaml.YAMLError as exc:
        raise _error(shown, f"invalid YAML: {_yaml_message(exc)}", _yaml_line(exc)) from exc
    except RecursionError as exc:
        raise _error(shown, f"nested deeper than {MAX_DEPTH} levels") from exc
    finally:
        loader.dispose()


def _parse(loader: yaml.SafeLoader, shown: Path, *, allow_empty: bool) -> YamlDoc:
    node = loader.get_single_node()
    if node is None:
        if allow_empty:
            return YamlDoc({}, {})
        raise _error(shown, "the file is empty; expected a mapping")
    if not isinstance(node, yaml.MappingNode):
        raise _error(shown, f"expected a mapping at the top level, got a {_kind(node)}")
    # Size the document before building it: construction itself is cheap, its users are not.
    _check_expansion(node, shown)
    data = loader.construct_document(node)
    lines: dict[YamlPath, int] = {}
    _collect_lines(node, (), lines)
    return YamlDoc(data, lines)


def _read_text(read_path: Path, shown: Path) -> str:
    if not read_path.exists():
        raise _error(shown, "file does not exist")
    if not read_path.is_file():
        raise _error(shown, "not a regular file")
    with read_path.open("rb") as handle:
        raw = handle.read(MAX_YAML_BYTES + 1)
    if len(raw) > MAX_YAML_BYTES:
        raise _error(shown, f"file is larger than the {MAX_YAML_BYTES} byte limit")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(shown, f"not valid UTF-8: {exc.reason} at byte {exc.start}") from exc


def _check_expansion(root: yaml.Node, shown: Path) -> None:
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int, open_nodes: set[int]) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _error(shown, "a YAML alias refers to itself (recursive structure)")
        if depth > MAX_DEPTH:
            raise _error(shown, f"nested deeper than {MAX_DEPTH} levels")
        open_nodes.add(key)
        total = 1 + sum(size(child, depth + 1, open_nodes) for child in _children(node))
        open_nodes.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise _error(shown, "YAML aliases expand to too many nodes (alias bomb?)")
        return total

    size(root, 0, set())


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _collect_lines(node: yaml.Node, path: YamlPath, lines: dict[YamlPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            child = (*path, str(key_node.value))
            lines.setdefault(child, key_node.start_mark.line + 1)
            _collect_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _collect_lines(item, child, lines)


def _kind(node: yaml.Node) -> str:
    return "list" if isinstance(node, yaml.SequenceNode) else "scalar"


def _tag(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or ""
    start = problem.find("'")
    return problem[start:] if start >= 0 else "(unknown)"


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        return ": ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
    return str(exc)


def _yaml_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    return None if mark is None else int(mark.line) + 1


def _error(shown: Path, message: str, line: int | None = None) -> PackFileError:
    return PackFileError(PackError(shown, "", message, line))
