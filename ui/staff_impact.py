"""Showing an ImpactReport: tables and bar charts (shared by the edit and versions pages).

The charts are the outreach list's (engine/services/charts.py: a table of labels and numbers with
CSS bars), in the interface language: gained and lost by service, then by city or county
and by age group for the service picked, and the change in amounts paid. A chart whose
bars would all be zero is the words "no change" instead."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from engine import (
    AS_OF,
    CHART_CSS,
    UNKNOWN,
    Bar,
    Catalogue,
    Describer,
    ImpactReport,
    bar_chart,
    impact,
    impact_scenarios,
    population,
    scenario_totals,
)
from ui.text import Words

COLUMNS = (
    "service",
    "name",
    "eligible_before",
    "eligible_after",
    "gained",
    "lost",
    "amount_change",
    "unit",
    "residence",
    "age_band",
    "change",
    "estimated",
)


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_population(n: int, seed: int = 0, as_of: date = AS_OF):
    return population(n, seed, as_of)


# The preview's synthetic population: the column-wise evaluator screens it in seconds.
DEFAULT_PEOPLE = 100_000


def run_impact(old: Catalogue, new: Catalogue, n: int, as_of: date = AS_OF) -> ImpactReport:
    return impact(old, new, cached_population(n, 0, as_of))


def run_scenarios(
    old: Catalogue, scenarios: dict[str, Catalogue], n: int, as_of: date = AS_OF
) -> dict[str, ImpactReport]:
    """Several rule trees against ``old`` on one synthetic population, in one pass."""
    return impact_scenarios(old, scenarios, cached_population(n, 0, as_of))


def scenario_table(reports: dict[str, ImpactReport], w: Words) -> pd.DataFrame:
    """One line per scenario: services affected, gained, lost, and the change in amounts
    per unit (a one-off grant and a monthly allowance are not added together)."""
    words = Describer(w.catalogue, w.lang)  # the engine's money phrases (rules/vocabulary.yaml)
    rows = []
    for name, report in reports.items():
        totals = scenario_totals(report)
        money = w.t("scenarios.separator").join(
            words.money(change, unit, signed=True) for unit, change in sorted(totals["amount_change"].items())
        )
        rows.append(
            {
                w.t("scenarios.col.scenario"): name,
                w.t("scenarios.col.services"): totals["services"],
                w.t("impact.col.gained"): totals["gained"],
                w.t("impact.col.lost"): totals["lost"],
                w.t("impact.col.amount_change"): money or w.t("impact.no_change"),
                w.t("impact.col.estimated"): w.t("scenarios.estimated") if totals["estimated"] else "",
            }
        )
    return pd.DataFrame(rows)


def _headed(frame: pd.DataFrame, w: Words) -> pd.DataFrame:
    """The same table with its column headers in the interface language."""
    return frame.rename(columns={c: w.t(f"impact.col.{c}") for c in frame.columns if c in COLUMNS})


def service_name(sid: str, w: Words) -> str:
    found = w.catalogue.services.get(sid)
    return found.name.get(w.lang) if found else sid


def place_name(group: str, value: str, w: Words) -> str:
    """A residence's name (rules/residences.yaml) or an age band, in the interface language."""
    if value == UNKNOWN:
        return w.t("impact.unknown")
    return w.value(value) if group == "residence" else value


def chart_html(title: str, header: str, series: list[str], bars: list[Bar]) -> str | None:
    """The chart, or None when every bar is zero (the page then says "no change")."""
    if not any(v for bar in bars for v in bar.values):
        return None
    return f"<style>{CHART_CSS}</style>" + bar_chart(title, header, series, bars, "")


def service_chart(report: ImpactReport, w: Words) -> str | None:
    series = [w.t("impact.col.gained"), w.t("impact.col.lost")]
    bars = [Bar(service_name(s.service, w), (s.gained, s.lost)) for s in report.services]
    return chart_html(w.t("impact.by_service"), w.t("impact.col.service"), series, bars)


def group_chart(report: ImpactReport, w: Words, sid: str, group: str) -> str | None:
    """Gained and lost for one service by ``group``: ``residence`` or ``age_band``."""
    rows = report.by_residence if group == "residence" else report.by_age
    series = [w.t("impact.col.gained"), w.t("impact.col.lost")]
    bars = [
        Bar(place_name(group, str(r[group]), w), (r["gained"], r["lost"]))
        for r in rows
        if r["service"] == sid
    ]
    title = w.t("impact.by_residence" if group == "residence" else "impact.by_age")
    return chart_html(title, w.t(f"impact.col.{group}"), series, bars)


def cost_chart(report: ImpactReport, w: Words) -> str | None:
    bars = [
        Bar(service_name(s.service, w), (s.cost_change,))
        for s in report.services
        if s.cost_change is not None
    ]
    return chart_html(w.t("impact.cost"), w.t("impact.col.service"), [w.t("impact.col.change")], bars)


def _show(chart: str | None, w: Words) -> None:
    if chart is None:
        st.caption(w.t("impact.no_change"))  # not an empty axis of 0.000000
    else:
        st.html(chart)


def show_impact(report: ImpactReport, w: Words, key: str) -> None:
    st.caption(
        w.t(
            "impact.summary",
            people=f"{report.people:,}",
            method=w.t(f"impact.method.{report.method}"),
            seconds=f"{report.seconds:.2f}",
        )
    )
    if report.as_of is not None:
        st.markdown(w.t("impact.as_of", day=report.as_of.isoformat()))
    st.caption(w.t("impact.note_batch"))
    if any(s.unit for s in report.services):
        st.caption(w.t("impact.note_cost"))
    if not report.services:
        st.info(w.t("impact.none"))
        return
    table = pd.DataFrame(report.table())
    # the report names each service in both languages; the page speaks one
    services = w.catalogue.services
    table["name"] = [
        services[s].name.get(w.lang) if s in services else n
        for s, n in zip(table["service"], table["name"], strict=True)
    ]
    st.dataframe(_headed(table, w), hide_index=True, width="stretch")
    _show(service_chart(report, w), w)
    changed = [s.service for s in report.services if s.gained or s.lost]
    if changed:
        sid = st.selectbox(
            w.t("impact.service"), changed, key=f"{key}:service", placeholder=w.t("edit.choose")
        )
        for group, title in (("residence", "impact.by_residence"), ("age_band", "impact.by_age")):
            st.markdown(f"**{w.t(title)}**")
            _show(group_chart(report, w, sid, group), w)
    costs = [s for s in report.services if s.cost_change is not None]
    if costs:
        st.markdown(f"**{w.t('impact.cost')}**")
        st.dataframe(
            _headed(
                pd.DataFrame(
                    [
                        {
                            "service": s.service,
                            "change": s.cost_change,
                            "unit": s.unit,
                            "estimated": s.cost_estimated,
                        }
                        for s in costs
                    ]
                ),
                w,
            ),
            hide_index=True,
            width="stretch",
        )
        _show(cost_chart(report, w), w)
