"""The status filter: ChatKit cannot filter by status, so a scan reads pages and keeps matches.

Plain rules, no I/O: `scan_for_status()` walks whatever pages its `fetch` returns
(selectors.py gives it cached upstream pages), and `describe_scan()` says what it found in
words that never claim more than it looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.chatkit.errors import ChatKitDeadlineExceededError
from dashboard.chatkit.types import StatusKind, Thread, ThreadPage
from dashboard.web.query import ThreadQuery


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
    # True when the page's time budget ran out before the next page: what was read stands.
    out_of_time: bool = False


def scan_for_status(
    *,
    fetch: Callable[[str | None], ThreadPage],
    status: StatusKind,
    cursor: str | None,
    backwards: bool,
    limit: int,
    max_pages: int,
) -> StatusScan:
    """Up to `limit` threads with `status`, reading pages from `cursor` in one direction.

    `fetch(cursor)` is the page of 100 next to `cursor` in the direction of travel (forwards
    after it, or backwards before it). The scan stops once it has a full page of matches or
    has read `max_pages` pages, whichever comes first, or until the page's deadline passes
    (CHATKIT_TIME_BUDGET): the pages read by then are the result, and say so. If not even
    the first page came in time, there is nothing to show but the timeout.
    """
    matches: list[Thread] = []
    counts = dict.fromkeys(StatusKind, 0)
    fetched: list[datetime] = []
    request_ids: list[str] = []

    def result(pages_read: int, resume: str | None, out_of_time: bool = False) -> StatusScan:
        return StatusScan(
            threads=tuple(reversed(matches)) if backwards else tuple(matches),
            scanned=sum(counts.values()),
            upstream_pages=pages_read,
            exhausted=resume is None,
            resume_cursor=resume,
            scanned_counts=counts,
            fetched_at=min(fetched, default=None),
            request_id=request_ids[0] if request_ids else None,
            out_of_time=out_of_time,
        )

    for pages_read in range(1, max_pages + 1):
        try:
            page = fetch(cursor)
        except ChatKitDeadlineExceededError:
            if pages_read == 1:
                raise
            return result(pages_read - 1, resume=cursor, out_of_time=True)
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


def describe_scan(query: ThreadQuery, scan: StatusScan) -> str:
    """What the status scan did, in words that never claim more than it looked at."""
    assert query.status, "only status-filtered views scan"
    label = query.status.value
    count = len(scan.threads)
    if count:
        found = f"{count:,} {label} thread{'s' if count != 1 else ''}"
    else:
        found = f"No {label} threads"
    checked = f"{scan.scanned:,}"
    if query.after:
        scope = f"the next {checked} threads"
    elif query.before:
        scope = f"the previous {checked} threads"
    elif scan.exhausted:
        scope = f"all {checked} threads"
    else:
        scope = f"the {checked} {'most recent' if query.order == 'desc' else 'oldest'} threads"
    if scan.exhausted or count == query.limit:
        return f"{found} among {scope}."
    why = " when the page's time budget ran out" if scan.out_of_time else ""
    return (
        f"{found} among {scope}. The scan stopped after {scan.upstream_pages:,} upstream "
        f"pages{why}, so there may be more {'further back' if query.before else 'further on'}."
    )
