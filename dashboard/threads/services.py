"""The use cases: each action a person takes on live ChatKit data is one function here.

Keyword-only and typed, each takes the acting user, records its own audit event and
returns what the page shows, so no caller can forget the trail; views call exactly one and
render. What is recorded: viewing a user's threads or a thread once the upstream answered
(a failed read showed no one's data), every export that starts, and every deletion
attempt, failed ones as their own action. Reading the connection settings or a deletion's
confirmation page touches no one's conversation and records nothing.

An upstream failure rises as the client's `ChatKitError` for the web layer's error seam
(dashboard/web/problems.py), except where the page still has something true to show: a
transcript that failed under a thread that loaded, the connection check (whose finding it
is), and a deletion that finds the thread already gone.

Every live thread a use case returns is announced on `signals.threads_seen`, and every
thread found gone on `signals.thread_deleted`: the one place a local copy hooks in.
Reads without side effects live in selectors.py.

Which source answers a list is decided here, in `_answered`: the thread index
(dashboard/thread_index/answers.py) for what the upstream cannot do (a search, a date
range, a status, a sort other than creation, a page number) once it has completed a full
sweep; the live upstream otherwise. The unfiltered default view is always live.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.audit.selectors import thread_deletion
from dashboard.audit.services import Actor, record_event
from dashboard.chatkit import deadline
from dashboard.chatkit.client import get_client
from dashboard.chatkit.errors import ChatKitBadResponseError, ChatKitError, ChatKitNotFoundError
from dashboard.chatkit.items import ThreadItem
from dashboard.chatkit.types import DeletedThread, Thread
from dashboard.config import ChatKitConfig
from dashboard.thread_index.answers import (
    IndexedThreads,
    IndexPending,
    indexed_export_batches,
    indexed_threads,
    observed_history,
    readiness,
)
from dashboard.thread_index.selectors import SweepProgress, ThreadHistory
from dashboard.web.csv_export import ExportBatch, ExportScope, ThreadExport
from dashboard.web.paging import Pager, pager_for
from dashboard.web.query import ThreadQuery

from . import upstream_cache
from .export import export_batches
from .scan import ScanStep, StatusScan, describe_progress, describe_scan
from .selectors import (
    UpstreamCheck,
    thread_get,
    thread_listing,
    thread_with_items,
    upstream_check,
)
from .signals import thread_deleted, threads_seen

# --- Lists ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadList:
    """What a list page shows for its query."""

    query: ThreadQuery
    threads: tuple[Thread, ...]
    pager: Pager
    # When the upstream answered (the oldest page, for a scan); cached answers keep their time.
    fetched_at: datetime | None
    request_id: str | None = None
    scan: StatusScan | None = None
    scan_message: str = ""
    # While the browser continues a paused scan: what it has read so far.
    scan_progress: str = ""
    # A status the index would count exactly, while it is still being built.
    index_building: SweepProgress | None = None

    source = "live"

    @property
    def scan_continues(self) -> bool:
        """The scan paused for the page to show what it has: the browser reads the rest."""
        return self.scan is not None and self.scan.paused


# What a list page shows: live threads, the index's answer, or why the index cannot answer yet.
ListAnswer = ThreadList | IndexedThreads | IndexPending


def thread_list(
    *, actor: Actor, query: ThreadQuery, fresh: bool = False, in_steps: bool = True
) -> ListAnswer:
    """Every thread, or those the query filters. Filtering by user is viewing that user's
    threads, and recorded as such. `fresh` skips the shared cache (the Refresh link).
    `in_steps` lets a slow live status scan answer early and continue in the browser
    (status_scan_step); without it the scan reads all its pages first."""
    if query.user is not None:
        return user_thread_list(
            actor=actor, user=query.user, query=query, fresh=fresh, in_steps=in_steps
        )
    return _answered(query, fresh=fresh, in_steps=in_steps)


def user_thread_list(
    *, actor: Actor, user: str, query: ThreadQuery, fresh: bool = False, in_steps: bool = True
) -> ListAnswer:
    """One end user's threads, with the query's other filters; who looked is recorded."""
    query = replace(query, user=user)
    listed = _answered(query, fresh=fresh, in_steps=in_steps)
    if isinstance(listed, IndexPending):
        return listed  # nobody's threads were shown
    record_event(
        actor=actor,
        action=AuditAction.VIEWED_USER_THREADS,
        end_user=user,
        upstream_request_id=getattr(listed, "request_id", None),
        details={**query.as_params(), "source": listed.source},
    )
    return listed


def _answered(query: ThreadQuery, *, fresh: bool, in_steps: bool) -> ListAnswer:
    """The one place that chooses the index or the live upstream for a list."""
    if not query.wants_index:
        return _listed(query, fresh=fresh)
    state = readiness()
    if state.building is None:
        return indexed_threads(query=query, freshness=state.freshness)
    if query.index_only:
        return IndexPending(query=query, progress=state.building)
    # A status alone: today's live scan, saying the exact answer is on its way.
    return replace(_listed(query, fresh=fresh, in_steps=in_steps), index_building=state.building)


def status_scan_step(*, actor: Actor, query: ThreadQuery, step: ScanStep) -> ThreadList:
    """The next part of a status scan a page showed paused: its new matches, and the whole
    scan's figures. A user's threads shown this way are recorded like any page of them."""
    assert query.status is not None and query.before is None, "only forward scans pause"
    listed = _listed(query, fresh=False, continuing=step)
    if query.user is not None and listed.threads:
        record_event(
            actor=actor,
            action=AuditAction.VIEWED_USER_THREADS,
            end_user=query.user,
            upstream_request_id=listed.request_id,
            details={**query.as_params(), "source": "live", "scan_from": step.cursor},
        )
    return listed


def _listed(
    query: ThreadQuery,
    *,
    fresh: bool,
    in_steps: bool = True,
    continuing: ScanStep | None = None,
) -> ThreadList:
    # A forward status scan slower than its step shows what it has at once (scan.py); a
    # backward one (Previous) is rare and answers whole.
    step_seconds = settings.CHATKIT.status_scan_step
    pausing = in_steps and step_seconds > 0 and query.status is not None and not query.before
    listing = thread_listing(
        query,
        fresh=fresh,
        pause_after=step_seconds if pausing else None,
        continuing=continuing,
    )
    threads_seen.send_robust(
        sender=thread_list, threads=listing.threads, observed_at=listing.fetched_at
    )
    scan = listing.scan
    return ThreadList(
        query=query,
        threads=listing.threads,
        pager=pager_for(
            after=query.after,
            before=query.before,
            first_id=listing.first_id,
            last_id=listing.last_id,
            has_more=listing.has_more,
        ),
        fetched_at=listing.fetched_at,
        request_id=listing.request_id,
        scan=scan,
        scan_message=describe_scan(query, scan) if scan else "",
        scan_progress=(
            describe_progress(query, scan, max_pages=settings.CHATKIT.status_scan_pages)
            if scan and scan.paused
            else ""
        ),
    )


# --- One thread ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewedThread:
    """A thread's page: the thread, and one page of its transcript (oldest first)."""

    thread: Thread
    # None when the transcript could not be read: `transcript_error` says why.
    items: tuple[ThreadItem, ...] | None
    pager: Pager | None
    transcript_error: ChatKitError | None = None
    # What the index observed of the thread, the live answer just written through to it.
    history: ThreadHistory | None = None


