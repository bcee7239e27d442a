"""The audit trail: one row per support action on upstream data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# Upstream ids and ChatKit user ids are free-form; the API caps user ids at 512.
MAX_ID_LENGTH = 512
MAX_REQUEST_ID_LENGTH = 200


class AuditAction(models.TextChoices):
    VIEWED_THREAD = "viewed_thread", "Viewed a thread"
    VIEWED_USER_THREADS = "viewed_user_threads", "Viewed a user's threads"
    DELETED_THREAD = "deleted_thread", "Deleted a thread"
    # Kept apart from deletions so "who deleted what" never lists a thread that still exists.
    DELETE_FAILED = "delete_failed", "Tried to delete a thread (failed)"
    EXPORTED_CSV = "exported_csv", "Exported a CSV"
    STARTED_INDEX_SYNC = "started_index_sync", "Started a thread index sync"
    CANCELLED_INDEX_SYNC = "cancelled_index_sync", "Cancelled a thread index sync"
    # Data-subject requests (dashboard/data_requests/): each step of each request.
    DATA_REQUESTED = "data_requested", "Requested a data export or erasure"
    DATA_REQUEST_STARTED = "data_request_started", "A data request's job started"
    DATA_REQUEST_FINISHED = "data_request_finished", "A data request's job finished"
    DATA_REQUEST_CANCELLED = "data_request_cancelled", "Cancelled a data request"
    DOWNLOADED_ARCHIVE = "downloaded_archive", "Downloaded a data export archive"
    ARCHIVE_EXPIRED = "archive_expired", "A data export archive expired and was removed"


class AuditEvent(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    # The account may be deleted later; the name it had stays in `actor_username`.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    thread_id = models.CharField("thread id", max_length=MAX_ID_LENGTH, blank=True)
    end_user = models.CharField(
        "ChatKit user", max_length=MAX_ID_LENGTH, blank=True, help_text="The thread's owner."
    )
    upstream_request_id = models.CharField(
        "upstream request id", max_length=MAX_REQUEST_ID_LENGTH, blank=True
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit event"
        # The audit page filters by each of these, newest first: one index per filter.
        indexes = [
            models.Index(fields=["actor_username", "created_at"], name="audit_actor_time"),
            models.Index(fields=["action", "created_at"], name="audit_action_time"),
            models.Index(fields=["end_user", "created_at"], name="audit_end_user_time"),
            models.Index(fields=["thread_id", "created_at"], name="audit_thread_time"),
        ]

    def __str__(self) -> str:
        target = self.thread_id or self.end_user or "-"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} {target}"
