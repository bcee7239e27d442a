"""What the pages that read the thread index cost, beside the SQL they run and the live scan.

    .venv/bin/python bench/index_pages.py [--threads 100000] [--users 5000] [--repeat 21]
        [--database-url postgres://dashboard:dashboard@127.0.0.1:5432/dashboard_bench_pages]

A bulk-loaded index (COPY on PostgreSQL, executemany in batches on SQLite; kept between runs
of the same size): N threads, 90% active, 7% locked, 3% closed, users Zipf-skewed (s=1),
titles of common words where "refund" is in about 3% and "chargeback" in about 0.01%,
created over two years, a completed full sweep so the index answers. Without
--database-url the index is a SQLite file in the temp directory (the default deployment).

For each page, in rounds interleaved across pages (so drift hits all alike):
- page: the server-side time of the whole request through Django's test client (session,
  middleware, view, queries, template), median and p95, min-max;
- sql in page: the part of that spent executing queries on the index's tables;
- raw sql: the same statements replayed on a cursor, without Django: the floor;
- the rest (page minus its SQL): Python and the template's own cost;
- cpu: the CPU time the request took in this process (Python, templates, the database
  driver; SQLite's work too, PostgreSQL's not), which waiting for a busy CPU does not add to.
The load average is printed: on a shared machine the wall times include waiting for a CPU.
Then the live alternative at --latency-ms per upstream call: the status scan measured
against the demo upstream, and for questions the upstream cannot answer (a search, a count,
page 50, the users index) the calls an exact answer needs: every page of N/100.

Prints figures; asserts nothing. Targets (docs/benchmarks.md) are read off the output.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

from common import point_at

STATUS_MIX = (("active", 0.90), ("locked", 0.07), ("closed", 0.03))
WORDS = (
    "login password billing invoice account order delivery shipping app crash update "
    "subscription plan upgrade export report settings profile email phone address payment "
    "card receipt discount coupon question help error timeout sync backup data privacy "
    "language mobile desktop browser"
).split()
COMMON_WORD, COMMON_SHARE = "refund", 0.03
RARE_WORD, RARE_SHARE = "chargeback", 0.0001
BATCH = 20_000


def setup(database_url: str, threads: int) -> None:
    if not database_url:
        path = Path(tempfile.gettempdir()) / f"bench-index-pages-{threads}.sqlite3"
        database_url = f"sqlite:///{path}"
    elif database_url.startswith("postgres"):
        ensure_database(database_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("HUEY_SQLITE_PATH", str(Path(tempfile.gettempdir()) / "bench.huey"))
    import django

    django.setup()
    import logging
    import warnings

    from django.conf import settings

    warnings.filterwarnings("ignore", message="No directory at")
    logging.disable(logging.WARNING)
    settings.ALLOWED_HOSTS = ["testserver"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def ensure_database(url: str) -> None:
    """Create the benchmark's own database beside the others, once."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


# --- The fixture ------------------------------------------------------------------------------


