"""The package's import structure: every module imports alone, and no import runs back up.

The import graph is read statically (every ``import``/``from`` in a module, function-level
imports included, since a lazy import that runs back up is still a cycle) and checked for
strongly connected components. Each module is then imported alone in a fresh child process
(forked after the third-party libraries are loaded, so the check stays fast).
"""

from __future__ import annotations

import ast
import os
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dknbench", "data_builders")

# Cycles still present, with the reason; any other cycle fails the test. Remove an entry when the
# cycle is broken (the test also fails when a listed cycle no longer exists).
KNOWN_CYCLES: dict[frozenset, str] = {}


def package_modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    mods = package_modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - node.level + 1]
                    prefix = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in mods:  # the deepest module the name refers to
                    target = target.rpartition(".")[0]
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_cycle_finder_finds_a_lazy_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    found = {c: sorted(c) for c in cycles(import_graph())}
    unexpected = [members for c, members in found.items() if c not in KNOWN_CYCLES]
    assert not unexpected, f"import cycles: {unexpected}"
    assert set(KNOWN_CYCLES) <= set(found), "a listed cycle is gone: remove it from KNOWN_CYCLES"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_every_module_imports_alone():
    # import everything once here, so the children inherit the third-party libraries and each
    # re-imports only our own modules
    modules = [m for m in package_modules() if not m.endswith("__main__")]  # __main__ runs the CLI
    for module in modules:
        __import__(module)
    failures = {}
    for module in modules:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: drop every module of ours, then import this one alone
            os.close(read)
            for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
                del sys.modules[name]
            try:
                __import__(module)
                os.write(write, b"ok")
            except BaseException:
                os.write(write, traceback.format_exc()[-1500:].encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            message = pipe.read().decode()
        os.waitpid(pid, 0)
        if message != "ok":
            failures[module] = message
    assert not failures, failures


# The pipeline's layers, lowest first (docs/ARCHITECTURE.md). A module may import its own layer
# and the layers below it, never one above: so the folders read as the pipeline, bottom up.
LAYERS = [
    {"dknbench", "activity", "errors", "hub", "hyperparams", "io", "paths", "registry", "selection"},
    {"data", "data_builders"},  # the builders read and write the fact schema; loading builds specs
    {"models"},
    {"interventions"},
    {"scoring"},
    {"localization"},
    {"dkn"},
    {"stats"},
    {"metrics"},
    {"results"},
    {"tasks"},
    {"harness"},
    {"leaderboard"},
    {"reproduce"},
    {"cli", "__main__"},
]


def layer_of(module: str) -> int:
    parts = module.split(".")
    name = "data_builders" if parts[0] == "data_builders" else (parts[1] if len(parts) > 1 else "dknbench")
    return next(i for i, names in enumerate(LAYERS) if name in names)


def test_imports_run_down_the_pipeline_layers():
    upward = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                    if layer_of(b) > layer_of(a))
    assert not upward, "imports that run back up the pipeline:\n" + "\n".join(upward)
