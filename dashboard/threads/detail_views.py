"""One thread: its page with the transcript, and its deletion. Validate, call a service, render.

Upstream errors rise to the error seam; on these pages a missing thread gets its own page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from dashboard.chatkit.errors import ChatKitError, ChatKitNotFoundError
from dashboard.web.forms import MAX_THREAD_ID_LENGTH
from dashboard.web.links import thread_url, transcript_links, transcript_url, user_threads_url
from dashboard.web.problems import ProblemPageMixin

from .forms import OpenThreadForm, ThreadDeleteForm, ThreadItemQueryForm
from .services import (
    thread_delete,
    thread_delete_confirmation,
    thread_deletion_record,
    thread_view,
)

DELETE_PERMISSION = "threads.delete_thread"
# Transcript items shown folded (<details>), which "Expand all" opens.
FOLDED_KINDS = frozenset({"client_tool_call", "task", "task_group", "widget"})


class ThreadPageMixin(ProblemPageMixin):
    """A page about one thread: an absurdly long id is refused before any upstream call,
    whatever the method, and an id the upstream does not know gets "Thread not found"."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        thread_id: str = kwargs["thread_id"]
        if len(thread_id) > MAX_THREAD_ID_LENGTH:
            return self.thread_missing(
                thread_id=thread_id[:80] + "…",
                too_long=f"Thread ids are at most {MAX_THREAD_ID_LENGTH} characters; "
                f"this one has {len(thread_id):,}.",
                status=400,
            )
        return super().dispatch(request, *args, **kwargs)

    def problem_response(self, error: ChatKitError) -> HttpResponse:
        if isinstance(error, ChatKitNotFoundError):
            thread_id = self.kwargs["thread_id"]
            return self.thread_missing(
                thread_id=thread_id,
                deletion=thread_deletion_record(thread_id=thread_id),
                request_id=error.request_id,
                detail=error.message,
                status=404,
            )
        return super().problem_response(error)

    def thread_missing(self, *, status: int, **context: Any) -> HttpResponse:
        return TemplateResponse(self.request, "threads/thread_missing.html", context, status=status)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        thread_id: str = self.kwargs["thread_id"]
        return super().get_context_data(
            thread_id=thread_id,
            detail_url=thread_url(thread_id),
            # Not request.path: that is decoded, and ids may hold "?", "#" or "%".
            delete_url=thread_url(thread_id, "delete/"),
            **kwargs,
        )


class ThreadDetailView(ThreadPageMixin, TemplateView):
    template_name = "threads/detail.html"

    def get(self, request: HttpRequest, thread_id: str) -> HttpResponse:
        form = ThreadItemQueryForm(request.GET)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        paging = form.cleaned_data
        limit, order = paging["limit"], paging["order"]
        viewed = thread_view(
            actor=request.user,
            thread_id=thread_id,
            after=paging["after"],
            before=paging["before"],
            limit=limit,
            order=order,
        )
        thread, pager = viewed.thread, viewed.pager
        if paging["before"] and pager and not pager.previous_before:
            # Paged back to the start: that is the first page, at its own URL.
            return redirect(transcript_url(thread_id, limit=limit, order=order))
        pages = (
            transcript_links(thread_id, limit=limit, pager=pager, order=order) if pager else None
        )
        context = self.get_context_data(
            form=form,
            thread=thread,
            items=viewed.items,
            pages=pages,
            newest_first=order == "desc",
            foldable=any(item.kind in FOLDED_KINDS for item in viewed.items or ()),
            orders={
                "oldest": transcript_url(thread_id, limit=limit),
                "newest": transcript_url(thread_id, limit=limit, order="desc"),
            },
            # This very page, for each message's permalink (its anchor added per item).
            page_url=transcript_url(
                thread_id,
                limit=limit,
                order=order,
                **{k: paging[k] for k in ("after", "before") if paging[k]},
            ),
            user_url=user_threads_url(thread.user) if thread.user else "",
            history=viewed.history,
        )
        # The thread itself loaded: a failed transcript is a banner around it, not the page.
        return self.render_page(context, failed_part=viewed.transcript_error)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        if "form" not in kwargs:
            kwargs["form"] = ThreadItemQueryForm(self.request.GET)
        return super().get_context_data(
            can_delete=self.request.user.has_perm(DELETE_PERMISSION), **kwargs
        )


class ThreadDeleteView(PermissionRequiredMixin, ThreadPageMixin, TemplateView):
    """GET asks for the id to be retyped; only a POST with the right id deletes."""

    template_name = "threads/delete.html"
    permission_required = DELETE_PERMISSION
    raise_exception = True
    permission_denied_message = (
        "Deleting threads needs the “Can delete ChatKit threads” permission. "
        "Ask an administrator if your work requires it."
    )

    def get(self, request: HttpRequest, thread_id: str) -> HttpResponse:
        # Should the facts fail to load, the confirmation still works, saying why they are missing.
        thread = thread_delete_confirmation(thread_id=thread_id)
        return self.render_to_response(self.get_context_data(thread=thread))

    def post(self, request: HttpRequest, thread_id: str) -> HttpResponse:
        form = self.get_form()
        if not form.is_valid():
            # The facts stay in view: they are what the retyped id is checked against.
            thread = thread_delete_confirmation(thread_id=thread_id)
            context = self.get_context_data(form=form, thread=thread)
            return self.render_to_response(context, status=400)
        deletion = thread_delete(actor=request.user, thread_id=thread_id)
        if deletion.already_gone:
            messages.warning(
                request,
                f"Thread {thread_id} no longer exists upstream: it was already deleted, "
                "or never existed. Nothing was deleted now.",
            )
            return redirect("threads:list")
        messages.success(request, f"Deleted thread {thread_id}.")
        # Back to the owner's remaining threads, where a data-deletion request continues.
        return redirect(
            user_threads_url(deletion.owner) if deletion.owner else reverse("threads:list")
        )

    def get_form(self) -> ThreadDeleteForm:
        data = self.request.POST if self.request.method == "POST" else None
        return ThreadDeleteForm(data, thread_id=self.kwargs["thread_id"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        if "form" not in kwargs:
            kwargs["form"] = self.get_form()
        return super().get_context_data(**kwargs)


@require_GET
def open_thread(request: HttpRequest) -> HttpResponse:
    """Go straight to the thread whose id was pasted into the header's box."""
    form = OpenThreadForm(request.GET)
    if not form.is_valid():
        return render(request, "threads/open_thread.html", {"open_form": form}, status=400)
    return redirect(thread_url(form.cleaned_data["id"]))
