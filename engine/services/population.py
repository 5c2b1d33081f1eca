"""A synthetic population of Taiwan, reproducible by seed, as dotted profile columns.

Each row is one person with their household, children and the life events of the last
year, in the tabular form of ``engine.services.columns`` (typed columns: Date, Int64, Float64,
Boolean, String, List). Rows are independent draws: households are not linked across
rows (a child of one row is not another row), so each marginal holds per person, not
per household. Everything is vectorised numpy: no Python loop runs per person.

The figures below are approximations from memory of the published statistics, rounded,
each with its source; none is exact and none should be quoted as a statistic. They make
the population *shaped* like Taiwan's (who lives where, how old, how many are poor,
disabled, indigenous, moving or losing a job in a year), which is what a screening run
and its outreach list need to be realistic in size and mix.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from engine.language.profile import RESIDENCES
from engine.services.columns import PARTNER_LISTED, PARTNER_SPECS, PROFILE_SPECS, child_column

# --- the marginals ---------------------------------------------------------------------

# Registered population by city and county, thousands, end of 2024 (Ministry of the
# Interior, household registration statistics 戶籍人口統計; rounded, approximate).
# Sum ≈ 23.43 million.
RESIDENCE_POPULATION: dict[str, int] = {
    "new_taipei": 4048,
    "taichung": 2856,
    "kaohsiung": 2732,
    "taipei": 2491,
    "taoyuan": 2339,
    "tainan": 1858,
    "changhua": 1233,
    "pingtung": 795,
    "yunlin": 665,
    "hsinchu_county": 594,
    "miaoli": 534,
    "chiayi_county": 482,
    "nantou": 477,
    "hsinchu_city": 456,
    "yilan": 450,
    "keelung": 362,
    "hualien": 316,
    "chiayi_city": 263,
    "taitung": 211,
    "kinmen": 144,
    "penghu": 108,
    "lienchiang": 14,
}
TAIWAN_POPULATION = 23_400_000  # MOI, 2025 (≈ 23.4 million and slowly falling)

# Share of the population in each 5-year age band, per cent (MOI age structure, end of
# 2024, approximate; normalised below). Gives ≈ 11.4% aged 0–14, 68% 15–64 and ≈ 20%
# 65+ (Taiwan became a "super-aged" society, 65+ ≥ 20%, in 2025).
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 4, 2.9), (5, 9, 3.8), (10, 14, 4.3), (15, 19, 4.4), (20, 24, 5.4), (25, 29, 6.2),
    (30, 34, 6.6), (35, 39, 7.3), (40, 44, 8.0), (45, 49, 7.6), (50, 54, 7.0), (55, 59, 7.0),
    (60, 64, 6.6), (65, 69, 6.5), (70, 74, 5.3), (75, 79, 3.4), (80, 84, 2.2), (85, 99, 2.1),
)  # fmt: skip

# Registered households by number of members, per cent (MOI 2024: 2.5 persons per
# registered household; shares approximate). A person's household size is drawn
# person-weighted (size × share); people aged 65+ use their own table: ≈ 12% live
# alone by registration (assumption between the MOHW elderly survey's ≈ 9% living alone
# and registration, which overstates it).
HOUSEHOLD_SIZE_SHARES = (32.0, 24.0, 19.0, 14.0, 6.0, 5.0)  # sizes 1…6 (6 stands for 6+)
ELDERLY_SIZE_SHARES = (12.0, 36.0, 18.0, 14.0, 10.0, 10.0)

# Household monthly income: log-normal with median 38,000 × size^0.75 NTD and σ 0.65
# (DGBAS Survey of Family Income and Expenditure 2023: mean disposable income ≈ NT$1.12
# million a year per household, ≈ 94,000 a month, at ≈ 2.9 persons; approximate fit).
# Households of one or two people aged 65+ have 60% of that (pensions). Assumption.
INCOME_MEDIAN_ONE = 38_000
INCOME_SIGMA = 0.65

# Certified welfare status, share of persons: low-income ≈ 1.2% (≈ 280,000 persons),
# middle-low ≈ 1.3% (≈ 300,000) (MOHW social assistance statistics 2024, approximate),
# assigned to the lowest income per person with noise.
LOW_INCOME_SHARE = 0.012
MIDDLE_LOW_SHARE = 0.013

# Disability certificates: ≈ 1.2 million, ≈ 5.2% of the population (MOHW 2024). By age
# (assumption fitted to that total): 1.6% under 18, 3.8% at 18–64, 12.5% at 65+.
# Levels (approximate MOHW shares): mild 38%, moderate 31%, severe 17%, profound 14%.
DISABILITY_BY_AGE = ((0, 17, 0.016), (18, 64, 0.038), (65, 120, 0.125))
DISABILITY_LEVELS = (("mild", 0.38), ("moderate", 0.31), ("severe", 0.17), ("profound", 0.14))

# Indigenous peoples ≈ 590,000, ≈ 2.5–2.6% (Council of Indigenous Peoples 2024), with the
# approximate share in each county (Taitung ≈ 37%, Hualien ≈ 29%, …); gives ≈ 2.5%.
INDIGENOUS_SHARE: dict[str, float] = {
    "taitung": 0.37, "hualien": 0.29, "pingtung": 0.077, "nantou": 0.061, "taoyuan": 0.035,
    "yilan": 0.039, "hsinchu_county": 0.040, "miaoli": 0.021, "new_taipei": 0.015,
    "taichung": 0.0135, "kaohsiung": 0.013, "keelung": 0.026, "taipei": 0.0065, "tainan": 0.0045,
    "changhua": 0.0052, "yunlin": 0.003, "chiayi_county": 0.0035, "chiayi_city": 0.0036,
    "hsinchu_city": 0.0095, "penghu": 0.0055, "kinmen": 0.0095, "lienchiang": 0.008,
}  # fmt: skip

# Foreign nationals among the rows: 3.5% of those aged 20–59 (foreign spouses and other
# residents not naturalised), 1% otherwise, ≈ 2.5% overall (National Immigration Agency:
# ≈ 1 million foreign residents incl. migrant workers; a register of households holds
# far fewer; assumption). They hold no household registration.
FOREIGN_SHARE_20_59 = 0.035
FOREIGN_SHARE_OTHER = 0.01

# Births: ≈ 107,800 in 2025 (MOI), 4.6 per 1,000. Annual birth probability of a married
# woman by age (assumption fitted to that rate): 20–24 8%, 25–29 12%, 30–34 12%,
# 35–39 6.5%, 40–44 1.3%; unmarried women 0.3%. Married men 22–54 get the same event (their spouse's
# birth) at the rate of the age five years younger. Pregnancies under way (a birth event
# after as_of) are 0.75 of a year's births (nine months).
BIRTH_RATE_MARRIED = ((20, 24, 0.08), (25, 29, 0.12), (30, 34, 0.12), (35, 39, 0.065), (40, 44, 0.013))
BIRTH_RATE_UNMARRIED = 0.003
BIRTH_KINDS = (("live", 0.91), ("premature", 0.08), ("miscarriage", 0.01))  # preterm ≈ 8–10%

# Moves: ≈ 1.7 million registered moves a year incl. within a county (MOI 遷徙), ≈ 7%.
MOVE_RATE = 0.07
# Job losses: ≈ 3.5% of people aged 18–64 in work lose a job in a year, 65% of them
# involuntarily (DGBAS manpower survey: unemployment ≈ 3.4%; assumption for the flow).
JOB_LOSS_RATE = 0.035
# Home purchases: ≈ 320,000 transfers by sale a year (MOI), ≈ 1.8% of adults 25–74.
HOME_PURCHASE_RATE = 0.018
# New businesses: ≈ 110,000 company and business registrations a year (MOEA), ≈ 0.6% of
# adults 20–64 (assumption).
BUSINESS_START_RATE = 0.006

MAX_GENERATED_CHILDREN = 6

# The partner (profile.md, "Families"): every married adult's spouse is described; so is
# the other parent of 25% of unmarried parents (cohabiting; assumption), the others being
# single parents (``partner: false``). Unmarried adults without children: not considered.
# Same-sex couples ≈ 1.5% of marriages since 2019 (MOI marriage registrations, approximate),
# never with a birth event; a husband is ≈ 2.5 years older than his wife on average (MOI
# median age at first marriage: 32.6 and 30.4), ± 3.5 years. Foreign and Mainland spouses
# who are not naturalised ≈ 5% of the spouses (assumption, from ≈ 600,000 foreign and
# Mainland spouses of whom about half are naturalised). The partner's work, insurance and
# salary are drawn as the applicant's are, at the partner's age.
COHABITING_PARENT_SHARE = 0.25
SAME_SEX_SHARE = 0.015
SPOUSE_AGE_GAP = 2.5
SPOUSE_AGE_SD = 3.5
FOREIGN_SPOUSE_SHARE = 0.05

SPECIAL_CIRCUMSTANCES = (
    "spouse_deceased_or_missing",
    "divorced_abuse_or_desertion",
    "domestic_violence",
    "unmarried_pregnant",
    "single_parent_raising_child",
    "spouse_imprisoned",
    "sudden_major_change",
)

_EPOCH = date(1970, 1, 1)


# --- small vectorised helpers ---------------------------------------------------------------


def _days(day: date) -> int:
    return (day - _EPOCH).days


def _pick(
    rng: np.random.Generator, n: int, weights: tuple[float, ...] | list[float] | np.ndarray
) -> np.ndarray:
    """Indices drawn by weight (normalised)."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _by_band(age: np.ndarray, bands: tuple[tuple[int, int, float], ...], default: float = 0.0) -> np.ndarray:
    out = np.full(age.shape, default, dtype=np.float64)
    for lo, hi, value in bands:
        out[(age >= lo) & (age <= hi)] = value
    return out


