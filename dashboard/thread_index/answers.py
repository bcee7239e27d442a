"""What the index answers for pages: a thread list, the users directory, a user's
suggestions, one thread's observed history, and an export's batches.

Each answer says where it came from and how fresh it is (`IndexFreshness`). The choice of
index or live for /threads/ is made in one place, dashboard/threads/services.py, which
records who looked at whose threads; nothing here records anything.

How counts stay cheap (docs/benchmarks.md has the figures): the total and the counts per
status come from the counter tables unless a search or a date range is set; then the
filtered rows are counted (selectors.matches), and the page's total is the sum.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from dashboard.chatkit.types import StatusKind
from dashboard.web.csv_export import ExportBatch, ExportScope
from dashboard.web.query import ThreadQuery

from . import selectors
from .models import IndexedThread, Source
from .selectors import (
    IndexReadiness,
    SweepProgress,
    ThreadHistory,
    as_thread,
    index_readiness,
    matches,
    thread_history,
    thread_ordering,
    thread_rows,
    user_count,
    user_rows,
    user_suggestion_list,
)
from .services import IndexFreshness
from .sources import current_source

EXPORT_BATCH = 500
HISTORY_LIMIT = 50
SUGGESTIONS = 10


@dataclass(frozen=True, slots=True)
class IndexedThreads:
    """A thread list answered by the index: exact, counted, any page."""

    query: ThreadQuery
    # The filtered rows, unordered and unsliced: the table orders and pages them.
    rows: QuerySet
    total: int
    # Threads per status for the same filters but the status (links that apply one).
    status_counts: dict[str, int]
    freshness: IndexFreshness
    answered_at: datetime

    source = "index"

    @property
    def count_cap(self) -> int:
        return selectors.COUNT_CAP

    @property
    def over_cap(self) -> bool:
        """Whether a count stopped at COUNT_CAP: the total is then "more than" it."""
        return any(n > selectors.COUNT_CAP for n in self.status_counts.values())

    @property
    def pageable(self) -> int:
        """How many rows the page numbers reach: all of them, or COUNT_CAP."""
        return min(self.total, selectors.COUNT_CAP)

    @property
    def synced_at(self) -> datetime | None:
        return synced_at(self.freshness)

    @property
    def swept_at(self) -> datetime | None:
        return self.freshness.swept_as_of

    @property
    def all_statuses(self) -> int:
        return sum(self.status_counts.values())

    @property
    def counts_by_kind(self) -> list[tuple[str, int]]:
        """The counts in the order the status menu lists them, newer words last."""
        known = [kind.value for kind in StatusKind if kind is not StatusKind.UNKNOWN]
        ordered = [(status, self.status_counts.get(status, 0)) for status in known]
        return ordered + sorted(
            (status, n) for status, n in self.status_counts.items() if status not in known
        )


@dataclass(frozen=True, slots=True)
class IndexPending:
    """The query needs the index, which has not finished its first full sweep yet."""

    query: ThreadQuery
    progress: SweepProgress

    source = "pending"


def synced_at(freshness: IndexFreshness) -> datetime | None:
    """When the index last read the newest threads: a full sweep reads them too."""
    moments = [m for m in (freshness.new_threads_as_of, freshness.swept_as_of) if m]
    return max(moments) if moments else None


def readiness() -> IndexReadiness:
    return index_readiness(source=current_source())


def indexed_threads(*, query: ThreadQuery, freshness: IndexFreshness) -> IndexedThreads:
    source = freshness.source
    found = matches(source=source, query=query)
    counts = found.counts
    total = counts.get(query.status.value, 0) if query.status else sum(counts.values())
    rows = thread_rows(source=source, query=query)
    if found.small is not None:
        # Every match is known by id already: the page is read by primary key.
        wanted = query.status.value if query.status else None
        pks = [pk for pk, status in found.small if wanted is None or status == wanted]
        rows = IndexedThread.objects.filter(pk__in=pks)
    return IndexedThreads(
        query=query,
        rows=rows,
        total=total,
        status_counts=counts,
        freshness=freshness,
        answered_at=timezone.now(),
    )


def indexed_export_batches(
    *, query: ThreadQuery, scope: ExportScope, max_rows: int, source: Source
) -> Iterator[ExportBatch]:
    """The list `query` describes, in its sort: its page, or all of it up to `max_rows`, read
    in batches so memory stays flat whatever the size."""
    rows = thread_rows(source=source, query=query).order_by(*thread_ordering(query.sort))
    if scope == "page":
        start = ((query.page or 1) - 1) * query.limit
        yield ExportBatch(
            threads=tuple(as_thread(row) for row in rows[start : start + query.limit])
        )
        return
    # One row past the cap says whether the file is truncated.
    batch: list = []
    for n, row in enumerate(rows[: max_rows + 1].iterator(chunk_size=EXPORT_BATCH)):
        if n == max_rows:
            yield ExportBatch(threads=tuple(batch), truncated=True)
            return
        batch.append(as_thread(row))
        if len(batch) == EXPORT_BATCH:
            yield ExportBatch(threads=tuple(batch))
            batch = []
    yield ExportBatch(threads=tuple(batch))


# --- Users ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserDirectory:
    """Every end user the index knows, with their thread counts."""

    search: str | None
    rows: QuerySet
    total: int
    readiness: IndexReadiness
    answered_at: datetime

    source = "index"

    @property
    def synced_at(self) -> datetime | None:
        return synced_at(self.readiness.freshness)

    @property
    def swept_at(self) -> datetime | None:
        return self.readiness.freshness.swept_as_of


def user_directory(*, search: str | None) -> UserDirectory:
    """The users index. Before the first full sweep completes it is shown anyway, saying it
    covers only the threads read so far: there is no live equivalent to fall back to."""
    source = current_source()
    return UserDirectory(
        search=search,
        rows=user_rows(source=source, search=search),
        total=user_count(source=source, search=search),
        readiness=index_readiness(source=source),
        answered_at=timezone.now(),
    )


def user_suggestions(*, typed: str) -> list[str]:
    return user_suggestion_list(source=current_source(), typed=typed, limit=SUGGESTIONS)


# --- One thread -----------------------------------------------------------------------------


def observed_history(*, thread_id: str) -> ThreadHistory:
    """What the index has observed of a thread (read after the live answer wrote through)."""
    return thread_history(source=current_source(), thread_id=thread_id, limit=HISTORY_LIMIT)
