"""The audit page: the trail in the dashboard's own frame, for holders of the view permission.

The admin's audit change list stays as it is, read-only; this page is the one staff use.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import EmptyPage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django_tables2.paginators import LazyPaginator

from dashboard.web.links import clean_url, with_query

from .forms import AuditFilterForm
from .selectors import AuditFilters, audit_events
from .tables import AuditEventTable

VIEW_PERMISSION = "audit.view_auditevent"
PER_PAGE = 50


class AuditLogView(PermissionRequiredMixin, View):
    permission_required = VIEW_PERMISSION
    raise_exception = True
    permission_denied_message = (
        "The audit log needs the “Can view audit event” permission. "
        "Ask an administrator if your work requires it."
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        audit_url = reverse("audit:log")
        form = AuditFilterForm(request.GET)
        context: dict[str, Any] = {"form": form, "audit_url": audit_url}
        if not form.is_valid():
            return render(request, "audit/log.html", context, status=400)
        data = form.cleaned_data
        filters = AuditFilters(**{k: v or _blank(k) for k, v in data.items() if k != "page"})
        page = data["page"] or 1
        # Without JavaScript the form sends its blank filters too: go to the clean URL.
        if clean := clean_url(audit_url, request.GET, _params(filters, page)):
            return redirect(clean)
        table = AuditEventTable(audit_events(filters=filters), audit_url=audit_url)
        try:
            # No COUNT(*) over the whole trail: the lazy paginator only asks if a next page exists.
            table.paginate(paginator_class=LazyPaginator, per_page=PER_PAGE, page=page)
        except EmptyPage:
            context["past_the_end"] = _page_url(audit_url, filters, 1)
            return render(request, "audit/log.html", context, status=404)
        context.update(
            table=table,
            filters=filters,
            page=page,
            first_url=_page_url(audit_url, filters, 1),
            previous_url=_page_url(audit_url, filters, page - 1) if page > 1 else "",
            next_url=(_page_url(audit_url, filters, page + 1) if table.page.has_next() else ""),
        )
        return render(request, "audit/log.html", context)


def _blank(name: str) -> Any:
    return None if name.startswith("date_") else ""


def _params(filters: AuditFilters, page: int) -> dict[str, str]:
    """A clean query: only the filters that are on, and the page unless it is the first."""
    params = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in vars(filters).items()
        if value
    }
    if page > 1:
        params["page"] = str(page)
    return params


def _page_url(audit_url: str, filters: AuditFilters, page: int) -> str:
    return with_query(audit_url, _params(filters, page))
