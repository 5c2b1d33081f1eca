"""The tabular form of a profile: one column per field in dotted form (profile.md, ``batch``).

A CSV or Parquet row is a profile flattened: ``person.birth_date``, ``household.size``,
``children.0.birth_date``, ``events.birth.date``. An empty cell is unknown. Three
control columns carry what a flat row cannot show by itself; each is optional:

``children.count``
    How many entries ``children`` has: ``0`` is ``children: []`` (no children). Empty:
    the list runs to the highest index with a filled cell, and with no filled cell the
    children are unknown (``children`` absent).
``events.known``
    ``true``: the row reports all its events (``events: {…}``), so an event with no
    filled cell was not listed and did not happen. ``false``: the events are unknown
    (``events`` absent); no event cell may then be filled. Empty: the events are known
    exactly when some event cell is filled, which is what unflattening the JSON gives.
``events.E.listed``
    ``true``: E is listed even with no detail (``E: {}``); ``false``: not listed;
    ``unknown``: whether E happened is unknown (``E: null``); empty: listed when one
    of its fields is filled. A listed-false or unknown event takes no field.
``partner.listed``
    The partner (profile.md, "Families"), whose fields are ``partner.birth_date``,
    ``partner.sex``… as ``person.*``'s. ``true``: a partner (``partner: {…}``, all
    cells empty: ``{}``); ``false``: no partner (``partner: false``), and no partner
    cell may be filled; empty: a partner when one of its cells is filled, else the
    partner is not considered (``partner`` absent), which is what unflattening the
    JSON gives. There is no ``unknown``: ``partner: null`` means absent.

Lists (``person.special_circumstances``) are written ``a;b`` (or ``a,b``) or as a JSON
array of strings, ``["a", "b"]``; ``[]`` is the empty list (:func:`_parse_list`). Booleans
are ``true`` / ``false``; dates ``YYYY-MM-DD``. Cells are read as they are, not trimmed:
`` female`` is as invalid as it is in JSON.

The checks are those of the pydantic :class:`~engine.language.profile.Profile`, read from the
model itself (types, choices, bounds, multiples) so that the two cannot drift apart, and
run as column expressions. :func:`flatten_profile` is the inverse mapping: JSON Lines
input goes through pydantic first and then through the same column path.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from pydantic import BaseModel

from engine.language.messages import SHOWN_CHARS, did_you_mean, shown
from engine.language.profile import EVENT_NAMES, MAX_CHILDREN, Child, Events, Person, Profile

# --- the schema, read from the pydantic model ------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One leaf of the profile: its type and the model's constraints on it."""

    kind: str  # date | bool | int | float | enum | list
    choices: tuple[str, ...] = ()
    ge: Any = None  # a number, or a date for a date
    le: Any = None
    multiple_of: float | None = None


DTYPES: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "bool": pl.Boolean(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "enum": pl.String(),
    "list": pl.List(pl.String()),
}


def _spec_of(annotation: Any) -> FieldSpec:
    """Reduce ``Annotated[int, Field(ge=0)] | None`` and friends to a :class:`FieldSpec`."""
    constraints: dict[str, float] = {}
    kind = None
    choices: tuple[str, ...] = ()
    stack = [annotation]
    while stack:
        ann = stack.pop()
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            base, *meta = typing.get_args(ann)
            for m in meta:
                for c in getattr(m, "metadata", [m]):
                    for name in ("ge", "le", "multiple_of"):
                        if getattr(c, name, None) is not None:
                            constraints[name] = getattr(c, name)
            stack.append(base)
        elif origin is typing.Literal:
            kind, choices = "enum", tuple(str(a) for a in typing.get_args(ann))
        elif origin is list:
            (item,) = typing.get_args(ann)
            kind, choices = "list", _spec_of(item).choices
        elif typing.get_args(ann):  # a union: X | None
            stack.extend(a for a in typing.get_args(ann) if a is not type(None))
        elif ann is bool:
            kind = "bool"
        elif ann is int:
            kind = "int"
        elif ann is float:
            kind = "float"
        elif ann is date:
            kind = "date"
    if kind is None:
        raise TypeError(f"no column type for {annotation!r}")
    return FieldSpec(
        kind, choices, constraints.get("ge"), constraints.get("le"), constraints.get("multiple_of")
    )


