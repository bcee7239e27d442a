"""The audit log in Django's admin: readable by holders of audit.view_auditevent, never editable.

The admin already demands an active staff account; on top of that, every change path
(add, change, delete, bulk actions) is closed so the trail cannot be rewritten from the UI.

Every change list here (the audit log, and the auth app's users and groups) accepts only
the lookups its own filters use: see `DeclaredLookupsOnly`.
"""

from __future__ import annotations

import logging

from django.contrib import admin
from django.contrib.admin import FieldListFilter, SimpleListFilter
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ERROR_FLAG, IGNORED_PARAMS, PAGE_VAR, SEARCH_VAR
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import smart_split

from .models import MAX_ID_LENGTH, AuditEvent

logger = logging.getLogger(__name__)

# Enough for any id pasted whole, and a few words.
MAX_SEARCH_LENGTH = MAX_ID_LENGTH
MAX_SEARCH_TERMS = 8


class RefusedQuery(Exception):
    """A change-list query string this admin will not run; the message says why."""


class DeclaredLookupsOnly(admin.ModelAdmin):
    """A change list that runs only the filters it shows.

    Django's admin accepts any lookup on a model's own fields from the query string:
    `?end_user__regex=^(a|a)*$` runs an exponential regular expression (SQLite backtracks
    for minutes), `?details__contains=x` asks SQLite for a lookup it does not have (500).
    Here only the parameters of the declared `list_filter` and `date_hierarchy` pass;
    any other, a value those filters cannot read, a page past the end or an oversized
    search gets a 400 page saying so, before any query runs. Search is `icontains` on
    `search_fields`: the term is matched as plain text, never as a pattern.
    """

    # Facet counts are one more aggregate over the whole table per filter, on every load.
    show_facets = admin.ShowFacets.NEVER

    def declared_lookups(self, request: HttpRequest) -> frozenset[str]:
        names: set[str] = set()
        for item in self.get_list_filter(request):
            names.update(self._list_filter(request, item).expected_parameters())
        if self.date_hierarchy:
            names.update(f"{self.date_hierarchy}__{part}" for part in ("year", "month", "day"))
        return frozenset(names)

    def _list_filter(self, request: HttpRequest, item):
        """`item` from list_filter as the filter object the change list would build."""
        if isinstance(item, type) and issubclass(item, SimpleListFilter):
            return item(request, {}, self.model, self)
        field_path, filter_class = item if isinstance(item, list | tuple) else (item, None)
        field = get_fields_from_path(self.model, field_path)[-1]
        build = filter_class or FieldListFilter.create
        return build(field, request, {}, self.model, self, field_path=field_path)

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup in self.declared_lookups(request)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        try:
            self._check_query(request)
            return super().changelist_view(request, extra_context)
        except (RefusedQuery, DisallowedModelAdminLookup) as refusal:
            logger.warning("admin change list query refused: %s", refusal)
            return self._refused(request, str(refusal))

    def get_changelist_instance(self, request: HttpRequest):
        # Django answers an unreadable filter value by redirecting to the whole, unfiltered
        # list (?e=1), which looks like a result; say what was wrong instead.
        try:
            return super().get_changelist_instance(request)
        except (IncorrectLookupParameters, ValueError, OverflowError) as error:
            raise RefusedQuery(f"These filters cannot be applied: {_described(error)}") from error

    def _check_query(self, request: HttpRequest) -> None:
        declared = self.declared_lookups(request)
        ignored = {*IGNORED_PARAMS, PAGE_VAR, ERROR_FLAG}
        for name in request.GET:
            if name not in ignored and name not in declared:
                raise RefusedQuery(
                    f"This list cannot be filtered by “{name[:100]}”. Use the filters and "
                    "date links shown with the list, or the search box."
                )
        search = request.GET.get(SEARCH_VAR, "")
        if len(search) > MAX_SEARCH_LENGTH:
            raise RefusedQuery(f"Search for at most {MAX_SEARCH_LENGTH} characters.")
        if len(list(smart_split(search))) > MAX_SEARCH_TERMS:
            raise RefusedQuery(f"Search for at most {MAX_SEARCH_TERMS} words at once.")

    def _refused(self, request: HttpRequest, reason: str) -> TemplateResponse:
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": f"These {opts.verbose_name_plural} cannot be listed",
            "opts": opts,
            "reason": reason,
            "changelist_url": reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"
            ),
        }
        return TemplateResponse(request, "admin/refused_query.html", context, status=400)


def _described(error: Exception) -> str:
    cause = error.args[0] if error.args else error
    if isinstance(cause, ValidationError):
        return " ".join(cause.messages)
    # A page past the end carries no message.
    return str(cause) or "there is no such page."


@admin.register(AuditEvent)
class AuditEventAdmin(DeclaredLookupsOnly):
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
    search_help_text = (
        "Thread id, ChatKit user, staff user name or upstream request id; "
        "matched as plain text, anywhere in the value."
    )
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


# The auth app's change lists take the same guard: `?password__regex=` is no better.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class StaffUserAdmin(DeclaredLookupsOnly, UserAdmin):
    pass


@admin.register(Group)
class StaffGroupAdmin(DeclaredLookupsOnly, GroupAdmin):
    pass
