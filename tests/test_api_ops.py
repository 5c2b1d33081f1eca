"""Issue 15, item 4: the API as a monitored service. Prometheus metrics at /metrics (also
summed over the workers of one `lifeevents serve --workers N`), JSON logs that carry a
request id and never a request's data, and the Swagger UI and ReDoc pages drawn from
files the installed package ships, in a browser that can reach nothing but the server."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from engine.interfaces.api import DOCS_ASSETS_PATH, create_app, docs_assets
from engine.interfaces.logs import JsonFormatter, request_id_from

ROOT = Path(__file__).resolve().parent.parent
NEWBORN = json.loads((ROOT / "examples" / "newborn.json").read_text(encoding="utf-8"))
TOKEN = "staff-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Values no other test sends: if one reaches a log line, that line leaked the body.
SECRET_DATE = "1913-07-29"
SECRET_TEXT = "Lin-Mei-Secret-Street-77"


def copy_rules(dest: Path) -> Path:
    shutil.copy(ROOT / "catalog.yaml", dest / "catalog.yaml")
    shutil.copytree(ROOT / "rules", dest / "rules")
    return dest


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """A scrape as {(sample name, labels): value}."""
    out: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(scrape: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def app():
    return create_app(root=ROOT, staff_token="", metrics=True, access_log=True)


@pytest.fixture(scope="module")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every line the app's loggers write during the test, through the served formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(n) for n in ("lifeevents", "uvicorn", "uvicorn.error")]
    before = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        for lg, (level, _) in zip(loggers, before, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_count_requests_errors_and_latency_by_route_template(client):
    before = samples(client.get("/metrics").text)
    assert client.post("/recommend", json=NEWBORN).status_code == 200
    assert client.post("/recommend", json={"person": {"sex": "F"}}).status_code == 422
    assert client.get("/services/no-such-service").status_code == 404
    assert client.post("/recommend", content=b"{" + b" " * 70_000 + b"}").status_code == 413
    for path in ("/wp-login.php", "/a/b/c", f"/{SECRET_TEXT}"):
        assert client.get(path).status_code == 404
    text = client.get("/metrics").text
    after = samples(text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "lifeevents_http_requests_total"
    assert delta(total, method="POST", route="/recommend", status="200") == 1
    assert delta(total, method="POST", route="/recommend", status="422") == 1
    # Refused before routing, still named by its route.
    assert delta(total, method="POST", route="/recommend", status="413") == 1
    assert delta(total, method="GET", route="/services/{service_id}", status="404") == 1
    # A client's paths are one label value, never many, and never written out.
    assert delta(total, method="GET", route="unmatched", status="404") == 3
    assert SECRET_TEXT not in text and "wp-login" not in text
    errors = "lifeevents_http_errors_total"
    assert delta(errors, method="POST", route="/recommend", kind="client") == 2
    count = "lifeevents_http_request_duration_seconds_count"
    assert delta(count, method="POST", route="/recommend") == 3
    buckets = [
        (float(dict(labels)["le"]), v)
        for (name, labels), v in after.items()
        if name == "lifeevents_http_request_duration_seconds_bucket"
        and dict(labels)["route"] == "/recommend"
        and dict(labels)["method"] == "POST"
    ]
    assert (
        len(buckets) > 5
        and max(v for _, v in buckets)
        == after[(count, frozenset({("method", "POST"), ("route", "/recommend")}))]
    )


def test_an_unexpected_error_is_a_server_error_in_the_metrics(app, client, monkeypatch):
    holder = app.state.rules

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug")

    before = samples(client.get("/metrics").text)
    monkeypatch.setattr(holder.current.engine, "recommend", broken)
    assert client.post("/recommend", json=NEWBORN).status_code == 500
    after = samples(client.get("/metrics").text)
    labels = {"method": "POST", "route": "/recommend"}
    name = "lifeevents_http_errors_total"
    assert value(after, name, **labels, kind="server") - value(before, name, **labels, kind="server") == 1


def test_the_rules_version_and_every_reload_outcome_are_measured(tmp_path):
    root = copy_rules(tmp_path)
    app = create_app(root=root, staff_token=TOKEN, reload_interval=3600, metrics=True)
    with TestClient(app) as staff:
        first = app.state.rules.current.catalogue.version
        scrape = samples(staff.get("/metrics").text)
        assert value(scrape, "lifeevents_rules_version", version=first) == 1
        assert staff.post("/admin/reload", headers=AUTH).json()["outcome"] == "unchanged"
        with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
            f.write("\n# saved by the staff area\n")
        second = staff.post("/admin/reload", headers=AUTH).json()["rules_version"]
        with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
            f.write("\n# saved again\n")
        assert staff.post("/admin/reload", headers=AUTH).status_code == 429
        scrape = samples(staff.get("/metrics").text)
    assert value(scrape, "lifeevents_rules_version", version=second) == 1
    assert value(scrape, "lifeevents_rules_version", version=first) == 0
    reloads = "lifeevents_rules_reloads_total"
    for outcome in ("unchanged", "reloaded", "rate_limited"):
        assert value(scrape, reloads, outcome=outcome, via="hook") == 1, outcome


def test_a_reload_that_fails_is_counted(tmp_path):
    root = copy_rules(tmp_path)
    app = create_app(root=root, staff_token=TOKEN, metrics=True)
    with TestClient(app) as staff:
        (root / "catalog.yaml").write_text("services: [\n", encoding="utf-8")
        assert staff.post("/admin/reload", headers=AUTH).status_code == 409
        scrape = samples(staff.get("/metrics").text)
    assert value(scrape, "lifeevents_rules_reloads_total", outcome="failed", via="hook") == 1


def test_metrics_and_the_access_log_can_be_turned_off(json_log):
    off = create_app(root=ROOT, staff_token="", metrics=False, access_log=False)
    with TestClient(off) as c:
        assert c.get("/metrics").status_code == 404
        answer = c.get("/health")
    assert "x-request-id" not in answer.headers  # the whole layer is out: the bench's baseline
    assert json_log.getvalue() == ""
    assert "/metrics" not in json.dumps(off.openapi())


def test_the_metrics_route_is_not_in_the_openapi_document(app):
    assert "/metrics" not in app.openapi()["paths"]


# --- the request id --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        "a" * 65,  # too long
        "has space",
        "new\nline",
        'quote"s',
        "<script>",
        "",
        "-leading-dash",
        "中文",
    ],
)
def test_a_hostile_request_id_is_replaced_by_a_new_one(client, sent):
    raw = sent.encode("utf-8")
    assert request_id_from([(b"x-request-id", raw)]) != sent
    if "\n" in sent or not sent.isascii():
        return  # no HTTP client sends these as a header; request_id_from's answer is the check
    answer = client.get("/health", headers={"X-Request-ID": sent})
    got = answer.headers["x-request-id"]
    assert got != sent and len(got) == 32 and all(c in "0123456789abcdef" for c in got)


@pytest.mark.parametrize("sent", ["abc-123", "3f2a9c1e-8d4b-4c2a-9e1f-0a1b2c3d4e5f", "lb.01:req_7", "a" * 64])
def test_a_sane_request_id_is_kept_and_returned(client, sent):
    assert client.get("/health", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


def test_each_request_without_an_id_gets_its_own(client):
    ids = {client.get("/health").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# --- JSON logs, and never a request's data ---------------------------------------------------


def test_log_lines_are_json_with_the_request_id_and_no_request_data(app, client, json_log, monkeypatch):
    profile = {
        "as_of": "2026-03-01",
        "residence": "taichung",
        "person": {"birth_date": SECRET_DATE, "sex": "female", "insured_salary": 987654},
        "children": [{"birth_date": "2026-02-01", "order": 1}],
        "events": {"birth": {"date": "2026-02-01", "kind": "live"}},
    }
    ok = client.post("/recommend", json=profile, headers={"X-Request-ID": "trace-ok-1"})
    assert ok.status_code == 200
    invalid = client.post("/recommend", json={"person": {"birth_date": SECRET_DATE, "sex": SECRET_TEXT}})
    assert invalid.status_code == 422
    client.post("/plan?format=html", json=profile)
    too_large = client.post("/recommend", content=(SECRET_TEXT * 5000).encode())
    assert too_large.status_code == 413
    # A careless caller's extra= is dropped by the formatter, not written.
    logging.getLogger("lifeevents.api").info("checked", extra={"profile": profile, "applicant": SECRET_TEXT})

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"could not use {SECRET_DATE} of {SECRET_TEXT}")  # a message quoting the input

    monkeypatch.setattr(app.state.rules.current.engine, "recommend", broken)
    failed = client.post("/recommend", json=profile, headers={"X-Request-ID": "trace-bug-2"})
    assert failed.status_code == 500 and failed.headers["x-request-id"] == "trace-bug-2"

    text = json_log.getvalue()
    for secret in (SECRET_DATE, SECRET_TEXT, "987654"):
        assert secret not in text, secret
    lines = [json.loads(line) for line in text.splitlines()]
    access = [line for line in lines if line["logger"] == "lifeevents.access"]
    assert {(a["route"], a["status"]) for a in access} >= {
        ("/recommend", 200),
        ("/recommend", 422),
        ("/plan", 200),
        ("/recommend", 413),
        ("/recommend", 500),
    }
    first = next(a for a in access if a["request_id"] == "trace-ok-1")
    assert first["method"] == "POST" and first["path"] == "/recommend" and first["duration_ms"] > 0
    assert {"time", "level", "pid", "message"} <= set(first)
    # The error line names the same request, the exception's type and where, not its message.
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["request_id"] == "trace-bug-2" and "ValueError at " in error["message"]
    checked = next(line for line in lines if line["message"] == "checked")
    assert "profile" not in checked and "applicant" not in checked


def test_a_long_path_is_cut_in_the_access_line(client, json_log):
    client.get("/health/" + "q" * 50_000)
    line = json.loads(json_log.getvalue().splitlines()[-1])
    assert len(line["path"]) < 300 and "more characters" in line["path"]
    assert line["route"] == "unmatched"


def test_an_exception_in_a_log_record_is_written_without_its_message():
    try:
        raise RuntimeError(SECRET_TEXT)
    except RuntimeError:
        record = logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", (), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"].startswith("RuntimeError at test_api_ops.py:")
    assert SECRET_TEXT not in json.dumps(line)


# --- the documentation pages, offline ------------------------------------------------------


def test_the_documentation_files_come_with_the_installed_package(client):
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        assert (docs_assets() / name).is_file(), name
        served = client.get(f"{DOCS_ASSETS_PATH}/{name}")
        assert served.status_code == 200 and served.content == (docs_assets() / name).read_bytes()
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "http://" not in html and "https://" not in html, page  # nothing from elsewhere


def test_the_documentation_pages_follow_the_root_path(app):
    with TestClient(app, root_path="/api") as behind_proxy:
        html = behind_proxy.get("/docs").text
    assert "/api/docs-assets/swagger-ui-bundle.js" in html and "'/api/openapi.json'" in html


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """`lifeevents serve --workers 2` on a copy of the rules, with its logs in a file."""
    root = copy_rules(tmp_path_factory.mktemp("rules"))
    log = tmp_path_factory.mktemp("log") / "server.log"
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LIFEEVENTS_STAFF_TOKEN": TOKEN}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("w") as out:
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
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        workers: set[int] = set()
        give_up = time.monotonic() + 90
        while len(workers) < 2 and time.monotonic() < give_up:  # each connection may reach either
            try:
                workers.add(json.loads(_call(f"{base}/health")[1])["worker"])
            except OSError:
                time.sleep(0.2)
        assert len(workers) == 2, log.read_text()[-2000:]
        yield base, log, server
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_metrics_of_two_workers_are_summed_in_one_scrape(two_workers):
    base, log, _ = two_workers
    route = {"method": "POST", "route": "/recommend", "status": "200"}
    before = value(samples(_call(f"{base}/metrics")[1].decode()), "lifeevents_http_requests_total", **route)
    answered_by: set[int] = set()
    body = json.dumps({**NEWBORN, "person": {**NEWBORN["person"], "birth_date": SECRET_DATE}}).encode()
    sent = 0
    # A new connection each: both workers answer some, though on a busy machine one may
    # take many in a row (the kernel hands a connection to whichever accepts first).
    while sent < 12 or (len(answered_by) < 2 and sent < 200):
        status, _ = _call(f"{base}/recommend", body, {"Content-Type": "application/json"})
        assert status == 200
        sent += 1
        answered_by.add(json.loads(_call(f"{base}/health")[1])["worker"])
    assert len(answered_by) == 2
    scrapes = [samples(_call(f"{base}/metrics")[1].decode()) for _ in range(4)]  # from either worker
    for scrape in scrapes:
        assert value(scrape, "lifeevents_http_requests_total", **route) - before == sent
        version = next(dict(k[1])["version"] for k in scrape if k[0] == "lifeevents_rules_version")
        assert value(scrape, "lifeevents_rules_version", version=version) == 2  # two workers on it
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [
        line for line in lines if line["logger"] == "lifeevents.access" and line["route"] == "/recommend"
    ]
    assert len(access) >= sent and len({a["pid"] for a in access}) == 2
    assert all(len(a["request_id"]) == 32 for a in access)
    assert SECRET_DATE not in log.read_text()
    assert not [line for line in log.read_text().splitlines() if line.strip() and not line.startswith("{")]


def test_the_documentation_pages_render_offline_in_a_browser(two_workers):
    """Every request that leaves 127.0.0.1 is aborted: the pages must draw every operation
    from what the server itself serves, and no script or style may break the policy."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = next(
        (
            c
            for c in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium"))
            if c and Path(c).exists()
        ),
        None,
    )
    if chromium is None:
        pytest.skip("no Chromium (CHROMIUM_PATH, /usr/bin/chromium)")
    base, _, _ = two_workers
    operations = sum(
        len(methods) for methods in json.loads(_call(f"{base}/openapi.json")[1])["paths"].values()
    )
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            left: list[str] = []
            problems: list[str] = []

            def local_only(route: Any) -> None:
                if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                    route.continue_()
                else:
                    left.append(route.request.url)
                    route.abort()

            page.route("**/*", local_only)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{base}/docs")
            blocks = page.locator(".opblock")
            playwright.expect(blocks).to_have_count(operations, timeout=30000)
            playwright.expect(
                page.locator(".opblock-summary-path").filter(has_text="/recommend")
            ).to_have_count(1)
            page.goto(f"{base}/redoc")
            # ReDoc draws one menu entry per operation, with its summary or path.
            playwright.expect(page.locator("li[data-item-id^='tag/']").first).to_be_visible(timeout=30000)
            playwright.expect(page.locator("[data-item-id*='recommend']").first).to_be_attached()
            assert page.locator("li[data-item-id*='operation/']").count() == operations
            assert not left, left
            # ReDoc's "API docs by Redocly" footer names a logo on cdn.redoc.ly, with no
            # option to leave it out; the page's policy blocks it before any request is made.
            problems = [m for m in problems if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in m]
            assert not problems, problems
        finally:
            browser.close()


