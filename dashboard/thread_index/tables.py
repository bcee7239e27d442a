"""The thread table over index rows: the live list's table and cells (dashboard/web/tables.py),
with QuerySet data, orderable columns and django-tables2's own pagination.

Each sortable column orders by the index's own orderings (selectors.thread_ordering), the
ones its B-tree indexes serve, so any sort of any page costs an index range scan.
"""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.db.models import QuerySet

from dashboard.web.links import user_threads_url
from dashboard.web.paging import CountedPaginator
from dashboard.web.tables import SortableHeaders, ThreadTable, thread_cells
from dashboard.web.timestamps import utc_time

from .selectors import as_thread, thread_ordering


class IndexedThreadTable(ThreadTable):
    title = tables.Column(verbose_name="Title")
    user = tables.Column(verbose_name="User")
    created = tables.Column(verbose_name="Created")
    status = tables.Column(verbose_name="Status")
    changed = tables.Column(verbose_name="Changed")

    class Meta(ThreadTable.Meta):
        pass

    shows_changed = True
    # A header's first click: newest (or latest change) first for times, A-Z for text.
    FIRST_SORTS = {"created": "-created", "changed": "-changed"}

    def next_sort(self, name: str, current: str) -> str:
        if name == "changed":
            return "-changed"  # never-changed threads first would list nothing useful
        return super().next_sort(name, current)

    def cells(self) -> list[dict[str, Any]]:
        rows = []
        for row in self.paginated_rows:
            record = row.record
            cells = thread_cells(as_thread(record))
            moment = record.status_changed_at
            cells["changed"] = utc_time(moment) if moment else ""
            rows.append(cells)
        return rows

    def _ordered(self, queryset: QuerySet, name: str, is_descending: bool) -> tuple[QuerySet, bool]:
        return queryset.order_by(*thread_ordering(f"-{name}" if is_descending else name)), True

    def order_title(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet, bool]:
        return self._ordered(queryset, "title", is_descending)

    def order_user(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet, bool]:
        return self._ordered(queryset, "user", is_descending)

    def order_created(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet, bool]:
        return self._ordered(queryset, "created", is_descending)

    def order_status(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet, bool]:
        return self._ordered(queryset, "status", is_descending)

    def order_changed(self, queryset: QuerySet, is_descending: bool) -> tuple[QuerySet, bool]:
        return self._ordered(queryset, "changed", True)


def paginated(table: tables.Table, *, total: int, page: int | None, per_page: int) -> bool:
    """Page `table` with django-tables2's pagination, told the total (no second COUNT);
    False when `page` is past the last page (the table is then left unpaged and unread)."""
    last = max(1, -(-total // per_page))
    if (page or 1) > last:
        return False
    table.paginate(paginator_class=CountedPaginator, per_page=per_page, page=page or 1, count=total)
    return True


class UserTable(SortableHeaders, tables.Table):
    """The users index: UserCount rows, ordered by the (source, ...) indexes where there is
    one; the per-status counts sort in memory over at most the users of one source."""

    user = tables.Column(verbose_name="User")
    threads = tables.Column(verbose_name="Threads", order_by=("thread_count", "-user"))
    active = tables.Column(verbose_name="Active", order_by=("active_count", "-user"))
    locked = tables.Column(verbose_name="Locked", order_by=("locked_count", "-user"))
    closed = tables.Column(verbose_name="Closed", order_by=("closed_count", "-user"))
    first = tables.Column(verbose_name="First thread", order_by=("first_thread_at", "-user"))
    last = tables.Column(verbose_name="Last thread", order_by=("last_thread_at", "-user"))

    FIRST_SORTS = {
        name: f"-{name}" for name in ("threads", "active", "locked", "closed", "first", "last")
    }

    class Meta:
        template_name = "thread_index/user_table.html"
        attrs = {"class": "user-table"}
        empty_text = "No users."

    def cells(self) -> list[dict[str, Any]]:
        return [
            {
                "user": row.record.user,
                "url": user_threads_url(row.record.user),
                "threads": row.record.thread_count,
                "active": row.record.active_count,
                "locked": row.record.locked_count,
                "closed": row.record.closed_count,
                "other": row.record.other_count,
                "first": utc_time(row.record.first_thread_at),
                "last": utc_time(row.record.last_thread_at),
            }
            for row in self.paginated_rows
        ]


USER_SORTS = tuple(
    sort for name in ("user", "threads", "active", "locked", "closed", "first", "last")
    for sort in (name, f"-{name}")
)  # fmt: skip
DEFAULT_USER_SORT = "-threads"
