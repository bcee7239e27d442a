"""A thread list's query string, validated: the filters every thread list offers.

The URL is the page's whole state. Every bad value gets a message beside its field and a
400, never an upstream call.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.http import QueryDict

from dashboard.chatkit.client import MAX_LIMIT, MAX_USER_LENGTH
from dashboard.chatkit.types import StatusKind

from .csv_export import ExportScope
from .query import (
    DEFAULT_LIMIT,
    DEFAULT_ORDER,
    DEFAULT_SORT,
    DEFAULT_ZONE,
    FILTERABLE_STATUSES,
    SORTS,
    ThreadQuery,
)

LIMIT_CHOICES = (10, 20, 50, 100)
STATUS_CHOICES = [("", "Any status")] + [
    (kind.value, kind.value.capitalize()) for kind in FILTERABLE_STATUSES
]
ORDER_CHOICES = [("desc", "Newest first"), ("asc", "Oldest first")]
SORT_LABELS = {
    "-created": "Newest first",
    "created": "Oldest first",
    "title": "Title A-Z",
    "-title": "Title Z-A",
    "user": "User A-Z",
    "-user": "User Z-A",
    "status": "Status A-Z",
    "-status": "Status Z-A",
    "-changed": "Status changed, latest first",
}
SORT_CHOICES = [(name, SORT_LABELS[name]) for name in SORTS]
# A trigram index serves substring search from 3 characters on; shorter ones would scan.
MIN_SEARCH_LENGTH = 3
MAX_SEARCH_LENGTH = 200
MAX_PAGE = 1_000_000
MAX_ZONE_LENGTH = 64
# Dates outside these could not become moments in every zone (and no thread is from then).
EARLIEST_DATE, LATEST_DATE = date(1970, 1, 1), date(9998, 12, 31)
# Thread ids in URLs and the "open a thread" box. Real ones are short (`cthr_` + hex):
# anything longer is a mistake, refused before an upstream call.
MAX_THREAD_ID_LENGTH = 512
# Cursors are upstream ids too.
MAX_CURSOR_LENGTH = MAX_THREAD_ID_LENGTH
# Django's stock "Null characters are not allowed.", in the dashboard's words.
NO_NULL_CHARACTERS = {
    "null_characters_not_allowed": "Remove the null character: no id, name or title has one."
}
NOT_A_ZONE = "That is not a time zone name."
CURSOR_ERRORS = {
    **NO_NULL_CHARACTERS,
    "max_length": "This page cursor is too long to be an id "
    f"(at most {MAX_CURSOR_LENGTH} characters).",
}


def page_number_field(*, max_page: int) -> forms.IntegerField:
    """The hidden page number of every numbered list (index answers, users, audit log)."""
    return forms.IntegerField(
        required=False,
        min_value=1,
        max_value=max_page,
        widget=forms.HiddenInput,
        error_messages={
            "invalid": "The page number must be a whole number from 1.",
            "min_value": "Pages are numbered from 1.",
            "max_value": f"Only the first {max_page:,} pages can be listed; narrow the filters.",
        },
    )


def page_user_error(user: str | None) -> str:
    """What is wrong with a user id (a URL path's, or the user filter's), or ""."""
    if user is not None and len(user) > MAX_USER_LENGTH:
        return f"User ids are at most {MAX_USER_LENGTH} characters; this one has {len(user):,}."
    return ""


def size_choices(data: QueryDict) -> tuple[QueryDict, list[tuple[int, str]]]:
    """`data` with its page size as the Rows menu writes it (the default when blank, "20" for
    "020"), and the menu's choices: the usual sizes plus the one asked for, so the menu shows
    the size in use, or, beside its error, the size that was asked for."""
    data = data.copy()
    asked = data.get("limit", "")
    sizes = set(LIMIT_CHOICES)
    if not asked:
        # Show the default selected, or the menu submits its first (smaller) size.
        data["limit"] = str(DEFAULT_LIMIT)
    # str.isdigit() accepts "²" and "①", which int() refuses: ASCII digits only, and few of
    # them (int() refuses thousands).
    elif asked.isascii() and asked.isdigit() and len(asked) <= 9:
        data["limit"] = str(int(asked))
        sizes.add(int(asked))
    return data, [(n, f"{n:,} per page") for n in sorted(sizes)]


def sort_menu(choices: list[tuple[str, str]], *, default: str) -> forms.ChoiceField:
    """A list's Sort menu; static/js/filters.js leaves its default out of the URL it submits."""
    return forms.ChoiceField(
        required=False,
        choices=choices,
        label="Sort",
        widget=forms.Select(attrs={"data-default": default}),
        error_messages={"invalid_choice": "Choose a sort from the Sort menu."},
    )


