"""Thread list pages: validate the query string, call one service, render."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView
from django_tables2 import SingleTableMixin

from dashboard.audit.models import AuditAction
from dashboard.audit.services import record_event
from dashboard.chatkit.errors import ChatKitError
from dashboard.chatkit.types import Thread

from .forms import ThreadFilterForm, page_user_error
from .links import DOT_SEGMENTS, user_threads_url
from .problems import problem_for, with_retry_after
from .services import (
    StatusScan,
    ThreadQuery,
    masked_key,
    pager_for,
    status_counts,
    thread_listing,
    upstream_check,
)
from .tables import ThreadTable


class ThreadListView(SingleTableMixin, TemplateView):
    template_name = "threads/list.html"
    table_class = ThreadTable
    table_pagination = False

    rows: tuple[Thread, ...] = ()
    # ?fresh=1 (the Refresh link): bypass the shared upstream cache for this one view.
    fresh: bool = False

    def page_user(self) -> str | None:
        """The user fixed by the URL, on the per-user page."""
        return None

    def base_url(self) -> str:
        return reverse("threads:list")

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = ThreadFilterForm(request.GET, fixed_user=self.page_user())
        if not form.is_valid():
            # The way out of a bad cursor keeps whichever filters were valid.
            reset_url = self.link(form.to_query(), after=None, before=None)
            return self.render_to_response(
                self.get_context_data(form=form, reset_url=reset_url), status=400
            )
        query = form.to_query()
        self.fresh = form.fresh
        try:
            context = self.load(query)
        except ChatKitError as error:
            problem = problem_for(error)
            # A stale cursor is the usual cause of a refused page: offer the way out.
            reset_url = (
                self.link(query, after=None, before=None) if query.after or query.before else ""
            )
            response = self.render_to_response(
                self.get_context_data(
                    form=form, query=query, problem=problem, problem_reset_url=reset_url
                ),
                status=problem.status_code,
            )
            return with_retry_after(response, problem)
        return self.render_to_response(self.get_context_data(form=form, query=query, **context))

    def load(self, query: ThreadQuery) -> dict:
        """Fetch the rows for `query`; returns the extra template context."""
        listing = thread_listing(query, fresh=self.fresh)
        self.rows = listing.threads
        if query.user:
            # One user's threads, whether by /users/<id>/ or ?user=: who looked is recorded,
            # once the upstream answered (a failed load showed no one's threads).
            record_event(
                actor=self.request.user,
                action=AuditAction.VIEWED_USER_THREADS,
                end_user=query.user,
                upstream_request_id=listing.request_id,
                details=query.as_params(),
            )
        scan = listing.scan
        pager = pager_for(
            after=query.after,
            before=query.before,
            first_id=listing.first_id,
            last_id=listing.last_id,
            has_more=listing.has_more,
        )
        first_url = "" if pager.on_first_page else self.link(query, after=None, before=None)
        previous_url = next_url = ""
        if pager.previous_before:
            previous_url = self.link(query, after=None, before=pager.previous_before)
        if pager.next_after:
            next_url = self.link(query, after=pager.next_after, before=None)
        return {
            "scan": scan,
            "scan_message": describe_scan(query, scan) if scan else "",
            "counts": status_counts(self.rows),
            "first_url": first_url,
            "previous_url": previous_url,
            "next_url": next_url,
            # A scan continues in its direction of travel.
            "scan_further_url": previous_url if query.before else next_url,
            "export_page_url": self.link(query, scope="page", base=self.export_url()),
            "export_all_url": self.link(
                query, after=None, before=None, scope="all", base=self.export_url()
            ),
            "export_max_rows": settings.CHATKIT.csv_max_rows,
            "as_of": listing.fetched_at,
            "refresh_url": self.refresh_link(query),
        }

    def refresh_link(self, query: ThreadQuery) -> str:
        """This very page, asked of the upstream again rather than the cache."""
        return self.link(query, fresh="1")

    def export_url(self) -> str:
        return reverse("threads:export")

    def link(self, query: ThreadQuery, *, base: str = "", **changes) -> str:
        """A URL for `query` with `changes`, on this page (or on `base`, e.g. its export)."""
        base = base or self.base_url()
        params = query.as_params(**changes)
        if self.page_user() is not None:
            params.pop("user", None)  # already in the path
        return f"{base}?{urlencode(params)}" if params else base

    def get_table_data(self):
        return self.rows

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["page_user"] = self.page_user()
        context["form_action"] = self.base_url()
        return context


class UserThreadListView(ThreadListView):
    def page_user(self) -> str:
        return self.kwargs["user"]

    def base_url(self) -> str:
        return user_threads_url(self.page_user())

    def export_url(self) -> str:
        return user_threads_url(self.page_user()) + "export.csv"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if self.page_user() in DOT_SEGMENTS:
            # Unreachable by our own links (see links.py); a hand-made URL gets the same list.
            return redirect(user_threads_url(self.page_user()))
        if error := page_user_error(self.page_user()):
            return self.render_to_response(
                {"page_user": self.page_user()[:80] + "…", "user_error": error}, status=400
            )
        return super().get(request, *args, **kwargs)


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
    return (
        f"{found} among {scope}. The scan stopped after {scan.upstream_pages:,} upstream "
        f"pages, so there may be more {'further back' if query.before else 'further on'}."
    )


class ConnectionView(TemplateView):
    """How the dashboard reaches the ChatKit API, and whether it can right now."""

    template_name = "threads/connection.html"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        config = settings.CHATKIT
        context = {
            "base_url": config.base_url,
            "organization": config.organization,
            "project": config.project,
            "key": masked_key(config.api_key),
            "options": config,
        }
        try:
            context["check"] = upstream_check()
        except ChatKitError as error:
            context["check_problem"] = problem_for(error)
        # Always 200: this page reports the upstream's state rather than failing with it.
        return self.render_to_response(self.get_context_data(**context))
