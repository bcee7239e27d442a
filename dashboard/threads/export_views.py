"""CSV export of a thread list: the same filters as the page, streamed as upstream pages arrive.

What happens to errors before and during the stream: dashboard/web/csv_export.py.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse

from dashboard.thread_index.answers import IndexPending
from dashboard.web.csv_export import csv_response
from dashboard.web.forms import ThreadExportForm, page_user_error
from dashboard.web.links import user_threads_url
from dashboard.web.problems import ProblemPageMixin

from .services import thread_export


class ThreadExportView(ProblemPageMixin):
    template_name = "web/export_error.html"
    # No HEAD: Django would answer it with get(), reading upstream and auditing an export.
    http_method_names = ["get", "options"]

    def page_user(self) -> str | None:
        return None

    def list_url(self) -> str:
        return reverse("threads:list")

    def get(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse | StreamingHttpResponse:
        user = self.page_user()
        if error := page_user_error(user):
            return self.render_to_response(self.get_context_data(message=error), status=400)
        form = ThreadExportForm(request.GET, fixed_user=user)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        export = thread_export(
            actor=request.user, query=form.to_query(), scope=form.cleaned_data["scope"]
        )
        if isinstance(export, IndexPending):
            return self.render_to_response(self.get_context_data(pending=export), status=503)
        return csv_response(export)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(back_url=self.list_url(), **kwargs)


class UserThreadExportView(ThreadExportView):
    def page_user(self) -> str:
        user: str = self.kwargs["user"]
        return user

    def list_url(self) -> str:
        user = self.page_user()
        return reverse("threads:list") if page_user_error(user) else user_threads_url(user)
