"""The use cases of data-subject requests; each records its own audit events.

Asking for a request (pages and `manage.py data_request` alike) checks who asks, writes the
request and its audit record, and hands the job to the worker; the job (jobs.py) records
its own steps. The erasure's dry run, a cancel, a download and an expiry are audited here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dashboard.audit.models import AuditAction
from dashboard.audit.services import Actor, record_event
from dashboard.chatkit.client import MAX_LIMIT, MAX_USER_LENGTH, get_client
from dashboard.chatkit.types import Thread
from dashboard.jobs.leases import current_lease, request_cancel

from .archive import archive_storage
from .jobs import LEASE_SECONDS
from .models import (
    MAX_TICKET_LENGTH,
    DataRequest,
    RequestKind,
    RequestState,
)

logger = logging.getLogger(__name__)

DELETE_PERMISSION = "threads.delete_thread"
# A dry run lists at most this many pages of the user's threads (the job itself lists all).
DRY_RUN_MAX_PAGES = 50
ACTIVE_STATES = (RequestState.PENDING, RequestState.RUNNING)


class DataRequestRefused(Exception):
    """The request cannot be made: who asks, or what is asked, is not allowed. `message` is
    for the person asking."""

    def __init__(self, message: str, *, existing: DataRequest | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.existing = existing


# --- Asking -------------------------------------------------------------------------------


def check_end_user(end_user: str) -> str:
    """What is wrong with `end_user` as a ChatKit user id, or "". Any character is allowed."""
    if not end_user:
        return "Give the end user's id exactly as your app sends it to ChatKit."
    if len(end_user) > MAX_USER_LENGTH:
        return f"User ids are at most {MAX_USER_LENGTH} characters; this one has {len(end_user):,}."
    return ""


def check_requester(actor: Actor, kind: RequestKind) -> str:
    """Why `actor` may not ask for a request of `kind`, or ""."""
    if not (actor.is_authenticated and actor.is_active and actor.is_staff):
        return "Only active staff accounts may make data requests."
    if kind == RequestKind.ERASURE and not actor.has_perm(DELETE_PERMISSION):
        return (
            "Erasing a user's threads needs the “Can delete ChatKit threads” permission. "
            "Ask an administrator if your work requires it."
        )
    return ""


def data_request_create(
    *,
    actor: Actor,
    kind: RequestKind,
    end_user: str,
    ticket: str,
    dry_run_threads: int | None = None,
    enqueue: bool = True,
) -> DataRequest:
    """Write the request and its audit record; hand it to the worker unless `enqueue` is
    off (the command runs it in its own process). Raises DataRequestRefused."""
    problem = check_requester(actor, kind) or check_end_user(end_user)
    # check_requester refuses anonymous actors; the second test only narrows the type.
    if problem or not actor.is_authenticated:
        raise DataRequestRefused(problem)
    ticket = ticket.strip()
    if not ticket:
        raise DataRequestRefused("Give the ticket this request comes from.")
    if len(ticket) > MAX_TICKET_LENGTH:
        raise DataRequestRefused(f"Ticket references are at most {MAX_TICKET_LENGTH} characters.")
    with transaction.atomic():
        if kind == RequestKind.ERASURE:
            existing = (
                DataRequest.objects.select_for_update()
                .filter(kind=kind, end_user=end_user, state__in=ACTIVE_STATES)
                .first()
            )
            if existing is not None:
                raise DataRequestRefused(
                    f"Erasure #{existing.pk} of this user is already {existing.state}; "
                    "one erasure per user runs at a time.",
                    existing=existing,
                )
        request = DataRequest.objects.create(
            kind=kind,
            end_user=end_user,
            requested_by=actor,
            requested_by_username=actor.get_username(),
            ticket=ticket,
            dry_run_threads=dry_run_threads,
        )
        record_event(
            actor=actor,
            action=AuditAction.DATA_REQUESTED,
            end_user=end_user,
            details={
                "data_request": request.pk,
                "kind": kind.value,
                "ticket": ticket,
                "dry_run_threads": dry_run_threads,
            },
        )
        if enqueue:
            transaction.on_commit(lambda: enqueue_request(request.pk))
    return request


def enqueue_request(request_id: int) -> None:
    from .tasks import run_data_request  # the task module imports this one

    run_data_request(request_id)


@dataclass(frozen=True, slots=True)
class DryRun:
    """What an erasure would delete, as the live list shows it now."""

    end_user: str
    threads: tuple[Thread, ...]
    # False when the listing stopped at DRY_RUN_MAX_PAGES pages: more threads may exist.
    complete: bool
    request_id: str | None


def erasure_dry_run(*, actor: Actor, end_user: str) -> DryRun:
    """Every thread of the user (up to DRY_RUN_MAX_PAGES pages), deleting nothing. Viewing
    them is recorded as viewing the user's threads. Upstream errors rise to the caller."""
    problem = check_end_user(end_user)
    if problem:
        raise DataRequestRefused(problem)
    client = get_client()
    threads: list[Thread] = []
    after: str | None = None
    request_id: str | None = None
    complete = False
    for _ in range(DRY_RUN_MAX_PAGES):
        page = client.list_threads(user=end_user, after=after, limit=MAX_LIMIT, order="desc")
        request_id = request_id or page.request_id
        threads.extend(thread for thread in page.threads if thread.user == end_user)
        cursor = page.last_id or (page.threads[-1].id if page.threads else None)
        if not page.has_more or not page.threads or cursor == after:
            complete = True
            break
        after = cursor
    record_event(
        actor=actor,
        action=AuditAction.VIEWED_USER_THREADS,
        end_user=end_user,
        upstream_request_id=request_id,
        details={"purpose": "erasure dry run", "threads": len(threads), "complete": complete},
    )
    return DryRun(
        end_user=end_user, threads=tuple(threads), complete=complete, request_id=request_id
    )