def load(threads: int, users: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from dashboard.thread_index.models import (
        IndexedThread,
        StatusCount,
        SyncKind,
        SyncOutcome,
        SyncRun,
        SyncTrigger,
        UserCount,
    )
    from dashboard.thread_index.sources import current_source

    source = current_source()
    if IndexedThread.objects.filter(source=source).count() == threads:
        print(f"fixture: {threads:,} threads already loaded")
        return
    started = time.perf_counter()
    for model in (IndexedThread, StatusCount, UserCount):
        model.objects.filter(source=source).delete()
    rng = random.Random(42)
    user_ids = [f"user_{k:05d}" for k in range(users)]
    weights = [1 / (k + 1) for k in range(users)]
    picked_users = rng.choices(user_ids, weights=weights, k=threads)
    picked_status = rng.choices(
        [s for s, _ in STATUS_MIX], weights=[w for _, w in STATUS_MIX], k=threads
    )
    now = timezone.now().replace(microsecond=0)
    oldest = now - timedelta(days=730)
    span = (now - oldest).total_seconds()
    statuses, per_user = Counter(), defaultdict(Counter)
    first, last = {}, {}
    rows = []
    for n in range(threads):
        created = oldest + timedelta(seconds=int(span * n / threads))
        user, status = picked_users[n], picked_status[n]
        words = rng.sample(WORDS, 3)
        roll = rng.random()
        if roll < RARE_SHARE:
            words[1] = RARE_WORD
        elif roll < RARE_SHARE + COMMON_SHARE:
            words[1] = COMMON_WORD
        title = f"{words[0].capitalize()} {words[1]} {words[2]} #{n}"
        reason = None if status == "active" else ("Policy" if status == "locked" else "Done")
        changed = created + timedelta(hours=rng.randint(1, 48)) if status != "active" else None
        rows.append(
            (source.pk, f"cthr_{n:016x}", user, title, title, created, status, reason,
             now, now, changed)
        )  # fmt: skip
        statuses[status] += 1
        per_user[user][status] += 1
        first.setdefault(user, created)
        last[user] = created
    columns = (
        'source_id, thread_id, "user", title, title_key, created_at, status, status_reason, '
        "first_seen_at, last_seen_at, status_changed_at"
    )
    table = IndexedThread._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The usual bulk load: indexes dropped, rows copied, indexes built once after.
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                [table],
            )
            indexes = cursor.fetchall()
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            with cursor.connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred FK checks, run now
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                cursor.execute(definition)
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 11)})"
            for start in range(0, len(rows), BATCH):
                cursor.executemany(sql, rows[start : start + BATCH])
        StatusCount.objects.bulk_create(
            StatusCount(source=source, status=s, count=c) for s, c in statuses.items()
        )
        UserCount.objects.bulk_create(
            (
                UserCount(
                    source=source,
                    user=user,
                    thread_count=sum(counts.values()),
                    active_count=counts["active"],
                    locked_count=counts["locked"],
                    closed_count=counts["closed"],
                    other_count=0,
                    first_thread_at=first[user],
                    last_thread_at=last[user],
                )
                for user, counts in per_user.items()
            ),
            batch_size=BATCH,
        )
        SyncRun.objects.filter(source=source).delete()
        SyncRun.objects.create(
            source=source, kind=SyncKind.FULL, trigger=SyncTrigger.COMMAND,
            started_at=now - timedelta(hours=3), heartbeat_at=now - timedelta(hours=2),
            finished_at=now - timedelta(hours=2), outcome=SyncOutcome.SUCCEEDED,
        )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(
        f"fixture: loaded {threads:,} threads, {len(per_user):,} users in "
        f"{time.perf_counter() - started:.0f} s"
    )


# --- Timing -----------------------------------------------------------------------------------


