"""Data-subject requests: one end user's threads exported, or erased, as an audited job.

A `DataRequest` is the request and its running account (state, counters, failures); each
thread the job found is a `RequestThread` row, so a restarted worker knows exactly which
threads are still to do, and the page can list what happened to each.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.audit.models import MAX_ID_LENGTH, MAX_REQUEST_ID_LENGTH

MAX_TICKET_LENGTH = 200


class RequestKind(models.TextChoices):
    EXPORT = "export", "Export"
    ERASURE = "erasure", "Erasure"


class RequestState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATES = frozenset({RequestState.DONE, RequestState.FAILED, RequestState.CANCELLED})


class DataRequest(models.Model):
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    end_user = models.CharField("ChatKit user", max_length=MAX_ID_LENGTH)
    # The account may be deleted later; the name it had stays in `requested_by_username`.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="data_requests",
    )
    requested_by_username = models.CharField(max_length=150)
    ticket = models.CharField("ticket reference", max_length=MAX_TICKET_LENGTH)
    # How many threads the operator saw in an erasure's dry run before confirming.
    dry_run_threads = models.PositiveIntegerField(null=True, blank=True)

    state = models.CharField(
        max_length=16, choices=RequestState.choices, default=RequestState.PENDING
    )
    threads_found = models.PositiveIntegerField(default=0)
    threads_done = models.PositiveIntegerField(default=0)
    threads_failed = models.PositiveIntegerField(default=0)
    # Every thread of the user has been listed into RequestThread rows.
    discovered = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    # The upstream's x-request-id of every failed call, for reports to OpenAI.
    failure_request_ids = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.CharField(max_length=150, blank=True)

    # An erasure's verification: the user's threads listed again at the end (None: not run).
    remaining_threads = models.PositiveIntegerField(null=True, blank=True)
    remaining_thread_ids = models.JSONField(default=list, blank=True)

    # An export's archive, by its name in the data-requests storage.
    archive_name = models.CharField(max_length=300, blank=True)
    archive_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    archive_expires_at = models.DateTimeField(null=True, blank=True)
    archive_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "data request"
        indexes = [models.Index(fields=["state", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of {self.end_user[:40]}"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def lease_name(self) -> str:
        """The job lease: one erasure per end user at a time; an export per request."""
        if self.kind == RequestKind.ERASURE:
            return erasure_lease_name(self.end_user)
        return f"data_requests.export:{self.pk}"

    @property
    def archive_available(self) -> bool:
        return bool(self.archive_name) and self.archive_removed_at is None


def erasure_lease_name(end_user: str) -> str:
    # User ids may be 512 characters of anything; the lease name holds 200.
    digest = hashlib.sha256(end_user.encode("utf-8", "surrogatepass")).hexdigest()
    return f"data_requests.erasure:{digest}"


class ThreadOutcome(models.TextChoices):
    PENDING = "pending", "To do"
    DONE = "done", "Done"
    # Already deleted when the job reached it (by someone else, or an answer lost earlier).
    GONE = "gone", "Already gone"
    FAILED = "failed", "Failed"


class RequestThread(models.Model):
    """One thread of the request's user, as the job found it, and what became of it."""

    request = models.ForeignKey(DataRequest, on_delete=models.CASCADE, related_name="threads")
    thread_id = models.CharField(max_length=MAX_ID_LENGTH)
    title = models.TextField(blank=True)
    created_at = models.DateTimeField(null=True)
    # The thread's status type when it was listed ("active", "locked", "closed", ...).
    status = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(
        max_length=16, choices=ThreadOutcome.choices, default=ThreadOutcome.PENDING
    )
    items = models.PositiveIntegerField(null=True, blank=True)
    upstream_request_id = models.CharField(max_length=MAX_REQUEST_ID_LENGTH, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "thread_id"], name="one_row_per_thread")
        ]

    def __str__(self) -> str:
        return f"{self.thread_id} ({self.outcome})"
