"""The architecture as a test: no import cycles between the engine's modules, and the
import-linter contracts in pyproject.toml (the engine in layers; the apps use only the
engine's public API; the engine knows nothing of the apps) kept.

A cycle is where a change in one module can break another that seems unrelated; the
layers are what a reader draws from the folder names (style.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp", reason="import-linter (grimp) is missing")

ROOT = Path(__file__).resolve().parent.parent


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of the import graph, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(sorted(component))
    return found


def engine_import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("engine")
    modules = {m for m in graph.modules if not graph.find_children(m)}
    return {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}


def test_the_cycle_finder_finds_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["d"]]


def test_no_module_of_the_engine_imports_itself_back():
    cycles = [c for c in strongly_connected(engine_import_graph()) if len(c) > 1]
    assert not cycles, f"import cycles (also imports inside functions count): {cycles}"


def test_the_import_contracts_hold():
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(lint_imports).exists():
        pytest.skip("import-linter is missing")
    done = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
