"""The catalogue: life events, agencies, documents and services (``catalog.yaml``),
joined with each service's rules (``rules/``) and the parameters they read.

The pydantic models here are the one data model every front end reads: the CLI, the
Streamlit app, the HTTP API and the batch evaluator.
"""

# No ``from __future__ import annotations``: the models' annotations are objects already,
# which pydantic would otherwise evaluate from strings on every start (see profile.py).

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.language.parameters import Parameter
from engine.language.rules import AmountRule, Condition, DeadlineRule, Note, Text

# The life events the catalogue groups its services by (catalog.yaml `events:`; the
# loader checks that the two agree). Here because argparse and the API's schema need
# them before any catalogue is loaded.
EVENTS = ("birth", "education", "employment", "moving", "business", "welfare")

Confidence = Literal["✅", "🟡", "❓"]
ServiceId = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]


class _Model(BaseModel):
    # defer_build: the validators are built when catalog.yaml is first validated, not on
    # import, so a catalogue read back from its cache (engine/language/cache.py) never
    # builds them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Bilingual(_Model):
    zh_TW: str = Field(alias="zh-TW")
    en: str

    def get(self, lang: str) -> str:
        return self.zh_TW if lang.startswith("zh") else self.en

    def as_text(self) -> Text:
        return Text(en=self.en, zh=self.zh_TW)


class LifeEvent(_Model):
    name: Bilingual
    description: Bilingual | None = None


class Agency(_Model):
    name: Bilingual
    level: Literal["central", "local"]
    office: Bilingual = Field(description="where a citizen goes")
    url: str | None = None


class Document(_Model):
    name: Bilingual
    verified_electronically: bool = False
    household_record: bool = Field(
        default=False,
        description="a household-registration record (戶籍謄本, 戶口名簿): the 免附戶籍謄本 "
        "policy says the agency looks it up itself",
    )
    note: Bilingual | None = None


class DocumentUse(_Model):
    doc: str
    verified_electronically: bool | None = None  # overrides the document's default
    note: Bilingual | None = None


class Channel(_Model):
    kind: Literal["online", "counter", "home_visit", "automatic"]
    url: str | None = None
    where: Bilingual | None = None
    confidence: Confidence = "✅"

    @field_validator("url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError("a channel url starts with https:// or http://")
        return url


class Exclusion(_Model):
    """Two services that cannot be combined, and how the citizen should choose."""

    service: str
    choose: Literal["higher_amount", "applicant_choice"]
    note: Bilingual | None = None


class Ended(_Model):
    on: date
    successor: str


class Service(_Model):
    events: list[Literal["birth", "education", "employment", "moving", "business", "welfare"]]
    name: Bilingual
    summary: Bilingual | None = None
    agency: str
    channels: list[Channel] = Field(min_length=1)
    documents: list[str | DocumentUse] = Field(default_factory=list)
    deadline_text: Bilingual | None = None
    prerequisites: list[str] = Field(default_factory=list)
    exclusions: list[str | Exclusion] = Field(default_factory=list)
    # The legal basis lives in the service's rule file; the catalogue gives one only for
    # a service with no national rule (an ended programme, the local grants' summary).
    legal_basis: str | None = Field(default=None, min_length=1)
    legal_url: str | None = None
    confidence: Confidence
    confidence_note: str | Bilingual | None = None
    home_visit: bool = False
    ended: Ended | None = None
    same_visit_as: str | None = Field(
        default=None, description="done at the same counter visit as this service (the one-stop promise)"
    )
    # Families (rules.md, "Who a service is for"): a service whose rules read ``person.*``
    # is decided for each adult, one that does not is decided once for the household.
    # A household service whose rules still read one adult's facts says whose:
    decided_for: Literal["household"] | None = Field(
        default=None, description="household: decided once even though its rules read person facts"
    )
    decided_from: Literal["mother", "either_parent"] | None = Field(
        default=None,
        description="mother: read the facts of the adult who gave birth; either_parent: one result, "
        "met when either adult meets it",
    )

    @model_validator(mode="after")
    def _household_reading(self) -> "Service":
        if (self.decided_for is None) != (self.decided_from is None):
            raise ValueError("decided_for: household and decided_from (mother | either_parent) go together")
        return self

    def excluded(self) -> list[str]:
        return [e if isinstance(e, str) else e.service for e in self.exclusions]

    def exclusion_rule(self, other: str) -> str | None:
        for e in self.exclusions:
            if isinstance(e, Exclusion) and e.service == other:
                return e.choose
        return None

    def document_uses(self) -> list[DocumentUse]:
        return [DocumentUse(doc=d) if isinstance(d, str) else d for d in self.documents]


class CatalogFile(_Model):
    events: dict[str, LifeEvent]
    agencies: dict[str, Agency]
    documents: dict[str, Document]
    services: dict[ServiceId, Service]


@dataclass(frozen=True)
class ServiceRule:
    """One rule file: a service's eligibility in one jurisdiction."""

    service: str
    file: str
    jurisdiction: str
    legal_basis: str
    eligibility: Condition
    amount: AmountRule | None = None
    fee: AmountRule | None = None
    deadline: DeadlineRule | None = None
    notes: tuple[Note, ...] = ()
    priority: int | None = None
    confidence: str | None = None  # the rule's own mark, for local figures
    confidence_note: Text | None = None
    coverage_exempt: dict[str, str] = field(default_factory=dict)
    same_visit_as: str | None = None  # a local rule may say where its city takes the claim


@dataclass(frozen=True)
class Catalogue:
    root: str
    version: str
    events: dict[str, LifeEvent]
    agencies: dict[str, Agency]
    documents: dict[str, Document]
    services: dict[str, Service]
    rules: dict[str, dict[str, ServiceRule]]  # service -> jurisdiction -> rule
    parameters: dict[str, Parameter]
    labels: dict[str, Text]  # fact path -> label

    def services_for(self, event: str | None) -> list[str]:
        return [sid for sid, s in self.services.items() if event is None or event in s.events]

    def legal_basis(self, service: str, residence: str | None = None) -> str:
        """The legal basis of a service: its rule's (in ``residence``), else the catalogue's."""
        rule = self.rule_for(service, residence)
        return rule.legal_basis if rule is not None else (self.services[service].legal_basis or "")

    def rule_for(self, service: str, residence: str | None) -> ServiceRule | None:
        """The rule that applies in ``residence`` (a local layer first, else national)."""
        layer = self.rules.get(service, {})
        if residence is not None and residence in layer:
            return layer[residence]
        return layer.get("national")
