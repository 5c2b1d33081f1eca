"""Prometheus metrics of the HTTP API (``GET /metrics``; docs/deployment.md).

prometheus-client is the Prometheus project's own Python client: the text format, the
histogram arithmetic and the several-processes mode (``PROMETHEUS_MULTIPROC_DIR``: each
worker writes its samples to memory-mapped files, a scrape of any worker sums them) are
its, not ours. The request middleware is ours (engine/interfaces/api.py), because it also sets the
request id and writes the access log: one measurement of a request's duration feeds both.

What is measured (names are the scrape's):

- ``lifeevents_http_requests_total{method, route, status}`` and
  ``lifeevents_http_request_duration_seconds{method, route}`` (a histogram);
- ``lifeevents_http_errors_total{method, route, kind}``: ``kind`` is ``client`` (4xx) or
  ``server`` (5xx, including the 500 of an unexpected error);
- ``lifeevents_rules_version{version}``: how many worker processes answer with each
  rules version (1 on a single process), so a reload's convergence shows;
- ``lifeevents_rules_reloads_total{outcome, via}``: ``via`` is ``hook`` (a staff call of
  ``/admin/reload``) or ``signal`` (a worker following another's reload).

``route`` is the route's template (``/services/{service_id}``), never the path a client
sent, and ``unmatched`` for a path no route has: a label's values must be few, and a
client chooses its paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_ENV = "LIFEEVENTS_METRICS"  # "0": no /metrics and no measuring (lifeevents serve --no-metrics)

# A recommendation takes ~5 ms; the buckets resolve that range finely and still catch a
# stalled request (seconds).
DURATION_BUCKETS = (0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A method label outside these is "OTHER": a client can send any token as a method.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def enabled_by_environment() -> bool:
    return os.environ.get(METRICS_ENV, "1") not in ("0", "false", "no", "off")


def multiprocess_dir() -> Path | None:
    """The directory the worker processes share their samples through, if any."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "OTHER"


class ServiceMetrics:
    """The API's metrics, in a registry of their own (so that several apps in one process,
    as in the tests, do not collide in prometheus-client's global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        if not self.multiprocess:
            # The process's CPU, memory and descriptors; in the several-processes mode
            # prometheus-client cannot sum these across workers, so they are left out there.
            from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "lifeevents_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "lifeevents_http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "lifeevents_http_errors",
            "Answers with an error status: client (4xx) or server (5xx)",
            ["method", "route", "kind"],
            registry=r,
        )
        self.rules_version = Gauge(
            "lifeevents_rules_version",
            "Worker processes answering with each rules version",
            ["version"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.reloads = Counter(
            "lifeevents_rules_reloads",
            "Rule reloads by outcome (reloaded, unchanged, failed, rate_limited) and trigger (hook, signal)",
            ["outcome", "via"],
            registry=r,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method_label(method)
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
        if status >= 400:
            self.errors.labels(method, route, "server" if status >= 500 else "client").inc()

    def rules_in_use(self, version: str, previous: str | None = None) -> None:
        """This process now answers with ``version`` (and no longer with ``previous``).
        Set to 0 rather than removed: the several-processes mode cannot remove a label."""
        if previous is not None and previous != version:
            self.rules_version.labels(previous).set(0)
        self.rules_version.labels(version).set(1)

    def reload(self, outcome: str, via: str = "hook") -> None:
        self.reloads.labels(outcome, via).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The scrape's body and content type: this process's samples, or every worker's
        summed when the workers share a directory."""
        if self.multiprocess:
            directory = multiprocess_dir()
            assert directory is not None
            merged = CollectorRegistry()
            merged.register(WorkersCollector(directory))
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def process_exits(self) -> None:
        """Drop this worker's live gauges (its rules version) when it stops, so that a
        restarted worker is not counted twice; counters keep their totals."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())


class WorkersCollector:
    """Every worker's samples, summed: prometheus-client's ``MultiProcessCollector``, but
    over the files that can be read.

    A worker creates its file and only then sizes it, so for a moment the file is empty,
    and a worker killed in that moment leaves it empty for good. The library's collector
    then fails on the header it cannot read, and the whole scrape with it: a 500 from
    /metrics, seen in our two-worker test (prometheus/client_python#1199, open in 0.26).
    An empty file holds no sample yet, so it is left out. A file that goes away between
    the listing and the reading (a worker's gauges removed as it exits) is read again
    from a new listing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterable[Any]:
        from prometheus_client.multiprocess import MultiProcessCollector

        for _ in range(2):
            try:
                return MultiProcessCollector.merge(self._readable_files(), accumulate=True)
            except FileNotFoundError:
                continue  # a worker's file removed after the listing: list again
        return MultiProcessCollector.merge(self._readable_files(), accumulate=True)

    def _readable_files(self) -> list[str]:
        found = []
        for path in self.directory.glob("*.db"):
            try:
                if path.stat().st_size >= _HEADER_BYTES:
                    found.append(str(path))
            except FileNotFoundError:
                continue
        return sorted(found)


_HEADER_BYTES = 8  # a sized file's header: the bytes in use (4) and padding (4)
