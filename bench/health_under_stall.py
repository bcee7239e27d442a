"""/healthz latency while every upstream call stalls, against gunicorn as `make run` starts it.

    .venv/bin/python bench/health_under_stall.py [--rounds 3] [--seconds 15] [--clients 48]

Starts the demo upstream with every API call stalled (a latency fault far longer than the
client's CHATKIT_TIME_BUDGET) and two gunicorn servers exactly as `make run` does
(gunicorn.conf.py: 2 workers x 16 threads, hashed static files, scratch SQLite): one with the
default upstream cap (CHATKIT_CONCURRENCY_LIMIT = threads - 2) and, as the baseline, one
with the cap off (0). Rounds alternate between them. In each round `--clients` signed-in
clients (more than both servers' threads together) keep asking for thread lists: each waits
on the stalled upstream until the budget runs out, or, refused with a 503 "busy" page, asks
again a second later. Meanwhile one prober asks for /healthz on a fresh connection every
0.1 s, as a load balancer would. Prints, per server: probe latency percentiles per round,
their median and spread, and the status of every probe and page. Target with the cap:
p99 < 1 s and no 500 (the 503 and 504 pages are intended).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.request import Request, urlopen

import requests
from common import DEMO_KEY, ROOT, free_port, wait_for
from load import log_in, percentile

PYTHON = sys.executable
STALL_MS = 600_000  # the demo upstream's maximum: every call outlasts the client's budget
PROBE_EVERY = 0.1
# A refused client asks again after this long, as a person pressing reload would (not at
# once, which would only measure how fast the server can refuse).
RELOAD_AFTER_BUSY = 1.0


def start_gunicorn(env: dict[str, str], cap: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "CHATKIT_CONCURRENCY_LIMIT": cap}
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
        cwd=ROOT, env=server_env, start_new_session=True,
        # Every refused or timed-out page is logged; the figures are what this prints.
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def stall(control: str, on: bool) -> None:
    body = json.dumps({"mode": "latency", "ms": STALL_MS, "count": None}).encode()
    request = Request(
        control + "/faults",
        data=body if on else None,
        method="POST" if on else "DELETE",
        headers={"Content-Type": "application/json"},
    )
    with urlopen(request, timeout=10):
        pass


def one_round(base: str, cookies: dict, args) -> tuple[list[float], Counter, Counter]:
    """(probe latencies in s, probe statuses, page statuses) for one stalled round."""
    stop = threading.Event()
    pages: Counter = Counter()
    lock = threading.Lock()

    def client(n: int) -> None:
        session = requests.Session()
        session.cookies.update(cookies)
        while not stop.is_set():
            n += args.clients
            try:
                status = session.get(f"{base}/threads/?limit={n % 100 + 1}", timeout=30).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            with lock:
                pages[status] += 1
            if status == 503:
                stop.wait(RELOAD_AFTER_BUSY)

    clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for thread in clients:
        thread.start()
    time.sleep(1)  # let the clients take every thread they can
    latencies, probes = [], Counter()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            probes[requests.get(f"{base}/healthz", timeout=30).status_code] += 1
        except requests.RequestException as error:
            probes[type(error).__name__] += 1
        latencies.append(time.perf_counter() - started)
        time.sleep(max(0.0, PROBE_EVERY - (time.perf_counter() - started)))
    stop.set()
    for thread in clients:
        thread.join(timeout=40)
    return latencies, probes, pages


def report(name: str, rounds: list[tuple[list[float], Counter, Counter]]) -> None:
    print(f"\n--- {name}", flush=True)
    p99s = []
    probes_total, pages_total = Counter(), Counter()
    for n, (latencies, probes, pages) in enumerate(rounds, 1):
        ordered = sorted(latencies)
        p50, p95, p99 = (percentile(ordered, f) * 1000 for f in (0.50, 0.95, 0.99))
        p99s.append(p99)
        print(
            f"round {n}: {len(ordered)} probes  p50 {p50:,.0f} ms  p95 {p95:,.0f} ms  "
            f"p99 {p99:,.0f} ms  max {ordered[-1] * 1000:,.0f} ms"
        )
        probes_total.update(probes)
        pages_total.update(pages)
    print(f"healthz p99: median {statistics.median(p99s):,.0f} ms, "
          f"spread {min(p99s):,.0f}-{max(p99s):,.0f} ms over {len(p99s)} rounds")  # fmt: skip
    print(f"healthz answers: {dict(sorted(probes_total.items(), key=str))}")
    print(f"page answers:    {dict(sorted(pages_total.items(), key=str))}")
    print(f"500s:            {probes_total[500] + pages_total[500]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15, help="probing time per round")
    parser.add_argument(
        "--clients", type=int, default=48, help="signed-in page clients (more than all threads)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        upstream_port = free_port()
        control = f"http://127.0.0.1:{upstream_port}/__control"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch}/stall.sqlite3",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
            "OPENAI_API_KEY": DEMO_KEY,
            "DJANGO_MANIFEST_STATIC": "1",
            "LOG_LEVEL": "ERROR",
            "GUNICORN_ACCESS_LOG": "",
            "GUNICORN_LOG_LEVEL": "warning",
            "GUNICORN_WORKERS": os.environ.get("GUNICORN_WORKERS", "2"),
            "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "16"),
        }
        for command in (
            ["migrate", "--noinput", "-v", "0"],
            ["collectstatic", "--noinput", "-v", "0"],
            ["create_demo_staff"],
        ):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        processes = [
            subprocess.Popen(
                [PYTHON, "manage.py", "run_demo_upstream", "--port", str(upstream_port),
                 "--enable-control", "--api-key", DEMO_KEY],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True,
            )
        ]  # fmt: skip
        threads = int(env["GUNICORN_THREADS"])
        servers = {
            f"cap {max(1, threads - 2)} of {threads} threads (default)": "",
            "baseline: no cap (CHATKIT_CONCURRENCY_LIMIT=0)": "0",
        }
        try:
            bases = {}
            for name, cap in servers.items():
                process, base = start_gunicorn(env, cap)
                processes.append(process)
                bases[name] = base
            for base in bases.values():
                wait_for(f"{base}/healthz")
            wait_for(f"{control}/stats")
            cookies = {
                name: log_in(base, "demo", "demo-password", 30).cookies.get_dict()
                for name, base in bases.items()
            }
            shape = f"{env['GUNICORN_WORKERS']} workers x {threads} threads"
            print(
                f"gunicorn {shape}; every upstream call stalled; {args.clients} page clients; "
                f"/healthz every {PROBE_EVERY:g} s for {args.seconds:g} s per round",
                flush=True,
            )
            results: dict[str, list] = {name: [] for name in servers}
            stall(control, on=True)
            for _ in range(args.rounds):
                for name, base in bases.items():  # interleaved: neither gets the quieter machine
                    results[name].append(one_round(base, cookies[name], args))
            for name, rounds in results.items():
                report(name, rounds)
        finally:
            stall(control, on=False)
            for process in processes:
                stop(process)


def stop(process: subprocess.Popen) -> None:
    """Quick shutdown, then SIGKILL for its whole process group: gunicorn's graceful stop
    would wait for every worker thread still waiting on the stalled upstream."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


if __name__ == "__main__":
    main()
