"""A thread page's wait on the upstream: the thread and its first items, at once or in turn.

    .venv/bin/python bench/transcript.py [--views 15] [--latency-ms 250]

Against the in-process demo upstream with a fixed latency per call, it times the use case
every thread page calls (`thread_with_items`: both calls at once) and, interleaved with it,
the same two reads one after the other (what the page did before). Prints the median and
the spread of each; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import point_at, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, default=15)
    parser.add_argument("--latency-ms", type=int, default=250)
    args = parser.parse_args()
    setup_django()
    from dashboard.demo_upstream.server import serve_in_thread
    from dashboard.threads.selectors import (
        thread_get,
        thread_items_page,
        thread_page,
        thread_with_items,
    )

    server, base_url = serve_in_thread(latency_ms=args.latency_ms)
    point_at(base_url, ttl=0)
    thread_id = thread_page(limit=1).threads[0].id

    def concurrent() -> None:
        thread_with_items(thread_id=thread_id)

    def in_turn() -> None:
        thread_get(thread_id=thread_id)
        thread_items_page(thread_id=thread_id)

    timings: dict[str, list[float]] = {"at once": [], "in turn": []}
    for _ in range(args.views):
        for name, run in (("at once", concurrent), ("in turn", in_turn)):
            started = time.perf_counter()
            run()
            timings[name].append((time.perf_counter() - started) * 1000)
    print(
        f"thread + first items, demo upstream at {args.latency_ms} ms per call, "
        f"{args.views} runs each"
    )
    for name, values in timings.items():
        values.sort()
        print(
            f"  {name:8}: median {statistics.median(values):.0f} ms "
            f"(min {values[0]:.0f}, max {values[-1]:.0f})"
        )
    server.close()


if __name__ == "__main__":
    main()
