"""Reads of ChatKit threads for the views: plain functions, testable without HTTP.

Views call these and never the HTTP client. Errors are the client's typed
`ChatKitError` tree, passed through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from dashboard.chatkit.client import MAX_LIMIT, get_client
from dashboard.chatkit.types import StatusKind, Thread, ThreadPage

from .forms import ThreadQuery


def thread_page(
    *,
    user: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
) -> ThreadPage:
    """One upstream page, exactly as the API returns it."""
    return get_client().list_threads(
        user=user, after=after, before=before, limit=limit, order=order
    )


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


def thread_status_scan(
    *,
    status: StatusKind,
    user: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
    max_pages: int | None = None,
) -> StatusScan:
    """Up to `limit` threads with `status`, scanning upstream pages of 100 from the cursor.

    The upstream cannot filter by status, so this walks the list in the direction of
    travel (forwards from `after`, or backwards from `before`) until it has a full page
    of matches or has read `max_pages` upstream pages, whichever comes first.
    """
    max_pages = max_pages or settings.CHATKIT["STATUS_SCAN_PAGES"]
    backwards = before is not None
    cursor = before if backwards else after
    matches: list[Thread] = []
    scanned = 0
    for pages_read in range(1, max_pages + 1):
        if backwards:
            page = thread_page(user=user, before=cursor, limit=MAX_LIMIT, order=order)
        else:
            page = thread_page(user=user, after=cursor, limit=MAX_LIMIT, order=order)
        # Backwards, the threads nearest the cursor are at the end of each page.
        rows = list(reversed(page.threads)) if backwards else list(page.threads)
        for index, thread in enumerate(rows, start=1):
            scanned += 1
            if thread.status.kind is status:
                matches.append(thread)
                if len(matches) == limit:
                    more = index < len(rows) or page.has_more
                    return _scan_result(
                        matches, scanned, pages_read, backwards, resume=thread.id if more else None
                    )
        if not page.has_more or not rows:
            return _scan_result(matches, scanned, pages_read, backwards, resume=None)
        cursor = rows[-1].id
    return _scan_result(matches, scanned, max_pages, backwards, resume=cursor)


def _scan_result(
    matches: list[Thread], scanned: int, pages: int, backwards: bool, *, resume: str | None
) -> StatusScan:
    return StatusScan(
        threads=tuple(reversed(matches)) if backwards else tuple(matches),
        scanned=scanned,
        upstream_pages=pages,
        exhausted=resume is None,
        resume_cursor=resume,
    )


@dataclass(frozen=True, slots=True)
class Pager:
    """Cursors for the Previous and Next links; None hides the link."""

    previous_before: str | None
    next_after: str | None
    # The first page, without cursors, is always one click away once you have paged.
    on_first_page: bool


def pager_for(
    query: ThreadQuery, *, first_id: str | None, last_id: str | None, has_more: bool
) -> Pager:
    """Paging links that never strand the user.

    `has_more` is trusted only in the direction of travel: the API does not say what
    it means on a `before` page in the other direction, and the page we came from
    is always there to go back to.
    """
    if query.before:
        return Pager(
            previous_before=first_id if has_more and first_id else None,
            next_after=last_id or query.before,
            on_first_page=False,
        )
    if query.after:
        return Pager(
            previous_before=first_id or query.after,
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
