"""Fuzzing: the properties of engine/testing/fuzz.py on Hypothesis-generated profiles, rule
coverage, the `lifeevents fuzz` command, and checks that the checks can fail.

Hypothesis runs derandomized and without a database, so CI is reproducible; variety comes
from `lifeevents fuzz --seed S`. No assertion here is about time.
"""

from __future__ import annotations

import itertools
import random
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import Engine, load_catalogue, validate_profile
from engine.backends.logic import evaluate
from engine.interfaces.cli import main
from engine.language.facts import CHILD_DERIVED, PROFILE_DERIVED
from engine.language.profile import Profile, ProfileError
from engine.testing.fuzz import (
    PROPERTIES,
    Failure,
    Fill,
    Nudge,
    check_agreement,
    check_batch_families,
    check_invalid,
    check_learning,
    check_nudge,
    check_order,
    check_partner_absent,
    check_partner_swap,
    check_recommend,
    check_steps,
    family_statuses,
    monotone_families,
    plan_learning,
    plan_nudge,
    run_fuzz_isolated,
    shrink,
    step_criteria_of,
    unexplained,
    unknown_slots,
)
from engine.testing.strategies import (
    SETTERS,
    DrawSource,
    Editor,
    RandomSource,
    Rejected,
    complete_profiles,
    env_of,
    gen_edge,
    invalid_profiles,
    partial_profiles,
    rule_model,
    valid_profiles,
)

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = load_catalogue(ROOT)  # strategies are built at import, before fixtures exist
FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def explain(failures: list[Failure]) -> str:
    return "\n".join(f"{f.property}: {f.message}" for f in failures)


def valid(data: dict[str, Any]) -> Profile:
    """The profile, or (inside Hypothesis) this example set aside when only a known issue
    rejects it: a generated value pydantic's float multiple_of refuses."""
    try:
        return validate_profile(data)
    except ProfileError as exc:
        if unexplained([Failure("valid-accepted", str(exc), "valid-accepted")]):
            raise
        assume(False)
        raise AssertionError("unreachable") from None


# --- the generators -------------------------------------------------------------------------


def test_every_derived_fact_has_an_inverse():
    """A derived fact without a setter would get no edge cases: add it to SETTERS."""
    derived = {d.path for d in (*PROFILE_DERIVED, *CHILD_DERIVED)}
    assert derived <= set(SETTERS), sorted(derived - set(SETTERS))


@pytest.mark.parametrize("age", [0, 1, 2, 17, 18, 65])
@pytest.mark.parametrize("as_of", ["2026-03-01", "2028-02-29", "2027-02-28", "2026-12-31"])
def test_age_setters_give_exactly_the_age_asked(engine, age, as_of):
    model = rule_model(engine.catalogue)
    for seed in range(4):  # both ends of the year of age
        data: dict[str, Any] = {"as_of": as_of, "children": [{}]}
        ed = Editor(data, model, RandomSource(random.Random(seed)), child=0)
        ed.place("person.age", age)
        ed.place("child.age", age)
        env = env_of(model, validate_profile(data))
        assert env.facts["person.age"] == age
        assert env.children is not None and env.children[0]["child.age"] == age


def test_income_per_person_edges_straddle_the_threshold(engine):
    model = rule_model(engine.catalogue)
    seen = set()
    for seed in range(40):
        data: dict[str, Any] = {"as_of": "2026-03-01", "household": {"size": 3}}
        ed = Editor(data, model, RandomSource(random.Random(seed)))
        ed.edge("household.income_per_person", 38787.5)  # 2.5 × 15,515: a fractional threshold
        ipp = env_of(model, validate_profile(data)).facts["household.income_per_person"]
        seen.add((ipp > 38787.5) - (ipp < 38787.5))
        assert abs(ipp - 38787.5) <= 1
    assert seen == {-1, 1}


def test_edge_profiles_put_every_resolvable_criterion_on_both_sides(engine):
    """For each comparison the edge generator targets, its verdicts straddle the threshold."""
    model = rule_model(engine.catalogue)
    one_sided = []
    for crit in model.targets:
        verdicts = set()
        for seed in range(30):
            # Keyed by what the criterion is, not where it stands: adding a service must
            # not change the draws of every criterion after it.
            src = RandomSource(random.Random(f"{crit.service}/{crit.id}:{seed}"))
            try:
                data = gen_edge(src, model, crit)
                profile = validate_profile(data)
            except Rejected:
                continue  # the generator asked to draw again
            except ProfileError as exc:
                assert "multiple of" in str(exc)  # only the known issue float-multiple-of
                continue
            env = env_of(model, profile)
            if crit.scope == "child":
                if not env.children:
                    continue
                env = env.in_child(0)
            verdicts.add(evaluate(crit.compare, env).value)
        if not {True, False} <= verdicts and _both_sides_valid(model, crit):
            one_sided.append(f"{crit.service}/{crit.id}: {verdicts}")
    assert not one_sided, "\n".join(sorted(set(one_sided)))


