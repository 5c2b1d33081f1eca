"""What ``lifeevents serve`` adds to uvicorn against slow and idle clients (issue 12, item 11).

uvicorn closes a kept-alive connection that stays idle after an answer, but sets no time
limit on a connection that never finishes its request: 1,100 connections that each sent
half a header, under ``ulimit -n 1024``, kept every file descriptor busy forever, so
no client got an answer, and asyncio logged each failed ``accept()`` with a traceback
(56 MB in 35 s). :class:`GuardedH11Protocol` is uvicorn's h11 protocol with:

- a **request deadline**: the request line, headers and body must all arrive within
  ``request_timeout`` seconds of the connection opening (or of the previous answer on a
  kept-alive connection); a slower client is disconnected. Time the application spends
  answering does not count.
- a **connection cap**: at most ``max_connections`` open connections per process, kept
  below the descriptor limit. A connection over the cap evicts the oldest connection
  that is still waiting for its request, so a prompt client gets in while a flood of slow
  ones is cycled out; only if none is waiting is the new one closed.

Both settings reach worker processes through the environment (``serve`` sets them), as
the rules directory does. :class:`RepeatLimit` keeps a flood of identical log lines to a
few per window.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT_ENV = "LIFEEVENTS_REQUEST_TIMEOUT"
MAX_CONNECTIONS_ENV = "LIFEEVENTS_MAX_CONNECTIONS"
REQUEST_TIMEOUT = 10.0  # seconds for the request line, headers and body
MAX_CONNECTIONS = 1000
BACKLOG = 128  # asyncio accepts up to this many sockets in one go, before any is checked
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open after an answer

log = logging.getLogger("lifeevents.connections")


def max_connections(requested: int | None = None) -> int:
    """``requested`` (default MAX_CONNECTIONS), lowered to stay clear of this process's
    descriptor limit (a burst of BACKLOG accepts, and the descriptors the server holds)."""
    wanted = requested or MAX_CONNECTIONS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - BACKLOG - 64))


# Connections still waiting for (the rest of) a request, oldest first: the ones a new
# connection over the cap evicts. One uvicorn server per process, so one table.
_waiting: dict[GuardedH11Protocol, None] = {}


class _Refusals:
    """Counts the connections closed for the cap; says so at most once per window."""

    window = 10.0

    def __init__(self) -> None:
        self.count = 0
        self.since = time.monotonic()

    def note(self, cap: int) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.since >= self.window:
            log.warning(
                "%d connections closed in the last %.0f s: over the limit of %d open connections "
                "(slow or idle clients, or an attack)",
                self.count,
                now - self.since,
                cap,
            )
            self.count, self.since = 0, now


_refusals = _Refusals()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline and a connection cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = float(os.environ.get(REQUEST_TIMEOUT_ENV, REQUEST_TIMEOUT))
        self.max_connections = int(os.environ.get(MAX_CONNECTIONS_ENV, 0)) or max_connections()
        self._deadline: Any = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._await_request()
        if len(self.connections) > self.max_connections:
            oldest = next((p for p in _waiting if p is not self), self)
            _refusals.note(self.max_connections)
            oldest._disconnect()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._stop_waiting()  # the whole request is in; the answer is ours to give

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_request()  # a kept-alive connection: the next request has a deadline too

    def _await_request(self) -> None:
        self._stop_waiting()
        _waiting[self] = None
        self._deadline = self.loop.call_later(self.request_timeout, self._disconnect)

    def _stop_waiting(self) -> None:
        _waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _disconnect(self) -> None:
        """Too slow, or evicted: close without an answer (nothing is logged per
        connection: under attack that is the flood)."""
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.close()


class RepeatLimit(logging.Filter):
    """At most ``burst`` records of one kind (logger and message template) per
    ``window`` seconds; the first record after a quiet spell says how many were dropped."""

    def __init__(self, burst: int = 5, window: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.seen: dict[tuple[str, str], list[float]] = {}  # key -> [window start, count, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        entry = self.seen.get(key)
        if entry is None or now - entry[0] >= self.window:
            dropped = int(entry[2]) if entry else 0
            self.seen[key] = [now, 1, 0]
            if len(self.seen) > 1000:  # a bound on the table itself
                self.seen = {key: self.seen[key]}
            if dropped:
                record.msg = f"{record.msg} [{dropped} more like this were not logged]"
            return True
        entry[1] += 1
        if entry[1] <= self.burst:
            return True
        entry[2] += 1
        return False
