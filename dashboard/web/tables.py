"""The thread table, for any list of `Thread` dataclasses (the live list); the thread index
subclasses it with orderable columns over QuerySet data (dashboard/thread_index/tables.py).

The template does not format each row itself: `ThreadTable.cells()` turns every
`Thread` into a dict of ready-made strings in plain Python, so the template only
prints variables. Per-row `{% url %}`, `|date` and `{% include %}` made a
100-row page cost several times a plain template loop (see bench/page_cost.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import django_tables2 as tables

from dashboard.chatkit.types import StatusKind, Thread

from .links import thread_url, user_threads_url
from .timestamps import utc_time


class SortableHeaders:
    """Header links for a django-tables2 table whose columns sort through the query string.

    Mixed in before `tables.Table`; `sort_url(name)` is the page's URL sorted by `name`
    (which the table's own template prints, with aria-sort on the current column).
    First clicks sort ascending unless `FIRST_SORTS` says otherwise ({"created": "-created"}).
    """

    FIRST_SORTS: dict[str, str] = {}

    def __init__(
        self, *args: Any, sort_url: Callable[[str], str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Where a sortable header leads, for a sort name ("title", "-created").
        self.sort_url = sort_url

    def headers(self) -> list[dict[str, str]]:
        """Each column's header: its label and, when the column sorts, the link that sorts
        by it (reversing the current direction) and the aria-sort state."""
        current = self.order_by[0] if self.order_by else ""  # type: ignore[attr-defined]
        headers = []
        for column in self.columns:  # type: ignore[attr-defined]
            header = {"name": column.name, "label": str(column.header), "url": "", "sorted": ""}
            if column.orderable and self.sort_url is not None:
                if current.lstrip("-") == column.name:
                    header["sorted"] = "descending" if current.startswith("-") else "ascending"
                header["url"] = self.sort_url(self.next_sort(column.name, current))
            headers.append(header)
        return headers

    def next_sort(self, name: str, current: str) -> str:
        """A header's sort: the other direction when it is the current one, else its first."""
        if current == name:
            return f"-{name}"
        if current == f"-{name}":
            return name
        return self.FIRST_SORTS.get(name, name)


class ThreadTable(SortableHeaders, tables.Table):
    # Ordering is the upstream's (the `order` filter); a column sort would reorder one page only.
    title = tables.Column(verbose_name="Title", orderable=False)
    id = tables.Column(verbose_name="Thread ID", orderable=False)
    user = tables.Column(verbose_name="User", orderable=False)
    created = tables.Column(verbose_name="Created", orderable=False)
    status = tables.Column(verbose_name="Status", orderable=False)

    class Meta:
        template_name = "web/table.html"
        attrs = {"class": "thread-table"}
        empty_text = "No threads."

    # The index's extra column of observed status changes (its subclass shows it).
    shows_changed = False

    def cells(self) -> list[dict[str, Any]]:
        """What the template prints for each row, computed once per row in Python."""
        return [thread_cells(row.record) for row in self.paginated_rows]

    def status_counts(self) -> dict[StatusKind, int]:
        """How many rows have each status, for the summary above the table."""
        return status_counts(row.record for row in self.rows)


def thread_cells(thread: Thread) -> dict[str, Any]:
    # Dicts, not objects: the template engine tries `row[key]` before `getattr`.
    status = thread.status
    return {
        "id": thread.id,
        "url": thread_url(thread.id),
        "title": thread.title,
        "user": thread.user,
        "user_url": user_threads_url(thread.user) if thread.user else "",
        "created": utc_time(thread.created_at),
        "status_kind": status.kind.value,
        "status_label": status.label,
        "status_reason": status.reason,
        # Active threads have no reason to show; the others say when none was recorded.
        "shows_reason": status.kind is not StatusKind.ACTIVE,
    }


def status_counts(threads: Iterable[Thread]) -> dict[StatusKind, int]:
    counts = dict.fromkeys(StatusKind, 0)
    for thread in threads:
        counts[thread.status.kind] += 1
    return counts