# --- Reading ------------------------------------------------------------------------------


def data_request_list() -> QuerySet[DataRequest]:
    return DataRequest.objects.all()


def data_request_get(*, request_id: int) -> DataRequest:
    """The request; DataRequest.DoesNotExist if there is none."""
    return DataRequest.objects.get(pk=request_id)


def data_request_worker_seen(request: DataRequest) -> bool:
    """Whether a worker holds the request's job right now."""
    return current_lease(request.lease_name) is not None


# --- Cancelling ---------------------------------------------------------------------------


def data_request_cancel(*, actor: Actor, request_id: int) -> bool:
    """Ask the request's job to stop (a pending one never starts); audited. False if it had
    already finished."""
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().get(pk=request_id)
        if request.is_final:
            return False
        username = actor.get_username()
        request.cancel_requested_at = timezone.now()
        request.cancel_requested_by = username[:150]
        request.save(update_fields=["cancel_requested_at", "cancel_requested_by", "updated_at"])
        was_running = request_cancel(request.lease_name, by=username)
        record_event(
            actor=actor,
            action=AuditAction.DATA_REQUEST_CANCELLED,
            end_user=request.end_user,
            details={
                "data_request": request.pk,
                "kind": request.kind,
                "state": request.state,
                "was_running": was_running,
                "done": request.threads_done,
            },
        )
    if not was_running and request.state == RequestState.PENDING:
        # No worker has it: settle it now rather than wait for one to pick it up.
        from .jobs import run_request

        run_request(request.pk)
    return True


# --- The archive --------------------------------------------------------------------------


class ArchiveUnavailable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ArchiveDownload:
    file: IO[bytes]
    filename: str
    size: int | None


def data_request_archive(*, actor: Actor, request_id: int) -> ArchiveDownload:
    """The export's archive, opened for download; each download is audited."""
    request = data_request_get(request_id=request_id)
    if not (actor.is_authenticated and actor.is_active and actor.is_staff):
        raise ArchiveUnavailable("Only staff may download data export archives.")
    if request.kind != RequestKind.EXPORT or not request.archive_name:
        raise ArchiveUnavailable("This request has no archive.")
    if request.archive_removed_at is not None:
        raise ArchiveUnavailable(
            f"This archive expired and was removed on {request.archive_removed_at:%Y-%m-%d %H:%M} "
            "UTC. Make a new export to get the data again."
        )
    try:
        opened = archive_storage().open(request.archive_name, "rb")
    except OSError:
        logger.warning("data request %s: its archive is missing from storage", request.pk)
        raise ArchiveUnavailable(
            "The archive is missing from storage. Make a new export to get the data again."
        ) from None
    record_event(
        actor=actor,
        action=AuditAction.DOWNLOADED_ARCHIVE,
        end_user=request.end_user,
        details={
            "data_request": request.pk,
            "ticket": request.ticket,
            "archive": request.archive_name,
        },
    )
    return ArchiveDownload(
        file=opened,
        filename=f"chatkit-export-{request.pk}.zip",
        size=request.archive_bytes,
    )


def archives_expire(*, now: datetime | None = None) -> list[DataRequest]:
    """Remove every archive past its expiry from storage; each removal audited."""
    now = now or timezone.now()
    expired = DataRequest.objects.filter(
        archive_removed_at__isnull=True, archive_expires_at__lte=now
    ).exclude(archive_name="")
    removed = []
    for request in expired:
        # The filter above: every row here has an expiry.
        assert request.archive_expires_at is not None
        archive_storage().delete(request.archive_name)
        request.archive_removed_at = now
        request.save(update_fields=["archive_removed_at", "updated_at"])
        record_event(
            actor=AnonymousUser(),
            action=AuditAction.ARCHIVE_EXPIRED,
            end_user=request.end_user,
            details={
                "data_request": request.pk,
                "ticket": request.ticket,
                "archive": request.archive_name,
                "expired_at": request.archive_expires_at.isoformat(),
            },
        )
        removed.append(request)
    return removed


# --- Resuming -----------------------------------------------------------------------------


def abandoned_requests(*, now: datetime | None = None) -> list[DataRequest]:
    """Requests still pending or running that no worker holds, quiet for a lease's lifetime:
    their worker died (or their task was lost). The periodic task runs them again."""
    now = now or timezone.now()
    quiet = now - timedelta(seconds=LEASE_SECONDS)
    candidates = DataRequest.objects.filter(
        Q(state__in=ACTIVE_STATES), updated_at__lt=quiet
    ).order_by("created_at")
    return [request for request in candidates if not data_request_worker_seen(request)]


def resume_abandoned(*, run: Callable[[int], object] = enqueue_request) -> list[int]:
    ids = [request.pk for request in abandoned_requests()]
    for request_id in ids:
        logger.info("data request %s: no worker holds it; running it again", request_id)
        run(request_id)
    return ids
