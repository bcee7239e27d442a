"""The one `<time>` element every page uses for an upstream moment.

It carries the exact moment (`datetime`, for the script that shows it in the viewer's own
zone, and a UTC `title` to hover), and prints UTC until the script has run. Written in
plain Python rather than with `|date`: the thread table prints one per row
(bench/page_cost.py), and the tag in templates is the same function.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from django.utils.safestring import SafeString, mark_safe

# "minute": a date to the minute; "second": to the second (transcript entries);
# "clock": a moment of today, time only (e.g. "data as of"), which the script shows as such.
Precision = Literal["minute", "second", "clock"]


def utc_time(moment: datetime, precision: Precision = "minute") -> SafeString:
    utc = moment.astimezone(UTC)
    day = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
    clock = f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    exact = f"{day} {clock} UTC"
    if precision == "clock":
        shown, marker = f"{clock} UTC", ' data-precision="seconds"'
    elif precision == "second":
        shown, marker = exact, ""
    else:
        shown, marker = f"{day} {clock[:5]} UTC", ""
    # Only digits and fixed punctuation go in: nothing here needs escaping.
    return mark_safe(f'<time datetime="{utc.isoformat()}"{marker} title="{exact}">{shown}</time>')