def _leaves(model: type[BaseModel], prefix: str) -> dict[str, FieldSpec]:
    return {f"{prefix}{name}": _spec_of(f.annotation) for name, f in model.model_fields.items()}


def _event_model(event: str) -> type[BaseModel]:
    return typing.get_args(Events.model_fields[event].annotation)[0]


def profile_specs() -> dict[str, FieldSpec]:
    """Every profile-scope column (children apart), in the model's field order."""
    specs = {
        "as_of": _spec_of(Profile.model_fields["as_of"].annotation),
        "residence": _spec_of(Profile.model_fields["residence"].annotation),
    }
    for section in ("person", "household"):
        specs |= _leaves(Profile.model_fields[section].annotation, f"{section}.")  # type: ignore[arg-type]
    for event in EVENT_NAMES:
        specs |= _leaves(_event_model(event), f"events.{event}.")
    for section in ("assets", "student_loan"):
        specs |= _leaves(Profile.model_fields[section].annotation, f"{section}.")  # type: ignore[arg-type]
    return specs


def child_specs() -> dict[str, FieldSpec]:
    """The fields of one entry of ``children``, by field name."""
    return {name: _spec_of(f.annotation) for name, f in Child.model_fields.items()}


PROFILE_SPECS = profile_specs()
CHILD_SPECS = child_specs()
EVENT_FIELDS = {e: [p for p in PROFILE_SPECS if p.startswith(f"events.{e}.")] for e in EVENT_NAMES}
# The partner's columns are apart from PROFILE_SPECS: a frame has them only when its
# input does, so that an input without them is read (and answered) exactly as before.
PARTNER_SPECS = _leaves(Person, "partner.")
PARTNER_LISTED = "partner.listed"
CONTROL_COLUMNS = (
    "children.count",
    "events.known",
    *(f"events.{e}.listed" for e in EVENT_NAMES),
    PARTNER_LISTED,
)
_CHILD_COLUMN = re.compile(r"^children\.(0|[1-9]\d*)\.([a-z_]+)$")  # no leading zeros: one name per slot


def child_column(index: int, name: str) -> str:
    return f"children.{index}.{name}"


class FileError(ValueError):
    """The file as a whole cannot be read or written (one line for the user, exit 2)."""


def write_error(path: Any, exc: Exception) -> FileError:
    """One line for a failed write, from an OSError or a polars error alike."""
    reason = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return FileError(f"{path}: cannot write: {reason}")


def check_header(columns: Iterable[str], source: str, extra: Iterable[str] = ()) -> None:
    """Unknown columns are an error, with the closest valid name (a typo must not
    silently become "unknown"); so is a child beyond the profile's :data:`MAX_CHILDREN`,
    before any column is built for it (``children.99999999999.order`` took 10 GB)."""
    allowed = set(PROFILE_SPECS) | set(PARTNER_SPECS) | set(CONTROL_COLUMNS) | set(extra)
    for col in columns:
        if col in allowed:
            continue
        m = _CHILD_COLUMN.match(col)
        if m and m[2] in CHILD_SPECS:
            if len(m[1]) > 2 or int(m[1]) >= MAX_CHILDREN:
                raise FileError(
                    f"{source}: column '{shown(col)}': a profile has at most {MAX_CHILDREN} children "
                    f"(children.0 to children.{MAX_CHILDREN - 1})"
                )
            continue
        pool = [*allowed, *(child_column(0, n) for n in CHILD_SPECS)]
        hint = did_you_mean(col, pool) if len(col) <= SHOWN_CHARS else ""
        raise FileError(f"{source}: unknown column '{shown(col)}'{hint}")


def child_width(columns: Iterable[str]) -> int:
    """One more than the highest child index among the columns."""
    indices = [int(m[1]) for c in columns if (m := _CHILD_COLUMN.match(c))]
    return max(indices) + 1 if indices else 0


# --- from JSON to the tabular form ----------------------------------------------------


