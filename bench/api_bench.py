"""Benchmark of the HTTP API (issue 7). Prints figures; asserts nothing.

Starts ``lifeevents serve`` as a subprocess on 127.0.0.1 (loopback only), waits for
``/health``, then:

1. latency of ``POST /recommend`` for one profile on one worker, from this (second)
   process over one kept-alive connection: median and p99 of N requests
   (targets < 10 ms median, < 50 ms p99);
2. throughput on 1 and on 2 workers, with wrk (a Lua script sends the POST body) when it
   is installed, else with a multi-process Python load generator; the output says which;
3. the cost of the metrics and the JSON access log (issue 15, target <= 5% of
   throughput): three servers side by side, with both off (``--no-metrics
   --no-access-log``), the log only, and both on (the default), measured in interleaved
   rounds (the order rotates each round) so that other work on the machine falls on all
   three alike; per round the throughput and the median latency of sequential requests,
   and the overhead from the medians over the rounds.

Every run is bounded: N requests, a fixed duration per throughput run, and timeouts on
start and stop.

    python bench/api_bench.py [--requests 2000] [--duration 10] [--rules DIR] [--quick]
    python bench/api_bench.py --overhead-only [--rounds 5] [--overhead-workers 1]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only, by design


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))
    return ordered[k]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextmanager
def server(workers: int, rules: str | None, log: Path, options: tuple[str, ...] = ()) -> Iterator[int]:
    """A `lifeevents serve` subprocess on a free loopback port, stopped on exit."""
    port = free_port()
    args = [sys.executable, "-m", "engine"]
    if rules:
        args += ["--rules", rules]
    args += ["serve", "--host", HOST, "--port", str(port), "--workers", str(workers), *options]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        # The access log goes to a file: a pipe nobody reads would fill and stall the server.
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_health(port, workers, proc, log)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_health(port: int, workers: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until /health answers from every worker (each new connection may reach either)."""
    seen: set[int] = set()
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/health")
            seen.add(json.loads(conn.getresponse().read())["worker"])
            conn.close()
            if len(seen) >= workers:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no answer from {workers} worker(s) on port {port} within {timeout:.0f} s")


