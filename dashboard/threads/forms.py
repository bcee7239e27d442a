"""The thread page's own forms: its transcript paging, the deletion's confirmation, the
header's "open a thread" box, and how a list's status scan runs. The list's filters are
shared (dashboard/web/forms.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator

from dashboard.chatkit.client import MAX_LIMIT
from dashboard.chatkit.types import StatusKind
from dashboard.web.forms import (
    CURSOR_ERRORS,
    MAX_CURSOR_LENGTH,
    MAX_THREAD_ID_LENGTH,
    check_cursors,
)
from dashboard.web.links import TRANSCRIPT_ORDER
from dashboard.web.query import DEFAULT_LIMIT

from .scan import ScanSoFar, ScanStep, StatusScan


class ThreadItemQueryForm(forms.Form):
    """The transcript's paging: `after`/`before` an item id, a page size, and its order."""

    after = forms.CharField(
        label="Later-page cursor",
        required=False,
        max_length=MAX_CURSOR_LENGTH,
        error_messages=CURSOR_ERRORS,
    )
    before = forms.CharField(
        label="Earlier-page cursor",
        required=False,
        max_length=MAX_CURSOR_LENGTH,
        error_messages=CURSOR_ERRORS,
    )
    limit = forms.IntegerField(
        label="Items per page",
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        error_messages={
            "invalid": f"Items per page must be a whole number from 1 to {MAX_LIMIT}.",
            "min_value": "Show at least 1 item per page.",
            "max_value": f"Show at most {MAX_LIMIT} items per page (the API's limit).",
        },
    )

    order = forms.ChoiceField(
        label="Order",
        required=False,
        choices=[(TRANSCRIPT_ORDER, "Oldest first"), ("desc", "Newest first")],
        error_messages={
            "invalid_choice": "Order is oldest first (asc) or newest first (desc).",
        },
    )

    def clean_order(self) -> str:
        return self.cleaned_data["order"] or TRANSCRIPT_ORDER

    def clean_after(self) -> str | None:
        return self.cleaned_data["after"] or None

    def clean_before(self) -> str | None:
        return self.cleaned_data["before"] or None

    def clean_limit(self) -> int:
        return self.cleaned_data["limit"] or DEFAULT_LIMIT

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_cursors(self, cleaned, "item")
        return cleaned


class ThreadDeleteForm(forms.Form):
    """Deleting asks the operator to retype the thread id, so a slip of the mouse cannot."""

    confirm_id = forms.CharField(
        label="Type the thread id to confirm",
        strip=False,
        max_length=4096,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, thread_id: str, **kwargs: Any) -> None:
        self.thread_id = thread_id
        super().__init__(*args, **kwargs)

    def clean_confirm_id(self) -> str:
        typed: str = self.cleaned_data["confirm_id"]
        if typed != self.thread_id:
            raise forms.ValidationError(
                "That is not this thread's id. Type it exactly (or paste it) to delete the thread."
            )
        return typed


class OpenThreadForm(forms.Form):
    """The header's "open a thread" box: support tickets quote thread ids."""

    id = forms.CharField(
        label="Thread id",
        max_length=MAX_THREAD_ID_LENGTH,
        error_messages={"required": "Paste a thread id (cthr_…) to open it."},
        widget=forms.TextInput(
            attrs={"placeholder": "cthr_…", "autocomplete": "off", "spellcheck": "false"}
        ),
    )

    def clean_id(self) -> str:
        thread_id: str = self.cleaned_data["id"]
        if any(ch.isspace() or ord(ch) < 32 for ch in thread_id):
            raise forms.ValidationError("A thread id has no spaces or line breaks.")
        # "." and ".." cannot be a path segment (see web/links.py); a "/" would be decoded
        # into a path of its own, e.g. "x/delete" into x's delete page. No real id has either.
        if thread_id in (".", "..") or "/" in thread_id:
            raise forms.ValidationError("That is not a thread id.")
        return thread_id


class StatusScanForm(forms.Form):
    """How a status scan runs: `scan=all` reads every page before answering (the page's
    no-JavaScript fallback), and the `scan_*` fields are a step the browser asks for to
    continue a paused scan, carrying the whole scan's figures so far."""

    scan = forms.ChoiceField(
        required=False,
        choices=[("", "In steps"), ("all", "Whole")],
        error_messages={"invalid_choice": "The scan is read in steps, or whole (scan=all)."},
    )
    scan_from = forms.CharField(
        required=False, max_length=MAX_CURSOR_LENGTH, error_messages=CURSOR_ERRORS
    )
    scan_pages = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={
            "invalid": "A scan step's page count is a whole number.",
            "min_value": "A scan step continues after at least 1 page.",
            "max_value": "A scan step continues within the scan's page limit "
            "(CHATKIT_STATUS_SCAN_PAGES).",
        },
    )
    # One count per status, in StatusKind's order: "97.3.0.0".
    scan_counts = forms.RegexField(
        required=False,
        regex=rf"^\d{{1,7}}(\.\d{{1,7}}){{{len(StatusKind) - 1}}}$",
        error_messages={"invalid": "A scan step's counts are whole numbers, one per status."},
    )
    scan_first = forms.CharField(required=False, max_length=MAX_THREAD_ID_LENGTH)

    def __init__(self, *args: Any, max_pages: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scan_pages"].validators.append(MaxValueValidator(max_pages - 1))

    @property
    def whole(self) -> bool:
        return self.cleaned_data.get("scan") == "all"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        step_fields = ("scan_from", "scan_pages", "scan_counts")
        given = [name for name in step_fields if cleaned.get(name)]
        if given and len(given) < len(step_fields):
            raise forms.ValidationError(
                "A scan step needs where it starts, its page count and its counts together."
            )
        return cleaned

    def step(self) -> ScanStep | None:
        """The step asked for, or None for a page of its own."""
        if not self.cleaned_data.get("scan_from"):
            return None
        counts = self.cleaned_data["scan_counts"].split(".")
        return ScanStep(
            cursor=self.cleaned_data["scan_from"],
            so_far=ScanSoFar(
                pages=self.cleaned_data["scan_pages"],
                counts={kind: int(n) for kind, n in zip(StatusKind, counts, strict=True)},
                first_match_id=self.cleaned_data["scan_first"],
            ),
        )

    @staticmethod
    def step_params(scan: StatusScan) -> dict[str, str]:
        """The query string of the step that continues `scan`."""
        assert scan.resume_cursor is not None, "an exhausted scan has no next step"
        params = {
            "scan_from": scan.resume_cursor,
            "scan_pages": str(scan.upstream_pages),
            "scan_counts": ".".join(str(scan.scanned_counts.get(kind, 0)) for kind in StatusKind),
        }
        if scan.first_match_id:
            params["scan_first"] = scan.first_match_id
        return params
