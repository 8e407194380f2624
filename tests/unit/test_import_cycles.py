"""No import cycles between the modules of bot, core and adapters, not even inside a function.

The graph is built from the source (AST), not from what Python happens to import: every
``import``/``from … import`` anywhere in a module counts (module level, in functions, under
``TYPE_CHECKING``), relative imports are resolved, and ``from pkg import name`` where ``name`` is
a submodule counts as importing that submodule.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "core", "adapters")
# Runs as a separate program inside the sandboxed child, not as part of the engine.
EXCLUDED = ("core/runners/python_shim/",)

Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not any(rel.startswith(prefix) for prefix in EXCLUDED):
                found[module_name(path)] = path
    return found


def resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imported_modules(module: str, path: Path, modules: Collection[str]) -> Iterator[str]:
    """Every module this one imports: ``from pkg import name`` names the submodule ``pkg.name``
    when there is one, else ``pkg`` itself (whose ``__init__`` provides ``name``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = (
                resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in modules else base


def import_graph(modules: dict[str, Path]) -> Graph:
    """Module → the modules it imports. Importing ``a.b.c`` first runs ``a/__init__`` and
    ``a/b/__init__``, so those count too, except the importer's own packages (already running)."""
    graph: Graph = {name: set() for name in modules}
    for module, path in modules.items():
        own_packages = set(prefixes(module))
        for name in imported_modules(module, path, modules):
            for target in prefixes(name):
                if target in modules and target != module and target not in own_packages:
                    graph[module].add(target)
    return graph


def prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None. Iterative DFS with colours."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for start in sorted(graph):
        if colour[start] != white:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        colour[start] = grey
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = black
                stack.pop()
            elif colour[child] == grey:
                path = [name for name, _ in stack]
                return [*path[path.index(child) :], child]
            elif colour[child] == white:
                colour[child] = grey
                stack.append((child, iter(sorted(graph[child]))))
    return None


def all_cycles(graph: Graph) -> list[list[str]]:
    """Cycles found by removing one edge of each found cycle until none is left (a report)."""
    work = {node: set(targets) for node, targets in graph.items()}
    cycles: list[list[str]] = []
    while (cycle := find_cycle(work)) is not None:
        cycles.append(cycle)
        work[cycle[-2]].discard(cycle[-1])
    return cycles


def test_the_graph_sees_imports_inside_functions_and_relative_ones() -> None:
    modules = project_modules()
    graph = import_graph(modules)
    assert len(modules) > 150  # the walk found the project
    assert "core.runners.python_host.protocol" in graph["core.runners.python_host.server"]
    assert "core.runners.python_host.child" in graph["core.runners.python_host.server"]
    assert "adapters.slack" in graph["bot.chat.runtime"]  # imported inside a function
    # importing core.packs.errors runs core/packs/__init__ first
    assert "core.packs" in graph["core.workflows.definitions"]
    assert "core.packs" not in graph["core.packs.errors"]  # its own package is already running


def test_cycle_finder_reports_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    graph: Graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    cycles = all_cycles(import_graph(project_modules()))
    report = "\n".join(" → ".join(cycle) for cycle in cycles)
    assert not cycles, f"import cycles:\n{report}"
