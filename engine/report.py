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
        urgent = f" ⚠ {p('urgent')}" if r.urgent else ""
        lines.append(f"    {p('deadline')}: {r.deadline.isoformat()}{urgent}")
    for step in r.steps:
        by = f" ({p('deadline')}: {step.deadline.isoformat()})" if step.deadline else ""
        lines.append(f"    → {step.text}{by}")
    if r.missing:
        lines.append(f"    {p('needs')}: {', '.join(r.missing)}")
    for reason in r.reasons:
        mark = {True: "✓", False: "✗", None: "?"}[reason.met]
        lines.append(f"    {mark} {reason.text}")
    return lines


def _totals(result: Recommendation, catalogue: Catalogue, lang: str) -> str:
    p = lambda key: _phrase(catalogue, key, lang)  # noqa: E731
    t = result.totals
    return (
        f"{p('totals')}: {t.one_off:,} TWD {p('totals.one_off')} · {t.monthly:,} TWD {p('totals.monthly')}"
        f" · {t.unknown} {p('totals.unknown')}"
    )


def _groups(results: list[EligibilityResult], catalogue: Catalogue, lang: str) -> list[str]:
    out: list[str] = []
    groups: dict[str, list[EligibilityResult]] = {"eligible": [], "unknown": [], "ineligible": []}
    for r in results:
        groups[r.status].append(r)
    for status in ("eligible", "unknown", "ineligible"):
        if not groups[status]:
            continue
        out.append("")
        out.append(f"{_phrase(catalogue, 'status.' + status, lang)} ({len(groups[status])})")
        for r in groups[status]:
            out.extend(_line(r, catalogue, lang))
    return out


def render_table(result: Recommendation, catalogue: Catalogue, lang: str) -> str:
    out = [
        f"as of {result.as_of.isoformat()} · rules {result.rules_version}",
        _totals(result, catalogue, lang),
    ]
    if result.partner_results:
        # A family: what each adult can claim, the household's services with the applicant's.
        out += [
            "",
            f"== {_phrase(catalogue, 'for.person', lang)} / {_phrase(catalogue, 'for.household', lang)} ==",
        ]
    out += _groups(result.results, catalogue, lang)
    if result.partner_results:
        out += ["", f"== {_phrase(catalogue, 'for.partner', lang)} =="]
        out += _groups(result.partner_results, catalogue, lang)
    return "\n".join(out)
