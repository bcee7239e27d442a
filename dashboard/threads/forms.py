"""The thread page's own forms: its transcript paging, the deletion's confirmation, and
the header's "open a thread" box. The list's filters are shared (dashboard/web/forms.py)."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard.chatkit.client import MAX_LIMIT
from dashboard.web.forms import MAX_CURSOR_LENGTH, MAX_THREAD_ID_LENGTH, check_cursors
from dashboard.web.links import TRANSCRIPT_ORDER
from dashboard.web.query import DEFAULT_LIMIT


class ThreadItemQueryForm(forms.Form):
    """The transcript's paging: `after`/`before` an item id, a page size, and its order."""

    after = forms.CharField(label="Later-page cursor", required=False, max_length=MAX_CURSOR_LENGTH)
    before = forms.CharField(
        label="Earlier-page cursor", required=False, max_length=MAX_CURSOR_LENGTH
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
