"""Writing and pruning the audit trail: `record_event()` is the one way an event is written.

The use cases (dashboard/threads/services.py) record their own events; the prune command
removes old ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from .models import MAX_ID_LENGTH, MAX_REQUEST_ID_LENGTH, AuditAction, AuditEvent

# Who acted: the request's user.
Actor = User | AnonymousUser


def record_event(
    *,
    actor: Actor,
    action: AuditAction,
    thread_id: str = "",
    end_user: str = "",
    upstream_request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Store one event. `actor` is the request's user (anonymous users are stored as none)."""
    user = None if isinstance(actor, AnonymousUser) else actor
    return AuditEvent.objects.create(
        actor=user,
        actor_username=user.get_username() if user else "",
        action=action,
        # Longer ids are cut rather than lose the event; the API never sends such ids.
        thread_id=storable(thread_id or "")[:MAX_ID_LENGTH],
        end_user=storable(end_user or "")[:MAX_ID_LENGTH],
        upstream_request_id=storable(upstream_request_id or "")[:MAX_REQUEST_ID_LENGTH],
        details=storable(details or {}),
    )


def storable(value: Any) -> Any:
    """`value` with NUL characters spelled out: PostgreSQL refuses them in text and JSON.

    Ids come from URLs and may hold anything; the event must still be recorded.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def audit_prune(*, days: int | None = None, dry_run: bool = False) -> tuple[int, object]:
    """Delete events older than `days` (default: AUDIT_RETENTION_DAYS); return (count, cutoff)."""
    days = days if days is not None else settings.AUDIT_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    old = AuditEvent.objects.filter(created_at__lt=cutoff)
    if dry_run:
        return old.count(), cutoff
    deleted, _ = old.delete()
    return deleted, cutoff
