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
