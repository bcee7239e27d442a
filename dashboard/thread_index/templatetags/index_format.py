from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """A span of seconds in words a person reads at a glance: "45 s", "4 min", "2 h 5 min"."""
    if value is None:
        return ""
    value = max(0, round(float(value)))
    if value < 120:
        return f"{value} s"
    minutes = value // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


@register.filter
def run_seconds(run) -> float | None:
    """How long a finished run took."""
    if run is None or run.finished_at is None:
        return None
    return (run.finished_at - run.started_at).total_seconds()


@register.filter
def until(moment, now) -> float | None:
    """Seconds from `now` to `moment` (negative when past)."""
    if moment is None:
        return None
    return (moment - now).total_seconds()


@register.filter
def since(moment, now) -> float | None:
    if moment is None:
        return None
    return (now - moment).total_seconds()
