"""A per-process cap on requests that wait on the ChatKit API at once.

A gunicorn worker serves GUNICORN_THREADS requests at a time. When the upstream stalls,
every page that asks it holds a thread for up to CHATKIT_TIME_BUDGET seconds, and without
a cap they soon hold all of them: /healthz, static files and the login page then queue
behind the stall, and a liveness probe restarts a healthy server. So at most
`settings.UPSTREAM_CONCURRENCY_LIMIT` requests per process (fewer than its threads) wait
on the upstream; the next one is refused at once with `UpstreamBusy`, a `ChatKitError` that
the error seam turns into a 503 page with Retry-After. 0 turns the cap off.

The client takes a slot around each attempt on the wire (`ChatKitClient(admit=...)`), so a
page answered from the shared cache, or one that never calls the upstream, takes none.
`acquire_or_refuse()` is re-entrant within a thread: code already holding a slot takes no
second one when a deeper layer asks again.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from dashboard.chatkit.errors import ChatKitError


class UpstreamBusy(ChatKitError):
    """Every upstream slot of this process is taken; nothing was sent upstream.

    A `ChatKitError`, so the one error seam (dashboard/web/problems.py) shows it, and loops
    over upstream pages (a scan, an export) end as they do for any other upstream failure.
    """

    def __init__(self, *, limit: int, retry_after: int) -> None:
        super().__init__(f"All {limit} upstream slots of this process are in use.")
        self.limit = limit
        self.retry_after = retry_after


_lock = threading.Lock()
_in_use = 0
_held = threading.local()


def in_use() -> int:
    """Slots taken right now in this process."""
    return _in_use


def retry_after_seconds() -> int:
    # A slot is given back within one upstream time budget, retries included.
    return max(1, math.ceil(settings.CHATKIT.time_budget))


@contextmanager
def acquire_or_refuse() -> Iterator[None]:
    """Hold one upstream slot for the block, or raise UpstreamBusy at once if none is free.

    Never waits: a request waiting for a slot would hold one of the threads kept free for
    health checks, and under a stall refused pages come back often (measured:
    bench/health_under_stall.py).
    """
    global _in_use
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    limit = settings.UPSTREAM_CONCURRENCY_LIMIT
    with _lock:
        if limit and _in_use >= limit:
            raise UpstreamBusy(limit=limit, retry_after=retry_after_seconds())
        _in_use += 1
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        with _lock:
            _in_use -= 1
