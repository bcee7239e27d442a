"""The audit log in Django's admin: readable by holders of audit.view_auditevent, never editable.

The admin already demands an active staff account; on top of that, every change path
(add, change, delete, bulk actions) is closed so the trail cannot be rewritten from the UI.
"""

from __future__ import annotations

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor_username",
        "action",
        "thread_id",
        "end_user",
        "upstream_request_id",
    )
    list_filter = ("action", "created_at")
    search_fields = ("thread_id", "end_user", "actor_username", "upstream_request_id")
    date_hierarchy = "created_at"
    list_select_related = False
    show_full_result_count = False
    fields = (
        "created_at",
        "actor",
        "actor_username",
        "action",
        "thread_id",
        "end_user",
        "upstream_request_id",
        "details",
    )
    readonly_fields = fields
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
