"""The catalogue covers the contract: every service of profile.md, with tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "spec" / "profile.md"


def contract_services() -> dict[str, set[str]]:
    """Service ids by event, read from the contract itself (shared/spec/profile.md)."""
    if not SPEC.is_file():
        pytest.skip("shared/spec/profile.md is not beside this checkout")
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("## Service identifiers", 1)[1].split("A service may belong", 1)[0]
    by_event: dict[str, set[str]] = {}
    event = None
    for line in section.splitlines():
        head = re.match(r"^([a-z]+)(?: \([^)]*\))?:(.*)$", line)
        if head:
            event, line = head.group(1), head.group(2)
        if event:
            by_event.setdefault(event, set()).update(re.findall(r"\b[a-z]+(?:-[a-z0-9]+)+\b", line))
    return by_event


def test_every_contract_service_is_in_the_catalogue_with_its_events(catalogue):
    for event, services in contract_services().items():
        for sid in services:
            assert sid in catalogue.services, f"{sid} ({event}) is missing from catalog.yaml"
            assert event in catalogue.services[sid].events, f"{sid} should belong to {event}"


def test_every_event_is_in_the_catalogue(catalogue):
    assert set(catalogue.events) == {"birth", "education", "employment", "moving", "business", "welfare"}


def test_at_least_twenty_home_visit_services(catalogue):
    home = [sid for sid, s in catalogue.services.items() if s.home_visit]
    assert len(home) >= 20, home
    for sid in home:
        kinds = {c.kind for c in catalogue.services[sid].channels}
        assert "home_visit" in kinds, f"{sid} is a home-visit service without a home_visit channel"


def test_every_service_has_test_cases(catalogue):
    mentioned: dict[str, int] = {}
    for path in (ROOT / "tests" / "cases").rglob("*.yaml"):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            for sid in case.get("output", {}):
                mentioned[sid] = mentioned.get(sid, 0) + 1
    for sid in catalogue.services:
        assert mentioned.get(sid, 0) >= 3, (
            f"{sid} has {mentioned.get(sid, 0)} test cases; write boundary pairs"
        )


def test_ended_programmes_keep_their_end_date_and_successor(catalogue):
    ended = {sid: s.ended for sid, s in catalogue.services.items() if s.ended}
    for sid, info in ended.items():
        assert info.successor in catalogue.services, sid


def test_every_fact_has_a_label_in_both_languages(catalogue):
    from engine.language.facts import fact_types

    for scope in fact_types().values():
        for path in scope:
            if path == "person.special_circumstances":
                continue
            assert path in catalogue.labels, f"no label for {path} in rules/vocabulary.yaml"
