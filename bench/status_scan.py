"""The status scan's cost: the 20 newest locked threads among 10,000.

    .venv/bin/python bench/status_scan.py [--threads 10000] [--latency-ms 0 200]
        [--repeats 3] [--step-latency-ms 900]

Runs `thread_status_scan(status=locked, limit=20)` against the demo upstream with that
many threads: cold (empty cache), warm (cached pages, within CACHE_TTL) and with
STATUS_SCAN_PAGES raised to 100 for a page of 100 closed threads. Then, at the issue's
900 ms per upstream page, the time until the page shows something for 100 locked threads:
the whole scan (what a page waited for before steps) against its first answer with
CHATKIT_STATUS_SCAN_STEP (0.5 s), interleaved, cold cache each time. Prints upstream
calls and wall time; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from common import point_at, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step-latency-ms", type=int, default=900)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.core.cache import cache

    from dashboard.chatkit.types import StatusKind
    from dashboard.demo_upstream.data import make_dataset
    from dashboard.demo_upstream.server import serve_in_thread
    from dashboard.threads.selectors import thread_status_scan
    from dashboard.web.query import ThreadQuery

    dataset = make_dataset(args.threads)
    share = {
        kind: sum(1 for t in dataset.threads if t.status["type"] == kind) / len(dataset)
        for kind in ("active", "locked", "closed")
    }  # fmt: skip
    print(f"status scan over {len(dataset):,} demo threads "
          f"(locked {share['locked']:.1%}, closed {share['closed']:.1%})")  # fmt: skip
    for latency in args.latency_ms:
        server, base_url = serve_in_thread(latency_ms=latency, dataset=dataset)
        point_at(base_url, ttl=5.0)
        cache.clear()
        for label in ("cold", "warm"):
            server.stats.reset()
            started = time.perf_counter()
            scan = thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED, limit=20))
            ms = (time.perf_counter() - started) * 1000
            print(f"  {latency:>3} ms upstream, {label}: {len(scan.threads)} locked found, "
                  f"{scan.scanned:,} scanned, {server.stats.requests} upstream "
                  f"calls, {ms:.0f} ms")  # fmt: skip
        settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=100)
        cache.clear()
        server.stats.reset()
        started = time.perf_counter()
        scan = thread_status_scan(query=ThreadQuery(status=StatusKind.CLOSED, limit=100))
        ms = (time.perf_counter() - started) * 1000
        print(f"  {latency:>3} ms upstream, 100 closed (up to 100 pages): {len(scan.threads)} "
              f"found, {scan.scanned:,} scanned, {server.stats.requests} "
              f"calls, {ms:.0f} ms")  # fmt: skip
        settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=10)
        server.close()
    first_answer(dataset, repeats=args.repeats, latency_ms=args.step_latency_ms)


def first_answer(dataset, *, repeats: int, latency_ms: int) -> None:
    from django.conf import settings
    from django.core.cache import cache

    from dashboard.chatkit.types import StatusKind
    from dashboard.demo_upstream.server import serve_in_thread
    from dashboard.threads.selectors import thread_status_scan
    from dashboard.web.query import ThreadQuery

    server, base_url = serve_in_thread(latency_ms=latency_ms, dataset=dataset)
    point_at(base_url, ttl=5.0)
    step = settings.CHATKIT.status_scan_step
    query = ThreadQuery(status=StatusKind.LOCKED, limit=100)
    timings: dict[str, list[float]] = {"whole scan": [], f"first answer ({step} s step)": []}
    pages: dict[str, int] = {}
    try:
        for _ in range(repeats):
            for label, pause_after in zip(timings, (None, step), strict=True):
                cache.clear()
                started = time.perf_counter()
                scan = thread_status_scan(query=query, pause_after=pause_after)
                timings[label].append(time.perf_counter() - started)
                pages[label] = scan.upstream_pages
    finally:
        server.close()
    print(f"  {latency_ms} ms upstream, 100 locked: until the page shows something "
          f"(median of {repeats}, min-max)")  # fmt: skip
    for label, seconds in timings.items():
        spread = f"{min(seconds):.2f}-{max(seconds):.2f}"
        print(f"    {label:<26} {statistics.median(seconds):5.2f} s ({spread}), "
              f"{pages[label]} of 10 pages read")  # fmt: skip


if __name__ == "__main__":
    main()
