"""The live pages' announcements (dashboard/threads/signals.py), written through to the index.

Connected in apps.py, so a list page, a thread page, an export or a deletion keeps the index
as fresh as what a person just saw. The index never reaches further into the live pages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import DatabaseError

from dashboard.chatkit.types import Thread

from .sources import current_source
from .store import news_in
from .writethrough import record_gone, record_seen

logger = logging.getLogger(__name__)


def on_threads_seen(
    sender: Any, *, threads: Iterable[Thread], observed_at: datetime | None = None, **kwargs: Any
) -> None:
    """Write what the index does not know yet; a page of known threads costs one read."""
    try:
        news = news_in(source=current_source(), threads=list(threads))
    except DatabaseError:
        logger.warning("thread index: could not compare seen threads", exc_info=True)
        return
    if news:
        record_seen(threads=news, observed_at=observed_at)


def on_thread_deleted(sender: Any, *, thread_id: str, **kwargs: Any) -> None:
    record_gone(thread_id=thread_id)


def connect() -> None:
    from dashboard.threads.signals import thread_deleted, threads_seen

    threads_seen.connect(on_threads_seen, dispatch_uid="thread_index.threads_seen")
    thread_deleted.connect(on_thread_deleted, dispatch_uid="thread_index.thread_deleted")
