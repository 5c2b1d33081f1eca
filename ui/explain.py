"""Results in plain words: amounts, reasons, channels and the text a clerk reads out.

Pure functions over the engine's results and the UI's words; the pages only lay them out.
"""

from __future__ import annotations

from engine.plan import OneStopPlan
from engine.results import EligibilityResult, Money, ReasonOut
from ui.text import Words

MET_MARK = {True: "✔", False: "✘", None: "？"}
MET_WORD = {True: "results.met", False: "results.not_met", None: "results.unknown"}


def money(amount: Money | None, w: Words) -> str | None:
    if amount is None:
        return None
    key = f"results.amount_unit.{amount.unit}"
    if not w.has(key):
        return w.t("results.amount_unit.other", value=f"{amount.value:,}", unit=amount.unit)
    return w.t(key, value=f"{amount.value:,}")


def reason(r: ReasonOut, w: Words) -> str:
    """One criterion: the mark, the word for it (not the symbol alone) and the engine's
    sentence, which carries the citizen's answer and the threshold."""
    return f"{MET_MARK[r.met]} {w.t(MET_WORD[r.met])}: {r.text}"


def missing(result: EligibilityResult, w: Words) -> list[str]:
    """The facts still needed, as labels; parameters and unencoded parts are said as
    such by the engine's reasons, so only the citizen's facts are listed here."""
    out = []
    for path in result.missing:
        if path.startswith(("parameters.", "rules.")):
            continue
        label = w.fact(path)
        if label not in out:
            out.append(label)
    return out


def channel(kind: str, where: str | None, url: str | None, w: Words) -> str:
    name = w.t(f"channel.{kind}") if w.has(f"channel.{kind}") else kind
    detail = url if kind == "online" and url else where
    return f"{name}: {detail}" if detail else name


def summary_line(result: EligibilityResult, w: Words) -> str:
    """The one line under a service's name: amount, deadline, confidence mark."""
    parts = [result.name]
    amount = money(result.amount, w)
    if amount:
        parts.append(amount)
    if result.deadline:
        parts.append(f"{w.t('results.deadline')} {result.deadline.isoformat()}")
    parts.append(result.confidence)
    return " · ".join(parts)


def readout(results: list[EligibilityResult], plan: OneStopPlan, w: Words) -> list[str]:
    """What a clerk can read out: one sentence or two per service, then the documents."""
    lines: list[str] = []
    for r in results:
        if r.status == "eligible":
            text = w.t("readout.eligible", name=r.name)
            amount = money(r.amount, w)
            if amount:
                text += " " + w.t("readout.amount", amount=amount)
            if r.deadline:
                text += " " + w.t("readout.deadline", date=r.deadline.isoformat())
            text += " " + w.t("readout.where", office=r.office)
        elif r.status == "unknown":
            text = w.t("readout.unknown", name=r.name, missing=w.join(missing(r, w)) or "—")
        else:
            failed = next((x.text for x in r.reasons if x.met is False), "—")
            text = w.t("readout.ineligible", name=r.name, reason=failed)
        lines.append(text)
    if not lines:
        lines.append(w.t("readout.none"))
    if plan.to_bring:
        lines.append(w.t("readout.bring", documents=w.join([d.name for d in plan.to_bring])))
    if plan.no_need_to_bring:
        lines.append(w.t("readout.no_need", documents=w.join([d.name for d in plan.no_need_to_bring])))
    return lines
