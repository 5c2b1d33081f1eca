"""The home-visit worklist: cases kept in a database, from screening to the visit's outcome.

A *case* is one person whom the outreach screening found likely eligible for home-visit
services (engine/services/outreach.py). It holds only what the visit needs: a pseudonymous person
id (given by the register, never derived from a name or an ID number here), residence
and district, the office's order within the district, the services that justify the
visit with their status, amount and deadline, the priority and its reason ids, and the
rules version that decided them. No name, address, birth date or income is stored.

The store is SQLAlchemy 2.0 over any database URL (SQLite in a local file by default,
PostgreSQL in production and CI); its schema is created and upgraded by the Alembic
migrations shipped in ``engine/worklist_migrations/``, run by :func:`open_store`, so
there is no set-up step.

Every change is written in one transaction together with an append-only event
(``case_events``: who, when, what, from what to what, and why). A worker's change
carries the case version the worker saw; when someone changed the case meanwhile the
change is refused with :class:`StaleCase`, which carries the current state
(optimistic concurrency). docs/home-visits.md describes the whole loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ENV = "LIFEEVENTS_WORKLIST"
MIGRATIONS = Path(__file__).resolve().parents[1] / "worklist_migrations"
SCREENING_ACTOR = "screening"

# What a worker can record after going to the door, and whether it closes the case.
# "not_home" keeps the case open for another try; the others end it.
OUTCOMES: dict[str, bool] = {
    "applied": True,  # visited, and applications filed on the spot for some services
    "not_home": False,
    "declined": True,
    "not_eligible": True,  # not eligible after checking at the visit
    "moved": True,
}
VISITED_OUTCOMES = ("applied", "declined", "not_eligible")  # a visit took place
# Why a case closed when no worker closed it.
CLOSED_NO_LONGER_ELIGIBLE = "no_longer_eligible"
# The batch size for IN (...) look-ups: well under SQLite's 32,766 bound parameters.
_LOOKUP = 5000


# -- the schema (the migrations in worklist_migrations/ create exactly this) ------------------


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(128), unique=True)
    residence: Mapped[str] = mapped_column(sa.String(32))
    district: Mapped[str] = mapped_column(sa.String(64), default="")
    visit_order: Mapped[int | None]
    state: Mapped[str] = mapped_column(sa.String(16))  # open | closed
    priority: Mapped[int]
    reasons: Mapped[list] = mapped_column(sa.JSON)  # need ids of rules/outreach.yaml
    services: Mapped[list] = mapped_column(sa.JSON)  # [{service, status, amount, unit, deadline}]
    rules_version: Mapped[str] = mapped_column(sa.String(64))
    opened_at: Mapped[datetime]
    screened_at: Mapped[datetime]
    assigned_to: Mapped[str | None] = mapped_column(sa.String(128))
    visit_on: Mapped[date | None]
    attempts: Mapped[int] = mapped_column(default=0)  # visits where nobody was at home
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    applied_for: Mapped[list] = mapped_column(sa.JSON)
    visited_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None] = mapped_column(sa.String(32))
    closed_at: Mapped[datetime | None]
    version: Mapped[int]
    updated_at: Mapped[datetime]
    __table_args__ = (
        sa.Index("ix_cases_place", "state", "residence", "district"),
        sa.Index("ix_cases_closed_at", "closed_at"),
    )


class CaseEventRow(Base):
    """Append-only: a trigger refuses UPDATE; rows go only with their case, by the purge."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(16))
    changes: Mapped[dict] = mapped_column(sa.JSON)  # field -> [from, to]
    reason: Mapped[str | None] = mapped_column(sa.Text)


class WorkerDistrictRow(Base):
    __tablename__ = "worker_districts"
    username: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    residence: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    district: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class SupervisorRow(Base):
    __tablename__ = "supervisors"
    username: Mapped[str] = mapped_column(sa.String(128), primary_key=True)


class PurgeRow(Base):
    """The retention rule's own log: when, by whom, how many; nothing about the people."""

    __tablename__ = "purges"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(128))
    older_than_days: Mapped[int]
    cases_deleted: Mapped[int]


cases = CaseRow.__table__
case_events = CaseEventRow.__table__
worker_districts = WorkerDistrictRow.__table__
supervisors = SupervisorRow.__table__
purges = PurgeRow.__table__


# -- values -----------------------------------------------------------------------------------


class WorklistError(ValueError):
    """Bad input to the worklist: the message names the case or person and the problem."""


