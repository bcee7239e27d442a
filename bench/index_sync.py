"""What the thread index's syncs cost: calls, wall time against the upstream's latency, memory.

    .venv/bin/python bench/index_sync.py [--threads 10000,100000] [--latency-ms 100] [--repeat 3]
                                         [--wal]

For each N: a demo upstream (in process, real HTTP, every answer delayed by --latency-ms)
holding N threads, the app's database in a fresh SQLite file (the default deployment), and
the default IndexConfig (so the call-rate limit applies) except that nothing else falls due
during a sweep (a long sweep would otherwise run incremental passes between its pages, whose
calls are theirs, not the sweep's). Figures:

- the first full sweep (every row new) and, --repeat times interleaved with an incremental
  pass that finds nothing new, a full sweep over an unchanged index (the daily case):
  upstream calls, counted by the demo server, against ceil(N/100)+1; wall time against
  calls x latency (the honest floor: a sweep cannot beat its calls);
- the peak of Python memory allocated during one unchanged sweep (tracemalloc, in a run of
  its own since tracing slows everything), to compare across N.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from common import point_at


def setup_django_on_file(path: Path, *, wal: bool, database_url: str) -> None:
    import django

    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{path}"
    os.environ.setdefault("HUEY_SQLITE_PATH", str(path.with_suffix(".huey")))
    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    if wal and connection.vendor == "sqlite":  # a property of the file: later connections too
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")


def sweep(server) -> tuple[int, float]:
    """One full sweep with nothing else due; (upstream calls, seconds)."""
    from django.utils import timezone

    from dashboard.thread_index.models import SyncKind, SyncState, SyncTrigger
    from dashboard.thread_index.sources import current_source
    from dashboard.thread_index.sync import run_sync

    for kind in ("incremental", "recent"):
        SyncState.objects.update_or_create(
            source=current_source(), kind=kind, defaults={"last_started_at": timezone.now()}
        )
    server.stats.reset()
    started = time.perf_counter()
    run_sync(kind=SyncKind.FULL, trigger=SyncTrigger.COMMAND)
    return server.stats.requests, time.perf_counter() - started


def empty_index() -> None:
    from dashboard.thread_index.models import IndexedThread, StatusCount, SyncState, UserCount

    for model in (IndexedThread, StatusCount, UserCount, SyncState):
        model.objects.all().delete()


def incremental_calls(server) -> int:
    from dashboard.thread_index.models import SyncKind, SyncTrigger
    from dashboard.thread_index.sync import run_sync

    server.stats.reset()
    run_sync(kind=SyncKind.INCREMENTAL, trigger=SyncTrigger.COMMAND)
    return server.stats.requests


def measure(size: int, *, latency_ms: int, repeat: int) -> float:
    """Print the figures for N = size; return the peak traced memory in bytes."""
    from dashboard.demo_upstream.data import make_dataset
    from dashboard.demo_upstream.server import serve_in_thread

    server, base_url = serve_in_thread(dataset=make_dataset(size), latency_ms=latency_ms)
    point_at(base_url, ttl=0)
    bound = math.ceil(size / 100) + 1
    floor = latency_ms / 1000

    def line(label: str, calls: int, seconds: float) -> None:
        print(
            f"  N={size:>7,}  {label:<26} {calls:>5} calls (bound {bound}), {seconds:7.2f} s"
            f" = {seconds / (calls * floor):.2f} x calls*latency ({calls * floor:.1f} s)"
        )

    try:
        empty_index()
        calls, seconds = sweep(server)
        line("first sweep (all new)", calls, seconds)
        times, ratios, nothing_new = [], [], []
        for _ in range(repeat):
            calls, seconds = sweep(server)
            times.append(seconds)
            ratios.append(seconds / (calls * floor))
            nothing_new.append(incremental_calls(server))
        line("unchanged sweep, median", calls, statistics.median(times))
        print(
            f"  N={size:>7,}  unchanged sweep ratio over {repeat}: median "
            f"{statistics.median(ratios):.2f}, min {min(ratios):.2f}, max {max(ratios):.2f}; "
            f"incremental pass with nothing new: {sorted(set(nothing_new))} calls"
        )
        tracemalloc.start()
        sweep(server)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"  N={size:>7,}  peak Python memory during an unchanged sweep: {peak / 2**20:.2f} MiB"
        )
        return peak
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="10000,100000")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--wal", action="store_true", help="SQLite in WAL mode rather than its default journal"
    )
    parser.add_argument(
        "--database-url", default="", help="another app database, e.g. postgres://… (emptied!)"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.threads.split(",")]
    setup_django_on_file(
        Path(tempfile.mkdtemp(prefix="bench-index-")) / "app.sqlite3",
        wal=args.wal,
        database_url=args.database_url,
    )
    from django.conf import settings
    from django.db import connection

    # The sweep alone: no incremental pass or recent window falls due between its pages.
    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, sync_seconds=1e9, recent_seconds=1e9)
    config = settings.THREAD_INDEX
    print(
        f"thread index syncs (demo upstream at {args.latency_ms} ms per call; app database in "
        f"{describe_database(connection, args.wal)}; "
        f"at most {config.max_calls_per_second:g} calls/s)"
    )
    peaks = {size: measure(size, latency_ms=args.latency_ms, repeat=args.repeat) for size in sizes}
    if len(peaks) > 1:
        low, high = min(peaks), max(peaks)
        print(
            f"  peak memory at N={high:,} is {peaks[high] / peaks[low]:.2f} x that at N={low:,} "
            f"(with {high / low:g} x the threads)"
        )


def describe_database(connection, wal: bool) -> str:
    if connection.vendor == "sqlite":
        return f"a SQLite file, {'WAL' if wal else 'rollback journal'}"
    return f"{connection.vendor} {connection.settings_dict.get('HOST') or 'local'}"


if __name__ == "__main__":
    main()
