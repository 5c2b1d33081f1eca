"""Showing an ImpactReport: tables and bar charts (shared by the edit and versions pages)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.catalog import Catalogue
from engine.impact import ImpactReport, impact, population
from ui.text import Words


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_population(n: int, seed: int = 0):
    return population(n, seed)


def default_size() -> int:
    """100,000 people with the column-wise evaluator; fewer profile by profile."""
    try:
        import engine.batch  # noqa: F401
    except ImportError:
        return 2000
    return 100_000


def run_impact(old: Catalogue, new: Catalogue, n: int) -> ImpactReport:
    return impact(old, new, cached_population(n))


def show_impact(report: ImpactReport, w: Words, key: str) -> None:
    st.caption(
        w.t(
            "impact.summary",
            people=f"{report.people:,}",
            method=report.method,
            seconds=f"{report.seconds:.2f}",
        )
    )
    for note in report.notes:
        st.caption(note)
    if not report.services:
        st.info(w.t("impact.none"))
        return
    table = pd.DataFrame(report.table())
    st.dataframe(table, hide_index=True, width="stretch")
    st.bar_chart(table.set_index("service")[["gained", "lost"]], stack=False)
    changed = [s.service for s in report.services if s.gained or s.lost]
    if changed:
        sid = st.selectbox("service", changed, key=f"{key}:service")
        for rows, group, title in (
            (report.by_residence, "residence", "impact.by_residence"),
            (report.by_age, "age_band", "impact.by_age"),
        ):
            frame = pd.DataFrame([r for r in rows if r["service"] == sid])
            st.markdown(f"**{w.t(title)}**")
            if not frame.empty:
                frame = frame.set_index(group)[["gained", "lost"]]
                st.dataframe(frame, width="stretch")
                st.bar_chart(frame, stack=False)
    costs = [s for s in report.services if s.cost_change is not None]
    if costs:
        st.markdown(f"**{w.t('impact.cost')}**")
        st.dataframe(
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
            hide_index=True,
            width="stretch",
        )
        st.bar_chart(
            pd.DataFrame(
                {"service": [s.service for s in costs], "change": [s.cost_change for s in costs]}
            ).set_index("service")
        )
