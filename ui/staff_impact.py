"""Showing an ImpactReport: tables and bar charts (shared by the edit and versions pages)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from engine.catalog import Catalogue
from engine.impact import AS_OF, ImpactReport, impact, population
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


def default_size() -> int:
    """100,000 people with the column-wise evaluator; fewer profile by profile."""
    try:
        import engine.batch  # noqa: F401
    except ImportError:
        return 2000
    return 100_000


def run_impact(old: Catalogue, new: Catalogue, n: int, as_of: date = AS_OF) -> ImpactReport:
    return impact(old, new, cached_population(n, 0, as_of))


def _headed(frame: pd.DataFrame, w: Words) -> pd.DataFrame:
    """The same table with its column headers in the interface language."""
    return frame.rename(columns={c: w.t(f"impact.col.{c}") for c in frame.columns if c in COLUMNS})


def _chart(frame: pd.DataFrame, w: Words) -> None:
    """A bar chart, or the words "no change" when every bar would be zero (an axis of
    0.000000 says nothing)."""
    if frame.empty or not frame.fillna(0).to_numpy().any():
        st.caption(w.t("impact.no_change"))
        return
    st.bar_chart(_headed(frame, w), stack=False)


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
    _chart(table.set_index("service")[["gained", "lost"]], w)
    changed = [s.service for s in report.services if s.gained or s.lost]
    if changed:
        sid = st.selectbox(
            w.t("impact.service"), changed, key=f"{key}:service", placeholder=w.t("edit.choose")
        )
        for rows, group, title in (
            (report.by_residence, "residence", "impact.by_residence"),
            (report.by_age, "age_band", "impact.by_age"),
        ):
            frame = pd.DataFrame([r for r in rows if r["service"] == sid])
            st.markdown(f"**{w.t(title)}**")
            if not frame.empty:
                frame = frame.set_index(group)[["gained", "lost"]]
                st.dataframe(_headed(frame, w), width="stretch")
                _chart(frame, w)
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
        _chart(
            pd.DataFrame(
                {"service": [s.service for s in costs], "change": [s.cost_change for s in costs]}
            ).set_index("service"),
            w,
        )
