"""The syncs end to end against the demo upstream (real HTTP, the shared client)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace

import pytest
import responses
from django.db import connection

from dashboard.chatkit.client import get_client
from dashboard.demo_upstream.server import serve_in_thread
from dashboard.thread_index.models import IndexedThread, SyncKind, SyncOutcome, SyncRun, SyncTrigger
from dashboard.thread_index.sync import run_sync
from tests import real_services
from tests.index_fakes import FakeUpstream

# `engine`: PostgreSQL behaves differently here; `make test-services` runs it again.
pytestmark = pytest.mark.engine

DEMO_KEY = "demo-key-not-secret"


@pytest.fixture(scope="module")
def demo():
    server, base_url = serve_in_thread(api_key=DEMO_KEY)
    yield server, base_url
    server.close()


@pytest.fixture
def demo_index(demo, settings):
    server, base_url = demo
    server.store.reset()
    server.stats.reset()
    settings.CHATKIT = replace(settings.CHATKIT, api_key=DEMO_KEY, base_url=base_url)
    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, max_calls_per_second=1e6)
    return server


def sync(kind: SyncKind) -> SyncRun:
    run = run_sync(kind=kind, trigger=SyncTrigger.COMMAND, sleep=lambda seconds: None)
    assert run is not None and run.outcome == SyncOutcome.SUCCEEDED, run and run.error
    return run


@pytest.mark.django_db
def test_a_full_sweep_of_the_demo_costs_one_call_per_hundred_threads(demo_index):
    total = len(demo_index.store)
    sync(SyncKind.INCREMENTAL)  # so that no interleaved pass adds calls to the sweep
    sync(SyncKind.RECENT)
    demo_index.stats.reset()
    run = sync(SyncKind.FULL)
    assert demo_index.stats.requests == run.calls <= math.ceil(total / 100) + 1
    assert IndexedThread.objects.filter(gone_at__isnull=True).count() == total


@pytest.mark.django_db
def test_an_incremental_pass_with_nothing_new_costs_one_demo_call(demo_index):
    sync(SyncKind.INCREMENTAL)
    demo_index.stats.reset()
    sync(SyncKind.INCREMENTAL)
    assert demo_index.stats.requests == 1


@pytest.mark.django_db
def test_a_thread_deleted_upstream_is_gone_after_the_next_full_sweep(demo_index):
    sync(SyncKind.INCREMENTAL)
    victim = IndexedThread.objects.order_by("created_at")[10].thread_id
    get_client().delete_thread(victim)
    run = sync(SyncKind.FULL)
    assert run.gone == 1
    assert IndexedThread.objects.get(thread_id=victim).gone_at is not None


def control(server, method: str, path: str, body=None) -> dict:
    """The demo upstream's control API: threads created, changed and deleted by others."""
    import requests

    url = server.base_url.removesuffix("/v1") + "/__control" + path
    answer = requests.request(method, url, json=body, timeout=5)
    assert answer.status_code < 300, answer.text
    return answer.json()


@pytest.mark.django_db
def test_new_changed_and_deleted_demo_threads_are_found(demo_index):
    sync(SyncKind.INCREMENTAL)
    sync(SyncKind.RECENT)
    created = control(demo_index, "POST", "/threads", {"user": "user_new", "title": "Brand new"})
    demo_index.stats.reset()
    found = sync(SyncKind.INCREMENTAL)
    assert (found.new, demo_index.stats.requests) == (1, 1)
    row = IndexedThread.objects.get(thread_id=created["id"])
    assert (row.user, row.title, row.status) == ("user_new", "Brand new", "active")

    # A status change of a recent thread: the recent window sees it.
    control(
        demo_index, "PATCH", f"/threads/{created['id']}",
        {"status": {"type": "locked", "reason": "Abuse"}},
    )  # fmt: skip
    window = sync(SyncKind.RECENT)
    assert window.changed == 1
    row.refresh_from_db()
    assert (row.status, row.status_reason) == ("locked", "Abuse")
    change = row.status_changes.get()
    assert (change.from_status, change.to_status, change.run_id) == ("active", "locked", window.pk)

    # An old thread's change and a deletion by someone else: the full sweep sees both.
    old, victim = IndexedThread.objects.order_by("created_at").values_list("thread_id", flat=True)[
        :2
    ]
    control(demo_index, "PATCH", f"/threads/{old}", {"status": {"type": "closed", "reason": None}})
    control(demo_index, "DELETE", f"/threads/{victim}")
    assert sync(SyncKind.INCREMENTAL).changed == 0  # neither is new: not its business
    sweep = sync(SyncKind.FULL)
    assert (sweep.changed, sweep.gone) == (1, 1)
    assert IndexedThread.objects.get(thread_id=old).status == "closed"
    assert IndexedThread.objects.get(thread_id=victim).gone_at is not None


