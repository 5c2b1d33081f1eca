"""The explanation's caches change no answer and stay bounded.

The worded verdict of a criterion, the rendered texts of notes and quantifiers and a
result's service fields are kept between profiles, the plain parameter reads within one
(engine/backends/logic.py, engine/services/recommend.py). A cache whose key misses one of
its inputs would give a profile the words of another: every answer of an engine warmed by
other profiles must be the answer of a fresh engine, byte for byte.
"""

from __future__ import annotations

import gc
import random
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine
from engine.backends.logic import BoundedCache, Describer, Env, KeptText, evaluate, exact, render_text
from engine.language.facts import Unknown
from engine.language.profile import Profile
from engine.language.rules import Compare, FactRef, Literal, ParamRef, Text
from engine.services.results import EligibilityResult
from engine.testing.sample import random_profiles
from engine.testing.strategies import RandomSource, gen_profile, rule_model, valid_profiles

LANGS = ("en", "zh-TW")


@pytest.fixture(scope="module")
def warm_engine(catalogue):
    """An engine whose caches other profiles filled first (with and without partners)."""
    engine = Engine(catalogue)
    model = rule_model(catalogue)
    warmers = list(random_profiles(60, seed=3))
    for k in range(60):
        data = gen_profile(RandomSource(random.Random(f"warm:{k}")), model, (1.0, 0.7, 0.3)[k % 3])
        warmers.append(Profile.model_validate(data))
    for profile in warmers:
        for lang in LANGS:
            engine.recommend(profile, lang=lang)
    return engine


def answers(engine: Engine, profile: Profile) -> list[str]:
    return [engine.recommend(profile, lang=lang).model_dump_json(by_alias=True) for lang in LANGS]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_warm_engine_answers_as_a_fresh_one(catalogue, warm_engine, data):
    raw = data.draw(valid_profiles(catalogue))
    profile = Profile.model_validate(raw)
    assert answers(warm_engine, profile) == answers(Engine(catalogue), profile)


def test_a_warm_engine_answers_as_a_fresh_one_for_families(catalogue, warm_engine):
    """Profiles with a partner, each told twice (once per adult) by the same caches."""
    model = rule_model(catalogue)
    checked = 0
    for k in range(400):
        data = gen_profile(RandomSource(random.Random(f"family:{k}")), model, (1.0, 0.8, 0.5)[k % 3])
        if not isinstance(data.get("partner"), dict) or not data["partner"]:
            continue
        profile = Profile.model_validate(data)
        assert answers(warm_engine, profile) == answers(Engine(catalogue), profile), data
        checked += 1
        if checked == 12:
            break
    assert checked == 12  # the generator gives partners often enough to check a dozen


def _env(catalogue, facts: dict) -> Env:
    return Env(catalogue, date(2026, 3, 1), facts, None)


def test_the_wording_key_tells_apart_values_that_compare_equal(catalogue):
    """True, 1 and 1.0 are equal and hash alike, but are worded "yes", "1" and "1"."""
    cond = Compare(id="x", lhs=FactRef("x"), op="eq", rhs=Literal(1))
    warm = Describer(catalogue, "en")
    for value in (True, 1, 1.0, False, 0, 0.0, -0.0):
        shown = evaluate(cond, _env(catalogue, {"x": value}), warm).reasons[0].text
        fresh = evaluate(cond, _env(catalogue, {"x": value}), Describer(catalogue, "en")).reasons[0].text
        assert shown == fresh, value
    assert exact(True) != exact(1) != exact(1.0) and exact(0.0) != exact(-0.0)
    assert exact((True,)) != exact((1,))


def test_the_wording_key_holds_what_the_text_quotes(catalogue):
    """A criterion's own text may quote a fact or a parameter that its operands do not
    read: the same operands with another quoted value are another sentence."""
    param = next(name for name, p in catalogue.parameters.items() if p.index is None and p.overrides is None)
    cond = Compare(
        id="quoting",
        lhs=FactRef("person.sex"),
        op="eq",
        rhs=Literal("female"),
        text=Text(en="aged {fact:person.age}, {param:" + param + "}", zh="{fact:person.age} 歲"),
    )
    d = Describer(catalogue, "en")
    texts = {}
    for age in (30, 31, 30):
        for day in (date(2026, 3, 1), date(2019, 3, 1)):
            env = Env(catalogue, day, {"person.sex": "female", "person.age": age}, None)
            text = evaluate(cond, env, d).reasons[0].text
            assert text == evaluate(cond, env, Describer(catalogue, "en")).reasons[0].text
            texts[age, day] = text
    assert texts[30, date(2026, 3, 1)] != texts[31, date(2026, 3, 1)]


