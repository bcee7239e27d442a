"""Pages that fetched threads live tell the index what they saw, so it is never staler.

The thread services call these after a successful upstream answer: a list page with the
threads it showed, a transcript with its thread, a deletion or a 404 with the id. They never
fail the page: the index is a copy, and a page showing upstream data must not break because
the copy could not be written (the next sync catches up). Failures are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.chatkit.types import Thread

from .models import Source
from .sources import current_source
from .store import WriteResult, mark_gone, write_threads

logger = logging.getLogger(__name__)


def record_seen(
    *,
    threads: Iterable[Thread],
    source: Source | None = None,
    observed_at: datetime | None = None,
) -> WriteResult | None:
    """Upsert threads a page just fetched; `observed_at`: when the upstream answered
    (a cached page's `fetched_at`), default now. None if the index could not be written."""
    threads = list(threads)
    if not threads:
        return WriteResult()
    try:
        with transaction.atomic():
            return write_threads(
                source=source or current_source(),
                threads=threads,
                observed_at=observed_at or timezone.now(),
            )
    except DatabaseError:
        logger.warning(
            "thread index: could not record %d seen threads", len(threads), exc_info=True
        )
        return None


def record_gone(
    *,
    thread_id: str,
    source: Source | None = None,
    observed_at: datetime | None = None,
) -> bool | None:
    """Mark a thread gone after a page deleted it or the upstream answered 404 for it.

    True if it was live in the index, False if unknown or already gone, None on failure.
    """
    if not thread_id:
        return False
    try:
        with transaction.atomic():
            gone = mark_gone(
                source=source or current_source(),
                where=Q(thread_id=thread_id),
                observed_at=observed_at or timezone.now(),
            )
    except DatabaseError:
        logger.warning("thread index: could not record a gone thread", exc_info=True)
        return None
    return bool(gone)
