"""The local thread index: a copy of the upstream's thread list, kept fresh by background syncs.

The upstream can only list threads newest first, 100 at a time, and has no `updated_at`; the
index lets pages filter, sort and count without scanning it. Everything here is written by
`dashboard.thread_index.sync` (the syncs) and `dashboard.thread_index.writethrough` (pages that
fetched threads live); readers never write.

Every row names its `Source` (upstream base URL + project), so a second project later is more
rows, not a change of meaning. Readers filter on the source first: every index starts with it.

What readers can rely on:
- `IndexedThread` rows with `gone_at` null are the threads believed to exist; the partial
  indexes below cover exactly those, so list queries must include `gone_at__isnull=True`.
- `THREAD_ORDERINGS` are the sorts the indexes serve; use them as given.
- Counts come from `StatusCount` and `UserCount`, which the writers keep in step with the
  thread rows in the same transaction; never count or GROUP BY `IndexedThread` for a page.
- Freshness comes from `SyncRun` (what ran, when, how it ended) and `SyncState`.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from dashboard.chatkit.types import ThreadStatus

# ChatKit user ids are capped at 512 by the API; thread ids are not, but longer ones would not
# fit a B-tree index entry on PostgreSQL, so the sync skips (and counts) any that are longer.
MAX_ID_LENGTH = 512
# Status types newer than this code are kept in the upstream's own word, up to this length.
MAX_STATUS_LENGTH = 32
# Titles are unbounded; sorting reads this many leading characters (see `title_key`).
TITLE_KEY_LENGTH = 200
MAX_REQUEST_IDS = 50

LIVE = Q(gone_at__isnull=True)


class Source(models.Model):
    """One upstream thread collection: an API base URL and a project ("" = the key's default).

    Rows are created on first use from `settings.CHATKIT` (see `sources.current_source`).
    """

    base_url = models.CharField(max_length=500)
    project = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["base_url", "project"], name="thread_index_source_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.base_url} ({self.project or 'default project'})"


class ThreadStatusType(models.TextChoices):
    """The status types the contract defines; rows may hold a newer word (see `status`)."""

    ACTIVE = "active", "Active"
    LOCKED = "locked", "Locked"
    CLOSED = "closed", "Closed"


class IndexedThread(models.Model):
    """One upstream thread as last observed, plus when it was observed.

    - `status` is the upstream's status type ("active", "locked", "closed", or a newer word);
      `status_reason` its reason (null for active threads and when none was recorded).
    - `first_seen_at` / `last_seen_at`: the first and latest time a sync or a page saw it upstream.
    - `status_changed_at`: the latest observed status change (null: never observed changing).
      It is when we noticed, not when it happened; `StatusChange` holds each change.
    - `gone_at`: when it was observed gone (a completed sweep missed it, or a page got 404 or
      deleted it); null while it is believed to exist. Seen again, it is live again.
    - `title_key`: the title's first TITLE_KEY_LENGTH characters ("" when untitled), for sorting:
      a B-tree cannot hold arbitrarily long titles.

    The primary key is a plain integer on purpose: a varchar primary key would get Django's
    automatic `_like` index on PostgreSQL, large, unused and slowing every write. Thread ids are
    unique per source by constraint instead.
    """

    # Not indexed alone: every index below starts with it.
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="threads", db_index=False
    )
    thread_id = models.CharField(max_length=MAX_ID_LENGTH)
    user = models.CharField(max_length=MAX_ID_LENGTH)
    # Null, as upstream, means "no title generated" / "no reason recorded"; "" is a value.
    title = models.TextField(null=True, blank=True)  # noqa: DJ001
    title_key = models.CharField(max_length=TITLE_KEY_LENGTH, blank=True, default="")
    created_at = models.DateTimeField()
    status = models.CharField(max_length=MAX_STATUS_LENGTH)
    status_reason = models.TextField(null=True, blank=True)  # noqa: DJ001
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    status_changed_at = models.DateTimeField(null=True, blank=True)
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "indexed thread"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "thread_id"], name="thread_index_thread_source_id_uniq"
            )
        ]
        # One index per filter/sort pair a page offers; each also serves the created_at range
        # filter and, scanned backwards, the opposite direction. `id` breaks created_at ties.
        indexes = [
            # Default sort (-created), `created`, and created_at ranges.
            models.Index(
                "source", F("created_at").desc(), F("id").desc(),
                name="thread_index_live_created", condition=LIVE,
            ),
            # Status filter, and the status sort (status, then newest first).
            models.Index(
                "source", "status", F("created_at").desc(), F("id").desc(),
                name="thread_index_live_status", condition=LIVE,
            ),
            # User filter, and the user sort (user, then newest first).
            models.Index(
                "source", "user", F("created_at").desc(), F("id").desc(),
                name="thread_index_live_user", condition=LIVE,
            ),
            models.Index(
                "source", "title_key", "id", name="thread_index_live_title", condition=LIVE
            ),
            # `-changed`: most recently observed change first, never-changed threads last. SQLite
            # puts NULLs last in DESC order by itself but refuses NULLS LAST in an index, while
            # PostgreSQL needs it said; migration 0002 builds each on its own database.
            models.Index(
                "source", F("status_changed_at").desc(nulls_last=True), F("id").desc(),
                name="thread_index_live_changed_pg", condition=LIVE,
            ),
            models.Index(
                "source", F("status_changed_at").desc(), F("id").desc(),
                name="thread_index_live_changed", condition=LIVE,
            ),
            # Title search (`title__icontains`, which Django sends as UPPER(title) LIKE
            # UPPER(...)); built on PostgreSQL only, by migration 0002. SQLite scans.
            GinIndex(
                OpClass(Upper("title"), name="gin_trgm_ops"), name="thread_index_title_trgm"
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.thread_id

    @property
    def thread_status(self) -> ThreadStatus:
        """The status as the client's type, for the shared status badge template."""
        return ThreadStatus.from_dict({"type": self.status, "reason": self.status_reason})


# Sort names a page offers -> the order_by() that the indexes above serve.
THREAD_ORDERINGS: dict[str, tuple] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "title": ("title_key", "id"),
    "-title": ("-title_key", "-id"),
    "user": ("user", "-created_at", "-id"),
    "status": ("status", "-created_at", "-id"),
    "-changed": (F("status_changed_at").desc(nulls_last=True), "-id"),
}
DEFAULT_THREAD_ORDERING = "-created"


