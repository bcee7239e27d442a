"""The live pages' announcements (dashboard/threads/signals.py), written through to the index.

Connected in apps.py, so a list page, a thread page, an export or a deletion keeps the index
as fresh as what a person just saw. The index never reaches further into the live pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from dashboard.chatkit.types import Thread

from .writethrough import record_gone, record_seen


def on_threads_seen(
    sender: Any, *, threads: Iterable[Thread], observed_at: datetime | None = None, **kwargs: Any
) -> None:
    record_seen(threads=threads, observed_at=observed_at)


def on_thread_deleted(sender: Any, *, thread_id: str, **kwargs: Any) -> None:
    record_gone(thread_id=thread_id)


def connect() -> None:
    from dashboard.threads.signals import thread_deleted, threads_seen

    threads_seen.connect(on_threads_seen, dispatch_uid="thread_index.threads_seen")
    thread_deleted.connect(on_thread_deleted, dispatch_uid="thread_index.thread_deleted")
