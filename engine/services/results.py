"""What the engine answers: the output contract of ``spec/profile.md`` as pydantic models.

The contract's keys are kept exactly; the extra keys (names, channels, confidence, the
children a result is about…) are additions the contract allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["eligible", "ineligible", "unknown"]


_FIELD_ORDER: dict[type, dict[str, None]] = {}  # per model class: its field names, in order


class _Out(BaseModel):
    # ``for`` is a Python keyword: the field is ``for_`` and the contract's key is ``for``.
    model_config = ConfigDict(frozen=True, serialize_by_alias=True, validate_by_name=True)

    @classmethod
    def construct_all(cls, **fields: Any) -> Self:
        """``model_construct`` for trusted values that give every field by its Python
        name: the same instance (``__dict__`` in the fields' order, every field set, no
        extra, no private), without model_construct's search of aliases and defaults per
        field, which costs ~10 µs for a result of 30 fields, 46 times a profile.
        A field left out is an error here, not a silent default."""
        names = _FIELD_ORDER.get(cls)
        if names is None:
            names = _FIELD_ORDER[cls] = dict.fromkeys(cls.__pydantic_fields__)
        values = names.copy()  # the fields' order, as model_construct makes it
        values.update(fields)
        if len(fields) != len(names) or len(values) != len(names):
            given = set(fields)
            raise TypeError(
                f"{cls.__name__}: missing {sorted(set(names) - given)}, unknown {sorted(given - set(names))}"
            )
        made = cls.__new__(cls)
        object.__setattr__(made, "__dict__", values)
        object.__setattr__(made, "__pydantic_fields_set__", set(values))
        object.__setattr__(made, "__pydantic_extra__", None)
        object.__setattr__(made, "__pydantic_private__", None)
        return made


@dataclass(frozen=True, slots=True)
class ReasonOut:
    """One criterion's verdict. A plain dataclass, not a model: a recommendation carries
    a few hundred of them, and pydantic still validates and serialises it as a field."""

    criterion: str
    met: bool | None
    text: str
    legal_basis: str | None = None

    @classmethod
    def model_construct(cls, **fields) -> ReasonOut:  # the models' fast-path spelling
        return cls(**fields)


class Money(_Out):
    value: int
    unit: str


class DocumentOut(_Out):
    name: str
    verified_electronically: bool
    note: str | None = None


class ChannelOut(_Out):
    kind: str
    url: str | None = None
    where: str | None = None
    confidence: str = "✅"


For = Literal["person", "partner", "household"]


class StepOut(_Out):
    """A step of applying the citizen can still take (rules.md, "Steps the citizen can
    still take"): the service that takes it, and the last day on which it still helps."""

    service: str
    name: str
    text: str
    deadline: date | None = None


class EligibilityResult(_Out):
    service: str
    status: Status
    reasons: list[ReasonOut]
    missing: list[str]
    agency: str
    deadline: date | None
    amount: Money | None
    fee: Money | None = None
    documents: list[DocumentOut]
    # additions to the contract
    name: str
    events: list[str]
    office: str
    channels: list[ChannelOut]
    home_visit: bool
    legal_basis: str
    confidence: str
    confidence_note: str | None = None
    jurisdiction: str = "national"
    prerequisites: list[str] = []
    children: list[int] = []
    ended_on: date | None = None
    successor: str | None = None
    what_would_change: list[str] = []
    amount_missing: list[str] = []  # facts an eligible result's amount or fee still needs
    same_visit_as: str | None = None
    notes: list[str] = []  # the rule's notes and caveats that apply: said, not criteria
    # Families (profile.md, "Families: the partner")
    for_: For = Field(default="person", alias="for", description="whom the result is for")
    steps: list[StepOut] = []
    deadline_missing: list[str] = []  # facts a deadline still needs (the move's date)
    urgent: bool = Field(default=False, description="the deadline is at most 14 days away (or past)")


class Totals(_Out):
    """The family's eligible amounts (rules.md, "Totals"): one-off and monthly sums over
    ``results`` and ``partner_results``, and how many amounts are still unknown (counted,
    never guessed). Of two services that exclude each other only the larger is summed."""

    one_off: int = 0
    monthly: int = 0
    unknown: int = 0


class Recommendation(_Out):
    as_of: date
    rules_version: str
    results: list[EligibilityResult]
    partner_results: list[EligibilityResult] = []
    totals: Totals = Totals()
