"""The readable (non-JSON) output of ``lifeevents recommend``."""

from __future__ import annotations

from engine.catalog import Catalogue
from engine.results import EligibilityResult, Recommendation

ORDER = {"eligible": 0, "unknown": 1, "ineligible": 2}


def _phrase(catalogue: Catalogue, key: str, lang: str) -> str:
    text = catalogue.labels.get(f"phrase.{key}")
    return text.get(lang) if text else key


def _line(r: EligibilityResult, catalogue: Catalogue, lang: str) -> list[str]:
    p = lambda key: _phrase(catalogue, key, lang)  # noqa: E731
    head = f"  {r.name} ({r.service}) [{r.confidence}]"
    lines = [head, f"    {p('agency')}: {r.agency} — {r.office}"]
    if r.amount:
        lines.append(f"    {p('amount')}: {r.amount.value:,} {r.amount.unit}")
    if r.fee:
        lines.append(f"    {p('fee')}: {r.fee.value:,} {r.fee.unit}")
    if r.deadline:
        lines.append(f"    {p('deadline')}: {r.deadline.isoformat()}")
    if r.missing:
        lines.append(f"    {p('needs')}: {', '.join(r.missing)}")
    for reason in r.reasons:
        mark = {True: "✓", False: "✗", None: "?"}[reason.met]
        lines.append(f"    {mark} {reason.text}")
    return lines


def render_table(result: Recommendation, catalogue: Catalogue, lang: str) -> str:
    out = [f"as of {result.as_of.isoformat()} · rules {result.rules_version}"]
    groups: dict[str, list[EligibilityResult]] = {"eligible": [], "unknown": [], "ineligible": []}
    for r in result.results:
        groups[r.status].append(r)
    for status in ("eligible", "unknown", "ineligible"):
        if not groups[status]:
            continue
        out.append("")
        out.append(f"{_phrase(catalogue, 'status.' + status, lang)} ({len(groups[status])})")
        for r in groups[status]:
            out.extend(_line(r, catalogue, lang))
    return "\n".join(out)
