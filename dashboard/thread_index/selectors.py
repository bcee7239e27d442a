"""Reads of the thread index for pages: filtered threads, their counts, users, a thread's
history, and whether the index can answer at all. No side effects (no audit, no writes).

Counts never GROUP BY the whole table (see models.py): without a search or a date range
they come from the counter tables; with one, only the filtered rows are counted, each in
the way an index serves (answers.py says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Count, QuerySet, Sum

from dashboard.chatkit.types import Thread
from dashboard.web.query import ThreadQuery

from .models import (
    LIVE,
    STATUS_COUNT_FIELDS,
    THREAD_ORDERINGS,
    IndexedThread,
    Source,
    StatusChange,
    StatusCount,
    SyncKind,
    SyncOutcome,
    SyncRun,
    SyncState,
    UserCount,
)
from .services import IndexFreshness, index_freshness

# --- Can the index answer? ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """How far the first full sweep has got: the upstream gives no total, so this is what was
    read (pages, threads indexed, the oldest creation time reached), not a percentage."""

    threads_indexed: int
    # The sweep's checkpoint: when the unfinished sweep began and how far down it has read.
    started_at: datetime | None
    pages: int
    reached: datetime | None


@dataclass(frozen=True, slots=True)
class IndexReadiness:
    freshness: IndexFreshness
    # None once a full sweep has completed: the index then answers.
    building: SweepProgress | None

    @property
    def ready(self) -> bool:
        return self.building is None


def index_readiness(*, source: Source) -> IndexReadiness:
    """The index answers once it has completed a full sweep of `source`: before that, it
    may lack any thread older than what the syncs have read so far."""
    freshness = index_freshness(source=source)
    if freshness.swept_as_of is not None:
        return IndexReadiness(freshness=freshness, building=None)
    return IndexReadiness(freshness=freshness, building=sweep_progress(source=source))


def sweep_progress(*, source: Source) -> SweepProgress:
    indexed = StatusCount.objects.filter(source=source).aggregate(total=Sum("count"))["total"]
    state = SyncState.objects.filter(source=source, kind=SyncKind.FULL).first()
    started = state.pass_started_at if state else None
    pages, reached = 0, None
    if started is not None:
        pages = (
            SyncRun.objects.filter(source=source, kind=SyncKind.FULL, started_at__gte=started)
            .exclude(outcome=SyncOutcome.SUCCEEDED)
            .aggregate(pages=Sum("pages"))["pages"]
            or 0
        )
        if state and state.cursor:
            reached = (
                IndexedThread.objects.filter(source=source, thread_id=state.cursor)
                .values_list("created_at", flat=True)
                .first()
            )
    return SweepProgress(
        threads_indexed=indexed or 0, started_at=started, pages=pages, reached=reached
    )


# --- Threads --------------------------------------------------------------------------------


def created_bounds(query: ThreadQuery) -> tuple[datetime | None, datetime | None]:
    """The date range as moments: from the start of `created_from` to before the day after
    `created_to`, both days in the query's zone."""
    zone = ZoneInfo(query.zone)
    start = datetime.combine(query.created_from, time(), zone) if query.created_from else None
    end = (
        datetime.combine(query.created_to + timedelta(days=1), time(), zone)
        if query.created_to
        else None
    )
    return start, end


def thread_rows(*, source: Source, query: ThreadQuery, status: bool = True) -> QuerySet:
    """Live index rows matching the query's filters (`status=False`: all but the status
    filter), unordered: the table orders and pages them."""
    rows = IndexedThread.objects.filter(LIVE, source=source)
    if query.user is not None:
        rows = rows.filter(user=query.user)
    if status and query.status is not None:
        rows = rows.filter(status=query.status.value)
    if query.q:
        rows = rows.filter(title__icontains=query.q)
    start, end = created_bounds(query)
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    return rows


# Most rows one count reads for a search or a date range; past it, a count says "more than
# COUNT_CAP" (stored as COUNT_CAP + 1), so a one-letter-wide search costs a bounded time.
COUNT_CAP = 100_000
# Without a trigram index (SQLite; PostgreSQL has one, migration 0002) a search scans: one
# matching at most this many threads is then read once, its ids and statuses giving the
# counts and the page fetched by id, instead of a scan to count and another for the page.
SMALL_MATCH = 1_000


@dataclass(frozen=True, slots=True)
class Matches:
    """What a query's filters other than status match."""

    # Threads per status; only statuses with threads appear; over COUNT_CAP is COUNT_CAP + 1.
    counts: dict[str, int]
    # For a small search without a trigram index: every match as (pk, status); else None.
    small: tuple[tuple[int, str], ...] | None = None


