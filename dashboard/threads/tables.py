"""The thread table. Rows are `Thread` dataclasses straight from the service layer."""

from __future__ import annotations

import django_tables2 as tables


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
