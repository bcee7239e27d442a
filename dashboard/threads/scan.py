"""The status filter: ChatKit cannot filter by status, so a scan reads pages and keeps matches.

Plain rules, no I/O: `scan_for_status()` walks whatever pages its `fetch` returns
(selectors.py gives it cached upstream pages), and `describe_scan()` says what it found in
words that never claim more than it looked at.

A slow scan answers in steps: the page shows what the first pages held once its time slice
is used (`should_pause`), and the browser asks for the rest a step at a time, each step
carrying the totals so far (`ScanSoFar`), so it can be stopped and keep what it found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.chatkit.errors import ChatKitDeadlineExceededError, ChatKitError
from dashboard.chatkit.types import StatusKind, Thread, ThreadPage
from dashboard.web.query import ThreadQuery


@dataclass(frozen=True, slots=True)
class ScanSoFar:
    """What the earlier steps of a scan read, for the step that continues it."""

    pages: int
    # Statuses among every thread the earlier steps read, matching or not.
    counts: dict[StatusKind, int]
    # The first match shown, for the Previous link of a later page ("" if none yet).
    first_match_id: str = ""

    def found(self, status: StatusKind) -> int:
        # Every match was counted, and the scan stops at the page's last match: so the
        # count of the status is the number of matches shown.
        return self.counts.get(status, 0)


@dataclass(frozen=True, slots=True)
class ScanStep:
    """Where the browser's next step of a paused scan starts, and what came before it."""

    cursor: str
    so_far: ScanSoFar


@dataclass(frozen=True, slots=True)
class StatusScan:
    """What a status-filtered view found, and how far it looked.

    A step that continues a scan (`ScanSoFar`) holds only its own new matches in `threads`;
    every figure (`found`, `scanned`, `upstream_pages`, `scanned_counts`) is the whole scan's.
    """

    threads: tuple[Thread, ...]
    # Matches in the whole scan (more than `threads` when this step continues earlier ones).
    found: int
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
    first_match_id: str | None = None
    # True when the time slice ended this answer early: the browser continues the scan.
    paused: bool = False
    # Why the scan could not read its next page; what it read before stands.
    failure: ChatKitError | None = None


def scan_for_status(
    *,
    fetch: Callable[[str | None], ThreadPage],
    status: StatusKind,
    cursor: str | None,
    backwards: bool,
    limit: int,
    max_pages: int,
    so_far: ScanSoFar | None = None,
    should_pause: Callable[[], bool] | None = None,
) -> StatusScan:
    """Up to `limit` threads with `status`, reading pages from `cursor` in one direction.

    `fetch(cursor)` is the page of 100 next to `cursor` in the direction of travel (forwards
    after it, or backwards before it). The scan stops once it has a full page of matches or
    has read `max_pages` pages, whichever comes first, or until the page's deadline passes
    (CHATKIT_TIME_BUDGET): the pages read by then are the result, and say so. If not even
    the first page came in time, there is nothing to show but the timeout.

    A page that fails after the first ends the scan with what was read (`failure`, or
    `out_of_time` for the deadline): those matches stand.

    `should_pause()`, asked after each page, ends the answer early with `paused` set, for
    the browser to continue from `resume_cursor`. A step continuing a scan (`so_far`) counts
    its pages, limit and figures on from the earlier steps'.
    """
    matches: list[Thread] = []
    earlier = so_far or ScanSoFar(pages=0, counts={})
    counts = {kind: earlier.counts.get(kind, 0) for kind in StatusKind}
    wanted = limit - earlier.found(status)
    first_match_id = earlier.first_match_id or None
    fetched: list[datetime] = []
    request_ids: list[str] = []

    def result(
        pages_read: int,
        resume: str | None,
        *,
        out_of_time: bool = False,
        paused: bool = False,
        failure: ChatKitError | None = None,
    ) -> StatusScan:
        shown = tuple(reversed(matches)) if backwards else tuple(matches)
        return StatusScan(
            threads=shown,
            scanned=sum(counts.values()),
            upstream_pages=earlier.pages + pages_read,
            exhausted=resume is None,
            resume_cursor=resume,
            scanned_counts=counts,
            fetched_at=min(fetched, default=None),
            request_id=request_ids[0] if request_ids else None,
            out_of_time=out_of_time,
            found=counts[status],
            first_match_id=first_match_id or (shown[0].id if shown else None),
            paused=paused,
            failure=failure,
        )

    for pages_read in range(1, max_pages - earlier.pages + 1):
        try:
            page = fetch(cursor)
        except ChatKitError as error:
            if pages_read == 1 and so_far is None:
                raise  # nothing read: the page has only the error to show
            if isinstance(error, ChatKitDeadlineExceededError):
                return result(pages_read - 1, resume=cursor, out_of_time=True)
            return result(pages_read - 1, resume=cursor, failure=error)
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
                if len(matches) == wanted:
                    more = index < len(rows) or page.has_more
                    return result(pages_read, resume=thread.id if more else None)
        if not page.has_more or not rows:
            return result(pages_read, resume=None)
        cursor = rows[-1].id
        if should_pause is not None and should_pause() and earlier.pages + pages_read < max_pages:
            return result(pages_read, resume=cursor, paused=True)
    return result(max_pages - earlier.pages, resume=cursor)


def describe_scan(query: ThreadQuery, scan: StatusScan) -> str:
    """What the status scan did, in words that never claim more than it looked at."""
    assert query.status, "only status-filtered views scan"
    label = query.status.value
    count = scan.found
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
    pages = f"{scan.upstream_pages:,} upstream page{'s' if scan.upstream_pages != 1 else ''}"
    return (
        f"{found} among {scope}. The scan stopped after {pages}{why}, so there may be more "
        f"{'further back' if query.before else 'further on'}."
    )


def describe_progress(query: ThreadQuery, scan: StatusScan, *, max_pages: int) -> str:
    """What a scan still under way has done, while the browser reads its next page."""
    assert query.status, "only status-filtered views scan"
    found = f"{scan.found:,} {query.status.value}"
    return (
        f"Reading page {scan.upstream_pages + 1:,} of at most {max_pages:,}… {found} found so "
        f"far among {scan.scanned:,} threads."
    )
