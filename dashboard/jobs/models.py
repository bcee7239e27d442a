"""What every background job shares: who may run it now, whether to stop, and proof of life.

Huey runs the jobs, but its own locks never expire on SQLite or PostgreSQL storage, it cannot
cancel a running task and it does not say what a task is doing. These rows do, in the app's
database, on every backend the same way.
"""

from __future__ import annotations

from django.db import models


class Lease(models.Model):
    """The right to run one job (by `name`, e.g. "thread_index.sync:1") until `expires_at`.

    At most one holder at a time, whatever the number of workers and machines: taking it is a
    single conditional UPDATE ("free or expired, or already mine"), atomic on every database.
    The holder renews it between batches; a killed worker stops renewing, so its lease lapses
    after its time-to-live and the next worker takes over. `holder` is empty when released.

    `cancel_requested_at` is how staff stop a running job: the holder checks it when renewing
    and stops between batches. Taking a lease clears it, so a request never outlives its job.
    `progress` is the holder's own account of where it is, for status pages.
    """

    name = models.CharField(max_length=200, unique=True)
    holder = models.CharField(max_length=200, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.CharField(max_length=150, blank=True)
    progress = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "job lease"

    def __str__(self) -> str:
        return f"{self.name} ({self.holder or 'free'})"


class Heartbeat(models.Model):
    """The last time something recurring ran (e.g. "scheduler": huey's per-minute tick).

    Pages use it to tell staff whether a worker is alive at all, rather than showing a
    schedule nobody is running.
    """

    name = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField()
    # Which process beat last (host, pid): helps find a stray second scheduler.
    holder = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "job heartbeat"

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
