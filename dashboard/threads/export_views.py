"""CSV export of a thread list: the same filters as the page, streamed as upstream pages arrive.

Errors before the first byte get the usual error page and status. After it, the status
(200) is already sent: a failure then ends the file with one final line saying that the
file is incomplete, and so does reaching the row cap. A non-data last line is a nuisance
for CSV tools, but it is the only signal that travels with the file: the headers left
before the truncation or failure was known (WSGI has no trailers), and buffering the whole
export first would give up streaming. Data rows always have six cells and the notice has
one, so tools can tell it apart; `X-Export-Row-Limit` tells scripts the cap up front.
"""

from __future__ import annotations

import csv
import itertools
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views import View

from dashboard.audit.models import AuditAction
from dashboard.audit.services import record_event
from dashboard.chatkit.errors import ChatKitError
from dashboard.chatkit.types import Thread

from .forms import ThreadExportForm, page_user_error
from .links import user_threads_url
from .problems import problem_for, with_retry_after
from .services import ThreadExport, ThreadQuery

logger = logging.getLogger(__name__)

HEADER = ("Title", "Thread ID", "User", "Created (UTC)", "Status", "Status reason")
# Spreadsheets run a cell starting with these as a formula (OWASP's CSV injection list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads UTF-8 CSV as a legacy code page unless it starts with a byte-order mark.
BOM = "\ufeff"


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


def csv_stream(export: ThreadExport, batches: Iterable[tuple[Thread, ...]]) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield BOM + writer.writerow(HEADER)
    rows = 0
    try:
        for batch in batches:
            yield "".join(writer.writerow(csv_cells(thread)) for thread in batch)
            rows += len(batch)
    except ChatKitError as error:
        problem = problem_for(error)
        logger.warning("CSV export failed after %d rows: %s", rows, error)
        request = f" (request id {problem.request_id})" if problem.request_id else ""
        yield writer.writerow(
            [
                f"# INCOMPLETE: the export failed after {rows:,} rows. {problem.title}: "
                f"{problem.detail}{request}. Export again."
            ]
        )
        return
    if export.truncated:
        yield writer.writerow(
            [
                f"# TRUNCATED: this export reads at most {export.max_rows:,} threads "
                "(CHATKIT_CSV_MAX_ROWS) and more exist. Narrow the filters to export the rest."
            ]
        )


class ThreadExportView(View):
    # No HEAD: Django would answer it with get(), reading upstream and auditing an export.
    http_method_names = ["get", "options"]

    def page_user(self) -> str | None:
        return None

    def list_url(self) -> str:
        return reverse("threads:list")

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = self.page_user()
        if error := page_user_error(user):
            return self.error_page(message=error, status=400)
        form = ThreadExportForm(request.GET, fixed_user=user)
        if not form.is_valid():
            return self.error_page(form=form, status=400)
        query = form.to_query()
        scope = form.cleaned_data["scope"]
        export = ThreadExport(query=query, scope=scope, max_rows=settings.CHATKIT.csv_max_rows)
        batches = export.batches()
        try:
            # The first upstream page is read before any byte goes out, so its failure
            # still gets a proper error page and status.
            first = next(batches, ())
        except ChatKitError as error:
            problem = problem_for(error)
            response = self.error_page(problem=problem, status=problem.status_code)
            return with_retry_after(response, problem)
        record_event(
            actor=request.user,
            action=AuditAction.EXPORTED_CSV,
            end_user=user or query.user or "",
            upstream_request_id=export.request_id,
            details={"scope": scope, **query.as_params()},
        )
        response = StreamingHttpResponse(
            csv_stream(export, itertools.chain([first], batches)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = content_disposition_header(
            True, self.filename(query, scope)
        )
        response["X-Export-Row-Limit"] = str(export.max_rows if scope == "all" else query.limit)
        # Thread titles and user ids are personal data: no caches on the way.
        response["Cache-Control"] = "no-store"
        return response

    def filename(self, query: ThreadQuery, scope: str) -> str:
        parts = ["chatkit-threads"]
        if query.user:
            parts.append(slugify(query.user)[:40] or "user")
        if query.status:
            parts.append(query.status.value)
        parts.append("all" if scope == "all" else "page")
        return "-".join(parts) + ".csv"

    def error_page(self, *, status: int, form=None, problem=None, message: str = ""):
        context = {"form": form, "problem": problem, "message": message}
        context["back_url"] = self.list_url()
        return render(self.request, "threads/export_error.html", context, status=status)


class UserThreadExportView(ThreadExportView):
    def page_user(self) -> str:
        return self.kwargs["user"]

    def list_url(self) -> str:
        user = self.page_user()
        return reverse("threads:list") if page_user_error(user) else user_threads_url(user)
