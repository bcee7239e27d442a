"""Writing the index: upserts, status history, gone marks, and the counters kept in step.

Every write takes the source's row lock first (SELECT ... FOR UPDATE on PostgreSQL; SQLite
already serialises writers), so a sync batch and a page's write-through never interleave,
and the counters can be read, adjusted and written back in the same transaction as the
thread rows they count. Nothing here counts or groups over all threads: counter changes are
computed from the rows a batch touches.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections, router, transaction
from django.db.models import Max, Min, Q

from dashboard.audit.services import storable
from dashboard.chatkit.types import StatusKind, Thread

from .models import (
    LIVE,
    MAX_ID_LENGTH,
    MAX_STATUS_LENGTH,
    TITLE_KEY_LENGTH,
    IndexedThread,
    Source,
    StatusChange,
    StatusCount,
    SyncRun,
    UserCount,
    user_count_field,
)

GONE_BATCH = 500


@dataclass
class WriteResult:
    new: int = 0
    changed: int = 0
    gone: int = 0
    # Threads the index cannot hold (ids or users longer than MAX_ID_LENGTH).
    skipped: int = 0


def status_word(thread: Thread) -> str:
    """The stored status: the contract's type, or a newer type in the upstream's own word."""
    if thread.status.kind is StatusKind.UNKNOWN:
        return (thread.status.raw_type or StatusKind.UNKNOWN.value)[:MAX_STATUS_LENGTH]
    return thread.status.kind.value


def indexable(thread: Thread) -> bool:
    """Whether the index can hold `thread`: ids fit an index entry, and hold no NUL (which
    PostgreSQL refuses and which no spelling could stand in for without mixing up ids)."""
    return (
        0 < len(thread.id) <= MAX_ID_LENGTH
        and len(thread.user) <= MAX_ID_LENGTH
        and "\x00" not in thread.id
        and "\x00" not in thread.user
    )


def _text(value: str | None) -> str | None:
    """Free text for a column: NUL spelled out, as the audit trail does."""
    return storable(value) if value is not None else None


@dataclass
class _UserDelta:
    counts: Counter = field(default_factory=Counter)
    added: list[datetime] = field(default_factory=list)
    removed: list[datetime] = field(default_factory=list)


class _Counts:
    """Counter changes of one batch, applied with its thread rows."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.users: defaultdict[str, _UserDelta] = defaultdict(_UserDelta)

    def add(self, *, status: str, user: str, created_at: datetime) -> None:
        self.statuses[status] += 1
        delta = self.users[user]
        delta.counts["thread_count"] += 1
        delta.counts[user_count_field(status)] += 1
        delta.added.append(created_at)

    def remove(self, *, status: str, user: str, created_at: datetime) -> None:
        self.statuses[status] -= 1
        delta = self.users[user]
        delta.counts["thread_count"] -= 1
        delta.counts[user_count_field(status)] -= 1
        delta.removed.append(created_at)

    def save(self, source: Source) -> None:
        self._save_statuses(source)
        self._save_users(source)

    def _save_statuses(self, source: Source) -> None:
        changed = {status: delta for status, delta in self.statuses.items() if delta}
        if not changed:
            return
        rows = {
            row.status: row
            for row in StatusCount.objects.filter(source=source, status__in=list(changed))
        }
        for status, delta in changed.items():
            row = rows.get(status)
            if row is None:
                StatusCount.objects.create(source=source, status=status, count=delta)
            else:
                row.count += delta
        update_rows(StatusCount, list(rows.values()), ["count"])

    def _save_users(self, source: Source) -> None:
        deltas = {user: delta for user, delta in self.users.items() if any(delta.counts.values())}
        if not deltas:
            return
        rows = {
            row.user: row for row in UserCount.objects.filter(source=source, user__in=list(deltas))
        }
        created, updated, emptied, recompute = [], [], [], []
        for user, delta in deltas.items():
            row = rows.get(user)
            if row is None:
                row = UserCount(source=source, user=user)
                for name in ("active_count", "locked_count", "closed_count", "other_count"):
                    setattr(row, name, 0)
                row.thread_count = 0
                created.append(row)
            else:
                updated.append(row)
            for name, change in delta.counts.items():
                setattr(row, name, getattr(row, name) + change)
            if row.thread_count <= 0:
                emptied.append(row)
                continue
            if delta.added:
                newest, oldest = max(delta.added), min(delta.added)
                row.first_thread_at = min(oldest, row.first_thread_at or oldest)
                row.last_thread_at = max(newest, row.last_thread_at or newest)
            edges = {row.first_thread_at, row.last_thread_at}
            if row.pk is None and delta.removed:
                recompute.append(row)
            elif any(created_at in edges for created_at in delta.removed):
                recompute.append(row)
        # A user's first or last thread went: read the new edges off the (source, user,
        # created_at) index, for these users only.
        for row in recompute:
            bounds = IndexedThread.objects.filter(LIVE, source=source, user=row.user).aggregate(
                first=Min("created_at"), last=Max("created_at")
            )
            row.first_thread_at, row.last_thread_at = bounds["first"], bounds["last"]
        emptied_ids = [row.pk for row in emptied if row.pk is not None]
        if emptied_ids:
            UserCount.objects.filter(pk__in=emptied_ids).delete()
        keep = [row for row in updated if row not in emptied]
        fields = [
            "thread_count",
            "active_count",
            "locked_count",
            "closed_count",
            "other_count",
            "first_thread_at",
            "last_thread_at",
        ]
        update_rows(UserCount, keep, fields)
        UserCount.objects.bulk_create([row for row in created if row not in emptied])


