"""The index's background jobs on huey (found by djhuey's autodiscovery of `tasks` modules).

`schedule_index_syncs` runs once a minute on the one consumer that runs the scheduler and
enqueues the coming minute's syncs; any consumer runs them. Two syncs of one source never run
at once: `run_sync` takes the source's lease, and a task that finds it taken does nothing (a
staff request is tried again shortly instead). Tasks are plain functions underneath: tests
call them directly, or run huey in immediate mode.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from dashboard.jobs.leases import beat

from .models import SyncKind, SyncState, SyncTrigger
from .schedule import plan_coming_runs, prune_runs
from .sources import current_source
from .sync import run_sync

logger = logging.getLogger(__name__)

SCHEDULER_HEARTBEAT = "thread_index.scheduler"
# How long a task waits for another sync of its source to end before it gives up (a long
# sweep runs the due shorter passes between its pages itself).
LEASE_WAIT_SECONDS = 20
# A "sync now" that found another sync running is tried again this often, for this long.
BUSY_RETRY_SECONDS = 15
REQUEST_PATIENCE = timedelta(hours=6)


@db_task()
def sync_index(
    kind: str,
    trigger: str = SyncTrigger.SCHEDULE,
    requested_by: str = "",
    *,
    sleep=time.sleep,
    clock=time.monotonic,
) -> None:
    # Kinds falling due together (every tick enqueues an incremental pass) meet at the lease:
    # a short pass ends within seconds, so wait for it rather than skip a whole interval.
    give_up = clock() + LEASE_WAIT_SECONDS
    while True:
        run = run_sync(kind=SyncKind(kind), trigger=SyncTrigger(trigger), requested_by=requested_by)
        if run is not None:
            return
        if clock() >= give_up:
            break
        sleep(1)
    if trigger == SyncTrigger.STAFF and _still_requested(kind):
        sync_index.schedule(args=(kind, trigger, requested_by), delay=BUSY_RETRY_SECONDS)
    elif trigger == SyncTrigger.SCHEDULE and kind != SyncKind.INCREMENTAL:
        # Not lost for a whole interval: due again at the scheduler's next tick. (A skipped
        # incremental pass is due again in INDEX_SYNC_SECONDS anyway.)
        SyncState.objects.filter(source=current_source(), kind=kind).update(
            next_run_at=timezone.now() + timedelta(seconds=BUSY_RETRY_SECONDS)
        )


def _still_requested(kind: str) -> bool:
    state = SyncState.objects.filter(source=current_source(), kind=kind).first()
    if state is None or state.requested_at is None:
        return False  # another run of the kind started meanwhile and answered it
    if timezone.now() - state.requested_at > REQUEST_PATIENCE:
        logger.warning("thread index: a %s sync requested by staff waited too long", kind)
        return False
    return True


@db_periodic_task(crontab(minute="*"))
def schedule_index_syncs() -> None:
    now = timezone.now()
    beat(SCHEDULER_HEARTBEAT)
    for kind, delay in plan_coming_runs(now=now):
        if delay <= 0:
            sync_index(kind)
        else:
            sync_index.schedule(args=(kind,), delay=delay)
    prune_runs(now=now)