def thread_view(
    *,
    actor: Actor,
    thread_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int,
    order: str = "asc",
) -> ViewedThread:
    """The thread and a page of its transcript (oldest first, or newest with "desc"), fetched
    at once; recorded once the thread itself loaded."""
    try:
        thread, page = thread_with_items(
            thread_id=thread_id, after=after, before=before, limit=limit, order=order
        )
    except ChatKitNotFoundError:
        thread_deleted.send_robust(sender=thread_view, thread_id=thread_id)
        raise
    # The live thread wins: the index takes it before its history is read.
    threads_seen.send_robust(sender=thread_view, threads=(thread,))
    history = observed_history(thread_id=thread.id)
    if isinstance(page, ChatKitError):
        # The thread itself loaded: it is shown (and recorded), with the transcript's failure.
        viewed = ViewedThread(
            thread=thread, items=None, pager=None, transcript_error=page, history=history
        )
    else:
        pager = pager_for(
            after=after,
            before=before,
            first_id=page.first_id,
            last_id=page.last_id,
            has_more=page.has_more,
        )
        viewed = ViewedThread(thread=thread, items=page.items, pager=pager, history=history)
    record_event(
        actor=actor,
        action=AuditAction.VIEWED_THREAD,
        thread_id=thread.id,
        end_user=thread.user,
        upstream_request_id=thread.request_id,
        details=_paging_details(after=after, before=before, order=order),
    )
    return viewed


def _paging_details(*, after: str | None, before: str | None, order: str) -> dict[str, str]:
    details = {k: v for k, v in (("after", after), ("before", before)) if v}
    if order != "asc":
        details["order"] = order
    return details


# --- Deletion -----------------------------------------------------------------------------


def thread_delete_confirmation(*, thread_id: str) -> Thread:
    """The thread's facts, for the page that asks to retype its id."""
    thread = thread_get(thread_id=thread_id)
    threads_seen.send_robust(sender=thread_delete_confirmation, threads=(thread,))
    return thread


@dataclass(frozen=True, slots=True)
class ThreadDeletion:
    thread_id: str
    # The thread's user, when it could be found out before deleting ("" otherwise).
    owner: str
    request_id: str | None
    # The upstream had no such thread: deleted by someone else, or by our own attempt whose
    # answer was lost (the client retries a DELETE that timed out, as OpenAI's SDK does).
    already_gone: bool = False


