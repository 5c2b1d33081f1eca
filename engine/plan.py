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


def order_steps(results: list[EligibilityResult]) -> list[EligibilityResult]:
    """Prerequisites first (a stable topological sort), then the earliest deadline; a
    service done at the same counter visit as another follows it directly."""
    by_id = {r.service: r for r in results}
    index = {r.service: i for i, r in enumerate(results)}
    placed: list[EligibilityResult] = []
    done: set[str] = set()

    def ready(r: EligibilityResult) -> bool:
        return all(p in done or p not in by_id for p in r.prerequisites)

    def place(r: EligibilityResult) -> None:
        placed.append(r)
        done.add(r.service)
        pending.remove(r)
        for companion in [p for p in pending if p.same_visit_as == r.service]:
            if companion in pending and ready(companion):
                place(companion)

    pending = list(results)
    while pending:
        candidates = [r for r in pending if ready(r)] or pending[:1]  # a cycle: keep going
        candidates.sort(key=lambda r: (r.deadline or date.max, index[r.service]))
        place(candidates[0])
    return placed


def build_plan(
    rec: Recommendation, catalogue: Catalogue, lang: str = "en", include_unknown: bool = True
) -> OneStopPlan:
    wanted = {"eligible", "unknown"} if include_unknown else {"eligible"}
    chosen = [r for r in rec.results if r.status in wanted]
    ordered = order_steps(chosen)
    in_plan = {r.service for r in ordered}
    words = Describer(catalogue, lang)
    steps = [
        PlanStep(
            service=r.service,
            name=r.name,
            status=r.status,
            agency=r.agency,
            office=r.office,
            deadline=r.deadline,
            amount=words.money(r.amount.value, r.amount.unit) if r.amount else None,
            channels=r.channels,
            after=[p for p in r.prerequisites if p in in_plan],
            confidence=r.confidence,
            same_visit_as=r.same_visit_as if r.same_visit_as in in_plan else None,
        )
        for r in ordered
    ]
    documents: dict[str, dict] = {}
    for r in ordered:
        for doc in r.documents:
            entry = documents.setdefault(doc.name, {"verified": True, "note": doc.note, "services": []})
            # One service that needs the paper is enough to have to bring it.
            entry["verified"] = entry["verified"] and doc.verified_electronically
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
    )


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
        rows.append(
            f"<tr><td>☐ {n}</td><td><strong>{escape(step.name)}</strong>{status}<br>"
            f"<small>{escape(step.agency)} — {escape(step.office)}</small></td>"
            f"<td>{step.deadline.isoformat() if step.deadline else '—'}</td>"
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
<h2>{p("steps")}</h2>
<table><thead><tr><th>#</th><th>{p("service")}</th><th>{p("deadline")}</th><th>{p("amount")}</th><th>{p("how_to_apply")}</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>{p("bring")}</h2><ul>{bring or "<li>—</li>"}</ul>
<h2>{p("no_need_to_bring")}</h2><ul>{skip or "<li>—</li>"}</ul>
<p><small>{p("plan_disclaimer")}</small></p>
</body></html>"""
