"""The cities and counties of household registration: ``rules/residences.yaml``.

One home for what the code knows about a residence beyond its id (the ids themselves
are the profile contract's, :data:`engine.language.profile.RESIDENCES`): its name in each language
(the outreach list's headings, the questionnaire's choices) and its minimum-living-expense
area (the index of the area-dependent parameters, ``household.mle_area``).

Read once, from the rules root (engine/language/rulesroot.py), when first asked. The facts module
reads the areas while it is imported, before the catalogue loader exists, so this module
reads its YAML itself rather than through engine/language/loader.py; its problems are worded as
the loader's, ``file:line: message`` (and ``lifeevents validate`` reports them too).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.language.profile import RESIDENCES
from engine.language.rules import Text
from engine.language.rulesroot import rules_root
from engine.language.yamlsafe import CatalogueError, parse_yaml_text

if TYPE_CHECKING:  # PyYAML and the list of languages are needed only to read the file
    import yaml

RESIDENCES_FILE = "rules/residences.yaml"


class ResidencesError(ValueError):
    """rules/residences.yaml breaks its shape; ``problems`` are (line, message) pairs."""

    def __init__(self, file: str, problems: list[tuple[int, str]]):
        self.file = file
        self.problems = sorted(problems)
        super().__init__("\n".join(f"{file}:{line}: {message}" for line, message in self.problems))


@dataclass(frozen=True)
class Residence:
    id: str
    name: Text
    mle_area: str


@dataclass(frozen=True)
class Residences:
    by_id: dict[str, Residence]
    mle_areas: dict[str, Text]  # area id -> its name

    def name(self, residence: str, lang: str) -> str:
        found = self.by_id.get(residence)
        return found.name.get(lang) if found else residence

    def mle_area_of(self) -> dict[str, str]:
        return {r.id: r.mle_area for r in self.by_id.values()}


def _line(node: yaml.Node | None, path: tuple[str, ...]) -> int:
    """1-based line of the value at ``path`` (the nearest known ancestor's line)."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else 1
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            return line
        for key, value in node.value:
            if str(key.value) == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            return line
    return line


def _text(raw: Any) -> Text | None:
    from engine.language.i18n import LANGUAGES

    if (
        isinstance(raw, dict)
        and set(raw) == set(LANGUAGES)
        and all(isinstance(v, str) and v for v in raw.values())
    ):
        return Text(en=raw["en"], zh=raw["zh-TW"])
    return None


def parse_residences(text: str, file: str = RESIDENCES_FILE) -> Residences:
    """The file's content, checked: every residence of the profile contract exactly once,
    each with a name in every language and one of the file's MLE areas."""
    from engine.language.i18n import LANGUAGES

    # Read as every rule file is (a duplicated key is refused, not silently the last one).
    try:
        doc = parse_yaml_text(text, file)
    except CatalogueError as exc:
        raise ResidencesError(file, [(p.line, p.message) for p in exc.problems]) from None
    node, data = doc.node, doc.data
    langs = ", ".join(LANGUAGES)  # engine/data/languages.yaml: the one list of languages
    problems: list[tuple[int, str]] = []

    def problem(path: tuple[str, ...], message: str) -> None:
        problems.append((_line(node, path), message))

    if (
        not isinstance(data, dict)
        or not isinstance(data.get("residences"), dict)
        or not isinstance(data.get("mle_areas"), dict)
    ):
        raise ResidencesError(file, [(1, "expected 'mle_areas: {area: name}' and 'residences: {id: …}'")])
    areas: dict[str, Text] = {}
    for area, raw in data["mle_areas"].items():
        name = _text(raw)
        if name is None:
            problem(("mle_areas", str(area)), f"mle_areas.{area}: a name in each of {langs}")
        else:
            areas[str(area)] = name
    by_id: dict[str, Residence] = {}
    for rid, raw in data["residences"].items():
        where = ("residences", str(rid))
        if rid not in RESIDENCES:
            problem(where, f"residences.{rid}: not a residence of the profile ({', '.join(RESIDENCES)})")
            continue
        if not isinstance(raw, dict) or set(raw) != {"name", "mle_area"}:
            problem(where, f"residences.{rid}: expected {{name: {{en, zh-TW}}, mle_area: AREA}}")
            continue
        name = _text(raw["name"])
        if name is None:
            problem((*where, "name"), f"residences.{rid}.name: a name in each of {langs}")
        if raw["mle_area"] not in data["mle_areas"]:
            problem(
                (*where, "mle_area"),
                f"residences.{rid}.mle_area: {raw['mle_area']!r} is not one of mle_areas "
                f"({', '.join(map(str, data['mle_areas']))})",
            )
        if name is not None:
            by_id[rid] = Residence(rid, name, str(raw["mle_area"]))
    missing = [r for r in RESIDENCES if r not in data["residences"]]
    if missing:
        problem(("residences",), f"residences: missing {', '.join(missing)} (every residence of the profile)")
    if problems:
        raise ResidencesError(file, problems)
    # In the contract's order, whatever the file's.
    return Residences({r: by_id[r] for r in RESIDENCES}, areas)


def read_residences(root: Path) -> Residences:
    path = Path(root) / RESIDENCES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResidencesError(RESIDENCES_FILE, [(1, f"cannot be read: {exc}")]) from None
    return parse_residences(text)


# Each tree's residences, by its resolved root, once read (or given by the catalogue cache).
_READ: dict[str, Residences] = {}


def _tree(root: Path | str | None) -> str:
    return str(Path(root).resolve() if root is not None else rules_root().resolve())


def residences(root: Path | str | None = None) -> Residences:
    """The residences of a rules tree (by default the rules root in use), read once per tree:
    an app that answers from another tree (a staff draft, a test's copy) names places as
    that tree does."""
    tree = _tree(root)
    if tree not in _READ:
        _READ[tree] = read_residences(Path(tree))
    return _READ[tree]


def use_residences(root: Path | str, read: Residences) -> None:
    """The residences of ``root`` as the catalogue cache stored them, read from the file
    its key covers (engine/language/cache.py): an answer from the cache parses no YAML."""
    _READ.setdefault(_tree(root), read)


@cache
def mle_areas() -> dict[str, str]:
    """Each residence's minimum-living-expense area."""
    return residences().mle_area_of()


class _AreasWhenRead(Mapping[str, str]):
    """:func:`mle_areas`, read at first use rather than at import: the facts module is
    imported by every command, ``lifeevents validate`` included, which must be able to
    report a broken file as ``file:line`` instead of failing to start."""

    def __getitem__(self, residence: str) -> str:
        return mle_areas()[residence]

    def __iter__(self) -> Iterator[str]:
        return iter(mle_areas())

    def __len__(self) -> int:
        return len(mle_areas())


MLE_AREAS: Mapping[str, str] = _AreasWhenRead()


def residence_name(residence: str, lang: str, root: Path | str | None = None) -> str:
    """``taichung`` → 臺中市 / Taichung City; an id the file does not know, as given."""
    return residences(root).name(residence, lang)
