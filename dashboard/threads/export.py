"""Which threads a live CSV export reads, one upstream page at a time as the file is written.

`page` is exactly the rows the list view shows for the same query (same cursor, limit and
status scan). `all` ignores the cursor and walks the whole filtered list from its start in
upstream pages of 100, reading at most `max_rows` threads: a status filter then keeps the
matches among those, so one number bounds both the file and the upstream load. The file
itself (cells, notices, the streamed response) is dashboard/web/csv_export.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from dashboard.chatkit.client import MAX_LIMIT
from dashboard.web.csv_export import ExportBatch, ExportScope
from dashboard.web.query import ThreadQuery

from .selectors import thread_listing, thread_page


def export_batches(
    *, query: ThreadQuery, scope: ExportScope, max_rows: int
) -> Iterator[ExportBatch]:
    if scope == "page":
        listing = thread_listing(query)
        yield ExportBatch(threads=listing.threads, request_id=listing.request_id)
        return
    cursor: str | None = None
    scanned = 0
    while True:
        page = thread_page(
            user=query.user,
            after=cursor,
            limit=min(MAX_LIMIT, max_rows - scanned),
            order=query.order,
        )
        scanned += len(page.threads)
        more = page.has_more and bool(page.threads)
        yield ExportBatch(
            threads=tuple(
                thread
                for thread in page.threads
                if query.status is None or thread.status.kind is query.status
            ),
            request_id=page.request_id,
            truncated=more and scanned >= max_rows,
        )
        if not more or scanned >= max_rows:
            return
        cursor = page.threads[-1].id
