"""The index's own pages: the users index and the user filter's suggestions.

Validate the query string, call one use case (answers.py), render. The thread list itself
is the live list's view, which asks the same use-case layer which source answers.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from dashboard.web.links import clean_url, numbered_pages, with_query
from dashboard.web.paging import numbered_position

from .answers import user_directory, user_suggestions
from .page_forms import UserDirectoryForm, UserSuggestionForm
from .tables import UserTable, paginated


class UserDirectoryView(TemplateView):
    template_name = "thread_index/users.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = UserDirectoryForm(request.GET)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        page_url = reverse("thread_index:users")
        # Without JavaScript the form sends its blanks and defaults: go to the clean URL.
        if clean := clean_url(page_url, request.GET, form.params()):
            return redirect(clean)
        directory = user_directory(search=form.cleaned_data["q"])

        def url(**changes: object) -> str:
            return with_query(page_url, form.params(**changes))

        table = UserTable(
            directory.rows,
            order_by=form.cleaned_data["sort"],
            sort_url=lambda sort: url(sort=sort, page=None),
        )
        page = form.cleaned_data["page"]
        found = paginated(
            table, total=directory.total, page=page, per_page=form.cleaned_data["limit"]
        )
        context = self.get_context_data(
            form=form,
            directory=directory,
            table=table,
            page_missing=not found,
            position=numbered_position(table.page) if found and directory.total else "",
            first_page=url(page=None),
            pages=numbered_pages(table.page, lambda n: url(page=n)) if found else None,
        )
        return self.render_to_response(context, status=200 if found else 404)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(form_action=reverse("thread_index:users"), **kwargs)


def user_suggestion_list(request: HttpRequest) -> JsonResponse:
    """Users whose id contains `q`, for the user filter's <datalist>: {"users": [...]}."""
    form = UserSuggestionForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"users": [], "error": "Type part of a user id."}, status=400)
    response = JsonResponse({"users": user_suggestions(typed=form.cleaned_data["q"])})
    response["Cache-Control"] = "private, max-age=30"
    return response