class WorklistUnavailable(WorklistError):
    """The database itself failed: it cannot be opened, is busy, full, or damaged. The
    message names the database and the problem in one line: never the SQL or its values."""

    def __init__(self, where: str, problem: str, damaged: bool = False):
        self.where = where
        self.problem = problem
        self.damaged = damaged
        super().__init__(f"worklist database {where}: {problem}")


class StaleCase(WorklistError):
    """The case changed since the worker saw it; ``current`` is what it is now."""

    def __init__(self, current: Case, seen_version: int):
        self.current = current
        self.seen_version = seen_version
        super().__init__(
            f"case {current.id} changed since you opened it (you saw version {seen_version}, "
            f"it is now version {current.version})"
        )


@dataclass(frozen=True)
class CaseService:
    """A service that justifies the visit: eligible, or unknown (to check at the visit)."""

    service: str
    status: str  # eligible | unknown
    amount: int | None = None
    unit: str | None = None
    deadline: date | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "status": self.status,
            "amount": self.amount,
            "unit": self.unit,
            "deadline": self.deadline.isoformat() if self.deadline else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseService:
        deadline = data.get("deadline")
        return cls(
            service=data["service"],
            status=data["status"],
            amount=data.get("amount"),
            unit=data.get("unit"),
            deadline=date.fromisoformat(deadline) if deadline else None,
        )


@dataclass(frozen=True)
class Screened:
    """One valid person of a screening. No services: the person no longer qualifies."""

    person_id: str
    residence: str
    district: str = ""
    visit_order: int | None = None
    priority: int = 0
    reasons: tuple[str, ...] = ()
    services: tuple[CaseService, ...] = ()


@dataclass(frozen=True)
class Case:
    id: int
    person_id: str
    residence: str
    district: str
    visit_order: int | None
    state: str
    priority: int
    reasons: tuple[str, ...]
    services: tuple[CaseService, ...]
    rules_version: str
    opened_at: datetime
    screened_at: datetime
    assigned_to: str | None
    visit_on: date | None
    attempts: int
    outcome: str | None
    applied_for: tuple[str, ...]
    visited_at: datetime | None
    closed_reason: str | None
    closed_at: datetime | None
    version: int
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Case:
        m = row._mapping
        return cls(
            id=m["id"],
            person_id=m["person_id"],
            residence=m["residence"],
            district=m["district"],
            visit_order=m["visit_order"],
            state=m["state"],
            priority=m["priority"],
            reasons=tuple(m["reasons"] or ()),
            services=tuple(CaseService.from_json(s) for s in m["services"] or ()),
            rules_version=m["rules_version"],
            opened_at=m["opened_at"],
            screened_at=m["screened_at"],
            assigned_to=m["assigned_to"],
            visit_on=m["visit_on"],
            attempts=m["attempts"],
            outcome=m["outcome"],
            applied_for=tuple(m["applied_for"] or ()),
            visited_at=m["visited_at"],
            closed_reason=m["closed_reason"],
            closed_at=m["closed_at"],
            version=m["version"],
            updated_at=m["updated_at"],
        )

    @property
    def service_ids(self) -> tuple[str, ...]:
        return tuple(s.service for s in self.services)


@dataclass(frozen=True)
class CaseEvent:
    id: int
    case_id: int
    at: datetime
    actor: str
    action: str
    changes: dict[str, list[Any]]
    reason: str | None


@dataclass
class ScreeningSummary:
    screened: int = 0
    opened: int = 0
    updated: int = 0
    closed: int = 0
    reopened: int = 0
    unchanged: int = 0


def utcnow() -> datetime:
    """Naive UTC: both SQLite and PostgreSQL give back exactly what was stored."""
    return datetime.now(timezone.utc).replace(tzinfo=None)  # noqa: UP017 (py3.11 has UTC; kept explicit)


# -- opening ------------------------------------------------------------------------------------


def database_url(target: str | os.PathLike | None = None) -> str:
    """A SQLAlchemy URL from a URL or a file path; default ``LIFEEVENTS_WORKLIST`` or
    ``worklist.sqlite`` in the current folder. ``postgresql://`` means psycopg 3."""
    text = str(target) if target is not None else os.environ.get(ENV) or "worklist.sqlite"
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: the worker's page keeps reading while a screening writes; NORMAL is durable
    # across a process crash (only an OS crash may lose the last commit).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    cursor.close()


