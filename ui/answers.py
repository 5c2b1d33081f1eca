"""A citizen's answers, and the profile they make.

Answers are a flat mapping from a profile path to a JSON value, in the order given:
``{"events.birth": True, "events.birth.date": "2026-02-01", "children": 1,
"children[0].order": 1, "person.sex": "female"}``. ``None`` is the answer "I don't know":
the fact stays unknown in the profile, and the question is not asked again.

The profile follows spec/profile.md:
- an event answered *yes* is listed (its fields inside), *no* is left out (did not
  happen), and an event not answered or answered "I don't know" is given as ``null``
  (unknown), so that the questionnaire can still ask about it;
- ``children`` is the number of children; ``children[i].field`` fills one of them;
- a birth adds no child by itself (rules.md), but the newborn is one of the children:
  with a birth listed, ``children[0]`` is the newborn and takes the birth's date, so one
  answer does both;
- the partner (profile.md, "Families: the partner"): ``"partner": True`` is a partner
  (``partner: {}``, filled in by the ``partner.*`` answers), ``False`` no partner
  (``partner: false``), and not answered or "I don't know" leaves ``partner`` out (not
  considered). ``partner.*`` answers count only while the answer is ``True``.

The share token is the answers as base64url JSON, for a link that carries them; the
same token, in the page's address, is the draft that Back and reload bring back. It
also carries the questions answered on their own card, in order ("cards"), so that
question numbers count cards (an event's card answers several facts at once) and
"Previous" walks them back.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import EVENT_NAMES, MAX_CHILDREN, Profile, ProfileError, validate_profile

Answers = dict[str, Any]

EVENT_PATH = re.compile(r"^events\.([a-z_]+)$")
EVENT_FIELD = re.compile(r"^events\.([a-z_]+)\.([a-z0-9_]+)$")
CHILD_FIELD = re.compile(r"^children\[(\d+)\]\.([a-z_]+)$")
PARTNER = "partner"
PARTNER_FIELD = re.compile(r"^partner\.([a-z_]+)$")
NEWBORN = 0  # with a birth listed, children[0] is the newborn
TOKEN_VERSION = 1
MAX_TOKEN_CHARS = 16_000  # far above any real profile; refuses junk before decoding it


def birth_listed(answers: Mapping[str, Any]) -> bool:
    return answers.get("events.birth") is True


def partner_listed(answers: Mapping[str, Any]) -> bool:
    return answers.get(PARTNER) is True


def build_profile(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The profile dict (spec/profile.md) that the answers describe."""
    profile: dict[str, Any] = {}
    if answers.get(PARTNER) is True:
        profile[PARTNER] = {}
    elif answers.get(PARTNER) is False:
        profile[PARTNER] = False
    events: dict[str, Any] = {name: None for name in EVENT_NAMES}
    count = answers.get("children")
    children: list[dict[str, Any]] | None = (
        [{} for _ in range(count)] if isinstance(count, int) and not isinstance(count, bool) else None
    )
    for path, value in answers.items():
        match = EVENT_PATH.match(path)
        if match and match.group(1) in events:
            if value is True:
                events[match.group(1)] = {}
            elif value is False:
                del events[match.group(1)]
    for path, value in answers.items():
        if value is None or path in ("children", PARTNER) or EVENT_PATH.match(path):
            continue
        if match := PARTNER_FIELD.match(path):
            if isinstance(profile.get(PARTNER), dict):
                profile[PARTNER][match.group(1)] = value
            continue
        if match := EVENT_FIELD.match(path):
            record = events.get(match.group(1))
            if isinstance(record, dict):
                record[match.group(2)] = value
            continue
        if match := CHILD_FIELD.match(path):
            index = int(match.group(1))
            if children is not None and index < len(children):
                children[index][match.group(2)] = value
            continue
        _set_path(profile, path, value)
    birth = events.get("birth")
    if isinstance(birth, dict) and birth.get("date") and children:
        children[NEWBORN].setdefault("birth_date", birth["date"])
    profile["events"] = events
    if children is not None:
        profile["children"] = children
    return profile


