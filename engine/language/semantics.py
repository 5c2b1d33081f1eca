"""One meaning per construct: each backend's semantics of every node of the rule language.

The rule language (engine/language/rules.py) is read by several backends: the explanation
(engine/backends/logic.py), durable-rules (engine/backends/durable_backend.py), polars columns
(engine/services/batch.py), type checking (engine/language/validate.py) and generation
(engine/testing/strategies.py). Each backend fills one :class:`Semantics` table per kind of node
(conditions, expressions) with a handler per node type, instead of an ``isinstance``
chain that can silently fall through. A table is checked complete when its module is
imported, and tests/test_conformance.py runs every node type on every backend against
the same expected values: a new node type that some backend does not handle fails both.

Adding a node type: docs/rule-language.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.language import rules

KINDS = ("condition", "expression")


def node_types(kind: str) -> tuple[type, ...]:
    """Every node type of one kind, read from the language itself (one home)."""
    return rules.CONDITION_NODES if kind == "condition" else rules.EXPRESSION_NODES


class IncompleteSemantics(RuntimeError):
    """A backend lacks a node type of the language."""


class Semantics:
    """One backend's meaning of one kind of node: a handler per node type."""

    def __init__(self, backend: str, kind: str, purpose: str):
        if kind not in KINDS:
            raise ValueError(f"kind is one of {KINDS}, got {kind!r}")
        self.backend = backend
        self.kind = kind
        self.purpose = purpose
        self.table: dict[type, Callable[..., Any]] = {}
        REGISTRY.append(self)

    def of(self, *types: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as this backend's meaning of ``types``."""

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            for node_type in types:
                if node_type in self.table:
                    raise ValueError(f"{self.backend}: {node_type.__name__} has two meanings")
                self.table[node_type] = handler
            return handler

        return register

    def __call__(self, node: Any, *args: Any) -> Any:
        handler = self.table.get(type(node))
        if handler is None:
            raise IncompleteSemantics(f"{self.backend} ({self.purpose}) has no meaning for {node!r}")
        return handler(node, *args)

    def missing(self) -> list[str]:
        return [t.__name__ for t in node_types(self.kind) if t not in self.table]

    def check_complete(self) -> Semantics:
        missing = self.missing()
        if missing:
            raise IncompleteSemantics(
                f"{self.backend} ({self.purpose}) lacks the {self.kind} node type(s) {', '.join(missing)}: "
                "see docs/rule-language.md, 'Adding a node type'"
            )
        return self


REGISTRY: list[Semantics] = []

BACKENDS = ("explanation", "durable-rules", "polars", "type checking", "generation")
"""Every backend gives every kind of node a meaning."""

BACKEND_MODULES = (
    "engine.backends.logic",
    "engine.backends.durable_backend",
    "engine.services.batch",
    "engine.language.validate",
    "engine.testing.strategies",
)


def all_semantics() -> list[Semantics]:
    """Every backend's tables, after importing every backend."""
    import importlib

    for module in BACKEND_MODULES:
        importlib.import_module(module)
    return list(REGISTRY)


def check_complete() -> None:
    """Every backend gives every node type a meaning, or IncompleteSemantics says which not."""
    tables = all_semantics()
    problems = [str(exc) for exc in _failures(tables)]
    present = {(t.backend, t.kind) for t in tables}
    problems += [
        f"{backend} has no meaning for any {kind} node"
        for backend in BACKENDS
        for kind in KINDS
        if (backend, kind) not in present
    ]
    if problems:
        raise IncompleteSemantics("\n".join(problems))


def _failures(tables: list[Semantics]) -> list[IncompleteSemantics]:
    out = []
    for table in tables:
        try:
            table.check_complete()
        except IncompleteSemantics as exc:
            out.append(exc)
    return out
