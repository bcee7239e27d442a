from django.apps import AppConfig


class ThreadIndexConfig(AppConfig):
    name = "dashboard.thread_index"
    label = "thread_index"
    verbose_name = "Thread index"

    def ready(self) -> None:
        from .receivers import connect

        connect()
