"""The audit page's filters: exact values only, so every filter is an indexed lookup."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from dashboard.web.forms import page_number_field

from .models import MAX_ID_LENGTH, AuditAction

MAX_PAGE = 10_000


class AuditFilterForm(forms.Form):
    # CharField strips surrounding whitespace: an id pasted from a ticket still matches.
    actor = forms.CharField(
        label="Staff user",
        required=False,
        max_length=150,
        help_text="Exact user name.",
        error_messages={"max_length": "Staff user names are at most 150 characters."},
    )
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any action"), *AuditAction.choices],
        error_messages={"invalid_choice": "Choose an action from the list."},
    )
    end_user = forms.CharField(
        label="ChatKit user",
        required=False,
        max_length=MAX_ID_LENGTH,
        help_text="Exact user id.",
        error_messages={"max_length": f"User ids are at most {MAX_ID_LENGTH} characters."},
    )
    thread = forms.CharField(
        label="Thread id",
        required=False,
        max_length=MAX_ID_LENGTH,
        error_messages={"max_length": f"Thread ids are at most {MAX_ID_LENGTH} characters."},
    )
    date_from = forms.DateField(
        label="From",
        required=False,
        help_text="UTC day, YYYY-MM-DD.",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the first day as YYYY-MM-DD."},
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        help_text="UTC day, included.",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the last day as YYYY-MM-DD."},
    )
    page = page_number_field(max_page=MAX_PAGE)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        start: date | None = cleaned.get("date_from")
        end: date | None = cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The last day comes before the first; swap them.")
        return cleaned
