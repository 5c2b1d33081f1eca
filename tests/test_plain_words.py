"""Every explanation a person reads is in plain words, in both languages (issue 11, item 6).

The population sample (engine.testing.sample: varied profiles with children, every event and
unknown answers) goes through the engine in zh-TW and English; every text produced for
a person is collected (reasons, notes, what would change, an amount's reason, steps, a
partner's results, the CLI table with its totals, the one-stop plan and its printed page) and scanned for what a person should
never have to read: raw ids (``children[0]``, a service id, a fact path, a parameter
name), operators or notation (≠ ∈ ≤ ≥ < > =), unrounded numbers (13,333.3333, money
with cents) and the project's jargon ("not encoded"). ``missing`` and ``amount_missing``
are machine keys of the contract, not explanations: they are not scanned.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from engine.language.profile import Profile
from engine.services.plan import build_plan, render_plan_html
from engine.services.report import render_table
from engine.testing.sample import random_profile_data

PROFILES = 240  # each in both languages
SEED = 11  # issue 11
LANGS = ("zh-TW", "en")

FACT_PATH = re.compile(
    r"(?<![\w./])(?:person|household|events|child|children|assets|student_loan|school_year|parameters|rules)"
    r"\.[a-z_]+"
)
CHILD_INDEX = re.compile(r"children\[\d+\]")
OPERATOR = re.compile(r"[≠∈∉≤≥<>=]")
LONG_DECIMAL = re.compile(r"\d\.\d{3,}")
MONEY_WITH_CENTS = re.compile(r"NT\$\s?[\d,]+\.\d|[\d,]+\.\d+\s?元")
# Ordinary English that happens to spell a service id ("the parental-leave allowance").
ENGLISH_COMPOUNDS = ("parental-leave allowance", "parental-leave application")
JARGON = re.compile(r"not encoded|unencoded|未編碼|未編入|尚未編碼", re.IGNORECASE)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _page_text(html: str) -> str:
    """The words of the printed plan, without its markup and its style sheet."""
    body = html.split("<body>", 1)[1]
    parser = _Text()
    parser.feed(body)
    return "\n".join(parser.parts)


def _sample() -> list[Profile]:
    """The sample, a third of it with a partner described (another sampled adult), a
    third with a partner whose facts are unknown: the partner's results are read too."""
    rng = random.Random(SEED)
    out = []
    for i in range(PROFILES):
        data = random_profile_data(rng)
        if i % 3 == 0:
            data["partner"] = random_profile_data(rng)["person"]
        elif i % 3 == 1:
            data["partner"] = {}
        out.append(Profile.model_validate(data))
    return out


def _texts(engine, catalogue) -> Iterator[tuple[str, str]]:
    for i, profile in enumerate(_sample()):
        for lang in LANGS:
            rec = engine.recommend(profile, lang=lang)
            where = f"profile {i} ({lang})"
            for r in (*rec.results, *rec.partner_results):
                for step in r.steps:
                    yield f"{where} {r.service} step", step.text
                for reason in r.reasons:
                    yield f"{where} {r.service} reason {reason.criterion}", reason.text
                for note in r.notes:
                    yield f"{where} {r.service} note", note
                for change in r.what_would_change:
                    yield f"{where} {r.service} what would change", change
                if r.confidence_note:
                    yield f"{where} {r.service} confidence note", r.confidence_note
            yield f"{where} CLI table", render_table(rec, catalogue, lang)
            plan = build_plan(rec, catalogue, lang)
            for step in plan.steps:
                yield (
                    f"{where} plan step {step.service}",
                    " · ".join(
                        [step.name, step.agency, step.office, step.amount or ""]
                        + [c.where or "" for c in step.channels]
                        + list(step.unlocks)
                    ),
                )
            for doc in plan.to_bring + plan.no_need_to_bring:
                yield f"{where} plan document", " · ".join([doc.name, doc.note or "", *doc.for_services])
            yield f"{where} plan page", _page_text(render_plan_html(plan, catalogue))


@pytest.fixture(scope="module")
def produced(engine, catalogue) -> list[tuple[str, str]]:
    return list(_texts(engine, catalogue))


def _problems(produced, found) -> list[str]:
    out = []
    for where, text in produced:
        for line in text.splitlines():
            hit = found(line)
            if hit:
                out.append(f"{where}: {hit!r} in {line.strip()!r}")
    return sorted(set(out))


def _report(problems: list[str]) -> str:
    return f"{len(problems)} texts, e.g.:\n" + "\n".join(problems[:15])


# What a person read before (issue 11): each must be caught by the scan.
OLD_TEXTS = (
    "A child under 3: children[0] (met)",
    "Kind of birth: live birth ∈ live birth, premature birth",
    "Claimed within 5 years of the birth (Evaluation date: 2026-03-01 ≤ 2031-02-01; met)",
    "本計畫已於 2014-12-31 結束，請改參考 childcare-subsidy",
    "Household income per person per month: 30,000 < 41,077.5",
    "Monthly income under 60,000 (Borrower's monthly income: unknown < 13,333.3333)",
    "Amount: unknown (needs person.insured_salary)",
    "needs parameters.child_welfare.low_income_child_allowance.taipei",
    "The rules for this case are not encoded",
    "2024 年前之托育補助規定未編碼",
    "This criterion would be met if Evaluation date ≤ 2014-12-31",
    "Amount: NT$13,333.5",
)


