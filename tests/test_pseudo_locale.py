"""Every word a person reads comes from the language files (issue 14, item 5).

A pseudo language is generated from the language files as they are: every text of
catalog.yaml, the rules (rules/vocabulary.yaml and each rule's texts), ui/text.yaml and
ui/staff_text.yaml, in every language, becomes ``⟦…⟧`` around its accented self, with
its ``{placeholders}`` kept. The outputs are then rendered over those files: the CLI's
``recommend`` text, the API's answers, the printed plan and the citizen app's page. Once
the marked texts are taken out, no word may be left: a word left is a text written in
code, not taken from a language file. Numbers, dates, links, the rules version and the
currency sign Babel takes from CLDR (NT$) are not words.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import Engine, load_catalogue
from engine.language.i18n import LANGUAGES
from engine.language.loader import read_yaml
from engine.language.profile import validate_profile
from engine.services.plan import build_plan, render_plan_html

ROOT = Path(__file__).resolve().parent.parent
UI_FILES = ("text.yaml", "staff_text.yaml")
OPEN, CLOSE = "⟦", "⟧"
ACCENTS = str.maketrans("AaCcDdEeGgIiLlNnOoRrSsTtUuYyZz", "ÅåÇçĐđÉéĜĝÎîĻļÑñÖöŘřŠšŢţÛûÝýŽž")
PLACEHOLDER = re.compile(r"(\{[^{}]*\})")
MARKED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
# Not words: links, the rules version (a content hash), Babel's currency sign and the
# information sign (ℹ️, a letter to Unicode). Legal citations are not words either: a
# law's name and article are cited as the law writes them (see citations()).
NOT_WORDS = re.compile(r"https?://\S+|\b[0-9a-f]{12}\b|NT\$|ℹ️?")
WORD = re.compile(r"[^\W\d_]+")
FAMILY = {
    "as_of": "2026-03-01",
    "residence": "taichung",
    "person": {"sex": "female", "labor_insurance_days": 300, "insured_salary": 30000},
    "partner": {"sex": "male", "employment": "unemployed", "employment_insurance_months": 36},
    "children": [{"birth_date": "2026-02-01", "order": 1, "childcare": "home"}],
    "events": {"birth": {"date": "2026-02-01", "kind": "live"}, "job_loss": {"date": "2026-02-15"}},
}
# The citizen app's answers (profile paths) of a mother after a birth.
ANSWERS = {
    "events.birth": True,
    "events.birth.date": "2026-02-01",
    "events.birth.kind": "live",
    "children": 1,
    "children[0].order": 1,
    "children[0].childcare": "home",
    "residence": "taichung",
    "person.sex": "female",
    "person.employment": "employed",
    "person.labor_insurance_days": 300,
    "person.insured_salary": 30000,
    "partner": False,
}
PROFILES = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "examples").glob("*.json"))]
PROFILES.append(FAMILY)


def pseudo(text: str) -> str:
    """``Apply by {date}`` → ``⟦Åppļý bý {date}⟧``: the words marked, the placeholders kept."""
    parts = PLACEHOLDER.split(text)
    return OPEN + "".join(p if PLACEHOLDER.fullmatch(p) else p.translate(ACCENTS) for p in parts) + CLOSE


def is_text(node: Any) -> bool:
    """A language file's text: a mapping from languages to strings ({en: …, zh-TW: …})."""
    return (
        isinstance(node, dict)
        and bool(node)
        and set(node) <= set(LANGUAGES)
        and all(isinstance(v, str) for v in node.values())
    )