class SyncKind(models.TextChoices):
    INCREMENTAL = "incremental", "Incremental (new threads)"
    RECENT = "recent", "Recent window (status changes)"
    FULL = "full", "Full sweep"


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    STAFF = "staff", "Staff (sync now)"
    COMMAND = "command", "Command line"
    # An incremental pass a long sweep ran between its own pages, so new threads keep arriving.
    INTERLEAVED = "interleaved", "Between a sweep's pages"


class SyncOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class SyncRun(models.Model):
    """One run of one kind of sync, with what it cost and found; updated after every page.

    `pages` and `calls` differ when calls were retried; `new`, `changed` and `gone` count
    threads first seen, threads whose status changed, and threads marked gone. A run left
    `running` whose `heartbeat_at` is older than the lease's time-to-live was killed (see
    `is_abandoned`); a full sweep continues from its checkpoint (`SyncState`) next time.
    `request_ids` holds the upstream request ids of failed calls and of the latest page,
    at most MAX_REQUEST_IDS, so errors can be reported to the upstream.
    """

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="sync_runs", db_index=False
    )
    kind = models.CharField(max_length=16, choices=SyncKind.choices)
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices)
    # The staff account behind a "sync now" (its username; audit records hold the rest).
    requested_by = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=16, choices=SyncOutcome.choices, default=SyncOutcome.RUNNING
    )
    # A full sweep that went on from an earlier run's checkpoint names it.
    resumed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pages = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    gone = models.PositiveIntegerField(default=0)
    # Threads the index cannot hold (an id over MAX_ID_LENGTH characters), skipped.
    skipped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    request_ids = models.JSONField(default=list, blank=True)
    holder = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "sync run"
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index("source", "kind", F("started_at").desc(), name="thread_index_run_kind"),
            models.Index("source", F("started_at").desc(), name="thread_index_run_started"),
        ]
        permissions = [("start_sync", "Can start and cancel thread index syncs")]

    def __str__(self) -> str:
        return f"{self.kind} sync {self.pk} ({self.outcome})"


