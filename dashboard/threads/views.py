"""Thread list pages and the connection page: validate the query string, call one service,
render. Upstream errors rise to the error seam (dashboard/web/problems.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.generic import TemplateView
from django_htmx.middleware import HtmxDetails

from dashboard.thread_index.answers import IndexedThreads, IndexPending
from dashboard.thread_index.tables import IndexedThreadTable, paginated
from dashboard.web.forms import ThreadFilterForm, page_user_error
from dashboard.web.links import DOT_SEGMENTS, FIRST_PAGE, ListLinks, user_threads_url
from dashboard.web.paging import numbered_position
from dashboard.web.problems import Problem, ProblemPageMixin
from dashboard.web.query import ThreadQuery
from dashboard.web.tables import ThreadTable

from .forms import StatusScanForm
from .scan import ScanStep, StatusScan
from .services import (
    ListAnswer,
    ThreadList,
    connection_check,
    status_scan_step,
    thread_list,
    user_thread_list,
)

# Seconds after which a page the index cannot answer yet is worth asking again.
INDEX_PENDING_RETRY = 60


class ThreadListView(ProblemPageMixin, TemplateView):
    template_name = "threads/list.html"

    def links(self) -> ListLinks:
        return ListLinks(page=reverse("threads:list"), export=reverse("threads:export"))

    def get_form(self) -> ThreadFilterForm:
        return ThreadFilterForm(self.request.GET)

    def list_threads(self, form: ThreadFilterForm, *, in_steps: bool) -> ListAnswer:
        return thread_list(
            actor=self.request.user, query=form.to_query(), fresh=form.fresh, in_steps=in_steps
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form, links = self.get_form(), self.links()
        scan_form = StatusScanForm(request.GET, max_pages=settings.CHATKIT.status_scan_pages)
        if not (form.is_valid() and scan_form.is_valid()):
            # The way out of a bad cursor keeps whichever filters were valid.
            query = form.to_query()
            return self.render_to_response(
                self.get_context_data(
                    form=form,
                    scan_form=scan_form,
                    query=query,
                    reset_url=links.first_page(query),
                ),
                status=400,
            )
        if (step := scan_form.step()) is not None:
            return self.scan_step(form, step)
        query = form.to_query()
        if form.trimmed_user:
            messages.info(request, f"Showing “{query.user}”: the spaces around it were removed.")
        # A form submitted without JavaScript carries its blanks and defaults (filters.js
        # leaves them out): land on the URL the app's own links use. A Refresh is clean.
        # How a scan runs is no filter but stays too (without JavaScript: read whole).
        whole = {"scan": "all"} if scan_form.whole else {}
        if not form.fresh and (clean := links.clean_url(query, request.GET, also=whole)):
            return redirect(clean)
        listed = self.list_threads(form, in_steps=not scan_form.whole)
        if isinstance(listed, IndexedThreads):
            return self.index_answer(form, listed)
        if isinstance(listed, IndexPending):
            return self.index_pending(form, listed)
        if query.before and not listed.pager.previous_before:
            # Paged back to the start: that is the first page, at its own URL.
            return redirect(links.url(query, {**FIRST_PAGE, **whole}))
        return self.render_to_response(self.live_context(form, listed))

    def live_context(self, form: ThreadFilterForm, listed: ThreadList) -> dict[str, Any]:
        links = self.links()
        scan = listed.scan
        return self.get_context_data(
            form=form,
            query=listed.query,
            listed=listed,
            position=live_position(listed.query),
            table=ThreadTable(
                listed.threads,
                empty_text="None found yet; still scanning." if listed.scan_continues else None,
            ),
            links=links.for_page(listed.query, listed.pager),
            export_max_rows=settings.CHATKIT.csv_max_rows,
            **(self.scan_links(listed.query, scan) if scan and listed.scan_continues else {}),
        )

    def scan_links(self, query: ThreadQuery, scan: StatusScan) -> dict[str, str]:
        """A paused scan's next step (htmx reads it), and its fallback without JavaScript:
        the same scan, read whole."""
        links = self.links()
        return {
            "next_step_url": links.url(query, StatusScanForm.step_params(scan)),
            "whole_scan_url": links.url(query, {"scan": "all"}),
        }

    def scan_step(self, form: ThreadFilterForm, step: ScanStep) -> HttpResponse:
        """The browser's next step of a scan this page showed paused: new rows, and the
        parts of the page that change with them."""
        query = form.to_query()
        if not HtmxDetails(self.request):
            # Its figures only make sense inside the page that paused: open that page.
            return redirect(self.links().url(query))
        if query.status is None or query.before:
            return HttpResponseBadRequest("Only a forward status scan continues in steps.")
        if step.so_far.found(query.status) >= query.limit:
            return HttpResponseBadRequest("This scan's page is full already: nothing to continue.")
        listed = status_scan_step(actor=self.request.user, query=query, step=step)
        context = self.live_context(form, listed)
        context["earlier_found"] = step.so_far.found(query.status)
        response = TemplateResponse(self.request, "threads/_scan_step.html", context)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def index_answer(self, form: ThreadFilterForm, listed: IndexedThreads) -> HttpResponse:
        links, query = self.links(), listed.query
        table = IndexedThreadTable(
            listed.rows, order_by=query.sort, sort_url=lambda sort: links.sort_url(query, sort)
        )
        found = paginated(table, total=listed.pageable, page=query.page, per_page=query.limit)
        context = self.get_context_data(
            form=form,
            query=query,
            listed=listed,
            table=table,
            page_missing=not found,
            position=numbered_position(table.page, at_least=listed.total > listed.count_cap)
            if found and listed.total
            else "",
            links=links.for_index_page(query, table.page if found else None, listed.counts_by_kind),
            export_max_rows=settings.CHATKIT.csv_max_rows,
        )
        return self.render_to_response(context, status=200 if found else 404)

    def index_pending(self, form: ThreadFilterForm, listed: IndexPending) -> HttpResponse:
        for name in listed.query.index_only:
            if not form.fields[name].widget.is_hidden:
                form.add_error(name, "Needs the thread index, which is still being built.")
        response = self.render_to_response(
            self.get_context_data(form=form, query=listed.query, listed=listed), status=503
        )
        response["Retry-After"] = str(INDEX_PENDING_RETRY)
        return response

    def get_problem_context_data(self, problem: Problem) -> dict[str, Any]:
        form = self.get_form()
        form.is_valid()  # True: the service that failed ran after this check
        query = form.to_query()
        # A stale cursor is the usual cause of a refused page: offer the way out.
        reset_url = self.links().first_page(query) if query.after or query.before else ""
        return self.get_context_data(
            form=form, query=query, problem=problem, problem_reset_url=reset_url
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(form_action=self.links().page, **kwargs)


def live_position(query: ThreadQuery) -> str:
    """Where a live page sits. Cursor paging knows no page numbers, so a later page says only
    that it is one: "Newest threads", "A later page, newest first"."""
    direction = "oldest first" if query.order == "asc" else "newest first"
    if query.after:
        where = f"A later page, {direction}"
    elif query.before:
        where = f"An earlier page, {direction}"
    else:
        where = "Oldest threads" if query.order == "asc" else "Newest threads"
    return f"{where}, {query.status.value} only" if query.status else where


class UserThreadListView(ThreadListView):
    def page_user(self) -> str:
        user: str = self.kwargs["user"]
        return user

    def links(self) -> ListLinks:
        page = user_threads_url(self.page_user())
        return ListLinks(page=page, export=page + "export.csv", user_in_path=True)

    def get_form(self) -> ThreadFilterForm:
        return ThreadFilterForm(self.request.GET, fixed_user=self.page_user())

    def list_threads(self, form: ThreadFilterForm, *, in_steps: bool) -> ListAnswer:
        return user_thread_list(
            actor=self.request.user,
            user=self.page_user(),
            query=form.to_query(),
            fresh=form.fresh,
            in_steps=in_steps,
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = self.page_user()
        if user in DOT_SEGMENTS:
            # Unreachable by our own links (see web/links.py); a hand-made URL gets the same list.
            return redirect(user_threads_url(user))
        if error := page_user_error(user):
            return self.render_to_response(
                {"page_user": user[:80] + "…", "user_error": error}, status=400
            )
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(page_user=self.page_user(), **kwargs)


class ConnectionView(TemplateView):
    """How the dashboard reaches the ChatKit API, and whether it can right now.

    Always 200: this page reports the upstream's state rather than failing with it.
    """

    template_name = "threads/connection.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(report=connection_check()))