def _strings(choices: tuple[str, ...] | list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(list(choices), dtype=pl.String).gather(pl.Series(index.astype(np.uint32)))


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _null_where(series: pl.Series, mask: np.ndarray) -> pl.Series:
    return series.set(pl.Series(mask), None) if mask.any() else series


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
    return np.asarray(median) * np.exp(rng.normal(0.0, sigma, n))


# --- the generator ---------------------------------------------------------------------------


def generate_population(
    n: int, seed: int = 0, as_of: date = date(2026, 3, 1), partners: bool = True
) -> pl.DataFrame:
    """``n`` people in the dotted columns of profile.md, the same for the same seed.

    With ``partners`` the rows also describe the partner (``partner.listed`` and
    ``partner.*``); the partners are drawn last, so that the other columns are the same
    with or without them."""
    rng = np.random.default_rng(seed)
    today = _days(as_of)
    cols: dict[str, pl.Series] = {}

    residence_idx = _pick(rng, n, [RESIDENCE_POPULATION[r] for r in RESIDENCES])
    band = _pick(rng, n, [share for _, _, share in AGE_BANDS])
    lo = np.array([b[0] for b in AGE_BANDS])[band]
    hi = np.array([b[1] for b in AGE_BANDS])[band]
    age = lo + rng.integers(0, hi - lo + 1)
    birth = today - np.floor((age + rng.random(n)) * 365.2425).astype(np.int64)
    cols["as_of"] = _dates(np.full(n, today))
    cols["residence"] = _strings(RESIDENCES, residence_idx)

    female = rng.random(n) < np.where(age >= 65, 0.54, 0.495)  # MOI sex ratio, approximate
    foreign = rng.random(n) < np.where((age >= 20) & (age <= 59), FOREIGN_SHARE_20_59, FOREIGN_SHARE_OTHER)
    abroad = rng.random(n)
    days_in_taiwan = np.where(
        abroad < 0.97, 365, np.where(abroad < 0.985, rng.integers(184, 365, n), rng.integers(0, 183, n))
    )
    indigenous = rng.random(n) < np.array([INDIGENOUS_SHARE[r] for r in RESIDENCES])[residence_idx]

    disabled = rng.random(n) < _by_band(age, DISABILITY_BY_AGE)
    level_idx = _pick(rng, n, [w for _, w in DISABILITY_LEVELS]) + 1
    disability = np.where(disabled, level_idx, 0)

    marital = _marital(rng, age)
    employment = _employment(rng, age)
    education = _education(rng, age)

    events = _events(rng, n, age, female, marital, employment, residence_idx, today)
    employment = np.where(events["job_loss_recent"] & (rng.random(n) < 0.6), 2, employment)  # now unemployed

    working, li_days, ei_months, salary, months_job = _work(rng, n, age, employment)

    cols["person.birth_date"] = _dates(birth)
    cols["person.sex"] = _strings(("male", "female"), female.astype(np.int64))
    cols["person.nationality"] = _strings(("roc", "foreign"), foreign.astype(np.int64))
    cols["person.household_registered"] = pl.Series(~foreign & (rng.random(n) < 0.998))
    cols["person.days_in_taiwan_last_year"] = pl.Series(days_in_taiwan.astype(np.int64))
    since = np.maximum(birth, today - np.floor(rng.exponential(15 * 365.0, n)).astype(np.int64))
    since = np.where(events["moved"], events["move_date"], since)
    cols["person.residence_registered_since"] = _dates(since)
    cols["person.indigenous"] = pl.Series(indigenous)
    cols["person.disability_level"] = _strings(("none", "mild", "moderate", "severe", "profound"), disability)
    cols["person.employment"] = _strings(EMPLOYMENT, employment)
    cols["person.months_in_current_job"] = pl.Series(np.maximum(months_job, 0).astype(np.int64))
    cols["person.labor_insurance_days"] = pl.Series(np.minimum(li_days, 100_000))
    cols["person.employment_insurance_months"] = pl.Series(ei_months)
    cols["person.insured_salary"] = _null_where(pl.Series(salary), ~working)
    cols["person.marital_status"] = _strings(MARITAL, marital)
    cols["person.education"] = _strings(EDUCATION, education)
    cols["person.special_circumstances"] = _special(rng, n, age)
    care = rng.random(n) < np.where(age >= 80, 0.07, np.where(age >= 65, 0.015, 0.0)) + np.where(
        disability >= 3, 0.08, 0
    )
    cols["person.in_residential_care"] = pl.Series(care)

    size, income, movable, estate, welfare, tax = _household(rng, n, age)
    cols["household.size"] = pl.Series(size)
    cols["household.monthly_income"] = pl.Series(income)
    cols["household.movable_assets"] = pl.Series(movable)
    cols["household.real_estate_value"] = pl.Series(estate)
    cols["household.welfare_status"] = _strings(("none", "middle_low", "low"), welfare)
    cols["household.income_tax_rate"] = pl.Series(tax)

    count = _children(rng, n, age, birth, marital, events, today, cols)
    cols["children.count"] = pl.Series(count)
    cols["events.known"] = pl.Series(np.ones(n, dtype=bool))
    cols.update(events["columns"])

    adult = age >= 18
    cols["assets.owns_vehicle"] = pl.Series(adult & (rng.random(n) < 0.65))
    cols["assets.holds_driving_licence"] = pl.Series(adult & (rng.random(n) < np.where(age >= 75, 0.4, 0.75)))
    has_loan = (age >= 20) & (age <= 34) & (rng.random(n) < 0.12)
    cols["student_loan.has_loan"] = pl.Series(has_loan)
    cols["student_loan.monthly_income"] = pl.Series(np.where(working, salary, 0).astype(np.int64))
    cols["student_loan.children_raised"] = pl.Series(np.minimum(count, 30).astype(np.int64))
    if partners:
        couple = {"age": age, "female": female, "marital": marital, "since": since, "indigenous": indigenous}
        cols |= _partners(rng, n, couple, count, events["birth"], today, residence_idx)
    return pl.DataFrame(cols).select(_column_order(cols))


def _work(
    rng: np.random.Generator, n: int, age: np.ndarray, employment: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Working or not, Labor Insurance days, Employment Insurance months, insured salary
    and months in the current job, by age and employment."""
    working = np.isin(employment, (0, 1, 2))
    years_worked = np.clip(age - 22, 0, 45)
    li_days = np.where(
        working, years_worked * 365 * rng.uniform(0.5, 1.0, n), years_worked * 365 * rng.uniform(0, 0.6, n)
    ).astype(np.int64)
    li_days = np.where(age < 16, 0, li_days)
    ei_months = np.where(np.isin(employment, (0, 2)), years_worked * 12 * rng.uniform(0.4, 1.0, n), 0).astype(
        np.int64
    )
    salary = (
        np.clip(_lognormal(rng, 38_000, 0.35, n), 28_590, 45_800).round().astype(np.int64)
    )  # LI grades 2025
    months_job = np.where(np.isin(employment, (0, 1)), np.minimum(rng.exponential(80, n), (age - 16) * 12), 0)
    return working, li_days, ei_months, salary, months_job


def _partners(
    rng: np.random.Generator,
    n: int,
    couple: dict[str, np.ndarray],
    count: np.ndarray,
    birth_event: np.ndarray,
    today: int,
    residence_idx: np.ndarray,
) -> dict[str, pl.Series]:
    """The ``partner.*`` columns: a spouse for every married adult, the other parent for
    some unmarried parents, ``partner.listed`` false for the other single parents."""
    age, female, marital = couple["age"], couple["female"], couple["marital"]
    adult = age >= 18
    married = adult & (marital == 1)
    parent = adult & ~married & (count > 0)
    cohabiting = parent & (rng.random(n) < COHABITING_PARENT_SHARE)
    has = married | cohabiting
    # A couple with a birth event is a woman and a man (the generator's births are theirs).
    same_sex = (rng.random(n) < SAME_SEX_SHARE) & ~birth_event
    p_female = np.where(same_sex, female, ~female)
    gap = rng.normal(SPOUSE_AGE_GAP, SPOUSE_AGE_SD, n)
    p_age = np.where(same_sex, age + rng.normal(0.0, 4.0, n), np.where(p_female, age - gap, age + gap))
    p_age = np.clip(np.round(p_age), 18, 100).astype(np.int64)
    p_age = np.where(birth_event & p_female, np.clip(p_age, 18, 49), p_age)  # the mother of the birth
    p_birth = today - np.floor((p_age + rng.random(n)) * 365.2425).astype(np.int64)
    foreign = rng.random(n) < FOREIGN_SPOUSE_SHARE
    indigenous = np.where(
        couple["indigenous"],
        rng.random(n) < 0.6,
        rng.random(n) < 0.5 * np.array([INDIGENOUS_SHARE[r] for r in RESIDENCES])[residence_idx],
    )
    disabled = rng.random(n) < _by_band(p_age, DISABILITY_BY_AGE)
    disability = np.where(disabled, _pick(rng, n, [w for _, w in DISABILITY_LEVELS]) + 1, 0)
    employment = _employment(rng, p_age)
    working, li_days, ei_months, salary, months_job = _work(rng, n, p_age, employment)
    education = _education(rng, p_age)
    # The same household: registered at the same address since the couple's date, or the
    # partner's birth if later.
    since = np.maximum(couple["since"], p_birth)

    absent = ~has
    cols: dict[str, pl.Series] = {}
    cols["partner.listed"] = _null_where(pl.Series(has), ~has & ~parent)  # false: a single parent
    cols["partner.birth_date"] = _dates(p_birth)
    cols["partner.sex"] = _strings(("male", "female"), p_female.astype(np.int64))
    cols["partner.nationality"] = _strings(("roc", "foreign"), foreign.astype(np.int64))
    cols["partner.household_registered"] = pl.Series(~foreign & (rng.random(n) < 0.998))
    cols["partner.days_in_taiwan_last_year"] = pl.Series(
        np.where(rng.random(n) < 0.97, 365, 300).astype(np.int64)
    )
    cols["partner.residence_registered_since"] = _dates(since)
    cols["partner.indigenous"] = pl.Series(indigenous)
    cols["partner.disability_level"] = _strings(
        ("none", "mild", "moderate", "severe", "profound"), disability
    )
    cols["partner.employment"] = _strings(EMPLOYMENT, employment)
    cols["partner.months_in_current_job"] = pl.Series(np.maximum(months_job, 0).astype(np.int64))
    cols["partner.labor_insurance_days"] = pl.Series(np.minimum(li_days, 100_000))
    cols["partner.employment_insurance_months"] = pl.Series(ei_months)
    cols["partner.insured_salary"] = _null_where(pl.Series(salary), ~working)
    cols["partner.marital_status"] = _strings(MARITAL, np.where(married, 1, 0))
    cols["partner.education"] = _strings(EDUCATION, education)
    cols["partner.special_circumstances"] = pl.repeat(pl.lit([], dtype=pl.List(pl.String)), n, eager=True)
    cols["partner.in_residential_care"] = pl.Series(np.zeros(n, dtype=bool))
    return {
        name: series if name == "partner.listed" else _null_where(series, absent)
        for name, series in cols.items()
    }


def _column_order(cols: dict[str, pl.Series]) -> list[str]:
    ordered: list[str] = [c for c in ("as_of", "residence") if c in cols]
    ordered += [c for c in (*PROFILE_SPECS, PARTNER_LISTED, *PARTNER_SPECS) if c in cols and c not in ordered]
    ordered += [c for c in cols if c not in ordered]
    return ordered


EMPLOYMENT = ("employed", "self_employed", "unemployed", "student", "not_working", "retired")
MARITAL = ("single", "married", "divorced", "widowed")
EDUCATION = ("none", "junior_high", "senior_high", "college", "university", "graduate")


def _rows_by_band(
    rng: np.random.Generator, age: np.ndarray, table: tuple[tuple[int, int, tuple[float, ...]], ...]
) -> np.ndarray:
    """One categorical draw per row from the weights of the row's age band."""
    out = np.zeros(age.shape, dtype=np.int64)
    for lo, hi, weights in table:
        mask = (age >= lo) & (age <= hi)
        if mask.any():
            out[mask] = _pick(rng, int(mask.sum()), weights)
    return out


def _marital(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    # MOI marital status by age (15+: single ≈ 35%, married ≈ 48%, divorced ≈ 10%,
    # widowed ≈ 7%), approximate: single, married, divorced, widowed.
    return _rows_by_band(
        rng,
        age,
        (
            (0, 19, (1, 0, 0, 0)),
            (20, 29, (85, 14, 1, 0)),
            (30, 39, (45, 48, 6.5, 0.5)),
            (40, 49, (25, 62, 12, 1)),
            (50, 64, (12, 68, 15, 5)),
            (65, 79, (4, 66, 10, 20)),
            (80, 120, (2, 45, 5, 48)),
        ),
    )


def _employment(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    # DGBAS manpower survey (labour-force participation ≈ 59%, unemployment ≈ 3.4%),
    # approximate by age: employed, self_employed, unemployed, student, not_working, retired.
    return _rows_by_band(
        rng,
        age,
        (
            (0, 5, (0, 0, 0, 0, 1, 0)),
            (6, 17, (0, 0, 0, 1, 0, 0)),
            (18, 22, (20, 0.5, 3, 74, 2.5, 0)),
            (23, 54, (72, 10, 3.5, 1.5, 13, 0)),
            (55, 64, (45, 10, 2, 0, 13, 30)),
            (65, 120, (6, 4, 0, 0, 20, 70)),
        ),
    )


def _education(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    # MOI education statistics (15+), approximate by age: none, junior_high, senior_high,
    # college, university, graduate (the highest level completed).
    return _rows_by_band(
        rng,
        age,
        (
            (0, 14, (1, 0, 0, 0, 0, 0)),
            (15, 17, (0, 1, 0, 0, 0, 0)),
            (18, 21, (0, 5, 95, 0, 0, 0)),
            (22, 44, (0, 2, 23, 8, 55, 12)),
            (45, 64, (4, 10, 35, 15, 30, 6)),
            (65, 120, (32, 20, 25, 8, 12, 3)),
        ),
    )


def _special(rng: np.random.Generator, n: int, age: np.ndarray) -> pl.Series:
    """≈ 1% of adults 18–64 report one special circumstance (assumption); others none."""
    has = (age >= 18) & (age <= 64) & (rng.random(n) < 0.01)
    which = _pick(rng, n, (1, 1, 3, 0.5, 3, 0.5, 2))
    names = _strings(SPECIAL_CIRCUMSTANCES, which)
    frame = pl.DataFrame({"name": names, "has": has})
    one = pl.concat_list(pl.col("name"))
    none = pl.lit([], dtype=pl.List(pl.String))
    return frame.select(
        pl.when(pl.col("has")).then(one).otherwise(none).alias("person.special_circumstances")
    ).to_series()


def _household(
    rng: np.random.Generator, n: int, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    weights = np.arange(1, 7) * np.array(HOUSEHOLD_SIZE_SHARES)  # person-weighted
    size = _pick(rng, n, weights) + 1
    old = age >= 65
    size[old] = _pick(rng, int(old.sum()), ELDERLY_SIZE_SHARES) + 1
    size = np.where((age < 18) & (size == 1), 2, size)  # no child lives alone
    size = np.where(size == 6, 6 + rng.integers(0, 3, n), size)  # 6 stands for 6–8
    # Pensions: an older person living alone or as a couple has 60% of the median; in a
    # larger household the earners' income counts (three generations).
    median = INCOME_MEDIAN_ONE * size**0.75 * np.where(old & (size <= 2), 0.6, 1.0)
    income = np.round(_lognormal(rng, median, INCOME_SIGMA, n), -2).astype(np.int64)
    movable = np.round(_lognormal(rng, 400_000 * np.sqrt(size) * np.where(old, 1.5, 1.0), 1.3, n), -3)
    # Assessed (not market) value of real estate; ≈ 84% of households own their home (DGBAS).
    estate = np.where(rng.random(n) < 0.84, np.round(_lognormal(rng, 3_000_000, 0.8, n), -3), 0)
    ipp = income / size
    score = np.log(ipp + 1.0) + rng.normal(0.0, 0.3, n)
    rank = np.argsort(np.argsort(score)) / max(n, 1)
    welfare = np.where(rank < LOW_INCOME_SHARE, 2, np.where(rank < LOW_INCOME_SHARE + MIDDLE_LOW_SHARE, 1, 0))
    # Marginal income-tax rate from a rough taxable income (gross less ≈ 250,000 a member
    # of exemptions and deductions) and the 2025 brackets (Ministry of Finance).
    taxable = income * 12 - 250_000 * size
    tax = np.select(
        [taxable <= 590_000, taxable <= 1_330_000, taxable <= 2_660_000, taxable <= 4_980_000],
        [0.05, 0.12, 0.2, 0.3],
        default=0.4,
    )
    return (
        size.astype(np.int64),
        income,
        movable.astype(np.int64),
        estate.astype(np.int64),
        welfare.astype(np.int64),
        tax.astype(np.float64),
    )


def _events(
    rng: np.random.Generator,
    n: int,
    age: np.ndarray,
    female: np.ndarray,
    marital: np.ndarray,
    employment: np.ndarray,
    residence_idx: np.ndarray,
    today: int,
) -> dict:
    """The events of the last year (and births expected within nine months)."""
    cols: dict[str, pl.Series] = {}
    married = marital == 1
    rate = np.where(
        married, _by_band(age, BIRTH_RATE_MARRIED), BIRTH_RATE_UNMARRIED * ((age >= 18) & (age <= 44))
    )
    rate = np.where(female, rate, np.where(married, _by_band(age - 5, BIRTH_RATE_MARRIED), 0.0))
    birth = rng.random(n) < rate * 1.75  # a year's births, and pregnancies under way (0.75)
    planned = rng.random(n) < 0.75 / 1.75
    birth_date = np.where(planned, today + rng.integers(1, 270, n), today - rng.integers(0, 365, n))
    kind = _pick(rng, n, [w for _, w in BIRTH_KINDS])
    cols["events.birth.listed"] = pl.Series(birth)
    cols["events.birth.date"] = _null_where(_dates(birth_date), ~birth)
    # The kind of a birth still to come is not known yet.
    cols["events.birth.kind"] = _null_where(_strings([k for k, _ in BIRTH_KINDS], kind), ~birth | planned)

    moved = rng.random(n) < MOVE_RATE
    move_date = today - rng.integers(0, 365, n)
    cols["events.move.listed"] = pl.Series(moved)
    cols["events.move.date"] = _null_where(_dates(move_date), ~moved)
    cols["events.move.new_residence"] = _null_where(_strings(RESIDENCES, residence_idx), ~moved)
    cols["events.move.within_same_district"] = _null_where(pl.Series(rng.random(n) < 0.35), ~moved)

    in_work = np.isin(employment, (0, 1, 2)) & (age >= 18) & (age <= 64)
    lost = in_work & (rng.random(n) < JOB_LOSS_RATE)
    loss_age = rng.integers(0, 365, n)
    cols["events.job_loss.listed"] = pl.Series(lost)
    cols["events.job_loss.date"] = _null_where(_dates(today - loss_age), ~lost)
    cols["events.job_loss.involuntary"] = _null_where(pl.Series(rng.random(n) < 0.65), ~lost)
    cols["events.job_loss.registered_job_seeker"] = _null_where(pl.Series(rng.random(n) < 0.45), ~lost)

    bought = (age >= 25) & (age <= 74) & (rng.random(n) < HOME_PURCHASE_RATE)
    urban = rng.random(n) < 0.8
    land = np.round(np.where(urban, _lognormal(rng, 60, 0.8, n), _lognormal(rng, 400, 0.7, n)), 2)
    cols["events.home_purchase.listed"] = pl.Series(bought)
    cols["events.home_purchase.date"] = _null_where(_dates(today - rng.integers(0, 365, n)), ~bought)
    cols["events.home_purchase.urban_land"] = _null_where(pl.Series(urban), ~bought)
    cols["events.home_purchase.land_area_m2"] = _null_where(pl.Series(np.minimum(land, 1e6)), ~bought)
    cols["events.home_purchase.registered_at_property"] = _null_where(
        pl.Series(rng.random(n) < 0.75), ~bought
    )
    cols["events.home_purchase.rented_or_business_use"] = _null_where(
        pl.Series(rng.random(n) < 0.12), ~bought
    )

    started = (age >= 20) & (age <= 64) & (rng.random(n) < BUSINESS_START_RATE)
    bkind = _pick(rng, n, (38, 55, 2, 5))  # company, sole proprietorship, partnership, factory
    factory = bkind == 3
    sole = bkind == 1
    cols["events.business_start.listed"] = pl.Series(started)
    columns = {
        "date": _dates(today - rng.integers(0, 365, n)),
        "kind": _strings(("company", "sole_proprietorship", "partnership", "factory"), bkind),
        "foreign_investor": pl.Series(rng.random(n) < 0.03),
        "capital": pl.Series(np.round(_lognormal(rng, 500_000, 1.0, n), -3).astype(np.int64)),
        "employees": pl.Series(np.minimum(rng.geometric(0.3, n) - 1, 1000).astype(np.int64)),
        "monthly_sales": pl.Series(np.round(_lognormal(rng, 150_000, 1.0, n), -2).astype(np.int64)),
        "floor_area_m2": pl.Series(np.round(_lognormal(rng, np.where(factory, 300, 60), 0.7, n), 2)),
        "power_kw": pl.Series(np.round(_lognormal(rng, np.where(factory, 60, 5), 0.8, n), 2)),
        "years_registered": pl.Series(np.round(rng.uniform(0, 3, n), 2)),
        "owner_share": pl.Series(np.where(sole, 1.0, np.round(rng.uniform(0.2, 1.0, n), 2))),
        "entrepreneurship_course_hours": pl.Series(
            np.where(rng.random(n) < 0.7, 0.0, np.round(rng.uniform(20, 60, n), 0))
        ),
        "visa_route_other": pl.Series(rng.random(n) < 0.02),
    }
    for name, series in columns.items():
        cols[f"events.business_start.{name}"] = _null_where(series, ~started)
    return {
        "columns": cols,
        "birth": birth,
        "birth_date": birth_date,
        "moved": moved,
        "move_date": move_date,
        "job_loss_recent": lost & (loss_age < 183),
    }


def _children(
    rng: np.random.Generator,
    n: int,
    age: np.ndarray,
    birth: np.ndarray,
    marital: np.ndarray,
    events: dict,
    today: int,
    cols: dict[str, pl.Series],
) -> np.ndarray:
    """Children by the parent's age (MOI fertility; approximate), the newborn of a birth
    event listed last; returns the count and fills the ``children.N.*`` columns."""
    k = _rows_by_band(
        rng,
        age,
        (
            (0, 19, (1, 0, 0, 0, 0)),
            (20, 24, (93, 6, 1, 0, 0)),
            (25, 29, (80, 15, 5, 0, 0)),
            (30, 34, (55, 25, 17, 3, 0)),
            (35, 44, (30, 30, 33, 6, 1)),
            (45, 120, (20, 25, 42, 10, 3)),
        ),
    )
    k = np.where((marital == 0) & (rng.random(n) < 0.95), 0, k)
    first_at = rng.uniform(25, 36, n)
    slots = MAX_GENERATED_CHILDREN
    births = np.empty((n, slots), dtype=np.int64)
    offset = first_at.copy()
    for j in range(slots):
        births[:, j] = birth + np.floor(offset * 365.2425).astype(np.int64)
        offset += rng.uniform(1.5, 4.0, n)
    exists = (np.arange(slots)[None, :] < k[:, None]) & (births <= today)
    count = exists.sum(axis=1)
    # A birth event's newborn (or expected baby) is listed in children too (rules.md).
    newborn = events["birth"] & (events["birth_date"] >= today - 365) & (count < slots)
    rows = np.flatnonzero(newborn)
    births[rows, count[rows]] = events["birth_date"][rows]
    exists[rows, count[rows]] = True
    count = count + newborn
    child_age = (today - births) / 365.2425
    care = _pick(rng, n * slots, (55, 12, 33)).reshape(n, slots)
    gifted = rng.random((n, slots)) < 0.03
    disabled = rng.random((n, slots)) < 0.015
    for j in range(slots):
        absent = ~exists[:, j]
        under3 = (child_age[:, j] < 3) & (child_age[:, j] >= 0)
        cols[child_column(j, "birth_date")] = _null_where(_dates(births[:, j]), absent)
        cols[child_column(j, "order")] = _null_where(pl.Series(np.full(n, j + 1, dtype=np.int64)), absent)
        cols[child_column(j, "childcare")] = _null_where(
            _strings(("home", "public", "quasi_public"), care[:, j]), absent | ~under3
        )
        cols[child_column(j, "disability_level")] = _null_where(
            _strings(("none", "mild"), disabled[:, j].astype(np.int64)), absent
        )
        cols[child_column(j, "gifted_assessed")] = _null_where(
            pl.Series(gifted[:, j] & (child_age[:, j] >= 4) & (child_age[:, j] < 7)), absent
        )
        # Unknown, so that the child's nationality is the applicant's (facts.py).
        cols[child_column(j, "nationality")] = pl.repeat(None, n, dtype=pl.String, eager=True)
    return count.astype(np.int64)


def csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV holds no lists: a list column becomes ``a;b``, and ``[]`` for an empty list."""
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    return frame.with_columns(
        pl.when(pl.col(c).list.len() == 0).then(pl.lit("[]")).otherwise(pl.col(c).list.join(";")).alias(c)
        for c in lists
    )
