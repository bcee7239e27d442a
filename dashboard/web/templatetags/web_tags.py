"""`{% utc_time %}`, `|problem` and `|applied_filters`, for every page's templates."""

from __future__ import annotations

from datetime import datetime

from django import forms, template
from django.utils.safestring import SafeString

from dashboard.chatkit.errors import ChatKitError

from ..problems import Problem, problem_for
from ..timestamps import Precision
from ..timestamps import utc_time as utc_time_html

register = template.Library()


@register.simple_tag
def utc_time(moment: datetime, precision: Precision = "minute") -> SafeString:
    """`{% utc_time thread.created_at %}`, or `{% utc_time moment "second" %}` / `"clock"`."""
    return utc_time_html(moment, precision)


@register.filter
def problem(error: ChatKitError | None) -> Problem | None:
    """For a page that reports an upstream failure as its finding, not as its own failure."""
    return problem_for(error) if error is not None else None


@register.filter
def applied_filters(form: forms.Form) -> str:
    """What a filter form asks for, in a line ("Status Locked · Rows 50 per page"): the
    phone's folded filters say it on their toggle. Blank and default values are left out,
    as the URL leaves them out."""
    applied = []
    for field in form.visible_fields():
        raw = str(form.data.get(field.name, "")).strip()
        if not raw or raw == str(field.field.widget.attrs.get("data-default", "")):
            continue
        # Menus keep their choices on the widget (the Rows menu adds the size asked for).
        choices = dict(getattr(field.field.widget, "choices", ()))
        shown = next((str(label) for value, label in choices.items() if str(value) == raw), raw)
        applied.append(f"{field.label} {shown}")
    return " · ".join(applied)
