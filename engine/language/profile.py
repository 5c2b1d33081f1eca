"""The citizen profile: the vocabulary of ``spec/profile.md`` as a pydantic model.

A field that is absent or ``null`` is *unknown*; the model keeps it as ``None`` and
nothing downstream may read ``None`` as zero or false. Unknown keys are errors (a typo
must not silently become "unknown"), and so are wrong types: strict mode stops pydantic
from turning ``"3"`` into ``3``. Dates are the one exception to strictness, because JSON
carries them as strings.
"""

# No ``from __future__ import annotations`` here: the models' annotations are objects
# already, which pydantic would otherwise evaluate from strings on every start (about
# 2 ms of each one-off ``lifeevents recommend``).

import json
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from engine.language.messages import closest, shown
from engine.language.yamlsafe import without_timestamps, yaml12_booleans

Residence = Literal[
    "taipei",
    "new_taipei",
    "taoyuan",
    "taichung",
    "tainan",
    "kaohsiung",
    "keelung",
    "hsinchu_city",
    "hsinchu_county",
    "miaoli",
    "changhua",
    "nantou",
    "yunlin",
    "chiayi_city",
    "chiayi_county",
    "pingtung",
    "yilan",
    "hualien",
    "taitung",
    "penghu",
    "kinmen",
    "lienchiang",
]
RESIDENCES: tuple[str, ...] = Residence.__args__  # type: ignore[attr-defined]
DisabilityLevel = Literal["none", "mild", "moderate", "severe", "profound"]
Nationality = Literal["roc", "foreign"]
SpecialCircumstance = Literal[
    "spouse_deceased_or_missing",
    "divorced_abuse_or_desertion",
    "domestic_violence",
    "unmarried_pregnant",
    "single_parent_raising_child",
    "spouse_imprisoned",
    "sudden_major_change",
]


def _whole_number(value: Any) -> Any:
    """A whole number written with a decimal point (``30000.0``, as JSON writers often
    do) is that whole number; ``30000.5`` is left for strict mode to refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = BeforeValidator(_whole_number)
# Money is whole NTD; the upper bounds keep values far below durable-rules' 2^63
# integer overflow and are far above any real household.
Money = Annotated[int, Whole, Field(ge=0, le=10**12)]
Count = Annotated[int, Whole, Field(ge=0, le=100_000)]
# Rates and shares: at most 4 decimals, so that no value is printed in exponent
# notation, which durable-rules rejects (error 204).
Rate = Annotated[float, Field(ge=0, le=1, multiple_of=0.0001)]
# Areas in m² with at most 2 decimals. The bound keeps pydantic's multiple_of test exact:
# from 10^7 up, float rounding made it refuse valid values such as 9964424.54 (found by
# the fuzzer); 10^6 m² (100 ha) is far beyond any home lot or factory floor here.
Area = Annotated[float, Field(ge=0, le=10**6, multiple_of=0.01)]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """Dates are ISO ``YYYY-MM-DD`` and nothing else. Lax pydantic would read a number
    (``0``, ``"86400"``) as a Unix timestamp, so a birth date of 0 became 1970-01-01."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_format", "a date is written YYYY-MM-DD")


# Every date of a profile lies in this range: it holds every real birth, move and
# evaluation date, and date arithmetic of the rules (a deadline years later) cannot
# overflow Python's year 9999, as a birth in 9995 did.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2200, 12, 31)
LooseDate = Annotated[date, Field(strict=False, ge=EARLIEST_DATE, le=LATEST_DATE), BeforeValidator(_iso_date)]

MAX_CHILDREN = 20


