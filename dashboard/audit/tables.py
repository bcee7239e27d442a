"""The audit page's table: django-tables2 over the events, ids linking back to their pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from dashboard.web.links import thread_url, user_threads_url, with_query
from dashboard.web.timestamps import utc_time

from .models import AuditEvent

# Details are small dicts (paging, filters, an error); longer values are cut in the table
# and shown whole in the admin's read-only page.
MAX_DETAIL_CHARS = 120


def _column(header: str) -> tables.Column:
    # The label names each cell in the phone layout, where every row is a card.
    return tables.Column(verbose_name=header, orderable=False, attrs={"td": {"data-label": header}})


class AuditEventTable(tables.Table):
    # Newest first always: a column sort would need an index per column.
    created_at = _column("When")
    actor_username = _column("Staff user")
    action = _column("Action")
    thread_id = _column("Thread")
    end_user = _column("ChatKit user")
    upstream_request_id = _column("Request id")
    details = _column("Details")

    class Meta:
        model = AuditEvent
        fields = ()
        sequence = (
            "created_at",
            "actor_username",
            "action",
            "thread_id",
            "end_user",
            "upstream_request_id",
            "details",
        )
        attrs = {"class": "audit-table"}
        empty_text = "No audit events match these filters."
        default = ""

    def __init__(self, *args: Any, audit_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audit_url = audit_url

    def render_created_at(self, value: datetime) -> SafeString:
        return utc_time(value, "second")

    def render_actor_username(self, value: str) -> SafeString:
        url = with_query(self.audit_url, {"actor": value})
        return format_html('<a href="{}" title="Events by {}">{}</a>', url, value, value)

    def render_action(self, record: AuditEvent) -> str:
        return record.get_action_display()

    def render_thread_id(self, value: str) -> SafeString:
        return format_html('<a class="thread-id" href="{}">{}</a>', thread_url(value), value)

    def render_end_user(self, value: str) -> SafeString:
        return format_html('<a class="user-id" href="{}">{}</a>', user_threads_url(value), value)

    def render_upstream_request_id(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", value)

    def render_details(self, value: object) -> str:
        if not isinstance(value, dict) or not value:
            return ""
        pairs = (
            (key, _shortened(item)) for key, item in value.items() if item not in (None, "", [])
        )
        return format_html_join(" ", '<span class="detail"><b>{}</b> {}</span>', pairs)


def _shortened(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
