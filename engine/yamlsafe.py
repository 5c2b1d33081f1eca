"""YAML reading helpers shared by the rule loader and the profile reader."""

from __future__ import annotations


def yaml12_booleans(loader: type) -> None:
    """Only true/false are booleans, as in YAML 1.2.

    PyYAML follows YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are booleans too,
    so ``{on: 2014-12-31}`` became ``{True: …}``; rule authors write ``on`` and mean it.
    """
    import re

    bool_tag = "tag:yaml.org,2002:bool"
    strict = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
    resolvers = {}
    for first, entries in loader.yaml_implicit_resolvers.items():
        kept = [(tag, rx) for tag, rx in entries if tag != bool_tag]
        if first in "tTfF":
            kept.append((bool_tag, strict))
        resolvers[first] = kept
    loader.yaml_implicit_resolvers = resolvers


def without_timestamps(loader: type) -> None:
    """Dates stay strings, so that the reader's model (pydantic), not PyYAML, judges them
    and an impossible date such as 2026-02-30 gets a clean error."""
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in loader.yaml_implicit_resolvers.items()
    }