class _Strict(BaseModel):
    # defer_build: a model's validator is built when it first validates, not on import;
    # a command that never reads a profile does not pay for it.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class Person(_Strict):
    birth_date: LooseDate | None = None
    sex: Literal["female", "male"] | None = None
    nationality: Nationality | None = None
    household_registered: bool | None = None
    days_in_taiwan_last_year: Annotated[int, Whole, Field(ge=0, le=366)] | None = None
    residence_registered_since: LooseDate | None = None
    indigenous: bool | None = None
    disability_level: DisabilityLevel | None = None
    employment: (
        Literal["employed", "self_employed", "unemployed", "student", "not_working", "retired"] | None
    ) = None
    months_in_current_job: Count | None = None
    labor_insurance_days: Count | None = None
    employment_insurance_months: Count | None = None
    insured_salary: Money | None = None
    marital_status: Literal["single", "married", "divorced", "widowed"] | None = None
    education: Literal["none", "junior_high", "senior_high", "college", "university", "graduate"] | None = (
        None
    )
    special_circumstances: list[SpecialCircumstance] | None = None
    in_residential_care: bool | None = None


class Household(_Strict):
    size: Annotated[int, Whole, Field(ge=1, le=100)] | None = None
    monthly_income: Money | None = None
    movable_assets: Money | None = None
    real_estate_value: Money | None = None
    welfare_status: Literal["none", "middle_low", "low"] | None = None
    income_tax_rate: Rate | None = None


class Child(_Strict):
    birth_date: LooseDate | None = None
    order: Annotated[int, Whole, Field(ge=1, le=30)] | None = None
    childcare: Literal["home", "public", "quasi_public"] | None = None
    disability_level: DisabilityLevel | None = None
    gifted_assessed: bool | None = None
    nationality: Nationality | None = None


class BirthEvent(_Strict):
    date: LooseDate | None = None
    kind: Literal["live", "premature", "miscarriage"] | None = None


class MoveEvent(_Strict):
    date: LooseDate | None = None
    new_residence: Residence | None = None
    within_same_district: bool | None = None


class HomePurchaseEvent(_Strict):
    date: LooseDate | None = None
    urban_land: bool | None = None
    land_area_m2: Area | None = None
    registered_at_property: bool | None = None
    rented_or_business_use: bool | None = None


class JobLossEvent(_Strict):
    date: LooseDate | None = None
    involuntary: bool | None = None
    registered_job_seeker: bool | None = None


class BusinessStartEvent(_Strict):
    date: LooseDate | None = None
    kind: Literal["company", "sole_proprietorship", "partnership", "factory"] | None = None
    foreign_investor: bool | None = None
    capital: Money | None = None
    employees: Count | None = None
    monthly_sales: Money | None = None
    floor_area_m2: Area | None = None
    power_kw: Annotated[float, Field(ge=0, le=10**6, multiple_of=0.01)] | None = None
    years_registered: Annotated[float, Field(ge=0, le=200, multiple_of=0.01)] | None = None
    owner_share: Rate | None = None
    entrepreneurship_course_hours: Annotated[float, Field(ge=0, le=100_000, multiple_of=0.01)] | None = None
    visa_route_other: bool | None = None


class Events(_Strict):
    """An event listed here happened or is planned; an unlisted one did not.

    ``None`` for a listed key (``"birth": null``) means unknown, which the model keeps
    apart from "not listed" through ``model_fields_set``.
    """

    birth: BirthEvent | None = None
    move: MoveEvent | None = None
    home_purchase: HomePurchaseEvent | None = None
    job_loss: JobLossEvent | None = None
    business_start: BusinessStartEvent | None = None


class Assets(_Strict):
    owns_vehicle: bool | None = None
    holds_driving_licence: bool | None = None


class StudentLoan(_Strict):
    has_loan: bool | None = None
    monthly_income: Money | None = None
    children_raised: Annotated[int, Whole, Field(ge=0, le=30)] | None = None


def _null_section(value: Any) -> Any:
    """profile.md: "a field that is absent or null is unknown", a section too. So
    ``person: null`` is a person whose every fact is unknown, the same as ``person: {}``."""
    return {} if value is None else value


def _null_is_unknown(section: type[BaseModel]) -> BeforeValidator:
    return BeforeValidator(_null_section, json_schema_input_type=section | None)


def _no_partner(value: bool) -> bool:
    if value is not False:
        raise PydanticCustomError(
            "partner_value", "partner is an object (the partner's facts) or false (no partner)"
        )
    return value


# ``false``, and only the boolean: strict mode keeps 0 out, which ``Literal[False]`` lets in.
NoPartner = Annotated[bool, AfterValidator(_no_partner), WithJsonSchema({"type": "boolean", "const": False})]