def thread_delete(*, actor: Actor, thread_id: str) -> ThreadDeletion:
    """Delete the thread upstream. Every attempt is recorded: failed ones as their own
    action (trying is worth knowing), so "who deleted what" lists only real deletions."""
    owner = _owner_of(thread_id)
    try:
        result = _delete_upstream(thread_id)
    except ChatKitError as error:
        record_event(
            actor=actor,
            action=AuditAction.DELETE_FAILED,
            thread_id=thread_id,
            end_user=owner,
            upstream_request_id=error.request_id,
            details={"status": error.status, "error": error.message},
        )
        if not isinstance(error, ChatKitNotFoundError):
            raise
        thread_deleted.send_robust(sender=thread_delete, thread_id=thread_id)
        return ThreadDeletion(
            thread_id=thread_id, owner=owner, request_id=error.request_id, already_gone=True
        )
    record_event(
        actor=actor,
        action=AuditAction.DELETED_THREAD,
        thread_id=thread_id,
        end_user=owner,
        upstream_request_id=result.request_id,
    )
    thread_deleted.send_robust(sender=thread_delete, thread_id=thread_id)
    return ThreadDeletion(thread_id=thread_id, owner=owner, request_id=result.request_id)


def _owner_of(thread_id: str) -> str:
    """The thread's user, for the audit record; best effort, never blocks the deletion:
    it may use half of the page's time left, the delete has the rest."""
    try:
        with deadline.portion(0.5):
            return thread_get(thread_id=thread_id).user
    except ChatKitError:
        return ""


def _delete_upstream(thread_id: str) -> DeletedThread:
    """Anything short of a confirmation is an error."""
    result = get_client().delete_thread(thread_id)
    # Cached list pages would show the deleted thread for a few more seconds.
    upstream_cache.forget_lists()
    if not result.deleted or result.id != thread_id:
        raise ChatKitBadResponseError(
            "The ChatKit API answered the deletion without confirming it; the thread may "
            "still exist.",
            request_id=result.request_id,
        )
    return result


# --- CSV export -------------------------------------------------------------------------------


def thread_export(
    *, actor: Actor, query: ThreadQuery, scope: ExportScope
) -> ThreadExport | IndexPending:
    """A CSV export of the list `query` describes, recorded once its first batch is read.

    The source is the list page's: the index answers the same queries there as here, with
    the whole filtered set (up to the cap) in the page's sort.
    That first batch is read here, before any byte of the file exists, so its failure
    still gets a proper error page and status; later batches are read as the file streams.
    """
    max_rows = settings.CHATKIT.csv_max_rows
    state = readiness() if query.wants_index else None
    if state is not None and state.building is None:
        source = "index"
        batches = indexed_export_batches(
            query=query, scope=scope, max_rows=max_rows, source=state.freshness.source
        )
    elif state is not None and state.building is not None and query.index_only:
        return IndexPending(query=query, progress=state.building)
    else:
        source = "live"
        batches = _announced(export_batches(query=query, scope=scope, max_rows=max_rows))
    first = next(batches, ExportBatch(threads=()))
    record_event(
        actor=actor,
        action=AuditAction.EXPORTED_CSV,
        end_user=query.user or "",
        upstream_request_id=first.request_id,
        details={"scope": scope, "source": source, **query.as_params()},
    )
    return ThreadExport(
        query=query,
        scope=scope,
        max_rows=max_rows,
        batches=itertools.chain([first], batches),
    )


def _announced(batches: Iterator[ExportBatch]) -> Iterator[ExportBatch]:
    for batch in batches:
        threads_seen.send_robust(sender=thread_export, threads=batch.threads)
        yield batch


# --- The connection ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """How the dashboard reaches the ChatKit API, and whether it can right now."""

    config: ChatKitConfig
    masked_key: str
    check: UpstreamCheck | None
    # Why the live check failed; the page reports it rather than failing with it.
    error: ChatKitError | None = None


def connection_check() -> ConnectionReport:
    config = settings.CHATKIT
    try:
        check, error = upstream_check(), None
    except ChatKitError as failure:
        check, error = None, failure
    return ConnectionReport(
        config=config, masked_key=masked_key(config.api_key), check=check, error=error
    )


def masked_key(key: str) -> str:
    """Enough of the key to tell which one is configured, never enough to use or search for."""
    if not key:
        return ""
    if len(key) < 20:
        return "set (too short to show any of it)"
    return f"{'sk-' if key.startswith('sk-') else ''}…{key[-4:]}"


def thread_deletion_record(*, thread_id: str) -> AuditEvent | None:
    """Who deleted `thread_id` here, and when, for its "not found" page; None if unknown.

    Reading the trail touches no one's conversation, so it records nothing itself.
    """
    return thread_deletion(thread_id=thread_id)
