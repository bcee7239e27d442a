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
