"""The home-visit loop, step by step: screen, list, assign, visit, record, re-screen,
report, audit and retention. Every test runs on SQLite, and on PostgreSQL when
LIFEEVENTS_TEST_POSTGRES_URL is set (CI sets it; tests/worklist_support.py)."""

from __future__ import annotations

import io
import threading
import time
from datetime import date, datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from test_outreach import POOR_ALONE as OUTREACH_POOR_ALONE
from worklist_support import (
    BACKENDS,
    cases_page_damaged,
    fresh_store,
    not_a_database,
    store_url,
    truncated,
)

import engine.services.worklist as worklist_module
from engine.interfaces.cli import main
from engine.services.worklist import (
    CLOSED_NO_LONGER_ELIGIBLE,
    CaseService,
    Screened,
    ScreeningBatch,
    StaleCase,
    WorklistError,
    WorklistUnavailable,
    cases,
    open_store,
    utcnow,
)
from engine.services.worklist_report import by_district, by_service, case_frame, time_to_visit
from engine.services.worklist_screen import run_outreach_to_worklist

AS_OF = date(2026, 3, 1)
POOR_ALONE = dict(OUTREACH_POOR_ALONE)
LOW_INCOME = "low-income-household"


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def store(backend, tmp_path):
    s = fresh_store(backend, tmp_path)
    yield s
    s.close()


def register(tmp_path, rows: list[dict[str, str]], name: str = "register.csv"):
    columns = sorted({c for r in rows for c in r})
    frame = pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    )
    path = tmp_path / name
    frame.write_csv(path)
    return path


def person(pid: str, district: str = "Wanhua", **extra: str) -> dict[str, str]:
    return {"person_id": pid, "residence": "taipei", "district": district, **POOR_ALONE, **extra}


def screened(pid: str, services=(LOW_INCOME,), priority: int = 3, district: str = "Wanhua", **kw) -> Screened:
    return Screened(
        person_id=pid,
        residence="taipei",
        district=district,
        priority=priority,
        reasons=("alone_80",) if priority else (),
        services=tuple(CaseService(s, "eligible") for s in services),
        **kw,
    )


# -- screen ------------------------------------------------------------------------------------


def test_screening_opens_a_case_for_each_person_to_visit_and_keeps_no_more_of_the_profile(
    catalogue, store, tmp_path
):
    rows = [
        person("p-1", name="Lin", address="No. 1, Wanhua Rd", phone="02-1234"),
        # Earns too much, and already has the one service left (every adult can get one).
        person("p-2", receives="seal-certificate", **{"household.monthly_income": "900000"}),
        person("p-3", district="Daan", visit_order="2"),
    ]
    summary, counts = run_outreach_to_worklist(
        catalogue, register(tmp_path, rows), store, as_of=AS_OF, err=io.StringIO()
    )
    assert counts == {"rows": 3, "invalid": 0}
    assert (summary.opened, summary.screened) == (2, 3)
    case = store.by_person("p-1")
    assert case.state == "open" and case.residence == "taipei" and case.district == "Wanhua"
    assert LOW_INCOME in case.service_ids and case.rules_version == catalogue.version
    assert "alone_80" in case.reasons and case.priority >= 4
    assert store.by_person("p-2") is None
    assert store.by_person("p-3").visit_order == 2
    # Only what the visit needs: no name, address, phone, birth date or income anywhere.
    with store.engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(sa.select(cases)) for v in row)
    for private in ("Lin", "Wanhua Rd", "02-1234", "1940-05-01", "8000"):
        assert private not in stored
    assert {c.name for c in cases.columns}.isdisjoint({"name", "address", "phone", "birth_date", "income"})
    # The case's history starts with why it was opened.
    (opened,) = store.history(case.id)
    assert opened.action == "opened" and opened.actor == "screening" and LOW_INCOME in opened.reason