def latency(port: int, body: bytes, n: int, warmup: int) -> list[float]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {"Content-Type": "application/json"}
    out = []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        conn.request("POST", "/recommend", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        t1 = time.perf_counter()
        if response.status != 200:
            raise SystemExit(f"POST /recommend answered {response.status}: {payload[:300]!r}")
        if i >= warmup:
            out.append(t1 - t0)
    conn.close()
    return out


# --- throughput -------------------------------------------------------------------------------


def wrk_throughput(port: int, body_file: Path, duration: int, connections: int) -> str:
    script = body_file.with_suffix(".lua")
    # The body is read from a file, so no JSON quoting can break the Lua source.
    script.write_text(
        f'local f = assert(io.open("{body_file}", "rb"))\n'
        "wrk.body = f:read('*a')\n"
        "f:close()\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://{HOST}:{port}/recommend",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stderr}")
    text = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    summary = f"{float(rps.group(1)):,.0f} req/s" if rps else "?"
    summary += (
        f" (latency under load: median {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'})"
    )
    if non2xx:
        summary += f"; {non2xx.group(1)} non-2xx answers"
    if errors:
        summary += f"; socket errors: {errors.group(1)}"
    return summary


def _load_worker(port: int, body: bytes, stop_at: float, counts: multiprocessing.Queue) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {"Content-Type": "application/json"}
    n = bad = 0
    while time.monotonic() < stop_at:
        conn.request("POST", "/recommend", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        n += 1
        bad += response.status != 200
    conn.close()
    counts.put((n, bad))


def python_throughput(port: int, body: bytes, duration: int, connections: int) -> str:
    """One process per connection, each on a kept-alive connection for `duration` s."""
    counts: multiprocessing.Queue = multiprocessing.Queue()
    start = time.monotonic()
    stop_at = start + duration
    procs = [
        multiprocessing.Process(target=_load_worker, args=(port, body, stop_at, counts))
        for _ in range(connections)
    ]
    for p in procs:
        p.start()
    results = [counts.get(timeout=duration + 60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    elapsed = time.monotonic() - start
    total = sum(n for n, _ in results)
    bad = sum(b for _, b in results)
    return f"{total / elapsed:,.0f} req/s{f'; {bad} non-200 answers' if bad else ''}"


# --- the cost of the metrics and the access log -------------------------------------------------

MODES = {
    "off": ("--no-metrics", "--no-access-log"),
    "log only": ("--no-metrics",),
    "metrics + log": (),
}


def _rps(summary: str) -> float:
    found = re.match(r"([\d,]+) req/s", summary)
    return float(found.group(1).replace(",", "")) if found else float("nan")


def pieces_in_process(body: bytes, tmp: Path, rules: str | None, n: int = 5000) -> None:
    """The two pieces' own cost per request, in this process, beside the engine's answer to
    the same profile: a figure that the machine's load inflates on both sides alike."""
    import logging
    import timeit

    from engine import Engine, load_catalogue, validate_profile
    from engine.interfaces.logs import ACCESS_LOGGER, JsonFormatter
    from engine.interfaces.metrics import ServiceMetrics

    metrics = ServiceMetrics()
    observe = timeit.timeit(lambda: metrics.observe_request("POST", "/recommend", 200, 0.005), number=n) / n
    with (tmp / "access.log").open("w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(JsonFormatter())
        access = logging.getLogger(ACCESS_LOGGER)
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
        fields = {
            "method": "POST",
            "route": "/recommend",
            "path": "/recommend",
            "status": 200,
            "duration_ms": 5.0,
        }
        line = (
            timeit.timeit(lambda: access.info("%s %s %s", "POST", "/recommend", 200, extra=fields), number=n)
            / n
        )
        access.removeHandler(handler)
    engine = Engine(load_catalogue(rules or ROOT))
    profile = validate_profile(json.loads(body))
    answer = statistics.median(timeit.repeat(lambda: engine.recommend(profile), number=1, repeat=200))
    print(
        f"in process: metrics {observe * 1e6:.1f} µs and the JSON access line {line * 1e6:.1f} µs per request, "
        f"against {answer * 1000:.2f} ms for the engine's answer: "
        f"{(observe + line) / answer * 100:.2f}% of a request's time"
    )


def overhead(args: argparse.Namespace, body: bytes, body_file: Path, tmp: Path, use_wrk: bool) -> None:
    pieces_in_process(body, tmp, args.rules)
    duration = 3 if args.quick else args.duration
    rounds = 2 if args.quick else args.rounds
    n = 200 if args.quick else max(100, args.requests // 4)
    load = wrk_throughput if use_wrk else python_throughput
    source = body_file if use_wrk else body
    throughput: dict[str, list[float]] = {m: [] for m in MODES}
    medians: dict[str, list[float]] = {m: [] for m in MODES}
    with contextlib.ExitStack() as stack:
        ports = {
            mode: stack.enter_context(
                server(args.overhead_workers, args.rules, tmp / f"server-{i}.log", options)
            )
            for i, (mode, options) in enumerate(MODES.items())
        }
        for port in ports.values():  # warm every server up before the first measured round
            latency(port, body, 50, warmup=50)
        order = list(MODES)
        for r in range(rounds):
            turn = order[r % len(order) :] + order[: r % len(order)]
            for mode in turn:
                got = load(ports[mode], source, duration, args.connections)  # type: ignore[arg-type]
                throughput[mode].append(_rps(got))
                medians[mode].append(statistics.median(latency(ports[mode], body, n, warmup=20)) * 1000)
            print(
                f"  round {r + 1}: "
                + "; ".join(f"{m} {throughput[m][-1]:,.0f} req/s, {medians[m][-1]:.2f} ms" for m in MODES)
            )
    base_rps = statistics.median(throughput["off"])
    base_ms = statistics.median(medians["off"])
    for mode in MODES:
        rps, ms = statistics.median(throughput[mode]), statistics.median(medians[mode])
        print(
            f"{mode:>14}: median {rps:,.0f} req/s over {rounds} rounds "
            f"({(1 - rps / base_rps) * 100:+.1f}% throughput lost against off), "
            f"median latency {ms:.2f} ms ({(ms / base_ms - 1) * 100:+.1f}%)"
        )
    print("target: metrics + log cost <= 5% of throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="latency requests (default 2000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per throughput run (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections under load")
    parser.add_argument("--rules", help="catalogue root (default: this repository)")
    parser.add_argument("--profile", default=str(ROOT / "examples" / "newborn.json"))
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter runs (CI)")
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python load generator even if wrk is here"
    )
    parser.add_argument(
        "--overhead-only", action="store_true", help="only the cost of the metrics and the access log"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the overhead runs")
    parser.add_argument("--overhead-workers", type=int, default=1, help="workers of each overhead server")
    args = parser.parse_args()
    n = 300 if args.quick else args.requests
    duration = 3 if args.quick else args.duration
    body = json.dumps(json.loads(Path(args.profile).read_text(encoding="utf-8"))).encode()
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="lifeevents-api-bench-") as scratch:
        tmp = Path(scratch)
        body_file = tmp / "profile.json"
        body_file.write_bytes(body)
        use_wrk = shutil.which("wrk") is not None and not args.python_load
        if args.overhead_only:
            tool = "wrk" if use_wrk else "the Python load generator"
            print(
                f"metrics and access log overhead: {args.overhead_workers} worker(s) per server, "
                f"{tool} with {args.connections} connections for {3 if args.quick else args.duration} s "
                "per run, then sequential requests for the median latency"
            )
            overhead(args, body, body_file, tmp, use_wrk)
            print(
                f"machine: {os.cpu_count()} CPUs, shared by the servers and the load tool; load average "
                f"{load_before:.1f} -> {os.getloadavg()[0]:.1f} (above ~2 means other work competed)"
            )
            return

        # The engine alone, in this process, for the HTTP overhead in comparison.
        sys.path.insert(0, str(ROOT))
        from engine import Engine, load_catalogue, validate_profile

        engine = Engine(load_catalogue(args.rules or ROOT))
        profile = validate_profile(json.loads(body))
        in_process = []
        for _ in range(n):
            t0 = time.perf_counter()
            engine.recommend(profile)
            in_process.append(time.perf_counter() - t0)
        services = len(engine.catalogue.services)
        print(f"profile: {Path(args.profile).name} ({len(body)} bytes); catalogue: {services} services")
        print(
            f"engine in process: median {statistics.median(in_process) * 1000:.2f} ms, "
            f"p99 {percentile(in_process, 99) * 1000:.2f} ms over {n} calls"
        )

        with server(1, args.rules, tmp / "server-1.log") as port:
            times = latency(port, body, n, warmup=min(100, n // 5))
            print(
                f"POST /recommend, 1 worker, one kept-alive connection from a second process, {n} requests: "
                f"median {statistics.median(times) * 1000:.2f} ms, p90 {percentile(times, 90) * 1000:.2f} ms, "
                f"p99 {percentile(times, 99) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms "
                "(targets < 10 ms median, < 50 ms p99)"
            )
            tool = (
                f"wrk ({args.connections} connections, 2 threads, {duration} s)"
                if use_wrk
                else f"Python load generator ({args.connections} processes with a kept-alive connection each, {duration} s)"
            )
            load = wrk_throughput if use_wrk else python_throughput
            source = body_file if use_wrk else body
            print(
                f"throughput, 1 worker, {tool}: {load(port, source, duration, args.connections)}"  # type: ignore[arg-type]
                " (issue 14's targets with 8 connections: >= 500 requests/s, p99 <= 20 ms)"
            )
        with server(2, args.rules, tmp / "server-2.log") as port:
            print(f"throughput, 2 workers, {tool}: {load(port, source, duration, args.connections)}")  # type: ignore[arg-type]
        print("the cost of the metrics and the access log, interleaved:")
        overhead(args, body, body_file, tmp, use_wrk)
        print(
            f"machine: {os.cpu_count()} CPUs, shared by the server and the load tool; "
            f"load average over the run {load_before:.1f} -> {os.getloadavg()[0]:.1f} "
            "(anything above what the benchmark itself adds means other work competed for the CPUs)"
        )


if __name__ == "__main__":
    main()