def check_cursors(form: forms.Form, cleaned: dict[str, Any], noun: str) -> None:
    """Paging cursors are upstream ids: one direction at a time, no blanks or control codes."""
    if cleaned.get("after") and cleaned.get("before"):
        raise forms.ValidationError(
            "A page can follow 'after' or 'before', not both. Start again from the first page."
        )
    for name in ("after", "before"):
        if any(ch.isspace() or ord(ch) < 32 for ch in cleaned.get(name) or ""):
            form.add_error(name, f"This page cursor is not a valid {noun} id.")


def zone_error(zone: str) -> str:
    """What is wrong with an IANA time zone name from a query string, or ""."""
    if len(zone) > MAX_ZONE_LENGTH or not zone.isascii() or not zone.isprintable():
        return NOT_A_ZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"Unknown time zone {zone!r}: use an IANA name such as Europe/Berlin or UTC."
    return ""


class ThreadFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        min_length=MIN_SEARCH_LENGTH,
        max_length=MAX_SEARCH_LENGTH,
        label="Title contains",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
        error_messages={
            **NO_NULL_CHARACTERS,
            "min_length": f"Search for at least {MIN_SEARCH_LENGTH} characters: the title "
            "index cannot serve shorter searches.",
            "max_length": f"Search for at most {MAX_SEARCH_LENGTH} characters.",
        },
    )
    user = forms.CharField(
        required=False,
        # Trimmed and measured in clean_user(), which says so: a pasted id often carries a
        # space, and "user_0004 " would match nobody.
        strip=False,
        label="User",
        help_text="The exact user id, as your app sends it to ChatKit.",
        widget=forms.TextInput(
            attrs={
                "placeholder": "e.g. user_0042",
                "autocomplete": "off",
                "maxlength": MAX_USER_LENGTH,
                # Suggestions from the thread index (static/js/index.js fills the list).
                "list": "user-suggestions",
                "data-suggest": "users",
            }
        ),
        error_messages=NO_NULL_CHARACTERS,
    )
    status = forms.ChoiceField(
        required=False,
        choices=STATUS_CHOICES,
        label="Status",
        error_messages={
            "invalid_choice": "Choose a status from the list: active, locked or closed."
        },
    )
    created_from = forms.DateField(
        required=False,
        label="Created from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    created_to = forms.DateField(
        required=False,
        label="Created to",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    # Which zone the dates are days in: the viewer's (static/js/index.js fills it), else UTC.
    # Links carry it only with a date (ThreadQuery.as_params), and so does the form
    # (static/js/filters.js reads data-send-with).
    tz = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.HiddenInput(attrs={"data-send-with": "created_from created_to"}),
        error_messages={**NO_NULL_CHARACTERS, "max_length": NOT_A_ZONE},
    )
    sort = sort_menu(SORT_CHOICES, default=DEFAULT_SORT)
    # Older links say order=asc for sort=created; still understood, no longer offered.
    order = forms.ChoiceField(
        required=False,
        choices=ORDER_CHOICES,
        widget=forms.HiddenInput,
        error_messages={
            "invalid_choice": "Order is newest first (desc) or oldest first (asc).",
        },
    )
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        label="Rows",
        widget=forms.Select(attrs={"data-default": DEFAULT_LIMIT}),
        error_messages={
            "invalid": f"Rows per page must be a whole number from 1 to {MAX_LIMIT}.",
            "min_value": "Show at least 1 thread per page.",
            "max_value": f"Show at most {MAX_LIMIT} threads per page (the API's limit).",
        },
    )
    after = forms.CharField(
        required=False,
        max_length=MAX_CURSOR_LENGTH,
        widget=forms.HiddenInput,
        error_messages=CURSOR_ERRORS,
    )
    before = forms.CharField(
        required=False,
        max_length=MAX_CURSOR_LENGTH,
        widget=forms.HiddenInput,
        error_messages=CURSOR_ERRORS,
    )
    page = page_number_field(max_page=MAX_PAGE)

    # Whether the user filter came with spaces around it, which clean_user() removed.
    trimmed_user = False

    def __init__(self, data: QueryDict, *, fixed_user: str | None = None, **kwargs: Any) -> None:
        self.fixed_user = fixed_user
        data, sizes = size_choices(data)
        super().__init__(data, **kwargs)
        if fixed_user is not None:
            # The per-user page takes its user from the URL.
            del self.fields["user"]
        limit_widget = self.fields["limit"].widget
        assert isinstance(limit_widget, forms.Select)
        limit_widget.choices = sizes
        zone = self.data.get("tz") or DEFAULT_ZONE
        self.fields[
            "created_to"
        ].help_text = f"Both days included, in {zone if not zone_error(zone) else DEFAULT_ZONE}."

    def clean_user(self) -> str:
        given: str = self.cleaned_data["user"]
        user = given.strip()
        if error := page_user_error(user):
            raise forms.ValidationError(error)
        self.trimmed_user = bool(user) and user != given
        return user

    def clean_limit(self) -> int:
        return self.cleaned_data["limit"] or DEFAULT_LIMIT

    def clean_order(self) -> str:
        return self.cleaned_data["order"] or DEFAULT_ORDER

    def _clean_date(self, name: str) -> date | None:
        value = self.cleaned_data[name]
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise forms.ValidationError(
                f"Enter a date from {EARLIEST_DATE:%Y-%m-%d} to {LATEST_DATE:%Y-%m-%d}."
            )
        return value

    def clean_created_from(self) -> date | None:
        return self._clean_date("created_from")

    def clean_created_to(self) -> date | None:
        return self._clean_date("created_to")

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip()

    def clean_tz(self) -> str:
        zone = self.cleaned_data["tz"] or DEFAULT_ZONE
        if error := zone_error(zone):
            raise forms.ValidationError(error)
        return zone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_cursors(self, cleaned, "thread")
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        if (cleaned.get("after") or cleaned.get("before")) and self._index_only(cleaned):
            raise forms.ValidationError(
                "Page cursors (after, before) page the live list only; a search, a date "
                "range, a sort or a page number starts from its first page."
            )
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

    @staticmethod
    def _index_only(cleaned: dict[str, Any]) -> bool:
        return bool(
            ThreadQuery(
                q=cleaned.get("q") or None,
                created_from=cleaned.get("created_from"),
                created_to=cleaned.get("created_to"),
                sort=cleaned.get("sort") or DEFAULT_SORT,
                page=cleaned.get("page"),
            ).index_only
        )

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
            q=data.get("q") or None,
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            zone=data.get("tz") or DEFAULT_ZONE,
            sort=data.get("sort") or DEFAULT_SORT,
            page=data.get("page"),
        )


class ThreadExportForm(ThreadFilterForm):
    """The list's filters plus what to export: the rows on screen, or all that match."""

    scope = forms.ChoiceField(
        required=False,
        choices=[("page", "This page"), ("all", "All matching")],
        label="Export",
        error_messages={
            "invalid_choice": "Export scope is page (this page) or all (all matching).",
        },
    )

    def clean_scope(self) -> ExportScope:
        # The choices admit only "page", "all" and blank (the page).
        return "all" if self.cleaned_data["scope"] == "all" else "page"