# How long a statement waits for SQLite's write lock, and how long a screening (or the
# migration of a new database) waits for another process's: a screening of a million
# people holds it for minutes (docs/home-visits.md, the benchmark).
_SQLITE_BUSY_MS = 10_000
WRITER_WAIT_SECONDS = 3600
# PostgreSQL's advisory lock for the one writer ("lifevent" in ASCII): any constant would
# do, as long as every process uses the same one.
_POSTGRES_WRITER_LOCK = 0x6C69666576656E74


def _one_writer(connection: Connection) -> None:
    """Hold the database's one-writer lock until this transaction ends, waiting up to
    WRITER_WAIT_SECONDS while another process holds it. Every
    read after it sees what that process committed: two screenings, or two first openings
    of a new database, run one after the other instead of both writing what they saw
    before the other's commit."""
    wait = WRITER_WAIT_SECONDS
    wait_ms = max(1, round(wait * 1000))
    try:
        if connection.dialect.name == "sqlite":
            # pysqlite starts a transaction at the first write only, so the reads before it
            # saw the database as it was; BEGIN IMMEDIATE takes the write lock before any read.
            connection.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        elif connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_POSTGRES_WRITER_LOCK})")
            connection.exec_driver_sql("SET LOCAL lock_timeout = DEFAULT")
    except WorklistUnavailable as exc:
        raise WorklistUnavailable(
            exc.where,
            f"busy: another process (a screening) kept writing to it for "
            f"{f'{wait / 60:g} min' if wait >= 60 else f'{wait:g} s'} "
            f"({exc.problem}); run this again when it has finished",
        ) from None


def _migrations(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _migrated(connection: Connection) -> bool:
    """Whether the schema is at the newest migration already (read only, no lock)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_migrations(connection)).get_heads()
    return set(MigrationContext.configure(connection).get_current_heads()) == set(heads)


def migrate(connection: Connection) -> None:
    """Bring the schema to the newest migration (Alembic, run in-process)."""
    from alembic import command

    command.upgrade(_migrations(connection), "head")


def open_store(target: str | os.PathLike | None = None) -> WorklistStore:
    url = database_url(target)
    try:
        # hide_parameters: an error's text (and a log's) never carries the statement's values,
        # which are people's ids, places and services.
        engine = sa.create_engine(url, future=True, hide_parameters=True)
    except (sa.exc.ArgumentError, ImportError, sa.exc.NoSuchModuleError) as exc:
        raise WorklistError(f"worklist database {url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        if url.startswith("sqlite:///") and url != "sqlite://" and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        sa_event.listen(engine, "connect", _sqlite_pragmas)
    sa_event.listen(engine, "handle_error", _database_failed(_where(engine.url)))
    try:
        with engine.connect() as connection:
            current = _migrated(connection)
        if not current:  # a new database, or a newer version of lifeevents: one process migrates
            with engine.begin() as connection:
                _one_writer(connection)
                migrate(connection)
    except WorklistUnavailable as exc:
        engine.dispose()
        if exc.damaged:
            raise
        raise WorklistUnavailable(exc.where, f"cannot open: {exc.problem}") from None
    return WorklistStore(engine)


def _where(url: sa.URL) -> str:
    """The database as a user knows it: a SQLite file's path, or the URL without its password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


# SQLite's primary result codes for a file that is not SQLite (SQLITE_NOTADB) or whose
# pages are damaged (SQLITE_CORRUPT: a truncated copy, a disk fault), and PostgreSQL's
# SQLSTATEs for damaged data or index pages (data_corrupted, index_corrupted).
_SQLITE_DAMAGED = {11, 26}
_POSTGRES_DAMAGED = {"XX001", "XX002"}


def _database_failed(where: str) -> Any:
    """SQLAlchemy's handle_error hook: the database's own failures (damaged, busy, full,
    unreachable) become a one-line WorklistUnavailable naming it, on whichever statement
    they surface: at open, or on a query that reaches a damaged page later. Anything else
    (a constraint, a bug) is left as it is."""

    def handle_error(context: sa.engine.ExceptionContext) -> None:
        original = context.original_exception
        problem = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
        code = getattr(original, "sqlite_errorcode", None)
        if (code is not None and code & 0xFF in _SQLITE_DAMAGED) or (
            getattr(original, "sqlstate", None) in _POSTGRES_DAMAGED
        ):
            raise WorklistUnavailable(
                where,
                f"not a worklist database, or a damaged one ({problem}): "
                "check the path, or restore the database from a backup",
                damaged=True,
            ) from None
        if isinstance(context.sqlalchemy_exception, sa.exc.OperationalError):
            raise WorklistUnavailable(where, problem) from None

    return handle_error


# -- the store ------------------------------------------------------------------------------


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [_plain(before.get(k)), _plain(v)] for k, v in after.items() if before.get(k) != v}


