"""The one-stop plan for a worklist case, printable at the door (engine/services/plan.py's).

A case keeps its services with status, amount and deadline, not the person's profile, so
the plan is built from those and the catalogue (names, agencies, channels, documents):
the same ``build_plan`` and ``render_plan_html`` as the citizen's plan.
"""

from __future__ import annotations

from datetime import date

from engine.services.plan import OneStopPlan, build_plan, render_plan_html
from engine.services.recommend import Engine
from engine.services.results import EligibilityResult, Money, Recommendation
from engine.services.worklist import Case


def case_recommendation(case: Case, engine: Engine, lang: str, as_of: date | None = None) -> Recommendation:
    catalogue = engine.catalogue
    results = []
    for item in case.services:
        service = catalogue.services.get(item.service)
        if service is None:  # a service the current catalogue no longer has
            continue
        rule = catalogue.rule_for(item.service, case.residence)
        documents, channels = engine.service_materials(item.service, lang)
        agency = catalogue.agencies[service.agency]
        results.append(
            EligibilityResult.model_construct(
                service=item.service,
                status=item.status,
                reasons=[],
                missing=[],
                agency=agency.name.get(lang),
                deadline=item.deadline,
                amount=Money.model_construct(value=item.amount, unit=item.unit)
                if item.amount is not None
                else None,
                documents=documents,
                name=service.name.get(lang),
                events=list(service.events),
                office=agency.office.get(lang),
                channels=channels,
                home_visit=service.home_visit,
                legal_basis=rule.legal_basis if rule else service.legal_basis,
                confidence=rule.confidence if rule and rule.confidence else service.confidence,
                prerequisites=list(service.prerequisites),
                same_visit_as=rule.same_visit_as if rule and rule.same_visit_as else service.same_visit_as,
            )
        )
    return Recommendation.model_construct(
        as_of=as_of or date.today(), rules_version=case.rules_version, results=results
    )


def case_plan(case: Case, engine: Engine, lang: str, as_of: date | None = None) -> OneStopPlan:
    return build_plan(case_recommendation(case, engine, lang, as_of), engine.catalogue, lang)


def case_plan_html(case: Case, engine: Engine, lang: str, as_of: date | None = None) -> str:
    return render_plan_html(case_plan(case, engine, lang, as_of), engine.catalogue)
