"""The JSON Schema of a rule file, for editors (``lifeevents schema``).

Each node of the rule language declares its own YAML form (``surface_schema`` beside its
``_read`` in engine/language/rules.py); this module only gathers them under ``$defs`` and adds
the file-level keys the loader reads. An editor with a YAML language server then
completes keys and marks a misspelt operator as the loader would refuse it.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from engine.language.parameters import CONFIDENCE
from engine.language.rules import (
    CONDITION_NODES,
    CONDITION_REF,
    EXPRESSION_NODES,
    TEXT_REF,
    AmountRule,
    DeadlineRule,
    Note,
    Text,
)


class _Surfaced(Protocol):
    """A node class that says how its YAML form reads (``surface_schema``)."""

    @staticmethod
    def surface_schema() -> dict[str, Any]: ...


def _titled(cls: type[_Surfaced]) -> dict[str, Any]:
    summary = (cls.__doc__ or "").strip().splitlines()
    return {"title": cls.__name__, **({"description": summary[0]} if summary else {}), **cls.surface_schema()}


def rule_file_schema() -> dict[str, Any]:
    """The schema of one file of rules/ that holds a service's rule."""
    from engine.language.loader import _RULE_KEYS  # the file-level keys: one home, the loader

    amount = {"$ref": "#/$defs/amount"}
    described: dict[str, Any] = {
        "service": {"type": "string", "description": "the service id in catalog.yaml"},
        "jurisdiction": {"type": "string", "description": "national, or one of the 22 residences"},
        "legal_basis": {"type": "string", "minLength": 1},
        "eligibility": CONDITION_REF,
        "amount": amount,
        "fee": amount,
        "deadline": {"$ref": "#/$defs/deadline"},
        "notes": {"type": "array", "items": {"$ref": "#/$defs/note"}},
        "priority": {"type": "integer"},
        "confidence": {"enum": list(CONFIDENCE)},
        "confidence_note": TEXT_REF,
        "coverage_exempt": {"type": "object", "additionalProperties": {"type": "string"}},
        "same_visit_as": {"type": "string"},
    }
    # A key the loader reads that is not described here is allowed with any value.
    properties = {key: described.get(key, {}) for key in sorted(_RULE_KEYS)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "lifeevents rule file",
        # A file with `places:` is a local layer's one definition for many places
        # (rules/local/, docs/local-layer.md); any other file is one service's rule.
        "if": {"type": "object", "required": ["places"]},
        "then": {"$ref": "#/$defs/local_definition"},
        "else": {
            "type": "object",
            "properties": properties,
            "required": ["service", "legal_basis", "eligibility"],
            "additionalProperties": False,
        },
        "$defs": {
            "local_definition": _local_definition(properties),
            "condition": {"anyOf": [_titled(cls) for cls in CONDITION_NODES]},
            "expression": {"anyOf": [_titled(cls) for cls in EXPRESSION_NODES]},
            "text": Text.surface_schema(),
            "amount": _titled(AmountRule),
            "deadline": _titled(DeadlineRule),
            "note": _titled(Note),
        },
    }


def _local_definition(rule_properties: dict[str, Any]) -> dict[str, Any]:
    """The general rule's keys, the places it covers and the exceptions where a place
    differs (the loader's ``expand_local_definition`` reads them)."""
    from engine.language.loader import _EXCEPTION_KEYS, _PLACE_KEYS

    nullable = lambda ref: {"anyOf": [{"$ref": ref}, {"type": "null"}]}  # noqa: E731
    place = {
        "legal_basis": {"type": "string", "minLength": 1},
        "confidence": rule_properties.get("confidence", {}),
        "confidence_note": TEXT_REF,
        "same_visit_as": {"type": "string"},
        "priority": {"type": "integer"},
        "words": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
    }
    exception = {
        "label": {"type": "string", "minLength": 1},
        "places": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "priority": {"type": "integer"},
        "criteria": {"type": "object", "additionalProperties": nullable("#/$defs/condition")},
        "notes": {"type": "object", "additionalProperties": nullable("#/$defs/note")},
        "deadline": nullable("#/$defs/deadline"),
        "amount": nullable("#/$defs/amount"),
        "fee": nullable("#/$defs/amount"),
    }
    return {
        "type": "object",
        "properties": {
            **rule_properties,
            "places": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {
                    "type": "object",
                    "properties": {key: place.get(key, {}) for key in sorted(_PLACE_KEYS)},
                    "additionalProperties": False,
                },
            },
            "exceptions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {key: exception.get(key, {}) for key in sorted(_EXCEPTION_KEYS)},
                    "required": ["label", "places"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["service", "eligibility", "places"],
        "additionalProperties": False,
    }


def rule_file_schema_text() -> str:
    return json.dumps(rule_file_schema(), ensure_ascii=False, indent=2) + "\n"


__all__ = ["rule_file_schema", "rule_file_schema_text"]
