"""The sync status page's use cases: what the syncs did and will do, and "sync now" / cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from dashboard.audit.models import AuditAction
from dashboard.audit.services import record_event
from dashboard.config import IndexConfig
from dashboard.jobs.leases import current_lease, last_beat, request_cancel
from dashboard.jobs.models import Heartbeat, Lease

from .models import Source, StatusCount, SyncKind, SyncOutcome, SyncRun, SyncState
from .schedule import TICK_SECONDS, intervals
from .sources import current_source, lease_name
from .tasks import SCHEDULER_HEARTBEAT, sync_index

RECENT_RUNS = 20
RECENT_ERRORS = 10
# The scheduler beats once a minute; three minutes without one means no scheduler is running.
SCHEDULER_SILENCE = timedelta(seconds=3 * TICK_SECONDS)


@dataclass(frozen=True)
class KindStatus:
    kind: SyncKind
    interval_seconds: float
    last_run: SyncRun | None
    last_success: SyncRun | None
    next_run_at: datetime | None
    requested_at: datetime | None
    requested_by: str
    # A full sweep's checkpoint: where an unfinished sweep began and how far it got.
    sweep_started_at: datetime | None


@dataclass(frozen=True)
class Target:
    """A freshness promise and whether the syncs keep it right now."""

    label: str
    target_seconds: float
    # How old the index's knowledge is, for this kind of change; None if never synced.
    age_seconds: float | None
    holds: bool
    basis: str


@dataclass(frozen=True)
class IndexStatus:
    source: Source
    config: IndexConfig
    now: datetime
    threads_indexed: int
    status_counts: list[StatusCount]
    kinds: list[KindStatus]
    targets: list[Target]
    running: SyncRun | None
    lease: Lease | None
    scheduler: Heartbeat | None
    scheduler_alive: bool
    recent_runs: list[SyncRun]
    recent_errors: list[SyncRun]


def index_status(*, now: datetime | None = None) -> IndexStatus:
    now = now or timezone.now()
    config: IndexConfig = settings.THREAD_INDEX
    source = current_source()
    runs = SyncRun.objects.filter(source=source)
    states = {state.kind: state for state in SyncState.objects.filter(source=source)}
    kinds = []
    for kind, seconds in intervals(config).items():
        state = states.get(kind)
        kinds.append(
            KindStatus(
                kind=kind,
                interval_seconds=seconds,
                last_run=runs.filter(kind=kind).first(),
                last_success=runs.filter(kind=kind, outcome=SyncOutcome.SUCCEEDED).first(),
                next_run_at=state.next_run_at if state and config.sync_enabled else None,
                requested_at=state.requested_at if state else None,
                requested_by=state.requested_by if state else "",
                sweep_started_at=state.pass_started_at if state else None,
            )
        )
    lease = current_lease(lease_name(source))
    scheduler = last_beat(SCHEDULER_HEARTBEAT)
    counts = list(StatusCount.objects.filter(source=source, count__gt=0).order_by("status"))
    return IndexStatus(
        source=source,
        config=config,
        now=now,
        threads_indexed=sum(row.count for row in counts),
        status_counts=counts,
        kinds=kinds,
        targets=_targets(config, {k.kind: k for k in kinds}, now),
        running=runs.filter(outcome=SyncOutcome.RUNNING).first() if lease else None,
        lease=lease,
        scheduler=scheduler,
        scheduler_alive=bool(scheduler and now - scheduler.beat_at <= SCHEDULER_SILENCE),
        recent_runs=list(runs[:RECENT_RUNS]),
        recent_errors=list(
            runs.filter(outcome=SyncOutcome.FAILED).exclude(error="")[:RECENT_ERRORS]
        ),
    )


def _age(run: SyncRun | None, now: datetime) -> float | None:
    # A run sees what existed when it began: the index's knowledge is as old as its start.
    return (now - run.started_at).total_seconds() if run else None


def _targets(config: IndexConfig, kinds: dict[SyncKind, KindStatus], now: datetime) -> list[Target]:
    incremental = kinds[SyncKind.INCREMENTAL].last_success
    recent = _newest(kinds[SyncKind.RECENT].last_success, kinds[SyncKind.FULL].last_success)
    full = kinds[SyncKind.FULL].last_success
    # A deletion shows after the first sweep that starts after it; the promise is one sweep
    # interval plus however long the last sweep took.
    sweep_took = (
        (full.finished_at - full.started_at).total_seconds() if full and full.finished_at else 0
    )
    deletion_target = config.full_sweep_seconds + sweep_took
    targets = []
    for label, target, run, basis in (
        (
            "A new thread is in the index",
            config.new_thread_target_seconds,
            incremental,
            "the last successful incremental pass",
        ),
        (
            "A recent thread's status change is in the index",
            config.status_change_target_seconds,
            recent,
            "the last successful recent window or full sweep",
        ),
        ("A deletion is in the index", deletion_target, full, "the last completed full sweep"),
    ):
        age = _age(run, now)
        targets.append(
            Target(
                label=label,
                target_seconds=target,
                age_seconds=age,
                holds=age is not None and age <= target,
                basis=basis,
            )
        )
    return targets


def _newest(*runs: SyncRun | None) -> SyncRun | None:
    present = [run for run in runs if run is not None]
    return max(present, key=lambda run: run.started_at) if present else None


@dataclass(frozen=True)
class IndexFreshness:
    """What a page showing indexed data must say about it: its source and its age."""

    source: Source
    # Start of the last successful incremental pass: threads created before it are indexed.
    new_threads_as_of: datetime | None
    # Start of the last completed full sweep: statuses and deletions as of then, at worst.
    swept_as_of: datetime | None


def index_freshness(*, source: Source | None = None) -> IndexFreshness:
    source = source or current_source()
    succeeded = SyncRun.objects.filter(source=source, outcome=SyncOutcome.SUCCEEDED)
    incremental = succeeded.filter(kind=SyncKind.INCREMENTAL).values_list("started_at", flat=True)
    full = succeeded.filter(kind=SyncKind.FULL).values_list("started_at", flat=True)
    return IndexFreshness(
        source=source, new_threads_as_of=incremental.first(), swept_as_of=full.first()
    )


def sync_now(*, kind: SyncKind, actor: Any) -> None:
    """Ask for a sync of `kind` as soon as a worker is free; audited.

    The request is written down (the status page shows it until a run of the kind starts)
    and a task is enqueued; nothing runs in the web process.
    """
    source = current_source()
    username = actor.get_username()
    SyncState.objects.get_or_create(source=source, kind=kind)
    SyncState.objects.filter(source=source, kind=kind).update(
        requested_at=timezone.now(), requested_by=username[:150]
    )
    record_event(
        actor=actor,
        action=AuditAction.STARTED_INDEX_SYNC,
        details={"kind": kind.value, "source": str(source)},
    )
    sync_index(kind.value, "staff", username)


def cancel_sync(*, actor: Any) -> bool:
    """Ask the running sync to stop after its current page; audited. False if none runs."""
    source = current_source()
    running = SyncRun.objects.filter(source=source, outcome=SyncOutcome.RUNNING).first()
    cancelled = request_cancel(lease_name(source), by=actor.get_username())
    record_event(
        actor=actor,
        action=AuditAction.CANCELLED_INDEX_SYNC,
        details={
            "source": str(source),
            "run": running.pk if running else None,
            "kind": running.kind if running else None,
            "was_running": cancelled,
        },
    )
    return cancelled
