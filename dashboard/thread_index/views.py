"""The sync status page, and its two actions for staff allowed to start syncs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from .forms import SyncNowForm
from .models import SyncKind
from .services import cancel_sync, index_status, sync_now

START_PERMISSION = "thread_index.start_sync"


class IndexStatusView(View):
    def get(self, request):
        return render(
            request,
            "thread_index/status.html",
            {
                "status": index_status(),
                "can_start": request.user.has_perm(START_PERMISSION),
                "kinds": SyncKind,
            },
        )


class SyncNowView(PermissionRequiredMixin, View):
    permission_required = START_PERMISSION
    raise_exception = True
    http_method_names = ["post"]

    def post(self, request):
        form = SyncNowForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(error) for error in form.errors["kind"]))
            return HttpResponseRedirect(reverse("thread_index:status"))
        kind = SyncKind(form.cleaned_data["kind"])
        sync_now(kind=kind, actor=request.user)
        messages.success(
            request,
            f"{kind.label} requested. It starts as soon as a worker is free; "
            "this page shows it under Last run.",
        )
        return HttpResponseRedirect(reverse("thread_index:status"))


class CancelSyncView(PermissionRequiredMixin, View):
    permission_required = START_PERMISSION
    raise_exception = True
    http_method_names = ["post"]

    def post(self, request):
        if cancel_sync(actor=request.user):
            messages.success(request, "Cancel requested: the sync stops after its current page.")
        else:
            messages.warning(request, "No sync was running, so there was nothing to cancel.")
        return HttpResponseRedirect(reverse("thread_index:status"))