def test_serve_options_reach_the_workers(tmp_path):
    """`--no-metrics --no-access-log`: no /metrics, no access lines (the bench's baseline)."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--port", str(port), "--no-metrics", "--no-access-log"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            try:
                if _call(f"http://127.0.0.1:{port}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        assert _call(f"http://127.0.0.1:{port}/metrics")[0] == 404
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and not [line for line in lines if line["logger"] == "lifeevents.access"]


def test_a_worker_file_still_empty_does_not_fail_the_scrape(tmp_path):
    """A worker creates its samples' file and sizes it after: a scrape in between, or
    after a worker killed then, met an empty file, and prometheus-client's collector
    failed the whole scrape (a 500; prometheus/client_python#1199). In a process of its
    own: prometheus-client picks its several-processes mode when it is imported."""
    script = (
        "from pathlib import Path\n"
        "from engine.interfaces.metrics import ServiceMetrics\n"
        "metrics = ServiceMetrics()\n"
        "metrics.observe_request('POST', '/recommend', 200, 0.004)\n"
        f"Path({str(tmp_path)!r}, 'counter_999999.db').touch()  # another worker's, not sized yet\n"
        f"Path({str(tmp_path)!r}, 'histogram_999998.db').touch()\n"
        "print(metrics.exposition()[0].decode())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    scrape = samples(done.stdout)
    assert (
        value(scrape, "lifeevents_http_requests_total", method="POST", route="/recommend", status="200") == 1
    )
