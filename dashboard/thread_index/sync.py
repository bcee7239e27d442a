"""The three syncs that keep the index fresh. The upstream lists threads newest first, 100 a
page, with no `updated_at`: re-reading is the only way to see a change.

- Incremental: from the newest thread down to the high-water mark of the last complete pass
  (see SyncState), upserting. With nothing new it costs 1 call.
- Recent window: re-reads threads created in the last INDEX_RECENT_DAYS days, where locks and
  closes happen; the window read completely, threads in it that it missed are gone.
- Full sweep: every thread. Status changes are recorded page by page; threads not seen since
  the sweep began are marked gone only once it completed without error. A checkpoint after
  every page lets the next run continue where a crashed, failed or cancelled one stopped.

All of them: one at a time per source (a lease, renewed after every page), through the shared
ChatKit client (its retries, its Retry-After), at most INDEX_MAX_CALLS_PER_SECOND calls, one
transaction per page (threads, counters, run record and checkpoint together), and memory
that does not grow with the number of threads. A long sweep runs a due incremental pass
between its pages, so new threads still arrive within INDEX_SYNC_SECONDS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.chatkit.client import ChatKitClient, get_client
from dashboard.chatkit.errors import (
    ChatKitError,
    ChatKitInvalidRequestError,
    ChatKitNotFoundError,
    ChatKitRateLimitError,
    ChatKitUnavailableError,
)
from dashboard.chatkit.types import ThreadPage
from dashboard.config import IndexConfig
from dashboard.jobs.leases import HeldLease, JobCancelled, LeaseBusy, LeaseLost, hold_lease
from dashboard.jobs.patience import Patience

from .models import (
    MAX_REQUEST_IDS,
    Source,
    SyncKind,
    SyncOutcome,
    SyncRun,
    SyncState,
    SyncTrigger,
)
from .sources import current_source, lease_name
from .store import indexable, mark_gone, write_threads

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
# Ids kept with a checkpoint to continue from when its cursor thread was deleted meanwhile.
FALLBACK_CURSORS = 5


@dataclass(frozen=True, slots=True)
class Mark:
    """A thread's place in the upstream's newest-first order."""

    thread_id: str
    created_at: datetime

    @classmethod
    def first_of(cls, page: ThreadPage) -> Mark | None:
        """The newest thread of `page` that the index can hold (and so store as a mark)."""
        for thread in page.threads:
            if indexable(thread):
                return cls(thread.id, thread.created_at)
        return None

    def reached_by(self, page: ThreadPage) -> bool:
        """Whether `page` holds this thread or anything older (ties: only itself counts)."""
        return any(t.id == self.thread_id or t.created_at < self.created_at for t in page.threads)


def newer(a: Mark | None, b: Mark | None) -> Mark | None:
    if a is None or b is None:
        return a or b
    return b if b.created_at > a.created_at else a


def _state_mark(thread_id: str, created_at: datetime | None) -> Mark | None:
    return Mark(thread_id, created_at) if thread_id and created_at else None


class Sync:
    """The syncs of one source, run by the holder of its lease."""

    def __init__(
        self,
        *,
        source: Source,
        lease: HeldLease,
        config: IndexConfig,
        client: ChatKitClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.lease = lease
        self.config = config
        self._patience = Patience(
            retries=config.backoff_retries, max_seconds=config.backoff_max_seconds
        )
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self._last_call: float | None = None
        self._interleaving = False
        self._pool: ThreadPoolExecutor | None = None

    # --- Runs ---------------------------------------------------------------------------

    def run(self, kind: SyncKind, *, trigger: SyncTrigger, requested_by: str = "") -> SyncRun:
        """One run of `kind`, recorded in a SyncRun however it ends."""
        run = self._start_run(kind, trigger=trigger, requested_by=requested_by)
        passes = {
            SyncKind.INCREMENTAL: self._incremental,
            SyncKind.RECENT: self._recent,
            SyncKind.FULL: self._full,
        }
        try:
            try:
                passes[SyncKind(kind)](run)
            finally:
                if self._pool is not None:
                    self._pool.shutdown(wait=True, cancel_futures=True)
                    self._pool = None
        except JobCancelled as exc:
            self._finish(run, SyncOutcome.CANCELLED, str(exc))
        except LeaseLost as exc:
            self._finish(run, SyncOutcome.FAILED, f"{exc} Another worker may have taken over.")
        except ChatKitError as exc:
            self._note_request_id(run, exc.request_id)
            self._finish(run, SyncOutcome.FAILED, str(exc))
        except KeyboardInterrupt:
            self._finish(run, SyncOutcome.CANCELLED, "Stopped by an interrupt (Ctrl-C).")
            raise
        except Exception as exc:
            logger.exception("thread index: %s sync %s failed", run.kind, run.pk)
            self._finish(run, SyncOutcome.FAILED, f"Internal error ({type(exc).__name__}).")
            raise
        else:
            self._finish(run, SyncOutcome.SUCCEEDED)
        return run

    def _start_run(self, kind: str, *, trigger: str, requested_by: str) -> SyncRun:
        now = timezone.now()
        run = SyncRun.objects.create(
            source=self.source,
            kind=kind,
            trigger=trigger,
            requested_by=requested_by[:150],
            started_at=now,
            heartbeat_at=now,
            holder=self.lease.holder,
        )
        state = self._state(kind)
        state.last_started_at = now
        update = ["last_started_at"]
        if state.requested_at:  # any run of the kind answers a "sync now"
            state.requested_at, state.requested_by = None, ""
            update += ["requested_at", "requested_by"]
        state.save(update_fields=update)
        return run

    def _finish(self, run: SyncRun, outcome: SyncOutcome, error: str = "") -> None:
        run.outcome = outcome
        run.error = error
        run.finished_at = timezone.now()
        run.heartbeat_at = run.finished_at
        run.save()
        log = logger.info if outcome == SyncOutcome.SUCCEEDED else logger.warning
        log(
            "thread index: %s sync %s %s: %d pages, %d calls, %d new, %d changed, %d gone%s",
            run.kind, run.pk, outcome, run.pages, run.calls, run.new, run.changed, run.gone,
            f" ({error})" if error else "",
        )  # fmt: skip

    def _state(self, kind: str) -> SyncState:
        state, _ = SyncState.objects.get_or_create(source=self.source, kind=kind)
        return state

    # --- The three passes ---------------------------------------------------------------

    def _incremental(self, run: SyncRun) -> None:
        state = self._state(SyncKind.INCREMENTAL)
        mark = _state_mark(state.mark_thread_id, state.mark_created_at)
        if mark is None:
            # A full sweep in progress will read everything below where it began.
            full = self._state(SyncKind.FULL)
            if full.pass_started_at:
                mark = _state_mark(full.pass_top_thread_id, full.pass_top_created_at)
        if state.cursor:
            # An earlier pass stopped early: read the gap it left before anything else.
            top = _state_mark(state.pass_top_thread_id, state.pass_top_created_at)
            mark = self._read_down(run, state, cursor=state.cursor, top=top, mark=mark)
        self._read_down(run, state, cursor=None, top=None, mark=mark)

    def _read_down(
        self,
        run: SyncRun,
        state: SyncState,
        *,
        cursor: str | None,
        top: Mark | None,
        mark: Mark | None,
    ) -> Mark | None:
        """Read from `cursor` (None: the newest) down to `mark`; return the new mark."""
        page = self._first_page(run, cursor, state.cursor_fallbacks)
        while page is not None:
            if top is None:
                top = Mark.first_of(page)
            done = (mark is not None and mark.reached_by(page)) or not _continues(page)
            if done:
                new_mark = newer(mark, top)
                state.mark_thread_id = new_mark.thread_id if new_mark else ""
                state.mark_created_at = new_mark.created_at if new_mark else None
                _clear_checkpoint(state)
            else:
                _set_checkpoint(state, page, top)
            upcoming = None if done else self._prefetch(after=_last_id(page))
            self._write_page(run, page, state=state)
            if done:
                return newer(mark, top)
            page = self._fetch(run, after=_last_id(page), started=upcoming)
        # The gap's cursor thread and its fallbacks were all deleted: drop the gap; the pass
        # from the newest thread goes on down to the old mark and so reads it again.
        _clear_checkpoint(state)
        state.save()
        return mark

    def _recent(self, run: SyncRun) -> None:
        started = timezone.now()
        cutoff = started - timedelta(days=self.config.recent_days)
        page = self._fetch(run, after=None)
        while True:
            more = _continues(page) and page.threads[-1].created_at >= cutoff
            upcoming = self._prefetch(after=_last_id(page)) if more else None
            self._write_page(run, page)
            if not more:
                break
            self._interleave(SyncKind.INCREMENTAL)
            page = self._fetch(run, after=_last_id(page), started=upcoming)
        # The whole window was read: what it holds that the pass did not see is gone.
        self._mark_gone(run, Q(created_at__gte=cutoff, last_seen_at__lt=started))

    def _full(self, run: SyncRun) -> None:
        state = self._state(SyncKind.FULL)
        if state.pass_started_at is None:
            state.pass_started_at = timezone.now()
            state.pass_run = run
            _clear_checkpoint(state)
            state.save()
        elif state.pass_run_id != run.pk:
            run.resumed_from_id = state.pass_run_id
            run.save(update_fields=["resumed_from"])
        page = self._first_page(run, state.cursor or None, state.cursor_fallbacks)
        if page is None:
            logger.info("thread index: the sweep's checkpoint threads are gone; from the top")
            _clear_checkpoint(state)
            page = self._fetch(run, after=None)
        top = _state_mark(state.pass_top_thread_id, state.pass_top_created_at)
        while True:
            if top is None:
                top = Mark.first_of(page)
            _set_checkpoint(state, page, top)
            upcoming = self._prefetch(after=_last_id(page)) if _continues(page) else None
            self._write_page(run, page, state=state)
            if upcoming is None:
                break
            self._interleave(SyncKind.INCREMENTAL, SyncKind.RECENT)
            page = self._fetch(run, after=_last_id(page), started=upcoming)
        # Completed without error: every thread that exists was seen since it began.
        self._mark_gone(run, Q(last_seen_at__lt=state.pass_started_at))
        with transaction.atomic():
            incremental = self._state(SyncKind.INCREMENTAL)
            if not incremental.cursor:
                current = _state_mark(incremental.mark_thread_id, incremental.mark_created_at)
                if (new_mark := newer(current, top)) is not None:
                    incremental.mark_thread_id = new_mark.thread_id
                    incremental.mark_created_at = new_mark.created_at
                    incremental.save()
            state.pass_started_at = None
            state.pass_run = None
            _clear_checkpoint(state)
            state.save()

    def _interleave(self, *kinds: SyncKind) -> None:
        """Between a long pass's pages: run the shorter passes that are due, so the index
        keeps its freshness targets while one sync holds the lease for an hour."""
        if self._interleaving:
            return
        periods = {
            SyncKind.INCREMENTAL: self.config.sync_seconds,
            SyncKind.RECENT: self.config.recent_seconds,
        }
        for kind in kinds:
            state = self._state(kind)
            due = timezone.now() - timedelta(seconds=periods[kind])
            if state.last_started_at and state.last_started_at > due and not state.requested_at:
                continue
            self._run_interleaved(kind)

    def _run_interleaved(self, kind: SyncKind) -> None:
        self._interleaving = True
        try:
            sub = self._start_run(kind, trigger=SyncTrigger.INTERLEAVED, requested_by="")
            try:
                self._incremental(sub) if kind == SyncKind.INCREMENTAL else self._recent(sub)
            except ChatKitError as exc:
                # The sweep's own next call will meet the same trouble and say so.
                self._note_request_id(sub, exc.request_id)
                self._finish(sub, SyncOutcome.FAILED, str(exc))
            except (JobCancelled, LeaseLost) as exc:
                self._finish(sub, SyncOutcome.CANCELLED, str(exc))
                raise
            else:
                self._finish(sub, SyncOutcome.SUCCEEDED)
        finally:
            self._interleaving = False

    # --- Pages ----------------------------------------------------------------------------

    def _write_page(
        self, run: SyncRun, page: ThreadPage, *, state: SyncState | None = None
    ) -> None:
        """The page's threads, counters, run progress and `state` (its checkpoint, already
        moved past the page): one transaction."""
        with transaction.atomic():
            result = write_threads(
                source=self.source, threads=page.threads, observed_at=timezone.now(), run=run
            )
            run.pages += 1
            run.new += result.new
            run.changed += result.changed
            run.skipped += result.skipped
            self._save_progress(run)
            if state is not None:
                state.save()
            # In the page's transaction: one commit per page, and a lost lease undoes the page.
            self.lease.extend(progress={"run": run.pk, "kind": run.kind, "pages": run.pages})
        self.lease.stop_if_cancelled()

    def _mark_gone(self, run: SyncRun, where: Q) -> None:
        run.gone += mark_gone(source=self.source, where=where, observed_at=timezone.now())
        self._save_progress(run)

    def _save_progress(self, run: SyncRun) -> None:
        run.heartbeat_at = timezone.now()
        run.save(
            update_fields=[
                "pages", "calls", "new", "changed", "gone", "skipped", "request_ids",
                "heartbeat_at",
            ]
        )  # fmt: skip

    def _first_page(self, run: SyncRun, cursor: str | None, fallbacks: list) -> ThreadPage | None:
        """The page after `cursor`, or after the newest fallback still there; None if none is."""
        if cursor is None:
            return self._fetch(run, after=None)
        for candidate in [cursor, *reversed(fallbacks or [])]:
            try:
                return self._fetch(run, after=candidate)
            except (ChatKitInvalidRequestError, ChatKitNotFoundError) as exc:
                if isinstance(exc, ChatKitInvalidRequestError) and exc.param not in (None, "after"):
                    raise
                logger.info("thread index: cursor thread %r is gone", candidate)
        return None

    def _prefetch(self, *, after: str) -> Future:
        """Start the call for the page after `after` while this one is written, so a sync
        takes max(upstream, database) per page rather than their sum. Only pages that will
        be read are asked for early: a pass that stops costs no extra call."""
        self._pace()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-prefetch")
        client = self._client or get_client()
        return self._pool.submit(client.list_threads, limit=PAGE_SIZE, order="desc", after=after)

    def _fetch(
        self, run: SyncRun, *, after: str | None, started: Future | None = None
    ) -> ThreadPage:
        """One page through the client, paced; rate limits and outages are waited out.
        `started`: the same call begun by `_prefetch`, whose answer counts as the first try."""
        client = self._client or get_client()
        attempt = 0
        while True:
            run.calls += 1
            try:
                if started is not None:
                    call, started = started, None
                    return call.result()
                self._pace()
                return client.list_threads(limit=PAGE_SIZE, order="desc", after=after)
            except (ChatKitRateLimitError, ChatKitUnavailableError) as exc:
                self._note_request_id(run, exc.request_id)
                wait = self._patience.wait_before_retry(attempt, exc)
                if wait is None:
                    raise  # out of patience, or asked to wait longer than a run does
                logger.warning("thread index: %s; trying the page again in %.1f s", exc, wait)
                self._save_progress(run)
                self.lease.sleep(wait)
                attempt += 1
            except ChatKitError as exc:
                self._note_request_id(run, exc.request_id)
                raise

    def _pace(self) -> None:
        interval = 1 / self.config.max_calls_per_second
        if self._last_call is not None:
            wait = self._last_call + interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_call = self._clock()

    def _note_request_id(self, run: SyncRun, request_id: str | None) -> None:
        if request_id and request_id not in run.request_ids:
            run.request_ids = [*run.request_ids, request_id][-MAX_REQUEST_IDS:]


def _continues(page: ThreadPage) -> bool:
    return bool(page.threads) and page.has_more


def _last_id(page: ThreadPage) -> str:
    return page.last_id or page.threads[-1].id


def _set_checkpoint(state: SyncState, page: ThreadPage, top: Mark | None) -> None:
    # Only ids the index can hold are stored: a resume from one a little earlier re-reads a
    # few threads, which is harmless.
    ids = [thread.id for thread in page.threads if indexable(thread)]
    state.cursor = ids[-1] if ids else ""
    state.cursor_fallbacks = ids[-FALLBACK_CURSORS - 1 : -1]
    state.pass_top_thread_id = top.thread_id if top else ""
    state.pass_top_created_at = top.created_at if top else None


def _clear_checkpoint(state: SyncState) -> None:
    state.cursor = ""
    state.cursor_fallbacks = []
    state.pass_top_thread_id = ""
    state.pass_top_created_at = None


def close_abandoned_runs(source: Source) -> int:
    """Runs still "running" when their source's lease is free again were killed; say so.

    Called by the new holder of the lease, so no live run can be among them.
    """
    return SyncRun.objects.filter(source=source, outcome=SyncOutcome.RUNNING).update(
        outcome=SyncOutcome.FAILED,
        finished_at=timezone.now(),
        error="Interrupted: its worker stopped before the run ended.",
    )


def run_sync(
    *,
    kind: SyncKind,
    trigger: SyncTrigger,
    requested_by: str = "",
    client: ChatKitClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncRun | None:
    """Run one sync of the configured source now; None if another sync holds its lease."""
    source = current_source()
    config: IndexConfig = settings.THREAD_INDEX
    try:
        with hold_lease(lease_name(source), ttl=config.lease_seconds, sleep=sleep) as lease:
            close_abandoned_runs(source)
            sync = Sync(source=source, lease=lease, config=config, client=client, sleep=sleep)
            return sync.run(kind, trigger=trigger, requested_by=requested_by)
    except LeaseBusy:
        logger.info("thread index: a sync of %s is already running; %s skipped", source, kind)
        return None
