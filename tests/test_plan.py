"""The one-stop plan and the next question."""

from __future__ import annotations

from dataclasses import replace

from engine.language.profile import validate_profile
from engine.services.plan import build_plan, order_steps, render_plan_html
from engine.services.questions import next_questions

NEWBORN = {
    "as_of": "2026-03-01",
    "residence": "taichung",
    "person": {"sex": "female", "labor_insurance_days": 300, "insured_salary": 30000},
    "children": [{"birth_date": "2026-02-01", "order": 1, "childcare": "home"}],
    "events": {"birth": {"date": "2026-02-01", "kind": "live"}},
}


def test_prerequisites_come_first(engine, catalogue):
    rec = engine.recommend(validate_profile(NEWBORN))
    ordered = [r.service for r in order_steps([r for r in rec.results if r.status == "eligible"])]
    for result in rec.results:
        for before in result.prerequisites:
            if before in ordered and result.service in ordered:
                assert ordered.index(before) < ordered.index(result.service)


def test_household_records_are_never_on_the_list_to_bring(engine, catalogue):
    plan = build_plan(engine.recommend(validate_profile(NEWBORN)), catalogue)
    names = {d.name for d in plan.to_bring}
    for doc in catalogue.documents.values():
        if doc.household_record:
            assert doc.name.en not in names


def test_plan_renders_as_a_printable_page_in_both_languages(engine, catalogue):
    for lang in ("en", "zh-TW"):
        rec = engine.recommend(validate_profile(NEWBORN), lang=lang)
        html = render_plan_html(build_plan(rec, catalogue, lang), catalogue)
        assert html.startswith("<!doctype html>") and f'lang="{lang}"' in html
        assert "2026-04-02" in html  # the birth registration deadline


def test_questions_only_ask_what_can_change_a_result(engine, catalogue):
    rec = engine.recommend(
        validate_profile({"as_of": "2026-03-01", "events": {"birth": {"date": "2026-02-01"}}})
    )
    questions = next_questions(rec, catalogue)
    assert questions, "an almost empty profile leaves questions"
    open_missing = {m for r in rec.results if r.status == "unknown" for m in r.missing}
    for q in questions:
        assert q.fact in open_missing
        assert not q.fact.startswith(("parameters.", "rules."))
    counts = [len(q.services) for q in questions]
    assert counts == sorted(counts, reverse=True)


def test_the_local_grant_sits_with_the_birth_registration_where_the_city_takes_it_there(engine, catalogue):
    data = dict(NEWBORN, person={**NEWBORN["person"], "residence_registered_since": "2020-01-01"})
    plan = build_plan(engine.recommend(validate_profile(data), event="birth"), catalogue)
    order = [s.service for s in plan.steps]
    start = order.index("birth-registration")
    same_visit = {s.service for s in plan.steps if s.same_visit_as == "birth-registration"}
    assert {"newborn-health-insurance", "local-birth-grant"} <= same_visit
    assert set(order[start + 1 : start + 1 + len(same_visit)]) == same_visit
    grant = next(s for s in plan.steps if s.service == "local-birth-grant")
    assert grant.deadline is not None  # its own deadline (Taichung: 6 months)


def test_kinmen_takes_its_grant_at_the_township_office_not_with_the_registration(engine, catalogue):
    data = dict(
        NEWBORN, residence="kinmen", person={**NEWBORN["person"], "residence_registered_since": "2020-01-01"}
    )
    rec = engine.recommend(validate_profile(data), event="birth")
    grant = next(r for r in rec.results if r.service == "local-birth-grant")
    assert grant.same_visit_as is None


def _plan(engine, catalogue, lang: str):
    return build_plan(engine.recommend(validate_profile(NEWBORN), lang=lang), catalogue, lang)


def test_the_legend_names_only_the_marks_the_steps_show(engine, catalogue):
    plan = _plan(engine, catalogue, "en")
    sure = replace(plan, steps=[replace(s, confidence="✅") for s in plan.steps])
    html = render_plan_html(sure, catalogue)
    assert "✅" in html and "🟡" not in html and "❓" not in html
    mixed = replace(plan, steps=[replace(plan.steps[0], confidence="❓"), *plan.steps[1:]])
    legend = render_plan_html(mixed, catalogue).split('class="legend">')[1].split("</ul>")[0]
    assert "❓" in legend and ("✅" in legend) == any(s.confidence == "✅" for s in mixed.steps)


def test_the_chinese_plan_offers_roc_dates_and_words_money_as_taiwan_does(engine, catalogue):
    plan = _plan(engine, catalogue, "zh-TW")
    gregorian = render_plan_html(plan, catalogue)
    # Both forms of each date are in the page; the switch shows one, Gregorian by default.
    assert (
        '<span class="cal-gregorian">2026-04-02</span><span class="cal-roc">民國 115 年 4 月 2 日</span>'
        in gregorian
    )
    assert 'value="gregorian" checked' in gregorian and 'value="roc">' in gregorian
    roc = render_plan_html(plan, catalogue, calendar="roc")
    assert 'value="roc" checked' in roc and 'value="gregorian">' in roc
    assert "新臺幣 60,000 元" in roc and "每月新臺幣" in roc and "TWD" not in roc
    # English has no ROC calendar: no switch, and the option falls back to its default.
    english = render_plan_html(_plan(engine, catalogue, "en"), catalogue, calendar="roc")
    assert "2026-04-02" in english and "ROC" not in english and 'name="calendar"' not in english
    assert "NT$60,000" in english


