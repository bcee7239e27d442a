from django.apps import AppConfig


class WebConfig(AppConfig):
    """Installed for its template tags (`{% load web_tags %}`) and shared templates."""

    name = "dashboard.web"
    label = "web"
    verbose_name = "Shared page parts"