def _both_sides_valid(model, crit) -> bool:
    """False when the field's own bounds leave one side empty (child.order >= 1 is never
    unmet): the rule's problem, which the coverage test reports, not the generator's."""
    from engine.backends.logic import compare
    from engine.language.rules import Literal

    spec = model.shape.spec(crit.fact or "")
    if spec is None or spec.lo is None or spec.hi is None or not isinstance(crit.other, Literal):
        return True
    if crit.op not in ("lt", "lte", "gt", "gte"):
        return True
    return compare(crit.op, spec.lo, crit.other.value) != compare(crit.op, spec.hi, crit.other.value)


@FUZZ
@given(data=complete_profiles(CATALOGUE))
def test_complete_profiles_leave_nothing_unknown(data):
    profile = valid(data)
    assert profile.children is not None and profile.events is not None
    assert unknown_slots(data) == []


@FUZZ
@given(data=partial_profiles(CATALOGUE))
def test_partial_profiles_are_valid(data):
    valid(data)


# --- the properties, through Hypothesis -------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(data=valid_profiles(CATALOGUE))
def test_no_valid_or_partial_profile_crashes_and_results_keep_their_shape(engine, data):
    failures, _ = check_recommend(engine, data)
    assert not unexplained(failures), explain(failures)


@settings(FUZZ, max_examples=400)
@given(inv=invalid_profiles(CATALOGUE))
def test_every_invalid_profile_gets_one_clean_error_naming_the_key(inv):
    failures = check_invalid(inv)
    assert not unexplained(failures), f"{inv}\n{explain(failures)}"


@settings(FUZZ, max_examples=150)
@given(data=valid_profiles(CATALOGUE), seed=st.integers(0, 2**31))
def test_the_answer_does_not_depend_on_key_order(engine, data, seed):
    valid(data)
    failures = check_order(engine, data, seed)
    assert not failures, explain(failures)


@settings(FUZZ, max_examples=250)
@given(data=partial_profiles(CATALOGUE), draw=st.data())
def test_learning_a_fact_keeps_every_decided_result(engine, data, draw):
    model = rule_model(engine.catalogue)
    statuses = engine.statuses(valid(data), date.fromisoformat(data["as_of"]))
    fill = plan_learning(DrawSource(draw.draw), model, data, statuses)
    if fill is not None:
        failures = check_learning(engine, data, fill, statuses)
        assert not failures, explain(failures)


@settings(FUZZ, max_examples=250)
@given(data=valid_profiles(CATALOGUE), draw=st.data())
def test_monotone_services_never_get_worse(engine, data, draw):
    valid(data)
    model = rule_model(engine.catalogue)
    src = DrawSource(draw.draw)
    for family in monotone_families(model):
        nudge = plan_nudge(src, model, family, data)
        if nudge is not None:
            failures = check_nudge(engine, data, nudge)
            assert not failures, explain(failures)


@settings(FUZZ, max_examples=200)
@given(data=valid_profiles(CATALOGUE))
def test_durable_rules_and_the_explanation_agree(engine, data):
    valid(data)
    failures = check_agreement(engine, data)
    assert not failures, explain(failures)


def test_the_batch_evaluator_agrees_when_there_is_one(engine):
    from engine.testing.fuzz import BatchUnavailable, check_batch, durable_statuses
    from engine.testing.sample import random_profile_data

    datas = [random_profile_data(random.Random(i)) for i in range(50)]
    expected = [durable_statuses(engine, validate_profile(d)) for d in datas]
    try:
        failures, checked = check_batch(engine, datas, expected)
    except BatchUnavailable as exc:
        pytest.skip(f"batch evaluator: {exc}")
    assert checked == len(datas)
    assert not failures, explain(failures)


# --- the run behind `lifeevents fuzz` and the staff page: properties and rule coverage -------


@pytest.fixture(scope="module")
def report():
    """In a fresh child process, as the command and the staff page run it: the result does
    not depend on what this pytest process evaluated before (durable-rules' heap)."""
    return run_fuzz_isolated(ROOT, 400, seed=0)  # the full tier on every profile (n <= 2000)


