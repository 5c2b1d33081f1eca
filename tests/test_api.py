"""The HTTP API (engine/interfaces/api.py, docs/api.md): the same answers as the engine and the CLI,
every problem named by its key path, bounded input, nothing about a profile in the logs,
and rules reloaded atomically only by staff."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from schemathesis.specs.openapi.checks import positive_data_acceptance

from engine.interfaces.api import BodyLimitMiddleware, ReloadSignal, create_app, rule_data, with_tcp_protocol
from engine.interfaces.cli import main as cli_main
from engine.language.catalog import EVENTS
from engine.language.profile import Profile
from engine.services.plan import OneStopPlan, build_plan
from engine.services.questions import next_questions
from engine.testing.sample import random_profile_data

ROOT = Path(__file__).resolve().parent.parent
NEWBORN = json.loads((ROOT / "examples" / "newborn.json").read_text(encoding="utf-8"))
TOKEN = "staff-token-for-tests"


# Built at import, not in a fixture: schemathesis reads the OpenAPI document when the
# tests are collected (its from_fixture loader breaks on pytest 9, which dropped
# Node._nodeid). The app compiles its own engine from the same files as the `engine`
# fixture, so the comparisons below are between two independent builds.
# staff_token="": reloading is disabled here whatever the environment says.
APP = create_app(root=ROOT, staff_token="")


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return APP


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def as_json(model: Any) -> Any:
    """What the CLI prints (``json.dumps(model_dump(mode="json"))``), read back."""
    return json.loads(json.dumps(model.model_dump(mode="json"), ensure_ascii=False))


def copy_rules(dest: Path) -> Path:
    shutil.copy(ROOT / "catalog.yaml", dest / "catalog.yaml")
    shutil.copytree(ROOT / "rules", dest / "rules")
    return dest


# --- the endpoints ----------------------------------------------------------------------------


def test_health_names_the_rules_version(client, catalogue):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["rules_version"] == catalogue.version
    assert body["services"] == len(catalogue.services)
    assert body["worker"] == os.getpid()


def test_recommend_answers_exactly_what_the_cli_prints(client, capsys):
    for args, query in (
        ([], {}),
        (
            ["--event", "birth", "--lang", "zh-TW", "--as-of", "2026-04-15"],
            {"event": "birth", "lang": "zh-TW", "as_of": "2026-04-15"},
        ),
    ):
        assert cli_main(["recommend", str(ROOT / "examples" / "newborn.json"), "--json", *args]) == 0
        printed = json.loads(capsys.readouterr().out)
        response = client.post("/recommend", json=NEWBORN, params=query)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == printed


def test_the_query_date_overrides_the_profile_date(client):
    body = client.post("/recommend", json=NEWBORN, params={"as_of": "2026-05-01"}).json()
    assert body["as_of"] == "2026-05-01"
    assert client.post("/recommend", json=NEWBORN).json()["as_of"] == NEWBORN["as_of"]


def test_questions_are_the_engines_ranked_questions(client, engine, catalogue):
    partial = {"as_of": "2026-03-01", "events": {"birth": {"date": "2026-02-01"}}}
    body = client.post("/questions", json=partial).json()
    rec = engine.recommend(Profile.model_validate(partial))
    expected = next_questions(rec, catalogue)
    assert [q["fact"] for q in body["questions"]] == [q.fact for q in expected]
    assert body["rules_version"] == catalogue.version and body["as_of"] == "2026-03-01"
    counts = [len(q["services"]) for q in body["questions"]]
    assert counts == sorted(counts, reverse=True)
    limited = client.post("/questions", json=partial, params={"limit": 1}).json()
    assert limited["questions"] == body["questions"][:1]


def test_plan_as_json_and_as_a_printable_page(client, engine, catalogue):
    body = client.post("/plan", json=NEWBORN).json()
    plan = build_plan(engine.recommend(Profile.model_validate(NEWBORN)), catalogue)
    assert body == TypeAdapter(OneStopPlan).dump_python(plan, mode="json")
    page = client.post("/plan", json=NEWBORN, params={"format": "html", "lang": "zh-TW"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!doctype html>") and 'lang="zh-TW"' in page.text


# profile.md, "Families: the partner": every plan step has `for`. A mother and the father.
NEWBORN_WITH_FATHER = dict(
    NEWBORN, partner={"sex": "male", "employment": "employed", "months_in_current_job": 24}
)


def test_each_plan_step_says_whom_it_is_for_in_the_json_and_reads_back(client, engine, catalogue):
    body = client.post("/plan", json=NEWBORN_WITH_FATHER).json()
    plan = build_plan(engine.recommend(Profile.model_validate(NEWBORN_WITH_FATHER)), catalogue)
    assert [(s["service"], s["for"]) for s in body["steps"]] == [(s.service, s.for_) for s in plan.steps]
    assert {s["for"] for s in body["steps"]} == {"person", "partner", "household"}
    assert all(s["who"] == s["for"] for s in body["steps"])  # the earlier key, kept for its clients
    assert TypeAdapter(OneStopPlan).validate_python(body) == plan  # the JSON reads back as the plan
    step = client.get("/openapi.json").json()["components"]["schemas"]["PlanStep"]
    assert step["properties"]["for"]["enum"] == ["person", "partner", "household"]


def test_the_plan_json_gives_the_familys_total_as_the_numbers_of_recommend(client):
    plan = client.post("/plan", json=NEWBORN_WITH_FATHER, params={"include_unknown": False}).json()
    recommended = client.post("/recommend", json=NEWBORN_WITH_FATHER).json()
    assert plan["family_totals"] == recommended["totals"]
    assert set(plan["family_totals"]) == {"one_off", "monthly", "unknown"}
    assert isinstance(plan["totals"], str)  # the sentence, as before
    schema = client.get("/openapi.json").json()["components"]["schemas"]["OneStopPlan"]
    assert schema["properties"]["family_totals"]["$ref"] == "#/components/schemas/Totals"


def test_services_list_the_catalogue(client, catalogue):
    body = client.get("/services").json()
    assert [s["id"] for s in body["services"]] == list(catalogue.services)
    for event in EVENTS:
        ids = [s["id"] for s in client.get("/services", params={"event": event}).json()["services"]]
        assert ids == catalogue.services_for(event)


def _kinds_everywhere(node: Any) -> None:
    """Every mapping of a condition is a typed node or a bilingual text."""
    if isinstance(node, dict):
        assert "kind" in node or set(node) == {"en", "zh-TW"}, node
        for value in node.values():
            _kinds_everywhere(value)
    elif isinstance(node, list):
        for item in node:
            _kinds_everywhere(item)


def test_a_service_comes_with_its_rule_files_and_conditions_as_data(client, catalogue, engine):
    for sid, service in catalogue.services.items():
        body = client.get(f"/services/{sid}").json()
        assert body["id"] == sid and body["legal_basis"] == service.legal_basis
        assert body["name"] == {"zh-TW": service.name.zh_TW, "en": service.name.en}
        layers = catalogue.rules.get(sid, {})
        assert {r["jurisdiction"]: r["legal_basis"] for r in body["rules"]} == {
            j: r.legal_basis for j, r in layers.items()
        }
        for rule in body["rules"]:
            assert rule["eligibility"] == rule_data(layers[rule["jurisdiction"]].eligibility)
            _kinds_everywhere(rule["eligibility"])
        assert body["eligibility"] == rule_data(engine.conditions[sid])
        assert set(body["document_details"]) == {u.doc for u in service.document_uses()}


def test_rule_data_leaves_out_yaml_positions_and_keeps_texts_bilingual():
    from engine.language.rules import Compare, FactRef, Literal, Text

    node = Compare("adult", FactRef("person.age"), "gte", Literal(18), Text("adult", "成年"), where=("x", 1))
    assert rule_data(node) == {
        "kind": "compare",
        "id": "adult",
        "lhs": {"kind": "fact_ref", "path": "person.age"},
        "op": "gte",
        "rhs": {"kind": "literal", "value": 18},
        "text": {"en": "adult", "zh-TW": "成年"},
        "legal_basis": None,
        "step": None,
    }


def test_an_unknown_service_is_404_with_the_closest_id(client, catalogue):
    sid = next(iter(catalogue.services))
    response = client.get(f"/services/{sid[:-1]}")
    assert response.status_code == 404
    assert f"did you mean '{sid}'" in response.json()["detail"]
    assert client.get("/services/no-such-service-at-all").status_code == 404


def test_parameters_with_their_dated_values(client, catalogue):
    names = client.get("/parameters").json()["parameters"]
    assert names == sorted(catalogue.parameters)
    for name in names:
        body = client.get(f"/parameters/{name}").json()
        parameter = catalogue.parameters[name]
        assert (body["unit"], body["reference"], body["confidence"]) == (
            parameter.unit,
            parameter.reference,
            parameter.confidence,
        )
        assert [v["effective_from"] for v in body["values"]] == [
            v.effective_from.isoformat() for v in parameter.values
        ]
    assert client.get("/parameters/no.such.parameter").status_code == 404


# --- invalid input ---------------------------------------------------------------------------


def problems(response) -> dict[str, dict]:
    assert response.status_code == 422, response.text
    return {p["path"]: p for p in response.json()["detail"]}


def test_every_problem_is_named_by_its_key_path(client):
    profile = {
        "person": {"birth_date": "1990-02-30", "sex": "x"},
        "children": [{"order": 1}, {"order": "2"}],
    }
    found = problems(client.post("/recommend", json=profile))
    assert set(found) == {"person.birth_date", "person.sex", "children[1].order"}
    assert all(p["location"] == "body" and p["message"] for p in found.values())


# A partner is an object (the partner's facts) or false (profile.md, "Families"). A wrong
# object fails both readings; only the object's own error says what is wrong, so "should
# be a valid boolean" is no problem of its own, in the API's list or on the command line.
WRONG_PARTNERS = {
    "a misspelt value": ({"partner": {"sex": "F"}}, ["partner.sex"]),
    "an unknown key": ({"partner": {"partner": {}}}, ["partner.partner"]),
    "neither an object nor false": ({"partner": True}, ["partner"]),
    "zero, not false": ({"partner": 0}, ["partner"]),
    "beside the applicant's own": (
        {"person": {"sex": "X"}, "partner": {"sex": "F"}},
        ["person.sex", "partner.sex"],
    ),
}


@pytest.mark.parametrize(("profile", "paths"), WRONG_PARTNERS.values(), ids=WRONG_PARTNERS)
def test_a_wrong_partner_is_the_same_problems_in_the_api_and_on_the_command_line(
    client, tmp_path, capsys, profile, paths
):
    answer = client.post("/recommend", json=profile)
    assert answer.status_code == 422
    listed = answer.json()["detail"]
    assert [p["path"] for p in listed] == paths  # a list: two problems may share a path
    first = listed[0]
    more = f" (and {len(listed) - 1} more problem(s))" if len(listed) > 1 else ""
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile), encoding="utf-8")
    assert cli_main(["recommend", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}: {first['path']}: {first['message']}{more}\n"


def test_a_date_is_iso_and_never_a_timestamp(client):
    found = problems(client.post("/recommend", json={"person": {"birth_date": 0}}))
    assert found["person.birth_date"]["type"] == "date_format"
    found = problems(client.post("/recommend", json={}, params={"as_of": "0"}))
    assert found["as_of"]["location"] == "query"


def test_an_unknown_key_names_the_closest_valid_one(client):
    found = problems(client.post("/recommend", json={"person": {"birth_dat": "1990-01-01"}, "houshold": {}}))
    assert found["person.birth_dat"]["did_you_mean"] == "birth_date"
    assert found["houshold"]["did_you_mean"] == "household"
    assert "did you mean 'birth_date'" in found["person.birth_dat"]["message"]


def test_bad_parameters_and_bad_json_are_422(client):
    found = problems(client.post("/recommend", json={}, params={"event": "wedding", "lang": "fr"}))
    assert set(found) == {"event", "lang"} and found["event"]["location"] == "query"
    assert problems(client.post("/plan", json=NEWBORN, params={"format": "pdf"}))["format"]
    bad = client.post("/recommend", content=b'{"person": ', headers={"content-type": "application/json"})
    assert problems(bad)[""]["type"] == "json_invalid"
    not_json = client.post("/recommend", content=b"person=1", headers={"content-type": "text/plain"})
    assert "Content-Type: application/json" in problems(not_json)[""]["message"]
    assert "" in problems(client.post("/recommend", json=[NEWBORN]))


# --- bounded input ---------------------------------------------------------------------------


def test_a_body_over_64_kib_is_413(client):
    big = {"person": {}, "padding": "x" * (64 * 1024)}
    assert client.post("/recommend", json=big).status_code == 413
    just_under = b"{}" + b" " * (64 * 1024 - 2)
    response = client.post("/recommend", content=just_under, headers={"content-type": "application/json"})
    assert response.status_code == 200


def test_a_streamed_body_is_counted_without_a_content_length(client):
    def chunks() -> Iterator[bytes]:
        yield b'{"person": {}, "x": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}'

    response = client.post("/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_a_lying_content_length_does_not_get_a_big_body_in():
    reached: list[bool] = []

    async def inner(scope, receive, send):  # pragma: no cover - must not run
        reached.append(True)

    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"x" * 30_000, "more_body": True}] * 3

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/recommend", "headers": [(b"content-length", b"10")]}
    asyncio.run(BodyLimitMiddleware(inner, max_bytes=64 * 1024)(scope, receive, send))
    assert not reached
    assert sent[0]["status"] == 413


# --- nothing about a profile is logged -----------------------------------------------------


SECRET = "1917-03-08"  # a birth date no other test uses


def test_profiles_never_reach_the_logs(client, app, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    client.post("/recommend", json={"person": {"birth_date": SECRET}})
    client.post("/recommend", json={"person": {"birth_date": SECRET, "sex": SECRET}})  # 422
    holder = app.state.rules

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"could not use {SECRET}")  # a bug whose message quotes the input

    monkeypatch.setattr(holder.current.engine, "recommend", broken)
    failed = client.post("/recommend", json={"person": {"birth_date": SECRET}})
    assert failed.status_code == 500
    error_id = failed.json()["detail"].split()[2].rstrip(";")
    assert SECRET not in failed.text
    assert error_id in caplog.text and "ValueError" in caplog.text  # the bug is still findable
    assert SECRET not in caplog.text


# --- reloading --------------------------------------------------------------------------------


def test_reload_needs_a_configured_staff_token(client, tmp_path, engine):
    assert client.post("/admin/reload").status_code == 401
    assert client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403
    with TestClient(create_app(engine=engine, root=copy_rules(tmp_path), staff_token=TOKEN)) as staff:
        assert staff.post("/admin/reload").status_code == 401
        assert staff.post("/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_reload_reads_the_saved_version_and_keeps_the_old_one_when_broken(tmp_path, engine):
    root = copy_rules(tmp_path)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # reload_interval=0: three reloads in a row (the rate limit has its own test).
    with TestClient(create_app(root=root, staff_token=TOKEN, reload_interval=0)) as staff:
        before = staff.get("/health").json()["rules_version"]
        assert before == engine.catalogue.version  # same files, same content hash
        unchanged = staff.post("/admin/reload", headers=auth).json()
        assert unchanged["changed"] is False and unchanged["rules_version"] == before
        with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
            f.write("\n# saved by the staff area\n")
        changed = staff.post("/admin/reload", headers=auth).json()
        assert changed["changed"] is True and changed["previous_version"] == before
        assert staff.get("/health").json()["rules_version"] == changed["rules_version"]
        assert staff.post("/recommend", json=NEWBORN).json()["rules_version"] == changed["rules_version"]

        (root / "catalog.yaml").write_text("services: [\n", encoding="utf-8")
        refused = staff.post("/admin/reload", headers=auth)
        assert refused.status_code == 409
        assert refused.json()["problems"][0].startswith("catalog.yaml:")
        assert staff.get("/health").json()["rules_version"] == changed["rules_version"]


def test_a_reload_swaps_the_whole_engine_under_load(tmp_path):
    root = copy_rules(tmp_path)
    app = create_app(root=root, staff_token=TOKEN)
    holder = app.state.rules
    seen: set[str] = set()
    versions = {holder.current.catalogue.version}
    errors: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        with TestClient(app) as c:
            while not stop.is_set():
                response = c.post("/recommend", json=NEWBORN)
                if response.status_code != 200:
                    errors.append(response.text)
                    return
                seen.add(response.json()["rules_version"])

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for t in askers:
        t.start()
    try:
        for n in range(3):
            with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
                f.write(f"\n# edit {n}\n")
            _, new = holder.reload()
            versions.add(new.catalogue.version)
    finally:
        stop.set()
        for t in askers:
            t.join()
    assert not errors
    assert seen <= versions  # every answer came from one whole version


def test_the_other_workers_follow_a_reload(tmp_path, monkeypatch):
    root = copy_rules(tmp_path)
    monkeypatch.setenv("LIFEEVENTS_RELOAD_FILE", str(tmp_path / "reload-signal"))
    first = create_app(root=root, staff_token=TOKEN)
    second = create_app(root=root, staff_token=TOKEN)
    signal_of_second: ReloadSignal = ReloadSignal(tmp_path / "reload-signal")
    assert not signal_of_second.check(second.state.rules)
    with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
        f.write("\n# saved\n")
    with TestClient(first) as c:
        new = c.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).json()["rules_version"]
    assert signal_of_second.check(second.state.rules)
    assert second.state.rules.current.catalogue.version == new
    assert not signal_of_second.check(second.state.rules)  # once per announcement


# --- the API agrees with the engine --------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    event=st.sampled_from([None, *EVENTS]),
    lang=st.sampled_from(["en", "zh-TW"]),
)
def test_the_api_answers_what_the_engine_answers(client, engine, catalogue, seed, event, lang):
    data = random_profile_data(random.Random(seed))
    profile = Profile.model_validate(data)
    params = {"lang": lang, **({"event": event} if event else {})}
    rec = engine.recommend(profile, event=event, lang=lang)
    assert client.post("/recommend", json=data, params=params).json() == as_json(rec)
    plan = build_plan(rec, catalogue, lang)
    body = client.post("/plan", json=data, params=params).json()
    assert body == TypeAdapter(OneStopPlan).dump_python(plan, mode="json")
    questions = client.post("/questions", json=data, params=params).json()["questions"]
    assert [q["fact"] for q in questions] == [q.fact for q in next_questions(rec, catalogue, lang)]


# --- the OpenAPI document, tried by schemathesis -----------------------------------------


schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=25,  # per operation: 9 operations, a few seconds in all
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_generated_request_breaks_the_api(case):
    # positive_data_acceptance is left out on purpose: JSON Schema counts 3.0 as an
    # integer, but the profile is strict (as the CLI reads it) and refuses 3.0 for a count.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_the_openapi_document_describes_every_answer(client):
    doc = client.get("/openapi.json").json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert ok, f"{method.upper()} {path} has no response model"
            if method == "post" and path != "/admin/reload":
                assert "422" in operation["responses"] and "413" in operation["responses"]


# --- packaging -----------------------------------------------------------------------------


def test_the_engine_does_not_need_fastapi():
    code = "import sys, engine, engine.interfaces.cli; assert 'engine.interfaces.api' not in sys.modules and 'fastapi' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_serve_refuses_bad_options():
    for args in (["--workers", "0"], ["--port", "70000"]):
        done = subprocess.run(
            [sys.executable, "-m", "engine", "serve", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr


# --- a first request that decides nothing (durable-rules' crash; see test_durable_safety) ---

DECIDES_NOTHING = {"children": [{}]}  # no rule of any ruleset can fire on it


def _fresh_process(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_a_fresh_api_survives_a_first_profile_that_decides_nothing():
    # At start and after each reload: each reload compiles fresh rulesets.
    done = _fresh_process(
        "from fastapi.testclient import TestClient\n"
        "from engine.interfaces.api import create_app\n"
        "app = create_app()\n"
        "client = TestClient(app)\n"
        "for _ in range(4):\n"
        f"    print(client.post('/recommend', json={DECIDES_NOTHING!r}).status_code)\n"
        "    app.state.rules.reload()\n"
    )
    assert done.returncode == 0 and done.stdout.split() == ["200"] * 4, done.stderr[-2000:]


def test_the_workers_socket_names_tcp_so_asyncio_turns_nagle_off():
    # uvicorn's own socket for --workers N has protocol 0 (uvicorn issue #3149).
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.bind(("127.0.0.1", 0))
    address = raw.getsockname()
    sock = with_tcp_protocol(raw)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname() == address
        assert sock.get_inheritable()
    finally:
        sock.close()


# --- a real server: two workers, a reload, and its logs -------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_with_two_workers_reloads_all_and_logs_no_profile(tmp_path):
    root = copy_rules(tmp_path)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LIFEEVENTS_STAFF_TOKEN": TOKEN}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine",
            "--rules",
            str(root),
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        give_up = time.monotonic() + 90  # as test_api_ops.two_workers waits
        workers: dict[int, str] = {}
        while len(workers) < 2 and time.monotonic() < give_up:  # each new connection may reach either
            try:
                status, body = _get(f"{base}/health")
                workers[body["worker"]] = body["rules_version"]
            except OSError:
                time.sleep(0.2)
        assert len(workers) == 2, "two workers answer"
        json_headers = {"Content-Type": "application/json"}
        status, _ = _get(
            f"{base}/recommend", json_headers, json.dumps({"person": {"birth_date": SECRET}}).encode()
        )
        assert status == 200
        status, _ = _get(f"{base}/recommend", json_headers, json.dumps({"person": {"sex": SECRET}}).encode())
        assert status == 422

        with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
            f.write("\n# saved by the staff area\n")
        status, reloaded = _get(f"{base}/admin/reload", {"Authorization": f"Bearer {TOKEN}"}, b"")
        assert status == 200 and reloaded["changed"]
        while time.monotonic() < give_up:
            status, body = _get(f"{base}/health")
            workers[body["worker"]] = body["rules_version"]
            if set(workers.values()) == {reloaded["rules_version"]}:
                break
            time.sleep(0.1)
        assert set(workers.values()) == {reloaded["rules_version"]}, workers
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert '"route": "/recommend", "path": "/recommend", "status": 422' in output  # the access log is there…
    assert "rules reloaded: version" in output and "rules reloaded on another worker's signal" in output
    assert SECRET not in output  # …and carries no body
