"""Reads of ChatKit threads for the views: plain functions, testable without HTTP.

Views call these and never the HTTP client. Errors are the client's typed
`ChatKitError` tree, passed through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from dashboard.chatkit.client import MAX_LIMIT, get_client, list_params
from dashboard.chatkit.errors import ChatKitBadResponseError
from dashboard.chatkit.items import ThreadItemPage
from dashboard.chatkit.types import DeletedThread, StatusKind, Thread, ThreadPage

from . import upstream_cache

DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class ThreadQuery:
    """What a list view asks for: its query string, validated. The URL is its whole state."""

    user: str | None = None
    status: StatusKind | None = None
    order: str = "desc"
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    before: str | None = None

    def as_params(self, **changes: object) -> dict[str, str]:
        """Query-string values for a link to this view with `changes`; defaults are left out."""
        values = {
            "user": self.user,
            "status": self.status.value if self.status else None,
            "order": self.order,
            "limit": self.limit,
            "after": self.after,
            "before": self.before,
        }
        values.update(changes)
        defaults = {"order": "desc", "limit": DEFAULT_LIMIT}
        return {
            key: str(value)
            for key, value in values.items()
            if value not in (None, "") and defaults.get(key) != value
        }


def thread_page(
    *,
    user: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
    fresh: bool = False,
) -> ThreadPage:
    """One upstream page, exactly as the API returns it, shared for CACHE_TTL seconds.

    `fresh` asks the upstream again instead of reusing a cached answer (upstream_cache.py).
    """
    client = get_client()
    params = list_params(user=user, after=after, before=before, limit=limit, order=order)

    def fetch() -> ThreadPage:
        page = client.list_threads(**params)
        return page.with_fetched_at(datetime.fromtimestamp(upstream_cache.now(), UTC))

    key = upstream_cache.list_key(base_url=client.base_url, path="threads", params=params)
    return upstream_cache.cached_call(key, fetch, fresh=fresh)


@dataclass(frozen=True, slots=True)
class StatusScan:
    """What a status-filtered view found, and how far it looked."""

    threads: tuple[Thread, ...]
    # Threads examined, matching or not.
    scanned: int
    upstream_pages: int
    # True when the scan reached the end of the list in its direction: "none" is then the truth.
    exhausted: bool
    # Where a further scan in the same direction continues from (None when exhausted).
    resume_cursor: str | None
    # Statuses among all `scanned` threads, matching or not.
    scanned_counts: dict[StatusKind, int] = field(default_factory=dict)
    # When the oldest of the upstream pages read was fetched (some may come from the cache).
    fetched_at: datetime | None = None
    # The first upstream page's x-request-id, for the audit trail.
    request_id: str | None = None


def thread_status_scan(
    *,
    status: StatusKind,
    user: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
    max_pages: int | None = None,
    fresh: bool = False,
) -> StatusScan:
    """Up to `limit` threads with `status`, scanning upstream pages of 100 from the cursor.

    The upstream cannot filter by status, so this walks the list in the direction of
    travel (forwards from `after`, or backwards from `before`) until it has a full page
    of matches or has read `max_pages` upstream pages, whichever comes first.
    """
    max_pages = max_pages or settings.CHATKIT.status_scan_pages
    backwards = before is not None
    cursor = before if backwards else after
    matches: list[Thread] = []
    counts = dict.fromkeys(StatusKind, 0)
    fetched: list[datetime] = []
    request_ids: list[str] = []

    def result(pages_read: int, resume: str | None) -> StatusScan:
        return StatusScan(
            threads=tuple(reversed(matches)) if backwards else tuple(matches),
            scanned=sum(counts.values()),
            upstream_pages=pages_read,
            exhausted=resume is None,
            resume_cursor=resume,
            scanned_counts=counts,
            fetched_at=min(fetched, default=None),
            request_id=request_ids[0] if request_ids else None,
        )

    for pages_read in range(1, max_pages + 1):
        direction = {"before": cursor} if backwards else {"after": cursor}
        page = thread_page(user=user, limit=MAX_LIMIT, order=order, fresh=fresh, **direction)
        if page.fetched_at:
            fetched.append(page.fetched_at)
        if page.request_id:
            request_ids.append(page.request_id)
        # Backwards, the threads nearest the cursor are at the end of each page.
        rows = list(reversed(page.threads)) if backwards else list(page.threads)
        for index, thread in enumerate(rows, start=1):
            counts[thread.status.kind] += 1
            if thread.status.kind is status:
                matches.append(thread)
                if len(matches) == limit:
                    more = index < len(rows) or page.has_more
                    return result(pages_read, resume=thread.id if more else None)
        if not page.has_more or not rows:
            return result(pages_read, resume=None)
        cursor = rows[-1].id
    return result(max_pages, resume=cursor)


@dataclass(frozen=True, slots=True)
class ThreadListing:
    """The rows one list view shows, and where they sit in the upstream list.

    With a status filter the rows come from a scan, and the cursors from the first and last
    match (or, when nothing matched, from where the scan stopped).
    """

    threads: tuple[Thread, ...]
    first_id: str | None
    last_id: str | None
    has_more: bool
    fetched_at: datetime | None = None
    request_id: str | None = None
    scan: StatusScan | None = None


def thread_listing(query: ThreadQuery, *, fresh: bool = False) -> ThreadListing:
    """The threads `query` asks for: one upstream page, or a status scan."""
    if not query.status:
        page = thread_page(
            user=query.user,
            after=query.after,
            before=query.before,
            limit=query.limit,
            order=query.order,
            fresh=fresh,
        )
        return ThreadListing(
            threads=page.threads,
            first_id=page.first_id,
            last_id=page.last_id,
            has_more=page.has_more,
            fetched_at=page.fetched_at,
            request_id=page.request_id,
        )
    scan = thread_status_scan(
        status=query.status,
        user=query.user,
        after=query.after,
        before=query.before,
        limit=query.limit,
        order=query.order,
        fresh=fresh,
    )
    first_id = scan.threads[0].id if scan.threads else None
    last_id = scan.threads[-1].id if scan.threads else None
    # Continue from where the scan stopped, which may be past its last match: the threads
    # in between were already checked. (When the page filled, that is the last match.)
    if query.before:
        first_id = scan.resume_cursor or first_id
    else:
        last_id = scan.resume_cursor or last_id
    return ThreadListing(
        threads=scan.threads,
        first_id=first_id,
        last_id=last_id,
        has_more=not scan.exhausted,
        fetched_at=scan.fetched_at,
        request_id=scan.request_id,
        scan=scan,
    )


@dataclass(frozen=True, slots=True)
class Pager:
    """Cursors for the Previous and Next links; None hides the link."""

    previous_before: str | None
    next_after: str | None
    # The first page, without cursors, is always one click away once you have paged.
    on_first_page: bool


def pager_for(
    *,
    after: str | None,
    before: str | None,
    first_id: str | None,
    last_id: str | None,
    has_more: bool,
) -> Pager:
    """Paging links that never strand the user.

    `has_more` is trusted only in the direction of travel: the API does not say what
    it means on a `before` page in the other direction, and the page we came from
    is always there to go back to.
    """
    if before:
        return Pager(
            previous_before=first_id if has_more and first_id else None,
            next_after=last_id or before,
            on_first_page=False,
        )
    if after:
        return Pager(
            previous_before=first_id or after,
            next_after=last_id if has_more and last_id else None,
            on_first_page=False,
        )
    return Pager(
        previous_before=None,
        next_after=last_id if has_more and last_id else None,
        on_first_page=True,
    )


def status_counts(threads: tuple[Thread, ...]) -> dict[StatusKind, int]:
    counts = dict.fromkeys(StatusKind, 0)
    for thread in threads:
        counts[thread.status.kind] += 1
    return counts


# --- The connection page ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamCheck:
    elapsed_ms: float
    request_id: str | None


def upstream_check() -> UpstreamCheck:
    """The cheapest real call (one thread, never cached): can we reach the API with our key?"""
    started = time.monotonic()
    page = get_client().list_threads(limit=1)
    return UpstreamCheck(elapsed_ms=(time.monotonic() - started) * 1000, request_id=page.request_id)


def masked_key(key: str) -> str:
    """Enough of the key to tell which one is configured, never enough to use or search for."""
    if not key:
        return ""
    if len(key) < 20:
        return "set (too short to show any of it)"
    return f"{'sk-' if key.startswith('sk-') else ''}…{key[-4:]}"


# --- One thread: detail, transcript, deletion ---------------------------------------------


def thread_detail(*, thread_id: str) -> Thread:
    return get_client().get_thread(thread_id)


def thread_items_page(
    *,
    thread_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "asc",
) -> ThreadItemPage:
    """One page of the thread's transcript; oldest first unless asked otherwise."""
    return get_client().list_thread_items(
        thread_id, after=after, before=before, limit=limit, order=order
    )


