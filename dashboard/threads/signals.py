"""What the use cases announce, for whatever keeps its own copy of upstream threads.

- `threads_seen`: live threads a use case just fetched for a person, sent with
  `threads: tuple[Thread, ...]` (a list page, a status scan's matches, a thread page, an
  export's batches as they stream).
- `thread_deleted`: a thread known to be gone upstream, sent with `thread_id: str`: deleted
  just now, or found already gone by a deletion.

The sender is the use-case function. Services send robustly: a receiver's failure is logged
by Django and never fails the page that showed live data.
"""

from __future__ import annotations

from django.dispatch import Signal

threads_seen = Signal()
thread_deleted = Signal()