def _set_path(profile: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = profile
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ProfileError(f"answers: {path}: not a profile path")
    node[parts[-1]] = value


def check(answers: Mapping[str, Any]) -> Profile:
    """The validated profile, or ProfileError naming the path and the problem."""
    count = answers.get("children")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise ProfileError(f"answers: children: a number of children (got {json.dumps(count)})")
    if isinstance(count, int) and count > MAX_CHILDREN:
        raise ProfileError(f"answers: children: at most {MAX_CHILDREN} children (got {count})")
    return validate_profile(build_profile(answers), "answers")


def with_answer(answers: Mapping[str, Any], path: str, value: Any) -> Answers:
    """A copy of the answers with one more (or a changed) answer, checked.

    Changing the number of children drops the answers about children who no longer
    exist; answering *no* to an event drops the answers about its fields.
    """
    updated = dict(answers)
    updated.pop(path, None)  # an answer moves to the end: the order answers were given
    updated[path] = value
    if path == "children":
        keep = value if isinstance(value, int) else 0
        for other in list(updated):
            match = CHILD_FIELD.match(other)
            if match and int(match.group(1)) >= keep:
                del updated[other]
    elif (match := EVENT_PATH.match(path)) and value is not True:
        prefix = f"events.{match.group(1)}."
        for other in [p for p in updated if p.startswith(prefix)]:
            del updated[other]
    elif path == PARTNER and value is not True:
        # No partner, or not considered: what was said about one no longer applies.
        for other in [p for p in updated if PARTNER_FIELD.match(p)]:
            del updated[other]
    check(updated)
    return updated


def without_answer(answers: Mapping[str, Any], path: str) -> Answers:
    return {p: v for p, v in answers.items() if p != path}


# --- the share token --------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """What a token carries: the questionnaire as the citizen left it."""

    life_events: list[str]
    answers: Answers
    lang: str | None = None
    cards: list[str] = field(default_factory=list)


def encode_token(
    life_events: list[str],
    answers: Mapping[str, Any],
    lang: str | None = None,
    cards: list[str] | None = None,
) -> str:
    payload: dict[str, Any] = {"v": TOKEN_VERSION, "e": list(life_events), "a": dict(answers)}
    if lang:
        payload["l"] = lang
    if cards:
        payload["c"] = list(cards)
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, known_events: set[str]) -> tuple[list[str], Answers]:
    """Life events and answers from a share token; ProfileError when it is not one."""
    life_events, answers, _ = decode_share(token, known_events)
    return life_events, answers


def decode_share(token: str, known_events: set[str]) -> tuple[list[str], Answers, str | None]:
    """Life events, answers and the language (if the link names one) of a share token."""
    draft = decode_draft(token, known_events)
    return draft.life_events, draft.answers, draft.lang


def decode_draft(token: str, known_events: set[str]) -> Draft:
    """The whole draft a token carries; ProfileError when it is not one. A token without
    cards (an older link) counts every answer as a card."""
    if len(token) > MAX_TOKEN_CHARS:
        raise ProfileError("link: too long to be a profile")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise ProfileError("link: not a saved questionnaire") from None
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise ProfileError("link: not a saved questionnaire (unknown version)")
    life_events = payload.get("e")
    answers = payload.get("a")
    if not isinstance(life_events, list) or not isinstance(answers, dict):
        raise ProfileError("link: not a saved questionnaire")
    unknown = [e for e in life_events if e not in known_events]
    if unknown:
        raise ProfileError(f"link: unknown life event {unknown[0]!r}")
    for path in answers:
        if not isinstance(path, str):
            raise ProfileError("link: not a saved questionnaire")
    try:
        check(answers)  # a refused answer (a date past 2200) is the link's message, never a crash
    except ProfileError:
        raise
    except (ValueError, TypeError, RecursionError):  # e.g. children[<5,000 digits>].order
        raise ProfileError("link: not a saved questionnaire") from None
    lang = payload.get("l")
    cards = payload.get("c")
    if not isinstance(cards, list):
        cards = list(answers)
    return Draft(
        [str(e) for e in life_events],
        dict(answers),
        lang if isinstance(lang, str) else None,
        [c for c in dict.fromkeys(cards) if isinstance(c, str) and c in answers],
    )


def cards_after(cards: list[str], answers: Mapping[str, Any], path: str | None = None) -> list[str]:
    """The cards answered, once ``path`` has been answered on its own card: those whose
    answer was dropped (fewer children, an event answered "no") go, ``path`` is added
    at the end unless it was there (a changed answer keeps its number)."""
    kept = [c for c in cards if c in answers]
    if path is not None and path in answers and path not in kept:
        kept.append(path)
    return kept


def answers_from_profile(profile: Mapping[str, Any]) -> Answers:
    """The answers that make ``profile`` (the inverse of :func:`build_profile`): for a
    profile file brought to the counter, and for tests and the benchmark."""
    out: Answers = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(path + ".", value)
            else:
                out[path] = value

    for key, value in profile.items():
        if key == "as_of":
            continue
        if key == "events":
            for event, record in (value or {}).items():
                out[f"events.{event}"] = None if record is None else True
                walk(f"events.{event}.", record or {})
            for event in EVENT_NAMES:
                if value is not None and event not in value:
                    out[f"events.{event}"] = False
        elif key == PARTNER:
            if value is False:
                out[PARTNER] = False
            elif isinstance(value, Mapping):
                out[PARTNER] = True
                walk(f"{PARTNER}.", value)
        elif key == "children":
            if value is not None:
                out["children"] = len(value)
                for i, child in enumerate(value):
                    walk(f"children[{i}].", child)
        elif isinstance(value, Mapping):
            walk(f"{key}.", value)
        else:
            out[key] = value
    return out
