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

# Babel and PyYAML are imported when languages.yaml is read. An answer read back from the
# catalogue cache (engine/language/cache.py) gets its languages from there, with the
# little of each locale's CLDR data that formatting reads (NumberSymbols), and imports
# neither: Babel's locale data alone was about 15 ms of a one-off answer.
if TYPE_CHECKING:
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
class NumberSymbols:
    """What Babel reads of a locale's CLDR data to apply the patterns below, in the Latin
    digits it formats with: taken from Babel when languages.yaml is read."""

    decimal: str
    group: str
    currency: str  # the sign of CURRENCY: NT$ in en, $ in zh_Hant_TW


# A date pattern's fields as Babel's tokenizer reads them, when every field is one that
# is a number (year, month and day as digits); None for a pattern with names (MMM) or
# other fields, which Babel formats.
DateFields = tuple[tuple[str, Any], ...] | None


@dataclass(frozen=True)
class Language:
    code: str  # the key of its texts in every language file (zh-TW, en)
    locale: str  # the Babel (CLDR) locale's name
    date_pattern: str
    calendars: tuple[str, ...]
    symbols: NumberSymbols
    date_fields: DateFields


def _language(code: str, raw: object, path: Path) -> Language:
    from babel import Locale, UnknownLocaleError
    from babel.numbers import get_currency_symbol, get_decimal_symbol, get_group_symbol

    if not isinstance(raw, dict) or set(raw) != {"locale", "date", "calendars"}:
        raise LanguageError(f"{path}: {code}: needs exactly locale, date and calendars")
    try:
        locale = Locale.parse(str(raw["locale"]))
    except (UnknownLocaleError, ValueError) as exc:
        raise LanguageError(f"{path}: {code}.locale: not a Babel locale: {raw['locale']!r}") from exc
    calendars = raw["calendars"]
    if not isinstance(calendars, list) or not calendars or set(calendars) - set(CALENDARS):
        raise LanguageError(f"{path}: {code}.calendars: a list from {', '.join(CALENDARS)}")
    symbols = NumberSymbols(
        decimal=get_decimal_symbol(locale),
        group=get_group_symbol(locale),
        currency=get_currency_symbol(CURRENCY, locale),
    )
    pattern = str(raw["date"])
    return Language(code, str(locale), pattern, tuple(calendars), symbols, _date_fields(pattern))


def _date_fields(pattern: str) -> DateFields:
    from babel.dates import tokenize_pattern

    tokens = tuple(tokenize_pattern(pattern))
    numeric = all(
        kind == "chars" or (value[0] == "y" and value[1] != 2) or (value[0] in "Md" and value[1] <= 2)
        for kind, value in tokens
    )
    return tokens if numeric else None


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


def _figure(
    value: float, symbols: NumberSymbols, fraction_digits: int, *, grouped: bool = True, scale: int = 0
) -> str:
    """Babel's ``NumberPattern.apply`` for the patterns of this module (``#,##0`` or
    ``0`` with up to ``fraction_digits`` decimals, none required), step for step: the
    value as a Decimal of its ``str``, the sign taken before rounding, rounded half even
    by Decimal's default context, groups of three. tests/test_i18n.py checks it against
    Babel for every pattern and language."""
    number = Decimal(str(value)).scaleb(scale)
    sign = "-" if number.is_signed() else ""
    rounded = abs(number).normalize().quantize(Decimal(10) ** -fraction_digits)
    whole, _, fraction = f"{rounded:f}".partition(".")
    if grouped:
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = symbols.group.join([whole, *groups])
    fraction = fraction.rstrip("0")
    return sign + whole + (symbols.decimal + fraction if fraction else "")


def _finite(value: float) -> bool:
    # Babel words infinity with the locale's sign; those rare values are left to it.
    return Decimal(str(value)).is_finite()


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
    return _number_pattern(pattern).apply(value, language(lang).locale, **options)


@lru_cache(maxsize=8192)
def format_number(value: float, lang: str) -> str:
    """A number with the language's grouping, to at most 2 decimals, no trailing zeros."""
    if not _finite(value):
        return _babel("#,##0.##", value, lang)
    return _figure(value, language(lang).symbols, 2)


@lru_cache(maxsize=8192)
def format_whole(value: float, lang: str) -> str:
    """A whole number (a count, an amount's figure), rounded half up, grouped."""
    return _figure(round_half_up(value), language(lang).symbols, 0)


@lru_cache(maxsize=8192)
def format_money(value: float, lang: str) -> str:
    """Whole New Taiwan dollars with the locale's currency sign (NT$5,000)."""
    symbols = language(lang).symbols
    figure = _figure(round_half_up(value), symbols, 0)
    # Babel's ``¤#,##0``: the minus before the sign (-NT$5).
    return figure[:1] + symbols.currency + figure[1:] if figure.startswith("-") else symbols.currency + figure


@lru_cache(maxsize=1024)
def format_percent(rate: float, lang: str) -> str:
    """A rate (0.125) as a percentage (12.5%), to at most 2 decimals."""
    if not _finite(rate):
        return _babel("#,##0.##%", rate, lang)
    return _figure(rate, language(lang).symbols, 2, scale=2) + "%"


@lru_cache(maxsize=8192)
def format_date(day: date, lang: str) -> str:
    """A Gregorian date in the language's pattern (languages.yaml ``date``)."""
    found = language(lang)
    if found.date_fields is None:
        return _date_pattern(found.date_pattern).apply(day, found.locale)
    return "".join(_date_field(day, value) if kind == "field" else value for kind, value in found.date_fields)


def _date_field(day: date, field: tuple[str, int]) -> str:
    # Babel's DateTimeFormat for the numeric fields _date_fields keeps: zero-padded to
    # the field's width.
    letter, width = field
    number = {"y": day.year, "M": day.month, "d": day.day}[letter]
    return f"{number:0{width}d}"


def roc_parts(day: date, lang: str) -> dict[str, str]:
    """The fields of a date in the Republic of China era (民國 116 年 1 月 23 日), for
    the language's ``phrase.date.roc`` to word; numbers as Babel's pattern ``0`` gives them."""
    symbols = language(lang).symbols
    return {
        "year": _figure(day.year - ROC_OFFSET, symbols, 0, grouped=False),
        "month": _figure(day.month, symbols, 0, grouped=False),
        "day": _figure(day.day, symbols, 0, grouped=False),
    }


def calendars(lang: str) -> tuple[str, ...]:
    """The calendars a plan in this language may use; the first is the default."""
    return language(lang).calendars
