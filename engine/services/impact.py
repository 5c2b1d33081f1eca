"""Impact preview: the same synthetic population under the current and the edited rules.

For every service an edit can touch (``engine.services.versions.affected_services``), count who
gains and who loses eligibility, by residence and by age band, and how the total amount
paid changes. The population (``engine.services.population``, a polars DataFrame) is screened
column-wise by ``engine.services.batch.BatchEvaluator``, compiled for the affected services only.
Amounts are not column-wise there, so the cost is computed with the per-profile engine on
the rows whose eligibility changed, plus — when the amount itself depends on what
changed — on a sample of the rows eligible under both (scaled up, and the report says so).

Several edits (scenarios) are weighed against the same current rules in one pass
(:func:`impact_scenarios`): the population is screened once under the current rules and
once under each scenario, by one machine or by Spark (``engine.interfaces.spark.scenario_verdicts``).

"Unknown" is not eligible: a person counts as gaining when the old rules did not find
them eligible (ineligible or unknown) and the new ones do, and as losing the other way.
"""

from __future__ import annotations

import difflib
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from engine.language.catalog import Catalogue
from engine.language.facts import Unknown

AGE_BANDS = ((0, 17, "0-17"), (18, 29, "18-29"), (30, 44, "30-44"), (45, 64, "45-64"), (65, 200, "65+"))
UNKNOWN = "unknown"
AS_OF = date(2026, 3, 1)


@dataclass
class ServiceImpact:
    service: str
    name: str
    before: int  # eligible under the current rules
    after: int  # eligible under the edited rules
    gained: int
    lost: int
    unit: str | None = None  # of the amount; None when the service pays nothing
    cost_change: int | None = None  # new total minus old total over the population
    cost_estimated: bool = False  # part of the change was sampled and scaled

    @property
    def monthly(self) -> bool:
        return bool(self.unit and self.unit.endswith("/month"))


@dataclass
class ImpactReport:
    people: int
    method: str  # "batch" or "engine"
    affected: list[str]
    services: list[ServiceImpact]
    by_residence: list[dict[str, Any]] = field(default_factory=list)  # service, residence, gained, lost
    by_age: list[dict[str, Any]] = field(default_factory=list)  # service, age_band, gained, lost
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    as_of: date | None = None  # the day every person was evaluated at

    def table(self) -> list[dict[str, Any]]:
        return [
            {
                "service": s.service,
                "name": s.name,
                "eligible_before": s.before,
                "eligible_after": s.after,
                "gained": s.gained,
                "lost": s.lost,
                "amount_change": s.cost_change,
                "unit": s.unit or "",
            }
            for s in self.services
        ]


def age_band(age: int | None) -> str:
    if age is None:
        return UNKNOWN
    for lo, hi, name in AGE_BANDS:
        if lo <= age <= hi:
            return name
    return UNKNOWN


def _age(birth: date | None, day: date) -> int | None:
    if birth is None:
        return None
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def effective_date(old: Catalogue, new: Catalogue, default: date) -> date:
    """The day an edit starts to matter: the earliest dated parameter value it adds,
    removes or changes, but not before ``default`` (a correction of a value in force
    since 1900 is seen today). An edit with no dated change (a rule, the catalogue)
    is seen at ``default``."""
    days: list[date] = []
    for name in set(old.parameters) | set(new.parameters):
        a, b = old.parameters.get(name), new.parameters.get(name)
        if a == b:
            continue
        before = {v.effective_from: v.value for v in a.values} if a else {}
        after = {v.effective_from: v.value for v in b.values} if b else {}
        days += [day for day in set(before) | set(after) if before.get(day) != after.get(day)]
    return max(default, min(days)) if days else default


def population(n: int, seed: int = 0, as_of: date = AS_OF) -> Any:
    """The synthetic population the preview runs on, as columns."""
    from engine.services.population import generate_population

    return generate_population(n, seed=seed, as_of=as_of)


def impact(
    old: Catalogue,
    new: Catalogue,
    people: Any,
    *,
    services: list[str] | None = None,
    cost_sample: int = 2000,
    seed: int = 0,
) -> ImpactReport:
    """Who gains and loses each affected service when ``old`` becomes ``new``."""
    return impact_scenarios(old, {"new": new}, people, services=services, cost_sample=cost_sample, seed=seed)[
        "new"
    ]


