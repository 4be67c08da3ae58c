"""The package's layers: no import cycle, and every import points down the layers, never back up.

Read from the source (every ``import`` statement, at module level and inside functions), so the check needs no
import of the code it checks. A function-local import of the project's own code is allowed only in the modules
listed in :data:`IMPORT_SPEED` (the CLI loads a command's modules when the command runs; the report loads torch's
modules only for a method's display name, a dataset's class profile or gathering).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"bench": ROOT / "bench", "bench.methods": ROOT / "methods", "bench.datasets": ROOT / "datasets"}
# Bottom to top: a module may import its own component and the ones before it.
LAYERS = ("bench.errors", "bench.rules", "bench.registry", "bench.atomic", "bench.rng", "bench.speed", "bench.hardware",
          "bench.progress", "bench.config", "bench.datasets", "bench.methods", "bench.metrics", "bench.plan",
          "bench.run", "bench.search_grid", "bench.grid", "bench.executors", "bench.results", "bench.estimate",
          "bench.scheduler", "bench.tune", "bench.report", "bench.cli")
IMPORT_SPEED = {"bench.cli", "bench.report.figures", "bench.report.load", "bench.report.summary",
                "bench.report.tables"}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def imports(mods: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per module, the project modules it imports at module level and inside functions."""
    def target(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    top: dict[str, set[str]] = {}
    local: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        top[name], local[name] = set(), set()

        def visit(node: ast.AST, in_function: bool, name: str = name, package: str = package) -> None:
            for child in ast.iter_child_nodes(node):
                inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                names: list[str] = []
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1]
                                        + ([base] if base else []))
                    names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in child.names]
                for imported in names:
                    hit = target(imported) if imported.startswith("bench") else None
                    if hit and hit != name:
                        (local if inside else top)[name].add(hit)
                visit(child, inside)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return top, local


def layer(module: str) -> int:
    """The position of ``module``'s component in :data:`LAYERS` (the package ``bench`` itself: the bottom)."""
    return max((i for i, prefix in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".")),
               default=0)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    return out


def test_no_import_cycle_counting_function_local_imports():
    top, local = imports(modules())
    assert cycles({m: top[m] | local[m] for m in top}) == []


def test_every_import_points_down_the_layers():
    top, local = imports(modules())
    upward = [f"{m} -> {t}" for m in top for t in top[m] | local[m]
              if layer(t) > layer(m) and not (m.startswith("bench.methods") and t == "bench.methods")]
    assert upward == []


def test_function_local_imports_of_project_code_only_where_import_speed_needs_them():
    _, local = imports(modules())
    assert {m for m, targets in local.items() if targets} <= IMPORT_SPEED


def test_the_single_run_modules_live_in_their_own_subpackage():
    mods = modules()
    flat = sorted(m for m in mods if m.count(".") == 1 and m.startswith("bench.") and mods[m].parent == ROOT / "bench")
    for name in ("loop", "launch", "checkpoint", "posthoc", "locks", "samples", "monitor", "distributed", "setup"):
        assert f"bench.run.{name}" in mods and f"bench.{name}" not in flat
