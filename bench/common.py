"""Shared set-up for the in-process benchmarks: Django on an in-memory database, no test
instrumentation (it would slow template rendering), a signed-in staff test client."""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
DEMO_KEY = "demo-key-not-secret"


def setup_django() -> None:
    import django

    django.setup()
    import logging
    import warnings

    from django.conf import settings

    warnings.filterwarnings("ignore", message="No directory at")
    logging.disable(logging.WARNING)  # e.g. urllib3 "pool is full" in the no-cache burst
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DATABASES["default"] = {
        **settings.DATABASES["default"],
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    }
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="bench", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def point_at(base_url: str, *, ttl: float) -> None:
    from django.conf import settings

    settings.CHATKIT = replace(settings.CHATKIT, base_url=base_url)
    settings.CHATKIT = replace(settings.CHATKIT, api_key=DEMO_KEY)
    settings.CHATKIT = replace(settings.CHATKIT, cache_ttl=ttl)
    from dashboard.chatkit import client

    client._client = None  # rebuilt from the settings above


def median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, seconds: float = 90) -> None:
    """Until `url` answers; any request error (refused, reset, timed out, garbled) is "not yet"."""
    from urllib.request import urlopen

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=5):
                return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up within {seconds} s")
