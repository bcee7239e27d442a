"""CSV export of a thread list: the rows, and the streamed file they travel in.

Errors before the first byte get the usual error page and status (the export's service
reads its first batch before the response exists). After it, the status (200) is already
sent: a failure then ends the file with one final line saying that the file is
incomplete, and so does reaching the row cap. A non-data last line is a nuisance for CSV
tools, but it is the only signal that travels with the file: the headers left before the
truncation or failure was known (WSGI has no trailers), and buffering the whole export
first would give up streaming. Data rows always have six cells and the notice has one, so
tools can tell it apart; `X-Export-Row-Limit` tells scripts the cap up front.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Literal, cast

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from dashboard.chatkit.errors import ChatKitError
from dashboard.chatkit.types import Thread

from .problems import problem_for
from .query import ThreadQuery

logger = logging.getLogger(__name__)

# The rows on screen, or every matching thread up to the row cap.
ExportScope = Literal["page", "all"]
EXPORT_SCOPES: tuple[ExportScope, ...] = ("page", "all")

HEADER = ("Title", "Thread ID", "User", "Created (UTC)", "Status", "Status reason")
# Spreadsheets run a cell starting with these as a formula (OWASP's CSV injection list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads UTF-8 CSV as a legacy code page unless it starts with a byte-order mark.
BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class ExportBatch:
    """Threads for the file, as one read of the source returned them."""

    threads: tuple[Thread, ...]
    request_id: str | None = None
    # This batch ends the file because of the row cap, and more threads exist.
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class ThreadExport:
    """One export, ready to stream: its first batch is already read."""

    query: ThreadQuery
    scope: ExportScope
    # Most threads an "all" export reads (CHATKIT_CSV_MAX_ROWS).
    max_rows: int
    batches: Iterator[ExportBatch]

    @property
    def row_limit(self) -> int:
        return self.max_rows if self.scope == "all" else self.query.limit

    @property
    def filename(self) -> str:
        parts = ["chatkit-threads"]
        if self.query.user:
            parts.append(slugify(self.query.user)[:40] or "user")
        if self.query.status:
            parts.append(self.query.status.value)
        parts.append(self.scope)
        return "-".join(parts) + ".csv"


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def csv_cells(thread: Thread) -> list[str]:
    status = thread.status
    return [
        neutralise(value)
        for value in (
            thread.title or "",
            thread.id,
            thread.user,
            thread.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            status.raw_type or status.kind.value,
            status.reason or "",
        )
    ]


class Echo:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(batches: Iterable[ExportBatch], *, max_rows: int) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield BOM + writer.writerow(HEADER)
    rows = 0
    try:
        for batch in batches:
            yield "".join(writer.writerow(csv_cells(thread)) for thread in batch.threads)
            rows += len(batch.threads)
            if batch.truncated:
                yield writer.writerow(
                    [
                        f"# TRUNCATED: this export reads at most {max_rows:,} threads "
                        "(CHATKIT_CSV_MAX_ROWS) and more exist. Narrow the filters to export "
                        "the rest."
                    ]
                )
    except ChatKitError as error:
        problem = problem_for(error)
        logger.warning("CSV export failed after %d rows: %s", rows, error)
        request = f" (request id {problem.request_id})" if problem.request_id else ""
        yield writer.writerow(
            [
                f"# INCOMPLETE: the export failed after {rows:,} rows. {problem.title}: "
                f"{problem.detail.rstrip('.')}{request}. Export again."
            ]
        )


def csv_response(export: ThreadExport) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_lines(export.batches, max_rows=export.max_rows),
        content_type="text/csv; charset=utf-8",
    )
    # As an attachment the header always has a value (None is for inline without a name).
    response["Content-Disposition"] = cast(str, content_disposition_header(True, export.filename))
    response["X-Export-Row-Limit"] = str(export.row_limit)
    # Thread titles and user ids are personal data: no caches on the way.
    response["Cache-Control"] = "no-store"
    return response
