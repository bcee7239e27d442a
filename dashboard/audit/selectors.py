"""Reads of the audit trail, without side effects: the audit page's rows, a thread's deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet

from .models import AuditAction, AuditEvent


@dataclass(frozen=True, kw_only=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    end_user: str = ""
    thread: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def audit_events(*, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Newest first. Exact matches and a date range only: each filter has its own index
    with the time (models.AuditEvent.Meta), so any page of any filter is a bounded read."""
    events = AuditEvent.objects.all()
    if filters.actor:
        events = events.filter(actor_username=filters.actor)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.end_user:
        events = events.filter(end_user=filters.end_user)
    if filters.thread:
        events = events.filter(thread_id=filters.thread)
    if filters.date_from:
        events = events.filter(created_at__gte=_start_of(filters.date_from))
    if filters.date_to:
        events = events.filter(created_at__lt=_start_of(filters.date_to + timedelta(days=1)))
    return events.order_by("-created_at", "-id")


def thread_deletion(*, thread_id: str) -> AuditEvent | None:
    """The latest recorded deletion of `thread_id` through this dashboard, if any."""
    return (
        AuditEvent.objects.filter(thread_id=thread_id, action=AuditAction.DELETED_THREAD)
        .order_by("-created_at", "-id")
        .first()
    )


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
