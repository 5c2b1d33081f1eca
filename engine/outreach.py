"""The proactive outreach list: whom to visit at home, for what, and who first.

From a register-like file (the columns of ``lifeevents batch`` plus optional register
columns), everyone *likely eligible* for a home-visit service (catalogue
``home_visit: true``) that they do not already receive, prioritised, with the reasons
and the services, for the staff who visit.

Readings, each a choice this module makes (docs/batch.md repeats them):

- **Likely eligible** is the status ``eligible`` from the same rules as ``recommend``.
  With ``--include-unknown`` a person whose status is ``unknown`` is listed too, under
  ``to_check``: the visit settles the missing facts.
- **Already receives** a service: its id is in the optional ``receives`` column (ids
  separated by ``;``; an empty cell means none is known to be received), or the
  person's household holds the certified welfare status that the service certifies
  (``household.welfare_status`` ``low`` is ``low-income-household``, ``middle_low`` is
  ``middle-low-income-household``: :data:`CERTIFIED_BY_STATUS`). A certified household
  still appears for the other services it may be missing.
- **Priority** adds points for what makes a visit urgent (:data:`PRIORITY`): aged 65+
  living alone (household of one), a disability, living in a remote county
  (:data:`REMOTE_COUNTIES`: Taitung, Hualien and the outlying islands Penghu, Kinmen and
  Lienchiang stand in for remote townships, which the profile does not record), a new
  immigrant (nationality foreign), and a recent major change (a job loss in the last
  12 months, or any special circumstance).
- Register columns, all optional and passed through: ``id``, ``name``, ``district``
  (township or district, for the per-district list), ``address``, ``phone``, ``receives``.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

import polars as pl

from engine.batch import BatchEvaluator, Compiler, Writer, input_format, iter_results
from engine.catalog import Catalogue
from engine.columns import write_error
from engine.outputs import atomic_outputs, check_readable, refuse_overwriting_input
from engine.profile import RESIDENCES

REGISTER_COLUMNS = ("id", "name", "district", "address", "phone", "receives")
# Headings of the printable list, for the staff who visit.
RESIDENCE_NAMES: dict[str, str] = {
    "taipei": "臺北市 Taipei", "new_taipei": "新北市 New Taipei", "taoyuan": "桃園市 Taoyuan",
    "taichung": "臺中市 Taichung", "tainan": "臺南市 Tainan", "kaohsiung": "高雄市 Kaohsiung",
    "keelung": "基隆市 Keelung", "hsinchu_city": "新竹市 Hsinchu City", "hsinchu_county": "新竹縣 Hsinchu County",
    "miaoli": "苗栗縣 Miaoli", "changhua": "彰化縣 Changhua", "nantou": "南投縣 Nantou", "yunlin": "雲林縣 Yunlin",
    "chiayi_city": "嘉義市 Chiayi City", "chiayi_county": "嘉義縣 Chiayi County", "pingtung": "屏東縣 Pingtung",
    "yilan": "宜蘭縣 Yilan", "hualien": "花蓮縣 Hualien", "taitung": "臺東縣 Taitung", "penghu": "澎湖縣 Penghu",
    "kinmen": "金門縣 Kinmen", "lienchiang": "連江縣 Lienchiang",
}  # fmt: skip
REMOTE_COUNTIES = ("taitung", "hualien", "penghu", "kinmen", "lienchiang")
CERTIFIED_BY_STATUS: dict[str, tuple[str, ...]] = {
    "low": ("low-income-household",),
    "middle_low": ("middle-low-income-household",),
}

# (reason id, points). Living alone at 80+ outweighs 65+; a severe disability a mild one.
PRIORITY: dict[str, int] = {
    "alone_80": 4,
    "alone_65": 3,
    "disability_severe": 3,
    "disability_moderate": 2,
    "disability_mild": 1,
    "job_loss": 2,
    "special_circumstances": 2,
    "remote": 1,
    "new_immigrant": 1,
}
REASON_TEXT: dict[str, dict[str, str]] = {
    "alone_80": {"en": "aged 80+ living alone", "zh-TW": "80 歲以上獨居"},
    "alone_65": {"en": "aged 65+ living alone", "zh-TW": "65 歲以上獨居"},
    "disability_severe": {"en": "severe or profound disability", "zh-TW": "重度或極重度身心障礙"},
    "disability_moderate": {"en": "moderate disability", "zh-TW": "中度身心障礙"},
    "disability_mild": {"en": "mild disability", "zh-TW": "輕度身心障礙"},
    "job_loss": {"en": "lost a job in the last 12 months", "zh-TW": "近 12 個月內失業"},
    "special_circumstances": {"en": "special circumstances", "zh-TW": "特殊境遇"},
    "remote": {"en": "remote county", "zh-TW": "偏遠縣市"},
    "new_immigrant": {"en": "new immigrant", "zh-TW": "新住民"},
}

OUTPUT_COLUMNS = (
    "row", "id", "name", "residence", "district", "address", "phone", "age",
    "priority", "reasons", "services", "to_check",
)  # fmt: skip


@dataclass
class OutreachSummary:
    rows: int = 0
    invalid: int = 0
    listed: int = 0
    services: int = 0


def home_visit_services(catalogue: Catalogue) -> list[str]:
    """The running services a social worker can take at home."""
    return [sid for sid, s in catalogue.services.items() if s.home_visit and s.ended is None]


def _receives(raw: pl.DataFrame) -> pl.Expr:
    """The ``receives`` column as a list of service ids (empty when not given)."""
    if "receives" not in raw.columns:
        return pl.lit([], dtype=pl.List(pl.String))
    col = pl.col("receives")
    if isinstance(raw.schema["receives"], pl.List):
        return col.cast(pl.List(pl.String)).fill_null([])
    text = col.cast(pl.String).str.replace_all(r"[\[\]\"\s]", "").fill_null("")
    return text.str.split(";").list.eval(pl.element().filter(pl.element() != ""))


def _already(service: str, receives: pl.Expr) -> pl.Expr:
    certified = [status for status, ids in CERTIFIED_BY_STATUS.items() if service in ids]
    by_status = (
        pl.col("household.welfare_status").is_in(certified).fill_null(False) if certified else pl.lit(False)
    )
    return receives.list.contains(pl.lit(service)) | by_status


def priority_reasons(compiler: Compiler, as_of: pl.Expr) -> list[tuple[str, pl.Expr]]:
    """(reason id, condition) pairs over the typed frame; an unknown fact gives no points."""
    age = compiler.fact("person.age").expr
    alone = pl.col("household.size") == 1
    level = pl.col("person.disability_level")
    lost = pl.col("events.job_loss.date")
    return [
        ("alone_80", alone & (age >= 80)),
        ("alone_65", alone & (age >= 65) & (age < 80)),
        ("disability_severe", level.is_in(["severe", "profound"])),
        ("disability_moderate", level == "moderate"),
        ("disability_mild", level == "mild"),
        ("job_loss", pl.col("events.job_loss.listed") & (lost <= as_of) & (lost > as_of.dt.offset_by("-1y"))),
        ("special_circumstances", pl.col("person.special_circumstances").list.len() > 0),
        ("remote", pl.col("residence").is_in(list(REMOTE_COUNTIES))),
        ("new_immigrant", pl.col("person.nationality") == "foreign"),
    ]


def select_candidates(
    raw: pl.DataFrame,
    typed: pl.DataFrame,
    statuses: pl.DataFrame,
    offset: int,
    compiler: Compiler,
    services: list[str],
    include_unknown: bool,
    lang: str,
) -> pl.DataFrame:
    """The rows of one chunk to visit, with their priority, reasons and services."""
    receives = _receives(raw)
    context = pl.concat(
        [typed, statuses.select([pl.col(s).cast(pl.String).alias(f"status:{s}") for s in services])],
        how="horizontal",
    )
    if "receives" in raw.columns:
        context = context.with_columns(raw["receives"])
    open_ = {s: ~_already(s, receives) for s in services}

    def listed(status: str) -> pl.Expr:
        items = [pl.when((pl.col(f"status:{s}") == status) & open_[s]).then(pl.lit(s)) for s in services]
        return pl.concat_list(items).list.drop_nulls() if items else pl.lit([], dtype=pl.List(pl.String))

    reasons = priority_reasons(compiler, compiler.as_of_expr())
    age = compiler.fact("person.age").expr
    points = pl.sum_horizontal(
        [pl.when(c.fill_null(False)).then(PRIORITY[r]).otherwise(0) for r, c in reasons]
    )
    words = pl.concat_list(
        [pl.when(c.fill_null(False)).then(pl.lit(REASON_TEXT[r][lang])) for r, c in reasons]
    ).list.drop_nulls()
    added = compiler.evaluate(
        context,
        {
            "row": pl.int_range(offset, offset + typed.height, dtype=pl.Int64),
            "age": age,
            "priority": points,
            "reasons": words.list.join("; "),
            "services": listed("eligible"),
            "to_check": listed("unknown") if include_unknown else pl.lit([], dtype=pl.List(pl.String)),
        },
    )
    frame = pl.concat([context, added], how="horizontal")
    keep = (pl.col("services").list.len() > 0) | (pl.col("to_check").list.len() > 0)
    frame = frame.filter(keep)
    register = [c for c in ("id", "name", "district", "address", "phone") if c in raw.columns]
    if register and frame.height:
        rows = frame["row"] - offset
        frame = frame.with_columns(raw[register][rows.to_list()].select(pl.all().cast(pl.String)))
    return frame.select(
        [pl.col(c) if c in frame.columns else pl.lit(None, dtype=pl.String).alias(c) for c in OUTPUT_COLUMNS]
    ).with_columns(pl.col("services").list.join("; "), pl.col("to_check").list.join("; "))


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
# injection"); a name or address from a register must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """The text columns with every cell that a spreadsheet would read as a formula
    prefixed by a single quote, which spreadsheets show as text."""
    pattern = "^[" + "".join(re.escape(c) for c in FORMULA_STARTS) + "]"
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(pattern)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def order(frame: pl.DataFrame) -> pl.DataFrame:
    """By residence (in the contract's order), district, then the most urgent first."""
    rank = {r: i for i, r in enumerate(RESIDENCES)}
    return (
        frame.with_columns(
            pl.col("residence").replace_strict(rank, default=len(rank), return_dtype=pl.Int32).alias("_r")
        )
        .sort(["_r", "district", "priority", "row"], descending=[False, False, True, False], nulls_last=True)
        .drop("_r")
    )


def run_outreach(
    catalogue: Catalogue,
    source: Path,
    target: Path,
    html: Path | None = None,
    as_of: date | None = None,
    include_unknown: bool = False,
    chunk_rows: int = 200_000,
    lang: str = "en",
    err: IO[str] | None = None,
    today: date | None = None,
    progress: Callable[[int], object] | None = None,
) -> OutreachSummary:
    err = err or sys.stderr
    services = home_visit_services(catalogue)
    html_target = target if target.suffix.lower() == ".html" else html
    if target.suffix.lower() != ".html":
        input_format(target)
    outputs = [target] if html_target in (None, target) else [target, html_target]
    input_format(source)
    check_readable(source)
    refuse_overwriting_input([source], outputs)
    evaluator = BatchEvaluator(catalogue)
    summary = OutreachSummary(services=len(services))
    parts: list[pl.DataFrame] = []
    compilers: dict[int, Compiler] = {}
    day = today or date.today()
    # Every output appears only when the whole run succeeded (engine.outputs).
    with atomic_outputs(*outputs) as partials:
        for raw, chunk, statuses, offset in iter_results(
            evaluator, source, as_of, chunk_rows, day, extra_columns=REGISTER_COLUMNS
        ):
            for _, message in chunk.problems:
                print(message, file=err)
            summary.rows += raw.height
            summary.invalid += len(chunk.problems)
            compiler = compilers.setdefault(chunk.width, Compiler(catalogue, chunk.width))
            typed = chunk.frame.filter(chunk.valid)
            kept_raw = raw.filter(chunk.valid)
            kept_statuses = statuses.filter(chunk.valid)
            rows = pl.Series(range(offset, offset + raw.height)).filter(chunk.valid)
            part = select_candidates(
                kept_raw, typed, kept_statuses, 0, compiler, services, include_unknown, lang
            )
            # select_candidates numbers the kept rows 0…; map them back to input rows.
            parts.append(part.with_columns(rows.gather(part["row"]).alias("row")))
            if progress is not None:
                progress(raw.height)  # rows done (the CLI's bar: engine/progress.py)
        listed = (
            order(pl.concat(parts))
            if parts
            else pl.DataFrame(schema=dict.fromkeys(OUTPUT_COLUMNS, pl.String))
        )
        summary.listed = listed.height
        if target.suffix.lower() != ".html":
            writer = Writer(partials[0], shown=target)
            try:
                writer.write(csv_safe(listed) if target.suffix.lower() == ".csv" else listed)
            except BaseException:
                writer.discard()
                raise
            writer.close()
        if html_target is not None:
            write_html(listed, partials[-1], catalogue, services, as_of or day, lang, shown=html_target)
    return summary


def write_html(
    frame: pl.DataFrame,
    path: Path,
    catalogue: Catalogue,
    services: list[str],
    as_of: date,
    lang: str,
    shown: Path | None = None,
) -> None:
    """A printable list: one section (and printed page) per residence and district.
    ``shown`` is the path messages name when ``path`` is its temporary stand-in."""
    names = {s: catalogue.services[s].name.get(lang) for s in services}
    title = "主動關懷到府服務名單" if lang.startswith("zh") else "Home-visit outreach list"
    parts = [
        "<!doctype html>",
        f'<html lang="{html.escape(lang)}"><head><meta charset="utf-8"><title>{title}</title>',
        "<style>body{font-family:sans-serif;font-size:11pt;margin:1.5em}"
        "table{border-collapse:collapse;width:100%;margin-bottom:1em}"
        "th,td{border:1px solid #999;padding:3px 6px;text-align:left;vertical-align:top}"
        "th{background:#eee}td.n{text-align:right}section{break-after:page}"
        "@media print{section{page-break-after:always}}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>As of {as_of.isoformat()} · {frame.height:,} people · services: "
        + ", ".join(html.escape(n) for n in names.values())
        + "</p>",
    ]
    if frame.height:
        groups = frame.with_columns(pl.col("district").fill_null("—")).partition_by(
            ["residence", "district"], maintain_order=True, as_dict=True
        )
        for (residence, district), group in groups.items():
            place = RESIDENCE_NAMES.get(str(residence), str(residence))
            parts.append(f"<section><h2>{html.escape(place)} · {html.escape(str(district))}</h2>")
            parts.append(
                "<table><tr><th>#</th><th>Priority</th><th>Person</th><th>Age</th><th>Address</th>"
                "<th>Reasons</th><th>Services</th><th>To check</th><th>Visited</th></tr>"
            )
            for rec in group.iter_rows(named=True):
                person = " ".join(str(rec[k]) for k in ("name", "id") if rec.get(k)) or f"row {rec['row']}"
                services_text = "; ".join(names.get(s, s) for s in rec["services"].split("; ") if s)
                check_text = "; ".join(names.get(s, s) for s in rec["to_check"].split("; ") if s)
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