def test_a_kept_text_is_the_text_rendered_afresh(catalogue):
    """A note's or a quantifier's text is rendered once for every profile that quotes the
    same values in it: by another value, another day or another language, another text."""
    param = next(name for name, p in catalogue.parameters.items() if p.index is None and p.overrides is None)
    text = Text(
        en="aged {fact:person.age}, {param:" + param + "}, {value:v} {value:kept}", zh="{fact:person.age} 歲"
    )
    words = KeptText(text, values={"v": FactRef("person.sex")})
    seen = set()
    for lang in LANGS:
        d = Describer(catalogue, lang)
        for age in (30, 31, Unknown(frozenset({"person.age"})), 30):
            for day in (date(2026, 3, 1), date(2019, 3, 1)):
                env = Env(catalogue, day, {"person.sex": "female", "person.age": age}, None)
                said = words.render(env, d)
                assert said == render_text(text.get(lang), env, Describer(catalogue, lang), words.values)
                seen.add(said)
    assert len(seen) == 3 * 2 + 3  # en: 3 ages × 2 days; zh: the 3 ages only (no parameter quoted)


def test_a_kept_text_names_what_an_unknown_misses_as_its_words_do(catalogue):
    """An unknown quoted in a text says which fact it needs, a child's by the child's birth
    date, which the missing path does not hold: two families with the same missing path
    and other children are two sentences, never one kept for both."""
    words = KeptText(Text(en="needs {fact:x}", zh="需要 {fact:x}"))
    d = Describer(catalogue, "en")
    said = []
    for born in (date(2025, 1, 2), date(2025, 6, 7)):
        facts = {"x": Unknown(frozenset({"children[0].child.birth_order"}))}
        env = Env(catalogue, date(2026, 3, 1), facts, [{"child.birth_date": born}])
        said.append(words.render(env, d))
        assert said[-1] == render_text("needs {fact:x}", env, Describer(catalogue, "en"))
    assert said[0] != said[1]


def test_a_parameter_read_at_another_day_is_not_the_plain_read(catalogue):
    """Env.plain_params keeps only reads at the profile's own day."""
    name = next(
        n
        for n, p in catalogue.parameters.items()
        if p.index is None
        and p.period is None
        and p.overrides is None
        and p.values[0].value != p.values[-1].value
    )
    param = catalogue.parameters[name]
    first, last = param.values[0].effective_from, param.values[-1].effective_from
    env = Env(catalogue, last, {"events.birth.date": first}, None)
    plain = Compare(id="a", lhs=Literal(param.values[-1].value), op="eq", rhs=ParamRef(name))
    dated = Compare(
        id="b",
        lhs=Literal(param.values[0].value),
        op="eq",
        rhs=ParamRef(name, at=FactRef("events.birth.date")),
    )
    assert evaluate(plain, env).value is True
    assert evaluate(dated, env).value is True


def test_a_bounded_cache_forgets_its_oldest_entries():
    cache = BoundedCache(8)
    for i in range(100):
        cache[i] = i
        assert len(cache) <= 8
    assert 99 in cache and 0 not in cache


def test_the_caches_stay_bounded_and_right_when_full(catalogue):
    """A server fed ever new values keeps its caches within their limits, and answers
    as a fresh engine does while they evict."""
    engine = Engine(catalogue)
    limit = 64
    for lang in LANGS:
        for partner in (False, True):
            d = engine.describer(lang, partner)
            d.verdicts.limit = d.wordings.limit = d.texts.limit = limit
    for profile in random_profiles(40, seed=11):
        assert answers(engine, profile) == answers(Engine(catalogue), profile)
    for lang in LANGS:
        d = engine.describer(lang)
        assert 0 < len(d.verdicts) <= limit and len(d.wordings) <= limit
        assert 0 < len(d.texts) <= limit


def test_construct_all_builds_what_model_construct_builds(engine):
    profile = random_profiles(1, seed=5)[0]
    for result in engine.recommend(profile).results:
        fields = dict(result.__dict__)
        made = EligibilityResult.model_construct(**fields)
        assert list(made.__dict__) == list(result.__dict__)
        assert made.model_fields_set == result.model_fields_set
        assert made.model_dump_json() == result.model_dump_json()
        assert made == result
    with pytest.raises(TypeError):
        EligibilityResult.construct_all(service="x")
    with pytest.raises(TypeError):
        EligibilityResult.construct_all(**fields, colour="red")


def test_the_wording_cache_holds_nothing_the_garbage_collector_walks(catalogue):
    """Its keys and entries are strings, numbers, dates and tuples of them, which the
    cyclic collector stops tracking: a full cache does not lengthen full collections
    (Reason objects in it made each one ~40 times longer)."""
    engine = Engine(catalogue)
    for profile in random_profiles(30, seed=13):
        for lang in LANGS:
            engine.recommend(profile, lang=lang)
    # A tuple is untracked by the collection after the one that untracked its items: one
    # collection per level of nesting (an `in` operand's key nests four deep).
    for _ in range(6):
        gc.collect()
    for lang in LANGS:
        d = engine.describer(lang)
        assert len(d.verdicts) > 100 and len(d.texts) > 10
        for cache in (d.verdicts, d.texts):
            tracked = [k for k, v in cache.items() if gc.is_tracked(k) or gc.is_tracked(v)]
            assert tracked == []