def cell_text(value: Any) -> str | None:
    """A JSON value as a CSV cell: what the column parser reads back to the same value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return ";".join(str(v) for v in value) if value else "[]"
    return str(value)


def flatten_profile(profile: Profile) -> dict[str, str]:
    """A validated profile as dotted cells; unknown facts get no cell.

    The control columns are always written, so the row means exactly what the profile
    means: ``children.count`` keeps a trailing all-unknown child, ``events.known`` keeps
    "no event" apart from "events unknown", ``listed: unknown`` keeps ``E: null``.
    """
    # model_dump runs in pydantic's core: twice as fast as walking the fields here.
    data = profile.model_dump(mode="json", exclude_none=True)
    out: dict[str, str] = {}
    for key in ("as_of", "residence"):
        if key in data:
            out[key] = str(data[key])
    for section in ("person", "household", "assets", "student_loan"):
        for name, value in data.get(section, {}).items():
            out[f"{section}.{name}"] = cell_text(value)  # type: ignore[assignment]
    if profile.partner is not None:
        out[PARTNER_LISTED] = "false" if profile.partner is False else "true"
        for name, value in (data["partner"] or {}).items():
            out[f"partner.{name}"] = cell_text(value)  # type: ignore[assignment]
    if profile.children is not None:
        out["children.count"] = str(len(profile.children))
        for i, child in enumerate(data["children"]):
            for name, value in child.items():
                out[child_column(i, name)] = cell_text(value)  # type: ignore[assignment]
    if profile.events is not None:
        out["events.known"] = "true"
        for event in EVENT_NAMES:
            if event not in profile.events.model_fields_set:
                continue
            record = data["events"].get(event)
            if record is None:  # given as null: unknown whether it happened
                out[f"events.{event}.listed"] = "unknown"
                continue
            out[f"events.{event}.listed"] = "true"
            for name, value in record.items():
                out[f"events.{event}.{name}"] = cell_text(value)  # type: ignore[assignment]
    return out


def unflatten_row(cells: dict[str, Any]) -> dict[str, Any]:
    """A row of typed cells (a polars row: dates as dates, lists as lists) as the JSON
    profile it stands for, reading the control columns as the module docstring says.

    The column path does not use this: it is the plain statement of the reading, for
    the differential tests and for anyone converting a register row to a profile.
    """
    data: dict[str, Any] = {}
    children: dict[int, dict[str, Any]] = {}
    events: dict[str, dict[str, Any]] = {}
    for key, value in cells.items():
        if value is None or key in CONTROL_COLUMNS:
            continue
        value = value.isoformat() if isinstance(value, date) else value
        m = _CHILD_COLUMN.match(key)
        if m:
            children.setdefault(int(m[1]), {})[m[2]] = value
        elif key.startswith("events."):
            _, event, name = key.split(".", 2)
            events.setdefault(event, {})[name] = value
        elif "." in key:
            section, name = key.split(".", 1)
            data.setdefault(section, {})[name] = value
        else:
            data[key] = value
    count = cells.get("children.count")
    if count is None and children:
        count = max(children) + 1
    if count is not None:
        data["children"] = [children.get(i, {}) for i in range(int(count))]
    known = _word(cells.get("events.known"))
    words = {e: _word(cells.get(f"events.{e}.listed")) for e in EVENT_NAMES}
    present = known == "true" or (
        known is None and (bool(events) or any(w is not None for w in words.values()))
    )
    if present:
        out: dict[str, Any] = {}
        for event in EVENT_NAMES:
            word = words[event]
            if word == "unknown":
                out[event] = None
            elif word == "true" or (word is None and event in events):
                out[event] = events.get(event, {})
        data["events"] = out
    partner = _word(cells.get(PARTNER_LISTED))
    if partner == "false":
        data["partner"] = False
    elif partner == "true":
        data.setdefault("partner", {})
    return data


def _word(value: Any) -> str | None:
    if value is None:
        return None
    return ("true" if value else "false") if isinstance(value, bool) else str(value).lower()


# --- parsing and checking one column ----------------------------------------------------
#
# Two stages, each materialised: stage 1 reads every cell into the model's type (null
# where it does not parse) and notes which cells were given; stage 2 checks the typed
# values against the model's bounds. Polars does not share a subexpression that two
# expressions of one select both use, so building the checks on stage 1's columns keeps
# every cell parsed once (10× faster than one select).

_DATE = r"^\d{4}-\d{2}-\d{2}$"
_BOOLEAN_WORDS = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}
GIVEN = "given:"
BAD = "bad:"


def read_cell(col: pl.Expr, dtype: pl.DataType, spec: FieldSpec) -> tuple[pl.Expr, pl.Expr]:
    """(value, given): the cell in the model's type, null where it does not parse; and
    whether a cell was given at all (a blank text cell is not)."""
    if isinstance(dtype, pl.Null):
        return pl.lit(None, dtype=DTYPES[spec.kind]), pl.lit(False)
    native = _native(col, dtype, spec)
    if native is not None:
        return native, col.is_not_null()
    # Any other type goes through its text form, judged as pydantic judges the JSON value.
    # Cells are not trimmed: a padded value is as invalid as in JSON (and trimming costs a
    # third of the parse).
    text = col if dtype == pl.String else col.cast(pl.String)
    given = (text.str.len_bytes() > 0).fill_null(False)
    value: pl.Expr
    if spec.kind == "date":
        value = pl.when(text.str.contains(_DATE)).then(text.str.to_date("%Y-%m-%d", strict=False))
    elif spec.kind == "bool":
        value = text.replace_strict(_BOOLEAN_WORDS, default=None, return_dtype=pl.Boolean)
    elif spec.kind == "int":
        # Digits with an optional sign; or a whole number written with a decimal point
        # ("30000.0"), which the model accepts in JSON too.
        value = pl.coalesce(text.str.to_integer(strict=False), _whole(text.cast(pl.Float64, strict=False)))
    elif spec.kind == "float":
        value = text.cast(pl.Float64, strict=False)
    elif spec.kind == "enum":
        value = pl.when(text.is_in(list(spec.choices))).then(text)
    else:
        value = _parse_list(text)
    return value.cast(DTYPES[spec.kind]), given


def _native(col: pl.Expr, dtype: pl.DataType, spec: FieldSpec) -> pl.Expr | None:
    """A column that already holds the model's type (Parquet, a generated frame), or None."""
    if (spec.kind == "date" and dtype == pl.Date) or (spec.kind == "bool" and dtype == pl.Boolean):
        return col
    if (spec.kind in ("int", "float") and dtype.is_integer()) or (spec.kind == "float" and dtype.is_float()):
        return col.cast(DTYPES[spec.kind])
    if spec.kind == "int" and dtype.is_float():
        return _whole(col)
    if spec.kind == "enum" and isinstance(dtype, pl.Categorical | pl.Enum | pl.String):
        text = col.cast(pl.String)
        return pl.when(text.is_in(list(spec.choices))).then(text)
    if spec.kind == "list" and isinstance(dtype, pl.List):
        return col.cast(pl.List(pl.String))
    return None


