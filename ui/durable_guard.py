"""A stop-gap for a durable-rules 2.0.28 crash that the engine does not guard against yet.

Measured here (Python 3.11, durable-rules 2.0.28): ``delete_state`` on a session whose
every asserted fact was *not handled* (no rule matched: ``MessageNotHandledException``)
frees an invalid pointer, and the process dies (``free(): invalid pointer``, SIGSEGV).
The engine asserts one fact per rule partition and deletes the session in ``finally``,
so any profile that leaves a whole partition undecided kills the process — the empty
profile a questionnaire starts from, for one. In a Streamlit server that is every
citizen's session at once.

Leaving such a session alive is not a fix either: the state table fills up
(``MemoryError`` after some 10⁵ evaluations). What works (100,000 mixed evaluations, flat
memory, the same rules fired): *park* the session of an all-unhandled assert and reuse its
id for the next assert on the same ruleset; it is deleted as soon as an assert in it is
handled. A parked fact cannot change a later verdict, because every compiled rule is a
single-fact pattern and the parked fact matched none of them.

This belongs in ``engine/durable_backend.py`` (``DurableRunner._assert``); the UI
applies it to its own engine only, and the lead has been told. Remove this file once the
engine parks or otherwise avoids deleting unhandled sessions.
"""

from __future__ import annotations

import contextlib

from durable.engine import MessageNotHandledException

from engine.durable_backend import DurableError, DurableRunner


class ParkingRunner(DurableRunner):
    """``DurableRunner`` that never deletes a session in which no fact was handled."""

    _parked: dict[str, str]

    def _assert(self, ruleset: str | None, sid: str, facts: list[dict]) -> None:
        assert ruleset is not None
        sid = self._parked.pop(ruleset, sid)
        handled = False
        try:
            for fact in facts:
                try:
                    self.host.assert_fact(ruleset, dict(fact, sid=sid))
                    handled = True
                except MessageNotHandledException:
                    pass
        except Exception as exc:  # the C engine's errors carry only a code
            raise DurableError(f"durable-rules refused a fact in {ruleset}: {exc}") from exc
        finally:
            state = None
            if handled:
                with contextlib.suppress(Exception):
                    state = self.host.get_state(ruleset, sid)
                with contextlib.suppress(Exception):
                    self.host.delete_state(ruleset, sid)
            else:
                self._parked[ruleset] = sid
        if state and "exception" in state:
            raise DurableError(f"an action failed in {ruleset}: {state['exception']}")


def guard(runner: DurableRunner) -> DurableRunner:
    """Turn the engine's runner into a :class:`ParkingRunner` in place (same host, same
    compiled rulesets: registering them again would fail, "already registered")."""
    if not isinstance(runner, ParkingRunner):
        runner.__class__ = ParkingRunner
        runner._parked = {}
    return runner
