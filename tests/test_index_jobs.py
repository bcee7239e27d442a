"""Leases, a job's patience, the schedule, the huey tasks, the command, the write-through
and the settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from dashboard.chatkit.errors import ChatKitRateLimitError, ChatKitUnavailableError
from dashboard.chatkit.types import Thread
from dashboard.config import IndexConfig
from dashboard.jobs.leases import (
    JobCancelled,
    LeaseBusy,
    LeaseLost,
    current_lease,
    hold_lease,
    request_cancel,
)
from dashboard.jobs.models import Heartbeat, Lease
from dashboard.jobs.patience import Patience
from dashboard.thread_index import tasks
from dashboard.thread_index.models import (
    IndexedThread,
    StatusChange,
    StatusCount,
    SyncOutcome,
    SyncRun,
    SyncState,
    UserCount,
)
from dashboard.thread_index.schedule import plan_coming_runs, prune_runs
from dashboard.thread_index.sources import current_source, lease_name
from dashboard.thread_index.writethrough import record_gone, record_seen
from tests.conftest import thread_json

# `engine`: PostgreSQL behaves differently here; `make test-services` runs it again.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.engine,
    pytest.mark.usefixtures("unpaced_index_syncs"),
]


# --- Leases -------------------------------------------------------------------------------


def test_a_lease_has_one_holder_at_a_time():
    with hold_lease("job", ttl=60, holder="a"):
        with pytest.raises(LeaseBusy), hold_lease("job", ttl=60, holder="b"):
            pass
        assert current_lease("job").holder == "a"
    assert current_lease("job") is None
    with hold_lease("job", ttl=60, holder="b"):  # free again once released
        pass


def test_an_expired_lease_goes_to_the_next_worker_and_the_old_holder_learns_it():
    with hold_lease("job", ttl=60, holder="a") as stale:
        Lease.objects.filter(name="job").update(expires_at=timezone.now() - timedelta(seconds=1))
        with hold_lease("job", ttl=60, holder="b"):
            with pytest.raises(LeaseLost):
                stale.renew()


def test_renewing_records_progress_and_pushes_the_expiry():
    with hold_lease("job", ttl=60, holder="a") as lease:
        before = Lease.objects.get(name="job").expires_at
        lease.renew(progress={"pages": 3})
        row = Lease.objects.get(name="job")
        assert row.progress == {"pages": 3} and row.expires_at >= before


def test_a_cancel_request_reaches_the_holder_and_not_the_next_one():
    with hold_lease("job", ttl=60, holder="a") as lease:
        assert request_cancel("job", by="support")
        with pytest.raises(JobCancelled, match="support"):
            lease.renew()
    with hold_lease("job", ttl=60, holder="b") as lease:
        lease.renew()  # a new holder starts uncancelled
    assert not request_cancel("job", by="support")  # nobody holds it


def test_a_lease_sleep_renews_and_stops_on_cancel():
    slept = []
    with hold_lease("job", ttl=30, holder="a", sleep=slept.append) as lease:
        lease.sleep(25)
        assert sum(slept) == pytest.approx(25) and len(slept) == 3
        request_cancel("job", by="support")
        with pytest.raises(JobCancelled):
            lease.sleep(25)


# --- Patience -----------------------------------------------------------------------------


def test_a_job_waits_doubling_up_to_its_limit_then_gives_up():
    patience = Patience(retries=4, max_seconds=5.0)
    error = ChatKitUnavailableError("down")
    assert [patience.wait_before_retry(n, error) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, None]


def test_a_job_waits_as_long_as_the_upstream_asks_unless_that_is_longer_than_its_limit():
    patience = Patience(retries=4, max_seconds=60.0)
    assert patience.wait_before_retry(0, ChatKitRateLimitError("slow", retry_after=30)) == 30
    assert patience.wait_before_retry(0, ChatKitRateLimitError("slow", retry_after=61)) is None


# --- The schedule ---------------------------------------------------------------------------


def test_the_first_tick_starts_every_kind_and_plans_the_minute():
    now = timezone.now()
    planned = plan_coming_runs(now=now)
    assert sorted(planned) == [
        ("full", 0.0),
        ("incremental", 0.0),
        ("incremental", 30.0),
        ("recent", 0.0),
    ]
    states = {state.kind: state.next_run_at for state in SyncState.objects.all()}
    assert states["incremental"] == now + timedelta(seconds=60)
    assert states["recent"] == now + timedelta(seconds=240)
    assert states["full"] == now + timedelta(days=1)


def test_later_ticks_plan_only_what_falls_due():
    now = timezone.now()
    plan_coming_runs(now=now)
    assert sorted(plan_coming_runs(now=now + timedelta(seconds=60))) == [
        ("incremental", 0.0),
        ("incremental", 30.0),
    ]
    planned = dict(plan_coming_runs(now=now + timedelta(seconds=200)))
    assert planned["recent"] == pytest.approx(40)


def test_after_a_long_pause_each_kind_runs_once_not_once_per_missed_interval():
    now = timezone.now()
    plan_coming_runs(now=now)
    planned = plan_coming_runs(now=now + timedelta(hours=3))
    assert [kind for kind, _ in planned].count("recent") == 1
    assert [kind for kind, _ in planned].count("incremental") == 2


def test_nothing_is_planned_when_syncs_are_off(settings):
    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, sync_enabled=False)
    assert plan_coming_runs(now=timezone.now()) == []


def test_old_run_records_are_pruned():
    source = current_source()
    old = timezone.now() - timedelta(days=30)
    for started in (old, timezone.now()):
        SyncRun.objects.create(
            source=source, kind="incremental", trigger="schedule", started_at=started,
            heartbeat_at=started, outcome=SyncOutcome.SUCCEEDED,
        )  # fmt: skip
    assert prune_runs(now=timezone.now()) == 1
    assert SyncRun.objects.count() == 1


def test_the_scheduler_tick_beats_and_runs_what_is_due(upstream):
    upstream.add(20)
    # huey runs in immediate mode in tests: due tasks run inline, delayed ones wait.
    tasks.schedule_index_syncs.call_local()
    assert Heartbeat.objects.get(name=tasks.SCHEDULER_HEARTBEAT)
    assert set(SyncRun.objects.values_list("kind", flat=True)) == {"incremental", "recent", "full"}
    assert IndexedThread.objects.count() == 20


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_task_waits_a_little_for_the_lease_then_gives_up(upstream):
    clock = FakeClock()
    with hold_lease(lease_name(current_source()), ttl=60, holder="other"):
        tasks.sync_index.call_local("incremental", sleep=clock.sleep, clock=clock)
    assert not SyncRun.objects.exists() and upstream.calls == 0
    assert sum(clock.slept) == tasks.LEASE_WAIT_SECONDS


def test_a_task_runs_once_the_lease_comes_free(upstream):
    upstream.add(3)
    clock = FakeClock()
    name = lease_name(current_source())
    lease = hold_lease(name, ttl=60, holder="other")
    lease.__enter__()

    def sleep_then_release(seconds):
        clock.sleep(seconds)
        if len(clock.slept) == 3:
            lease.__exit__(None, None, None)

    tasks.sync_index.call_local("incremental", sleep=sleep_then_release, clock=clock)
    assert SyncRun.objects.get().new == 3 and len(clock.slept) == 3


def test_a_skipped_sweep_is_due_again_at_the_next_tick_not_tomorrow(upstream):
    now = timezone.now()
    plan_coming_runs(now=now)
    with hold_lease(lease_name(current_source()), ttl=60, holder="other"):
        clock = FakeClock()
        tasks.sync_index.call_local("full", sleep=clock.sleep, clock=clock)
    state = SyncState.objects.get(kind="full")
    assert state.next_run_at < now + timedelta(minutes=1)
    assert ("full", 0.0) in plan_coming_runs(now=now + timedelta(minutes=1))


# --- The command ------------------------------------------------------------------------------


def test_the_command_runs_an_incremental_pass_and_says_what_it_did(upstream):
    upstream.add(120)
    out = StringIO()
    call_command("sync_threads", stdout=out)
    assert "Incremental (new threads)" in out.getvalue()
    assert "2 pages, 2 calls, 120 new, 0 changed, 0 gone" in out.getvalue()


def test_the_command_runs_a_full_sweep(upstream):
    ids = upstream.add(10)
    call_command("sync_threads", stdout=StringIO())
    upstream.delete(ids[0])
    out = StringIO()
    call_command("sync_threads", "--full", stdout=out)
    assert "Full sweep" in out.getvalue() and "1 gone" in out.getvalue()


def test_the_command_fails_loudly_when_the_sync_fails(upstream, settings):
    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, backoff_retries=0)
    upstream.go_down_after(0)
    with pytest.raises(CommandError, match="failed.*Down for maintenance"):
        call_command("sync_threads", "--recent", stdout=StringIO())


def test_the_command_says_when_another_sync_is_running(upstream):
    with hold_lease(lease_name(current_source()), ttl=60, holder="worker-7"):
        with pytest.raises(CommandError, match="worker-7"):
            call_command("sync_threads", stdout=StringIO())


# --- Write-through ------------------------------------------------------------------------------


def thread(**fields) -> Thread:
    return Thread.from_dict(thread_json(**fields))


def test_threads_a_page_saw_are_recorded_with_their_status_changes():
    first = thread(id="cthr_a", user="alice")
    record_seen(threads=[first])
    locked = thread(id="cthr_a", user="alice", status={"type": "locked", "reason": "Spam"})
    result = record_seen(threads=[locked])
    assert result.changed == 1
    row = IndexedThread.objects.get(thread_id="cthr_a")
    assert (row.status, row.status_reason) == ("locked", "Spam")
    change = StatusChange.objects.get()
    assert change.run is None  # seen by a page, not a sync
    assert StatusCount.objects.get(status="locked").count == 1
    assert UserCount.objects.get(user="alice").locked_count == 1


def test_an_older_observation_never_undoes_a_newer_one():
    now = timezone.now()
    record_seen(threads=[thread(id="cthr_a", status={"type": "closed", "reason": None})])
    record_seen(threads=[thread(id="cthr_a")], observed_at=now - timedelta(seconds=5))
    assert IndexedThread.objects.get(thread_id="cthr_a").status == "closed"


def test_a_deleted_thread_is_recorded_gone_and_leaves_the_counts():
    record_seen(threads=[thread(id="cthr_a", user="alice"), thread(id="cthr_b", user="bob")])
    assert record_gone(thread_id="cthr_a") is True
    assert record_gone(thread_id="cthr_a") is False
    assert record_gone(thread_id="cthr_unknown") is False
    assert IndexedThread.objects.get(thread_id="cthr_a").gone_at is not None
    assert list(UserCount.objects.values_list("user", flat=True)) == ["bob"]
    assert StatusCount.objects.get(status="active").count == 1


def test_a_database_failure_never_breaks_the_page(monkeypatch, caplog):
    from dashboard.thread_index import writethrough

    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(writethrough, "write_threads", broken)
    monkeypatch.setattr(writethrough, "mark_gone", broken)
    assert record_seen(threads=[thread()]) is None
    assert record_gone(thread_id="cthr_a") is None
    assert "could not record" in caplog.text


def test_a_thread_seen_on_another_source_is_kept_apart(settings):
    record_seen(threads=[thread(id="cthr_a")])
    settings.CHATKIT = replace(settings.CHATKIT, project="proj_second")
    record_seen(threads=[thread(id="cthr_a")])
    assert IndexedThread.objects.filter(thread_id="cthr_a").count() == 2
    assert StatusCount.objects.filter(status="active").count() == 2


# --- Settings -----------------------------------------------------------------------------------


def test_index_settings_have_their_documented_defaults():
    config = IndexConfig.from_environ({})
    assert config == IndexConfig()
    assert (config.sync_seconds, config.recent_days, config.full_sweep_seconds) == (30, 7, 86400)


def test_index_settings_are_read_from_the_environment():
    config = IndexConfig.from_environ(
        {"INDEX_SYNC_SECONDS": "15", "INDEX_RECENT_DAYS": "3", "INDEX_SYNC_ENABLED": "false"}
    )
    assert (config.sync_seconds, config.recent_days, config.sync_enabled) == (15, 3, False)


@pytest.mark.parametrize(
    "variable, value",
    [
        ("INDEX_SYNC_SECONDS", "0"),
        ("INDEX_RECENT_DAYS", "1.5"),
        ("INDEX_MAX_CALLS_PER_SECOND", "fast"),
        ("INDEX_SYNC_ENABLED", "maybe"),
        ("INDEX_LEASE_SECONDS", "2"),
    ],
)
def test_bad_index_settings_fail_at_start_up(variable, value):
    with pytest.raises(ImproperlyConfigured, match=variable):
        IndexConfig.from_environ({variable: value})


def test_an_indexed_thread_offers_its_status_for_the_badge():
    record_seen(threads=[thread(id="cthr_a", status={"type": "locked", "reason": "Spam"})])
    status = IndexedThread.objects.get().thread_status
    assert (status.label, status.reason) == ("Locked", "Spam")


def test_index_freshness_says_when_each_kind_last_succeeded(upstream):
    from dashboard.thread_index.services import index_freshness
    from dashboard.thread_index.sync import run_sync

    assert index_freshness().new_threads_as_of is None
    upstream.add(3)
    run = run_sync(kind="incremental", trigger="command")
    freshness = index_freshness()
    assert freshness.new_threads_as_of == run.started_at and freshness.swept_as_of is None