def _whole(number: pl.Expr) -> pl.Expr:
    """A float that is a whole number, as an integer (profile._whole_number); else null."""
    whole = number.is_finite() & (number == number.floor()) & (number.abs() < 2.0**62)
    return pl.when(whole).then(number.cast(pl.Int64))


def check_value(value: pl.Expr, given: pl.Expr, spec: FieldSpec) -> pl.Expr:
    """True where a given cell did not parse or breaks the model's constraints."""
    bad = given & value.is_null()
    if spec.kind in ("int", "float"):
        if spec.ge is not None:
            bad = bad | (value < spec.ge)
        if spec.le is not None:
            bad = bad | (value > spec.le)
        if spec.multiple_of is not None:
            # pydantic-core's own test: |x - round(x / m) * m| > 1e-9, rounding half away from zero.
            q = value / spec.multiple_of
            nearest = q.abs().add(0.5).floor() * q.sign()
            bad = bad | ((value - nearest * spec.multiple_of).abs() > 1e-9)
        if spec.kind == "float":
            bad = bad | ~value.is_finite()
    if spec.kind == "date":
        if spec.ge is not None:
            bad = bad | (value < spec.ge)
        if spec.le is not None:
            bad = bad | (value > spec.le)
    if spec.kind == "list":
        bad = bad | value.list.eval(~pl.element().is_in(list(spec.choices))).list.any()
    return bad.fill_null(False)


_JSON_SPACE = r"[ \t\n\r]*"
_JSON_ITEM = r'"[^"\\\x00-\x1f]*"'  # a JSON string without escapes: no valid item needs one
_JSON_LIST = rf"^\[{_JSON_SPACE}(?:{_JSON_ITEM}{_JSON_SPACE}(?:,{_JSON_SPACE}{_JSON_ITEM}{_JSON_SPACE})*)?\]$"
"""A list cell in JSON: an array of strings, whitespace between its tokens as JSON allows."""