class Profile(_Strict):
    # Built on import, unlike its sections: it is what recommend and the API validate, and
    # FastAPI warns (an error in the tests) about a deferred model wrapped in its Body().
    model_config = ConfigDict(defer_build=False)

    # The empty sections are made with model_construct: the same objects as ``Person()``
    # (every field unknown, none set), without building a validator for each section
    # while the module is imported (the command line starts faster; see defer_build).
    as_of: LooseDate | None = None
    residence: Residence | None = None
    person: Annotated[Person, _null_is_unknown(Person)] = Person.model_construct()
    household: Annotated[Household, _null_is_unknown(Household)] = Household.model_construct()
    children: Annotated[list[Child], Field(max_length=MAX_CHILDREN)] | None = None
    events: Events | None = None
    assets: Annotated[Assets, _null_is_unknown(Assets)] = Assets.model_construct()
    student_loan: Annotated[StudentLoan, _null_is_unknown(StudentLoan)] = StudentLoan.model_construct()
    # The applicant's spouse or the children's other parent (profile.md, "Families"):
    # absent or null, not considered (every answer as before); ``{}``, a partner whose
    # facts are unknown; ``false``, no partner (a single parent).
    partner: Person | NoPartner | None = None

    @property
    def partner_person(self) -> Person | None:
        """The partner when one is described, else None (absent, null or ``false``)."""
        return self.partner if isinstance(self.partner, Person) else None


EVENT_NAMES: tuple[str, ...] = tuple(Events.model_fields)


class ProfileError(ValueError):
    """A profile that breaks the contract; the message is one line for the user."""


def _format_loc(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + shown(str(part))  # an unknown key may be megabytes
    return path


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for "did you mean")."""
    model: Any = Profile
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        model = _unwrap_model(ann)
        if model is None:
            return None
    return model


def _unwrap_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    meta = getattr(ann, "__origin__", None)
    if meta is not None:
        return _unwrap_model(meta)
    return None


# pydantic names the member of a union in an error's location (``partner.Person.sex``);
# the contract's key path has no such step.
_UNION_MEMBERS = ("Person", "function-after[")


def _is_union_member(part: Any) -> bool:
    return isinstance(part, str) and part.startswith(_UNION_MEMBERS)


def _contract_errors(exc: ValidationError | list[Any]) -> list[Any]:
    """The errors with union members left out of their paths; of the partner's two
    readings (an object, or ``false``) only the object's errors are kept when both fail,
    since "expected false" says nothing useful about a misspelt key."""
    errors = exc.errors() if isinstance(exc, ValidationError) else list(exc)

    def reading(e: Any) -> str | None:
        return next((str(p) for p in e["loc"] if _is_union_member(p)), None)

    # An object that fails inside: its own errors say what is wrong. Anything else (0,
    # true, "x"): "an object or false" says it best.
    deep = any(reading(e) == "Person" and e["loc"][-1] != "Person" for e in errors)
    drop = "function-after[" if deep else "Person"
    errors = [e for e in errors if not (reading(e) or "").startswith(drop)] or errors
    return [e | {"loc": tuple(p for p in e["loc"] if not _is_union_member(p))} for e in errors]


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """One line: where, what was given, what was expected. The first of the problems the
    API lists for the same profile (:func:`profile_problems`), and how many more there are."""
    first, *more = profile_problems(exc)
    also = f" (and {len(more)} more problem(s))" if more else ""
    return f"{source}: {first.path or '(profile)'}: {first.message}{also}"


@cache
def _profile_loader() -> type:
    """SafeLoader that leaves dates as strings, so that pydantic (not PyYAML) judges
    them and an impossible date such as 2026-02-30 gets the contract's clean error.
    Made on the first YAML profile: PyYAML is not imported to answer a JSON one."""
    import yaml

    class ProfileLoader(yaml.SafeLoader):
        pass

    without_timestamps(ProfileLoader)
    yaml12_booleans(ProfileLoader)
    return ProfileLoader


def loads_json(text: str, source: str) -> Any:
    """JSON text to a value; ProfileError, one line naming the place, for anything that
    is not JSON Python can hold (a 5,000-digit number, arrays nested 100,000 deep)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ProfileError(f"{source}: not valid JSON: {exc.msg} ({where})") from None
    except RecursionError:
        raise ProfileError(f"{source}: not a profile: nested too deeply") from None
    except ValueError:  # int() refuses numbers of more than 4,300 digits
        raise ProfileError(f"{source}: not a profile: a number with too many digits") from None