def _plain(value: Any) -> Any:
    """A value as the audit's JSON keeps it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _services_json(services: Sequence[CaseService]) -> list[dict[str, Any]]:
    return [s.as_json() for s in sorted(services, key=lambda s: s.service)]


class WorklistStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- screening → cases ----------------------------------------------------------------

    @contextmanager
    def screening(
        self, rules_version: str, actor: str = SCREENING_ACTOR, now: datetime | None = None
    ) -> Iterator[ScreeningBatch]:
        """One transaction for a whole screening: everything is written, or nothing. A
        screening started while another is writing waits for its commit, then screens
        against what it wrote: as if run one after the other."""
        with self.engine.begin() as connection:
            _one_writer(connection)
            empty = connection.execute(sa.select(cases.c.id).limit(1)).first() is None
            batch = ScreeningBatch(connection, rules_version, actor, now or utcnow(), first_screening=empty)
            yield batch

    def upsert(
        self, screened: Iterable[Screened], rules_version: str, actor: str = SCREENING_ACTOR
    ) -> ScreeningSummary:
        with self.screening(rules_version, actor) as batch:
            batch.add(screened)
        return batch.summary

    # -- reading ----------------------------------------------------------------------------

    def get(self, case_id: int) -> Case:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(cases).where(cases.c.id == case_id)).first()
        if row is None:
            raise WorklistError(f"no case {case_id}")
        return Case.from_row(row)

    def by_person(self, person_id: str) -> Case | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(cases).where(cases.c.person_id == person_id)).first()
        return Case.from_row(row) if row else None

    def worklist(
        self, places: Iterable[tuple[str, str]], state: str | None = "open", limit: int | None = None
    ) -> list[Case]:
        """Cases of these (residence, district) places, most urgent first; within a place the
        office's visit order (when the register gave one), then the oldest case."""
        wanted = sorted(set(places))
        if not wanted:
            return []
        where = sa.tuple_(cases.c.residence, cases.c.district).in_(wanted)
        query = sa.select(cases).where(where)
        if state:
            query = query.where(cases.c.state == state)
        query = query.order_by(
            cases.c.priority.desc(),
            cases.c.residence,
            cases.c.district,
            cases.c.visit_order.is_(None),
            cases.c.visit_order,
            cases.c.opened_at,
            cases.c.id,
        )
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [Case.from_row(r) for r in connection.execute(query)]

    def history(self, case_id: int) -> list[CaseEvent]:
        query = sa.select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)
        with self.engine.connect() as connection:
            return [CaseEvent(**r._mapping) for r in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(cases.c.state, sa.func.count()).group_by(cases.c.state))
            out = {state: n for state, n in rows}
            out["events"] = connection.execute(
                sa.select(sa.func.count()).select_from(case_events)
            ).scalar_one()
        return out

    def report_rows(self, residences: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """What the supervisor's figures need, one dict per case (no person id)."""
        columns = [
            cases.c.residence, cases.c.district, cases.c.state, cases.c.outcome, cases.c.services,
            cases.c.applied_for, cases.c.opened_at, cases.c.visited_at, cases.c.closed_reason,
        ]  # fmt: skip
        query = sa.select(*columns)
        if residences is not None:
            query = query.where(cases.c.residence.in_(sorted(set(residences))))
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]

    # -- a worker's changes ----------------------------------------------------------------

    def assign(self, case_id: int, seen_version: int, to_user: str | None, actor: str) -> Case:
        return self._change(case_id, seen_version, actor, "assigned", {"assigned_to": to_user or None})

    def schedule(self, case_id: int, seen_version: int, day: date | None, actor: str) -> Case:
        return self._change(case_id, seen_version, actor, "scheduled", {"visit_on": day})

    def record_outcome(
        self,
        case_id: int,
        seen_version: int,
        outcome: str,
        actor: str,
        applied_for: Sequence[str] = (),
        when: datetime | None = None,
    ) -> Case:
        """The visit's outcome, written in one transaction with its audit event before the
        caller is told it is saved."""
        if outcome not in OUTCOMES:
            raise WorklistError(f"case {case_id}: unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
        applied = sorted(set(applied_for))
        if outcome == "applied" and not applied:
            raise WorklistError(f"case {case_id}: 'applied' needs the services applied for")
        if outcome != "applied" and applied:
            raise WorklistError(f"case {case_id}: services applied for go with the outcome 'applied' only")
        when = when or utcnow()

        def values(current: Case) -> dict[str, Any]:
            if current.state != "open":
                raise WorklistError(f"case {case_id} is already closed ({current.closed_reason})")
            unknown = set(applied) - set(current.service_ids)
            if unknown:
                raise WorklistError(
                    f"case {case_id}: applied for {', '.join(sorted(unknown))}, not among its services"
                )
            out: dict[str, Any] = {"outcome": outcome, "applied_for": applied}
            if outcome in VISITED_OUTCOMES:
                out["visited_at"] = when
            if outcome == "not_home":
                out["attempts"] = current.attempts + 1
                out["visit_on"] = None
            if OUTCOMES[outcome]:
                out |= {"state": "closed", "closed_reason": outcome, "closed_at": when}
            return out

        return self._change(case_id, seen_version, actor, "outcome", values)

    def _change(
        self,
        case_id: int,
        seen_version: int,
        actor: str,
        action: str,
        values: dict[str, Any] | Any,
        reason: str | None = None,
    ) -> Case:
        now = utcnow()
        with self.engine.begin() as connection:
            row = connection.execute(sa.select(cases).where(cases.c.id == case_id).with_for_update()).first()
            if row is None:
                raise WorklistError(f"no case {case_id}")
            current = Case.from_row(row)
            if current.version != seen_version:
                raise StaleCase(current, seen_version)
            new = values(current) if callable(values) else dict(values)
            before = {k: getattr(current, k) for k in new}
            before = {k: list(v) if isinstance(v, tuple) else v for k, v in before.items()}
            changes = _diff(before, new)
            done = connection.execute(
                sa.update(cases)
                .where(cases.c.id == case_id, cases.c.version == seen_version)
                .values(**new, version=seen_version + 1, updated_at=now)
            )
            if done.rowcount != 1:  # changed between the read and the write (no row lock)
                raise StaleCase(self._get(connection, case_id), seen_version)
            connection.execute(
                sa.insert(case_events).values(
                    case_id=case_id, at=now, actor=actor, action=action, changes=changes, reason=reason
                )
            )
            return self._get(connection, case_id)

    @staticmethod
    def _get(connection: Connection, case_id: int) -> Case:
        return Case.from_row(connection.execute(sa.select(cases).where(cases.c.id == case_id)).one())

    # -- who works where ----------------------------------------------------------------------

    def add_district(self, username: str, residence: str, district: str) -> None:
        with self.engine.begin() as connection:
            exists = connection.execute(
                sa.select(worker_districts).where(
                    worker_districts.c.username == username,
                    worker_districts.c.residence == residence,
                    worker_districts.c.district == district,
                )
            ).first()
            if not exists:
                connection.execute(
                    sa.insert(worker_districts).values(
                        username=username, residence=residence, district=district
                    )
                )

    def remove_district(self, username: str, residence: str, district: str) -> bool:
        with self.engine.begin() as connection:
            done = connection.execute(
                sa.delete(worker_districts).where(
                    worker_districts.c.username == username,
                    worker_districts.c.residence == residence,
                    worker_districts.c.district == district,
                )
            )
        return done.rowcount > 0

    def districts_of(self, username: str) -> list[tuple[str, str]]:
        query = (
            sa.select(worker_districts.c.residence, worker_districts.c.district)
            .where(worker_districts.c.username == username)
            .order_by(worker_districts.c.residence, worker_districts.c.district)
        )
        with self.engine.connect() as connection:
            return [(r, d) for r, d in connection.execute(query)]

    def assignments(self) -> list[tuple[str, str, str]]:
        query = sa.select(worker_districts).order_by(*worker_districts.c)
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(query)]

    def workers_of(self, residence: str, district: str) -> list[str]:
        query = (
            sa.select(worker_districts.c.username)
            .where(worker_districts.c.residence == residence, worker_districts.c.district == district)
            .order_by(worker_districts.c.username)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def set_supervisor(self, username: str, supervisor: bool = True) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(supervisors).where(supervisors.c.username == username))
            if supervisor:
                connection.execute(sa.insert(supervisors).values(username=username))

    def is_supervisor(self, username: str) -> bool:
        query = sa.select(supervisors.c.username).where(supervisors.c.username == username)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    # -- retention --------------------------------------------------------------------------

    def purge(self, older_than_days: int, actor: str, now: datetime | None = None) -> int:
        """Delete the cases closed more than ``older_than_days`` ago, with their events; the
        purge itself is logged (when, who, how many), never the people."""
        if older_than_days < 0:
            raise WorklistError(f"--older-than is a number of days, 0 or more, got {older_than_days}")
        now = now or utcnow()
        cutoff = now - timedelta(days=older_than_days)
        old = sa.select(cases.c.id).where(cases.c.state == "closed", cases.c.closed_at < cutoff)
        with self.engine.begin() as connection:
            connection.execute(sa.delete(case_events).where(case_events.c.case_id.in_(old)))
            deleted = connection.execute(
                sa.delete(cases).where(cases.c.state == "closed", cases.c.closed_at < cutoff)
            ).rowcount
            connection.execute(
                sa.insert(purges).values(
                    at=now, actor=actor, older_than_days=older_than_days, cases_deleted=deleted
                )
            )
        return deleted