def matches(*, source: Source, query: ThreadQuery) -> Matches:
    """Counts per status for the query's filters other than status (so each count is what
    choosing that status would list), read in the way an index serves them."""
    if not (query.q or query.created_from or query.created_to):
        return Matches(counts=_counted_statuses(source=source, user=query.user))
    rows = thread_rows(source=source, query=query, status=False)
    if query.q or query.user is not None:
        if query.q and connections[rows.db].vendor != "postgresql":
            found = tuple(rows.order_by().values_list("pk", "status")[: SMALL_MATCH + 1])
            if len(found) <= SMALL_MATCH:
                counts: dict[str, int] = {}
                for _, status in found:
                    counts[status] = counts.get(status, 0) + 1
                return Matches(counts=counts, small=found)
        # The search's (or one user's) rows are read anyway to count them; grouping them
        # by status on the way costs next to nothing more.
        grouped = _grouped_capped(rows)
        if sum(grouped.values()) <= COUNT_CAP:
            return Matches(counts=grouped)
    # A date range alone (or too many matches to group): one COUNT per status, each a range
    # of the (status, created_at) index rather than every row, each stopping at the cap.
    counts = {}
    for status in StatusCount.objects.filter(source=source, count__gt=0).values_list(
        "status", flat=True
    ):
        if n := rows.filter(status=status)[: COUNT_CAP + 1].count():
            counts[status] = n
    return Matches(counts=counts)


def _grouped_capped(rows: QuerySet) -> dict[str, int]:
    """Threads per status among the first COUNT_CAP + 1 of `rows` (in no particular order)."""
    sql, params = rows.order_by().values("status")[: COUNT_CAP + 1].query.sql_with_params()
    with connections[rows.db].cursor() as cursor:
        cursor.execute(f"SELECT status, COUNT(*) FROM ({sql}) capped GROUP BY status", params)
        return {status: n for status, n in cursor.fetchall() if n}


def _counted_statuses(*, source: Source, user: str | None) -> dict[str, int]:
    if user is None:
        return dict(
            StatusCount.objects.filter(source=source, count__gt=0).values_list("status", "count")
        )
    row = UserCount.objects.filter(source=source, user=user).first()
    if row is None:
        return {}
    counts = {str(status): getattr(row, field) for status, field in STATUS_COUNT_FIELDS.items()}
    if row.other_count:
        # The counters lump newer status words together; only the rows can tell them apart.
        others = (
            IndexedThread.objects.filter(LIVE, source=source, user=user)
            .exclude(status__in=list(counts))
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        counts.update(dict(others))
    return {status: n for status, n in counts.items() if n}


def thread_ordering(sort: str) -> tuple:
    """The order_by() of a sort name: THREAD_ORDERINGS, or the exact reverse of one (which
    the same index serves, read backwards)."""
    if sort in THREAD_ORDERINGS:
        return THREAD_ORDERINGS[sort]
    return tuple(_reversed(term) for term in THREAD_ORDERINGS[sort.removeprefix("-")])


def _reversed(term):
    if isinstance(term, str):
        return term.removeprefix("-") if term.startswith("-") else f"-{term}"
    return term.copy().reverse_ordering()


def as_thread(row: IndexedThread) -> Thread:
    """An index row as the client's Thread, for what both sources share (cells, CSV)."""
    return Thread(
        id=row.thread_id,
        created_at=row.created_at,
        title=row.title,
        user=row.user,
        status=row.thread_status,
    )


# --- Users ----------------------------------------------------------------------------------


def user_rows(*, source: Source, search: str | None) -> QuerySet:
    rows = UserCount.objects.filter(source=source)
    return rows.filter(user__icontains=search) if search else rows


def user_count(*, source: Source, search: str | None) -> int:
    return user_rows(source=source, search=search).count()


def user_suggestion_list(*, source: Source, typed: str, limit: int) -> list[str]:
    """Users whose id contains `typed`, those with most threads first."""
    return list(
        user_rows(source=source, search=typed)
        .order_by("-thread_count", "user")
        .values_list("user", flat=True)[:limit]
    )


# --- One thread -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadHistory:
    """What the index has observed of one thread: when, and each status change, newest first."""

    row: IndexedThread | None
    changes: tuple[StatusChange, ...]


def thread_history(*, source: Source, thread_id: str, limit: int) -> ThreadHistory:
    row = IndexedThread.objects.filter(source=source, thread_id=thread_id).first()
    if row is None:
        return ThreadHistory(row=None, changes=())
    changes = StatusChange.objects.filter(thread=row).order_by("-observed_at", "-id")[:limit]
    return ThreadHistory(row=row, changes=tuple(changes))
