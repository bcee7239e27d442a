"""One thread: its page with the transcript, and its deletion. Validate, call a service, render."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from dashboard.audit.models import AuditAction
from dashboard.audit.services import record_event
from dashboard.chatkit.errors import ChatKitError, ChatKitNotFoundError
from dashboard.chatkit.items import ThreadItemPage
from dashboard.chatkit.types import Thread

from .forms import (
    MAX_THREAD_ID_LENGTH,
    OpenThreadForm,
    ThreadDeleteForm,
    ThreadItemQueryForm,
)
from .links import thread_url, user_threads_url
from .problems import Problem, problem_for, with_retry_after
from .services import (
    DEFAULT_LIMIT,
    pager_for,
    thread_delete,
    thread_detail,
    thread_items_page,
)

DELETE_PERMISSION = "threads.delete_thread"


def thread_missing(request: HttpRequest, thread_id: str, error: ChatKitError) -> HttpResponse:
    return render(
        request,
        "threads/thread_missing.html",
        {"thread_id": thread_id, "request_id": error.request_id, "detail": error.message},
        status=404,
    )


def thread_id_too_long(request: HttpRequest, thread_id: str) -> HttpResponse:
    return render(
        request,
        "threads/thread_missing.html",
        {
            "thread_id": thread_id[:80] + "…",
            "too_long": f"Thread ids are at most {MAX_THREAD_ID_LENGTH} characters; "
            f"this one has {len(thread_id):,}.",
        },
        status=400,
    )


class ThreadIdCheckMixin:
    """Refuse an absurdly long thread id before any upstream call, whatever the method."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        thread_id = kwargs["thread_id"]
        if len(thread_id) > MAX_THREAD_ID_LENGTH:
            return thread_id_too_long(request, thread_id)
        return super().dispatch(request, *args, **kwargs)