def thread_delete(*, thread_id: str) -> DeletedThread:
    """Delete the thread upstream; anything short of a confirmation is an error."""
    result = get_client().delete_thread(thread_id)
    # Cached list pages would show the deleted thread for a few more seconds.
    upstream_cache.forget_lists()
    if not result.deleted or result.id != thread_id:
        raise ChatKitBadResponseError(
            "The ChatKit API answered the deletion without confirming it; the thread may "
            "still exist.",
            request_id=result.request_id,
        )
    return result


# --- CSV export -------------------------------------------------------------------------------

EXPORT_SCOPES = ("page", "all")


class ThreadExport:
    """The threads of one CSV export, fetched one upstream page at a time as they are consumed.

    `page` is exactly the rows the list view shows for the same query (same cursor, limit
    and status scan). `all` ignores the cursor and walks the whole filtered list from its
    start in upstream pages of 100, reading at most `max_rows` threads: a status filter then
    keeps the matches among those, so one number bounds both the file and the upstream load.
    `truncated` is known only once `batches()` is exhausted.
    """

    def __init__(self, *, query: ThreadQuery, scope: str, max_rows: int) -> None:
        if scope not in EXPORT_SCOPES:
            raise ValueError(f"scope must be one of {EXPORT_SCOPES}")
        self.query = query
        self.scope = scope
        self.max_rows = max_rows
        self.truncated = False
        self.request_id: str | None = None

    def batches(self) -> Iterator[tuple[Thread, ...]]:
        query = self.query
        if self.scope == "page":
            listing = thread_listing(query)
            self.request_id = listing.request_id
            yield listing.threads
            return
        cursor: str | None = None
        scanned = 0
        while scanned < self.max_rows:
            page = thread_page(
                user=query.user,
                after=cursor,
                limit=min(MAX_LIMIT, self.max_rows - scanned),
                order=query.order,
            )
            self.request_id = self.request_id or page.request_id
            scanned += len(page.threads)
            yield tuple(
                thread
                for thread in page.threads
                if query.status is None or thread.status.kind is query.status
            )
            if not page.has_more or not page.threads:
                return
            cursor = page.threads[-1].id
        self.truncated = True
