"""A bounded load against a running dashboard: logs in, fires requests, prints figures.

    python bench/load.py --url http://127.0.0.1:8010 --requests 2000 --concurrency 20 \
        --duration-cap 120 --username demo --password demo-password

Each client thread has its own keep-alive connection and the logged-in session cookie.
Prints counts by status class, dropped requests (connection errors and timeouts),
requests never sent because the duration cap ran out, and latency percentiles. Exits 1
if any request got a 5xx or was dropped, so `make load` fails loudly.
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

DEFAULT_PATHS = [
    "/threads/",
    "/threads/?user=user_0004",
    "/threads/?status=locked",
    "/threads/?order=asc&limit=50",
    "/users/user_0010/",
]


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int | None, seconds: float, error: str | None = None) -> None:
        with self.lock:
            if status is None:
                self.dropped[error or "error"] += 1
            else:
                self.statuses[status] += 1
                self.latencies.append(seconds)


def log_in(base_url: str, username: str, password: str, timeout: float) -> requests.Session:
    session = requests.Session()
    login_url = f"{base_url}/accounts/login/"
    page = session.get(login_url, timeout=timeout)
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not match:
        raise SystemExit("No CSRF token on the login page.")
    response = session.post(
        login_url,
        data={"username": username, "password": password, "csrfmiddlewaretoken": match[1]},
        headers={"Referer": login_url},
        allow_redirects=False,
        timeout=timeout,
    )
    if response.status_code != 302:
        raise SystemExit(f"Log-in failed (HTTP {response.status_code}); check the credentials.")
    return session


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run(args: argparse.Namespace) -> int:
    base_url = args.url.rstrip("/")
    logged_in = log_in(base_url, args.username, args.password, args.timeout)
    paths = args.path or DEFAULT_PATHS
    tickets = itertools.count()
    results = Results()
    deadline = time.monotonic() + args.duration_cap

    def client() -> None:
        session = requests.Session()
        session.cookies.update(logged_in.cookies)
        while True:
            n = next(tickets)
            if n >= args.requests or time.monotonic() >= deadline:
                return
            url = base_url + paths[n % len(paths)]
            started = time.perf_counter()
            try:
                response = session.get(url, timeout=args.timeout, allow_redirects=False)
                response.content  # noqa: B018  (read the whole body)
            except requests.RequestException as exc:
                results.record(None, time.perf_counter() - started, type(exc).__name__)
                continue
            results.record(response.status_code, time.perf_counter() - started)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    done = sum(results.statuses.values())
    dropped = sum(results.dropped.values())
    errors_5xx = sum(count for status, count in results.statuses.items() if status >= 500)
    redirects = sum(count for status, count in results.statuses.items() if 300 <= status < 400)
    unsent = args.requests - done - dropped
    latencies = sorted(results.latencies)
    ms = [1000 * percentile(latencies, p) for p in (0.5, 0.95, 0.99)]
    sent = done + dropped
    nan = float("nan")
    slowest = 1000 * latencies[-1] if latencies else nan
    mean = 1000 * statistics.fmean(latencies) if latencies else nan
    print(f"target:      {base_url} ({len(paths)} paths, {args.concurrency} concurrent clients)")
    print(f"requests:    {sent:,} sent of {args.requests:,} in {elapsed:.1f} s")
    print(f"throughput:  {sent / elapsed:.0f} req/s; unsent (duration cap): {unsent:,}")
    print(f"statuses:    {dict(sorted(results.statuses.items()))}")
    print(f"5xx:         {errors_5xx}")
    print(f"dropped:     {dropped} {dict(results.dropped) if dropped else ''}".rstrip())
    print(f"redirects:   {redirects} (a redirect here means the session was lost)")
    print(
        f"latency ms:  p50 {ms[0]:.1f}  p95 {ms[1]:.1f}  p99 {ms[2]:.1f}  "
        f"max {slowest:.1f}  mean {mean:.1f}"
    )
    return 1 if errors_5xx or dropped or redirects else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="The dashboard's base URL.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration-cap", type=float, default=120, help="Seconds; then stop.")
    parser.add_argument("--timeout", type=float, default=30, help="Per-request timeout (s).")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument(
        "--path", action="append", help="A path to request (repeatable); default: a mix."
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.duration_cap <= 0:
        parser.error("--requests, --concurrency and --duration-cap must be positive.")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
