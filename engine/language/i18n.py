"""Languages as data: which languages there are, and numbers, money and dates in each.

The list lives in ``engine/data/languages.yaml`` and nowhere else: the CLI's ``--lang``,
the API's ``lang``, the UI's language switch and the checks of the language files all
read :data:`LANGUAGES`. Numbers, money and dates are formatted by Babel from the CLDR
data of each language's locale (grouping, the currency sign), with the wording around
them ("每月新臺幣 {number} 元") left to the language files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Babel and PyYAML are imported when first needed: PyYAML when languages.yaml is read (an
# answer from the catalogue cache gets the languages from there), Babel when a number or
# a date is first formatted. Every figure is Babel's (issue 14: "formatted by Babel, not
# by hand"); its import and locale data, ~30 ms, are paid by a command that shows one.
if TYPE_CHECKING:
    from babel import Locale
    from babel.dates import DateTimePattern
    from babel.numbers import NumberPattern

LANGUAGES_FILE = Path(__file__).resolve().parents[1] / "data" / "languages.yaml"
CALENDARS = ("gregorian", "roc")
# The Republic of China era counts years from 1912 (民國元年); CLDR knows the "roc"
# calendar but Babel formats only the Gregorian one, so the era's year is this offset.
ROC_OFFSET = 1911
CURRENCY = "TWD"  # every amount in the rules is in New Taiwan dollars (rules.md)


class LanguageError(ValueError):
    """languages.yaml breaks its shape, or a language is not in it: the message names which."""


@dataclass(frozen=True)
class Language:
    code: str  # the key of its texts in every language file (zh-TW, en)
    locale: str  # the Babel (CLDR) locale's name
    date_pattern: str
    calendars: tuple[str, ...]


def _language(code: str, raw: object, path: Path) -> Language:
    from babel import UnknownLocaleError

    if not isinstance(raw, dict) or set(raw) != {"locale", "date", "calendars"}:
        raise LanguageError(f"{path}: {code}: needs exactly locale, date and calendars")
    try:
        locale = _locale(str(raw["locale"]))
    except (UnknownLocaleError, ValueError) as exc:
        raise LanguageError(f"{path}: {code}.locale: not a Babel locale: {raw['locale']!r}") from exc
    calendars = raw["calendars"]
    if not isinstance(calendars, list) or not calendars or set(calendars) - set(CALENDARS):
        raise LanguageError(f"{path}: {code}.calendars: a list from {', '.join(CALENDARS)}")
    return Language(code, str(locale), str(raw["date"]), tuple(calendars))


@cache
def _locale(name: str) -> Locale:
    """The Babel locale of that name, its CLDR data loaded once (on its first figure)."""
    from babel import Locale

    return Locale.parse(name)


@lru_cache(maxsize=4)
def load_languages(path: Path = LANGUAGES_FILE) -> dict[str, Language]:
    return parse_languages(path.read_text(encoding="utf-8"), path)


def parse_languages(text: str, path: Path = LANGUAGES_FILE) -> dict[str, Language]:
    """The languages of a languages.yaml's ``text``; errors name ``path``."""
    import yaml

    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not data:
        raise LanguageError(f"{path}: expected a mapping of language codes to their formats")
    return {str(code): _language(str(code), raw, path) for code, raw in data.items()}


# The languages as the catalogue cache stored them, when it did (use_languages).
_FROM_CACHE: list[dict[str, Language]] = []


def use_languages(table: dict[str, Language]) -> None:
    """Answer from ``table``: the languages read from LANGUAGES_FILE by an earlier
    process, stored under a key that covers the file, this code and Babel's version."""
    _FROM_CACHE[:] = [table]


def languages() -> dict[str, Language]:
    """Every language, by code, in the file's order (the first is the default)."""
    return _FROM_CACHE[0] if _FROM_CACHE else load_languages()


def __getattr__(name: str) -> Any:
    # LANGUAGES and DEFAULT_LANGUAGE are read on first use (PEP 562), not on import:
    # the command line names them only when --lang is given.
    if name == "LANGUAGES":
        return tuple(languages())
    if name == "DEFAULT_LANGUAGE":
        return next(iter(languages()))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    LANGUAGES: tuple[str, ...]
    DEFAULT_LANGUAGE: str


def language(code: str) -> Language:
    """The language ``code`` names; a code it does not list is an error naming the list."""
    found = languages().get(code)
    if found is None:
        raise LanguageError(
            f"unknown language {code!r}: {LANGUAGES_FILE.name} lists {', '.join(languages())}"
        )
    return found


def round_half_up(value: float) -> int:
    """rules.md: amounts are rounded half up to whole NTD (Babel itself rounds half even)."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# Babel parses its pattern on every call (about 50 times an f-string's cost); explaining
# one profile formats a few hundred numbers, mostly the same thresholds and amounts. So
# the figures are kept.
@cache
def _number_pattern(pattern: str) -> NumberPattern:
    from babel.numbers import parse_pattern

    return parse_pattern(pattern)


@cache
def _date_pattern(pattern: str) -> DateTimePattern:
    from babel.dates import parse_pattern

    return parse_pattern(pattern)


def _babel(pattern: str, value: Any, lang: str, **options: Any) -> str:
    return _number_pattern(pattern).apply(value, _locale(language(lang).locale), **options)


@lru_cache(maxsize=8192)
def format_number(value: float, lang: str) -> str:
    """A number with the language's grouping, to at most 2 decimals, no trailing zeros."""
    return _babel("#,##0.##", value, lang)


@lru_cache(maxsize=8192)
def format_whole(value: float, lang: str) -> str:
    """A whole number (a count, an amount's figure), rounded half up, grouped."""
    return _babel("#,##0", round_half_up(value), lang)


@lru_cache(maxsize=8192)
def format_money(value: float, lang: str) -> str:
    """Whole New Taiwan dollars with the locale's currency sign (NT$5,000)."""
    return _babel("¤#,##0", round_half_up(value), lang, currency=CURRENCY, currency_digits=False)


@lru_cache(maxsize=1024)
def format_percent(rate: float, lang: str) -> str:
    """A rate (0.125) as a percentage (12.5%), to at most 2 decimals."""
    return _babel("#,##0.##%", rate, lang)


@lru_cache(maxsize=8192)
def format_date(day: date, lang: str) -> str:
    """A Gregorian date in the language's pattern (languages.yaml ``date``)."""
    found = language(lang)
    return _date_pattern(found.date_pattern).apply(day, _locale(found.locale))


def before_roc(day: date) -> bool:
    """Whether ``day`` falls before the Republic of China era, which began on 1912-01-01."""
    return day.year <= ROC_OFFSET


def roc_parts(day: date, lang: str) -> dict[str, str]:
    """The fields of a date in the Republic of China era (民國 116 年 1 月 23 日), for
    the language's ``phrase.date.roc`` to word; numbers as Babel's pattern ``0`` gives them.

    A date before the era counts its years back from it, for ``phrase.date.roc.before``
    (民國前 1 年): the era has no year 0, so 1911 is the first year before it, not year 0,
    and 1900 the twelfth, not year -11."""
    digits = _number_pattern("0")
    locale = _locale(language(lang).locale)
    year = ROC_OFFSET + 1 - day.year if before_roc(day) else day.year - ROC_OFFSET
    return {
        "year": digits.apply(year, locale),
        "month": digits.apply(day.month, locale),
        "day": digits.apply(day.day, locale),
    }


def calendars(lang: str) -> tuple[str, ...]:
    """The calendars a plan in this language may use; the first is the default."""
    return language(lang).calendars
