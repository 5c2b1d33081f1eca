"""The figures a sentence states, for the lint that keeps parameters' values out of texts.

A criterion's text that writes "within 5 years" while the criterion reads a parameter
worth 5 goes stale the day the parameter changes; the text should quote it as
``{param:NAME}``. This module finds the numbers a text states, in the ways the rules
write them: ``183``, ``50,000``, ``2.5``, ``2 million``, ``25 萬``, ``三歲``, ``十五日``.

What is not a figure, so that the lint stays quiet where it should (false positives):
placeholders (``{param:…}``), years (``2025``, ``113 年`` is a ROC year only with 民國,
so it stays a figure), dates (``2024-01-01``, ``1 September``, ``九月一日``), and article
numbers (``§4``, ``第 4 條``, ``Article 4``), and 一 inside words (下一學年度, 一方).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_SCALE = {"million": 10**6, "萬": 10**4, "万": 10**4, "億": 10**8}
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_CN_NUM = "[零〇一二兩三四五六七八九十百千]"

# Spans that hold digits but state no figure of a rule: removed before numbers are read.
_NOT_FIGURES = re.compile(
    "|".join(
        (
            r"\{[a-z]+:[^}]*\}",  # a placeholder
            r"\d{4}-\d{2}-\d{2}",  # an ISO date
            rf"\b\d{{1,2}}\s+(?:{_MONTHS})\b",  # 1 September
            rf"\b(?:{_MONTHS})\s+\d{{1,2}}\b",  # September 1
            rf"(?:\d+|{_CN_NUM}+)\s*月\s*(?:\d+|{_CN_NUM}+)\s*日",  # 九月一日, 9 月 1 日
            r"§\s*\d+(?:[–\-]\d+)?",  # §4, §12–13
            rf"第\s*(?:\d+|{_CN_NUM}+)\s*(?:條|項|款|目)",  # 第 4 條
            r"\b(?:Article|Art\.)\s*\d+",
            r"(?<![\d,.])(?:19|20|21)\d{2}(?![\d,.])",  # a year (a figure that size carries a comma)
            r"民國\s*\d+",  # a ROC year
            r"[A-Za-z]+\d+[A-Za-z\d]*",  # an identifier such as a document number
            # 一 in words, not a count: 下一學年度 (the next school year), 一方 (one of them)…
            r"下一|同一|一併|一經|一站|一方|一律|統一|一般|一次|之一|一部",
        )
    )
)
_ARABIC = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(million|萬|万|億)?")
_CHINESE = re.compile(rf"({_CN_NUM}+)\s*(萬|億)?")


def _chinese_number(text: str) -> int | None:
    """一 → 1, 十五 → 15, 二十 → 20, 六十五 → 65, 二百五十 → 250; None if not a number."""
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGIT:
            if digit is not None:
                return None  # 二三: not a number as written in rules
            digit = _CN_DIGIT[ch]
        elif ch in _CN_UNIT:
            total += (1 if digit is None else digit) * _CN_UNIT[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def _unaccented(text: str) -> str:
    """The text with accents dropped and compatibility forms folded (Šeptember, １):
    a month name or a digit is recognised however a language or the pseudo-locale
    test writes it."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_ANY_NUMERAL = re.compile(rf"\d|{_CN_NUM}")


def figures(text: str) -> list[tuple[str, Decimal]]:
    """Each figure a text states: (as written, its value)."""
    folded = _unaccented(text)
    if not _ANY_NUMERAL.search(folded):
        return []  # no numeral at all (half the texts): nothing to remove or read
    plain = _NOT_FIGURES.sub(" ", folded)
    out: list[tuple[str, Decimal]] = []
    for match in _ARABIC.finditer(plain):
        whole, fraction, scale = match.groups()
        value = Decimal(whole.replace(",", "") + (fraction or ""))
        out.append((match.group(0).strip(), value * _SCALE.get(scale or "", 1)))
    for match in _CHINESE.finditer(plain):
        number = _chinese_number(match.group(1))
        if number is not None:
            out.append((match.group(0).strip(), Decimal(number) * _SCALE.get(match.group(2) or "", 1)))
    return out


def copied(text: str, values: set[Decimal]) -> list[tuple[str, Decimal]]:
    """The figures of ``text`` that equal one of ``values``: (as written, value), in order."""
    return [(written, value) for written, value in figures(text) if value in values]
