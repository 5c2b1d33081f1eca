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

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import DateTimePattern
from babel.dates import parse_pattern as parse_date_pattern
from babel.numbers import NumberPattern
from babel.numbers import parse_pattern as parse_number_pattern

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
    locale: Locale
    date_pattern: str
    calendars: tuple[str, ...]


def _language(code: str, raw: object, path: Path) -> Language:
    if not isinstance(raw, dict) or set(raw) != {"locale", "date", "calendars"}:
        raise LanguageError(f"{path}: {code}: needs exactly locale, date and calendars")
    try:
        locale = Locale.parse(str(raw["locale"]))
    except (UnknownLocaleError, ValueError) as exc:
        raise LanguageError(f"{path}: {code}.locale: not a Babel locale: {raw['locale']!r}") from exc
    calendars = raw["calendars"]
    if not isinstance(calendars, list) or not calendars or set(calendars) - set(CALENDARS):
        raise LanguageError(f"{path}: {code}.calendars: a list from {', '.join(CALENDARS)}")
    return Language(code, locale, str(raw["date"]), tuple(calendars))


@lru_cache(maxsize=4)
def load_languages(path: Path = LANGUAGES_FILE) -> dict[str, Language]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data:
        raise LanguageError(f"{path}: expected a mapping of language codes to their formats")
    return {str(code): _language(str(code), raw, path) for code, raw in data.items()}


LANGUAGES: tuple[str, ...] = tuple(load_languages())
DEFAULT_LANGUAGE = LANGUAGES[0]


def language(code: str) -> Language:
    """The language ``code`` names; a code it does not list is an error naming the list."""
    found = load_languages().get(code)
    if found is None:
        raise LanguageError(f"unknown language {code!r}: {LANGUAGES_FILE.name} lists {', '.join(LANGUAGES)}")
    return found


def round_half_up(value: float) -> int:
    """rules.md: amounts are rounded half up to whole NTD (Babel itself rounds half even)."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# Babel parses its pattern on every call (about 50 times an f-string's cost); explaining
# one profile formats a few hundred numbers, mostly the same thresholds and amounts. So
# the patterns are parsed once and the formatted figures kept.
@cache
def _number_pattern(pattern: str) -> NumberPattern:
    return parse_number_pattern(pattern)


@cache
def _date_pattern(pattern: str) -> DateTimePattern:
    return parse_date_pattern(pattern)


@lru_cache(maxsize=8192)
def format_number(value: float, lang: str) -> str:
    """A number with the language's grouping, to at most 2 decimals, no trailing zeros."""
    return _number_pattern("#,##0.##").apply(value, language(lang).locale)


@lru_cache(maxsize=8192)
def format_whole(value: float, lang: str) -> str:
    """A whole number (a count, an amount's figure), rounded half up, grouped."""
    return _number_pattern("#,##0").apply(round_half_up(value), language(lang).locale)


@lru_cache(maxsize=8192)
def format_money(value: float, lang: str) -> str:
    """Whole New Taiwan dollars with the locale's currency sign (NT$5,000)."""
    return _number_pattern("¤#,##0").apply(
        round_half_up(value), language(lang).locale, currency=CURRENCY, currency_digits=False
    )


@lru_cache(maxsize=1024)
def format_percent(rate: float, lang: str) -> str:
    """A rate (0.125) as a percentage (12.5%), to at most 2 decimals."""
    return _number_pattern("#,##0.##%").apply(rate, language(lang).locale)


@lru_cache(maxsize=8192)
def format_date(day: date, lang: str) -> str:
    """A Gregorian date in the language's pattern (languages.yaml ``date``)."""
    found = language(lang)
    return _date_pattern(found.date_pattern).apply(day, found.locale)


def roc_parts(day: date, lang: str) -> dict[str, str]:
    """The fields of a date in the Republic of China era (民國 116 年 1 月 23 日), for
    the language's ``phrase.date.roc`` to word; numbers formatted by Babel."""
    locale = language(lang).locale
    plain = _number_pattern("0")
    return {
        "year": plain.apply(day.year - ROC_OFFSET, locale),
        "month": plain.apply(day.month, locale),
        "day": plain.apply(day.day, locale),
    }


def calendars(lang: str) -> tuple[str, ...]:
    """The calendars a plan in this language may use; the first is the default."""
    return language(lang).calendars