# -- one screening's writes -------------------------------------------------------------------


@dataclass
class ScreeningBatch:
    """Upserts by person id inside the screening's one transaction (see WorklistStore.screening).

    - a new person with services: a new open case;
    - an open case: updated when its services, priority, reasons, place or rules version
      changed, with an event saying what changed and why (the rules, or the person's
      circumstances); never a second case;
    - an open case whose person no longer qualifies: closed, ``no_longer_eligible``;
    - a case the screening closed and the person qualifies again: reopened;
    - a case a worker closed (a visit's outcome) stays closed: the retention rule deletes
      it in time, and a later screening opens a new case.
    """

    connection: Connection
    rules_version: str
    actor: str
    now: datetime
    summary: ScreeningSummary = field(default_factory=ScreeningSummary)
    seen: set[str] = field(default_factory=set)
    statements: dict[tuple[str, tuple[str, ...]], _Bulk] = field(default_factory=dict)
    # An empty store (a first screening): nobody can exist yet, so nobody is looked up.
    first_screening: bool = False
    json: _JSONCache = field(default_factory=lambda: _JSONCache())

    def add(self, screened: Iterable[Screened]) -> ScreeningSummary:
        chunk: list[Screened] = []
        for item in screened:
            chunk.append(item)
            if len(chunk) >= _LOOKUP:
                self._write(chunk)
                chunk = []
        if chunk:
            self._write(chunk)
        return self.summary

    def _existing(self, ids: list[str]) -> dict[str, Any]:
        query = (
            sa.select(
                cases.c.id, cases.c.person_id, cases.c.state, cases.c.priority, cases.c.reasons,
                cases.c.services, cases.c.rules_version, cases.c.residence, cases.c.district,
                cases.c.visit_order, cases.c.closed_reason, cases.c.version,
            )
            .where(cases.c.person_id.in_(ids))
            .with_for_update()
        )  # fmt: skip
        return {r.person_id: r for r in self.connection.execute(query)}

    def _write(self, chunk: list[Screened]) -> None:
        for item in chunk:
            if not item.person_id:
                raise WorklistError("a screened person without a person id")
            if item.person_id in self.seen:
                raise WorklistError(f"person id {item.person_id!r} appears twice in one screening")
            self.seen.add(item.person_id)
        self.summary.screened += len(chunk)
        existing = self._existing([s.person_id for s in chunk]) if not self.first_screening else {}
        new_cases: list[Screened] = []
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for item in chunk:
            found = existing.get(item.person_id)
            if found is None:
                if item.services:
                    new_cases.append(item)
                continue
            services = _services_json(item.services)
            wanted = {
                "priority": item.priority,
                "reasons": list(item.reasons),
                "services": services,
                "rules_version": self.rules_version,
                "residence": item.residence,
                "district": item.district,
                "visit_order": item.visit_order,
            }
            had = {k: found._mapping[k] for k in wanted}
            if found.state == "open" and services:
                changes = _diff(had, wanted)
                if not changes:
                    self.summary.unchanged += 1
                    continue
                action, reason = "rescreened", self._why_changed(had, wanted)
                self.summary.updated += 1
                values = wanted
            elif found.state == "open":
                values = {
                    "state": "closed",
                    "closed_reason": CLOSED_NO_LONGER_ELIGIBLE,
                    "closed_at": self.now,
                    "rules_version": self.rules_version,
                }
                changes = _diff({**had, "state": "open", "closed_reason": None, "closed_at": None}, values)
                action = "closed"
                lost = ", ".join(s["service"] for s in had["services"])
                reason = f"no longer eligible for {lost} under rules version {self.rules_version}"
                self.summary.closed += 1
            elif services and found.closed_reason == CLOSED_NO_LONGER_ELIGIBLE:
                values = {
                    **wanted, "state": "open", "closed_reason": None, "closed_at": None,
                    "assigned_to": None, "visit_on": None, "outcome": None, "applied_for": [],
                }  # fmt: skip
                changes = _diff({**had, "state": "closed", "closed_reason": found.closed_reason}, values)
                action = "reopened"
                reason = "eligible again: " + self._why_changed(had, wanted)
                self.summary.reopened += 1
            else:
                self.summary.unchanged += 1
                continue
            updates.append({"_id": found.id, "_version": found.version, **values})
            events.append(self._event(found.id, action, changes, reason))
        self._insert(new_cases, events)
        self._update(updates)
        if events:
            self._bulk(sa.insert(case_events), list(events[0])).run(events)

    def _bulk(self, statement: Any, keys: list[str]) -> _Bulk:
        key = (str(statement), tuple(keys))
        found = self.statements.get(key)
        if found is None:
            found = self.statements[key] = _Bulk(self.connection, statement, keys)
        return found

    def _insert(self, new_cases: list[Screened], events: list[dict[str, Any]]) -> None:
        """New cases, then their 'opened' events (ids read back by person id: executemany
        cannot return them on every driver)."""
        if not new_cases:
            return
        rows = [self._new_case(item) for item in new_cases]
        self._bulk(sa.insert(cases), list(rows[0])).run(rows)
        wanted = [i.person_id for i in new_cases]
        # Written out rather than .in_(): SQLAlchemy renders 5,000 expanding parameters slowly.
        mark = "?" if self.connection.dialect.paramstyle == "qmark" else "%s"
        sql = f"SELECT person_id, id FROM cases WHERE person_id IN ({', '.join([mark] * len(wanted))})"
        ids: dict[str, int] = dict(self.connection.exec_driver_sql(sql, tuple(wanted)).all())
        for item in new_cases:
            events.append(self._event(ids[item.person_id], "opened", *self._why_opened(item)))
        self.summary.opened += len(new_cases)

    def _update(self, updates: list[dict[str, Any]]) -> None:
        # One UPDATE per set of columns (executemany needs the same parameters on every row).
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for u in updates:
            by_shape.setdefault(tuple(sorted(u)), []).append({**u, "_now": self.now})
        for shape, rows in by_shape.items():
            columns = [c for c in shape if not c.startswith("_")]
            statement = (
                sa.update(cases)
                .where(cases.c.id == sa.bindparam("_id"), cases.c.version == sa.bindparam("_version"))
                .values(
                    {c: sa.bindparam(c) for c in columns}
                    | {
                        "version": cases.c.version + sa.literal_column("1"),
                        "updated_at": sa.bindparam("_now", type_=sa.DateTime()),
                        "screened_at": sa.bindparam("_now", type_=sa.DateTime()),
                    }
                )
            )
            done = self._bulk(statement, [*columns, "_id", "_version", "_now"]).run(rows)
            if done not in (-1, len(rows)):
                raise WorklistError(
                    "a case changed while the screening was writing it; nothing was saved: run it again"
                )

    def _new_case(self, item: Screened) -> dict[str, Any]:
        return {
            "person_id": item.person_id,
            "residence": item.residence,
            "district": item.district or "",
            "visit_order": item.visit_order,
            "state": "open",
            "priority": item.priority,
            "reasons": self.json.text(item.reasons),
            "services": self.json.services(item.services),
            "rules_version": self.rules_version,
            "opened_at": self.now,
            "screened_at": self.now,
            "assigned_to": None,
            "visit_on": None,
            "attempts": 0,
            "outcome": None,
            "applied_for": "[]",
            "visited_at": None,
            "closed_reason": None,
            "closed_at": None,
            "version": 1,
            "updated_at": self.now,
        }

    def _event(
        self, case_id: int, action: str, changes: dict[str, Any] | _JSONText, reason: str
    ) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "at": self.now,
            "actor": self.actor,
            "action": action,
            "changes": changes,
            "reason": reason,
        }

    def _why_opened(self, item: Screened) -> tuple[_JSONText, str]:
        """(changes as JSON text, reason) of an 'opened' event: the same for every person
        with the same services and priority, so made once per combination."""
        key = (tuple(sorted(s.service for s in item.services)), item.priority)
        found = self.json.opened.get(key)
        if found is None:
            changes = {
                "state": [None, "open"],
                "services": [None, list(key[0])],
                "priority": [None, item.priority],
            }
            reason = f"screened under rules version {self.rules_version}: {', '.join(key[0])}"
            found = self.json.opened[key] = (_JSONText(dumps(changes)), reason)
        return found

    def _why_changed(self, had: dict[str, Any], wanted: dict[str, Any]) -> str:
        """What changed, and whether the rules or the person's circumstances explain it."""
        before = {s["service"]: s for s in had["services"]}
        after = {s["service"]: s for s in wanted["services"]}
        parts = []
        if added := sorted(set(after) - set(before)):
            parts.append("now eligible for " + ", ".join(added))
        if dropped := sorted(set(before) - set(after)):
            parts.append("no longer for " + ", ".join(dropped))
        for sid in sorted(set(before) & set(after)):
            if before[sid] != after[sid]:
                changed = [
                    k for k in ("status", "amount", "deadline") if before[sid].get(k) != after[sid].get(k)
                ]
                parts.append(
                    f"{sid}: " + ", ".join(f"{k} {before[sid].get(k)} → {after[sid].get(k)}" for k in changed)
                )
        if had["priority"] != wanted["priority"]:
            parts.append(f"priority {had['priority']} → {wanted['priority']}")
        if (had["residence"], had["district"]) != (wanted["residence"], wanted["district"]):
            parts.append(
                f"place {had['residence']}/{had['district']} → {wanted['residence']}/{wanted['district']}"
            )
        if had["rules_version"] != wanted["rules_version"]:
            cause = f"rules changed ({had['rules_version']} → {wanted['rules_version']})"
        else:
            cause = "the person's circumstances changed (same rules)"
        return cause + (": " + "; ".join(parts) if parts else ": the case is unchanged")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_plain)


