"""What the front end costs and asks: figures, not timed tests.

1. Server-side latency of one answer: the time from an answer to the refreshed results
   (``ui.questionnaire.refresh``: validate, recommend, group, rank the next questions;
   plus the plan), median and p95 over every step of simulated questionnaires; and
   the whole AppTest rerun of the citizen page (Streamlit's script run, the widgets and
   the engine), median over the same kind of steps.
2. How many questions a typical newborn family answers when it answers in order
   (examples/newborn.json: an employed mother in Taichung and her first child), taking
   the engine's best question each time and answering it from the profile, with
   "I don't know" for what the profile leaves out.

Run: ``PYTHONPATH=. .venv/bin/python bench/ui_bench.py [--root DIR] [--no-apptest]``.
``--root`` points at another checkout's catalogue (a larger one, for instance).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.services.plan import build_plan  # noqa: E402
from ui.answers import answers_from_profile, with_answer  # noqa: E402
from ui.questionnaire import refresh  # noqa: E402
from ui.runtime import build_engine  # noqa: E402

EXAMPLE = ROOT / "examples" / "newborn.json"


def amount_only(results, fact: str) -> bool:
    """Whether a fact only sets an eligible service's amount (no status depends on it)."""
    return any(fact in r.amount_missing for r in results if r.status == "eligible") and not any(
        fact in r.missing for r in results if r.status == "unknown"
    )


def questionnaire(engine, life_events: list[str], known: dict[str, Any], as_of: date, lang: str = "zh-TW"):
    """Answer the engine's best question until none is left, as the citizen page does:
    one card at a time, an event's card with its fields. Returns the cards (each a
    list of the facts it asked), the time of every refresh (seconds), the last snapshot."""
    answers: dict[str, Any] = {}
    cards: list[list[str]] = []
    timings: list[float] = []
    while True:
        start = time.perf_counter()
        snapshot = refresh(engine, life_events, answers, lang, as_of)
        build_plan(snapshot.recommendation, engine.catalogue, lang)
        timings.append(time.perf_counter() - start)
        if not snapshot.questions:
            return cards, timings, snapshot
        fact = snapshot.questions[0].fact
        card = [fact]
        if amount_only(snapshot.all_results(), fact):
            card = ["amount:" + fact]
        answers = with_answer(answers, fact, known.get(fact))
        if known.get(fact) is True and snapshot.follow_ups:
            for extra in snapshot.follow_ups:
                if known.get(extra.fact) is not None:
                    card.append(extra.fact)
                    answers = with_answer(answers, extra.fact, known[extra.fact])
        cards.append(card)


def apptest_reruns(root: Path, known: dict[str, Any], steps: int) -> list[float]:
    """The whole rerun of the citizen page after an answer, as AppTest measures it."""
    import os

    from streamlit.testing.v1 import AppTest

    os.environ["LIFEEVENTS_ROOT"] = str(root)
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()
    at.multiselect(key=f"w:life_events:{at.session_state.lang}").select("birth").run()
    times = []
    for _ in range(steps):
        facts = [
            e.key[2:]
            for e in at.get("radio")
            + at.get("number_input")
            + at.get("date_input")
            + at.get("selectbox")
            + at.get("multiselect")
            if e.key and e.key.startswith("q:")
        ]
        if not facts:
            break
        start = time.perf_counter()
        at.button(key="submit:dont_know").click().run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="catalogue root (catalog.yaml, rules/)")
    parser.add_argument("--rounds", type=int, default=20, help="questionnaires to time")
    parser.add_argument("--no-apptest", action="store_true", help="skip the AppTest rerun timing")
    args = parser.parse_args()

    engine = build_engine(args.root)
    profile = json.loads(EXAMPLE.read_text())
    as_of = date.fromisoformat(profile["as_of"])
    known = answers_from_profile(profile)
    n_services = len(engine.catalogue.services)
    birth_services = sum("birth" in s.events for s in engine.catalogue.services.values())
    print(f"catalogue: {args.root} — {n_services} services, {birth_services} for the birth event")

    cards, _, final = questionnaire(engine, ["birth"], known, as_of)
    counts = final.counts()
    n_facts = sum(len(card) for card in cards)
    n_amount = sum(card[0].startswith("amount:") for card in cards)
    print(
        f"birth questionnaire, typical newborn family ({EXAMPLE.name}): {len(cards) - n_amount} questions "
        f"that decide a status + {n_amount} for amounts = {len(cards)} cards "
        f"({n_facts} facts: an event's card also takes its fields)"
    )
    for n, card in enumerate(cards, 1):
        given = ", ".join(
            f"{f} = {json.dumps(known.get(f.removeprefix('amount:')), ensure_ascii=False)}" for f in card
        )
        print(f"  {n:2d}. {given}")
    print(
        f"  end: {counts['eligible']} likely eligible, {counts['unknown']} need more information, "
        f"{counts['ineligible']} not eligible"
    )

    every_event = list(engine.catalogue.events)
    samples: list[float] = []
    for _ in range(args.rounds):
        for events in (["birth"], every_event):
            _, timings, _ = questionnaire(engine, events, known, as_of)
            samples.extend(timings)
    samples.sort()
    p95 = samples[int(0.95 * (len(samples) - 1))]
    print(
        f"answer → refreshed results and plan (server side, refresh()): median "
        f"{statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {samples[-1] * 1000:.1f} ms over {len(samples)} answers"
    )

    if not args.no_apptest:
        reruns = apptest_reruns(args.root, known, steps=12)
        print(
            f"answer → rerun of the citizen page (AppTest, whole script): median "
            f"{statistics.median(reruns) * 1000:.1f} ms, max {max(reruns) * 1000:.1f} ms "
            f"over {len(reruns)} answers"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
