"""The HTTP API (issue 7): the engine for counter systems, mobile apps and other agencies.

Start it with ``lifeevents serve`` (uvicorn), or mount :func:`create_app` in any ASGI
server. ``engine/__init__`` does not import this module: the engine works without
FastAPI installed, and only ``serve`` and the tests need the ``api`` extra.

What the service promises (docs/api.md):

- **Stateless.** Nothing about a request outlives it: no profile is stored, and none is
  logged. Validation errors are answered to the caller, never logged; an unexpected error
  is logged as its type and code locations only, because an exception's message can quote
  the values it failed on. Replicas behind a load balancer are interchangeable.
- **Bounded input.** Bodies over ``max_body_bytes`` (64 KiB) get 413, counted on the
  stream as it arrives, so a missing or lying ``Content-Length`` changes nothing. A request
  line and headers over ``max_head_bytes`` (16 KiB) together get 431, however they arrived.
- **Nothing kept downstream.** Every answer says ``Cache-Control: no-store`` (an answer
  quotes the profile it was asked about), ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer``; HTML answers carry a Content-Security-Policy.
- **One engine per request.** The compiled engine is one reference; a reload builds the
  new engine completely and then replaces the reference, so a request sees the old rules
  or the new, never a mix.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import re
import secrets
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from engine.backends.durable_backend import CompileError, DurableError
from engine.interfaces.logs import ACCESS_LOG_ENV, ACCESS_LOGGER, cut, log_config, request_id_from, where
from engine.interfaces.logs import current_request_id as request_id_var
from engine.interfaces.logs import enabled_by_environment as access_log_by_environment
from engine.interfaces.metrics import METRICS_ENV, MULTIPROC_ENV, UNMATCHED, ServiceMetrics
from engine.interfaces.metrics import enabled_by_environment as metrics_by_environment
from engine.language.catalog import EVENTS, Agency, Bilingual, Catalogue, Document, Ended, Service
from engine.language.i18n import CALENDARS, LANGUAGES
from engine.language.loader import CatalogueError, content_version, load_catalogue
from engine.language.messages import did_you_mean
from engine.language.parameters import Parameter
from engine.language.profile import MAX_PROFILE_BYTES, LooseDate, Profile, ProfileProblem, profile_problems
from engine.language.rules import Text
from engine.language.rulesroot import rules_root as find_rules_root
from engine.services.audit import record_reload
from engine.services.plan import OneStopPlan, build_plan, render_plan_html
from engine.services.questions import Question, next_questions
from engine.services.recommend import Engine, EngineDisagreement
from engine.services.results import Recommendation

log = logging.getLogger("lifeevents.api")
access = logging.getLogger(ACCESS_LOGGER)

MAX_BODY_BYTES = MAX_PROFILE_BYTES  # a body is one profile: the command line reads no more of a file
MAX_HEAD_BYTES = 16 * 1024  # the request line and headers together
STAFF_TOKEN_ENV = "LIFEEVENTS_STAFF_TOKEN"
# Set by ``lifeevents serve --workers N`` for its workers: the file through which the
# worker that ran a reload tells the others (see ReloadSignal).
RELOAD_FILE_ENV = "LIFEEVENTS_RELOAD_FILE"
RELOAD_POLL_SECONDS = 1.0
# At most one reload that loads the rules per this many seconds: each keeps ~6 MiB that
# durable-rules cannot free. A reload of unchanged rules only hashes the files.
RELOAD_INTERVAL_SECONDS = 60.0

# The OpenAPI example, and the profile a new engine answers once before it serves.
_EXAMPLE_PROFILE = {
    "as_of": "2026-03-01",
    "residence": "taichung",
    "person": {"sex": "female", "labor_insurance_days": 300, "insured_salary": 30000},
    "children": [{"birth_date": "2026-02-01", "order": 1, "childcare": "home"}],
    "events": {"birth": {"date": "2026-02-01", "kind": "live"}},
}

EventId = Literal[EVENTS]  # type: ignore[valid-type]
Lang = Literal[LANGUAGES]  # type: ignore[valid-type]
Calendar = Literal[CALENDARS]  # type: ignore[valid-type]

# --- response models ---------------------------------------------------------------------
# Every response has a pydantic model, so that the OpenAPI document describes what is
# really sent; the engine's own models (Recommendation, Service, the plan and question
# dataclasses) are used as they are, so the API cannot drift from the CLI.

RuleData = Annotated[
    dict[str, Any],
    Field(
        description="A node of the rule language as data: 'kind' names the node "
        "(compare, all, any_of, not, some_child, switch, unencoded, const; in expressions "
        "literal, fact_ref, param_ref, arith, date_add, cases), the other keys are its fields. "
        "Texts are {en, zh-TW}; pairs (switch cases, cases branches) are two-item lists."
    ),
]


class RequestProblem(ProfileProblem):
    location: Literal["body", "query", "path", "header"] = Field(
        description="where the problem is: the profile (body) or a query parameter"
    )


class ProblemsOut(BaseModel):
    detail: list[RequestProblem]


class MessageOut(BaseModel):
    detail: str


class ReloadFailedOut(BaseModel):
    detail: str
    problems: list[str] = Field(description="file:line: message, as 'lifeevents validate' prints them")


class HealthOut(BaseModel):
    status: Literal["ok"]
    rules_version: str
    services: int
    loaded_at: datetime = Field(description="when this process loaded the rules it answers with")
    worker: int = Field(description="the answering process's id: tells the workers of one server apart")


class ServiceSummaryOut(BaseModel):
    id: str
    name: Bilingual
    events: list[str]
    agency: str
    agency_name: Bilingual
    confidence: str
    home_visit: bool
    ended: Ended | None
    jurisdictions: list[str] = Field(description="'national' and the places with a local rule")


class ServicesOut(BaseModel):
    rules_version: str
    services: list[ServiceSummaryOut]


class RuleFileOut(BaseModel):
    file: str
    jurisdiction: str
    legal_basis: str
    eligibility: RuleData
    amount: RuleData | None
    fee: RuleData | None
    deadline: RuleData | None
    notes: list[RuleData]
    priority: int | None
    confidence: str | None
    confidence_note: Bilingual | None


class ServiceDetailOut(Service):
    """The catalogue entry as ``catalog.yaml`` has it, with what it refers to resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    rules_version: str
    agency_detail: Agency
    document_details: dict[str, Document]
    rules: list[RuleFileOut] = Field(description="one per rule file: national and local layers")
    eligibility: RuleData = Field(
        description="the condition the engine evaluates: the layers combined by residence, "
        "each criterion on an event guarded by 'the event is listed'"
    )


