from django.urls import path, register_converter

from . import views


class UserIdConverter:
    """Any non-empty string, slashes and newlines included: user ids are free-form."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UserIdConverter, "userid")

app_name = "threads"
urlpatterns = [
    path("threads/", views.ThreadListView.as_view(), name="list"),
    path("users/<userid:user>/", views.UserThreadListView.as_view(), name="user"),
]
