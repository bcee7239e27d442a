"""The thread table. Rows are `Thread` dataclasses straight from the service layer.

The template does not format each row itself: `ThreadTable.cells()` turns every
`Thread` into a dict of ready-made strings in plain Python, so the template only
prints variables. Per-row `{% url %}`, `|date` and `{% include %}` made a
100-row page cost several times a plain template loop (see bench/page_cost.py).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import django_tables2 as tables

from dashboard.chatkit.types import StatusKind, Thread

from .links import thread_url, user_threads_url


class ThreadTable(tables.Table):
    # Ordering is the upstream's (the `order` filter); a column sort would reorder one page only.
    title = tables.Column(verbose_name="Title", orderable=False)
    id = tables.Column(verbose_name="Thread ID", orderable=False)
    user = tables.Column(verbose_name="User", orderable=False)
    created_at = tables.Column(verbose_name="Created", orderable=False)
    status = tables.Column(verbose_name="Status", orderable=False)

    class Meta:
        template_name = "threads/table.html"
        attrs = {"class": "thread-table"}
        empty_text = "No threads."

    def cells(self) -> list[dict[str, Any]]:
        """What the template prints for each row, computed once per row in Python."""
        return [thread_cells(row.record) for row in self.paginated_rows]


def thread_cells(thread: Thread) -> dict[str, Any]:
    # Dicts, not objects: the template engine tries `row[key]` before `getattr`.
    created = thread.created_at.astimezone(UTC)
    day = f"{created.year:04d}-{created.month:02d}-{created.day:02d}"
    status = thread.status
    return {
        "id": thread.id,
        "url": thread_url(thread.id),
        "title": thread.title,
        "user": thread.user,
        "user_url": user_threads_url(thread.user) if thread.user else "",
        "created_iso": created.isoformat(),
        "created_minute": f"{day} {created.hour:02d}:{created.minute:02d}",
        "created_second": f"{day} {created:%H:%M:%S}",
        "status_kind": status.kind.value,
        "status_label": status.label,
        "status_reason": status.reason,
        # Active threads have no reason to show; the others say when none was recorded.
        "shows_reason": status.kind is not StatusKind.ACTIVE,
    }
