"""A thread list's query string, validated: the filters every thread list offers.

The URL is the page's whole state. Every bad value gets a message beside its field and a
400, never an upstream call.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from dashboard.chatkit.client import MAX_LIMIT, MAX_USER_LENGTH
from dashboard.chatkit.types import StatusKind

from .csv_export import ExportScope
from .query import DEFAULT_LIMIT, DEFAULT_ORDER, ThreadQuery

LIMIT_CHOICES = (10, 20, 50, 100)
STATUS_CHOICES = [
    ("", "Any status"),
    (StatusKind.ACTIVE.value, "Active"),
    (StatusKind.LOCKED.value, "Locked"),
    (StatusKind.CLOSED.value, "Closed"),
]
ORDER_CHOICES = [("desc", "Newest first"), ("asc", "Oldest first")]
# Thread ids in URLs and the "open a thread" box. Real ones are short (`cthr_` + hex):
# anything longer is a mistake, refused before an upstream call.
MAX_THREAD_ID_LENGTH = 512
# Cursors are upstream ids too.
MAX_CURSOR_LENGTH = MAX_THREAD_ID_LENGTH


def page_user_error(user: str | None) -> str:
    """What is wrong with a user id taken from a URL path, or "" (forms check query strings)."""
    if user is not None and len(user) > MAX_USER_LENGTH:
        return f"User ids are at most {MAX_USER_LENGTH} characters; this one has {len(user):,}."
    return ""


def check_cursors(form: forms.Form, cleaned: dict[str, Any], noun: str) -> None:
    """Paging cursors are upstream ids: one direction at a time, no blanks or control codes."""
    if cleaned.get("after") and cleaned.get("before"):
        raise forms.ValidationError(
            "A page can follow 'after' or 'before', not both. Start again from the first page."
        )
    for name in ("after", "before"):
        if any(ch.isspace() or ord(ch) < 32 for ch in cleaned.get(name) or ""):
            form.add_error(name, f"This page cursor is not a valid {noun} id.")


class ThreadFilterForm(forms.Form):
    user = forms.CharField(
        required=False,
        max_length=MAX_USER_LENGTH,
        strip=False,
        label="User",
        help_text="The exact user id, as your app sends it to ChatKit.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. user_0042", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label="Status")
    order = forms.ChoiceField(required=False, choices=ORDER_CHOICES, label="Order")
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        label="Rows",
        widget=forms.Select,
        error_messages={
            "invalid": f"Rows per page must be a whole number from 1 to {MAX_LIMIT}.",
            "min_value": "Show at least 1 thread per page.",
            "max_value": f"Show at most {MAX_LIMIT} threads per page (the API's limit).",
        },
    )
    after = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH, widget=forms.HiddenInput)

    def __init__(self, data: QueryDict, *, fixed_user: str | None = None, **kwargs: Any) -> None:
        self.fixed_user = fixed_user
        if not data.get("limit"):
            # Show the default size selected, or the menu submits its first (smaller) size.
            data = data.copy()
            data["limit"] = str(DEFAULT_LIMIT)
        super().__init__(data, **kwargs)
        if fixed_user is not None:
            # The per-user page takes its user from the URL.
            del self.fields["user"]
        # The menu offers the usual sizes; a bookmark may carry any 1-100, so show it too.
        sizes = set(LIMIT_CHOICES)
        current = self.data.get("limit", "")
        # str.isdigit() accepts "²" and "①", which int() refuses: ASCII digits only.
        if current.isascii() and current.isdigit() and 1 <= int(current) <= MAX_LIMIT:
            sizes.add(int(current))
        limit_widget = self.fields["limit"].widget
        assert isinstance(limit_widget, forms.Select)
        limit_widget.choices = [(n, f"{n} per page") for n in sorted(sizes)]

    def clean_limit(self) -> int:
        return self.cleaned_data["limit"] or DEFAULT_LIMIT

    def clean_order(self) -> str:
        return self.cleaned_data["order"] or DEFAULT_ORDER

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_cursors(self, cleaned, "thread")
        if self.data.get("fresh", "") not in ("", "1"):
            raise forms.ValidationError(
                "'fresh' must be 1 (reload from the API) or left out. Start again from the "
                "first page."
            )
        return cleaned

    @property
    def fresh(self) -> bool:
        """The Refresh button: skip the shared cache once. Deliberately not part of ThreadQuery,
        so paging and filter links never carry it."""
        return self.data.get("fresh") == "1"

    def to_query(self) -> ThreadQuery:
        """The validated query; on an invalid form, what its valid fields say."""
        data = self.cleaned_data
        return ThreadQuery(
            user=self.fixed_user if self.fixed_user is not None else (data.get("user") or None),
            status=StatusKind(data["status"]) if data.get("status") else None,
            order=data.get("order") or DEFAULT_ORDER,
            limit=data.get("limit") or DEFAULT_LIMIT,
            after=data.get("after") or None,
            before=data.get("before") or None,
        )


class ThreadExportForm(ThreadFilterForm):
    """The list's filters plus what to export: the rows on screen, or all that match."""

    scope = forms.ChoiceField(
        required=False,
        choices=[("page", "This page"), ("all", "All matching")],
        label="Export",
    )

    def clean_scope(self) -> ExportScope:
        # The choices admit only "page", "all" and blank (the page).
        return "all" if self.cleaned_data["scope"] == "all" else "page"
