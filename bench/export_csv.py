"""Figures for the support pages, in-process against the demo upstream; prints, never asserts.

    .venv/bin/python bench/export_csv.py [--threads 8000] [--max-rows 5000] [--latency-ms 0]

Measures a streamed `scope=all` CSV export (time to first chunk, total, rows per second,
upstream calls) and the thread detail page (median of 50 loads, transcript of 100 items max).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from common import point_at, setup_django, staff_client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8000)
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()

    setup_django()
    from django.conf import settings

    from dashboard.demo_upstream.data import make_dataset
    from dashboard.demo_upstream.server import serve_in_thread

    server, base_url = serve_in_thread(
        dataset=make_dataset(args.threads), latency_ms=args.latency_ms
    )
    point_at(base_url, ttl=0)
    settings.CHATKIT = replace(settings.CHATKIT, csv_max_rows=args.max_rows)
    client = staff_client()

    server.stats.reset()
    started = time.perf_counter()
    response = client.get("/threads/export.csv", {"scope": "all"})
    chunks = iter(response.streaming_content)
    first = next(chunks)
    first_at = time.perf_counter() - started
    size = len(first) + sum(len(chunk) for chunk in chunks)
    total = time.perf_counter() - started
    rows = args.max_rows if args.threads >= args.max_rows else args.threads
    print(f"CSV export scope=all of {args.threads:,} threads, cap {args.max_rows:,}:")
    print(f"  first chunk {first_at * 1000:.0f} ms, total {total * 1000:.0f} ms, {size:,} bytes")
    print(f"  {rows / total:,.0f} rows/s, {server.stats.requests} upstream calls")

    thread = server.store.dataset.threads[0]
    times = []
    for _ in range(50):
        started = time.perf_counter()
        page = client.get(f"/threads/{thread.id}/", {"limit": "100"})
        times.append(time.perf_counter() - started)
        assert page.status_code == 200
    print(
        f"Thread page (limit=100): median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms over 50 loads"
    )
    server.close()


if __name__ == "__main__":
    main()