# The verdicts of a population under several catalogues, each for some services: one
# Boolean column per service (null unknown), row for row. Local by default; Spark's
# is engine.interfaces.spark.scenario_verdicts.
VerdictRunner = Callable[[Any, Mapping[str, tuple[Catalogue, list[str]]]], dict[str, Any]]
BASELINE = "\x00current"  # the current rules' key among the scenarios' names


def local_verdicts(frame: Any, catalogues: Mapping[str, tuple[Catalogue, list[str]]]) -> dict[str, Any]:
    """Every catalogue's verdicts on ``frame`` (the typed population), on this machine."""
    import polars as pl

    from engine.services.batch import BatchEvaluator
    from engine.services.columns import child_width

    width = child_width(frame.columns)
    out = {}
    for name, (catalogue, services) in catalogues.items():
        evaluator = BatchEvaluator(catalogue)
        evaluator.services = [s for s in services if s in catalogue.services]  # compile only these
        out[name] = evaluator.verdicts(frame, width) if evaluator.services else pl.DataFrame()
    return out


def impact_scenarios(
    old: Catalogue,
    scenarios: Mapping[str, Catalogue],
    people: Any,
    *,
    services: list[str] | None = None,
    cost_sample: int = 2000,
    seed: int = 0,
    verdicts: VerdictRunner | None = None,
) -> dict[str, ImpactReport]:
    """Who gains and loses each affected service under each scenario, against ``old``.

    The population is screened in one pass: under ``old`` once, for every service some
    scenario affects, and under each scenario for the services it affects (``services``
    overrides the list for all). ``verdicts`` runs the screening (default: this
    machine; ``engine.interfaces.spark.scenario_verdicts(session)`` for Spark). Each report's
    ``seconds`` is the whole pass's."""
    from engine.services.versions import affected_services

    started = time.perf_counter()
    wanted: dict[str, list[str]] = {}
    for name, new in scenarios.items():
        chosen = services if services is not None else affected_services(old, new)
        wanted[name] = [s for s in chosen if s in new.services or s in old.services]
    union = sorted({s for chosen in wanted.values() for s in chosen})
    jobs = {BASELINE: (old, union), **{name: (scenarios[name], wanted[name]) for name in scenarios}}
    found = (verdicts or local_verdicts)(people, jobs)
    reports = {
        name: _impact_batch(old, new, people, wanted[name], cost_sample, seed, (found[BASELINE], found[name]))
        for name, new in scenarios.items()
    }
    seconds = time.perf_counter() - started
    for report in reports.values():
        if "as_of" in people.columns and people.height:
            report.as_of = people["as_of"][0]
        report.seconds = seconds
    return reports


# -- shared bookkeeping -----------------------------------------------------------------


class _Tally:
    def __init__(self, old: Catalogue, new: Catalogue, services: list[str]):
        self.old, self.new, self.services = old, new, services
        self.before: Counter[str] = Counter()
        self.after: Counter[str] = Counter()
        self.gained: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.by_res: Counter[tuple[str, str, str]] = Counter()
        self.by_age: Counter[tuple[str, str, str]] = Counter()
        self.cost: dict[str, float] = {}
        self.estimated: set[str] = set()

    def report(self, people: int, method: str, notes: list[str]) -> ImpactReport:
        out = []
        for sid in self.services:
            service = self.new.services.get(sid) or self.old.services[sid]
            unit = _unit(self.new, sid) or _unit(self.old, sid)
            out.append(
                ServiceImpact(
                    sid,
                    service.name.get("zh-TW") + " / " + service.name.en,
                    self.before[sid],
                    self.after[sid],
                    self.gained[sid],
                    self.lost[sid],
                    unit,
                    round(self.cost[sid]) if unit and sid in self.cost else None,
                    sid in self.estimated,
                )
            )

        def rows(counter: Counter, key: str) -> list[dict[str, Any]]:
            grouped: dict[tuple[str, str], dict[str, Any]] = {}
            for (sid, group, kind), count in counter.items():
                row = grouped.setdefault((sid, group), {"service": sid, key: group, "gained": 0, "lost": 0})
                row[kind] += count
            return sorted(grouped.values(), key=lambda r: (r["service"], r[key]))

        return ImpactReport(
            people,
            method,
            self.services,
            out,
            rows(self.by_res, "residence"),
            rows(self.by_age, "age_band"),
            notes=notes,
        )


def _unit(catalogue: Catalogue, sid: str) -> str | None:
    for rule in catalogue.rules.get(sid, {}).values():
        if rule.amount is not None:
            return rule.amount.unit
    return None


