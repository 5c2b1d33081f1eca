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
from typing import Annotated

from pydantic import ConfigDict, Field, computed_field

from engine.backends.logic import Describer
from engine.language.catalog import Catalogue
from engine.language.i18n import calendars
from engine.services.report import totals_text
from engine.services.results import ChannelOut, EligibilityResult, For, Recommendation, Totals


@dataclass(frozen=True)
class PlanStep:
    # ``for`` is a Python keyword: the field is ``for_``, and the JSON key is ``for``, as
    # in a result (profile.md, "Families: the partner": every plan step has ``for``).
    __pydantic_config__ = ConfigDict(serialize_by_alias=True)

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
    # Families: whom the step is for, whether its deadline is at most 14 days away, and
    # the services it is a step of ("unlocks").
    for_: Annotated[
        For, Field(alias="for", description="whom the step is for: person, partner or household")
    ] = "person"
    urgent: bool = False
    unlocks: list[str] = field(default_factory=list)

    # The plan's JSON said `who` before the contract's `for` was added: clients written then
    # still read it. One field holds the value, so the two keys cannot disagree.
    @computed_field(description="the same as `for`, under its earlier name; read `for`")  # type: ignore[prop-decorator]
    @property
    def who(self) -> For:
        return self.for_


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
    left_out: list[str] = field(default_factory=list)  # ineligible services not in the steps, for the record
    # The family's total twice: in words for a reader (engine.services.report.totals_text),
    # and as the numbers /recommend gives for a program. `totals` was the sentence first
    # and keeps that meaning; the numbers have their own key.
    totals: Annotated[
        str, Field(description="the family's total in words, in the plan's language (see family_totals)")
    ] = ""
    family_totals: Annotated[
        Totals, Field(description="the family's total as numbers: the `totals` of /recommend")
    ] = field(default_factory=Totals)


def _key(r: EligibilityResult) -> tuple[str, str]:
    return (r.service, r.for_)


def _comes_after(r: EligibilityResult) -> list[str]:
    """The services a result waits for: its prerequisites, then its steps of applying,
    each once. A step is usually a prerequisite of the catalogue as well (the job-seeker
    registration of the unemployment benefit), so the two lists overlap."""
    return list(dict.fromkeys((*r.prerequisites, *(s.service for s in r.steps))))


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

    def ready(r: EligibilityResult) -> bool:
        # The same service for the other adult does not wait for this one.
        return all(p in done or p not in present or p == r.service for p in _comes_after(r))

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
                after=[p for p in _comes_after(r) if p in in_plan],
                confidence=r.confidence,
                same_visit_as=r.same_visit_as if r.same_visit_as in in_plan else None,
                for_=r.for_,
                urgent=r.urgent or (deadline is not None and deadline != r.deadline and _urgent(opened)),
                unlocks=[
                    words.phrase("paren", text=u.name, detail=_money(u, words)) if u.amount else u.name
                    for u in opened
                ],
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
        # A step the plan adds (the moving registration of a bought home) is ineligible on
        # its own, yet it is in the plan: it is not left out.
        left_out=[r.service for r in rec.results if r.status == "ineligible" and r.service not in in_plan],
        totals=totals_text(rec.totals, words),
        family_totals=rec.totals,
    )


def _urgent(opened: list[EligibilityResult]) -> bool:
    return any(u.urgent for u in opened)


def _phrase(catalogue: Catalogue, key: str, lang: str) -> str:
    text = catalogue.labels.get(f"phrase.{key}")
    return text.get(lang) if text else key


CONFIDENCE_ORDER = ("✅", "🟡", "❓")

# Mobile first: a table on paper and on a desk, one card per step on a phone (under
# 40rem), each cell labelled by its column's heading; dates never break inside.
PLAN_STYLE = """
body { font-family: system-ui, "Noto Sans TC", sans-serif; margin: 1.5rem; color: #111; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #999; padding: .4rem; vertical-align: top; text-align: left; }
th { background: #eee; }
.date { white-space: nowrap; }
.how { overflow-wrap: anywhere; }
@media (max-width: 40rem) {
  body { margin: .75rem; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table, tbody, tr, td { display: block; width: auto; }
  tr { border: 1px solid #999; border-radius: .4rem; margin: 0 0 .75rem; padding: .4rem .6rem; }
  td { border: 0; padding: .15rem 0; }
  td[data-label]::before { content: attr(data-label) LABEL_SEP; font-weight: 600; }
  td[data-label="#"]::before { content: none; }
}
fieldset.calendar { border: 1px solid #999; margin: 0 0 1rem; }
fieldset.calendar label { margin-right: 1rem; white-space: nowrap; }
@media print { body { margin: 0; } tr { break-inside: avoid; } fieldset.calendar { display: none; } }
"""


