from django.urls import path, register_converter

from . import detail_views, export_views, views


class UserIdConverter:
    """Any non-empty string, slashes and newlines included: user ids are free-form."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UserIdConverter, "userid")
# Thread ids too may hold any character. Deletion is matched first, so a (never seen)
# id ending in "/delete" reaches the confirmation page of its prefix, which shows that id.
register_converter(UserIdConverter, "threadid")

app_name = "threads"
urlpatterns = [
    path("threads/", views.ThreadListView.as_view(), name="list"),
    path("connection/", views.ConnectionView.as_view(), name="connection"),
    path("users/<userid:user>/", views.UserThreadListView.as_view(), name="user"),
    path("threads/export.csv", export_views.ThreadExportView.as_view(), name="export"),
    path(
        "users/<userid:user>/export.csv",
        export_views.UserThreadExportView.as_view(),
        name="user_export",
    ),
    # No trailing slash, so it never shadows a thread whose id is "open".
    path("threads/open", detail_views.open_thread, name="open"),
    path(
        "threads/<threadid:thread_id>/delete/",
        detail_views.ThreadDeleteView.as_view(),
        name="delete",
    ),
    path("threads/<threadid:thread_id>/", detail_views.ThreadDetailView.as_view(), name="detail"),
]
