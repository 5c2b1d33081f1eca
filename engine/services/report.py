"""The readable (non-JSON) output of ``lifeevents recommend``: names, not ids; money in
NT$; notes as notes; the words are the vocabulary's."""

from __future__ import annotations

from engine.backends.logic import Describer
from engine.language.catalog import Catalogue
from engine.services.results import EligibilityResult, Recommendation, Totals

ORDER = {"eligible": 0, "unknown": 1, "ineligible": 2}


def _line(r: EligibilityResult, d: Describer) -> list[str]:
    p = d.phrase
    lines = [f"  {r.name} [{r.confidence}]", f"    {p('agency')}{p('label_sep')}{r.agency} — {r.office}"]
    if r.amount:
        lines.append(f"    {p('amount')}{p('label_sep')}{d.money(r.amount.value, r.amount.unit)}")
    if r.fee:
        lines.append(f"    {p('fee')}{p('label_sep')}{d.money(r.fee.value, r.fee.unit)}")
    if r.deadline:
        urgent = f" ⚠ {p('urgent')}" if r.urgent else ""
        lines.append(f"    {p('deadline')}{p('label_sep')}{d.date(r.deadline)}{urgent}")
    for step in r.steps:
        by = f" ({p('deadline')}{p('label_sep')}{d.date(step.deadline)})" if step.deadline else ""
        lines.append(f"    → {step.text}{by}")
    if r.missing:
        lines.append(f"    {p('needs')}{p('label_sep')}{d.facts(r.missing)}")
    for reason in r.reasons:
        mark = {True: "✓", False: "✗", None: "?"}[reason.met]
        lines.append(f"    {mark} {reason.text}")
    for note in r.notes:
        lines.append(f"    • {note}")
    if r.what_would_change:
        lines.append(f"    {p('what_would_change')}{p('label_sep').rstrip()}")
        lines.extend(f"      → {text}" for text in r.what_would_change)
    return lines


def totals_text(t: Totals, d: Describer) -> str:
    """The family's total in one line (the table, the plan and its printed page)."""
    p = d.phrase
    return (
        f"{p('totals')}{p('label_sep')}{d.money(t.one_off, 'TWD')} {p('totals.one_off')}"
        f" · {d.money(t.monthly, 'TWD')} {p('totals.monthly')} · {d.number(t.unknown)} {p('totals.unknown')}"
    )


def _groups(results: list[EligibilityResult], d: Describer) -> list[str]:
    out: list[str] = []
    groups: dict[str, list[EligibilityResult]] = {"eligible": [], "unknown": [], "ineligible": []}
    for r in results:
        groups[r.status].append(r)
    for status in ("eligible", "unknown", "ineligible"):
        if not groups[status]:
            continue
        out.append("")
        out.append(f"{d.phrase('status.' + status)} ({len(groups[status])})")
        for r in groups[status]:
            out.extend(_line(r, d))
    return out


def render_table(result: Recommendation, catalogue: Catalogue, lang: str) -> str:
    d = Describer(catalogue, lang)
    p = d.phrase
    out = [
        f"{p('as_of')}{p('label_sep')}{d.date(result.as_of)} · {p('rules_version')}{p('label_sep')}{result.rules_version}",
        totals_text(result.totals, d),
    ]
    if result.partner_results:
        # A family: what each adult can claim, the household's services with the applicant's.
        out += ["", f"■ {p('for.person')} / {p('for.household')}"]
    out += _groups(result.results, d)
    if result.partner_results:
        out += ["", f"■ {p('for.partner')}"]
        out += _groups(result.partner_results, d)
    return "\n".join(out)
