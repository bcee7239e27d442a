"""`{% utc_time %}` and `|problem`, for every page's templates."""

from __future__ import annotations

from datetime import datetime

from django import template
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