class ParameterValueOut(BaseModel):
    effective_from: date
    value: int | float | dict[str, int | float]
    confidence: str | None
    reference: str | None
    note: str | None


class ParameterOut(BaseModel):
    name: str
    description: str
    label: Bilingual
    unit: str
    reference: str
    confidence: str
    period: str | None
    index: str | None
    index_lookup: str
    jurisdiction: str
    overrides: str | None
    file: str
    values: list[ParameterValueOut]


class ParametersOut(BaseModel):
    rules_version: str
    parameters: list[str]


class QuestionsOut(BaseModel):
    as_of: date
    rules_version: str
    questions: list[Question] = Field(description="the most decisive first")


class ReloadOut(BaseModel):
    outcome: Literal["reloaded", "unchanged"] = Field(
        description="unchanged: the saved rules are the ones in use, nothing was rebuilt"
    )
    rules_version: str
    previous_version: str
    changed: bool
    services: int
    loaded_at: datetime


# --- the rule language as data ------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def rule_data(node: Any) -> Any:
    """A rule dataclass (condition, expression, amount, deadline, note) as plain JSON.

    Generic over the dataclasses of ``engine.language.rules``, so a node type added to the rule
    language is served without a change here. Fields that do not take part in equality
    (a condition's ``where``, an amount's ``at``: positions in the YAML file) are left
    out: they say where a rule was written, not what it says.
    """
    if isinstance(node, Text):
        return {"en": node.en, "zh-TW": node.zh}
    if is_dataclass(node) and not isinstance(node, type):
        out: dict[str, Any] = {"kind": _snake(type(node).__name__)}
        for f in fields(node):
            if f.compare:
                out[f.name] = rule_data(getattr(node, f.name))
        return out
    if isinstance(node, list | tuple):
        return [rule_data(item) for item in node]
    if isinstance(node, dict):
        return {str(k): rule_data(v) for k, v in node.items()}
    if isinstance(node, date):
        return node.isoformat()
    return node


def _bilingual(text: Text) -> Bilingual:
    return Bilingual.model_validate({"en": text.en, "zh-TW": text.zh})


def _closest(word: str, choices: list[str]) -> str:
    return did_you_mean(word, choices, cutoff=0.5)


# --- the engine, swapped whole on reload ---------------------------------------------------


@dataclass(frozen=True)
class LoadedRules:
    engine: Engine
    loaded_at: datetime

    @property
    def catalogue(self) -> Catalogue:
        return self.engine.catalogue


def read_stable_catalogue(root: Path, attempts: int = 3) -> Catalogue:
    """Load the catalogue, read twice until two reads agree.

    The staff area writes each file atomically, but a version can touch several files (a
    restore), and a read that falls between two of those writes is a mix of versions that
    may still validate. Two reads with the same content hash are one version.
    """
    first = load_catalogue(root)
    for _ in range(attempts):
        second = load_catalogue(root)
        if second.version == first.version:
            return second
        first = second
    raise CatalogueError([])  # handled by the caller as "changing while read"


class RulesHolder:
    """The current rules of this process. ``current`` is replaced, never mutated."""

    def __init__(self, root: Path, engine: Engine | None = None, metrics: ServiceMetrics | None = None):
        self.root = root
        built = engine if engine is not None else Engine(load_catalogue(root))
        self.current = LoadedRules(built, datetime.now(UTC))
        self._reload_lock = threading.Lock()  # one build at a time: each costs a compile
        self.metrics = metrics
        if metrics is not None:
            metrics.rules_in_use(built.catalogue.version)

    def reload(self, via: str = "hook") -> tuple[LoadedRules, LoadedRules]:
        """Build the engine for the rules on disk, then swap it in; (old, new), the same
        object twice when the files hash to the version in use (nothing is rebuilt).
        ``via`` says what asked, for the metrics: a staff ``hook`` or another worker's
        ``signal``.

        Raises CatalogueError or a compile error and keeps the old rules when the saved
        version does not load.
        """
        with self._reload_lock:
            old = self.current
            try:
                if content_version(self.root) == old.catalogue.version:
                    self._count("unchanged", via)
                    return old, old  # the rules in use: building them again would only cost memory
                engine = Engine(read_stable_catalogue(self.root))
            except BaseException:
                self._count("failed", via)
                raise
            # One reference assignment: requests that already took the old rules finish
            # with them, the next request takes the new ones.
            self.current = LoadedRules(engine, datetime.now(UTC))
            self._count("reloaded", via)
            if self.metrics is not None:
                self.metrics.rules_in_use(engine.catalogue.version, old.catalogue.version)
            return old, self.current

    def _count(self, outcome: str, via: str) -> None:
        if self.metrics is not None:
            self.metrics.reload(outcome, via)


