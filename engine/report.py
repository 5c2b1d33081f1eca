"""The readable (non-JSON) output of ``lifeevents recommend``: names, not ids; money in
NT$; notes as notes; the words are the vocabulary's."""

from __future__ import annotations

from engine.catalog import Catalogue
from engine.logic import Describer
from engine.results import EligibilityResult, Recommendation

ORDER = {"eligible": 0, "unknown": 1, "ineligible": 2}


def _phrase(catalogue: Catalogue, key: str, lang: str) -> str:
    text = catalogue.labels.get(f"phrase.{key}")
    return text.get(lang) if text else key


def _line(r: EligibilityResult, d: Describer) -> list[str]:
    p = d.phrase
    lines = [f"  {r.name} [{r.confidence}]", f"    {p('agency')}: {r.agency} — {r.office}"]
    if r.amount:
        lines.append(f"    {p('amount')}: {d.money(r.amount.value, r.amount.unit)}")
    if r.fee:
        lines.append(f"    {p('fee')}: {d.money(r.fee.value, r.fee.unit)}")
    if r.deadline:
        lines.append(f"    {p('deadline')}: {r.deadline.isoformat()}")
    if r.missing:
        lines.append(f"    {p('needs')}: {d.facts(r.missing)}")
    for reason in r.reasons:
        mark = {True: "✓", False: "✗", None: "?"}[reason.met]
        lines.append(f"    {mark} {reason.text}")
    for note in r.notes:
        lines.append(f"    • {note}")
    if r.what_would_change:
        lines.append(f"    {p('what_would_change')}:")
        lines.extend(f"      → {text}" for text in r.what_would_change)
    return lines


def render_table(result: Recommendation, catalogue: Catalogue, lang: str) -> str:
    d = Describer(catalogue, lang)
    out = [
        f"{d.phrase('as_of')}: {result.as_of.isoformat()} · {d.phrase('rules_version')}: {result.rules_version}"
    ]
    groups: dict[str, list[EligibilityResult]] = {"eligible": [], "unknown": [], "ineligible": []}
    for r in result.results:
        groups[r.status].append(r)
    for status in ("eligible", "unknown", "ineligible"):
        if not groups[status]:
            continue
        out.append("")
        out.append(f"{_phrase(catalogue, 'status.' + status, lang)} ({len(groups[status])})")
        for r in groups[status]:
            out.extend(_line(r, d))
    return "\n".join(out)
