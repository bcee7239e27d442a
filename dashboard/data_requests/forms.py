"""The request forms: whose data, which ticket, and for an erasure the retyped user id."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard.chatkit.client import MAX_USER_LENGTH

from .models import MAX_TICKET_LENGTH
from .services import check_end_user


class EndUserForm(forms.Form):
    """The user id alone (a GET query string): exact, whatever characters it holds."""

    user = forms.CharField(
        label="End user id",
        strip=False,
        max_length=MAX_USER_LENGTH,
        help_text="Exactly as your app sends it to ChatKit; every character counts.",
        error_messages={"required": "Give the end user's id."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_user(self) -> str:
        user: str = self.cleaned_data["user"]
        if problem := check_end_user(user):
            raise forms.ValidationError(problem)
        return user


class DataRequestForm(EndUserForm):
    ticket = forms.CharField(
        label="Ticket reference",
        max_length=MAX_TICKET_LENGTH,
        help_text="The privacy or support ticket this request comes from, e.g. PRIV-1234.",
        error_messages={"required": "Give the ticket this request comes from."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ErasureForm(DataRequestForm):
    """An erasure asks the operator to retype the user id, after seeing the dry run."""

    confirm_user = forms.CharField(
        label="Type the user id to confirm",
        strip=False,
        max_length=4096,
        error_messages={"required": "Type the user id to confirm the erasure."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    # How many threads the dry run showed: recorded with the request.
    dry_run_threads = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user, typed = cleaned.get("user"), cleaned.get("confirm_user")
        if user is not None and typed is not None and typed != user:
            self.add_error(
                "confirm_user",
                "That is not this user's id. Type it exactly (or paste it) to erase their threads.",
            )
        return cleaned