def test_every_property_holds_on_the_generated_profiles(report):
    assert report.properties_held, report.render()
    assert {p.name for p in report.properties} == set(PROPERTIES)
    ran = {p.name: p.examples for p in report.properties if not p.skipped}
    assert ran["valid-accepted"] == 400 and ran["invalid-rejected"] == 400 and ran["order-independent"] > 0
    for family in ("partner-absent", "partner-swap", "steps-never-block", "batch-families-agree"):
        assert ran[family] > 0, family


def test_every_criterion_is_seen_met_and_unmet_or_exempt(report):
    """Rule coverage: generated profiles plus tests/cases. A criterion that cannot be
    reached both ways needs `coverage_exempt: {criterion-id: why}` in its rule file."""
    gaps = [f"{c.service}: {g}" for c in report.coverage for g in c.gaps]
    assert not gaps, "\n".join(gaps)
    assert {c.service for c in report.coverage} == set(CATALOGUE.services)


def test_a_counterexample_is_a_ready_to_paste_case(engine):
    """The YAML of a counterexample loads as engine/services/cases.py cases that fail today."""
    from engine.services.cases import Case, check_case
    from engine.testing.fuzz import Counterexample

    data = {"as_of": "2026-03-01", "household": {"welfare_status": "low"}}
    result = engine.recommend(validate_profile(data))
    wrong = {"low-income-household": {"status": "ineligible"}}
    case_dict = {"name": "fuzz demo", "as_of": "2026-03-01", "input": data, "output": wrong}
    ce = Counterexample("learning-keeps-verdict", "demo", data, data, [case_dict])
    loaded = yaml.safe_load(ce.yaml)
    case = Case("x.yaml", 1, loaded[0]["name"], date(2026, 3, 1), loaded[0]["input"], loaded[0]["output"])
    assert check_case(engine, case)  # the pasted case fails until the engine agrees
    assert result.results


# --- the checks can fail: each catches a planted fault ------------------------------------------


class _Lying:
    """An engine double whose answers are planted faults, to prove the checks can fail."""

    def __init__(self, engine: Engine, statuses):
        self._engine = engine
        self.catalogue = engine.catalogue
        self.conditions = engine.conditions
        self._statuses = statuses

    def statuses(self, profile, as_of):
        return self._statuses(profile, self._engine.statuses(profile, as_of))

    def env(self, profile, as_of):
        return self._engine.env(profile, as_of)

    def recommend(self, profile, as_of=None):
        rec = self._engine.recommend(profile, as_of)
        lied = self.statuses(profile, profile.as_of)
        results = [r.model_copy(update={"status": lied[r.service]}) for r in rec.results]
        return rec.model_copy(update={"results": results})


def test_agreement_catches_a_durable_answer_that_differs(engine):
    liar = _Lying(engine, lambda p, s: {**s, "tax-registration": "eligible"})
    failures = check_agreement(liar, {"as_of": "2026-03-01", "events": {}})
    assert [f.property for f in failures] == ["engines-agree"]


def test_learning_catches_a_result_that_flips_and_shrinking_keeps_it(engine):
    def flip(profile, statuses):
        known = profile.person.sex is not None
        return {**statuses, "birth-registration": "eligible" if known else "ineligible"}

    liar = _Lying(engine, flip)
    fill = Fill(("person", "sex"), "female")
    data = {"as_of": "2026-03-01", "events": {}, "household": {"size": 3, "monthly_income": 9}}
    failures = check_learning(liar, data, fill)
    assert [f.property for f in failures] == ["learning-keeps-verdict"]
    small = shrink(data, lambda d: bool(check_learning(liar, d, fill)))
    assert small == {"as_of": "2026-03-01"}  # nothing else is needed to show the flip


def test_monotonicity_catches_a_service_lost_with_less_income(engine):
    model = rule_model(engine.catalogue)
    family = next(f for f in monotone_families(model) if f.fact == "household.monthly_income")
    assert "low-income-household" in family.services

    def rich_only(profile, statuses):
        income = profile.household.monthly_income or 0
        return {**statuses, "low-income-household": "eligible" if income > 1000 else "ineligible"}

    failures = check_nudge(_Lying(engine, rich_only), {"as_of": "2026-03-01"}, Nudge(family, 5000, 10))
    assert [f.property for f in failures] == ["monotone-means"]


