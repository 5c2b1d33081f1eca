"""YAML reading helpers shared by the rule loader and the profile reader."""

from __future__ import annotations

import re


def yaml12_booleans(loader: type) -> None:
    """Only true/false are booleans, as in YAML 1.2.

    PyYAML follows YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are booleans too,
    so ``{on: 2014-12-31}`` became ``{True: …}``; rule authors write ``on`` and mean it.
    """
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


# How deep collections may nest. The deepest file in rules/ nests 18 levels; a `not`
# nested 900 deep exhausted Python's recursion in the parser that reads conditions.
MAX_DEPTH = 64


class YamlShapeError(ValueError):
    """Text the loader refuses before building any data, with the 1-based line."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


# The characters YAML accepts (YAML 1.1 §5.1, as PyYAML's reader checks them).
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def decode_yaml_text(raw: bytes) -> str:
    """The text of a YAML file: UTF-8, without the control characters (NUL…) that YAML
    refuses. Checked here so the problem names its line: libyaml reports a byte offset."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlShapeError(line, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded") from None
    bad = _NOT_YAML.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise YamlShapeError(line, f"character U+{ord(bad.group()):04X} is not allowed in YAML text")
    return text


def error_line(exc: Exception, text: str) -> int:
    """The 1-based line a PyYAML error points at (a reader error gives a character offset)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1


def check_shape(text: str, loader: type, max_depth: int = MAX_DEPTH) -> None:
    """Refuse anchors, aliases and deep nesting, reading the parser's events one by one.

    Nothing is built and nothing recurses, so a hostile file costs one pass over its
    text. Aliases are refused outright: 458 bytes of nested aliases expanded to 10^5
    criteria (a "billion laughs"), and an alias inside its own anchor is a cycle that
    every walk over the rule would follow forever. Rule authors repeat a condition or,
    better, refer to the status (a note's ``on: [eligible]``).
    """
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            raise YamlShapeError(
                event.start_mark.line + 1,
                f"YAML alias '*{event.anchor}': anchors and aliases are not allowed in the rules or the catalogue; "
                "write the value out",
            )
        if getattr(event, "anchor", None) is not None:
            raise YamlShapeError(
                event.start_mark.line + 1,
                f"YAML anchor '&{event.anchor}': anchors and aliases are not allowed in the rules or the catalogue; "
                "write the value out",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise YamlShapeError(
                    event.start_mark.line + 1, f"nested deeper than {max_depth} levels: simplify the rule"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
