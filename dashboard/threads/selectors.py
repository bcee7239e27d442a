"""Reads of the ChatKit upstream with no side effects: no audit record, no signal.

The use cases (services.py) compose these into what a person sees, and record that they
saw it. Anything that reads without a person acting (a benchmark, a background job) calls
these directly. Errors are the client's typed `ChatKitError` tree, passed through untouched.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from dashboard.chatkit.client import MAX_LIMIT, get_client, list_params
from dashboard.chatkit.errors import ChatKitError
from dashboard.chatkit.items import ThreadItemPage
from dashboard.chatkit.types import Thread, ThreadPage
from dashboard.web.query import DEFAULT_LIMIT, DEFAULT_ORDER, ThreadQuery

from . import upstream_cache
from .scan import ScanStep, StatusScan, scan_for_status


def thread_page(
    *,
    user: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
    order: str = DEFAULT_ORDER,
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


def thread_status_scan(
    *,
    query: ThreadQuery,
    max_pages: int | None = None,
    fresh: bool = False,
    pause_after: float | None = None,
    continuing: ScanStep | None = None,
) -> StatusScan:
    """Up to `query.limit` threads with `query.status`, scanning upstream pages of 100 from
    the query's cursor: forwards from `after`, or backwards from `before` (scan.py).

    `pause_after` seconds into the scan, it answers with what it has (`paused`); a
    `continuing` step picks up from where an earlier answer paused.
    """
    assert query.status is not None, "only status-filtered lists scan"
    backwards = query.before is not None
    started = time.monotonic()

    def should_pause() -> bool:
        return pause_after is not None and time.monotonic() - started >= pause_after

    def fetch(cursor: str | None) -> ThreadPage:
        return thread_page(
            user=query.user,
            after=None if backwards else cursor,
            before=cursor if backwards else None,
            limit=MAX_LIMIT,
            order=query.order,
            fresh=fresh,
        )

    return scan_for_status(
        fetch=fetch,
        status=query.status,
        cursor=continuing.cursor if continuing else query.before if backwards else query.after,
        backwards=backwards,
        limit=query.limit,
        max_pages=max_pages or settings.CHATKIT.status_scan_pages,
        so_far=continuing.so_far if continuing else None,
        should_pause=should_pause,
    )


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


def thread_listing(
    query: ThreadQuery,
    *,
    fresh: bool = False,
    pause_after: float | None = None,
    continuing: ScanStep | None = None,
) -> ThreadListing:
    """The threads `query` asks for: one upstream page, or a status scan (which may pause
    after `pause_after` seconds, or continue an earlier answer's scan)."""
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
        query=query, fresh=fresh, pause_after=pause_after, continuing=continuing
    )
    first_id = scan.first_match_id
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


def thread_get(*, thread_id: str) -> Thread:
    return get_client().get_thread(thread_id)


def thread_items_page(
    *,
    thread_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
    order: str = "asc",
) -> ThreadItemPage:
    """One page of the thread's transcript; oldest first unless asked otherwise."""
    return get_client().list_thread_items(
        thread_id, after=after, before=before, limit=limit, order=order
    )


# The transcript's first page is asked for while the thread itself is: one round trip of
# waiting instead of two. Workers only wait on the upstream (no database), each call
# bounded by the page's deadline, which the copied context carries into the worker.
_transcript_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="transcript")


def thread_with_items(
    *,
    thread_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_LIMIT,
    order: str = "asc",
) -> tuple[Thread, ThreadItemPage | ChatKitError]:
    """The thread, and a page of its transcript or why that page failed, fetched at once.

    The thread's own failure is raised; the transcript's is returned, since the page
    still shows the thread around it.
    """
    context = contextvars.copy_context()
    items = _transcript_pool.submit(
        context.run,
        _items_or_error,
        thread_id=thread_id,
        after=after,
        before=before,
        limit=limit,
        order=order,
    )
    try:
        thread = thread_get(thread_id=thread_id)
    finally:
        # Never left running past the page (nor past a test's fake upstream).
        page = items.result()
    return thread, page


def _items_or_error(
    *, thread_id: str, after: str | None, before: str | None, limit: int, order: str
) -> ThreadItemPage | ChatKitError:
    try:
        return thread_items_page(
            thread_id=thread_id, after=after, before=before, limit=limit, order=order
        )
    except ChatKitError as error:
        return error


@dataclass(frozen=True, slots=True)
class UpstreamCheck:
    elapsed_ms: float
    request_id: str | None


def upstream_check() -> UpstreamCheck:
    """The cheapest real call (one thread, never cached): can we reach the API with our key?"""
    started = time.monotonic()
    page = get_client().list_threads(limit=1)
    return UpstreamCheck(elapsed_ms=(time.monotonic() - started) * 1000, request_id=page.request_id)
