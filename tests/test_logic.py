"""Three-valued evaluation, the durable-rules compiler, and their agreement."""

from __future__ import annotations

import random
import threading
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backends.durable_backend import MAX_PATTERN_EXPRESSIONS, Compiler, pack_rules
from engine.backends.logic import COMPILED_CACHE_SIZE, Env, Reason, changed_reason, evaluate, verdict_of
from engine.language.profile import Profile
from engine.language.rules import All, AnyOf, Compare, FactRef, Literal, Not, SomeChild
from engine.testing.sample import random_profile_data


def leaf(path: str, op: str, value) -> Compare:
    return Compare(id=path, lhs=FactRef(path), op=op, rhs=Literal(value))


FEMALE = leaf("person.sex", "eq", "female")
ADULT = leaf("person.age", "gte", 18)
EMPLOYED = leaf("person.employment", "eq", "employed")


def env_for(engine, data: dict) -> Env:
    profile = Profile.model_validate(data)
    return engine.env(profile, profile.as_of or date(2026, 3, 1))


def test_unknown_is_never_false(engine):
    env = env_for(engine, {"person": {}})
    outcome = evaluate(FEMALE, env)
    assert outcome.value is None and outcome.missing == {"person.sex"}
    assert evaluate(Not(FEMALE), env).value is None


def test_all_with_one_unmet_item_is_unmet_whatever_is_unknown(engine):
    env = env_for(engine, {"person": {"sex": "male"}})
    outcome = evaluate(All((FEMALE, ADULT)), env)
    assert outcome.value is False and outcome.missing == frozenset()


def test_any_with_one_met_item_is_met_whatever_is_unknown(engine):
    env = env_for(engine, {"person": {"sex": "female"}})
    assert evaluate(AnyOf((FEMALE, ADULT)), env).value is True


def test_unknown_lists_exactly_the_facts_that_could_decide(engine):
    env = env_for(engine, {"person": {"sex": "female"}})
    outcome = evaluate(All((FEMALE, ADULT, EMPLOYED)), env)
    assert outcome.value is None
    assert outcome.missing == {"person.birth_date", "person.employment"}
    # an any whose met branch decides drops the other branch's unknowns
    assert evaluate(AnyOf((All((FEMALE, ADULT)), FEMALE)), env).missing == frozenset()


def test_children_absent_is_unknown_and_empty_is_none(engine):
    quantifier = SomeChild("young", "born", leaf("child.age", "lt", 3))
    unknown = evaluate(quantifier, env_for(engine, {"as_of": "2026-03-01"}))
    assert unknown.value is None and unknown.missing == {"children"}
    none = evaluate(quantifier, env_for(engine, {"as_of": "2026-03-01", "children": []}))
    assert none.value is False


def test_an_expected_baby_matches_no_age_rule(engine):
    quantifier = SomeChild("young", "born", leaf("child.age", "lt", 3))
    env = env_for(engine, {"as_of": "2026-03-01", "children": [{"birth_date": "2026-05-01"}]})
    assert evaluate(quantifier, env).value is False


def test_a_child_with_unknown_birth_date_names_that_child(engine):
    quantifier = SomeChild("young", "born", leaf("child.age", "lt", 3))
    env = env_for(engine, {"as_of": "2026-03-01", "children": [{"birth_date": "2010-01-01"}, {"order": 2}]})
    outcome = evaluate(quantifier, env)
    assert outcome.value is None and outcome.missing == {"children[1].birth_date"}


def test_age_counts_from_the_birthday_and_29_february(engine):
    def age(birth: str, on: str):
        return env_for(engine, {"as_of": on, "person": {"birth_date": birth}}).facts["person.age"]

    assert age("2008-03-01", "2026-02-28") == 17
    assert age("2008-03-01", "2026-03-01") == 18
    assert age("2008-02-29", "2026-02-28") == 17  # turns 18 on 1 March in a common year
    assert age("2008-02-29", "2026-03-01") == 18


