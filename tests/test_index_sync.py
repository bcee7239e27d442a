"""The syncs against a fake upstream whose threads appear, change and vanish between runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from dashboard.jobs.leases import hold_lease, request_cancel
from dashboard.thread_index.models import (
    IndexedThread,
    StatusChange,
    StatusCount,
    SyncKind,
    SyncOutcome,
    SyncRun,
    SyncState,
    SyncTrigger,
    UserCount,
)
from dashboard.thread_index.sources import current_source, lease_name
from dashboard.thread_index.sync import Sync, run_sync
from tests.index_fakes import rate_limited

# `engine`: PostgreSQL behaves differently here; `make test-services` runs it again.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.engine,
    pytest.mark.usefixtures("unpaced_index_syncs"),
]


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def sync(sleeps):
    def run(kind: SyncKind = SyncKind.INCREMENTAL) -> SyncRun:
        result = run_sync(kind=kind, trigger=SyncTrigger.COMMAND, sleep=sleeps.append)
        assert result is not None
        return result

    return run


def nothing_due() -> None:
    """No incremental pass or recent window is due, so a sweep interleaves none."""
    for kind in (SyncKind.INCREMENTAL, SyncKind.RECENT):
        SyncState.objects.update_or_create(
            source=current_source(), kind=kind, defaults={"last_started_at": timezone.now()}
        )


def live_ids() -> set[str]:
    return set(
        IndexedThread.objects.filter(gone_at__isnull=True).values_list("thread_id", flat=True)
    )


def assert_counters_match() -> None:
    """The counter tables say what a GROUP BY over the live threads says."""
    live = IndexedThread.objects.filter(gone_at__isnull=True)
    by_status = dict(live.values_list("status").annotate(n=Count("id")))
    assert {row.status: row.count for row in StatusCount.objects.exclude(count=0)} == by_status
    by_user = {
        row["user"]: row
        for row in live.values("user").annotate(
            n=Count("id"),
            active=Count("id", filter=Q(status="active")),
            locked=Count("id", filter=Q(status="locked")),
            closed=Count("id", filter=Q(status="closed")),
            first=Min("created_at"),
            last=Max("created_at"),
        )
    }
    counted = {row.user: row for row in UserCount.objects.all()}
    assert set(counted) == set(by_user)
    for user, row in counted.items():
        expected = by_user[user]
        assert (row.thread_count, row.active_count, row.locked_count, row.closed_count) == (
            expected["n"],
            expected["active"],
            expected["locked"],
            expected["closed"],
        ), user
        assert (row.first_thread_at, row.last_thread_at) == (expected["first"], expected["last"])


# --- Incremental ------------------------------------------------------------------------


def test_the_first_incremental_pass_indexes_every_thread(upstream, sync):
    ids = upstream.add(250)
    run = sync()
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert (run.pages, run.calls, run.new) == (3, 3, 250)
    assert live_ids() == set(ids)
    assert_counters_match()


def test_an_incremental_pass_with_nothing_new_costs_one_call(upstream, sync):
    upstream.add(250)
    sync()
    upstream.calls = 0
    run = sync()
    assert (upstream.calls, run.pages, run.new) == (1, 1, 0)


def test_new_threads_are_found_by_the_next_incremental_pass(upstream, sync):
    upstream.add(250)
    sync()
    new = upstream.add(150)
    upstream.calls = 0
    run = sync()
    assert run.new == 150
    assert set(new) <= live_ids()
    # 150 new threads reach into the second page, which holds the old newest thread: stop.
    assert upstream.calls == 2
    assert_counters_match()


def test_threads_a_page_wrote_through_do_not_stop_the_pass_early(upstream, sync):
    from dashboard.chatkit.types import Thread
    from dashboard.thread_index.writethrough import record_seen

    upstream.add(50)
    sync()
    new = upstream.add(150)
    # A staff member paged through the newest 100 threads: the index knows them already.
    newest = [Thread.from_dict(t) for t in upstream.ordered()[:100]]
    record_seen(threads=newest)
    sync()
    assert set(new) <= live_ids()


def test_an_interrupted_incremental_pass_reads_its_gap_next_time(upstream, sync):
    upstream.add(50)
    sync()
    new = upstream.add(500)
    upstream.go_down_after(2)  # two pages, then the upstream goes down
    failed = sync()
    assert failed.outcome == SyncOutcome.FAILED
    assert len(set(new) & live_ids()) == 200
    upstream.go_down_after(None)
    newer = upstream.add(10)
    sync()
    assert set(new + newer) <= live_ids()
    upstream.calls = 0
    sync()
    assert upstream.calls == 1


# --- Recent window ----------------------------------------------------------------------


def test_the_recent_window_finds_status_changes_of_recent_threads(upstream, sync):
    now = int(timezone.now().timestamp())
    old = upstream.add(120, created_at=now - 30 * 86400)
    recent = upstream.add(130, created_at=now - 3600)
    sync()
    upstream.set_status(recent[5], "locked", "Spam")
    upstream.set_status(old[0], "closed", "Resolved")
    upstream.calls = 0
    run = sync(SyncKind.RECENT)
    # 130 recent threads: two pages, the second reaching past the window.
    assert upstream.calls == 2
    assert run.changed == 1
    row = IndexedThread.objects.get(thread_id=recent[5])
    assert (row.status, row.status_reason) == ("locked", "Spam")
    assert row.status_changed_at is not None
    change = StatusChange.objects.get(thread=row)
    assert (change.from_status, change.to_status, change.to_reason) == ("active", "locked", "Spam")
    assert change.run_id == run.pk
    assert IndexedThread.objects.get(thread_id=old[0]).status == "active"  # not in the window
    assert_counters_match()


def test_the_recent_window_marks_recent_deletions_gone(upstream, sync):
    now = int(timezone.now().timestamp())
    upstream.add(20, created_at=now - 30 * 86400)
    recent = upstream.add(20, created_at=now - 60)
    sync()
    upstream.delete(recent[3])
    run = sync(SyncKind.RECENT)
    assert run.gone == 1
    assert recent[3] not in live_ids()
    assert_counters_match()


# --- Full sweep -------------------------------------------------------------------------


def test_a_full_sweep_finds_changes_and_deletions_everywhere(upstream, sync):
    ids = upstream.add(350)
    sync()
    upstream.set_status(ids[0], "closed", None)
    upstream.set_status(ids[1], "locked", "Abuse")
    upstream.delete(ids[2])
    upstream.delete(ids[3])
    upstream.calls = 0
    nothing_due()
    run = sync(SyncKind.FULL)
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert upstream.calls == 4  # ceil(348 / 100)
    assert (run.changed, run.gone) == (2, 2)
    assert live_ids() == set(ids) - {ids[2], ids[3]}
    gone = IndexedThread.objects.get(thread_id=ids[2])
    assert gone.gone_at is not None
    assert_counters_match()


def test_nothing_is_marked_gone_after_a_failed_sweep(upstream, sync):
    ids = upstream.add(350)
    sync()
    upstream.delete(ids[-1])
    upstream.go_down_after(2)
    run = sync(SyncKind.FULL)
    assert run.outcome == SyncOutcome.FAILED
    assert "unavailable" in run.error.lower() or "maintenance" in run.error.lower()
    assert run.gone == 0
    assert ids[-1] in live_ids()
    assert run.request_ids  # the failed calls' request ids are kept for reports
    assert_counters_match()


def test_an_interrupted_sweep_resumes_from_its_checkpoint(upstream, sync):
    ids = upstream.add(450)
    sync()
    upstream.delete(ids[0])  # the newest: read (and missed) before the interruption
    nothing_due()
    upstream.go_down_after(2)
    first = sync(SyncKind.FULL)
    assert first.outcome == SyncOutcome.FAILED
    state = SyncState.objects.get(kind=SyncKind.FULL)
    assert state.cursor and state.pass_started_at
    upstream.go_down_after(None)
    upstream.calls = 0
    upstream.cursors.clear()
    nothing_due()
    second = sync(SyncKind.FULL)
    assert second.outcome == SyncOutcome.SUCCEEDED
    assert second.resumed_from_id == first.pk
    assert upstream.cursors[0] == state.cursor  # no page read twice
    assert upstream.calls == 3  # the 249 threads after the checkpoint
    assert second.gone == 1 and ids[0] not in live_ids()
    assert SyncState.objects.get(kind=SyncKind.FULL).pass_started_at is None


def test_a_sweep_killed_mid_page_leaves_its_run_marked_interrupted(upstream, sync):
    upstream.add(300)
    sync()
    upstream.failures.append(KeyboardInterrupt())  # the worker dies during a call
    with pytest.raises(KeyboardInterrupt):
        sync(SyncKind.FULL)
    killed = SyncRun.objects.get(kind=SyncKind.FULL)
    assert killed.outcome == SyncOutcome.CANCELLED
    # A harder kill leaves the run "running"; the next holder of the lease says so.
    SyncRun.objects.filter(pk=killed.pk).update(outcome=SyncOutcome.RUNNING, finished_at=None)
    resumed = sync(SyncKind.FULL)
    killed.refresh_from_db()
    assert killed.outcome == SyncOutcome.FAILED and "Interrupted" in killed.error
    assert resumed.outcome == SyncOutcome.SUCCEEDED


def test_a_resumed_sweep_whose_cursor_thread_was_deleted_uses_an_earlier_one(upstream, sync):
    ids = upstream.add(450)
    sync()
    upstream.go_down_after(2)
    sync(SyncKind.FULL)
    state = SyncState.objects.get(kind=SyncKind.FULL)
    upstream.delete(state.cursor)
    upstream.go_down_after(None)
    upstream.cursors.clear()
    run = sync(SyncKind.FULL)
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert upstream.cursors[:2] == [state.cursor, state.cursor_fallbacks[-1]]
    # It was read before it went, so this sweep cannot tell; the next one does.
    assert run.gone == 0
    assert sync(SyncKind.FULL).gone == 1
    assert live_ids() == set(ids) - {state.cursor}


# --- Rate limits, pacing, leases --------------------------------------------------------


def test_a_429_during_sync_backs_off_as_the_upstream_asks(upstream, sync, sleeps):
    upstream.add(150)
    upstream.failures.extend([rate_limited(retry_after=7), rate_limited(retry_after=7)])
    run = sync(SyncKind.FULL)
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert sum(sleeps) == pytest.approx(14)
    assert run.calls == 4 and run.pages == 2
    assert run.request_ids == ["req_fail_1", "req_fail_2"]


def test_a_429_without_retry_after_backs_off_exponentially(upstream, sync, sleeps):
    upstream.add(10)
    upstream.failures.extend([rate_limited(retry_after=None)] * 3)
    run = sync()
    assert run.outcome == SyncOutcome.SUCCEEDED
    assert sum(sleeps) == pytest.approx(1 + 2 + 4)


def test_a_sync_gives_up_when_the_upstream_asks_for_too_long_a_wait(upstream, sync, sleeps):
    upstream.add(10)
    upstream.failures.append(rate_limited(retry_after=3600))
    run = sync()
    assert run.outcome == SyncOutcome.FAILED
    assert "rate limit" in run.error.lower()
    assert sleeps == []


def test_a_sync_gives_up_after_its_retries(upstream, sync, settings):
    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, backoff_retries=2)
    upstream.add(10)
    upstream.failures.extend([rate_limited(retry_after=1)] * 3)
    run = sync()
    assert run.outcome == SyncOutcome.FAILED and run.calls == 3


def test_connection_errors_are_waited_out_too(upstream, sync):
    upstream.add(10)
    upstream.failures.append(requests.ConnectionError("refused"))
    assert sync().outcome == SyncOutcome.SUCCEEDED


def test_syncs_stay_under_the_call_rate(upstream, settings, sleeps, monkeypatch):
    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, max_calls_per_second=2)
    upstream.add(500)
    # A clock that only the waits move: the calls take no time, however busy the machine.
    now = [0.0]

    def wait(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setitem(Sync.__init__.__kwdefaults__, "clock", lambda: now[0])
    run = run_sync(kind=SyncKind.FULL, trigger=SyncTrigger.COMMAND, sleep=wait)
    assert run.calls == 5
    # Half a second before every call but the first.
    assert sleeps == [0.5] * (upstream.calls - 1)


def test_a_bad_upstream_answer_fails_the_run_with_its_request_id(upstream, sync):
    upstream.failures.append((200, {}, {"unexpected": True}))
    run = sync()
    assert run.outcome == SyncOutcome.FAILED
    assert "cannot read" in run.error or "no 'data'" in run.error
    assert run.request_ids == ["req_fail_1"]


def test_a_missing_api_key_fails_the_run_and_says_why(upstream, sync, settings):
    settings.CHATKIT = replace(settings.CHATKIT, api_key="")
    run = sync()
    assert run.outcome == SyncOutcome.FAILED
    assert "API key" in run.error
    assert upstream.calls == 0


def test_a_second_sync_of_the_same_source_does_nothing_while_one_runs(upstream):
    upstream.add(10)
    with hold_lease(lease_name(current_source()), ttl=60):
        assert run_sync(kind=SyncKind.INCREMENTAL, trigger=SyncTrigger.COMMAND) is None
    assert upstream.calls == 0 and not SyncRun.objects.exists()


def test_an_expired_lease_is_taken_over(upstream, sync):
    from dashboard.jobs.models import Lease

    upstream.add(10)
    name = lease_name(current_source())
    Lease.objects.create(
        name=name, holder="dead-worker", expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert sync().outcome == SyncOutcome.SUCCEEDED


def test_a_cancel_request_stops_the_sweep_between_pages(upstream, sync, monkeypatch):
    from dashboard.thread_index import sync as sync_module

    upstream.add(500)
    nothing_due()
    written = []
    original = sync_module.write_threads

    def write_and_cancel(**kwargs):
        written.append(1)
        if len(written) == 2:
            request_cancel(lease_name(current_source()), by="support")
        return original(**kwargs)

    monkeypatch.setattr(sync_module, "write_threads", write_and_cancel)
    run = sync(SyncKind.FULL)
    assert run.outcome == SyncOutcome.CANCELLED
    assert run.pages == 2 and "support" in run.error
    assert SyncState.objects.get(kind=SyncKind.FULL).cursor  # it resumes from here


def test_a_long_sweep_runs_due_incremental_passes_between_its_pages(upstream, sync, monkeypatch):
    from dashboard.thread_index import sync as sync_module

    upstream.add(300)
    sync(SyncKind.FULL)
    SyncState.objects.filter(kind=SyncKind.INCREMENTAL).update(
        last_started_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    original = sync_module.write_threads

    def write_then_more_arrive(**kwargs):
        result = original(**kwargs)
        if len(upstream.threads) == 300:
            upstream.add(5)  # created while the sweep reads its first page
        return result

    monkeypatch.setattr(sync_module, "write_threads", write_then_more_arrive)
    run = sync(SyncKind.FULL)
    interleaved = SyncRun.objects.filter(
        trigger=SyncTrigger.INTERLEAVED, started_at__gt=run.started_at
    )
    assert interleaved.count() == 1
    assert (interleaved.get().outcome, interleaved.get().new) == (SyncOutcome.SUCCEEDED, 5)
    assert run.outcome == SyncOutcome.SUCCEEDED


def test_a_long_sweep_runs_a_due_recent_window_between_its_pages(upstream, sync):
    upstream.add(300, created_at=int(timezone.now().timestamp()) - 60)
    sync()
    sync(SyncKind.RECENT)
    SyncState.objects.filter(kind=SyncKind.RECENT).update(
        last_started_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    run = sync(SyncKind.FULL)
    interleaved = SyncRun.objects.filter(
        trigger=SyncTrigger.INTERLEAVED, kind=SyncKind.RECENT, started_at__gt=run.started_at
    )
    assert interleaved.count() == 1 and run.outcome == SyncOutcome.SUCCEEDED


def test_threads_the_index_cannot_hold_are_skipped_and_counted(upstream, sync):
    upstream.add(3)
    upstream.add(1, id="cthr_" + "x" * 600)
    run = sync()
    assert (run.new, run.skipped) == (3, 1)
    assert run.outcome == SyncOutcome.SUCCEEDED


def test_nul_characters_never_reach_the_database(upstream, sync):
    upstream.add(1, title="bad\x00title", status={"type": "closed", "reason": "a\x00b"})
    upstream.add(1, id="cthr_nul\x00")
    upstream.add(1, user="user\x00")
    run = sync()
    assert (run.new, run.skipped, run.outcome) == (1, 2, SyncOutcome.SUCCEEDED)
    row = IndexedThread.objects.get()
    assert (row.title, row.status_reason) == ("bad\\x00title", "a\\x00b")


def test_status_types_newer_than_the_contract_are_kept_in_their_own_word(upstream, sync):
    upstream.add(2, status={"type": "archived", "reason": None})
    sync()
    assert set(IndexedThread.objects.values_list("status", flat=True)) == {"archived"}
    assert UserCount.objects.filter(other_count__gt=0).exists()
    assert_counters_match()


def test_a_thread_that_reappears_is_live_again(upstream, sync):
    ids = upstream.add(5)
    sync()
    kept = upstream.threads[ids[0]]
    upstream.delete(ids[0])
    sync(SyncKind.FULL)
    assert ids[0] not in live_ids()
    upstream.threads[ids[0]] = kept
    sync(SyncKind.FULL)
    assert ids[0] in live_ids()
    assert_counters_match()
