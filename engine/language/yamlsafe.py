"""YAML reading helpers shared by the rule loader and the profile reader."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

# PyYAML is imported where a file is parsed: an answer read back from the catalogue
# cache (engine/language/cache.py) parses none and does not pay for importing it.
if TYPE_CHECKING:
    import yaml


def yaml12_booleans(loader: type[yaml.resolver.BaseResolver]) -> None:
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


def without_timestamps(loader: type[yaml.resolver.BaseResolver]) -> None:
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


@cache
def _not_yaml() -> re.Pattern[str]:
    """A character YAML refuses (YAML 1.1 §5.1, as PyYAML's reader checks them).
    Compiled on first use: a class spanning the astral planes takes ``re`` about 8 ms to
    compile, which an answer read back from the catalogue cache does not need."""
    return re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def decode_yaml_text(raw: bytes) -> str:
    """The text of a YAML file: UTF-8, without the control characters (NUL…) that YAML
    refuses. Checked here so the problem names its line: libyaml reports a byte offset."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlShapeError(line, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded") from None
    bad = _not_yaml().search(text)
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


# Where a problem is: the file and line every error names (loader and validate share
# them; they live here so that neither imports the other).
@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CatalogueError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class YamlDoc:
    file: str
    data: Any
    node: yaml.Node | None

    def line(self, path: tuple[Any, ...]) -> int:
        """1-based line of the value at ``path`` (the nearest known ancestor's line)."""
        import yaml

        node = self.node
        line = node.start_mark.line + 1 if node is not None else 1
        for part in path:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if str(key_node.value) == str(part):
                        line = key_node.start_mark.line + 1
                        node = value_node
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


# --- reading a YAML file of the rules: safe_load semantics, lines kept ---------------


@cache
def _rules_loader() -> tuple[type, type]:
    """PyYAML's base loader (libyaml when present: 10x faster) and, built on it, the
    rules' loader: safe_load semantics, refusing duplicate keys, with YAML 1.2 booleans."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    yaml12_booleans(Loader)
    return base, Loader


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict:
    import yaml

    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def read_source(path: Path | str, shown: str) -> bytes:
    """The bytes of a rule or catalogue file; anything but a readable regular file is a
    problem of that file (a dangling link, a directory named ``x.yaml``, a device).

    Opened without blocking and checked on the open file (no race between the check and
    the read): a FIFO named ``x.yaml`` would otherwise wait for a writer forever. One
    open, fstat and read also cost a third of pathlib's stat and read_bytes, which the
    catalogue cache's key pays for every rule file of every answer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            os.close(fd)
            raise
        if not regular:
            os.close(fd)
            raise CatalogueError(
                [Problem(shown, 1, "not a regular file (a directory or a device named .yaml?)")]
            )
        with os.fdopen(fd, "rb") as file:
            return file.read()
    except FileNotFoundError:
        message = (
            "a symbolic link to a file that does not exist" if os.path.islink(path) else "file not found"
        )
        raise CatalogueError([Problem(shown, 1, message)]) from None
    except OSError as exc:
        raise CatalogueError(
            [Problem(shown, 1, f"cannot be read: {exc.strerror or type(exc).__name__}")]
        ) from None


def read_yaml(path: Path, shown: str, raw: bytes | None = None) -> YamlDoc:
    """Parse once: the node tree (for line numbers) and the data built from it.

    Before anything is built, the text must be UTF-8 and free of anchors, aliases and
    nesting deeper than MAX_DEPTH (see ``yamlsafe.check_shape``): these are the inputs
    that made one small file cost every request, or crash the loader.
    """
    if raw is None:
        raw = read_source(path, shown)
    try:
        text = decode_yaml_text(raw)
    except YamlShapeError as exc:
        raise CatalogueError([Problem(shown, exc.line, exc.message)]) from None
    return parse_yaml_text(text, shown)


def parse_yaml_text(text: str, shown: str) -> YamlDoc:
    """Decoded YAML text checked and built as every file of the rules is: no anchors,
    aliases or deep nesting, no duplicate key, YAML 1.2 booleans, lines kept."""
    import yaml

    base, rules_loader = _rules_loader()
    try:
        check_shape(text, base)
    except YamlShapeError as exc:
        raise CatalogueError([Problem(shown, exc.line, exc.message)]) from None
    except yaml.YAMLError as exc:
        raise CatalogueError(
            [Problem(shown, error_line(exc, text), f"YAML syntax: {_yaml_problem(exc)}")]
        ) from None
    loader = rules_loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise CatalogueError(
            [Problem(shown, error_line(exc, text), f"YAML syntax: {_yaml_problem(exc)}")]
        ) from None
    finally:
        loader.dispose()
    return YamlDoc(shown, data, node)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    import yaml

    if isinstance(exc, yaml.MarkedYAMLError):
        return str(exc.problem or exc)
    return str(exc).splitlines()[0]
