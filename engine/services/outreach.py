"""The proactive outreach list: whom to visit at home, for what, and who first.

From a register-like file (the columns of ``lifeevents batch`` plus optional register
columns), everyone worth a visit, with the reasons and the services, for the staff who
visit. What is worth a visit and who comes first is data, ``rules/outreach.yaml``
(engine/language/outreach_policy.py); this module applies it to the statuses of the column-wise
evaluator. Readings, each a choice this module makes (docs/batch.md repeats them):

- **Likely eligible** is the status ``eligible`` from the same rules as ``recommend``.
  With ``--include-unknown`` a person whose status is ``unknown`` is listed too, under
  ``to_check``: the visit settles the missing facts.
- **Worth a visit**: likely eligible for a service that justifies one (``visit_for``) and
  not already received. The catalogue's other home-visit services (``home_visit: true``)
  are listed beside it, done on the same visit, but never list a person by themselves.
- **Already receives** a service: its id is in the optional ``receives`` column (ids
  separated by ``;``; an empty cell means none is known to be received), or the
  household holds the certified welfare status that the service certifies
  (``certified_by_status``). A certified household still appears for the other
  services it may be missing.
- **Priority** = ``need`` (the points of each need met: age and living alone, a
  disability, low income, a recent job loss or special circumstance, a remote county, a
  new immigrant; an unknown fact gives none) + ``value`` (the value of each service that
  justifies the visit and that the person is likely eligible for).
- Register columns, all optional and passed through: ``id``, ``name``, ``district``
  (township or district, for the per-district list), ``address``, ``phone``, ``receives``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

import polars as pl

from engine.language.catalog import Catalogue
from engine.language.outreach_policy import Need, OutreachPolicy, outreach_policy
from engine.language.profile import RESIDENCES
from engine.services.batch import BatchEvaluator, Compiler, Writer, input_format, iter_results
from engine.services.outputs import atomic_outputs, check_readable, refuse_overwriting_input
from engine.services.outreach_report import write_html

REGISTER_COLUMNS = ("id", "name", "district", "address", "phone", "receives")

OUTPUT_COLUMNS = (
    "row", "id", "name", "residence", "district", "address", "phone", "age",
    "priority", "need", "value", "reasons", "services", "to_check",
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


def _already(service: str, receives: pl.Expr, policy: OutreachPolicy) -> pl.Expr:
    certified = policy.certified(service)
    by_status = (
        pl.col("household.welfare_status").is_in(certified).fill_null(False) if certified else pl.lit(False)
    )
    return receives.list.contains(pl.lit(service)) | by_status


def priority_reasons(compiler: Compiler, policy: OutreachPolicy) -> list[tuple[Need, pl.Expr]]:
    """Each need of the policy with its condition over the typed frame (null: unknown)."""
    return [(need, compiler.condition(need.when)) for need in policy.needs]


def select_candidates(
    raw: pl.DataFrame,
    typed: pl.DataFrame,
    statuses: pl.DataFrame,
    offset: int,
    compiler: Compiler,
    services: list[str],
    include_unknown: bool,
    lang: str,
    policy: OutreachPolicy,
) -> pl.DataFrame:
    """The rows of one chunk to visit, with their priority, reasons and services.

    Listed: likely eligible (or, with ``include_unknown``, perhaps eligible) for a service
    that justifies a visit (``policy.visit_for``) and not already received; the other
    home-visit services come along in ``services``, done on the same visit."""
    receives = _receives(raw)
    context = pl.concat(
        [typed, statuses.select([pl.col(s).cast(pl.String).alias(f"status:{s}") for s in services])],
        how="horizontal",
    )
    if "receives" in raw.columns:
        context = context.with_columns(raw["receives"])
    open_ = {s: ~_already(s, receives, policy) for s in services}

    def offered(s: str, status: str) -> pl.Expr:
        return ((pl.col(f"status:{s}") == status) & open_[s]).fill_null(False)

    def listed(status: str) -> pl.Expr:
        items = [pl.when(offered(s, status)).then(pl.lit(s)) for s in services]
        return pl.concat_list(items).list.drop_nulls() if items else pl.lit([], dtype=pl.List(pl.String))

    justifying = [s for s in services if s in policy.visit_for]
    statuses_that_list = ("eligible", "unknown") if include_unknown else ("eligible",)
    worth_a_visit = pl.any_horizontal(
        [offered(s, status) for s in justifying for status in statuses_that_list] or [pl.lit(False)]
    )
    value = pl.sum_horizontal(
        [pl.when(offered(s, "eligible")).then(policy.visit_for[s].value).otherwise(0) for s in justifying]
        or [pl.lit(0)]
    )
    reasons = priority_reasons(compiler, policy)
    age = compiler.fact("person.age").expr
    need = pl.sum_horizontal(
        [pl.when(c.fill_null(False)).then(n.points).otherwise(0) for n, c in reasons] or [pl.lit(0)]
    )
    words = (
        pl.concat_list([pl.when(c.fill_null(False)).then(pl.lit(n.text.get(lang))) for n, c in reasons])
        if reasons
        else pl.lit([], dtype=pl.List(pl.String))
    ).list.drop_nulls()
    added = compiler.evaluate(
        context,
        {
            "row": pl.int_range(offset, offset + typed.height, dtype=pl.Int64),
            "age": age,
            "priority": need + value,
            "need": need,
            "value": value,
            "reasons": words.list.join("; "),
            "services": listed("eligible"),
            "to_check": listed("unknown") if include_unknown else pl.lit([], dtype=pl.List(pl.String)),
            "_worth_a_visit": worth_a_visit,
        },
    )
    frame = pl.concat([context, added], how="horizontal").filter(pl.col("_worth_a_visit"))
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
    """By residence (in the contract's order), district, then the highest priority first
    (of equal priority, the greater need)."""
    rank = {r: i for i, r in enumerate(RESIDENCES)}
    return (
        frame.with_columns(
            pl.col("residence").replace_strict(rank, default=len(rank), return_dtype=pl.Int32).alias("_r")
        )
        .sort(
            ["_r", "district", "priority", "need", "row"],
            descending=[False, False, True, True, False],
            nulls_last=True,
        )
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
    policy = outreach_policy(catalogue)
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
    # Every output appears only when the whole run succeeded (engine.services.outputs).
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
                kept_raw, typed, kept_statuses, 0, compiler, services, include_unknown, lang, policy
            )
            # select_candidates numbers the kept rows 0…; map them back to input rows.
            parts.append(part.with_columns(rows.gather(part["row"]).alias("row")))
            if progress is not None:
                progress(raw.height)  # rows done (the CLI's bar: engine/interfaces/progress.py)
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
            write_html(
                listed, partials[-1], catalogue, policy, services, as_of or day, lang, shown=html_target
            )
    return summary
