"""lifeevents: a rules-as-code eligibility recommender for Taiwan's life-event services.

Data flows YAML → validated model → compiled rules → engine → results:
``load_catalogue`` reads and checks ``catalog.yaml`` and ``rules/``; ``Engine`` compiles
them into durable-rules rulesets and answers profiles.

This package is the engine's public API: the apps (ui/) import only from here.
Names load on first use (PEP 562), so a command that needs the profile model
does not pay for durable-rules, polars or SQLAlchemy."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    "AS_OF": "engine.services.impact",
    "AuditLog": "engine.services.audit",
    "Bar": "engine.services.charts",
    "CHART_CSS": "engine.services.charts",
    "CURRENCY": "engine.language.i18n",
    "Case": "engine.services.worklist",
    "Catalogue": "engine.language.catalog",
    "CatalogueError": "engine.language.loader",
    "Credentials": "engine.services.staffauth",
    "Describer": "engine.backends.logic",
    "EARLIEST_DATE": "engine.language.profile",
    "EVENT_NAMES": "engine.language.profile",
    "EligibilityResult": "engine.services.results",
    "Engine": "engine.services.recommend",
    "ImpactReport": "engine.services.impact",
    "LANGUAGES": "engine.language.i18n",
    "LATEST_DATE": "engine.language.profile",
    "LoginThrottle": "engine.services.staffauth",
    "MAX_CHILDREN": "engine.language.profile",
    "Money": "engine.services.results",
    "NoCredentials": "engine.services.staffauth",
    "OUTCOMES": "engine.services.worklist",
    "OneStopPlan": "engine.services.plan",
    "Profile": "engine.language.profile",
    "ProfileError": "engine.language.profile",
    "Question": "engine.services.questions",
    "RESIDENCES": "engine.language.profile",
    "ReasonOut": "engine.services.results",
    "Recommendation": "engine.services.results",
    "RejectedEdit": "engine.services.versions",
    "RuleStore": "engine.services.versions",
    "SaveFailed": "engine.services.versions",
    "StaffSession": "engine.services.staffauth",
    "StaleCase": "engine.services.worklist",
    "StaleEdit": "engine.services.versions",
    "Totals": "engine.services.results",
    "UNKNOWN": "engine.services.impact",
    "WorklistError": "engine.services.worklist",
    "WorklistUnavailable": "engine.services.worklist",
    "bar_chart": "engine.services.charts",
    "base_fact_types": "engine.language.facts",
    "build_plan": "engine.services.plan",
    "by_district": "engine.services.worklist_report",
    "by_service": "engine.services.worklist_report",
    "case_frame": "engine.services.worklist_report",
    "case_plan_html": "engine.services.worklist_plan",
    "cases_dir": "engine.language.rulesroot",
    "child_base_fact_types": "engine.language.facts",
    "database_url": "engine.services.worklist",
    "effective_date": "engine.services.impact",
    "enum_values": "engine.language.validate",
    "fact_types": "engine.language.facts",
    "family_totals": "engine.services.family",
    "format_date": "engine.language.i18n",
    "format_money": "engine.language.i18n",
    "format_number": "engine.language.i18n",
    "format_whole": "engine.language.i18n",
    "impact": "engine.services.impact",
    "impact_scenarios": "engine.services.impact",
    "load_catalogue": "engine.language.loader",
    "load_credentials": "engine.services.staffauth",
    "load_profile": "engine.language.profile",
    "next_questions": "engine.services.questions",
    "open_store": "engine.services.worklist",
    "outreach_policy": "engine.language.outreach_policy",
    "parameters_used": "engine.services.versions",
    "population": "engine.services.impact",
    "render_plan_html": "engine.services.plan",
    "residence_name": "engine.language.residences",
    "rules_root": "engine.language.rulesroot",
    "run_fuzz_isolated": "engine.testing.fuzz",
    "scenario_totals": "engine.services.impact",
    "session_end": "engine.services.staffauth",
    "sign_in": "engine.services.staffauth",
    "time_to_visit": "engine.services.worklist_report",
    "validate_profile": "engine.language.profile",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from engine.backends.logic import Describer  # noqa: F401
    from engine.language.catalog import Catalogue  # noqa: F401
    from engine.language.facts import base_fact_types, child_base_fact_types, fact_types  # noqa: F401
    from engine.language.i18n import (  # noqa: F401
        CURRENCY,
        LANGUAGES,
        format_date,
        format_money,
        format_number,
        format_whole,
    )
    from engine.language.loader import CatalogueError, load_catalogue  # noqa: F401
    from engine.language.outreach_policy import outreach_policy  # noqa: F401
    from engine.language.profile import (  # noqa: F401
        EARLIEST_DATE,
        EVENT_NAMES,
        LATEST_DATE,
        MAX_CHILDREN,
        RESIDENCES,
        Profile,
        ProfileError,
        load_profile,
        validate_profile,
    )
    from engine.language.residences import residence_name  # noqa: F401
    from engine.language.rulesroot import cases_dir, rules_root  # noqa: F401
    from engine.language.validate import enum_values  # noqa: F401
    from engine.services.audit import AuditLog  # noqa: F401
    from engine.services.charts import CHART_CSS, Bar, bar_chart  # noqa: F401
    from engine.services.family import family_totals  # noqa: F401
    from engine.services.impact import (  # noqa: F401  # noqa: F401
        AS_OF,
        UNKNOWN,
        ImpactReport,
        effective_date,
        impact,
        impact_scenarios,
        population,
        scenario_totals,
    )
    from engine.services.plan import OneStopPlan, build_plan, render_plan_html  # noqa: F401
    from engine.services.questions import Question, next_questions  # noqa: F401
    from engine.services.recommend import Engine  # noqa: F401
    from engine.services.results import EligibilityResult, Money, ReasonOut, Recommendation, Totals  # noqa: F401
    from engine.services.staffauth import (  # noqa: F401
        Credentials,
        LoginThrottle,
        NoCredentials,
        StaffSession,
        load_credentials,
        session_end,
        sign_in,
    )
    from engine.services.versions import RejectedEdit, RuleStore, SaveFailed, StaleEdit, parameters_used  # noqa: F401
    from engine.services.worklist import (  # noqa: F401
        OUTCOMES,
        Case,
        StaleCase,
        WorklistError,
        WorklistUnavailable,
        database_url,
        open_store,
    )
    from engine.services.worklist_plan import case_plan_html  # noqa: F401
    from engine.services.worklist_report import by_district, by_service, case_frame, time_to_visit  # noqa: F401
    from engine.testing.fuzz import run_fuzz_isolated  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