class ThreadDetailView(ThreadIdCheckMixin, TemplateView):
    template_name = "threads/detail.html"

    def get(self, request: HttpRequest, thread_id: str) -> HttpResponse:
        form = ThreadItemQueryForm(request.GET)
        if not form.is_valid():
            return self.render_to_response(
                self.get_context_data(form=form, thread_id=thread_id), status=400
            )
        # The transcript reads oldest first; these page through it.
        limit = form.cleaned_data["limit"]
        after = form.cleaned_data["after"] or None
        before = form.cleaned_data["before"] or None
        try:
            thread = thread_detail(thread_id=thread_id)
        except ChatKitNotFoundError as error:
            return thread_missing(request, thread_id, error)
        except ChatKitError as error:
            problem = problem_for(error)
            response = self.render_to_response(
                self.get_context_data(form=form, thread_id=thread_id, problem=problem),
                status=problem.status_code,
            )
            return with_retry_after(response, problem)

        context = self.get_context_data(form=form, thread_id=thread_id, thread=thread)
        status = 200
        try:
            page = thread_items_page(
                thread_id=thread_id, after=after, before=before, limit=limit, order="asc"
            )
        except ChatKitError as error:
            # The thread itself loaded: show it, with the transcript's failure in the banner.
            context["problem"] = problem = problem_for(error)
            status = problem.status_code
        else:
            problem = None
            context["items"] = page.items
            context.update(
                self.pager_links(thread_id, page, after=after, before=before, limit=limit)
            )
        record_event(
            actor=request.user,
            action=AuditAction.VIEWED_THREAD,
            thread_id=thread.id,
            end_user=thread.user,
            upstream_request_id=thread.request_id,
            details={k: v for k, v in (("after", after), ("before", before)) if v},
        )
        return with_retry_after(self.render_to_response(context, status=status), problem)

    def pager_links(
        self,
        thread_id: str,
        page: ThreadItemPage,
        *,
        after: str | None,
        before: str | None,
        limit: int,
    ) -> dict[str, str]:
        pager = pager_for(
            after=after,
            before=before,
            first_id=page.first_id,
            last_id=page.last_id,
            has_more=page.has_more,
        )

        def link(**cursor: str) -> str:
            params = {"limit": limit} if limit != DEFAULT_LIMIT else {}
            params.update(cursor)
            url = thread_url(thread_id)
            return f"{url}?{urlencode(params)}" if params else url

        return {
            "start_url": "" if pager.on_first_page else link(),
            "earlier_url": link(before=pager.previous_before) if pager.previous_before else "",
            "later_url": link(after=pager.next_after) if pager.next_after else "",
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        thread: Thread | None = context.get("thread")
        thread_id = context["thread_id"]
        context["detail_url"] = thread_url(thread_id)
        context["delete_url"] = thread_url(thread_id, "delete/")
        context["can_delete"] = self.request.user.has_perm(DELETE_PERMISSION)
        if thread is not None:
            context["user_url"] = user_threads_url(thread.user) if thread.user else ""
        return context


class ThreadDeleteView(PermissionRequiredMixin, ThreadIdCheckMixin, TemplateView):
    """GET asks for the id to be retyped; only a POST with the right id deletes."""

    template_name = "threads/delete.html"
    permission_required = DELETE_PERMISSION
    raise_exception = True
    permission_denied_message = (
        "Deleting threads needs the “Can delete ChatKit threads” permission. "
        "Ask an administrator if your work requires it."
    )

    def get(self, request: HttpRequest, thread_id: str) -> HttpResponse:
        form = ThreadDeleteForm(thread_id=thread_id)
        try:
            thread = thread_detail(thread_id=thread_id)
        except ChatKitNotFoundError as error:
            return thread_missing(request, thread_id, error)
        except ChatKitError as error:
            # The confirmation still works without the thread's facts; say why they are missing.
            problem = problem_for(error)
            response = self.render_page(
                thread_id, form, problem=problem, status=problem.status_code
            )
            return with_retry_after(response, problem)
        return self.render_page(thread_id, form, thread=thread)

    def post(self, request: HttpRequest, thread_id: str) -> HttpResponse:
        form = ThreadDeleteForm(request.POST, thread_id=thread_id)
        if not form.is_valid():
            return self.render_page(thread_id, form, status=400)
        owner = self.owner_of(thread_id)
        try:
            result = thread_delete(thread_id=thread_id)
        except ChatKitError as error:
            # Failed attempts are recorded too (as their own action): trying is worth knowing.
            record_event(
                actor=request.user,
                action=AuditAction.DELETE_FAILED,
                thread_id=thread_id,
                end_user=owner,
                upstream_request_id=error.request_id,
                details={"status": error.status, "error": error.message},
            )
            if isinstance(error, ChatKitNotFoundError):
                # Gone already: deleted by someone else, or by our own attempt whose answer
                # was lost (the client retries a DELETE that timed out, as OpenAI's SDK does).
                messages.warning(
                    request,
                    f"Thread {thread_id} no longer exists upstream: it was already deleted, "
                    "or never existed. Nothing was deleted now.",
                )
                return redirect("threads:list")
            problem = problem_for(error)
            response = self.render_page(
                thread_id, form, problem=problem, status=problem.status_code
            )
            return with_retry_after(response, problem)
        record_event(
            actor=request.user,
            action=AuditAction.DELETED_THREAD,
            thread_id=thread_id,
            end_user=owner,
            upstream_request_id=result.request_id,
        )
        messages.success(request, f"Deleted thread {thread_id}.")
        # Back to the owner's remaining threads, where a data-deletion request continues.
        return redirect(user_threads_url(owner) if owner else reverse("threads:list"))

    def owner_of(self, thread_id: str) -> str:
        """The thread's user, for the audit record; best effort, never blocks the deletion."""
        try:
            return thread_detail(thread_id=thread_id).user
        except ChatKitError:
            return ""

    def render_page(
        self,
        thread_id: str,
        form: ThreadDeleteForm,
        *,
        thread: Thread | None = None,
        problem: Problem | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "thread_id": thread_id,
            "thread": thread,
            "form": form,
            "problem": problem,
            "detail_url": thread_url(thread_id),
            # Not request.path: that is decoded, and ids may hold "?", "#" or "%".
            "delete_url": thread_url(thread_id, "delete/"),
        }
        return self.render_to_response(context, status=status)


@require_GET
def open_thread(request: HttpRequest) -> HttpResponse:
    """Go straight to the thread whose id was pasted into the header's box."""
    form = OpenThreadForm(request.GET)
    if not form.is_valid():
        return render(request, "threads/open_thread.html", {"open_form": form}, status=400)
    return redirect(thread_url(form.cleaned_data["id"]))