def test_order_catches_an_answer_that_changes_between_calls(engine):
    flips = itertools.cycle(["eligible", "ineligible"])
    liar = _Lying(engine, lambda p, s: {**s, "tax-registration": next(flips)})
    failures = check_order(liar, {"as_of": "2026-03-01", "person": {"sex": "male"}}, seed=1)
    assert failures and failures[0].property == "order-independent"


def test_invalid_check_catches_an_accepted_profile():
    from engine.testing.strategies import InvalidProfile

    failures = check_invalid(InvalidProfile({"as_of": "2026-03-01"}, "as_of", "demo"))
    assert failures and all(f.property == "invalid-rejected" for f in failures)


def test_the_monotone_families_exclude_a_rule_that_is_not_monotone(engine, tmp_path):
    """A means test under a `not` (middle-low income: not when low-income) is excluded."""
    root = _copy_catalogue(tmp_path)
    rule = root / "rules" / "welfare" / "low-income-household.yaml"
    text = rule.read_text(encoding="utf-8")
    rule.write_text(
        text.replace("    - all:\n", "    - not: {fact: household.movable_assets, lte: 10}\n    - all:\n", 1),
        encoding="utf-8",
    )
    model = rule_model(load_catalogue(root))
    family = next(f for f in monotone_families(model) if f.fact == "household.movable_assets")
    assert "low-income-household" in family.excluded and "low-income-household" not in family.services


# --- the command ---------------------------------------------------------------------------------


def _copy_catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "cat"
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "rules", root / "rules")
    shutil.copytree(ROOT / "tests" / "cases", root / "tests" / "cases")
    return root


SMALL = ("low-income-household", "birth-registration")