def _parse_list(text: pl.Expr) -> pl.Expr:
    """A cell that opens with ``[`` is a JSON array (``["a", "b"]``, ``[]`` for none): null
    (a bad cell) unless it is exactly one, as an unclosed ``["a"`` or a stray ``[`` once
    read as ``[]``. Any other cell is items separated by ``;`` or ``,`` (``a;b``), each
    read as written, so that a padded or empty item is refused as in JSON."""
    json_items = text.str.extract_all(r'"[^"]*"').list.eval(pl.element().str.strip_chars('"'))
    separated = text.str.replace_all(",", ";", literal=True).str.split(";")
    return (
        pl.when(text.str.starts_with("["))
        .then(pl.when(text.str.contains(_JSON_LIST)).then(json_items))
        .when(text.str.len_bytes() > 0)
        .then(separated)
    )


def _list_syntax_broken(cell: Any) -> bool:
    """A list cell that opens as a JSON array and is not one (its message says so)."""
    return isinstance(cell, str) and cell.startswith("[") and re.fullmatch(_JSON_LIST, cell) is None


# --- a whole chunk ------------------------------------------------------------------------


@dataclass
class Chunk:
    """A chunk of input in the canonical typed form, with the rows that failed."""

    frame: pl.DataFrame  # canonical columns; as_of always known
    valid: pl.Series  # Boolean, one per row
    problems: list[tuple[int, str]]  # (row, "row N: key.path: problem") for the rows that failed
    width: int  # child columns children.0 … children.{width-1}
    partner: bool = False  # the frame has the partner's columns (canonical_schema)


def canonical_schema(width: int, partner: bool = False) -> dict[str, pl.DataType]:
    """The typed frame the evaluator reads, with ``width`` child slots, and with the
    partner's columns when ``partner`` (``partner.listed``: true a partner, false none,
    null not considered)."""
    schema = {path: DTYPES[spec.kind] for path, spec in PROFILE_SPECS.items()}
    schema |= {f"events.{e}.listed": pl.Boolean() for e in EVENT_NAMES}
    schema["children.count"] = pl.Int64()
    for i in range(width):
        schema |= {child_column(i, n): DTYPES[s.kind] for n, s in CHILD_SPECS.items()}
    if partner:
        schema |= {path: DTYPES[spec.kind] for path, spec in PARTNER_SPECS.items()}
        schema[PARTNER_LISTED] = pl.Boolean()
    return schema