def parse_profile_text(text: str, source: str, fmt: str = "yaml") -> dict[str, Any]:
    """JSON (``fmt="json"``: strictly JSON, empty is an error) or YAML text to a mapping;
    errors name the source and the line."""
    if fmt == "json":
        if not text.strip():
            raise ProfileError(f"{source}: empty; a JSON profile is one object ({{}} when nothing is known)")
        data = loads_json(text, source)
    else:
        data = _load_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: a profile must be one JSON or YAML object")
    return data


def _load_yaml(text: str, source: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_profile_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"{where}: not valid JSON or YAML: {problem}") from None
    except RecursionError:
        raise ProfileError(f"{source}: not a profile: nested too deeply") from None
    except ValueError:  # int() refuses numbers of more than 4,300 digits
        raise ProfileError(f"{source}: not a profile: a number with too many digits") from None


def validate_profile(data: dict[str, Any], source: str = "profile") -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(describe_validation_error(exc, source)) from None


MAX_PROFILE_BYTES = 64 * 1024
"""The largest profile read, as a file or an HTTP body. The largest valid profile (20
children, a partner, every event) is under 10 KiB; a bound keeps ``/dev/zero`` or a
mistaken multi-gigabyte file from filling the memory before any check runs."""


def load_profile(path: Path | str) -> Profile:
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_PROFILE_BYTES + 1)
        if len(raw) > MAX_PROFILE_BYTES:
            raise ProfileError(
                f"{path}: larger than {MAX_PROFILE_BYTES // 1024} KiB, too large for a profile "
                "(the largest valid one is under 10 KiB)"
            )
        # A byte-order mark is dropped, as the API's JSON reader drops it: Windows editors
        # write one, and it says nothing of the profile.
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    # .json is JSON: YAML would read {"birth_date": 2026-01-01} and an empty file.
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    return validate_profile(parse_profile_text(text, str(path), fmt), str(path))


class ProfileProblem(BaseModel):
    """One problem of an invalid profile: the HTTP API's 422 lists every one, the command
    line says the first."""

    model_config = ConfigDict(defer_build=True)  # built on the first invalid profile

    path: str = Field(description="key path inside the profile, e.g. person.birth_date or children[1].order")
    message: str
    type: str = Field(description="pydantic's error type, e.g. extra_forbidden, date_from_datetime_parsing")
    did_you_mean: str | None = Field(default=None, description="for an unknown key: the closest valid name")


def profile_problems(errors: ValidationError | list[Any]) -> list[ProfileProblem]:
    """Every problem of one profile: a ValidationError, or its ``errors()`` with each
    ``loc`` relative to the profile. The command line says the first, the API lists them all.

    Pass all of a profile's errors at once: the partner's two readings (an object, or
    ``false``) fail as two errors, and only seeing both tells which one to keep."""
    out = []
    for err in _contract_errors(errors):
        loc = tuple(err["loc"])
        path = _format_loc(loc)
        if err["type"] == "extra_forbidden":
            model = _model_at(loc)
            close = closest(shown(str(loc[-1])), model.model_fields) if model else None
            hint = f"; did you mean '{close}'?" if close else ""
            out.append(
                ProfileProblem(
                    path=path,
                    message=f"unknown key{hint}",
                    type=err["type"],
                    did_you_mean=close,
                )
            )
            continue
        # The value is quoted, shortened, so that a problem names what was wrong
        # without carrying a whole sub-object of the profile along.
        given_text = json.dumps(err.get("input"), ensure_ascii=False, default=str)
        if len(given_text) > 60:
            given_text = given_text[:57] + "..."
        out.append(ProfileProblem(path=path, message=f"{err['msg']} (got {given_text})", type=err["type"]))
    return out