def test_packed_patterns_stay_within_durable_limits():
    compiler = Compiler()
    wide = AnyOf(
        tuple(
            leaf(f"person.{f}", "eq", True)
            for f in ("indigenous", "household_registered", "in_residential_care")
        )
        * 1
    )
    for verdict in (True, False):
        for pattern in pack_rules("profile", compiler.dnf(wide, verdict, "profile")):
            assert _expressions(pattern) < MAX_PATTERN_EXPRESSIONS + 2


def _expressions(node) -> int:
    if isinstance(node, dict) and len(node) == 1:
        ((key, value),) = node.items()
        if key in ("$and", "$or"):
            return 2 + sum(_expressions(v) for v in value)
    return 1


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_durable_rules_and_the_explanation_agree(engine, seed):
    """engine.evaluate raises EngineDisagreement when they differ."""
    data = random_profile_data(random.Random(seed))
    profile = Profile.model_validate(data)
    evaluations = engine.evaluate(profile, profile.as_of)
    assert len(evaluations) == len(engine.catalogue.services)


def test_no_fact_of_one_profile_reaches_another_across_threads(engine):
    profiles = [Profile.model_validate(random_profile_data(random.Random(i))) for i in range(120)]
    expected = [engine.statuses(p, p.as_of) for p in profiles]
    failures: list[str] = []

    def worker(offset: int) -> None:
        for k in range(len(profiles)):
            i = (k + offset * 17) % len(profiles)
            got = engine.statuses(profiles[i], profiles[i].as_of)
            if got != expected[i]:
                failures.append(f"profile {i} in thread {offset}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_random_profiles_can_be_dated_before_the_windows_their_events_are_drawn_from(engine):
    # A benchmark or a check of an earlier year asks for profiles as of 2023: every past
    # event is on or before that day, and the engine answers them.
    from datetime import date

    from engine.testing.sample import random_profiles

    day = date(2023, 1, 1)
    profiles = random_profiles(200, seed=3, as_of=day)
    for profile in profiles:
        events = profile.events
        for event in (events.move, events.job_loss) if events else ():
            assert event is None or event.date is None or event.date <= day
        assert len(engine.recommend(profile).results) == len(engine.catalogue.services)


def test_a_changed_reason_keeps_every_other_field():
    """changed_reason spells Reason's fields out (dataclasses.replace is too slow for the
    hot path): a field added to Reason and forgotten there fails here."""
    from dataclasses import fields

    values = {f.name: f"v-{f.name}" for f in fields(Reason)}
    values["negated"] = False
    original = Reason(**values)
    reworded = changed_reason(original, text="new words")
    flipped = changed_reason(original, negated=True)
    for f in fields(Reason):
        assert getattr(reworded, f.name) == ("new words" if f.name == "text" else values[f.name]), f.name
        assert getattr(flipped, f.name) == (True if f.name == "negated" else values[f.name]), f.name


def test_a_condition_is_compiled_once_and_a_new_tree_anew(engine):
    cond = Compare("adult", FactRef("person.age"), "gte", Literal(18))
    assert verdict_of(cond) is verdict_of(cond)
    equal_but_new = Compare("adult", FactRef("person.age"), "gte", Literal(18))
    assert verdict_of(equal_but_new) is not verdict_of(cond)  # keyed by identity, never by a reused id
    env = Env(engine.catalogue, date(2026, 3, 1), {"person.age": 20}, None)
    assert evaluate(cond, env).value is evaluate(equal_but_new, env).value is True


def test_the_compiled_nodes_stay_bounded(engine):
    """A stream of new trees (staff drafts, hostile rules) only recycles entries."""
    from engine.backends.logic import _COMPILED

    env = Env(engine.catalogue, date(2026, 3, 1), {"person.age": 20}, None)
    for n in range(COMPILED_CACHE_SIZE + 100):
        assert evaluate(Compare(f"c{n}", FactRef("person.age"), "gte", Literal(n % 40)), env).value is (
            n % 40 <= 20
        )
    assert len(_COMPILED) <= COMPILED_CACHE_SIZE
