"""Varied random profiles, reproducible by seed, for benchmarks and isolation tests.

Every field is present, absent (unknown) or drawn near the rules' thresholds, so that
all three statuses of every service occur. This is not the population model of Taiwan
(that needs census marginals); it is a stress generator for the engine.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from engine.language.profile import RESIDENCES, Profile


def _maybe(rng: random.Random, value: Any, p_unknown: float) -> Any:
    return None if rng.random() < p_unknown else value


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _up_to(rng: random.Random, start: date, as_of: date) -> date:
    """A past day from ``start`` to ``as_of``; from ``as_of`` itself when it comes first
    (profiles dated before the window: a move or a job loss of that very day)."""
    return _day(rng, min(start, as_of), as_of)


def random_profile_data(rng: random.Random, as_of: date = date(2026, 3, 1), p_unknown: float = 0.15) -> dict:
    m = lambda v: _maybe(rng, v, p_unknown)  # noqa: E731
    birth = _day(rng, date(1940, 1, 1), date(2008, 12, 31))
    size = rng.randint(1, 7)
    data: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "residence": m(rng.choice(RESIDENCES)),
        "person": {
            "birth_date": m(birth.isoformat()),
            "sex": m(rng.choice(["female", "male"])),
            "nationality": m(rng.choice(["roc"] * 9 + ["foreign"])),
            "household_registered": m(rng.random() < 0.95),
            "days_in_taiwan_last_year": m(rng.choice([365, 300, 184, 183, 100, 0])),
            "residence_registered_since": m(_up_to(rng, date(2000, 1, 1), as_of).isoformat()),
            "indigenous": m(rng.random() < 0.03),
            "disability_level": m(rng.choice(["none"] * 8 + ["mild", "moderate", "severe", "profound"])),
            "employment": m(
                rng.choice(["employed", "self_employed", "unemployed", "student", "not_working", "retired"])
            ),
            "months_in_current_job": m(rng.choice([0, 5, 6, 7, 24, 120])),
            "labor_insurance_days": m(rng.choice([0, 180, 181, 279, 280, 1000])),
            "employment_insurance_months": m(rng.choice([0, 11, 12, 13, 60])),
            "insured_salary": m(rng.choice([27470, 30000, 36000, 45800])),
            "marital_status": m(rng.choice(["single", "married", "divorced", "widowed"])),
            "education": m(
                rng.choice(["none", "junior_high", "senior_high", "college", "university", "graduate"])
            ),
            "special_circumstances": m(
                rng.sample(
                    [
                        "domestic_violence",
                        "single_parent_raising_child",
                        "sudden_major_change",
                        "spouse_deceased_or_missing",
                    ],
                    rng.randint(0, 2),
                )
            ),
            "in_residential_care": m(rng.random() < 0.05),
        },
        "household": {
            "size": m(size),
            "monthly_income": m(rng.choice([0, 10000, 15515 * size, 30000, 60000, 150000])),
            "movable_assets": m(rng.choice([0, 50000, 96000 * size, 500000, 3000000])),
            "real_estate_value": m(rng.choice([0, 1000000, 3850000, 9000000])),
            "welfare_status": m(rng.choice(["none"] * 6 + ["middle_low", "low"])),
            "income_tax_rate": m(rng.choice([0.05, 0.12, 0.2, 0.3])),
        },
        "assets": {"owns_vehicle": m(rng.random() < 0.6), "holds_driving_licence": m(rng.random() < 0.7)},
        "student_loan": {
            "has_loan": m(rng.random() < 0.2),
            "monthly_income": m(rng.choice([30000, 50000, 70000])),
            "children_raised": m(rng.randint(0, 3)),
        },
    }
    if rng.random() > p_unknown:
        data["children"] = [
            {
                "birth_date": m(_day(rng, date(2008, 1, 1), date(2026, 6, 30)).isoformat()),
                "order": m(i + 1),
                "childcare": m(rng.choice(["home", "public", "quasi_public"])),
                "disability_level": m(rng.choice(["none"] * 6 + ["mild", "severe"])),
                "gifted_assessed": m(rng.random() < 0.1),
            }
            for i in range(rng.choice([0, 1, 1, 2, 3]))
        ]
    events: dict[str, Any] = {}
    if rng.random() < 0.4:
        events["birth"] = {
            "date": m(_day(rng, date(2024, 6, 1), date(2026, 6, 30)).isoformat()),
            "kind": m(rng.choice(["live", "live", "premature", "miscarriage"])),
        }
    if rng.random() < 0.2:
        events["move"] = {
            "date": m(_up_to(rng, date(2025, 6, 1), as_of).isoformat()),
            "new_residence": m(rng.choice(RESIDENCES)),
            "within_same_district": m(rng.random() < 0.3),
        }
    if rng.random() < 0.15:
        events["home_purchase"] = {
            "date": m(as_of.isoformat()),
            "urban_land": m(rng.random() < 0.7),
            "land_area_m2": m(rng.choice([100.0, 300.0, 301.0, 700.0, 800.0])),
            "registered_at_property": m(rng.random() < 0.8),
            "rented_or_business_use": m(rng.random() < 0.2),
        }
    if rng.random() < 0.2:
        events["job_loss"] = {
            "date": m(_up_to(rng, date(2023, 6, 1), as_of).isoformat()),
            "involuntary": m(rng.random() < 0.6),
            "registered_job_seeker": m(rng.random() < 0.6),
        }
    if rng.random() < 0.15:
        events["business_start"] = {
            "date": m(as_of.isoformat()),
            "kind": m(rng.choice(["company", "sole_proprietorship", "partnership", "factory"])),
            "foreign_investor": m(rng.random() < 0.2),
            "capital": m(rng.choice([100000, 1000000, 5000000])),
            "employees": m(rng.choice([0, 1, 4, 5, 20])),
            "monthly_sales": m(rng.choice([50000, 100000, 500000])),
            "floor_area_m2": m(rng.choice([50.0, 150.0, 500.0])),
            "power_kw": m(rng.choice([10.0, 75.0, 200.0])),
            "years_registered": m(rng.choice([0.0, 7.0, 8.0])),
            "owner_share": m(rng.choice([0.1, 0.2, 1.0])),
            "entrepreneurship_course_hours": m(rng.choice([0.0, 19.0, 20.0])),
            "visa_route_other": m(rng.random() < 0.2),
        }
    if rng.random() > p_unknown / 2:
        data["events"] = events
    return _strip_none(data)


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def random_profiles(n: int, seed: int = 0, as_of: date = date(2026, 3, 1)) -> list[Profile]:
    rng = random.Random(seed)
    return [Profile.model_validate(random_profile_data(rng, as_of)) for _ in range(n)]