# Families, steps and dates (rules.md): a step the citizen can still take is put before
# the service it unlocks. A bought home whose owner has not registered there yet, and a
# job loss before the job-seeker registration.
HOME_NOT_REGISTERED = {
    "as_of": "2026-03-01",
    "events": {
        "home_purchase": {
            "date": "2026-02-01",
            "urban_land": True,
            "land_area_m2": 200,
            "registered_at_property": False,
            "rented_or_business_use": False,
        }
    },
}
JOB_LOSS_NOT_REGISTERED = {
    "as_of": "2026-03-01",
    "person": {
        "employment": "unemployed",
        "employment_insurance_months": 24,
        "insured_salary": 40000,
        "birth_date": "1980-01-01",
        "nationality": "roc",
    },
    "events": {"job_loss": {"date": "2026-02-20", "involuntary": True, "registered_job_seeker": False}},
}


def _steps_by_service(plan):
    return {s.service: s for s in plan.steps}


def test_the_registration_at_a_bought_home_is_a_step_before_the_tax_rate_and_not_left_out(engine, catalogue):
    plan = build_plan(engine.recommend(validate_profile(HOME_NOT_REGISTERED), event="moving"), catalogue)
    steps = _steps_by_service(plan)
    assert steps["self-use-land-value-tax-rate"].after == ["moving-registration"]
    assert "moving-registration" in steps and "moving-registration" not in plan.left_out


def test_the_job_seeker_registration_is_waited_for_once_though_it_is_a_step_and_a_prerequisite(
    engine, catalogue
):
    rec = engine.recommend(validate_profile(JOB_LOSS_NOT_REGISTERED), event="employment")
    steps = _steps_by_service(build_plan(rec, catalogue))
    assert steps["vocational-training-allowance"].after == ["job-seeker-registration"]
    assert steps["unemployment-benefit"].after == [
        "involuntary-separation-certificate",
        "job-seeker-registration",
    ]


def test_the_separation_certificate_comes_before_the_registration_that_needs_it(engine, catalogue):
    """A claimant registers in person with the certificate of involuntary separation: the
    plan asked for the registration first and the certificate three steps later."""
    rec = engine.recommend(validate_profile(JOB_LOSS_NOT_REGISTERED), event="employment")
    order = [s.service for s in build_plan(rec, catalogue).steps]
    assert order.index("involuntary-separation-certificate") < order.index("job-seeker-registration")
    assert _steps_by_service(build_plan(rec, catalogue))["job-seeker-registration"].after == [
        "involuntary-separation-certificate"
    ]


def test_every_step_waits_for_each_service_once_and_no_step_is_left_out(engine, catalogue):
    for data, event in (
        (HOME_NOT_REGISTERED, "moving"),
        (JOB_LOSS_NOT_REGISTERED, "employment"),
        (NEWBORN, None),
    ):
        plan = build_plan(engine.recommend(validate_profile(data), event=event), catalogue)
        in_plan = {s.service for s in plan.steps}
        for step in plan.steps:
            assert len(step.after) == len(set(step.after)), step
        assert not in_plan & set(plan.left_out), (event, plan.left_out)


def test_the_printed_plan_lists_the_registration_at_a_bought_home_once_before_what_it_unlocks(
    engine, catalogue
):
    plan = build_plan(engine.recommend(validate_profile(HOME_NOT_REGISTERED), event="moving"), catalogue)
    steps = _steps_by_service(plan)
    registration, tax = steps["moving-registration"].name, steps["self-use-land-value-tax-rate"].name
    rows = render_plan_html(plan, catalogue).split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    named = [row for row in rows if f"<strong>{registration}</strong>" in row]
    assert len(named) == 1 and tax in named[0]  # "unlocks: …"
    assert rows.index(named[0]) < next(i for i, row in enumerate(rows) if f"<strong>{tax}</strong>" in row)


# profile.md, "Families: the partner": every result and plan step has `for`.
NEWBORN_WITH_FATHER = dict(
    NEWBORN, partner={"sex": "male", "employment": "employed", "months_in_current_job": 24}
)


def test_every_plan_step_says_whom_it_is_for_as_its_result_does(engine, catalogue):
    rec = engine.recommend(validate_profile(NEWBORN_WITH_FATHER))
    plan = build_plan(rec, catalogue)
    results = {(r.service, r.for_) for r in (*rec.results, *rec.partner_results)}
    assert {(s.service, s.for_) for s in plan.steps} <= results
    assert {s.for_ for s in plan.steps} == {"person", "partner", "household"}
    assert all(s.who == s.for_ for s in plan.steps)  # the earlier name reads the same field


def test_the_plan_gives_the_familys_total_as_numbers_beside_the_sentence(engine, catalogue):
    rec = engine.recommend(validate_profile(NEWBORN_WITH_FATHER))
    plan = build_plan(rec, catalogue)
    assert plan.family_totals == rec.totals and plan.family_totals.one_off > 0
    assert f"{plan.family_totals.one_off:,}" in plan.totals  # the sentence words the same total
