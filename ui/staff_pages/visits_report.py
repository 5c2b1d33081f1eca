"""Visits, the supervisor's view: open / visited / applied by district and by service, days
from screening to visit, uptake, each as a chart and a CSV; and who works where."""

from __future__ import annotations

import polars as pl
import streamlit as st

from engine import by_district, by_service, case_frame, time_to_visit
from ui.staff_runtime import store, user, words
from ui.worklist_runtime import worklist_store

author = user()
catalogue = store().current()
w = words(catalogue)
worklist = worklist_store()

if not worklist.is_supervisor(author):
    st.warning(w.t("report.not_supervisor", user=author))
    st.stop()


def csv_button(frame, name: str) -> None:
    st.download_button(
        w.t("report.csv"),
        frame.write_csv().encode("utf-8"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"report:{name}",
    )


frame = case_frame(worklist)
if frame.is_empty():
    st.info(w.t("report.empty"))
else:
    st.subheader(w.t("report.by_district"))
    districts = by_district(frame).with_columns(pl.format("{} / {}", "residence", "district").alias("place"))
    st.bar_chart(
        districts.select("place", "open", "visited", "applied"),
        x="place",
        y=["open", "visited", "applied"],
        stack=False,
    )
    st.dataframe(districts.drop("place"), hide_index=True, width="stretch")
    csv_button(districts.drop("place"), "visits-by-district")

    st.subheader(w.t("report.by_service"))
    services = by_service(frame)
    named = services.with_columns(
        services["service"]
        .replace_strict(
            {
                s: catalogue.services[s].name.get(w.lang)
                for s in services["service"]
                if s in catalogue.services
            },
            default=services["service"],
        )
        .alias("name")
    )
    st.bar_chart(
        named.select("name", "eligible", "visited", "applied"),
        x="name",
        y=["eligible", "visited", "applied"],
        stack=False,
        horizontal=True,
    )
    st.dataframe(named, hide_index=True, width="stretch")
    csv_button(services, "visits-by-service")

    st.subheader(w.t("report.uptake"))
    st.bar_chart(named.select("name", "uptake").drop_nulls(), x="name", y="uptake", horizontal=True)

    st.subheader(w.t("report.time_to_visit"))
    visits = time_to_visit(frame)
    if not visits.is_empty():
        shown = visits.with_columns(pl.format("{} / {}", "residence", "district").alias("place"))
        st.bar_chart(shown.select("place", "median_days"), x="place", y="median_days")
    st.dataframe(visits, hide_index=True, width="stretch")
    csv_button(visits, "visits-time-to-visit")

st.subheader(w.t("report.assignments"))
st.dataframe(
    [{"worker": u, "residence": r, "district": d} for u, r, d in worklist.assignments()],
    hide_index=True,
    width="stretch",
)
with st.form("report:assign"):
    name = st.text_input(w.t("report.username"), key="report:user")
    residence = st.text_input(w.t("report.residence"), key="report:residence")
    district = st.text_input(w.t("report.district"), key="report:district")
    add, remove = st.columns(2)
    if add.form_submit_button(w.t("report.add")) and name.strip() and residence.strip():
        worklist.add_district(name.strip(), residence.strip(), district.strip())
        st.rerun()
    if remove.form_submit_button(w.t("report.remove")) and name.strip():
        worklist.remove_district(name.strip(), residence.strip(), district.strip())
        st.rerun()
