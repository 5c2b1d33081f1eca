"""Results in plain words: amounts, reasons, channels and the text a clerk reads out.

Pure functions over the engine's results and the UI's words; the pages only lay them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from engine import EligibilityResult, Money, OneStopPlan, ReasonOut, Recommendation, Totals
from ui.text import Words

MET_MARK = {True: "✔", False: "✘", None: "？"}
MET_WORD = {True: "results.met", False: "results.not_met", None: "results.unknown"}


def money(amount: Money | None, w: Words) -> str | None:
    return None if amount is None else w.money(amount.value, amount.unit)


def total(value: int, w: Words) -> str:
    """A sum of money in the language's way (NT$1,000 / 新臺幣 1,000 元)."""
    return w.total(value)


def with_amount(r: EligibilityResult, w: Words) -> str:
    amount = money(r.amount, w)
    return f"{r.name} ({amount})" if amount else r.name


def step_lines(
    r: EligibilityResult, w: Words, due: Mapping[tuple[str, str], date] | None = None
) -> list[str]:
    """A result's steps of applying, each as what to do by when and what it unlocks
    ("First: Job-seeker registration by DATE. This unlocks Unemployment benefit, about
    NT$24,060 a month").

    A step's date is the last day it still helps the service it unlocks; ``due`` holds the
    deadlines of the answer's results by (service, whom for). When the step is a service
    with an earlier deadline of its own (the moving registration: 30 days after the move),
    that date comes first, so that nobody reads the later one as the step's due date."""
    out = []
    amount = money(r.amount, w)
    for step in r.steps:
        own = _own_deadline(step.service, r.for_, due or {})
        if step.deadline and own and own < step.deadline:
            text = w.t(
                "results.step_due",
                step=step.name,
                due=w.date(own),
                date=w.date(step.deadline),
                service=r.name,
            )
        elif step.deadline:
            text = w.t("results.step", step=step.name, date=w.date(step.deadline), service=r.name)
        else:
            text = w.t("results.step_no_date", step=step.name, service=r.name)
        if amount:
            text += w.t("results.step_amount", amount=amount)
        out.append(text)
    return out


def urgent_items(urgent: list[EligibilityResult], w: Words) -> list[str]:
    """The urgent banner's lines, each saying whose it is as the plan does ("Your partner:
    Paternity and prenatal-check leave by DATE"): the same service can be urgent for both
    adults, and two identical lines would not say for whom. Each line once."""
    lines = [
        w.t("results.urgent_item", who=w.t(f"plan.who.{r.for_}"), name=r.name, date=r.deadline.isoformat())
        for r in urgent
        if r.deadline
    ]
    return list(dict.fromkeys(lines))


def _own_deadline(service: str, whose: str, due: Mapping[tuple[str, str], date]) -> date | None:
    return due.get((service, whose)) or due.get((service, "household"))


def deadlines(results: list[EligibilityResult]) -> dict[tuple[str, str], date]:
    """The deadlines of an answer's results, by (service, whom for): what step_lines reads."""
    return {(r.service, r.for_): r.deadline for r in results if r.deadline is not None}


def unlocked(rec: Recommendation) -> dict[str, list[EligibilityResult]]:
    """step service -> the results (of either adult) it is a step of."""
    out: dict[str, list[EligibilityResult]] = {}
    for r in (*rec.results, *rec.partner_results):
        if r.status == "ineligible":
            continue
        for step in r.steps:
            out.setdefault(step.service, []).append(r)
    return out


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


def missing_paths(result: EligibilityResult) -> list[str]:
    """The citizen's facts still needed by an open result (parameters and unencoded
    parts are not questions), each once."""
    return list(dict.fromkeys(p for p in result.missing if not p.startswith(("parameters.", "rules."))))


def document_line(name: str, note: str | None, waived: bool, w: Words) -> str:
    """A document as a result's details list it: the name, then that it need not be
    brought (免附) and the catalogue's note, each said once. A waived document's note
    often says it already ("No need to bring: the agency checks the household register
    itself"), so the mark is not put before such a note a second time."""
    mark = w.t("results.no_need")
    if waived and not (note and note.casefold().startswith(mark.casefold())):
        note = f"{mark}: {note}" if note else mark
    return f"{name} — {note}" if note else name


def channel(kind: str, where: str | None, url: str | None, w: Words) -> str:
    name = w.t(f"channel.{kind}") if w.has(f"channel.{kind}") else kind
    detail = url if kind == "online" and url else where
    return f"{name}: {detail}" if detail else name


def summary_line(result: EligibilityResult, w: Words) -> str:
    """The one line under a service's name: urgent mark, amount (of an open result:
    "if eligible"), deadline, confidence mark."""
    parts = [result.name]
    if result.urgent and result.status != "ineligible":
        parts.insert(0, w.t("results.urgent"))
    amount = money(result.amount, w)
    if amount:
        parts.append(w.t("results.amount_if", amount=amount) if result.status == "unknown" else amount)
    if result.deadline:
        parts.append(f"{w.t('results.deadline')} {w.date(result.deadline)}")
    parts.append(result.confidence)
    return " · ".join(parts)


AUDIENCES = ("person", "partner", "household")


def family_readout(shown: list[EligibilityResult], totals: Totals, plan: OneStopPlan, w: Words) -> list[str]:
    """What a clerk reads out to a family: the total, then for you, for your partner and
    for the household what applies (urgent first, each step before what it unlocks) and
    what is still open; the "not eligible" ones are only counted, not read out."""
    lines = [
        w.t(
            "readout.totals",
            one_off=total(totals.one_off, w),
            monthly=total(totals.monthly, w),
            unknown=totals.unknown,
        )
    ]
    for audience in AUDIENCES:
        mine = [r for r in shown if r.for_ == audience and r.status != "ineligible"]
        if not mine:
            continue
        lines.append(w.t(f"readout.for.{audience}"))
        for r in mine:
            if r.status == "eligible":
                text = w.t(f"readout.eligible.{audience}", name=r.name)  # "your partner is", not "you are"
                for step in r.steps:
                    text += " " + (
                        w.t("readout.step", step=step.name, date=w.date(step.deadline))
                        if step.deadline
                        else w.t("readout.step_no_date", step=step.name)
                    )
                amount = money(r.amount, w)
                if amount:
                    text += " " + w.t(f"readout.amount.{audience}", amount=amount)
                if r.deadline:
                    text += " " + w.t("readout.deadline", date=w.date(r.deadline))
                text += " " + w.t("readout.where", office=r.office)
            else:
                text = w.t("readout.unknown", name=r.name, missing=w.join(missing(r, w)) or "—")
            if r.urgent:
                text = f"{w.t('readout.urgent')} {text}"
            lines.append(text)
    if len(lines) == 1:
        lines.append(w.t("readout.none"))
    left_out = sum(1 for r in shown if r.status == "ineligible")
    if left_out:
        lines.append(w.t("counter.not_eligible_count", count=left_out))
    if plan.to_bring:
        lines.append(w.t("readout.bring", documents=w.join([d.name for d in plan.to_bring])))
    if plan.no_need_to_bring:
        lines.append(w.t("readout.no_need", documents=w.join([d.name for d in plan.no_need_to_bring])))
    return lines