def _listed_word(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """An ``events.known`` / ``events.E.listed`` cell as lowercase text (bool columns too)."""
    if dtype == pl.Boolean:
        # The words a cast to text gives, without it: casting and lowercasing the control
        # columns of a Parquet file cost half of reading every other cell.
        return pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false"))
    text = col.cast(pl.String).str.to_lowercase()
    return pl.when(text.str.len_bytes() > 0).then(text)


def _spec_for(column: str) -> FieldSpec | None:
    m = _CHILD_COLUMN.match(column)
    if m:
        return CHILD_SPECS.get(m[2])
    return PROFILE_SPECS.get(column) or PARTNER_SPECS.get(column)


def normalise(
    raw: pl.DataFrame,
    row_offset: int,
    as_of_default: date,
    as_of_override: date | None = None,
    prior: dict[int, str] | None = None,
    partner: bool | None = None,
) -> Chunk:
    """Parse and check a chunk of dotted columns into the canonical typed frame.

    ``prior`` holds problems already found for some rows, keyed by row number (JSON
    Lines: pydantic's); those rows are invalid whatever their cells say. ``partner``:
    whether the frame gets the partner's columns (None: when the chunk has some; a JSON
    Lines file decides once for all its chunks).
    """
    columns = raw.columns
    if partner is None:
        partner = any(c == PARTNER_LISTED or c in PARTNER_SPECS for c in columns)
    schema = raw.schema
    n = raw.height
    all_width = child_width(columns)
    width = min(all_width, MAX_CHILDREN)
    count_spec = FieldSpec("int", ge=0, le=MAX_CHILDREN)

    # Stage 1: typed values and given flags of every cell; control words.
    stage1: list[pl.Expr] = []
    specs: dict[str, FieldSpec] = {}
    for column in columns:
        spec = count_spec if column == "children.count" else _spec_for(column)
        if spec is None:
            if column == "events.known" or column.endswith(".listed"):
                stage1.append(_listed_word(pl.col(column), schema[column]).alias(column))
            continue
        value, given = read_cell(pl.col(column), schema[column], spec)
        stage1 += [value.alias(column), given.alias(GIVEN + column)]
        specs[column] = spec
    s1 = raw.select(stage1) if stage1 else pl.DataFrame(height=n)

    # Stage 2: the checks, and the control columns read from the given flags.
    bad: dict[str, pl.Expr] = {
        BAD + c: check_value(pl.col(c), pl.col(GIVEN + c), spec) for c, spec in specs.items()
    }
    messages: dict[str, str] = {}
    control: dict[str, pl.Expr] = {}

    def filled(prefix: str) -> pl.Expr:
        flags = [pl.col(GIVEN + c) for c in specs if c.startswith(prefix) and c != "children.count"]
        return pl.any_horizontal(flags) if flags else pl.lit(False)

    highest = pl.lit(None, dtype=pl.Int64)
    for i in range(all_width):
        highest = pl.when(filled(f"children.{i}.")).then(pl.lit(i + 1, dtype=pl.Int64)).otherwise(highest)
    if "children.count" in specs:
        messages[BAD + "children.count"] = f"must be a whole number from 0 to {MAX_CHILDREN}"
        bad[BAD + "children.count#short"] = (pl.col("children.count") < highest).fill_null(False)
        messages[BAD + "children.count#short"] = "fewer than the children whose cells are filled"
        control["children.count"] = pl.coalesce(pl.col("children.count"), highest)
    else:
        control["children.count"] = highest
    if all_width > MAX_CHILDREN:
        bad[BAD + "children#max"] = (highest > MAX_CHILDREN).fill_null(False)
        messages[BAD + "children#max"] = f"at most {MAX_CHILDREN} children"

    listed_words = {c for c in columns if c.startswith("events.") and c.endswith(".listed")}
    any_event = pl.any_horizontal([filled("events."), *(pl.col(c).is_not_null() for c in listed_words)])
    if "events.known" in columns:
        word = pl.col("events.known")
        bad[BAD + "events.known"] = (word.is_not_null() & ~word.is_in(["true", "false"])).fill_null(False)
        messages[BAD + "events.known"] = "is true, false or empty"
        bad[BAD + "events.known#false"] = ((word == "false") & any_event).fill_null(False)
        messages[BAD + "events.known#false"] = "false (events unknown), but an event cell is filled"
        present = pl.when(word == "true").then(True).when(word == "false").then(False).otherwise(any_event)
    else:
        present = any_event
    for event in EVENT_NAMES:
        has_data = filled(f"events.{event}.")
        column = f"events.{event}.listed"
        if column in listed_words:
            word = pl.col(column)
            bad[BAD + column] = (word.is_not_null() & ~word.is_in(["true", "false", "unknown"])).fill_null(
                False
            )
            messages[BAD + column] = "is true, false, unknown or empty"
            bad[BAD + column + "#data"] = (word.is_in(["false", "unknown"]) & has_data).fill_null(False)
            messages[BAD + column + "#data"] = "false or unknown, but a field of the event is filled"
            listed = (
                pl.when(word == "true")
                .then(True)
                .when(word == "false")
                .then(False)
                .when(word == "unknown")
                .then(None)
                .otherwise(has_data)
            )
        else:
            listed = has_data
        control[column] = pl.when(present).then(listed)
    if partner:
        has_partner = filled("partner.")
        if PARTNER_LISTED in columns:
            word = pl.col(PARTNER_LISTED)
            bad[BAD + PARTNER_LISTED] = (word.is_not_null() & ~word.is_in(["true", "false"])).fill_null(False)
            messages[BAD + PARTNER_LISTED] = "is true, false or empty"
            bad[BAD + PARTNER_LISTED + "#data"] = ((word == "false") & has_partner).fill_null(False)
            messages[BAD + PARTNER_LISTED + "#data"] = "false (no partner), but a partner cell is filled"
            control[PARTNER_LISTED] = (
                pl.when(word == "true")
                .then(True)
                .when(word == "false")
                .then(False)
                .when(has_partner)
                .then(True)
                .otherwise(None)
            )
        else:
            control[PARTNER_LISTED] = pl.when(has_partner).then(True).otherwise(None)
    s2 = s1.with_columns([e.alias(k) for k, e in bad.items()] + [e.alias(k) for k, e in control.items()])

    # Stage 3: the canonical frame; a value that broke the model is unknown (its row is invalid).
    # A row may count more children than it has cells for (``children: [{}, {}]``): their
    # slots exist, with every fact unknown.
    counted = s2["children.count"].filter(s2["children.count"] <= MAX_CHILDREN).max()
    width = max(width, int(counted) if counted is not None else 0)
    typed_schema = canonical_schema(width, partner)
    out: list[pl.Expr] = []
    for column, dtype in typed_schema.items():
        if column in control:
            out.append(pl.col(column).cast(dtype))
        elif column in specs:
            out.append(
                pl.when(pl.col(BAD + column)).then(None).otherwise(pl.col(column)).cast(dtype).alias(column)
            )
        else:
            out.append(pl.lit(None, dtype=dtype).alias(column))
    frame = s2.select(out)
    # as_of: --as-of overrides the row's, as in `recommend`; a row without one is read today.
    as_of = pl.lit(as_of_override) if as_of_override is not None else pl.col("as_of").fill_null(as_of_default)
    frame = frame.with_columns(as_of.cast(pl.Date).alias("as_of"))

    problems = dict(prior or {})
    if bad:
        flags = s2.select(list(bad))
        rows = flags.select(pl.any_horizontal(pl.all()).alias("x"))["x"].arg_true().to_list()
        if rows:
            sub_flags, sub_raw = flags[rows], raw[rows]
            for k, idx in enumerate(rows):
                if idx + row_offset in problems:
                    continue
                hits = [
                    name[len(BAD) :]
                    for name, flag in zip(flags.columns, sub_flags.row(k), strict=True)
                    if flag
                ]
                described = _describe(hits, sub_raw.row(k, named=True), messages)
                problems[idx + row_offset] = f"row {idx + row_offset}: {described}"
    valid = pl.Series("valid", [True] * n, dtype=pl.Boolean)
    invalid = [r - row_offset for r in problems if row_offset <= r < row_offset + n]
    if invalid:
        valid = valid.scatter(invalid, False)
    return Chunk(frame, valid, sorted(problems.items()), width, partner)


def _describe(hits: list[str], row: dict[str, Any], messages: dict[str, str]) -> str:
    """``key.path: problem (got …)`` for the first problem, and how many more."""
    first = hits[0]
    column = first.split("#")[0]
    got = row.get(column)
    what = messages[BAD + first] if BAD + first in messages else _expectation(column, got)
    quoted = f" (got {shown(json.dumps(got, ensure_ascii=False, default=str))})" if got is not None else ""
    more = f" (and {len(hits) - 1} more problem(s))" if len(hits) > 1 else ""
    return f"{column}: {what}{quoted}{more}"


def _expectation(column: str, got: Any = None) -> str:
    spec = _spec_for(column)
    if spec is None:
        return "is not valid"
    if spec.kind == "date":
        if spec.ge is not None and spec.le is not None:
            return f"must be a date (YYYY-MM-DD) from {spec.ge} to {spec.le}"
        return "not a valid date (YYYY-MM-DD)"
    if spec.kind == "bool":
        return "must be true or false"
    if spec.kind == "enum":
        return f"must be one of {', '.join(spec.choices)}"
    if spec.kind == "list" and _list_syntax_broken(got):
        return 'not a JSON array of strings: ["a", "b"], or [] for none'
    if spec.kind == "list":
        return f"items must be among {', '.join(spec.choices)} (a;b, or [] for none)"
    bounds = []
    if spec.ge is not None:
        bounds.append(f"≥ {spec.ge:g}")
    if spec.le is not None:
        bounds.append(f"≤ {spec.le:g}")
    if spec.multiple_of is not None:
        bounds.append(f"a multiple of {spec.multiple_of:g}")
    number = "a whole number" if spec.kind == "int" else "a number"
    return f"must be {number}" + (f" {', '.join(bounds)}" if bounds else "")
