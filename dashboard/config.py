"""Typed configuration: the environment parsed once, at start-up, into frozen dataclasses.

`dashboard/settings.py` builds these and exposes them as Django settings (`settings.CHATKIT`);
the rest of the code reads their attributes. Each default is written once, here. The parsers
refuse values they cannot read, so a typo fails at start-up, not at the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from dashboard.chatkit.headers import is_header_safe

# --- Parsers for environment variables -------------------------------------------


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] = os.environ) -> str:
    """A string, or the contents of the file named by NAME_FILE (for Docker/K8s secrets)."""
    file_path = environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return environ.get(name, default)


def env_bool(name: str, default: bool = False, *, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_number(
    name: str, default: float, *, minimum: float = 0, environ: Mapping[str, str] = os.environ
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}.")
    return value


def env_int(
    name: str, default: int, *, minimum: int = 0, environ: Mapping[str, str] = os.environ
) -> int:
    value = env_number(name, default, minimum=minimum, environ=environ)
    if value != int(value):
        raise ImproperlyConfigured(f"{name} must be a whole number.")
    return int(value)


def env_list(name: str, default: str = "", *, environ: Mapping[str, str] = os.environ) -> list[str]:
    return [item.strip() for item in environ.get(name, default).split(",") if item.strip()]


# --- The ChatKit upstream -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatKitConfig:
    """Everything about the upstream: where it is, who we are, and how patiently we ask."""

    api_key: str = ""
    base_url: str = "https://api.openai.com/v1"
    organization: str = ""
    project: str = ""
    # Per attempt, in seconds.
    connect_timeout: float = 3.0
    read_timeout: float = 6.0
    # All the upstream work of one page (every call, attempt and wait) fits in this many
    # seconds, counted from the request's start; so does any single call outside a page.
    time_budget: float = 8.0
    max_retries: int = 2
    # Kept-alive upstream connections per process.
    pool_size: int = 16
    # Upstream pages (of 100) the status filter reads before it stops and says so.
    status_scan_pages: int = 10
    # Seconds a status scan reads before the page shows what it has; the browser then asks
    # for the rest a step at a time, and can stop it. 0 reads every page before answering.
    status_scan_step: float = 0.5
    # Seconds an upstream list response is shared between views; 0 turns the cache off.
    cache_ttl: float = 5.0
    # Most rows one CSV export may hold (it scans upstream pages of 100).
    csv_max_rows: int = 5000
    # Seconds one CSV export may take, from its request to its last row.
    csv_time_budget: float = 60.0
    # Largest upstream body read, in bytes: a 100-item transcript page of 40 KB widgets fits.
    max_response_bytes: int = 4 * 1024 * 1024

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> ChatKitConfig:
        defaults: dict[str, Any] = {field.name: field.default for field in fields(cls)}
        values: dict[str, Any] = {
            # Stripped: a trailing newline from a secrets file or a shell is not part of the key.
            "api_key": env_str("OPENAI_API_KEY", environ=environ).strip(),
            "organization": env_str("OPENAI_ORGANIZATION", environ=environ).strip(),
            "project": env_str("OPENAI_PROJECT", environ=environ).strip(),
            "base_url": env_str("OPENAI_BASE_URL", defaults["base_url"], environ=environ).rstrip(
                "/"
            ),
        }
        for name in ("api_key", "organization", "project"):
            # They travel in HTTP headers; a curly quote pasted with the key would otherwise
            # fail every request. The message never shows the value.
            if not is_header_safe(values[name]):
                variable = "OPENAI_" + name.upper()
                raise ImproperlyConfigured(
                    f"{variable} holds a character that is not printable ASCII."
                )
        for name, minimum in (
            ("connect_timeout", 0),
            ("read_timeout", 0),
            ("time_budget", 0),
            ("cache_ttl", 0),
            ("status_scan_step", 0),
            ("csv_time_budget", 0),
        ):
            values[name] = env_number(
                f"CHATKIT_{name.upper()}", defaults[name], minimum=minimum, environ=environ
            )
        for name, minimum in (
            ("max_retries", 0),
            ("pool_size", 1),
            ("status_scan_pages", 1),
            ("csv_max_rows", 1),
            ("max_response_bytes", 1024),
        ):
            values[name] = env_int(
                f"CHATKIT_{name.upper()}", defaults[name], minimum=minimum, environ=environ
            )
        return cls(**values)


# --- The local thread index -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """How the thread index is kept fresh: the sync schedule, its pace and its promises."""

    # The scheduler starts syncs; off, only `manage.py sync_threads` and "sync now" do.
    sync_enabled: bool = True
    # An incremental pass (new threads) every this many seconds.
    sync_seconds: float = 30.0
    # The recent window: threads created in the last this many days are re-read ...
    recent_days: int = 7
    # ... every this many seconds, since that is where locks and closes happen.
    recent_seconds: float = 240.0
    # A full sweep (every thread: status changes and deletions) every this many seconds.
    full_sweep_seconds: float = 86400.0
    # Upstream calls per second a sync may make, retries included.
    max_calls_per_second: float = 10.0
    # A sync's lease lapses this many seconds after its last renewal (a killed worker's too).
    lease_seconds: float = 60.0
    # Rate limited or unavailable after the client's own retries: wait and retry the page this
    # many times, each wait at most backoff_max_seconds, before the run fails.
    backoff_retries: int = 6
    backoff_max_seconds: float = 120.0
    # Sync run records are kept this many days.
    run_retention_days: int = 14
    # Freshness targets the status page checks: a new thread is indexed within ...
    new_thread_target_seconds: float = 60.0
    # ... and a recent thread's status change within this many seconds.
    status_change_target_seconds: float = 300.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> IndexConfig:
        defaults: dict[str, Any] = {field.name: field.default for field in fields(cls)}
        values: dict[str, Any] = {
            "sync_enabled": env_bool(
                "INDEX_SYNC_ENABLED", defaults["sync_enabled"], environ=environ
            ),
            "recent_days": env_int(
                "INDEX_RECENT_DAYS", defaults["recent_days"], minimum=1, environ=environ
            ),
            "backoff_retries": env_int(
                "INDEX_BACKOFF_RETRIES", defaults["backoff_retries"], minimum=0, environ=environ
            ),
            "run_retention_days": env_int(
                "INDEX_RUN_RETENTION_DAYS",
                defaults["run_retention_days"],
                minimum=1,
                environ=environ,
            ),
        }
        for name, variable, minimum in (
            ("sync_seconds", "INDEX_SYNC_SECONDS", 1),
            ("recent_seconds", "INDEX_RECENT_SECONDS", 1),
            ("full_sweep_seconds", "INDEX_FULL_SWEEP_SECONDS", 60),
            ("max_calls_per_second", "INDEX_MAX_CALLS_PER_SECOND", 0.01),
            ("lease_seconds", "INDEX_LEASE_SECONDS", 10),
            ("backoff_max_seconds", "INDEX_BACKOFF_MAX_SECONDS", 1),
            ("new_thread_target_seconds", "INDEX_NEW_THREAD_TARGET_SECONDS", 1),
            ("status_change_target_seconds", "INDEX_STATUS_CHANGE_TARGET_SECONDS", 1),
        ):
            values[name] = env_number(variable, defaults[name], minimum=minimum, environ=environ)
        return cls(**values)