def test_the_scan_catches_what_people_read_before(catalogue):
    ids = re.compile("|".join(map(re.escape, catalogue.services)))
    patterns = (CHILD_INDEX, FACT_PATH, ids, OPERATOR, LONG_DECIMAL, MONEY_WITH_CENTS, JARGON)
    for text in OLD_TEXTS:
        assert any(p.search(text) for p in patterns), text


def test_the_sample_covers_every_kind_of_text(produced):
    """The scan is only as good as what it reads: children, notes, ineligible results
    with something to change, unknown amounts, both languages."""
    kinds = {where.split(") ", 1)[1].split(" ", 1)[0] for where, _ in produced}
    wheres = " ".join(where for where, _ in produced)
    assert len(produced) > 50_000
    for needed in ("reason", "note", "what would change", "reason amount", "CLI table", "plan page"):
        assert needed in wheres, needed
    assert kinds
    assert any("your child born" in text for _, text in produced)
    assert any("出生的孩子" in text for _, text in produced)
    assert " partner" in " ".join(text for where, text in produced if "CLI table" in where)


def test_no_raw_ids(produced, catalogue):
    ids = sorted(catalogue.services, key=len, reverse=True)
    service_id = re.compile(r"(?<![\w/.-])(?:" + "|".join(map(re.escape, ids)) + r")(?![\w-])")

    def found(line: str) -> str | None:
        for words in ENGLISH_COMPOUNDS:
            line = line.replace(words, "")
        for pattern in (CHILD_INDEX, FACT_PATH, service_id):
            match = pattern.search(line)
            if match:
                return match.group(0)
        return None

    problems = _problems(produced, found)
    assert not problems, _report(problems)


def test_no_operators_or_notation(produced):
    problems = _problems(produced, lambda line: (m := OPERATOR.search(line)) and m.group(0))
    assert not problems, _report(problems)


def test_no_unrounded_numbers(produced):
    def found(line: str) -> str | None:
        match = LONG_DECIMAL.search(line) or MONEY_WITH_CENTS.search(line)
        return match.group(0) if match else None

    problems = _problems(produced, found)
    assert not problems, _report(problems)


def test_no_jargon(produced):
    problems = _problems(produced, lambda line: (m := JARGON.search(line)) and m.group(0))
    assert not problems, _report(problems)


def test_notes_are_not_criteria(produced):
    """A rule's note is a caveat: it is said as a note, never as a met criterion."""
    assert not [where for where, _ in produced if " reason note." in where]


# --- what would change: an action, or a plain sentence ----------------------------------


def _recommend(engine, text: str, lang: str = "en"):
    from engine.language.profile import parse_profile_text, validate_profile

    profile = validate_profile(parse_profile_text(text, "profile"), "profile")
    return {r.service: r for r in engine.recommend(profile, lang=lang).results}


def test_what_would_change_says_an_action_a_person_can_take(engine):
    found = _recommend(
        engine,
        """
        as_of: 2026-03-01
        person: {birth_date: 1990-01-01, nationality: roc}
        children: [{birth_date: 2025-06-01, childcare: home, nationality: roc, order: 1}]
        events:
          home_purchase: {date: 2026-01-10, registered_at_property: false, rented_or_business_use: true}
        """,
    )
    assert (
        "Choose public or quasi-public childcare for your child"
        in found["childcare-subsidy"].what_would_change
    )
    land = found["self-use-land-value-tax-rate"].what_would_change
    assert "Stop renting the land out or using it for business, then apply" in land  # the rule's own action


def test_an_age_is_said_as_the_day_it_is_reached(engine):
    found = _recommend(
        engine,
        """
        as_of: 2026-03-01
        person: {birth_date: 1962-05-10, nationality: roc, days_in_taiwan_last_year: 365}
        children: [{birth_date: 2020-11-16, disability_level: severe}]
        """,
    )
    assert (
        "You would qualify from 2027-05-10, when you turn 65"
        in found["elderly-living-allowance"].what_would_change
    )
    assert (
        "You would qualify from 2026-11-16, when your child born 2020-11-16 turns 6"
        in found["home-education-disability"].what_would_change
    )
    zh = _recommend(
        engine,
        """
        as_of: 2026-03-01
        person: {birth_date: 1962-05-10, nationality: roc, days_in_taiwan_last_year: 365}
        """,
        "zh-TW",
    )
    assert "你於 2027-05-10 滿 65 歲後即可符合" in zh["elderly-living-allowance"].what_would_change


def test_a_criterion_action_is_text_in_both_languages():
    from engine.language.rules import ParseContext, RuleSyntaxError, parse_condition

    raw = {"fact": "person.age", "gte": 65, "action": {"en": "Wait", "zh-TW": "等待"}}
    cond = parse_condition(raw, ("eligibility",), ParseContext("x"))
    assert cond.action.get("en") == "Wait" and cond.action.get("zh-TW") == "等待"
    with pytest.raises(RuleSyntaxError) as error:
        parse_condition({**raw, "action": {"fr": "Attendre"}}, ("eligibility",), ParseContext("x"))
    assert error.value.path == ("eligibility", "action")