def update_rows(model, rows: Sequence, fields: Sequence[str]) -> None:
    """Write `fields` of `rows` back: one UPDATE per row, sent as a single executemany.

    bulk_update's CASE expressions cost far more to build than these take to run.
    """
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    params = [
        [column.get_db_prep_save(getattr(row, column.attname), connection) for column in columns]
        + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def lock_source(source: Source) -> None:
    """Serialise index writers of `source` until the transaction ends."""
    Source.objects.select_for_update().filter(pk=source.pk).values_list("pk").first()


def write_threads(
    *,
    source: Source,
    threads: Sequence[Thread],
    observed_at: datetime,
    run: SyncRun | None = None,
) -> WriteResult:
    """Upsert `threads` as observed upstream at `observed_at`, in one transaction.

    A row last seen after `observed_at` keeps its newer data (a page's cached answer must not
    undo what a sync saw later); it is only marked live again. Status changes get a
    StatusChange row; threads seen again after being marked gone become live again.
    """
    result = WriteResult()
    by_id: dict[str, Thread] = {}
    for thread in threads:
        if indexable(thread):
            by_id[thread.id] = thread
        else:
            result.skipped += 1
    if not by_id:
        return result
    counts = _Counts()
    with transaction.atomic():
        lock_source(source)
        existing = {
            row.thread_id: row
            for row in IndexedThread.objects.filter(source=source, thread_id__in=list(by_id))
        }
        new_rows, updated_rows, seen_pks, changes = [], [], [], []
        for thread_id, thread in by_id.items():
            status, reason = storable(status_word(thread)), _text(thread.status.reason)
            title = _text(thread.title)
            row = existing.get(thread_id)
            if row is None:
                new_rows.append(
                    IndexedThread(
                        source=source,
                        thread_id=thread_id,
                        user=thread.user,
                        title=title,
                        title_key=(title or "")[:TITLE_KEY_LENGTH],
                        created_at=thread.created_at,
                        status=status,
                        status_reason=reason,
                        first_seen_at=observed_at,
                        last_seen_at=observed_at,
                    )
                )
                counts.add(status=status, user=thread.user, created_at=thread.created_at)
                result.new += 1
                continue
            was_live = row.gone_at is None
            fresh = observed_at >= row.last_seen_at
            if was_live and (not fresh or _same(row, thread, status, reason, title)):
                # The common case of every sweep: nothing but "seen again".
                if fresh:
                    seen_pks.append(row.pk)
                continue
            if was_live:
                counts.remove(status=row.status, user=row.user, created_at=row.created_at)
            if fresh:
                if (row.status, row.status_reason) != (status, reason):
                    changes.append(
                        StatusChange(
                            source=source,
                            thread=row,
                            from_status=row.status,
                            from_reason=row.status_reason,
                            to_status=status,
                            to_reason=reason,
                            observed_at=observed_at,
                            run=run,
                        )
                    )
                    row.status, row.status_reason = status, reason
                    row.status_changed_at = observed_at
                    result.changed += 1
                row.user, row.title = thread.user, title
                row.title_key = (title or "")[:TITLE_KEY_LENGTH]
                row.created_at = thread.created_at
                row.last_seen_at = observed_at
            row.gone_at = None
            counts.add(status=row.status, user=row.user, created_at=row.created_at)
            updated_rows.append(row)
        IndexedThread.objects.bulk_create(new_rows)
        if seen_pks:
            IndexedThread.objects.filter(pk__in=seen_pks).update(last_seen_at=observed_at)
        IndexedThread.objects.bulk_update(
            updated_rows,
            [
                "user",
                "title",
                "title_key",
                "created_at",
                "status",
                "status_reason",
                "last_seen_at",
                "status_changed_at",
                "gone_at",
            ],
        )
        StatusChange.objects.bulk_create(changes)
        counts.save(source)
    return result


def news_in(*, source: Source, threads: Sequence[Thread]) -> list[Thread]:
    """The threads the index does not hold as they are: new, changed, or marked gone.

    One read, no lock: pages use it to skip writing what the index already knows (a
    thread seen unchanged needs no write from a page; the syncs keep `last_seen_at`).
    """
    by_id = {thread.id: thread for thread in threads if indexable(thread)}
    rows = {
        row.thread_id: row
        for row in IndexedThread.objects.filter(source=source, thread_id__in=list(by_id))
    }
    news = []
    for thread_id, thread in by_id.items():
        row = rows.get(thread_id)
        status, reason = _text(status_word(thread)), _text(thread.status.reason)
        if (
            row is None
            or row.gone_at is not None
            or not _same(row, thread, status, reason, _text(thread.title))
        ):
            news.append(thread)
    return news


def _same(row: IndexedThread, thread: Thread, status, reason, title) -> bool:
    return (
        row.status == status
        and row.status_reason == reason
        and row.user == thread.user
        and row.title == title
        and row.created_at == thread.created_at
    )


def mark_gone(*, source: Source, where: Q, observed_at: datetime) -> int:
    """Mark every live thread of `source` matching `where` gone; return how many.

    In batches of GONE_BATCH, each its own transaction, so memory stays flat and other writers
    wait for one batch at most. Each batch checks `where` again under the lock: a thread seen
    meanwhile is left alone.
    """
    total = 0
    while True:
        batch = list(
            IndexedThread.objects.filter(LIVE, where, source=source)
            .order_by("pk")
            .values_list("pk", flat=True)[:GONE_BATCH]
        )
        if not batch:
            return total
        total += _mark_gone_batch(source=source, pks=batch, where=where, observed_at=observed_at)


def _mark_gone_batch(*, source: Source, pks: Iterable[int], where: Q, observed_at) -> int:
    counts = _Counts()
    with transaction.atomic():
        lock_source(source)
        rows = IndexedThread.objects.filter(LIVE, where, source=source, pk__in=list(pks))
        found = list(rows.values_list("pk", "status", "user", "created_at"))
        for _, status, user, created_at in found:
            counts.remove(status=status, user=user, created_at=created_at)
        IndexedThread.objects.filter(pk__in=[pk for pk, *_ in found]).update(gone_at=observed_at)
        counts.save(source)
    return len(found)