class QueryTimer:
    """Times the statements a request runs on the index's tables (an execute wrapper)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements: list[tuple[str, tuple]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if "thread_index_" in sql:
                self.seconds += time.perf_counter() - started
                self.statements.append((sql, params))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    setup(args.database_url, args.threads)
    load(args.threads, args.users)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from dashboard.thread_index.models import StatusCount, UserCount

    # Page 50, or the last page of a fixture too small to have one.
    locked = StatusCount.objects.get(status="locked").count
    deep, deep_locked = min(50, args.threads // 20), min(50, max(1, locked // 20))
    top_user = UserCount.objects.order_by("-thread_count").values_list("user", flat=True)[0]
    user, _ = get_user_model().objects.get_or_create(username="bench", is_staff=True)
    client = Client()
    client.force_login(user)
    pages = {
        "status=locked, counts": "/threads/?status=locked",
        f"title search '{COMMON_WORD}' (~3%), count": f"/threads/?q={COMMON_WORD}",
        f"title search '{RARE_WORD}' (rare), count": f"/threads/?q={RARE_WORD}",
        "/users/ first page": "/users/",
        f"page {deep} (newest first)": f"/threads/?page={deep}",
        f"status=locked, page {deep_locked}": f"/threads/?status=locked&page={deep_locked}",
        "one month, counts": "/threads/?created_from=2025-06-01&created_to=2025-06-30",
        "sort=title": "/threads/?sort=title",
        "sort=-changed": "/threads/?sort=-changed",
        f"top user ({top_user}), locked": f"/users/{top_user}/?status=locked",
        "/users/ sorted by locked": "/users/?sort=-locked",
        "/users/ search 'user_012'": "/users/?q=user_012",
    }
    for url in pages.values():  # warm caches, check each answers
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert b"From the index" in response.content, url
    page_ms, sql_ms, raw_ms = defaultdict(list), defaultdict(list), defaultdict(list)
    cpu_ms = defaultdict(list)
    statements = {}
    for _ in range(args.repeat):
        for name, url in pages.items():
            timer = QueryTimer()
            with connection.execute_wrapper(timer):
                started, cpu = time.perf_counter(), time.process_time()
                client.get(url)
                page_ms[name].append((time.perf_counter() - started) * 1000)
                cpu_ms[name].append((time.process_time() - cpu) * 1000)
            sql_ms[name].append(timer.seconds * 1000)
            statements[name] = timer.statements
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for sql, params in timer.statements:
                    cursor.execute(sql, params)
                    cursor.fetchall()
            raw_ms[name].append((time.perf_counter() - started) * 1000)
    print(
        f"\n{connection.vendor}, {args.threads:,} threads, {UserCount.objects.count():,} users; "
        f"{args.repeat} interleaved rounds; ms; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"{'page':<40} {'median':>7} {'p95':>7} {'min-max':>13} | {'sql in page':>11} "
        f"{'raw sql':>8} {'rest':>6} {'queries':>7}"
    )
    for name in pages:
        values = page_ms[name]
        rest = statistics.median(values) - statistics.median(sql_ms[name])
        print(
            f"{name:<40} {statistics.median(values):>7.1f} {pct(values, 0.95):>7.1f} "
            f"{min(values):>6.1f}-{max(values):<6.1f} | {statistics.median(sql_ms[name]):>11.1f} "
            f"{statistics.median(raw_ms[name]):>8.1f} {rest:>6.1f} "
            f"{statistics.median(cpu_ms[name]):>6.1f} {len(statements[name]):>7}"
        )
        print(
            f"{'':<40} page / (3 x raw sql + rest) = "
            f"{statistics.median(values) / (3 * statistics.median(raw_ms[name]) + rest):.2f}"
        )
    live(args)


def live(args) -> None:
    """The live alternative at the same question, at --latency-ms per upstream call."""
    from django.core.cache import cache

    from dashboard.chatkit.types import StatusKind
    from dashboard.demo_upstream.data import make_dataset
    from dashboard.demo_upstream.server import serve_in_thread
    from dashboard.threads.selectors import thread_status_scan
    from dashboard.web.query import ThreadQuery

    dataset = make_dataset(10_000)
    server, base_url = serve_in_thread(latency_ms=args.latency_ms, dataset=dataset)
    point_at(base_url, ttl=0)
    cache.clear()
    started = time.perf_counter()
    scan = thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED, limit=20))
    ms = (time.perf_counter() - started) * 1000
    server.close()
    every_page = math.ceil(args.threads / 100)
    floor_s = every_page * args.latency_ms / 1000
    print(f"\nlive, {args.latency_ms} ms per upstream call:")
    print(
        f"  status=locked: the live scan (demo upstream) found {len(scan.threads)} in "
        f"{scan.scanned:,} threads, {server.stats.requests} calls, {ms:.0f} ms, no exact count"
    )
    print(
        f"  search, exact counts, page 50, users index: the upstream cannot filter or count; "
        f"an exact answer reads all {every_page:,} pages: >= {floor_s:,.0f} s"
    )


if __name__ == "__main__":
    main()
