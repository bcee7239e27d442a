"""Upstream calls per page view, with and without the shared cache, and under a burst.

    .venv/bin/python bench/upstream_calls.py [--views 20] [--burst 50] [--latency-ms 200]

Counts come from the in-process demo upstream's own request counter (`server.stats`):
sequential page views of the same list through Django's test client with CACHE_TTL 0 and
5 s, a status-filtered view followed by the plain list it overlaps, then `--burst`
concurrent identical page loads (threads calling the service every view uses). Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from common import point_at, setup_django, staff_client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()
    setup_django()
    from django.core.cache import cache

    from dashboard.demo_upstream.server import serve_in_thread
    from dashboard.threads.selectors import thread_page

    server, base_url = serve_in_thread(latency_ms=args.latency_ms)
    client = staff_client()

    def calls() -> int:
        return server.stats.requests

    def reset() -> None:
        cache.clear()
        server.stats.reset()

    print(f"upstream calls (demo upstream at {args.latency_ms} ms per call)")
    for ttl in (0.0, 5.0):
        point_at(base_url, ttl=ttl)
        reset()
        started = time.perf_counter()
        for _ in range(args.views):
            assert client.get("/threads/?limit=50").status_code == 200
        elapsed = (time.perf_counter() - started) / args.views * 1000
        print(f"  CACHE_TTL {ttl:g}s: {args.views} views of one list -> {calls()} calls "
              f"({calls() / args.views:.2f} per view, {elapsed:.0f} ms per view)")  # fmt: skip

        reset()
        client.get("/threads/?status=locked")
        scan_calls = calls()
        client.get("/threads/?limit=100")
        client.get("/threads/?status=locked")
        print(f"  CACHE_TTL {ttl:g}s: status view {scan_calls} calls; then the 100-row list "
              f"and the status view again -> {calls() - scan_calls} more")  # fmt: skip

        reset()
        barrier = threading.Barrier(args.burst)

        def one(_, barrier=barrier):
            barrier.wait()
            return thread_page(limit=20)

        started = time.perf_counter()
        with ThreadPoolExecutor(args.burst) as pool:
            list(pool.map(one, range(args.burst)))
        elapsed = (time.perf_counter() - started) * 1000
        print(f"  CACHE_TTL {ttl:g}s: {args.burst} concurrent identical requests -> {calls()} "
              f"calls, all answered in {elapsed:.0f} ms")  # fmt: skip
    server.close()


if __name__ == "__main__":
    main()
