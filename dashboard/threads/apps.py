from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "dashboard.threads"
    label = "threads"
    verbose_name = "ChatKit threads"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
