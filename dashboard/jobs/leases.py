"""One holder at a time for a named job, with expiry, cancellation and progress.

    with hold_lease("thread_index.sync:1", ttl=60) as lease:
        for batch in batches:
            ...
            lease.renew(progress={"pages": n})   # raises JobCancelled / LeaseLost

Taking and renewing are single conditional UPDATEs evaluated by the database, against the
database's clock, so they are atomic on SQLite and PostgreSQL alike and several machines need
not agree on the time. A worker killed mid-job simply stops renewing: its lease lapses after
`ttl` seconds and the next worker takes it. Nothing renews in the background: a renewal is
proof the holder is still making progress.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from .models import Heartbeat, Lease


class LeaseBusy(Exception):
    """Another holder has the lease and it has not expired."""


class LeaseLost(Exception):
    """The lease expired (or was taken over) before the holder renewed it."""


class JobCancelled(Exception):
    """Staff asked the running job to stop."""


def process_identity() -> str:
    """This process, for `holder` fields: host, pid and a random tag (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class HeldLease:
    """A lease this process holds. Use via `hold_lease`."""

    def __init__(
        self,
        name: str,
        *,
        holder: str,
        ttl: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self._sleep = sleep

    def _mine(self) -> QuerySet[Lease]:
        return Lease.objects.filter(name=self.name, holder=self.holder)

    def renew(self, *, progress: dict[str, Any] | None = None) -> None:
        """Push the expiry `ttl` seconds ahead; raise LeaseLost or JobCancelled."""
        self.extend(progress=progress)
        self.stop_if_cancelled()

    def extend(self, *, progress: dict[str, Any] | None = None) -> None:
        """Push the expiry ahead; raise LeaseLost. Inside a job's own transaction, this
        costs no commit of its own."""
        updates: dict[str, Any] = {
            "renewed_at": Now(),
            "expires_at": Now() + timedelta(seconds=self.ttl),
        }
        if progress is not None:
            updates["progress"] = progress
        if not self._mine().update(**updates):
            raise LeaseLost(f"The lease {self.name!r} expired before it was renewed.")

    def stop_if_cancelled(self) -> None:
        canceller = self._mine().filter(cancel_requested_at__isnull=False)
        by = canceller.values_list("cancel_requested_by", flat=True).first()
        if by is not None:
            raise JobCancelled(f"Cancelled by {by or 'staff'}.")

    def cancel_requested(self) -> bool:
        return self._mine().filter(cancel_requested_at__isnull=False).exists()

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, renewing often enough to keep the lease, and stop if cancelled."""
        step = max(0.05, self.ttl / 3)
        remaining = seconds
        while remaining > 0:
            self._sleep(min(step, remaining))
            remaining -= step
            self.renew()

    def release(self) -> None:
        self._mine().update(holder="", expires_at=None, cancel_requested_at=None)


def _take(name: str, holder: str, ttl: float) -> bool:
    try:
        with transaction.atomic():
            Lease.objects.get_or_create(name=name)
    except IntegrityError:
        pass  # created meanwhile by another worker: fine, now contend for it below
    free = Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=Now())
    return bool(
        Lease.objects.filter(free, name=name).update(
            holder=holder,
            acquired_at=Now(),
            renewed_at=Now(),
            expires_at=Now() + timedelta(seconds=ttl),
            cancel_requested_at=None,
            cancel_requested_by="",
            progress={},
        )
    )


@contextmanager
def hold_lease(
    name: str,
    *,
    ttl: float,
    holder: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[HeldLease]:
    """Hold the lease `name` for the block; raise LeaseBusy if someone else holds it."""
    holder = holder or process_identity()
    if not _take(name, holder, ttl):
        raise LeaseBusy(f"The lease {name!r} is held by another worker.")
    lease = HeldLease(name, holder=holder, ttl=ttl, sleep=sleep)
    try:
        yield lease
    finally:
        lease.release()


def request_cancel(name: str, *, by: str) -> bool:
    """Ask the current holder of `name` to stop; False when nobody holds it."""
    held = Q(expires_at__gte=Now()) & ~Q(holder="")
    return bool(
        Lease.objects.filter(held, name=name).update(
            cancel_requested_at=Now(), cancel_requested_by=by[:150]
        )
    )


def current_lease(name: str) -> Lease | None:
    """The lease row if someone holds it now (not expired), else None."""
    return Lease.objects.filter(name=name, expires_at__gte=Now()).exclude(holder="").first()


def beat(name: str, *, holder: str | None = None) -> None:
    """Record that the recurring thing `name` ran just now."""
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "holder": holder or process_identity()}
    )


def last_beat(name: str) -> Heartbeat | None:
    return Heartbeat.objects.filter(name=name).first()