def _css_string(text: str) -> str:
    """A text as a CSS string literal (the label before a card's value)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ") + '"'


def _calendar_style(offered: tuple[str, ...]) -> str:
    """Show each date in the calendar the switch has chosen (CSS only: the page works
    saved and offline, and prints what it shows)."""
    return "".join(
        f'body:has(input[value="{chosen}"]:checked) .cal-{other} {{ display: none; }}\n'
        for chosen in offered
        for other in offered
        if other != chosen
    )


def plan_calendar(lang: str, calendar: str | None = None) -> str:
    """The calendar the plan's dates use: the one asked for if the language offers it
    (the Chinese plan may print ROC years), else the language's default."""
    offered = calendars(lang)
    return calendar if calendar in offered else offered[0]


def render_plan_html(plan: OneStopPlan, catalogue: Catalogue, calendar: str | None = None) -> str:
    """A print-ready page that also reads on a phone: the ordered checklist, the legend
    of the confidence marks it shows, and the document list. ``calendar`` is
    ``gregorian`` or ``roc`` (民國 years, in the languages that offer it)."""
    lang = plan.lang
    words = Describer(catalogue, lang)
    calendar = plan_calendar(lang, calendar)
    p = lambda key: escape(_phrase(catalogue, key, lang))  # noqa: E731
    sep = p("label_sep")

    offered = calendars(lang)

    def when(day: date) -> str:
        # Every calendar the language offers is in the page; the switch shows one.
        forms = "".join(f'<span class="cal-{c}">{escape(words.date(day, c))}</span>' for c in offered)
        return f'<time class="date" datetime="{day.isoformat()}">{forms}</time>'

    switch = ""
    if len(offered) > 1:
        choices = "".join(
            f'<label><input type="radio" name="calendar" value="{c}"{" checked" if c == calendar else ""}> '
            f"{p('calendar.' + c)}</label> "
            for c in offered
        )
        switch = f'<fieldset class="calendar"><legend>{p("calendar")}</legend>{choices}</fieldset>'

    rows = []
    for n, step in enumerate(plan.steps, 1):
        how = "<br>".join(  # one channel a line: their descriptions hold commas
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
            status += f"<br><small>{p('step_unlocks')}{sep}{escape(words.phrase('list_sep').join(step.unlocks))}</small>"
        who = f"<small>{p('for.' + step.for_)}</small><br>"
        mark = f' <span class="mark">{escape(step.confidence)}</span>'
        urgent = f" <strong>⚠ {p('urgent')}</strong>" if step.urgent else ""
        rows.append(
            f'<tr><td data-label="#">☐ {n}</td>'
            f'<td data-label="{p("service")}">{who}<strong>{escape(step.name)}</strong>{mark}{status}<br>'
            f"<small>{escape(step.agency)} — {escape(step.office)}</small></td>"
            f'<td data-label="{p("deadline")}">{when(step.deadline) if step.deadline else "—"}{urgent}</td>'
            f'<td data-label="{p("amount")}">{escape(step.amount or "—")}</td>'
            f'<td data-label="{p("how_to_apply")}" class="how"><small>{how}</small></td></tr>'
        )
    shown = {step.confidence for step in plan.steps}
    legend = "".join(f"<li>{p('confidence.' + mark)}</li>" for mark in CONFIDENCE_ORDER if mark in shown)
    bring = "".join(
        f"<li>☐ {escape(d.name)} <small>({escape(words.phrase('list_sep').join(d.for_services))})</small></li>"
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
<style>{PLAN_STYLE.replace("LABEL_SEP", _css_string(_phrase(catalogue, "label_sep", lang)))}{_calendar_style(offered)}</style></head><body>
<h1>{p("plan_title")}</h1>
{switch}
<p>{p("as_of")}{sep}{when(plan.as_of)} · {p("rules_version")}{sep}{escape(plan.rules_version)}</p>
<p><strong>{escape(plan.totals)}</strong></p>
<h2>{p("steps")}</h2>
<table><thead><tr><th>#</th><th>{p("service")}</th><th>{p("deadline")}</th><th>{p("amount")}</th><th>{p("how_to_apply")}</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{f'<h2>{p("confidence")}</h2><ul class="legend">{legend}</ul>' if legend else ""}
<h2>{p("bring")}</h2><ul>{bring or "<li>—</li>"}</ul>
<h2>{p("no_need_to_bring")}</h2><ul>{skip or "<li>—</li>"}</ul>
<p><small>{p("plan_disclaimer")}</small></p>
</body></html>"""