def _small_catalogue(tmp_path: Path, keep: tuple[str, ...] = SMALL) -> Path:
    """A catalogue of a few services, for fast runs of the whole command."""
    root = tmp_path / "small"
    root.mkdir()
    cat = yaml.safe_load((ROOT / "catalog.yaml").read_text(encoding="utf-8"))
    cat["services"] = {k: v for k, v in cat["services"].items() if k in keep}
    for service in cat["services"].values():
        service["prerequisites"] = [p for p in service.get("prerequisites", []) if p in keep]
        service["exclusions"] = [
            e for e in service.get("exclusions", []) if (e if isinstance(e, str) else e["service"]) in keep
        ]
        if service.get("same_visit_as") not in (None, *keep):
            del service["same_visit_as"]
    text = yaml.safe_dump(cat, allow_unicode=True, sort_keys=False)
    (root / "catalog.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "rules" / "parameters", root / "rules" / "parameters")
    shutil.copy(ROOT / "rules" / "vocabulary.yaml", root / "rules" / "vocabulary.yaml")
    for path in (ROOT / "rules").rglob("*.yaml"):
        if "parameters" in path.parts or path.name == "vocabulary.yaml":
            continue
        if (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("service") in keep:
            target = root / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return root


def _add_one_sided_criterion(root: Path, exempt: bool) -> None:
    """A criterion met whenever it is decided: no profile can show it unmet."""
    rule = root / "rules" / "welfare" / "low-income-household.yaml"
    text = rule.read_text(encoding="utf-8").replace(
        "  any:\n",
        "  any:\n    - {id: never-unmet, fact: person.days_in_taiwan_last_year, gte: 0}\n",
        1,
    )
    if exempt:
        text += "coverage_exempt:\n  never-unmet: days in Taiwan cannot be negative\n"
    rule.write_text(text, encoding="utf-8")


def test_fuzz_exits_1_with_a_coverage_gap_and_names_it(tmp_path, capsys):
    root = _small_catalogue(tmp_path)
    _add_one_sided_criterion(root, exempt=False)
    assert main(["--rules", str(root), "fuzz", "--n", "300", "--seed", "1"]) == 1
    out = capsys.readouterr().out
    assert "never-unmet (never unmet)" in out and "COVERAGE HAS GAPS" in out


def test_fuzz_exits_0_when_the_gap_is_exempt_with_a_reason(tmp_path, capsys):
    root = _small_catalogue(tmp_path)
    _add_one_sided_criterion(root, exempt=True)
    assert main(["--rules", str(root), "fuzz", "--n", "300", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "exempt: never-unmet" in out and "all properties held" in out


@pytest.mark.parametrize("argv", [["fuzz", "--n", "0"], ["fuzz", "--n", "ten"], ["fuzz", "--seed", "x"]])
def test_fuzz_bad_usage_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


# --- bugs the fuzzing found, pinned until fixed (strict: an xpass fails, so remove the mark) ----


def test_a_large_area_with_two_decimals_is_valid_up_to_the_bound():
    # pydantic's multiple_of refused 9964424.54 (float rounding from 10^7 up): the bound is 10^6.
    validate_profile({"events": {"business_start": {"power_kw": 996442.54, "floor_area_m2": 999999.99}}})
    with pytest.raises(ProfileError):
        validate_profile({"events": {"business_start": {"power_kw": 9964424.54}}})


def test_a_number_is_not_a_date():
    with pytest.raises(ProfileError):
        validate_profile({"person": {"birth_date": 0}})


# --- durable-rules limits the engine must respect (found by the fuzzing) ----------------------
#
# durable-rules 2.0.28, measured without this project's code (the strict xfails below):
#  - a fact that matches more than 64 conjunctions at once (rules times matching `$or`
#    branches) is refused with error 303, and the session is left corrupt: deleting it
#    segfaults or aborts ("free(): invalid pointer"), or later facts are refused;
#  - deleting a session whose only fact matched nothing segfaults.
# engine/backends/durable_backend.py compiles one profile partition of 46 services whose facts can
# match up to 233 conjunctions, and deletes every session. The fuzzing met both: the empty
# profile aborts a small catalogue, and about 1 in 380 fuzzed profiles was refused (303)
# or killed the process on the full one. Fix (tried by monkeypatching, no crash in 20,000
# fuzzed profiles): a catch-all rule per ruleset, and partitions whose worst case stays
# under 64 results. These two tests fail until then.

DURABLE_MAX_RESULTS = 64


def most_at_once(dnf: list) -> int:
    """At most how many conjunctions of ``dnf`` can hold for one fact: two that need one
    operand equal to different values never do (the local layer's residence branches)."""
    best = len(dnf)
    keys = {a[1] for conj in dnf for a in conj if a[0] == "cmp" and a[2] == "eq"}
    for key in keys:
        by_value: dict[Any, int] = {}
        free = 0
        for conj in dnf:
            values = {a[3] for a in conj if a[0] == "cmp" and a[1] == key and a[2] == "eq"}
            if values:
                value = sorted(values, key=repr)[0]
                by_value[value] = by_value.get(value, 0) + 1
            else:
                free += 1
        best = min(best, free + max(by_value.values()))
    return best


def _worst_case_matches(engine) -> dict[str, int]:
    """Each matching conjunction is one durable result, whether a rule or an `$or` branch."""
    from engine.backends.logic import quantifier_body

    compiler = engine.plan.compiler

    def worst(cond, scope: str) -> int:  # met and unmet never hold together
        return max(
            most_at_once(compiler.dnf(cond, True, scope)), most_at_once(compiler.dnf(cond, False, scope))
        )

    out = {}
    for part in engine.plan.partitions:
        out[part.ruleset] = 1 + sum(worst(engine.conditions[sid], "profile") for sid in part.services)
    if engine.plan.child_ruleset:
        out[engine.plan.child_ruleset] = 1 + sum(
            worst(quantifier_body(q), "child") for q in compiler.quantifiers
        )
    return out  # the 1: a catch-all rule


def test_no_durable_fact_can_match_more_than_64_conjunctions(engine):
    over = {name: n for name, n in _worst_case_matches(engine).items() if n > DURABLE_MAX_RESULTS}
    assert not over, f"durable-rules corrupts a session past {DURABLE_MAX_RESULTS} matches per fact: {over}"


def test_every_durable_ruleset_has_a_rule_every_fact_matches(engine):
    """Deleting a session whose fact matched nothing crashes durable-rules."""
    lacking = [
        name
        for name, rules in engine.plan.definitions.items()
        if not any(set(r["all"][0]["m"]) == {"kind"} for r in rules.values())
    ]
    assert not lacking, f"rulesets with no catch-all rule: {lacking}"


def _durable_child(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import contextlib
        from durable import engine as de
        from durable.engine import MessageNotHandledException
        class QuietHost(de.Host):
            def _run(self):
                pass
        host = QuietHost()
        """
    ) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


@pytest.mark.xfail(
    strict=False,
    reason="durable-rules 2.0.28: deleting an unmatched session crashes (memory-layout dependent)",
)
def test_durable_rules_deletes_a_session_whose_fact_matched_nothing():
    done = _durable_child(
        """
        rule = {"all": [{"m": {"$and": [{"kind": "p"}, {"a": 1}]}}], "run": lambda c: None}
        host.set_rulesets({"rs": {"r": rule}})
        with contextlib.suppress(MessageNotHandledException):
            host.assert_fact("rs", {"kind": "p", "a": 2, "sid": "1"})
        host.delete_state("rs", "1")
        """
    )
    assert done.returncode == 0, done.stderr[-300:]


@pytest.mark.xfail(
    strict=False, reason="durable-rules 2.0.28: more than 64 matches for one fact (memory-layout dependent)"
)
def test_durable_rules_takes_a_fact_that_matches_65_rules():
    done = _durable_child(
        """
        rules = {
            f"r{i}": {"all": [{"m": {"$and": [{"kind": "p"}, {"$lt": {"v": 1000 + i}}]}}], "run": lambda c: None}
            for i in range(65)
        }
        host.set_rulesets({"rs": rules})
        host.assert_fact("rs", {"kind": "p", "v": 0, "sid": "1"})
        host.delete_state("rs", "1")
        """
    )
    assert done.returncode == 0, done.stderr[-300:]


def test_a_crash_of_the_rule_engine_is_reported_not_fatal(tmp_path, monkeypatch):
    """The isolated runner turns a dying child into a shrunk no-crash counterexample."""
    from engine.testing import fuzz

    root = _small_catalogue(tmp_path)
    monkeypatch.setattr(fuzz.CrashOracle, "fails", lambda self, data, engine_errors=False: "person" in data)
    report = fuzz._crash_report(root, 50, 3, 7, -11, "", None, 20)
    assert report.stopped and not report.ok
    (ce,) = report.counterexamples
    assert ce.property == "no-crash" and "signal 11" in ce.message
    assert set(ce.profile) == {"as_of", "person"} and ce.cases[0]["input"] == ce.profile


# --- families: the partner's properties ---------------------------------------------------------


def test_generated_profiles_carry_every_kind_of_partner():
    model = rule_model(CATALOGUE)
    kinds = set()
    for k in range(200):
        src = RandomSource(random.Random(f"partners:{k}"))
        data = gen_edge(src, model) if k % 2 else partial_profiles_data(src, model)
        partner = data.get("partner", "absent")
        kinds.add("object" if isinstance(partner, dict) and partner else json_kind(partner))
        valid(data)
    assert kinds == {"absent", "null", "empty", "false", "object"}


def partial_profiles_data(src: RandomSource, model: Any) -> dict[str, Any]:
    from engine.testing.strategies import gen_profile

    return gen_profile(src, model, keep=0.5)


def json_kind(partner: Any) -> str:
    if partner is None or partner is False:
        return "null" if partner is None else "false"
    return "empty" if partner == {} else str(partner)


def test_the_family_checks_hold_for_the_father_answering_and_can_fail(engine):
    father = {
        "as_of": "2026-03-01",
        "residence": "taichung",
        "person": {"sex": "male", "employment": "employed", "marital_status": "married"},
        "partner": {
            "sex": "female",
            "employment": "employed",
            "labor_insurance_days": 900,
            "insured_salary": 30000,
        },
        "children": [{"birth_date": "2026-02-20", "order": 1}],
        "events": {
            "birth": {"date": "2026-02-20", "kind": "live"},
            "job_loss": {"date": "2026-02-01", "involuntary": True, "registered_job_seeker": False},
        },
    }
    assert check_partner_absent(engine, father) == []
    assert check_partner_swap(engine, father) == []
    assert check_steps(engine, father) == []
    assert check_partner_absent(engine, father | {"partner": False}) == []
    want = family_statuses(engine.recommend(validate_profile(father)))
    assert want["partner:labor-insurance-maternity-benefit"] == "eligible"
    assert check_batch_families(engine, [father], [want]) == ([], 1)
    wrong = want | {
        "partner:maternity-leave": "ineligible"
        if want["partner:maternity-leave"] != "ineligible"
        else "eligible"
    }
    failures, _ = check_batch_families(engine, [father], [wrong])
    assert [f.signature for f in failures] == ["batch-families-agree:partner:maternity-leave"]


def test_steps_are_found_in_the_rules_by_id():
    engine = Engine(CATALOGUE)
    steps = step_criteria_of(engine)
    assert (
        "unemployment-benefit",
        "registered-job-seeker",
        "events.job_loss.registered_job_seeker",
        True,
    ) in steps
    assert steps == sorted(steps, key=lambda t: (t[0], t[1]))
