"""Query strings of the index's own pages: the users index and the user suggestions."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard.chatkit.client import MAX_USER_LENGTH
from dashboard.web.forms import (
    LIMIT_CHOICES,
    MAX_PAGE,
    NO_NULL_CHARACTERS,
    page_number_field,
    size_choices,
    sort_menu,
)
from dashboard.web.query import DEFAULT_LIMIT

from .tables import DEFAULT_USER_SORT, USER_SORTS

USER_SORT_LABELS = {
    "user": "User",
    "threads": "Threads",
    "active": "Active threads",
    "locked": "Locked threads",
    "closed": "Closed threads",
    "first": "First thread",
    "last": "Last thread",
}


def _sort_label(sort: str) -> str:
    name = sort.removeprefix("-")
    if name == "user":
        return "User Z-A" if sort.startswith("-") else "User A-Z"
    if name in ("first", "last"):
        return f"{USER_SORT_LABELS[name]}, {'newest' if sort.startswith('-') else 'oldest'} first"
    return f"{USER_SORT_LABELS[name]}, {'most' if sort.startswith('-') else 'fewest'} first"


class UserDirectoryForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=MAX_USER_LENGTH,
        label="User contains",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
        error_messages={
            **NO_NULL_CHARACTERS,
            "max_length": f"Search for at most {MAX_USER_LENGTH} characters: no user id is longer.",
        },
    )
    sort = sort_menu([(s, _sort_label(s)) for s in USER_SORTS], default=DEFAULT_USER_SORT)
    limit = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(n, f"{n} per page") for n in LIMIT_CHOICES],
        label="Rows",
        widget=forms.Select(attrs={"data-default": DEFAULT_LIMIT}),
        error_messages={
            "invalid_choice": "Rows per page is one of "
            f"{', '.join(map(str, LIMIT_CHOICES[:-1]))} or {LIMIT_CHOICES[-1]}."
        },
    )
    page = page_number_field(max_page=MAX_PAGE)

    def __init__(self, data: Any, **kwargs: Any) -> None:
        data, sizes = size_choices(data)
        # Show the default sort selected, or the menu submits its first choice.
        data["sort"] = data.get("sort") or DEFAULT_USER_SORT
        super().__init__(data, **kwargs)
        # The menu shows a size asked for beside its error; the field still takes only these.
        self.fields["limit"].widget.choices = sizes

    def clean_q(self) -> str | None:
        return self.cleaned_data["q"].strip() or None

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_USER_SORT

    def clean_limit(self) -> int:
        return self.cleaned_data["limit"] or DEFAULT_LIMIT

    def params(self, **changes: object) -> dict[str, str]:
        """Query-string values for a link to this view with `changes`; defaults left out."""
        values = {
            **{k: self.cleaned_data.get(k) for k in ("q", "sort", "limit", "page")},
            **changes,
        }
        defaults = {"sort": DEFAULT_USER_SORT, "limit": DEFAULT_LIMIT, "page": 1}
        return {
            k: str(v) for k, v in values.items() if v not in (None, "") and defaults.get(k) != v
        }


class UserSuggestionForm(forms.Form):
    q = forms.CharField(max_length=MAX_USER_LENGTH, strip=False)