class _JSONText(str):
    """JSON already serialised: _Bulk passes it through as it is."""


@dataclass
class _JSONCache:
    """A screening repeats the same few service lists and reason lists a million times:
    each is serialised once."""

    texts: dict[Any, _JSONText] = field(default_factory=dict)
    opened: dict[Any, tuple[_JSONText, str]] = field(default_factory=dict)

    def text(self, value: tuple) -> _JSONText:
        found = self.texts.get(value)
        if found is None:
            found = self.texts[value] = _JSONText(dumps(list(value)))
        return found

    def services(self, services: tuple[CaseService, ...]) -> _JSONText:
        key = ("services", services)
        found = self.texts.get(key)
        if found is None:
            found = self.texts[key] = _JSONText(dumps(_services_json(services)))
        return found


class _Bulk:
    """executemany straight through the driver. SQLAlchemy compiles the statement once for
    this database (placeholders, casts); JSON is serialised here (cached), every other
    value goes through its column type's own bind processor. SQLAlchemy's per-row
    parameter handling cost more than the database itself (bench/worklist_bench.py)."""

    def __init__(self, connection: Connection, statement: Any, keys: list[str]):
        dialect = connection.dialect
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        self.connection = connection
        self.sql = str(compiled)
        self.order = list(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        self.json: set[str] = set()
        self.process: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            if isinstance(bind.type, sa.JSON):
                self.json.add(name)
                continue
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.process[name] = processor

    def _column(self, name: str, rows: list[dict[str, Any]]) -> list[Any]:
        values = [row[name] for row in rows]
        if name in self.json:
            return [v if v is None or isinstance(v, _JSONText) else dumps(v) for v in values]
        processor = self.process.get(name)
        if processor is None:
            return values
        # The same few dates and times recur across a batch: process each once.
        done = {v: processor(v) for v in set(values)}
        return [done[v] for v in values]

    def run(self, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        names = self.order if self.order is not None else list(rows[0])
        columns = {n: self._column(n, rows) for n in dict.fromkeys(names)}
        params: list[Any] = list(zip(*(columns[n] for n in names), strict=True))
        if self.order is None:
            params = [dict(zip(names, values, strict=True)) for values in params]
        return self.connection.exec_driver_sql(self.sql, params).rowcount