def test_outreach_to_a_database_from_the_command_line(tmp_path, capsys, backend):
    url = store_url(backend, tmp_path)
    source = register(tmp_path, [person("p-1"), person("p-2")])
    assert main(["outreach", str(source), "--to", url, "--as-of", "2026-03-01"]) == 0
    assert "2 opened" in capsys.readouterr().err
    # Run again: nothing is duplicated.
    assert main(["outreach", str(source), "--to", url, "--as-of", "2026-03-01"]) == 0
    err = capsys.readouterr().err
    assert "0 opened" in err and "2 unchanged" in err
    s = open_store(url)
    assert s.counts()["open"] == 2
    s.close()


def test_a_register_without_person_id_is_refused_with_the_reason(tmp_path, capsys):
    source = register(tmp_path, [{k: v for k, v in person("p-1").items() if k != "person_id"}])
    assert main(["outreach", str(source), "--to", str(tmp_path / "w.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "no 'person_id' column" in err and str(source) in err and "Traceback" not in err


def test_an_empty_or_repeated_person_id_names_the_row(tmp_path, capsys):
    db = str(tmp_path / "w.sqlite")
    source = register(tmp_path, [person("p-1"), person("")], "empty.csv")
    assert main(["outreach", str(source), "--to", db]) == 2
    assert "row 1: empty person_id" in capsys.readouterr().err
    source = register(tmp_path, [person("p-1"), person("p-2"), person("p-1")], "twice.csv")
    assert main(["outreach", str(source), "--to", db]) == 2
    assert "row 2: person_id 'p-1' already given at row 0" in capsys.readouterr().err
    # Refused input writes nothing.
    s = open_store(db)
    assert s.counts().get("open", 0) == 0
    s.close()


def test_outreach_needs_an_output_or_a_database(tmp_path, capsys):
    source = register(tmp_path, [person("p-1")])
    assert main(["outreach", str(source)]) == 2
    assert "give -o OUTPUT, --to DB_URL, or both" in capsys.readouterr().err


# -- list ------------------------------------------------------------------------------------


def test_the_list_is_by_priority_then_the_offices_order_and_only_the_workers_districts(store):
    store.upsert(
        [
            screened("low", priority=1),
            screened("urgent", priority=5),
            screened("second-stop", priority=3, visit_order=2),
            screened("first-stop", priority=3, visit_order=1),
            screened("no-order", priority=3),
            screened("elsewhere", priority=9, district="Daan"),
        ],
        "v1",
    )
    store.add_district("lin", "taipei", "Wanhua")
    places = store.districts_of("lin")
    assert places == [("taipei", "Wanhua")]
    ids = [c.person_id for c in store.worklist(places)]
    assert ids == ["urgent", "first-stop", "second-stop", "no-order", "low"]
    assert store.worklist([]) == []


# -- assign, schedule, visit, record -----------------------------------------------------------


def test_assign_schedule_and_record_each_bump_the_version_and_are_audited(store):
    store.upsert([screened("p-1", services=(LOW_INCOME, "elderly-living-allowance"))], "v1")
    case = store.by_person("p-1")
    case = store.assign(case.id, case.version, "lin", actor="supervisor.chen")
    assert case.assigned_to == "lin" and case.version == 2
    case = store.schedule(case.id, case.version, date(2026, 3, 10), actor="lin")
    assert case.visit_on == date(2026, 3, 10) and case.version == 3
    case = store.record_outcome(case.id, case.version, "applied", actor="lin", applied_for=[LOW_INCOME])
    assert case.state == "closed" and case.closed_reason == "applied" and case.applied_for == (LOW_INCOME,)
    assert case.visited_at is not None and case.version == 4
    events = store.history(case.id)
    assert [e.action for e in events] == ["opened", "assigned", "scheduled", "outcome"]
    assigned = events[1]
    assert assigned.actor == "supervisor.chen" and assigned.changes == {"assigned_to": [None, "lin"]}
    assert events[2].changes == {"visit_on": [None, "2026-03-10"]}
    assert events[3].changes["outcome"] == [None, "applied"] and events[3].changes["state"] == [
        "open",
        "closed",
    ]


def test_nobody_at_home_keeps_the_case_open_for_another_try(store):
    store.upsert([screened("p-1")], "v1")
    case = store.by_person("p-1")
    case = store.schedule(case.id, case.version, date(2026, 3, 10), actor="lin")
    case = store.record_outcome(case.id, case.version, "not_home", actor="lin")
    assert case.state == "open" and case.attempts == 1 and case.visit_on is None
    case = store.record_outcome(case.id, case.version, "moved", actor="lin")
    assert case.state == "closed" and case.closed_reason == "moved" and case.visited_at is None


@pytest.mark.parametrize(
    ("outcome", "applied", "message"),
    [
        ("gone fishing", [], "unknown outcome 'gone fishing'"),
        ("applied", [], "'applied' needs the services applied for"),
        ("declined", [LOW_INCOME], "go with the outcome 'applied' only"),
        ("applied", ["seal-certificate"], "applied for seal-certificate, not among its services"),
    ],
)
def test_an_impossible_outcome_is_refused_and_changes_nothing(store, outcome, applied, message):
    store.upsert([screened("p-1")], "v1")
    case = store.by_person("p-1")
    with pytest.raises(WorklistError, match=message):
        store.record_outcome(case.id, case.version, outcome, actor="lin", applied_for=applied)
    assert store.get(case.id) == case and len(store.history(case.id)) == 1


def test_two_workers_recording_at_once_one_wins_the_other_sees_the_current_state(store):
    store.upsert([screened("p-1")], "v1")
    seen = store.by_person("p-1")  # both workers opened the case at this version
    won = store.record_outcome(seen.id, seen.version, "applied", actor="lin", applied_for=[LOW_INCOME])
    with pytest.raises(StaleCase) as lost:
        store.record_outcome(seen.id, seen.version, "not_home", actor="wang")
    assert lost.value.current == won
    assert lost.value.current.outcome == "applied" and "changed since you opened it" in str(lost.value)
    assert [e.actor for e in store.history(seen.id)] == ["screening", "lin"]


def test_two_workers_in_two_processes_at_once_exactly_one_wins(backend, tmp_path):
    import multiprocessing

    url = store_url(backend, tmp_path)
    s = open_store(url)
    s.upsert([screened("p-1")], "v1")
    case = s.by_person("p-1")
    s.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.starmap(
            _record, [(url, case.id, case.version, "lin"), (url, case.id, case.version, "wang")]
        )
    assert sorted(r[0] for r in results) == ["stale", "won"]
    s = open_store(url)
    final = s.get(case.id)
    winner = next(actor for outcome, actor in results if outcome == "won")
    assert final.version == case.version + 1 and s.history(case.id)[-1].actor == winner
    s.close()


def _record(url: str, case_id: int, version: int, actor: str) -> tuple[str, str]:
    s = open_store(url)
    try:
        s.record_outcome(case_id, version, "declined", actor=actor)
        return ("won", actor)
    except StaleCase:
        return ("stale", actor)
    finally:
        s.close()


# -- two screenings, or two first openings, at once ----------------------------------------------


def _in_a_thread(work) -> tuple[threading.Thread, dict]:
    """Run ``work()`` in a thread; its value or its exception lands in the dict."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = work()
        except Exception as exc:  # reported by the test, in the main thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_a_screening_started_while_another_writes_waits_then_sees_its_cases(backend, tmp_path):
    """As if run one after the other: the second opens nobody twice and fails on nobody."""
    url = store_url(backend, tmp_path)
    first, second = open_store(url), open_store(url)
    people = [screened("p-1"), screened("p-2", district="Daan")]
    with first.screening("v1") as batch:
        batch.add(people)  # written, not yet committed
        thread, result = _in_a_thread(lambda: second.upsert(people, "v1"))
        time.sleep(1)  # long enough for the second to read the store, were it not waiting
        assert thread.is_alive()
    thread.join(timeout=60)
    assert not thread.is_alive() and "error" not in result, result.get("error")
    assert (result["value"].opened, result["value"].unchanged) == (0, 2)
    assert second.counts() == {"open": 2, "events": 2}
    first.close()
    second.close()


def test_a_screening_that_waits_too_long_is_told_the_database_is_busy(backend, tmp_path, monkeypatch):
    url = store_url(backend, tmp_path)
    first, second = open_store(url), open_store(url)
    monkeypatch.setattr(worklist_module, "WRITER_WAIT_SECONDS", 0.5)
    with first.screening("v1") as batch:
        batch.add([screened("p-1")])
        with pytest.raises(WorklistUnavailable) as busy:
            second.upsert([screened("p-1")], "v1")
    assert str(busy.value).startswith(f"worklist database {busy.value.where}: busy: another process")
    assert "run this again when it has finished" in str(busy.value)
    assert second.counts() == {"open": 1, "events": 1}  # the first's, committed
    first.close()
    second.close()


def test_a_new_database_opened_twice_at_once_is_migrated_once(backend, tmp_path, monkeypatch):
    """The second opening waits while the first creates the tables, then finds them made:
    no 'table already exists' (several commands started at once on a new database)."""
    url = store_url(backend, tmp_path)
    created, release = threading.Event(), threading.Event()
    migrate = worklist_module.migrate

    def first_migration_pauses(connection) -> None:
        migrate(connection)
        if not created.is_set():  # the first: its tables made, not yet committed
            created.set()
            release.wait(timeout=30)

    monkeypatch.setattr(worklist_module, "migrate", first_migration_pauses)
    first_thread, first = _in_a_thread(lambda: open_store(url))
    assert created.wait(timeout=30)
    second_thread, second = _in_a_thread(lambda: open_store(url))
    time.sleep(1)  # long enough for the second to look at the schema, were it not waiting
    release.set()
    for thread, result in ((first_thread, first), (second_thread, second)):
        thread.join(timeout=60)
        assert "error" not in result, result.get("error")
        assert result["value"].counts() == {"events": 0}
        result["value"].close()


# -- re-screen ---------------------------------------------------------------------------------


def test_a_rescreen_does_not_duplicate_open_cases(store):
    store.upsert([screened("p-1"), screened("p-2")], "v1")
    summary = store.upsert([screened("p-1"), screened("p-2"), screened("p-3")], "v1")
    assert (summary.opened, summary.unchanged) == (1, 2)
    assert store.counts()["open"] == 3


def test_people_who_no_longer_qualify_are_closed_with_that_reason(store):
    store.upsert([screened("p-1"), screened("p-2")], "v1")
    summary = store.upsert([screened("p-1"), screened("p-2", services=(), priority=0)], "v1")
    assert summary.closed == 1
    case = store.by_person("p-2")
    assert case.state == "closed" and case.closed_reason == CLOSED_NO_LONGER_ELIGIBLE
    closed = store.history(case.id)[-1]
    assert closed.action == "closed" and f"no longer eligible for {LOW_INCOME}" in closed.reason
    # Eligible again later: the screening reopens what the screening closed.
    summary = store.upsert([screened("p-2")], "v1")
    assert summary.reopened == 1 and store.by_person("p-2").state == "open"
    assert store.history(case.id)[-1].reason.startswith("eligible again")


def test_a_rescreen_after_a_rules_change_records_what_changed_and_why(store):
    before = (
        CaseService(LOW_INCOME, "eligible"),
        CaseService("elderly-living-allowance", "eligible", 8329, "TWD/month"),
    )
    store.upsert([Screened("p-1", "taipei", "Wanhua", None, 4, ("alone_80",), before)], "rules-2026-01")
    after = (
        CaseService("elderly-living-allowance", "eligible", 8500, "TWD/month"),
        CaseService("seal-certificate", "unknown"),
    )
    summary = store.upsert(
        [Screened("p-1", "taipei", "Wanhua", None, 4, ("alone_80",), after)], "rules-2026-07"
    )
    assert summary.updated == 1
    case = store.by_person("p-1")
    assert case.rules_version == "rules-2026-07" and case.service_ids == (
        "elderly-living-allowance",
        "seal-certificate",
    )
    event = store.history(case.id)[-1]
    assert event.action == "rescreened"
    assert event.reason.startswith("rules changed (rules-2026-01 → rules-2026-07)")
    assert (
        "now eligible for seal-certificate" in event.reason and f"no longer for {LOW_INCOME}" in event.reason
    )
    assert "elderly-living-allowance: amount 8329 → 8500" in event.reason
    assert event.changes["rules_version"] == ["rules-2026-01", "rules-2026-07"]


def test_a_rescreen_with_the_same_rules_says_the_circumstances_changed(store):
    store.upsert([screened("p-1", priority=3)], "v1")
    store.upsert([screened("p-1", priority=5)], "v1")
    event = store.history(store.by_person("p-1").id)[-1]
    assert event.reason == "the person's circumstances changed (same rules): priority 3 → 5"


def test_a_case_a_worker_closed_is_not_reopened_by_the_screening(store):
    store.upsert([screened("p-1")], "v1")
    case = store.by_person("p-1")
    store.record_outcome(case.id, case.version, "declined", actor="lin")
    summary = store.upsert([screened("p-1")], "v1")
    assert summary.unchanged == 1 and store.by_person("p-1").outcome == "declined"


def test_a_rescreen_bumps_the_version_so_a_worker_holding_the_old_one_is_told(store):
    store.upsert([screened("p-1", priority=3)], "v1")
    seen = store.by_person("p-1")
    store.upsert([screened("p-1", priority=5)], "v2")
    with pytest.raises(StaleCase) as stale:
        store.record_outcome(seen.id, seen.version, "declined", actor="lin")
    assert stale.value.current.priority == 5


# -- report -----------------------------------------------------------------------------------


def test_the_supervisors_figures(store):
    store.upsert(
        [
            screened("a", services=(LOW_INCOME, "elderly-living-allowance")),
            screened("b", services=(LOW_INCOME,)),
            screened("c", services=(LOW_INCOME,), district="Daan"),
            screened("d", services=("elderly-living-allowance",), district="Daan"),
        ],
        "v1",
    )
    a, b, c = (store.by_person(p) for p in "abc")
    store.record_outcome(
        a.id, a.version, "applied", actor="lin", applied_for=[LOW_INCOME, "elderly-living-allowance"]
    )
    store.record_outcome(b.id, b.version, "declined", actor="lin")
    store.record_outcome(c.id, c.version, "not_home", actor="wang")
    frame = case_frame(store)
    districts = {(r["residence"], r["district"]): r for r in by_district(frame).iter_rows(named=True)}
    assert districts[("taipei", "Wanhua")] == {
        "residence": "taipei",
        "district": "Wanhua",
        "cases": 2,
        "open": 0,
        "visited": 2,
        "applied": 1,
    }
    assert districts[("taipei", "Daan")]["open"] == 2 and districts[("taipei", "Daan")]["visited"] == 0
    services = {r["service"]: r for r in by_service(frame).iter_rows(named=True)}
    assert services[LOW_INCOME]["eligible"] == 3 and services[LOW_INCOME]["applied"] == 1
    assert services[LOW_INCOME]["uptake"] == pytest.approx(1 / 3, abs=1e-4)
    assert services["elderly-living-allowance"]["uptake"] == 0.5
    visits = time_to_visit(frame).row(0, named=True)
    assert visits["district"] == "Wanhua" and visits["visits"] == 2 and visits["median_days"] >= 0
    assert by_service(case_frame(store, ["kinmen"])).is_empty()


# -- audit and retention -------------------------------------------------------------------------


def test_the_audit_is_append_only_in_the_database(store):
    store.upsert([screened("p-1")], "v1")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE case_events SET actor = 'someone else'"))
    assert store.history(store.by_person("p-1").id)[0].actor == "screening"


def test_purge_deletes_closed_cases_after_the_retention_period_with_their_events(store):
    store.upsert([screened("old"), screened("recent"), screened("open")], "v1")
    for pid, when in (("old", datetime(2026, 1, 1)), ("recent", datetime(2026, 3, 1))):
        case = store.by_person(pid)
        store.record_outcome(case.id, case.version, "declined", actor="lin", when=when)
    old_id = store.by_person("old").id
    assert store.purge(30, actor="admin", now=datetime(2026, 3, 15)) == 1
    assert store.by_person("old") is None and store.history(old_id) == []
    assert store.by_person("recent").state == "closed" and store.by_person("open").state == "open"
    with store.engine.connect() as connection:
        logged = connection.execute(sa.text("SELECT actor, older_than_days, cases_deleted FROM purges")).all()
    assert [tuple(r) for r in logged] == [("admin", 30, 1)]


def test_purge_and_assignments_from_the_command_line(tmp_path, capsys, backend):
    url = store_url(backend, tmp_path)
    assert main(["worklist", "--db", url, "assign", "lin", "taipei", "Wanhua"]) == 0
    assert main(["worklist", "--db", url, "supervisor", "chen"]) == 0
    assert main(["worklist", "--db", url, "districts"]) == 0
    assert capsys.readouterr().out == "lin\ttaipei\tWanhua\n"
    assert main(["worklist", "--db", url, "purge", "--older-than", "365"]) == 0
    assert "0 closed case(s) older than 365 days deleted" in capsys.readouterr().err
    assert main(["worklist", "--db", url, "purge", "--older-than", "-1"]) == 2
    assert main(["worklist", "--db", url, "unassign", "lin", "taipei", "Daan"]) == 2
    assert "lin does not work in taipei / Daan" in capsys.readouterr().err
    s = open_store(url)
    assert s.is_supervisor("chen") and not s.is_supervisor("lin")
    s.close()


# -- a database that is not one, or is damaged ----------------------------------------------------

DAMAGED = "not a worklist database, or a damaged one"
RESTORE = "check the path, or restore the database from a backup"


@pytest.mark.parametrize("damage", [not_a_database, truncated], ids=["noise", "truncated"])
@pytest.mark.parametrize("command", ["worklist", "outreach"])
def test_a_file_that_is_not_a_worklist_database_or_is_damaged_is_named_with_what_to_do(
    tmp_path, capsys, damage, command
):
    db = tmp_path / "worklist.sqlite"
    damage(db)
    before = db.read_bytes()
    source = register(tmp_path, [person("p-1")])
    argv = {
        "worklist": ["worklist", "--db", str(db), "districts"],
        "outreach": ["outreach", str(source), "--to", str(db), "--as-of", "2026-03-01"],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" not in err and "Traceback" not in err
    assert f"worklist database {db}: {DAMAGED} (" in err and err.endswith(f"{RESTORE}\n")
    assert db.read_bytes() == before  # nothing written over what may still be rescued


def test_damage_found_by_a_later_query_is_named_the_same_way(tmp_path, capsys):
    db = tmp_path / "worklist.sqlite"
    cases_page_damaged(db)
    expected = f"worklist database {db}: {DAMAGED} (database disk image is malformed): {RESTORE}"
    store = open_store(db)  # the schema and its migration record are intact
    assert store.districts_of("policy.lin") == [("taipei", "Wanhua")]
    with pytest.raises(WorklistUnavailable) as damaged:
        store.worklist([("taipei", "Wanhua")])
    assert str(damaged.value) == expected
    store.close()
    # A screening reads the cases too: the database is named, not the register.
    source = register(tmp_path, [person("p-1")])
    assert main(["outreach", str(source), "--to", str(db), "--as-of", "2026-03-01"]) == 2
    assert capsys.readouterr().err == f"lifeevents outreach --to: {expected}\n"


def test_a_folder_where_the_database_should_be_cannot_be_opened(tmp_path, capsys):
    db = tmp_path / "worklist.sqlite"
    db.mkdir()
    assert main(["worklist", "--db", str(db), "districts"]) == 2
    expected = f"worklist database {db}: cannot open: unable to open database file"
    assert capsys.readouterr().err == f"lifeevents worklist: {expected}\n"


def test_a_database_error_from_a_bug_names_nobody_and_shows_no_sql(tmp_path, capsys, backend, monkeypatch):
    """Were the screening ever to insert a case twice (a bug: it looks people up first), the
    error is one line with no statement, no values and no key: they are people's ids."""
    url = store_url(backend, tmp_path)
    source = register(tmp_path, [person("p-secret-1"), person("p-secret-2")])
    assert main(["outreach", str(source), "--to", url, "--as-of", "2026-03-01"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(ScreeningBatch, "_existing", lambda self, ids: {})
    assert main(["outreach", str(source), "--to", url, "--as-of", "2026-03-01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lifeevents: internal error, please report it: ") and err.count("\n") == 1
    for leak in ("p-secret", "taipei", LOW_INCOME, "INSERT", "DETAIL"):
        assert leak not in err
    # The exception itself, which a page or a log may show, holds no statement values either
    # (PostgreSQL's own DETAIL line still names the key: the command line drops it).
    store = open_store(url)
    with pytest.raises(sa.exc.IntegrityError) as twice, store.engine.begin() as connection:
        connection.execute(sa.insert(cases).values(store_row("p-secret-1")))
    store.close()
    assert "parameters hidden" in str(twice.value) and "Wanhua" not in str(twice.value)


def store_row(pid: str) -> dict:
    now = utcnow()
    return {
        "person_id": pid, "residence": "taipei", "district": "Wanhua", "state": "open", "priority": 1,
        "reasons": [], "services": [], "rules_version": "v1", "opened_at": now, "screened_at": now,
        "attempts": 0, "applied_for": [], "version": 1, "updated_at": now,
    }  # fmt: skip


def test_timestamps_are_utc_and_the_visit_follows_the_screening(store):
    store.upsert([screened("p-1")], "v1")
    case = store.by_person("p-1")
    case = store.record_outcome(case.id, case.version, "declined", actor="lin")
    assert case.opened_at <= case.visited_at <= utcnow() + timedelta(seconds=5)


# -- the plan printed at the door ------------------------------------------------------------------


def test_a_cases_plan_is_the_one_stop_plan_of_its_services(engine, store):
    from engine.services.worklist_plan import case_plan, case_plan_html

    services = (
        CaseService("labor-insurance-maternity-benefit", "eligible", 60000, "TWD"),
        CaseService("birth-registration", "eligible", deadline=date(2026, 4, 1)),
    )
    store.upsert([Screened("p-1", "taipei", "Wanhua", None, 1, (), services)], "v1")
    case = store.by_person("p-1")
    plan = case_plan(case, engine, "en", as_of=AS_OF)
    # Prerequisites first: the birth is registered before the benefit is claimed.
    assert [s.service for s in plan.steps] == ["birth-registration", "labor-insurance-maternity-benefit"]
    assert plan.steps[0].deadline == date(2026, 4, 1) and plan.steps[1].amount == "NT$60,000"
    page = case_plan_html(case, engine, "zh-TW", as_of=AS_OF)
    assert '<html lang="zh-TW">' in page and "出生登記" in page and "v1" in page
