"""The UI's words: ``ui/text.yaml`` for the screens, the catalogue's vocabulary for facts.

One lookup order for every label: the UI's own text, then ``rules/vocabulary.yaml``
(fact labels, ``value.*``, ``phrase.*``), then the key itself humanised, so that a
catalogue that grows faster than its vocabulary still shows something readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from engine import (
    CURRENCY,
    LANGUAGES,
    RESIDENCES,
    Catalogue,
    format_date,
    format_money,
    format_number,
    format_whole,
    residence_name,
)

LANGS = LANGUAGES  # engine/data/languages.yaml: the one list of languages
TEXT_FILE = Path(__file__).with_name("text.yaml")
_CHILD = re.compile(r"^children\[(\d+)\]\.(.+)$")


class TextError(ValueError):
    """ui/text.yaml breaks its shape: the message names the key."""


@lru_cache(maxsize=1)
def load_text(path: Path = TEXT_FILE) -> dict[str, dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TextError(f"{path}: expected a mapping of keys to {{en, zh-TW}}")
    for key, value in data.items():
        if not isinstance(value, dict) or set(value) != set(LANGS):
            raise TextError(f"{path}: {key}: needs exactly the languages {', '.join(LANGS)}")
    return data


@dataclass(frozen=True)
class Words:
    """Every word the UI shows, in one language."""

    catalogue: Catalogue
    lang: str
    ui: Mapping[str, Mapping[str, str]]

    def t(self, key: str, **fields: object) -> str:
        entry = self.ui.get(key)
        text = entry[self.lang] if entry else key
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        return key in self.ui

    def vocabulary(self, key: str) -> str | None:
        found = self.catalogue.labels.get(key)
        return found.get(self.lang) if found else None

    def fact(self, path: str) -> str:
        """The label of a profile path: ``person.sex``, ``children[0].order``, ``events.birth``."""
        if path == "children":
            return self.t("question.children")
        if path == "partner":
            return self.t("counter.partner")
        match = _CHILD.match(path)
        if match:
            base = self.vocabulary(f"child.{match.group(2)}") or _humanise(match.group(2))
            return f"{base} ({self.t('question.child_number', number=int(match.group(1)) + 1)})"
        if re.fullmatch(r"events\.[a-z_]+", path):
            return self.vocabulary(f"{path}.listed") or _humanise(path.split(".")[1])
        if path.startswith("parameters."):
            return path
        return self.vocabulary(path) or _humanise(path.rsplit(".", 1)[-1])

    def ask(self, path: str) -> str:
        """A fact as the citizen's questionnaire asks it: the applicant is "you" (next
        to "your partner"); other facts as :meth:`fact` names them. (The partner question
        has two wordings: ui/views.py, question_label.)"""
        return self.t(f"you.{path}") if self.has(f"you.{path}") else self.fact(path)

    def value(self, value: object) -> str:
        """A categorical value as words (``taichung`` → 臺中市); other values as given."""
        if isinstance(value, bool):
            return self.t("question.yes") if value else self.t("question.no")
        if isinstance(value, str) and value in RESIDENCES:
            return residence_name(
                value, self.lang, self.catalogue.root
            )  # rules/residences.yaml, the one home of the names
        if isinstance(value, str):
            return (
                self.t(f"value.{value}")
                if self.has(f"value.{value}")
                else (self.vocabulary(f"value.{value}") or value)
            )
        if isinstance(value, list):
            return self.t("list.separator").join(self.value(v) for v in value) or self.value("none")
        if isinstance(value, int | float):
            return format_number(value, self.lang)
        if isinstance(value, date):
            return self.date(value)
        return str(value)

    def where(self, path: str) -> str | None:
        """Where a citizen can look the fact up (``where.*`` in ui/text.yaml), if said."""
        key = "where." + re.sub(r"^children\[\d+\]", "children", path)
        return self.t(key) if self.has(key) else None

    def money(self, value: float, unit: str = CURRENCY) -> str:
        """An amount in its unit's words (``results.amount_unit.UNIT``), its figure
        formatted by Babel: {number} is 5,000 and {amount} NT$5,000 in the language's way."""
        figures = {"number": format_whole(value, self.lang), "amount": format_money(value, self.lang)}
        key = f"results.amount_unit.{unit}"
        if not self.has(key):
            return self.t("results.amount_unit.other", unit=unit, **figures)
        return self.t(key, **figures)

    def total(self, value: float) -> str:
        """A sum of money in the language's way (NT$1,000 / 新臺幣 1,000 元)."""
        return self.t(
            "results.totals.money",
            number=format_whole(value, self.lang),
            amount=format_money(value, self.lang),
        )

    def date(self, day: date) -> str:
        return format_date(day, self.lang)

    def event(self, event_id: str) -> str:
        found = self.catalogue.events.get(event_id)
        return found.name.get(self.lang) if found else event_id

    def join(self, items: list[str]) -> str:
        return self.t("list.separator").join(items)


def _humanise(key: str) -> str:
    return key.replace("_", " ")


def browser_language(accept_language: str | None, locale: str | None = None) -> str:
    """The first of the browser's languages (``Accept-Language``, by its q-values, then
    ``navigator.language``) that the app speaks: any Chinese is zh-TW (the one we have),
    any English is en; neither gives the first of LANGS."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, n, tag.strip().lower()))
    for _, _, tag in [*sorted(ranked), (0.0, 0, (locale or "").lower())]:
        if tag.startswith("zh"):
            return "zh-TW"
        if tag.startswith("en"):
            return "en"
    return LANGS[0]


def words(catalogue: Catalogue, lang: str) -> Words:
    return Words(catalogue, lang if lang in LANGS else LANGS[0], load_text())
