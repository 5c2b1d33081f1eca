"""The one-stop plan: what to do, in what order, by when, and what to bring.

Built from a :class:`Recommendation`: the services the citizen is likely eligible for (and,
marked as such, those that still need information), ordered so that prerequisites come
first (birth registration before health insurance; the name pre-check before company
registration), then by deadline. Documents are listed once; a document the agency checks
itself (the 免附戶籍謄本 policy) is shown as "no need to bring".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from html import escape

from engine.catalog import Catalogue
from engine.logic import Describer
from engine.report import totals_text
from engine.results import ChannelOut, EligibilityResult, Recommendation


@dataclass(frozen=True)
class PlanStep:
    service: str
    name: str
    status: str
    agency: str
    office: str
    deadline: date | None
    amount: str | None
    channels: list[ChannelOut]
    after: list[str]  # the prerequisites in this plan that come first
    confidence: str
    same_visit_as: str | None = None  # done at the same counter visit as that step
    # Families: who does the step (person, partner or household), whether its deadline is
    # at most 14 days away, and the services it is a step of ("unlocks").
    who: str = "person"
    urgent: bool = False
    unlocks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanDocument:
    name: str
    verified_electronically: bool
    note: str | None
    for_services: list[str]


@dataclass(frozen=True)
class OneStopPlan:
    as_of: date
    rules_version: str
    lang: str
    steps: list[PlanStep]
    to_bring: list[PlanDocument]
    no_need_to_bring: list[PlanDocument]
    left_out: list[str] = field(default_factory=list)  # ineligible services, for the record
    totals: str = ""  # the family's total, in words (engine.report.totals_text)


def _key(r: EligibilityResult) -> tuple[str, str]:
    return (r.service, r.for_)


def order_steps(results: list[EligibilityResult]) -> list[EligibilityResult]:
    """Prerequisites first (a stable topological sort), then the earliest deadline; a
    service done at the same counter visit as another follows it directly. A step of
    applying that a result lists (rules.md, "Steps") counts as its prerequisite."""
    present = {r.service for r in results}
    index = {_key(r): i for i, r in enumerate(results)}
    # A step the citizen can still take comes first: it unlocks what follows, and the
    # latest day it still helps is the earliest deadline of what it unlocks.
    unlocks = _unlocked(results)
    first = {
        service: min((d for d in (u.deadline for u in opened) if d is not None), default=date.max)
        for service, opened in unlocks.items()
    }
    placed: list[EligibilityResult] = []
    done: set[str] = set()

    def before(r: EligibilityResult) -> list[str]:
        return [*r.prerequisites, *(s.service for s in r.steps)]

    def ready(r: EligibilityResult) -> bool:
        # The same service for the other adult does not wait for this one.
        return all(p in done or p not in present or p == r.service for p in before(r))

    def place(r: EligibilityResult) -> None:
        placed.append(r)
        pending.remove(r)
        if not any(q.service == r.service for q in pending):
            done.add(r.service)
        for companion in [p for p in pending if p.same_visit_as == r.service]:
            if companion in pending and ready(companion):
                place(companion)

    pending = list(results)
    while pending:
        candidates = [r for r in pending if ready(r)] or pending[:1]  # a cycle: keep going
        candidates.sort(
            key=lambda r: (
                r.service not in first,
                min(r.deadline or date.max, first.get(r.service, date.max)),
                index[_key(r)],
            )
        )
        place(candidates[0])
    return placed


def _money(r: EligibilityResult, words: Describer) -> str | None:
    return words.money(r.amount.value, r.amount.unit) if r.amount else None


def _unlocked(chosen: list[EligibilityResult]) -> dict[str, list[EligibilityResult]]:
    """step service -> the results it is a step of."""
    out: dict[str, list[EligibilityResult]] = {}
    for r in chosen:
        for step in r.steps:
            out.setdefault(step.service, []).append(r)
    return out


def _step_results(chosen: list[EligibilityResult], rec: Recommendation) -> list[EligibilityResult]:
    """A step whose service is not in the plan yet (the moving registration of a bought
    home when no move was reported) enters it, for whoever has to take it."""
    present = {r.service for r in chosen}
    by_id = {r.service: r for r in rec.results}
    added: list[EligibilityResult] = []
    for r in chosen:
        for step in r.steps:
            if step.service in present:
                continue
            present.add(step.service)
            base = by_id.get(step.service)
            if base is None:
                continue
            added.append(
                base.model_copy(
                    update={"status": "eligible", "deadline": step.deadline, "for_": r.for_, "reasons": []}
                )
            )
    return added


def build_plan(
    rec: Recommendation, catalogue: Catalogue, lang: str = "en", include_unknown: bool = True
) -> OneStopPlan:
    wanted = {"eligible", "unknown"} if include_unknown else {"eligible"}
    chosen = [r for r in (*rec.results, *rec.partner_results) if r.status in wanted]
    chosen += _step_results(chosen, rec)
    ordered = order_steps(chosen)
    in_plan = {r.service for r in ordered}
    unlocks = _unlocked(chosen)
    words = Describer(catalogue, lang)
    steps = []
    for r in ordered:
        opened = unlocks.get(r.service, [])
        # A step helps until the earliest deadline of what it unlocks.
        deadlines = [d for d in (r.deadline, *(u.deadline for u in opened)) if d is not None]
        deadline = min(deadlines) if deadlines else None
        steps.append(
            PlanStep(
                service=r.service,
                name=r.name,
                status=r.status,
                agency=r.agency,
                office=r.office,
                deadline=deadline,
                amount=_money(r, words),
                channels=r.channels,
                after=[p for p in (*r.prerequisites, *(s.service for s in r.steps)) if p in in_plan],
                confidence=r.confidence,
                same_visit_as=r.same_visit_as if r.same_visit_as in in_plan else None,
                who=r.for_,
                urgent=r.urgent or (deadline is not None and deadline != r.deadline and _urgent(opened)),
                unlocks=[f"{u.name} ({_money(u, words)})" if u.amount else u.name for u in opened],
            )
        )
    documents: dict[str, dict] = {}
    for r in ordered:
        for doc in r.documents:
            entry = documents.setdefault(doc.name, {"verified": True, "note": doc.note, "services": []})
            # One service that needs the paper is enough to have to bring it.
            entry["verified"] = entry["verified"] and doc.verified_electronically
            if r.name not in entry["services"]:
                entry["services"].append(r.name)
    docs = [PlanDocument(name, e["verified"], e["note"], e["services"]) for name, e in documents.items()]
    return OneStopPlan(
        as_of=rec.as_of,
        rules_version=rec.rules_version,
        lang=lang,
        steps=steps,
        to_bring=[d for d in docs if not d.verified_electronically],
        no_need_to_bring=[d for d in docs if d.verified_electronically],
        left_out=[r.service for r in rec.results if r.status == "ineligible"],
        totals=totals_text(rec.totals, words),
    )


def _urgent(opened: list[EligibilityResult]) -> bool:
    return any(u.urgent for u in opened)


def _phrase(catalogue: Catalogue, key: str, lang: str) -> str:
    text = catalogue.labels.get(f"phrase.{key}")
    return text.get(lang) if text else key


def render_plan_html(plan: OneStopPlan, catalogue: Catalogue) -> str:
    """A print-ready page: the ordered checklist and the document list."""
    lang = plan.lang
    p = lambda key: escape(_phrase(catalogue, key, lang))  # noqa: E731
    rows = []
    for n, step in enumerate(plan.steps, 1):
        how = "; ".join(
            escape(
                c.url
                if c.kind == "online" and c.url
                else (c.where or _phrase(catalogue, f"channel.{c.kind}", lang))
            )
            for c in step.channels
        )
        status = "" if step.status == "eligible" else f" <em>({p('status.unknown')})</em>"
        if step.same_visit_as:
            status += f" <small>↳ {p('same_visit')}</small>"
        if step.unlocks:
            status += f"<br><small>{p('step_unlocks')}: {escape('; '.join(step.unlocks))}</small>"
        who = f"<small>{p('for.' + step.who)}</small><br>"
        urgent = f" <strong>⚠ {p('urgent')}</strong>" if step.urgent else ""
        rows.append(
            f"<tr><td>☐ {n}</td><td>{who}<strong>{escape(step.name)}</strong>{status}<br>"
            f"<small>{escape(step.agency)} — {escape(step.office)}</small></td>"
            f"<td>{step.deadline.isoformat() if step.deadline else '—'}{urgent}</td>"
            f"<td>{escape(step.amount or '—')}</td><td><small>{how}</small></td></tr>"
        )
    bring = "".join(
        f"<li>☐ {escape(d.name)} <small>({escape(', '.join(d.for_services))})</small></li>"
        for d in plan.to_bring
    )
    skip = "".join(
        f"<li>{escape(d.name)} — {escape(d.note or p('verified_by_agency'))}</li>"
        for d in plan.no_need_to_bring
    )
    return f"""<!doctype html>
<html lang="{escape(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{p("plan_title")}</title>
<style>
body {{ font-family: system-ui, "Noto Sans TC", sans-serif; margin: 1.5rem; color: #111; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #999; padding: .4rem; vertical-align: top; }}
th {{ background: #eee; text-align: left; }} @media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>{p("plan_title")}</h1>
<p>{p("as_of")}: {plan.as_of.isoformat()} · {p("rules_version")}: {escape(plan.rules_version)}</p>
<p><strong>{escape(plan.totals)}</strong></p>
<h2>{p("steps")}</h2>
<table><thead><tr><th>#</th><th>{p("service")}</th><th>{p("deadline")}</th><th>{p("amount")}</th><th>{p("how_to_apply")}</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>{p("bring")}</h2><ul>{bring or "<li>—</li>"}</ul>
<h2>{p("no_need_to_bring")}</h2><ul>{skip or "<li>—</li>"}</ul>
<p><small>{p("plan_disclaimer")}</small></p>
</body></html>"""