@pytest.mark.django_db
def test_a_429_from_the_demo_during_a_sweep_is_waited_out(demo_index):
    sync(SyncKind.INCREMENTAL)
    sync(SyncKind.RECENT)
    control(
        demo_index,
        "POST",
        "/faults",
        {"mode": "status", "status": 429, "retry_after": 2, "count": 2},
    )
    waits: list[float] = []
    run = run_sync(kind=SyncKind.FULL, trigger=SyncTrigger.COMMAND, sleep=waits.append)
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert sum(waits) >= 2  # the upstream's Retry-After, honoured by the client or the sync
    assert IndexedThread.objects.filter(gone_at__isnull=True).count() == len(demo_index.store)


# --- Several workers on PostgreSQL ------------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_never_run_the_same_sync_at_once(settings):
    real_services.database_url()
    assert connection.vendor == "postgresql"
    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, max_calls_per_second=1e6)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        upstream = FakeUpstream(mock)
        upstream.add(400)
        upstream.latency = 0.01  # widen the window in which two syncs could overlap
        results: list = []
        start = threading.Barrier(4)

        def worker(kinds):
            try:
                start.wait()
                for kind in kinds:
                    run = run_sync(kind=kind, trigger=SyncTrigger.SCHEDULE, sleep=time.sleep)
                    results.append(run)
            finally:
                connection.close()

        plan = [SyncKind.FULL, SyncKind.INCREMENTAL, SyncKind.RECENT] * 3
        threads = [threading.Thread(target=worker, args=(plan,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    ran = [run for run in results if run is not None]
    assert ran and len(ran) < len(results)  # some found the lease taken
    spans = sorted(
        (run.started_at, run.finished_at)
        for run in SyncRun.objects.exclude(trigger=SyncTrigger.INTERLEAVED)
    )
    for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
        assert earlier_end <= later_start, "two syncs of one source overlapped"
    assert all(run.outcome == SyncOutcome.SUCCEEDED for run in SyncRun.objects.all())


@pytest.mark.services
def test_huey_on_postgresql_gets_its_tables_from_the_command_and_queues_a_sync():
    import os
    import subprocess
    import sys
    from pathlib import Path

    url = real_services.database_url()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "HUEY_URL": url}
    env.pop("HUEY_SQLITE_PATH", None)

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    assert "huey tables created" in manage("create_huey_tables")
    script = (
        "from huey.contrib.djhuey import HUEY; HUEY.flush();"
        "from dashboard.thread_index.tasks import sync_index; sync_index('incremental');"
        "print('queued', HUEY.pending_count())"
    )
    assert "queued 1" in manage("shell", "-c", script)
    manage("shell", "-c", "from huey.contrib.djhuey import HUEY; HUEY.flush()")


@pytest.mark.services
@pytest.mark.django_db
def test_title_search_on_postgresql_can_use_the_trigram_index():
    from dashboard.thread_index.models import LIVE, THREAD_ORDERINGS
    from dashboard.thread_index.sources import current_source

    real_services.database_url()
    source = current_source()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned anyway
    # The index is on exactly the expression Django's icontains sends (UPPER(title) LIKE ...).
    search = IndexedThread.objects.filter(title__icontains="refund")
    assert "thread_index_title_trgm" in search.explain()
    changed = IndexedThread.objects.filter(LIVE, source=source).order_by(
        *THREAD_ORDERINGS["-changed"]
    )
    assert "thread_index_live_changed_pg" in changed[:20].explain()
