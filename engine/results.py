"""What the engine answers: the output contract of ``spec/profile.md`` as pydantic models.

The contract's keys are kept exactly; the extra keys (names, channels, confidence, the
children a result is about…) are additions the contract allows.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["eligible", "ineligible", "unknown"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReasonOut(_Out):
    criterion: str
    met: bool | None
    text: str
    legal_basis: str | None = None


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
    same_visit_as: str | None = None


class Recommendation(_Out):
    as_of: date
    rules_version: str
    results: list[EligibilityResult]
