"""Benchmark of the HTTP API (issue 7). Prints figures; asserts nothing.

Starts ``lifeevents serve`` as a subprocess on 127.0.0.1 (loopback only), waits for
``/health``, then:

1. latency of ``POST /recommend`` for one profile on one worker, from this (second)
   process over one kept-alive connection: median and p99 of N requests
   (targets < 10 ms median, < 50 ms p99);
2. throughput on 1 and on 2 workers, with wrk (a Lua script sends the POST body) when it
   is installed, else with a multi-process Python load generator; the output says which.

Every run is bounded: N requests, a fixed duration per throughput run, and timeouts on
start and stop.

    python bench/api_bench.py [--requests 2000] [--duration 10] [--rules DIR] [--quick]
"""

from __future__ import annotations

import argparse
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
def server(workers: int, rules: str | None, log: Path) -> Iterator[int]:
    """A `lifeevents serve` subprocess on a free loopback port, stopped on exit."""
    port = free_port()
    args = [sys.executable, "-m", "engine"]
    if rules:
        args += ["--rules", rules]
    args += ["serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
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
    args = parser.parse_args()
    n = 300 if args.quick else args.requests
    duration = 3 if args.quick else args.duration
    body = json.dumps(json.loads(Path(args.profile).read_text(encoding="utf-8"))).encode()
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="lifeevents-api-bench-") as scratch:
        tmp = Path(scratch)
        body_file = tmp / "profile.json"
        body_file.write_bytes(body)

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
            use_wrk = shutil.which("wrk") is not None and not args.python_load
            tool = (
                f"wrk ({args.connections} connections, 2 threads, {duration} s)"
                if use_wrk
                else f"Python load generator ({args.connections} processes with a kept-alive connection each, {duration} s)"
            )
            load = wrk_throughput if use_wrk else python_throughput
            source = body_file if use_wrk else body
            print(f"throughput, 1 worker, {tool}: {load(port, source, duration, args.connections)}")  # type: ignore[arg-type]
        with server(2, args.rules, tmp / "server-2.log") as port:
            print(f"throughput, 2 workers, {tool}: {load(port, source, duration, args.connections)}")  # type: ignore[arg-type]
        print(
            f"machine: {os.cpu_count()} CPUs, shared by the server and the load tool; "
            f"load average over the run {load_before:.1f} -> {os.getloadavg()[0]:.1f} "
            "(anything above what the benchmark itself adds means other work competed for the CPUs)"
        )


if __name__ == "__main__":
    main()