def _amount(catalogue: Catalogue, engine: Any, sid: str, env: Any, residence: str | None) -> float:
    from engine.services.recommend import money_value

    rule = catalogue.rule_for(sid, residence)
    if rule is None or rule.amount is None:
        return 0.0
    value = money_value(rule.amount, env)
    return 0.0 if isinstance(value, Unknown) else float(value)


def _amount_may_change(old: Catalogue, new: Catalogue, sid: str) -> bool:
    """Does the amount rule, or a parameter it reads, differ between the catalogues?"""
    from engine.language.rules import ParamRef, expr_parts

    o, n = old.rules.get(sid, {}), new.rules.get(sid, {})
    if {j: r.amount for j, r in o.items()} != {j: r.amount for j, r in n.items()}:
        return True
    names: set[str] = set()
    for rule in n.values():
        if rule.amount is not None:
            names |= {p.name for p in expr_parts(rule.amount.value) if isinstance(p, ParamRef)}
    names |= {p.name for p in new.parameters.values() if p.overrides in names}
    return any(old.parameters.get(x) != new.parameters.get(x) for x in names)


def _count(tally: _Tally, sid: str, was: bool, now: bool, residence: str, band: str) -> None:
    tally.before[sid] += was
    tally.after[sid] += now
    if was != now:
        kind = "gained" if now else "lost"
        (tally.gained if now else tally.lost)[sid] += 1
        tally.by_res[(sid, residence, kind)] += 1
        tally.by_age[(sid, band, kind)] += 1


# -- column-wise --------------------------------------------------------------------------


def _impact_batch(
    old: Catalogue,
    new: Catalogue,
    frame: Any,
    services: list[str],
    cost_sample: int,
    seed: int,
    verdicts: tuple[Any, Any],
) -> ImpactReport:
    import polars as pl

    n = frame.height
    as_of = frame["as_of"]
    birth = frame["person.birth_date"] if "person.birth_date" in frame.columns else pl.Series([None] * n)
    age = pl.DataFrame({"b": birth, "d": as_of}).select(
        (
            pl.col("d").dt.year()
            - pl.col("b").dt.year()
            - (
                (pl.col("d").dt.month() * 100 + pl.col("d").dt.day())
                < (pl.col("b").dt.month() * 100 + pl.col("b").dt.day())
            ).cast(pl.Int32)
        ).alias("age")
    )["age"]
    bands = pl.Series("band", [UNKNOWN] * n, dtype=pl.String)
    for lo, hi, name in AGE_BANDS:
        bands = pl.select(pl.when(age.is_between(lo, hi)).then(pl.lit(name)).otherwise(bands)).to_series()
    residence = (
        frame["residence"].fill_null(UNKNOWN) if "residence" in frame.columns else pl.Series([UNKNOWN] * n)
    )
    tally = _Tally(old, new, services)
    engines: tuple[Any, Any] | None = None
    notes = ["screened column-wise with engine.services.batch (the affected services only)"]
    for sid in services:
        was = verdicts[0][sid].fill_null(False) if sid in verdicts[0].columns else pl.Series([False] * n)
        now = verdicts[1][sid].fill_null(False) if sid in verdicts[1].columns else pl.Series([False] * n)
        tally.before[sid] = int(was.sum())
        tally.after[sid] = int(now.sum())
        gained, lost = now & ~was, was & ~now
        tally.gained[sid], tally.lost[sid] = int(gained.sum()), int(lost.sum())
        for kind, mask in (("gained", gained), ("lost", lost)):
            if not mask.any():
                continue
            flipped = pl.DataFrame({"r": residence.filter(mask), "a": bands.filter(mask)})
            for r, c in flipped.group_by("r").len().iter_rows():
                tally.by_res[(sid, r, kind)] += c
            for a, c in flipped.group_by("a").len().iter_rows():
                tally.by_age[(sid, a, kind)] += c
        if not (_unit(old, sid) or _unit(new, sid)):
            continue
        if engines is None:
            from engine.services.recommend import Engine

            engines = (Engine(old), Engine(new))
        groups: list[list[int]] = [(gained | lost).arg_true().to_list()]
        if _amount_may_change(old, new, sid):
            groups.append((was & now).arg_true().to_list())
        rng = random.Random(seed)
        for group in groups:
            scale = 1.0
            if len(group) > cost_sample:
                scale = len(group) / cost_sample
                group = rng.sample(group, cost_sample)
                tally.estimated.add(sid)
            total = _price_rows(frame, group, sid, engines, old, new, was, now)
            tally.cost[sid] = tally.cost.get(sid, 0.0) + total * scale
    notes.append(
        "amounts are not column-wise: the cost change is computed with the per-profile engine on "
        "the rows whose eligibility changed and, where the amount itself changed, on the rows eligible "
        f"under both; each group sampled to at most {cost_sample} rows and scaled up (marked ~)"
    )
    return tally.report(n, "batch", notes)