def pseudo_tree(node: Any) -> Any:
    if is_text(node):
        return {lang: pseudo(text) for lang, text in node.items()}
    if isinstance(node, dict):
        return {k: pseudo_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [pseudo_tree(v) for v in node]
    return node


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # the loader refuses anchors; a repeated value is written out


def write_pseudo(source: Path, target: Path) -> None:
    data = read_yaml(source, source.name).data  # the loader's own reading (YAML 1.2 booleans)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        yaml.dump(pseudo_tree(data), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**6),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def pseudo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pseudo")
    for source in [ROOT / "catalog.yaml", *sorted((ROOT / "rules").rglob("*.yaml"))]:
        write_pseudo(source, root / source.relative_to(ROOT))
    for name in UI_FILES:
        write_pseudo(ROOT / "ui" / name, root / "ui" / name)
    return root


@pytest.fixture(scope="module")
def pseudo_engine(pseudo_root) -> Engine:
    return Engine(load_catalogue(pseudo_root))


def _legal_bases(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "legal_basis" and isinstance(value, str):
                yield value
            else:
                yield from _legal_bases(value)
    elif isinstance(node, list):
        for value in node:
            yield from _legal_bases(value)


@lru_cache(maxsize=1)
def citations() -> tuple[str, ...]:
    """Every ``legal_basis`` of the catalogue and the rules, the longest first."""
    found: set[str] = set()
    for source in [ROOT / "catalog.yaml", *sorted((ROOT / "rules").rglob("*.yaml"))]:
        found.update(_legal_bases(read_yaml(source, source.name).data))
    return tuple(sorted(found, key=len, reverse=True))


def leaks(text: str) -> list[str]:
    """The words of ``text`` that no language file gave."""
    text = text.replace("\\", "")  # Markdown's escapes (2025\\-01\\-01)
    for citation in citations():
        text = text.replace(citation, " ")
    previous = None
    while previous != text:  # marked texts nest: a phrase filled with a label
        previous, text = text, MARKED.sub(" ", text)
    return WORD.findall(NOT_WORDS.sub(" ", text))


def assert_no_leaks(where: str, texts: Iterator[tuple[str, str]]) -> None:
    found = {}
    for place, text in texts:
        words = leaks(text)
        if words:
            found.setdefault(" ".join(words), f"{where}, {place}: {text!r}")
    assert not found, f"{len(found)} text(s) not from the language files:\n" + "\n".join(
        sorted(found.values())[:40]
    )


def test_the_pseudo_language_marks_every_text_and_keeps_placeholders():
    assert pseudo("Apply by {date}") == "⟦Åppļý bý {date}⟧"
    assert leaks("⟦Åppļý by 2026-03-01⟧ 2026-03-01 · NT$5,000 ✅") == []
    assert leaks("⟦Åppļý⟧ (deadline)") == ["deadline"]
    assert is_text({"en": "a", "zh-TW": "b"}) and not is_text({"en": 1}) and not is_text({"fact": "x"})


# --- what a person reads, over the pseudo language files ----------------------------------------

RESULT_TEXTS = ("name", "agency", "office", "confidence_note")


def result_texts(result: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The texts of one result of the API's JSON (ids, dates and legal citations aside)."""
    sid = result["service"]
    for key in RESULT_TEXTS:
        if result.get(key):
            yield f"{sid}.{key}", result[key]
    for key in ("what_would_change", "notes"):
        for text in result.get(key) or []:
            yield f"{sid}.{key}", text
    for reason in result["reasons"]:
        yield f"{sid}.reasons", reason["text"]
    for doc in result["documents"]:
        yield f"{sid}.documents", doc["name"] + " " + (doc.get("note") or "")
    for channel in result["channels"]:
        yield f"{sid}.channels", channel.get("where") or ""
    for step in result.get("steps") or []:
        yield f"{sid}.steps", step["name"] + " " + step["text"]


def test_the_cli_text_output_says_only_words_from_the_language_files(pseudo_root, tmp_path):
    def outputs() -> Iterator[tuple[str, str]]:
        for i, profile in enumerate(PROFILES):
            path = tmp_path / f"profile{i}.json"
            path.write_text(json.dumps(profile), encoding="utf-8")
            lang = LANGUAGES[i % len(LANGUAGES)]  # one process a profile, the languages in turn
            done = subprocess.run(
                [sys.executable, "-m", "engine", "recommend", str(path), "--lang", lang],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "LIFEEVENTS_ROOT": str(pseudo_root)},
            )
            assert done.returncode == 0, done.stderr
            for n, line in enumerate(done.stdout.splitlines(), 1):
                yield f"profile {i} ({lang}) line {n}", line

    assert_no_leaks("lifeevents recommend", outputs())


def test_the_api_answers_say_only_words_from_the_language_files(pseudo_root):
    from fastapi.testclient import TestClient

    from engine.interfaces.api import create_app

    def outputs(client) -> Iterator[tuple[str, str]]:
        for i, profile in enumerate(PROFILES):
            for lang in LANGUAGES:
                where = f"profile {i} ({lang})"
                rec = client.post("/recommend", params={"lang": lang}, json=profile).json()
                for result in (*rec["results"], *rec.get("partner_results", [])):
                    for place, text in result_texts(result):
                        yield f"/recommend {where} {place}", text
                found = client.post("/questions", params={"lang": lang}, json=profile).json()
                for q in found["questions"]:
                    yield f"/questions {where} {q['fact']}", q["label"] + " " + q["why"]
                plan = client.post("/plan", params={"lang": lang}, json=profile).json()
                yield f"/plan {where} totals", plan["totals"]
                for step in plan["steps"]:
                    texts = [
                        step["name"],
                        step["agency"],
                        step["office"],
                        step["amount"] or "",
                        *step["unlocks"],
                    ]
                    yield f"/plan {where} {step['service']}", " ".join(texts)
                for doc in (*plan["to_bring"], *plan["no_need_to_bring"]):
                    yield f"/plan {where} documents", doc["name"] + " " + (doc["note"] or "")

    with TestClient(create_app(root=pseudo_root, staff_token="")) as client:
        assert_no_leaks("API", outputs(client))


class _PageText(HTMLParser):
    """The words of a page, its attributes a person may read (alt, title, labels) too."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = tag == "style"
        self.parts += [v for k, v in attrs if k in ("alt", "title", "aria-label", "data-label") and v]

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.parts.append(data)


def test_the_printed_plan_says_only_words_from_the_language_files(pseudo_engine):
    catalogue = pseudo_engine.catalogue

    def outputs() -> Iterator[tuple[str, str]]:
        for i, profile in enumerate(PROFILES):
            for lang in LANGUAGES:
                rec = pseudo_engine.recommend(validate_profile(profile), lang=lang)
                for calendar in ("gregorian", "roc"):
                    page = _PageText()
                    page.feed(render_plan_html(build_plan(rec, catalogue, lang), catalogue, calendar))
                    for n, text in enumerate(page.parts):
                        yield f"profile {i} ({lang}, {calendar}) part {n}", text

    assert_no_leaks("plan page", outputs())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_citizen_page_says_only_words_from_the_language_files(pseudo_root, monkeypatch, lang):
    from streamlit.testing.v1 import AppTest

    import ui.text
    from ui.answers import encode_token

    pseudo_text = yaml.safe_load((pseudo_root / "ui" / "text.yaml").read_text(encoding="utf-8"))
    monkeypatch.setattr(ui.text, "load_text", lambda path=None: pseudo_text)
    monkeypatch.setenv("LIFEEVENTS_ROOT", str(pseudo_root))
    # A share link restores a mother's answers: results in every group, the plan, the
    # totals and the "answers restored" note; one "I don't know" shows a question card.
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60)
    at.query_params["a"] = encode_token(["birth"], ANSWERS, lang)
    at.run()
    assert not at.exception, at.exception
    at.button(key="submit:dont_know").click().run()
    assert not at.exception, at.exception
    assert at.get("download_button"), "the plan is on the page"

    def outputs() -> Iterator[tuple[str, str]]:
        for kind in (
            "markdown",
            "caption",
            "header",
            "subheader",
            "title",
            "info",
            "warning",
            "success",
            "error",
        ):
            for n, element in enumerate(at.get(kind)):
                yield f"{kind} {n}", str(element.value)
        for kind in (
            "button",
            "radio",
            "selectbox",
            "multiselect",
            "number_input",
            "date_input",
            "text_input",
        ):
            for element in at.get(kind):
                yield f"{kind} {element.key} label", str(getattr(element, "label", "") or "")
                for option in getattr(element, "options", None) or []:
                    yield f"{kind} {element.key} option", str(option)
        for n, element in enumerate(at.get("expander")):
            yield f"expander {n}", str(element.label)

    assert_no_leaks(f"citizen page ({lang})", outputs())
