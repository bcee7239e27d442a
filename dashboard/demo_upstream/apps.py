"""The demo upstream as a Django app, so `manage.py` finds its `run_demo_upstream` command."""

from __future__ import annotations

from django.apps import AppConfig


class DemoUpstreamConfig(AppConfig):
    name = "dashboard.demo_upstream"
    label = "demo_upstream"
    verbose_name = "Demo ChatKit upstream"