def _price_rows(
    frame: Any, rows: list[int], sid: str, engines: Any, old: Catalogue, new: Catalogue, was: Any, now: Any
) -> float:
    from engine.language.profile import validate_profile
    from engine.services.columns import unflatten_row

    total = 0.0
    for i in rows:
        cells = {k: v for k, v in frame.row(i, named=True).items() if v is not None}
        try:
            profile = validate_profile(unflatten_row(cells))
        except Exception:  # a row the profile model refuses: it cannot be priced
            continue
        day = profile.as_of or AS_OF
        if now[i]:
            total += _amount(new, engines[1], sid, engines[1].env(profile, day), profile.residence)
        if was[i]:
            total -= _amount(old, engines[0], sid, engines[0].env(profile, day), profile.residence)
    return total


# -- text ---------------------------------------------------------------------------------


def tree_files(root: Path) -> dict[str, str]:
    root = Path(root)
    files = {"catalog.yaml": (root / "catalog.yaml").read_text(encoding="utf-8")}
    for path in sorted((root / "rules").rglob("*.yaml")):
        files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return files


def tree_diff(old_root: Path, new_root: Path) -> list[tuple[str, int, int]]:
    """(file, lines added, lines removed) for every file that differs."""
    left, right = tree_files(old_root), tree_files(new_root)
    out = []
    for rel in sorted(set(left) | set(right)):
        a, b = left.get(rel, ""), right.get(rel, "")
        if a == b:
            continue
        added = removed = 0
        for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
        out.append((rel, added, removed))
    return out


def render_impact(report: ImpactReport) -> str:
    day = f" as of {report.as_of.isoformat()}" if report.as_of else ""
    lines = [f"impact on {report.people:,} synthetic people{day} ({report.method}, {report.seconds:.2f} s)"]
    if not report.services:
        lines.append("no service is affected")
        return "\n".join(lines)
    header = f"{'service':<40} {'before':>8} {'after':>8} {'gained':>8} {'lost':>8} {'amount change':>16}"
    lines += [header, "-" * len(header)]
    for s in report.services:
        cost = (
            ""
            if s.cost_change is None
            else f"{s.cost_change:+,} {s.unit}" + (" ~" if s.cost_estimated else "")
        )
        lines.append(f"{s.service:<40} {s.before:>8,} {s.after:>8,} {s.gained:>8,} {s.lost:>8,} {cost:>16}")
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def scenario_totals(report: ImpactReport) -> dict[str, Any]:
    """One scenario in a line: gains and losses over its services (a person counted once
    per service), and the amount change summed per unit (a one-off grant and a monthly
    allowance are not added together)."""
    cost: dict[str, int] = {}
    estimated = False
    for s in report.services:
        if s.cost_change is not None and s.unit:
            cost[s.unit] = cost.get(s.unit, 0) + s.cost_change
            estimated = estimated or s.cost_estimated
    return {
        "services": len(report.services),
        "gained": sum(s.gained for s in report.services),
        "lost": sum(s.lost for s in report.services),
        "amount_change": cost,
        "estimated": estimated,
    }


def render_scenarios(reports: Mapping[str, ImpactReport]) -> str:
    """The scenarios side by side: gained, lost and the amount change of each."""
    first = next(iter(reports.values()), None)
    if first is None:
        return "no scenario"
    day = f" as of {first.as_of.isoformat()}" if first.as_of else ""
    lines = [
        f"{len(reports)} scenarios on the same {first.people:,} synthetic people{day} "
        f"({first.method}, one pass, {first.seconds:.2f} s)"
    ]
    width = max(12, *(len(name) for name in reports))
    header = f"{'scenario':<{width}} {'services':>8} {'gained':>9} {'lost':>9}  amount change"
    lines += [header, "-" * (len(header) + 12)]
    for name, report in reports.items():
        totals = scenario_totals(report)
        money = "; ".join(f"{v:+,} {unit}" for unit, v in sorted(totals["amount_change"].items()))
        mark = " ~" if totals["estimated"] else ""
        lines.append(
            f"{name:<{width}} {totals['services']:>8} {totals['gained']:>9,} {totals['lost']:>9,}  {money}{mark}"
        )
    return "\n".join(lines)