class ReloadSignal:
    """Tells the other workers of one ``lifeevents serve --workers N`` to reload.

    A request reaches one worker process only, so the worker that ran ``/admin/reload``
    writes a fresh token to a file only these workers share, and each worker checks it
    once a second and reloads when it changed. Separate replicas do not share it: each
    replica's hook is called on its own (docs/api.md).
    """

    def __init__(self, path: Path):
        self.path = path
        self.seen = self.read()

    def read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def announce(self, version: str) -> None:
        token = f"{uuid.uuid4().hex} {version}"
        self.seen = token  # before writing, so this worker's own watcher does not reload again
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(token, encoding="utf-8")
        os.replace(tmp, self.path)

    def check(self, holder: RulesHolder) -> bool:
        """Reload if another worker announced a reload since the last check."""
        token = self.read()
        if token is None or token == self.seen:
            return False
        self.seen = token
        try:
            old, new = holder.reload(via="signal")
        except Exception as exc:  # keep serving the rules we have
            log.warning("reload on another worker's signal failed, keeping the old rules: %s", exc)
            return False
        if new is not old:
            log.info("rules reloaded on another worker's signal: version %s", new.catalogue.version)
        return True

    def watch(self, holder: RulesHolder, stop: threading.Event) -> None:
        while not stop.wait(RELOAD_POLL_SECONDS):
            self.check(holder)


# --- middleware -----------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_json(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps(payload, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``, counted as the body streams in.

    ``Content-Length`` lets an honest client be refused before it sends anything; the
    count on the stream catches chunked bodies and lying headers. The body is read whole
    before the app runs (it is small by construction) and replayed to it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in scope.get("headers", ())}
        if b"content-length" in names and b"transfer-encoding" in names:
            # Two framings of one body: a proxy in front may read it the other way, and
            # smuggle a second request in the body (RFC 9112 §6.1 lets us refuse it).
            await _send_json(
                send,
                400,
                {"detail": "a request has Content-Length or Transfer-Encoding, not both"},
                [(b"connection", b"close")],
            )
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; there is no one to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for the disconnect, as usual

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _send_json(
            send,
            413,
            {"detail": f"request body larger than {self.max_bytes} bytes"},
            [(b"connection", b"close")],
        )


def request_head_bytes(scope: Scope) -> int:
    """The size of a request's line and headers as HTTP/1.1 writes them: ``METHOD target
    HTTP/1.1``, a ``name: value`` line per header, each ending in CRLF, then the blank
    line. The server has stripped the spaces a client may pad a value with, so a padded
    head counts a few bytes less than was sent."""
    query = scope.get("query_string", b"")
    target = len(scope.get("raw_path") or scope["path"].encode()) + (1 + len(query) if query else 0)
    line = len(scope["method"]) + 1 + target + len(" HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"]) + 2


class HeadLimitMiddleware:
    """431 for a request line and headers over ``max_bytes`` together.

    uvicorn's h11 limit (``h11_max_incomplete_event_size``, which ``serve`` sets) counts
    only a head still incomplete in its buffer: one that arrives in a single read passes
    whatever its size (a 100,000-byte header got 200). Measured from the scope, the limit
    holds whatever the packets, and under any ASGI server."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEAD_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and request_head_bytes(scope) > self.max_bytes:
            # The body, if any, is left unread: the connection cannot carry another request.
            await _send_json(
                send,
                431,
                {"detail": f"request line and headers larger than {self.max_bytes} bytes"},
                [(b"connection", b"close")],
            )
            return
        await self.app(scope, receive, send)


# For the HTML this API writes itself (the printable plan): its one <style> block, nothing
# else. The documentation pages set their own (see _documentation_pages).
HTML_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class PrivacyHeadersMiddleware:
    """Headers on every answer: the answers quote a person's situation, so no cache may
    keep them, no browser may sniff them into another type, and no link may leak the URL.
    HTML answers get a Content-Security-Policy unless the route set its own."""

    HEADERS = (
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    )

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() not in dict(self.HEADERS)
                ]
                headers.extend(self.HEADERS)
                names = {k.lower() for k, _ in headers}
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                if html and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", HTML_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The engine's own errors carry service ids and statuses, never profile values, so their
# text may be logged; any other exception's text might quote the input.
_LOGGABLE = (EngineDisagreement, DurableError, CompileError)


class QuietErrorsMiddleware:
    """An unexpected error becomes a 500 with an error id; the log gets the id, the
    exception type and where it happened, but not its message or any request data."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            error_id = uuid.uuid4().hex[:12]
            text = f" ({exc})" if isinstance(exc, _LOGGABLE) else ""
            log.error(
                "error %s in %s %s: %s%s",
                error_id,
                scope.get("method"),
                cut(str(scope.get("path"))),
                where(exc),
                text,
            )
            if not started:
                await _send_json(send, 500, {"detail": f"internal error {error_id}; it has been logged"})


