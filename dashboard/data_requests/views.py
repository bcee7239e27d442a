"""The data request pages: list, ask (export; erasure after its dry run), follow, cancel,
download. Each view validates, calls one service and renders; upstream errors (the dry run
reads the live list) rise to the error seam."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.views import View
from django.views.generic import TemplateView

from dashboard.web.links import user_threads_url
from dashboard.web.problems import ProblemPageMixin

from .forms import DataRequestForm, EndUserForm, ErasureForm
from .models import DataRequest, RequestKind, ThreadOutcome
from .services import (
    DELETE_PERMISSION,
    ArchiveUnavailable,
    DataRequestRefused,
    data_request_archive,
    data_request_cancel,
    data_request_create,
    data_request_get,
    data_request_list,
    data_request_worker_seen,
    erasure_dry_run,
)

REQUESTS_PER_PAGE = 50
# The request's page lists this many of its threads; the archive's summary has them all.
THREADS_SHOWN = 500
NO_ERASURE_PERMISSION = (
    "Erasing a user's threads needs the “Can delete ChatKit threads” permission. "
    "Ask an administrator if your work requires it."
)


class DataRequestListView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        paginator = Paginator(data_request_list(), REQUESTS_PER_PAGE)
        page = paginator.get_page(request.GET.get("page"))
        return render(
            request,
            "data_requests/list.html",
            {
                "page": page,
                "can_erase": request.user.has_perm(DELETE_PERMISSION),
                "user_form": EndUserForm(),
            },
        )


class NewExportView(View):
    """GET: the form (the user id from the query string); POST: make the request."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = DataRequestForm(initial={"user": request.GET.get("user", "")})
        return self.page(form)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = DataRequestForm(request.POST)
        if not form.is_valid():
            return self.page(form, status=400)
        try:
            created = data_request_create(
                actor=request.user,
                kind=RequestKind.EXPORT,
                end_user=form.cleaned_data["user"],
                ticket=form.cleaned_data["ticket"],
            )
        except DataRequestRefused as refused:
            form.add_error(None, refused.message)
            return self.page(form, status=400)
        messages.success(
            request, f"Export #{created.pk} requested; it starts when a worker is free."
        )
        return redirect("data_requests:detail", pk=created.pk)

    def page(self, form: DataRequestForm, status: int = 200) -> HttpResponse:
        user = form.data.get("user") if form.is_bound else form.initial.get("user")
        context = {
            "form": form,
            # A user id given by a link is shown as it is, not retyped.
            "fixed_user": user if user and "user" not in form.errors else "",
            "multiline": is_multiline(user or ""),
            "archive_days": settings.DATA_REQUEST_ARCHIVE_DAYS,
        }
        return render(self.request, "data_requests/new_export.html", context, status=status)


class NewErasureView(ProblemPageMixin, TemplateView):
    """GET with a user: the dry run (what would be deleted), then the confirmation form.
    POST: the retyped id, then the request."""

    template_name = "data_requests/new_erasure.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(DELETE_PERMISSION):
            raise PermissionDenied(NO_ERASURE_PERMISSION)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if "user" not in request.GET:
            return self.render_to_response({"user_form": EndUserForm()})
        user_form = EndUserForm(request.GET)
        if not user_form.is_valid():
            return self.render_to_response({"user_form": user_form}, status=400)
        user = user_form.cleaned_data["user"]
        dry_run = erasure_dry_run(actor=request.user, end_user=user)
        form = ErasureForm(initial={"user": user, "dry_run_threads": len(dry_run.threads)})
        return self.render_page(self.context(user, form=form, dry_run=dry_run))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ErasureForm(request.POST)
        if not form.is_valid():
            user = form.cleaned_data.get("user") or ""
            # Asked again, the operator sees again what the erasure would delete.
            dry_run = erasure_dry_run(actor=request.user, end_user=user) if user else None
            context = self.context(user, form=form, dry_run=dry_run)
            return self.render_to_response(context, status=400)
        data = form.cleaned_data
        try:
            created = data_request_create(
                actor=request.user,
                kind=RequestKind.ERASURE,
                end_user=data["user"],
                ticket=data["ticket"],
                dry_run_threads=data["dry_run_threads"],
            )
        except DataRequestRefused as refused:
            if refused.existing is not None:
                messages.warning(request, refused.message)
                return redirect("data_requests:detail", pk=refused.existing.pk)
            form.add_error(None, refused.message)
            return self.render_to_response(self.context(data["user"], form=form), status=400)
        messages.success(
            request, f"Erasure #{created.pk} requested; it starts when a worker is free."
        )
        return redirect("data_requests:detail", pk=created.pk)

    def context(self, user: str, **kwargs: Any) -> dict[str, Any]:
        return {
            "end_user": user,
            "user_url": user_threads_url(user) if user else "",
            "multiline": is_multiline(user),
            **kwargs,
        }


def is_multiline(user: str) -> bool:
    """A text box drops line breaks; such an id (rare, but allowed) is typed in a text area."""
    return "\n" in user or "\r" in user


class RequestPageMixin:
    """Pages of one request: an unknown id is a 404."""

    request: HttpRequest

    def data_request(self, pk: int) -> DataRequest:
        try:
            return data_request_get(request_id=pk)
        except DataRequest.DoesNotExist:
            raise Http404("No such data request.") from None

    def progress_context(self, data_request: DataRequest) -> dict[str, Any]:
        user = self.request.user
        may_cancel = data_request.kind == RequestKind.EXPORT or user.has_perm(DELETE_PERMISSION)
        return {
            "data_request": data_request,
            "worker_seen": data_request_worker_seen(data_request),
            "can_cancel": may_cancel and not data_request.is_final,
        }


class DataRequestDetailView(RequestPageMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        data_request = self.data_request(pk)
        threads = data_request.threads.all()
        return render(
            request,
            "data_requests/detail.html",
            {
                **self.progress_context(data_request),
                "threads": threads[:THREADS_SHOWN],
                "threads_total": threads.count(),
                "threads_shown": THREADS_SHOWN,
                "outcomes": ThreadOutcome,
                "user_url": user_threads_url(data_request.end_user),
            },
        )


class DataRequestProgressView(RequestPageMixin, View):
    """The progress part of the request's page, for its poller (static/js/data_requests.js)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        context = self.progress_context(self.data_request(pk))
        response = TemplateResponse(request, "data_requests/_progress.html", context)
        response["Cache-Control"] = "no-store"
        return response


class DataRequestCancelView(RequestPageMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        data_request = self.data_request(pk)
        if not self.progress_context(data_request)["can_cancel"] and not data_request.is_final:
            raise PermissionDenied(NO_ERASURE_PERMISSION)
        if data_request_cancel(actor=request.user, request_id=pk):
            messages.success(request, "Cancel requested: the job stops after its current thread.")
        else:
            messages.warning(request, "This request had already finished; nothing to cancel.")
        return redirect("data_requests:detail", pk=pk)


class ArchiveDownloadView(RequestPageMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        self.data_request(pk)
        try:
            download = data_request_archive(actor=request.user, request_id=pk)
        except ArchiveUnavailable as unavailable:
            messages.error(request, unavailable.message)
            return redirect("data_requests:detail", pk=pk)
        response = FileResponse(
            download.file,
            as_attachment=True,
            filename=download.filename,
            content_type="application/zip",
        )
        response["Cache-Control"] = "no-store, private"
        return response
