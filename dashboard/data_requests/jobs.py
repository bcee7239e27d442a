"""The export and erasure jobs: plain functions that the task queue, `manage.py data_request`
and the tests run alike.

A job first lists every thread of the user through the live list endpoint (`user=`, every
page) into `RequestThread` rows, then works through the rows still to do, saving each
outcome with its audit record as it goes. That makes it resumable: a worker killed mid-job
leaves the request running with its rows as they were; whoever runs it next (the periodic
`resume_data_requests`, or the command again) skips what is done. An erasure's row saved
just before a kill is deleted again next time, finds a 404, and counts as already gone.

One erasure per end user runs at a time (a database lease named after the user); an export
holds a lease of its own request. Between threads the job renews its lease and checks the
request's cancel flag; waits for rate limits renew it too. Rate limits and outages that
outlast the client's own retries are waited out here (Retry-After, else 1, 2, 4… s) a few
times before the thread counts as failed; a rejected key fails the whole job, since every
further call would fail the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone

from dashboard.audit.models import AuditAction
from dashboard.audit.services import Actor, record_event
from dashboard.chatkit.client import ChatKitClient, get_client
from dashboard.chatkit.errors import (
    ChatKitAuthenticationError,
    ChatKitBadResponseError,
    ChatKitError,
    ChatKitNotConfiguredError,
    ChatKitNotFoundError,
    ChatKitRateLimitError,
    ChatKitUnavailableError,
)
from dashboard.chatkit.types import Thread
from dashboard.jobs.leases import HeldLease, JobCancelled, LeaseBusy, LeaseLost, hold_lease
from dashboard.jobs.patience import Patience
from dashboard.thread_index.writethrough import record_gone

from .archive import ArchiveBuilder, ThreadFile, thread_file_name
from .models import DataRequest, RequestKind, RequestState, RequestThread, ThreadOutcome

logger = logging.getLogger(__name__)

T = TypeVar("T")
PAGE_SIZE = 100
LEASE_SECONDS = 60.0
PATIENCE = Patience(retries=6, max_seconds=120.0)
# Kept on the request; a job with more failures still counts them all.
MAX_FAILURE_IDS = 200
MAX_REMAINING_IDS = 100
# Errors after which no further call can succeed.
FATAL_ERRORS = (ChatKitAuthenticationError, ChatKitNotConfiguredError)

Progress = Callable[[DataRequest], None]


def run_request(
    request_id: int,
    *,
    client: ChatKitClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Progress | None = None,
) -> DataRequest | None:
    """Run the request, or continue it where it stopped; None if another job holds its lease
    (the same user's erasure, or this very request in another worker)."""
    request = DataRequest.objects.get(pk=request_id)
    if request.is_final:
        return request
    if request.cancel_requested_at and request.state == RequestState.PENDING:
        _finish(request, RequestState.CANCELLED, f"Cancelled by {request.cancel_requested_by}.")
        return request
    try:
        with hold_lease(request.lease_name, ttl=LEASE_SECONDS, sleep=sleep) as lease:
            Job(request, lease=lease, client=client or get_client(), on_progress=on_progress).run()
    except LeaseBusy:
        return None
    request.refresh_from_db()
    return request


class Job:
    def __init__(
        self,
        request: DataRequest,
        *,
        lease: HeldLease,
        client: ChatKitClient,
        on_progress: Progress | None,
    ) -> None:
        self.request = request
        self.lease = lease
        self.client = client
        self.on_progress = on_progress

    def run(self) -> None:
        self._start()
        try:
            if not self.request.discovered:
                self._discover()
            if self.request.kind == RequestKind.ERASURE:
                self._erase()
                self._verify()
            else:
                self._export()
        except JobCancelled as cancelled:
            _finish(self.request, RequestState.CANCELLED, str(cancelled))
        except LeaseLost:
            # Another worker took over; it continues from the rows saved so far.
            logger.warning("data request %s: lease lost, leaving it to its new holder", self.pk)
        except ChatKitError as error:
            self._note_failure(error.request_id)
            _finish(self.request, RequestState.FAILED, str(error))
        except Exception:
            logger.exception("data request %s failed", self.pk)
            _finish(self.request, RequestState.FAILED, "The job failed on an internal error.")
        else:
            _finish(self.request, RequestState.DONE)

    @property
    def pk(self) -> int:
        return self.request.pk

    # --- Steps -------------------------------------------------------------------------

    def _start(self) -> None:
        request = self.request
        resumed = request.started_at is not None
        request.state = RequestState.RUNNING
        request.started_at = request.started_at or timezone.now()
        request.save(update_fields=["state", "started_at", "updated_at"])
        record_event(
            actor=requester(request),
            action=AuditAction.DATA_REQUEST_STARTED,
            end_user=request.end_user,
            details={
                **_about(request),
                "resumed": resumed,
                "done_before": request.threads_done,
                "worker": self.lease.holder,
            },
        )

    def _discover(self) -> None:
        """Every thread of the user, by the live list (never only the index)."""
        for page in self._user_pages():
            rows = [
                RequestThread(
                    request=self.request,
                    thread_id=thread.id,
                    title=thread.title or "",
                    created_at=thread.created_at,
                    status=thread.status.raw_type,
                )
                for thread in page
            ]
            RequestThread.objects.bulk_create(rows, ignore_conflicts=True)
            self._checkpoint()
        self.request.threads_found = self.request.threads.count()
        self.request.discovered = True
        self._save("threads_found", "discovered")

    def _user_pages(self) -> Iterator[list[Thread]]:
        """The user's threads, oldest first, a page at a time; only that exact user's."""
        user = self.request.end_user
        after: str | None = None
        while True:
            page = self._call(
                partial(
                    self.client.list_threads, user=user, after=after, limit=PAGE_SIZE, order="asc"
                )
            )
            mine = [thread for thread in page.threads if thread.user == user]
            if len(mine) < len(page.threads):
                # A filter the upstream got wrong must never make us touch someone else's data.
                logger.error(
                    "data request %s: the upstream listed %d threads of other users for user=",
                    self.pk,
                    len(page.threads) - len(mine),
                )
            yield mine
            if not page.has_more or not page.threads:
                return
            after = _next_cursor(after, page.last_id or page.threads[-1].id, page.request_id)

    def _erase(self) -> None:
        for row in self._rows_to_do():
            self._checkpoint()
            try:
                result = self._call(partial(self.client.delete_thread, row.thread_id))
                if not result.deleted or result.id != row.thread_id:
                    raise ChatKitBadResponseError(
                        "The ChatKit API answered the deletion without confirming it; the "
                        "thread may still exist.",
                        request_id=result.request_id,
                    )
            except ChatKitNotFoundError as error:
                self._erased(row, ThreadOutcome.GONE, error.request_id, error=error)
            except FATAL_ERRORS:
                raise
            except ChatKitError as error:
                self._erased(row, ThreadOutcome.FAILED, error.request_id, error=error)
            else:
                self._erased(row, ThreadOutcome.DONE, result.request_id)

    def _erased(
        self,
        row: RequestThread,
        outcome: ThreadOutcome,
        request_id: str | None,
        *,
        error: ChatKitError | None = None,
    ) -> None:
        """The row's outcome, the counters and the audit record: one transaction."""
        details: dict[str, Any] = _about(self.request)
        if error is not None:
            details.update(status=error.status, error=error.message)
        if outcome == ThreadOutcome.GONE:
            details["already_gone"] = True
        with transaction.atomic():
            self._settle(row, outcome, request_id, error)
            record_event(
                actor=requester(self.request),
                action=(
                    AuditAction.DELETED_THREAD
                    if outcome == ThreadOutcome.DONE
                    else AuditAction.DELETE_FAILED
                ),
                thread_id=row.thread_id,
                end_user=self.request.end_user,
                upstream_request_id=request_id,
                details=details,
            )
        if outcome != ThreadOutcome.FAILED:
            record_gone(thread_id=row.thread_id)
        self._progress()

    def _verify(self) -> None:
        """List the user again: threads created meanwhile, or that failed, remain."""
        remaining = [thread.id for page in self._user_pages() for thread in page]
        self.request.remaining_threads = len(remaining)
        self.request.remaining_thread_ids = remaining[:MAX_REMAINING_IDS]
        self._save("remaining_threads", "remaining_thread_ids")

    def _export(self) -> None:
        request = self.request
        if request.threads.exclude(outcome=ThreadOutcome.PENDING).exists():
            # The half-built archive died with the worker that built it: start it over.
            request.threads.update(outcome=ThreadOutcome.PENDING, items=None, error="")
            request.threads_done = request.threads_failed = 0
            self._save("threads_done", "threads_failed")
        builder = ArchiveBuilder()
        names: dict[int, str] = {}
        try:
            for position, row in enumerate(self._rows_to_do(), start=1):
                self._checkpoint()
                try:
                    thread_file, status = self._read_thread(row.thread_id)
                except ChatKitNotFoundError as error:
                    self._settle(row, ThreadOutcome.GONE, error.request_id, error)
                except FATAL_ERRORS:
                    raise
                except ChatKitError as error:
                    self._settle(row, ThreadOutcome.FAILED, error.request_id, error)
                else:
                    names[row.pk] = thread_file_name(position, row.thread_id)
                    builder.add_thread(names[row.pk], thread_file)
                    row.items, row.status = thread_file.items, status
                    self._settle(row, ThreadOutcome.DONE, None, None)
                self._progress()
            self._checkpoint()
            name, size = builder.save(request=request, rows=request.threads.all(), names=names)
        except BaseException:
            builder.discard()
            raise
        request.archive_name = name
        request.archive_bytes = size
        request.archive_expires_at = timezone.now() + timedelta(
            days=settings.DATA_REQUEST_ARCHIVE_DAYS
        )
        self._save("archive_name", "archive_bytes", "archive_expires_at")

    def _read_thread(self, thread_id: str) -> tuple[ThreadFile, str]:
        """The thread and its whole transcript, oldest first, every page, as sent."""
        thread, thread_json = self._call(lambda: self.client.get_thread_json(thread_id))
        thread_file = ThreadFile(thread_json)
        try:
            after: str | None = None
            while True:
                page, body = self._call(
                    partial(
                        self.client.list_thread_items_json,
                        thread_id,
                        after=after,
                        limit=PAGE_SIZE,
                        order="asc",
                    )
                )
                thread_file.add_items(body["data"])
                if not page.has_more or not page.items:
                    return thread_file, thread.status.raw_type
                after = _next_cursor(after, page.last_id or page.items[-1].id, page.request_id)
                self.lease.renew()
        except BaseException:
            thread_file.discard()
            raise

    # --- Plumbing ----------------------------------------------------------------------

    def _rows_to_do(self) -> Iterator[RequestThread]:
        """Rows still pending, in the order found, read a batch at a time."""
        last = 0
        while True:
            batch = list(
                self.request.threads.filter(outcome=ThreadOutcome.PENDING, pk__gt=last)[:PAGE_SIZE]
            )
            if not batch:
                return
            yield from batch
            last = batch[-1].pk

    def _settle(
        self,
        row: RequestThread,
        outcome: ThreadOutcome,
        request_id: str | None,
        error: ChatKitError | None,
    ) -> None:
        row.outcome = outcome
        row.upstream_request_id = (request_id or "")[:200]
        row.error = error.message if error and outcome == ThreadOutcome.FAILED else ""
        row.save(update_fields=["outcome", "upstream_request_id", "error", "items", "status"])
        if outcome == ThreadOutcome.FAILED:
            self.request.threads_failed += 1
            self._note_failure(request_id)
        else:
            self.request.threads_done += 1
        self._save("threads_done", "threads_failed", "failure_request_ids")

    def _note_failure(self, request_id: str | None) -> None:
        ids = self.request.failure_request_ids
        if request_id and request_id not in ids and len(ids) < MAX_FAILURE_IDS:
            ids.append(request_id)
            self._save("failure_request_ids")

    def _call(self, call: Callable[[], T]) -> T:
        """`call()`, waiting out rate limits and outages that outlast the client's retries."""
        attempt = 0
        while True:
            try:
                return call()
            except (ChatKitRateLimitError, ChatKitUnavailableError) as error:
                wait = PATIENCE.wait_before_retry(attempt, error)
                if wait is None:
                    raise
                logger.warning("data request %s: %s; again in %.1f s", self.pk, error, wait)
                self.lease.sleep(wait)
                attempt += 1

    def _checkpoint(self) -> None:
        """Keep the lease and stop here if staff cancelled the request."""
        self.lease.renew(
            progress={
                "request": self.pk,
                "found": self.request.threads_found,
                "done": self.request.threads_done,
                "failed": self.request.threads_failed,
            }
        )
        cancel = (
            DataRequest.objects.filter(pk=self.pk, cancel_requested_at__isnull=False)
            .values_list("cancel_requested_by", flat=True)
            .first()
        )
        if cancel is not None:
            raise JobCancelled(f"Cancelled by {cancel or 'staff'}.")

    def _progress(self) -> None:
        if self.on_progress:
            self.on_progress(self.request)

    def _save(self, *fields: str) -> None:
        self.request.save(update_fields=[*fields, "updated_at"])


def _next_cursor(after: str | None, cursor: str, request_id: str | None) -> str:
    """The next page's cursor; a list that does not advance would be read for ever."""
    if cursor == after:
        raise ChatKitBadResponseError(
            "The ChatKit API's list did not advance past a page.", request_id=request_id
        )
    return cursor


def _finish(request: DataRequest, state: RequestState, error: str = "") -> None:
    request.state = state
    request.error = error
    request.finished_at = timezone.now()
    request.save(update_fields=["state", "error", "finished_at", "updated_at"])
    record_event(
        actor=requester(request),
        action=AuditAction.DATA_REQUEST_FINISHED,
        end_user=request.end_user,
        details={
            **_about(request),
            "state": state.value,
            "found": request.threads_found,
            "done": request.threads_done,
            "failed": request.threads_failed,
            "remaining": request.remaining_threads,
            "archive": request.archive_name,
            "error": error,
        },
    )


def requester(request: DataRequest) -> Actor:
    """Whose action the job carries out: the staff member who asked for it."""
    return request.requested_by or AnonymousUser()


def _about(request: DataRequest) -> dict[str, Any]:
    return {"data_request": request.pk, "kind": request.kind, "ticket": request.ticket}
