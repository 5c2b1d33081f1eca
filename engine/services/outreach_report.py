"""The printable outreach list (``lifeevents outreach --html FILE --lang LANG``).

One page in the chosen language: its words from ``engine/data/outreach-report.yaml``,
the places' names from ``rules/residences.yaml``, the services' from the catalogue and
the needs' from ``rules/outreach.yaml``. Charts first (people by service, by city or
county, by age group: engine/services/charts.py), then one section and printed page per residence
and district, with a "visited" box per person.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
import yaml

from engine.language.catalog import Catalogue
from engine.language.i18n import LANGUAGES
from engine.language.outreach_policy import OutreachPolicy
from engine.language.profile import RESIDENCES
from engine.language.residences import residence_name
from engine.services.charts import CHART_CSS, Bar, bar_chart
from engine.services.columns import FileError, write_error

WORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "outreach-report.yaml"
LANGS = LANGUAGES  # engine/data/languages.yaml: the one list of languages


class ReportTextError(FileError):
    """The report's language file breaks its shape: the message names the file and key
    (the command line prints it and exits 2, as for any file it cannot use)."""


@dataclass(frozen=True)
class ReportWords:
    lang: str
    words: dict[str, str]
    age_groups: tuple[tuple[int, str], ...]  # (lower bound, label), ascending

    def t(self, key: str, **fields: object) -> str:
        text = self.words[key]
        return text.format(**fields) if fields else text

    def age_group(self, age: int | None) -> str:
        if age is None:
            return self.t("age.unknown")
        label = self.age_groups[0][1]
        for lower, text in self.age_groups:
            if age >= lower:
                label = text
        return label


@cache
def _read_words(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    shown = path.name
    if not isinstance(data, dict) or not isinstance(data.get("words"), dict):
        raise ReportTextError(f"{shown}: expected 'words: {{key: {{en, zh-TW}}}}' and 'age_groups'")
    for key, value in data["words"].items():
        if not isinstance(value, dict) or set(value) != set(LANGS):
            raise ReportTextError(f"{shown}: words.{key}: needs exactly the languages {', '.join(LANGS)}")
    groups = data.get("age_groups")
    if not isinstance(groups, list) or not groups:
        raise ReportTextError(f"{shown}: age_groups: a list of {{from: AGE, text: {{en, zh-TW}}}}")
    bounds = []
    for i, group in enumerate(groups):
        if (
            not isinstance(group, dict)
            or not isinstance(group.get("from"), int)
            or not isinstance(group.get("text"), dict)
            or set(group["text"]) != set(LANGS)
        ):
            raise ReportTextError(f"{shown}: age_groups[{i}]: expected {{from: AGE, text: {{en, zh-TW}}}}")
        bounds.append(group["from"])
    if bounds != sorted(set(bounds)):
        raise ReportTextError(f"{shown}: age_groups: the lower bounds must rise ({bounds})")
    return data


def report_words(lang: str, path: Path = WORDS_FILE) -> ReportWords:
    if lang not in LANGS:
        raise ValueError(f"no report language '{lang}' (one of {', '.join(LANGS)})")
    data = _read_words(path)
    return ReportWords(
        lang,
        {k: v[lang] for k, v in data["words"].items()},
        tuple((g["from"], g["text"][lang]) for g in data["age_groups"]),
    )


def _split(cell: str | None) -> list[str]:
    return [s for s in (cell or "").split("; ") if s]


def chart_counts(
    frame: pl.DataFrame, services: list[str], w: ReportWords
) -> dict[str, list[tuple[str, int]]]:
    """The people of the list by service (in ``services``' order), by residence (in the
    contract's order) and by age group (ascending): ids and labels with their counts."""
    by_service = Counter(s for cell in frame["services"].to_list() for s in _split(cell))
    by_residence = Counter(frame["residence"].to_list())
    by_age = Counter(w.age_group(a) for a in frame["age"].to_list())
    ages = [label for _, label in w.age_groups] + [w.t("age.unknown")]
    return {
        "service": [(s, by_service[s]) for s in services if by_service[s]],
        "residence": [(r, by_residence[r]) for r in RESIDENCES if by_residence[r]],
        "age": [(a, by_age[a]) for a in ages if by_age[a]],
    }


def charts_html(
    frame: pl.DataFrame, names: dict[str, str], services: list[str], w: ReportWords, root: str | None = None
) -> str:
    """The charts by service, by city or county (named as the rules tree ``root`` names
    them) and by age group."""
    counts = chart_counts(frame, services, w)
    people = [w.t("chart.people")]
    empty = w.t("chart.empty")
    return "".join(
        [
            f"<h2>{html.escape(w.t('charts'))}</h2>",
            bar_chart(
                w.t("chart.by_service"), w.t("chart.service"), people,
                [Bar(names.get(s, s), (n,)) for s, n in counts["service"]], empty,
            ),
            bar_chart(
                w.t("chart.by_residence"), w.t("chart.residence"), people,
                [Bar(residence_name(r, w.lang, root), (n,)) for r, n in counts["residence"]], empty,
            ),
            bar_chart(
                w.t("chart.by_age"), w.t("chart.age"), people,
                [Bar(a, (n,)) for a, n in counts["age"]], empty,
            ),
        ]
    )  # fmt: skip


def write_html(
    frame: pl.DataFrame,
    path: Path,
    catalogue: Catalogue,
    policy: OutreachPolicy,
    services: list[str],
    as_of: date,
    lang: str,
    shown: Path | None = None,
) -> None:
    """A printable list: charts, then one section (and printed page) per residence and
    district. ``shown`` is the path messages name when ``path`` is its temporary stand-in."""
    w = report_words(lang)
    names = {s: catalogue.services[s].name.get(lang) for s in services}
    sep = w.t("list_separator")
    justify = [s for s in services if s in policy.visit_for]
    also = [s for s in services if s not in policy.visit_for]
    title = html.escape(w.t("title"))
    parts = [
        "<!doctype html>",
        f'<html lang="{html.escape(lang)}"><head><meta charset="utf-8"><title>{title}</title>',
        "<style>body{font-family:sans-serif;font-size:11pt;margin:1.5em}"
        "table.list{border-collapse:collapse;width:100%;margin-bottom:1em}"
        "table.list th,table.list td{border:1px solid #999;padding:3px 6px;text-align:left;vertical-align:top}"
        "table.list th{background:#eee}td.n{text-align:right}section{break-after:page}"
        "@media print{section{page-break-after:always}}" + CHART_CSS + "</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>{html.escape(w.t('summary', people=f'{frame.height:,}', day=as_of.isoformat()))}</p>",
        f"<p>{html.escape(w.t('visit_for', services=sep.join(names[s] for s in justify)))}</p>",
    ]
    if also:
        parts.append(f"<p>{html.escape(w.t('also_on_visit', services=sep.join(names[s] for s in also)))}</p>")
    parts.append(f"<p>{html.escape(w.t('priority_rule'))}</p>")
    parts.append(f"<section>{charts_html(frame, names, services, w, catalogue.root)}</section>")
    if not frame.height:
        parts.append(f"<p>{html.escape(w.t('none_listed'))}</p>")
    else:
        groups = frame.partition_by(["residence", "district"], maintain_order=True, as_dict=True)
        header = "".join(
            f'<th scope="col">{html.escape(w.t(f"col.{c}"))}</th>'
            for c in (
                "row",
                "priority",
                "person",
                "age",
                "address",
                "reasons",
                "services",
                "to_check",
                "visited",
            )
        )
        for (residence, district), group in groups.items():
            place = residence_name(str(residence), lang, catalogue.root)
            where = w.t("district.unknown") if district is None else str(district)
            parts.append(f"<section><h2>{html.escape(place)} · {html.escape(where)}</h2>")
            parts.append(f'<table class="list"><tr>{header}</tr>')
            for rec in group.iter_rows(named=True):
                person = " ".join(str(rec[k]) for k in ("name", "id") if rec.get(k)) or w.t(
                    "person.row", row=rec["row"]
                )
                services_text = sep.join(names.get(s, s) for s in _split(rec["services"]))
                check_text = sep.join(names.get(s, s) for s in _split(rec["to_check"]))
                address = " ".join(str(rec[k]) for k in ("address", "phone") if rec.get(k))
                parts.append(
                    f"<tr><td class=n>{rec['row']}</td><td class=n>{rec['priority']}</td>"
                    f"<td>{html.escape(person)}</td><td class=n>{'' if rec['age'] is None else rec['age']}</td>"
                    f"<td>{html.escape(address)}</td><td>{html.escape(rec['reasons'] or '')}</td>"
                    f"<td>{html.escape(services_text)}</td><td>{html.escape(check_text)}</td><td>☐</td></tr>"
                )
            parts.append("</table></section>")
    parts.append("</body></html>")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise write_error(shown or path, exc) from None
