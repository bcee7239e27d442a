from __future__ import annotations

from django import forms

from .models import SyncKind


class SyncNowForm(forms.Form):
    kind = forms.ChoiceField(choices=SyncKind.choices, error_messages={
        "required": "Say which sync to run.",
        "invalid_choice": "There is no sync called %(value)s.",
    })  # fmt: skip
