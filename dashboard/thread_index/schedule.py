"""When each kind of sync runs next. Huey checks periodic tasks once a minute and cannot say
when a task will run; so a per-minute task plans the coming minute's runs itself (an
incremental pass every 30 s is two runs a minute, enqueued with delays) and writes down the
next run time, which the status page shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from dashboard.config import IndexConfig

from .models import SyncKind, SyncRun, SyncState
from .sources import current_source

# Huey's scheduler checks periodic tasks once a minute.
TICK_SECONDS = 60


def intervals(config: IndexConfig) -> dict[SyncKind, float]:
    return {
        SyncKind.INCREMENTAL: config.sync_seconds,
        SyncKind.RECENT: config.recent_seconds,
        SyncKind.FULL: config.full_sweep_seconds,
    }


def plan_coming_runs(
    *, now: datetime, config: IndexConfig | None = None
) -> list[tuple[str, float]]:
    """The syncs due before the next tick, as (kind, delay in seconds); their next runs saved.

    A kind never planned before runs now. After a pause longer than its interval (no
    scheduler was running) a kind runs now once, not once per missed interval.
    """
    config = config or settings.THREAD_INDEX
    if not config.sync_enabled:
        return []
    source = current_source()
    horizon = now + timedelta(seconds=TICK_SECONDS)
    planned: list[tuple[str, float]] = []
    with transaction.atomic():
        for kind, seconds in intervals(config).items():
            interval = timedelta(seconds=seconds)
            state, _ = SyncState.objects.select_for_update().get_or_create(source=source, kind=kind)
            next_at = state.next_run_at or now
            if next_at < now - interval:
                next_at = now
            while next_at < horizon:
                planned.append((kind.value, max(0.0, (next_at - now).total_seconds())))
                next_at += interval
            state.next_run_at = next_at
            state.save(update_fields=["next_run_at"])
    return planned


def prune_runs(*, now: datetime, config: IndexConfig | None = None) -> int:
    """Delete sync run records older than INDEX_RUN_RETENTION_DAYS; return how many."""
    config = config or settings.THREAD_INDEX
    cutoff = now - timedelta(days=config.run_retention_days)
    deleted, _ = SyncRun.objects.filter(started_at__lt=cutoff).exclude(outcome="running").delete()
    return deleted