class ObservedRequestsMiddleware:
    """The outermost layer: every request gets an id (the caller's ``X-Request-ID`` when
    sane, else a new one) that its answer carries back and every log line written while
    it runs names; then one access line (engine/interfaces/logs.py) and the metrics
    (engine/interfaces/metrics.py), both from one measurement of its duration. Neither reads the body.
    """

    def __init__(self, app: ASGIApp, owner: FastAPI, metrics: ServiceMetrics | None, access_log: bool):
        self.app = app
        self.owner = owner  # its routes name the route of a request the router did not see
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", ()))
        header = (b"x-request-id", request_id.encode("ascii"))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        # 499 (nginx's "client closed request") if no answer was started: the client left.
        status = 499

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = 500  # past QuietErrors: starlette's last-resort handler answers 500
            raise
        finally:  # a cancelled request (the client left) keeps 499 or what was sent
            seconds = time.perf_counter() - started
            route = self.route_of(scope)
            method = scope.get("method", "")
            if self.metrics is not None:
                self.metrics.observe_request(method, route, status, seconds)
            if self.access_log:
                access.info(
                    "%s %s %s",
                    method,
                    route,
                    status,
                    extra={
                        "method": method,
                        "route": route,
                        "path": cut(scope.get("path", "")),
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    def route_of(self, scope: Scope) -> str:
        """The route's template: the router leaves it in the scope; a request answered
        before routing (413, 400) is matched here against the routes."""
        route = scope.get("route")
        if route is not None and hasattr(route, "path"):
            return str(route.path)
        from starlette.routing import Match

        for candidate in self.owner.router.routes:
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                return str(getattr(candidate, "path", UNMATCHED))
        return UNMATCHED


def _encodable(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings written as ``\\udXXX`` text: JSON
    may carry one (``"\\ud800"``), UTF-8 cannot, and the 422 quoting it was a 500."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    return value


# --- the application ----------------------------------------------------------------------

ProfileBody = Annotated[
    Profile,
    Body(
        description="A profile of spec/profile.md. An absent or null field is unknown; unknown keys are refused.",
        openapi_examples={
            "newborn": {"summary": "A mother of a newborn in Taichung", "value": _EXAMPLE_PROFILE}
        },
    ),
]
AsOfQuery = Annotated[
    LooseDate | None,
    Query(description="evaluate at this date (default: the profile's as_of, else today)"),
]
EventQuery = Annotated[EventId | None, Query(description="only the services of this life event")]
LangQuery = Annotated[Lang, Query(description="language of names, reasons and the plan")]


async def current_rules(request: Request) -> LoadedRules:
    """The rules this request is answered with, taken once, so that a reload during the
    request cannot mix two versions. (async: no thread hop for a reference read.)"""
    holder: RulesHolder = request.app.state.rules
    return holder.current


Rules = Annotated[LoadedRules, Depends(current_rules)]
# auto_error=False: a missing token gets our 401 (or 403 when reloading is disabled).
StaffToken = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(auto_error=False, description=f"the staff token ({STAFF_TOKEN_ENV})")),
]

_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    # FastAPI's own answer when the JSON parser itself fails (e.g. nesting too deep).
    400: {"model": MessageOut, "description": "The body could not be parsed"},
    413: {"model": MessageOut, "description": "The body is larger than the limit (64 KiB)"},
    422: {
        "model": ProblemsOut,
        "description": "Invalid profile or parameters: every problem with its key path",
    },
}
_QUERY_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ProblemsOut, "description": "Invalid parameters"},
}


# The documentation pages load Swagger UI and ReDoc from this server, never a CDN: an
# offline government network showed blank pages. The files come with the fastapi-offline
# package (swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png in its
# static folder), so upgrading them is a pip upgrade. The pages' one inline script is
# allowed by its hash, computed from the page itself.
DOCS_ASSETS_PATH = "/docs-assets"
_DOCS_POLICY = (
    "default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_assets() -> Path:
    """The folder of the Swagger UI and ReDoc files that the installed fastapi-offline ships."""
    from importlib.resources import files

    return Path(str(files("fastapi_offline").joinpath("static")))


def _documentation_page(app: FastAPI, page: str, root_path: str) -> tuple[bytes, str]:
    """The page and its Content-Security-Policy. ``root_path`` (``serve --root-path``, for
    a proxy that serves the API under a prefix) goes before every URL the page loads."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

    openapi_url = f"{root_path}{app.openapi_url or '/openapi.json'}"
    assets = f"{root_path}{DOCS_ASSETS_PATH}"
    if page == "swagger":
        body = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            # No validator badge: Swagger UI would send the document's URL to swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        ).body
    else:
        body = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        ).body
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(body))
    )
    return bytes(body), _DOCS_POLICY.format(hashes=hashes)


def _documentation_pages(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc, with their files under DOCS_ASSETS_PATH."""
    from fastapi.staticfiles import StaticFiles

    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=docs_assets()), name="docs-assets")
    drawn: dict[tuple[str, str], tuple[bytes, str]] = {}  # root paths are the server's, few

    def route(page: str) -> Callable[[Request], HTMLResponse]:
        def show(request: Request) -> HTMLResponse:
            root_path = request.scope.get("root_path", "")
            if (page, root_path) not in drawn:
                drawn[(page, root_path)] = _documentation_page(app, page, root_path)
            body, policy = drawn[(page, root_path)]
            return HTMLResponse(body, headers={"Content-Security-Policy": policy})

        return show

    app.get("/docs", include_in_schema=False)(route("swagger"))
    app.get("/redoc", include_in_schema=False)(route("redoc"))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lifeevents")
    except PackageNotFoundError:
        return "0"