class SyncState(models.Model):
    """Per source and kind: the schedule, and the checkpoint of a pass in progress.

    - `next_run_at`: when the scheduler will next start this kind (huey cannot say).
    - `last_started_at`: when a run of this kind last started, whoever started it.
    - `requested_at` / `requested_by`: a "sync now" waiting for a worker.
    - The checkpoint, set while a pass is incomplete and cleared when it completes:
      `pass_started_at` (the start of the pass, kept across resumes: threads not seen since
      then are gone once the pass completes), `pass_top_*` (the newest thread the pass read
      first), `cursor` (the last thread id read), and `cursor_fallbacks` (the ids before it on
      that page, newest last, used when the cursor thread itself was deleted meanwhile).
      An incremental pass that stopped early keeps one too, so the gap it left is read next.
    - `mark_*` (incremental only): the high-water mark, the newest thread of the last complete
      pass. Every thread older than it has been read by some sync, so a pass stops on reaching
      it. (Not "a page of known threads": pages that write through add scattered threads.)
    """

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="sync_states", db_index=False
    )
    kind = models.CharField(max_length=16, choices=SyncKind.choices)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    pass_started_at = models.DateTimeField(null=True, blank=True)
    pass_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pass_top_thread_id = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    pass_top_created_at = models.DateTimeField(null=True, blank=True)
    cursor = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    cursor_fallbacks = models.JSONField(default=list, blank=True)
    mark_thread_id = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    mark_created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sync state"
        constraints = [
            models.UniqueConstraint(fields=["source", "kind"], name="thread_index_state_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} state of source {self.source_id}"


class StatusChange(models.Model):
    """One observed status change of one thread: from, to, and when it was observed.

    `run` is the sync that saw it; null when a page that fetched the thread live saw it.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+", db_index=False)
    thread = models.ForeignKey(
        IndexedThread, on_delete=models.CASCADE, related_name="status_changes", db_index=False
    )
    from_status = models.CharField(max_length=MAX_STATUS_LENGTH)
    from_reason = models.TextField(null=True, blank=True)  # noqa: DJ001
    to_status = models.CharField(max_length=MAX_STATUS_LENGTH)
    to_reason = models.TextField(null=True, blank=True)  # noqa: DJ001
    observed_at = models.DateTimeField()
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "status change"
        indexes = [
            models.Index("thread", F("observed_at").desc(), name="thread_index_change_thread"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status} at {self.observed_at:%Y-%m-%d %H:%M:%S}"


class StatusCount(models.Model):
    """Live threads per source and status, kept in step by every index write."""

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="status_counts", db_index=False
    )
    status = models.CharField(max_length=MAX_STATUS_LENGTH)
    count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "status count"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "status"], name="thread_index_status_count_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.status}: {self.count}"


class UserCount(models.Model):
    """Live threads per source and ChatKit user: the users index reads only this table.

    `thread_count` is the sum of the per-status counts (`other_count`: status types newer than
    this code). `first_thread_at` / `last_thread_at` are the oldest and newest `created_at` of
    the user's live threads. A user with no live threads left has no row.
    """

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="user_counts", db_index=False
    )
    user = models.CharField(max_length=MAX_ID_LENGTH)
    thread_count = models.BigIntegerField(default=0)
    active_count = models.BigIntegerField(default=0)
    locked_count = models.BigIntegerField(default=0)
    closed_count = models.BigIntegerField(default=0)
    other_count = models.BigIntegerField(default=0)
    first_thread_at = models.DateTimeField()
    last_thread_at = models.DateTimeField()

    class Meta:
        verbose_name = "user count"
        constraints = [
            models.UniqueConstraint(fields=["source", "user"], name="thread_index_user_count_uniq")
        ]
        indexes = [
            models.Index(
                "source", F("thread_count").desc(), "user", name="thread_index_user_threads"
            ),
            models.Index(
                "source", F("last_thread_at").desc(), "user", name="thread_index_user_last"
            ),
            models.Index(
                "source", F("first_thread_at").desc(), "user", name="thread_index_user_first"
            ),
            # User search (`user__icontains`); PostgreSQL only, like the title's.
            GinIndex(OpClass(Upper("user"), name="gin_trgm_ops"), name="thread_index_user_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.thread_count}"


# Which UserCount column counts a status.
STATUS_COUNT_FIELDS: dict[str, str] = {
    ThreadStatusType.ACTIVE: "active_count",
    ThreadStatusType.LOCKED: "locked_count",
    ThreadStatusType.CLOSED: "closed_count",
}


def user_count_field(status: str) -> str:
    return STATUS_COUNT_FIELDS.get(status, "other_count")