def model_json(model: object) -> Response:
    """A model the engine built, as its JSON, without FastAPI's response-model round.

    The engine's results are built by the engine, not by a client: FastAPI would validate
    them again against the response model (in a second thread-pool hop for a sync
    endpoint) before serialising them. The route keeps ``response_model`` for the OpenAPI
    document; the bytes are the model's own JSON, by alias as FastAPI writes it.
    """
    # A class is hashable; typeshed's type.__hash__ (self: object) is not what
    # functools.cache's Hashable asks for.
    adapter = _adapter(type(model))  # type: ignore[arg-type]
    return Response(adapter.dump_json(model, by_alias=True), media_type="application/json")


@functools.cache
def _adapter(kind: type) -> TypeAdapter:
    """One adapter per result type (a model or a dataclass), built once."""
    return TypeAdapter(kind)


def create_app(
    engine: Engine | None = None,
    root: Path | str | None = None,
    staff_token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_head_bytes: int = MAX_HEAD_BYTES,
    reload_interval: float = RELOAD_INTERVAL_SECONDS,
    metrics: bool | None = None,
    access_log: bool | None = None,
) -> FastAPI:
    """The API over ``engine`` (or over the rules under ``root``; by default
    ``LIFEEVENTS_ROOT`` or this repository, as the CLI). ``staff_token`` defaults to
    ``LIFEEVENTS_STAFF_TOKEN``; without one, ``/admin/reload`` is refused. A reload that
    loads the rules is allowed once per ``reload_interval`` seconds (429 otherwise).

    ``metrics`` (``/metrics``) and ``access_log`` default to on, unless
    ``LIFEEVENTS_METRICS`` or ``LIFEEVENTS_ACCESS_LOG`` is ``0``; with both off, the
    request layer is left out entirely (no request id either): the baseline that
    bench/api_bench.py measures their cost against."""
    rules_root = Path(root) if root is not None else find_rules_root(None)
    if engine is not None and root is None:
        rules_root = Path(engine.catalogue.root)
    measured = ServiceMetrics() if (metrics_by_environment() if metrics is None else metrics) else None
    logged = access_log_by_environment() if access_log is None else access_log
    holder = RulesHolder(rules_root, engine, measured)
    token = staff_token if staff_token is not None else os.environ.get(STAFF_TOKEN_ENV, "")
    reload_file = os.environ.get(RELOAD_FILE_ENV)
    signal = ReloadSignal(Path(reload_file)) if reload_file else None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        watcher = None
        if signal is not None:
            watcher = threading.Thread(
                target=signal.watch, args=(holder, stop), name="rules-reload", daemon=True
            )
            watcher.start()
        try:
            yield
        finally:
            stop.set()
            if watcher is not None:
                watcher.join(timeout=2 * RELOAD_POLL_SECONDS)
            if measured is not None:
                measured.process_exits()

    app = FastAPI(
        title="lifeevents",
        version=_version(),
        summary="Which of Taiwan's public services fit a life event, and why",
        description="Rules as code for the one-stop life-event services. A profile goes in; every "
        "service comes out eligible, ineligible or unknown, with reasons, amounts, deadlines and "
        "what to bring. See docs/api.md.",
        lifespan=lifespan,
        docs_url=None,  # served below, each with the Content-Security-Policy it needs
        redoc_url=None,
    )
    app.state.rules = holder
    app.state.metrics = measured
    _documentation_pages(app)
    # Added innermost first: QuietErrors wraps BodyLimit, so it also covers that; the head
    # limit wraps both, so an oversized head reaches no route and no body is read; the privacy
    # headers wrap those, so a 413, a 431 or a 500 carries them too; the request's id, log
    # line and metrics wrap everything, so they see every answer, a 431 or a 500 included.
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(QuietErrorsMiddleware)
    app.add_middleware(HeadLimitMiddleware, max_bytes=max_head_bytes)
    app.add_middleware(PrivacyHeadersMiddleware)
    if measured is not None or logged:
        app.add_middleware(ObservedRequestsMiddleware, owner=app, metrics=measured, access_log=logged)
    reload_gate = threading.Lock()
    last_load = [-math.inf]  # time.monotonic() of the last reload that loaded the rules

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes every input; ours names the key path and the
        # problem, and nothing is logged.
        problems: list[RequestProblem] = []
        # Each location's errors, their paths relative to it (the body's to the profile).
        errors_at: dict[str, list[Any]] = {}
        for err in exc.errors():
            where, *loc = err["loc"] or ("body",)
            if not loc and isinstance(err.get("input"), bytes):
                message = "the body must be a JSON object, sent with Content-Type: application/json"
                problems.append(RequestProblem(location="body", path="", message=message, type=err["type"]))
                continue
            if err["type"] == "json_invalid":
                message = f"not valid JSON at character {loc[0] if loc else 0}: {err.get('ctx', {}).get('error', '')}"
                problems.append(
                    RequestProblem(location="body", path="", message=message, type="json_invalid")
                )
                continue
            errors_at.setdefault(where, []).append({**err, "loc": tuple(loc)})
        for where, errors in errors_at.items():
            # All of the profile's errors in one call, as the command line's: of the
            # partner's two readings, only the pair tells which error to drop.
            for problem in profile_problems(errors):
                # Validated as the model's constructor would: FastAPI's first key is the location.
                problems.append(RequestProblem.model_validate({**problem.model_dump(), "location": where}))
        payload = ProblemsOut(detail=problems).model_dump(mode="json")
        return JSONResponse(_encodable(payload), status_code=422)

    # -- eligibility --------------------------------------------------------------------------
    #
    # The three answers are computed on the event loop (async def), not in the thread pool.
    # An answer is a few milliseconds of CPU under the GIL (the longest profile, 20
    # children and a partner, 12 ms measured): a pool thread runs it no faster and never
    # beside the loop, and each hand-off of the GIL between the thread and the loop's
    # socket calls costs throughput. Measured with wrk, 8 connections, one worker: 121-149
    # requests/s in the pool, 144-182 on the loop, p99 92-117 ms -> 69-81 ms. Work that can
    # take long (a reload, the catalogue pages' files) stays in the pool.

    @app.post(
        "/recommend",
        response_model=Recommendation,
        responses=_BODY_ERRORS,
        tags=["eligibility"],
        summary="Every service of the profile's event(s): status, reasons, amount, deadline",
    )
    async def recommend(
        profile: ProfileBody,
        current: Rules,
        as_of: AsOfQuery = None,
        event: EventQuery = None,
        lang: LangQuery = "en",
    ) -> Response:
        """Exactly the JSON that `lifeevents recommend --json` prints for the same profile."""
        return model_json(current.engine.recommend(profile, as_of=as_of, event=event, lang=lang))

    @app.post(
        "/questions",
        response_model=QuestionsOut,
        responses=_BODY_ERRORS,
        tags=["eligibility"],
        summary="The next questions for a partial profile, the most decisive first",
    )
    async def questions(
        profile: ProfileBody,
        current: Rules,
        as_of: AsOfQuery = None,
        event: EventQuery = None,
        lang: LangQuery = "en",
        limit: Annotated[int | None, Query(ge=1, le=500, description="at most this many")] = None,
    ) -> Response:
        """The facts an `unknown` result lists as missing, then those an eligible amount
        or a deadline still needs; within each, the answer worth the most money a year
        first, then the one that settles the most services."""
        rec = current.engine.recommend(profile, as_of=as_of, event=event, lang=lang)
        found = next_questions(rec, current.catalogue, lang, limit)
        return model_json(QuestionsOut(as_of=rec.as_of, rules_version=rec.rules_version, questions=found))

    @app.post(
        "/plan",
        response_model=OneStopPlan,
        responses={
            **_BODY_ERRORS,
            200: {
                "description": "The plan as JSON, or with format=html the print-ready page",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
        },
        tags=["eligibility"],
        summary="The ordered one-stop plan and the list of documents to bring",
    )
    async def plan(
        profile: ProfileBody,
        current: Rules,
        as_of: AsOfQuery = None,
        event: EventQuery = None,
        lang: LangQuery = "en",
        include_unknown: Annotated[
            bool, Query(description="also list services that still need information")
        ] = True,
        output: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
        calendar: Annotated[
            Calendar | None,
            Query(description="the page's dates: gregorian, or roc (民國 years) where the language has it"),
        ] = None,
    ) -> Any:
        rec = current.engine.recommend(profile, as_of=as_of, event=event, lang=lang)
        one_stop = build_plan(rec, current.catalogue, lang, include_unknown)
        if output == "html":
            return HTMLResponse(render_plan_html(one_stop, current.catalogue, calendar))
        return model_json(one_stop)

    # -- the catalogue -------------------------------------------------------------------------

    @app.get("/services", response_model=ServicesOut, responses=_QUERY_ERRORS, tags=["catalogue"])
    def services(current: Rules, event: EventQuery = None) -> ServicesOut:
        cat = current.catalogue
        out = [
            ServiceSummaryOut(
                id=sid,
                name=s.name,
                events=list(s.events),
                agency=s.agency,
                agency_name=cat.agencies[s.agency].name,
                confidence=s.confidence,
                home_visit=s.home_visit,
                ended=s.ended,
                jurisdictions=sorted(cat.rules.get(sid, {}), key=lambda j: (j != "national", j)),
            )
            for sid in cat.services_for(event)
            for s in (cat.services[sid],)
        ]
        return ServicesOut(rules_version=cat.version, services=out)

    @app.get(
        "/services/{service_id}",
        response_model=ServiceDetailOut,
        responses={404: {"model": MessageOut, "description": "No such service"}, **_QUERY_ERRORS},
        tags=["catalogue"],
        summary="A catalogue entry with its rule files: legal bases and conditions as data",
    )
    def service_detail(
        current: Rules,
        service_id: Annotated[str, PathParam(description="a service id, e.g. birth-registration")],
    ) -> ServiceDetailOut:
        cat = current.catalogue
        service = cat.services.get(service_id)
        if service is None:
            raise HTTPException(
                404, f"unknown service '{service_id}'{_closest(service_id, list(cat.services))}"
            )
        layers = cat.rules.get(service_id, {})
        rule_files = [
            RuleFileOut(
                file=r.file,
                jurisdiction=r.jurisdiction,
                legal_basis=r.legal_basis,
                eligibility=rule_data(r.eligibility),
                amount=rule_data(r.amount) if r.amount else None,
                fee=rule_data(r.fee) if r.fee else None,
                deadline=rule_data(r.deadline) if r.deadline else None,
                notes=[rule_data(n) for n in r.notes],
                priority=r.priority,
                confidence=r.confidence,
                confidence_note=_bilingual(r.confidence_note) if r.confidence_note else None,
            )
            for _, r in sorted(layers.items(), key=lambda item: (item[0] != "national", item[0]))
        ]
        return ServiceDetailOut.model_validate(
            {
                **service.model_dump(by_alias=True),
                "id": service_id,
                "rules_version": cat.version,
                "agency_detail": cat.agencies[service.agency],
                "document_details": {u.doc: cat.documents[u.doc] for u in service.document_uses()},
                "rules": rule_files,
                "eligibility": rule_data(current.engine.conditions[service_id]),
            }
        )

    @app.get("/parameters", response_model=ParametersOut, tags=["catalogue"])
    def parameters(current: Rules) -> ParametersOut:
        cat = current.catalogue
        return ParametersOut(rules_version=cat.version, parameters=sorted(cat.parameters))

    @app.get(
        "/parameters/{name}",
        response_model=ParameterOut,
        responses={404: {"model": MessageOut, "description": "No such parameter"}, **_QUERY_ERRORS},
        tags=["catalogue"],
        summary="A dated parameter: every value with the date it takes effect, unit, reference, confidence",
    )
    def parameter(
        current: Rules,
        name: Annotated[str, PathParam(description="e.g. labor_insurance.maternity_min_days_live")],
    ) -> ParameterOut:
        cat = current.catalogue
        found: Parameter | None = cat.parameters.get(name)
        if found is None:
            raise HTTPException(404, f"unknown parameter '{name}'{_closest(name, list(cat.parameters))}")
        return ParameterOut(
            name=found.name,
            description=found.description,
            label=_bilingual(found.label),
            unit=found.unit,
            reference=found.reference,
            confidence=found.confidence,
            period=found.period,
            index=found.index,
            index_lookup=found.index_lookup,
            jurisdiction=found.jurisdiction,
            overrides=found.overrides,
            file=found.file,
            values=[
                ParameterValueOut(
                    effective_from=v.effective_from,
                    # Table keys may be numbers in YAML (floor lookups); JSON keys are strings.
                    value={str(k): x for k, x in v.value.items()} if isinstance(v.value, dict) else v.value,
                    confidence=v.confidence,
                    reference=v.reference,
                    note=v.note,
                )
                for v in found.values
            ],
        )

    # -- operations ----------------------------------------------------------------------------

    @app.get("/health", response_model=HealthOut, tags=["operations"])
    def health(current: Rules) -> HealthOut:
        return HealthOut(
            status="ok",
            rules_version=current.catalogue.version,
            services=len(current.catalogue.services),
            loaded_at=current.loaded_at,
            worker=os.getpid(),
        )

    if measured is not None:

        @app.get("/metrics", include_in_schema=False)
        def metrics_scrape() -> Response:
            """Prometheus's text format; every worker's samples when there are several.
            Not in the OpenAPI document, and for the monitoring network only (docs/deployment.md)."""
            body, content_type = measured.exposition()
            return Response(body, media_type=content_type)

    @app.post(
        "/admin/reload",
        response_model=ReloadOut,
        responses={
            401: {"model": MessageOut, "description": "No or wrong staff token"},
            403: {"model": MessageOut, "description": f"Reloading is disabled: {STAFF_TOKEN_ENV} is not set"},
            409: {"model": ReloadFailedOut, "description": "The saved rules do not load; the old rules stay"},
            429: {
                "model": MessageOut,
                "description": "A reload ran less than the interval ago; see Retry-After",
            },
        },
        tags=["operations"],
        summary="Load the version of the rules saved on disk, without a restart",
    )
    def reload_rules(credentials: StaffToken) -> ReloadOut:
        """Reads whatever version the staff area last saved under the rules directory,
        builds a new engine and swaps it in. Other workers of the same `lifeevents serve`
        follow within about a second; other replicas need their own call."""
        if credentials is None:
            raise HTTPException(401, "a staff token is needed", headers={"WWW-Authenticate": "Bearer"})
        if not token:
            raise HTTPException(403, f"reloading is disabled: {STAFF_TOKEN_ENV} is not set")
        # Constant-time comparison: the answer's timing must not leak the token.
        if not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(401, "a valid staff token is needed", headers={"WWW-Authenticate": "Bearer"})
        with reload_gate:
            try:
                unchanged = content_version(holder.root) == holder.current.catalogue.version
            except CatalogueError:
                unchanged = False  # the load below names the problem
            wait = last_load[0] + reload_interval - time.monotonic()
            if not unchanged and wait > 0:
                if measured is not None:
                    measured.reload("rate_limited")
                raise HTTPException(
                    429,
                    f"the rules were reloaded less than {reload_interval:g} s ago; try again later",
                    headers={"Retry-After": str(math.ceil(wait))},
                )
            if not unchanged:
                last_load[0] = time.monotonic()
        try:
            old, new = holder.reload()
        except CatalogueError as exc:
            problems = [str(p) for p in exc.problems]
            detail = (
                "the saved rules do not load; the old rules stay"
                if problems
                else ("the rules kept changing while being read; try again")
            )
            return JSONResponse(  # type: ignore[return-value]
                ReloadFailedOut(detail=detail, problems=problems).model_dump(), status_code=409
            )
        except (ValueError, ArithmeticError, RecursionError) as exc:  # the rules load but do not compile
            return JSONResponse(  # type: ignore[return-value]
                ReloadFailedOut(
                    detail="the saved rules do not compile; the old rules stay", problems=[str(exc)]
                ).model_dump(),
                status_code=409,
            )
        if new is old:
            # Asked for, even if nothing was rebuilt: the audit says who reloaded when.
            record_reload(rules_root, new.catalogue.version, old.catalogue.version, outcome="unchanged")
            return ReloadOut(
                outcome="unchanged",
                rules_version=new.catalogue.version,
                previous_version=old.catalogue.version,
                changed=False,
                services=len(new.catalogue.services),
                loaded_at=new.loaded_at,
            )
        if signal is not None:
            signal.announce(new.catalogue.version)
        log.info("rules reloaded: version %s (was %s)", new.catalogue.version, old.catalogue.version)
        record_reload(rules_root, new.catalogue.version, old.catalogue.version)
        return ReloadOut(
            outcome="reloaded",
            rules_version=new.catalogue.version,
            previous_version=old.catalogue.version,
            changed=new.catalogue.version != old.catalogue.version,
            services=len(new.catalogue.services),
            loaded_at=new.loaded_at,
        )

    return app


# --- serving ------------------------------------------------------------------------------


def serve(
    root: Path,
    host: str,
    port: int,
    workers: int,
    request_timeout: float | None = None,
    max_connections: int | None = None,
    metrics: bool = True,
    access_log: bool = True,
    root_path: str = "",
) -> None:
    """``lifeevents serve``: uvicorn with one worker, or a supervisor and ``workers``.

    ``metrics`` and ``access_log`` turn ``/metrics`` and the access lines on or off (the
    workers read them from the environment, as the other settings); ``root_path`` is the
    prefix a reverse proxy serves the API under (docs/deployment.md).

    Slow clients are bounded (engine/interfaces/connection_guard.py): each request must arrive
    whole within ``request_timeout`` seconds, idle kept-alive connections close after
    KEEP_ALIVE seconds, request heads are at most MAX_HEAD_BYTES, and each process keeps
    at most ``max_connections`` connections open (by default below its descriptor limit).
    """
    import uvicorn

    from engine.interfaces import connection_guard as guard

    # Load and compile first: broken rules stop the command with the CLI's one-line
    # message (CatalogueError) instead of a worker's traceback.
    engine = Engine(load_catalogue(root))
    # Through the environment, so that worker processes read the same limits.
    os.environ[guard.REQUEST_TIMEOUT_ENV] = str(request_timeout or guard.REQUEST_TIMEOUT)
    os.environ[guard.MAX_CONNECTIONS_ENV] = str(guard.max_connections(max_connections))
    os.environ[METRICS_ENV] = "1" if metrics else "0"
    os.environ[ACCESS_LOG_ENV] = "1" if access_log else "0"
    limits: dict[str, Any] = {
        "http": guard.GuardedH11Protocol,
        "timeout_keep_alive": guard.KEEP_ALIVE,
        # h11 stops buffering a head still incomplete past the limit (uvicorn answers 400);
        # a head that arrives whole, HeadLimitMiddleware measures (431).
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "backlog": guard.BACKLOG,
        # Not limit_concurrency: once full it answers 503 to every request, so a flood of
        # slow clients would refuse the prompt ones too; the guard evicts the slow instead.
        "log_config": log_config(access_log),
        "access_log": False,  # uvicorn's own: ours (engine/interfaces/logs.py) has the request id
        "root_path": root_path,
    }
    if workers == 1:
        uvicorn.run(create_app(engine=engine, root=root), host=host, port=port, **limits)
        return
    # Several workers are processes that build the app themselves: they get the rules
    # directory, a file to tell each other about reloads, and a directory for their
    # metrics (prometheus-client's several-processes mode: a scrape of any worker sums
    # them all) through the environment. The metrics directory must start empty, so it is
    # made here, unless the operator named one (then emptying it is theirs).
    with tempfile.TemporaryDirectory(prefix="lifeevents-serve-") as scratch:
        os.environ["LIFEEVENTS_ROOT"] = str(root.resolve())
        os.environ[RELOAD_FILE_ENV] = str(Path(scratch) / "reload")
        if metrics and not os.environ.get(MULTIPROC_ENV):
            (Path(scratch) / "metrics").mkdir()
            os.environ[MULTIPROC_ENV] = str(Path(scratch) / "metrics")
        config = uvicorn.Config(
            "engine.interfaces.api:create_app", factory=True, host=host, port=port, workers=workers, **limits
        )
        _run_workers(config)


def with_tcp_protocol(sock: socket.socket) -> socket.socket:
    """The same listening socket, with IPPROTO_TCP named (see _run_workers)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(True)
    return sock


def _run_workers(config: Any) -> None:
    """What ``uvicorn.run`` does for several workers, with a listening socket that keeps
    TCP_NODELAY on: uvicorn binds it with protocol 0, asyncio sets TCP_NODELAY only on
    IPPROTO_TCP sockets, and without it every answer on a kept-alive connection waits for
    the client's delayed ACK, ~40 ms (uvicorn issue #3149; measured on 2 workers: 160
    instead of ~1,200 requests/s). The same descriptor is re-wrapped with the protocol named."""
    from uvicorn import Server
    from uvicorn.supervisors import Multiprocess

    sock = with_tcp_protocol(config.bind_socket())
    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn
        supervisor = Multiprocess(config, target=Server(config).run, sockets=[sock])
    else:
        supervisor = Multiprocess(config, sockets=[sock])
    with contextlib.suppress(KeyboardInterrupt):
        supervisor.run()
