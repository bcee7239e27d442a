"""Access to the real PostgreSQL and Redis that CI starts, for tests marked `services`.

Locally, without DATABASE_URL or REDIS_URL, those tests skip and say which variable to
set. CI sets REQUIRE_SERVICES=1, which turns a missing service into a failure: a test
that silently skipped there would prove nothing.
"""

from __future__ import annotations

import os

import pytest


def required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


def service_url(variable: str, scheme: str) -> str:
    """The URL in `variable`, or a loud skip (a failure under REQUIRE_SERVICES=1)."""
    url = os.environ.get(variable, "").strip()
    if url.startswith(scheme):
        return url
    reason = (
        f"{variable} is not set to a {scheme}// URL; run `make test-services` "
        "(or set it) to exercise the real service."
    )
    if required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def redis_url() -> str:
    return service_url("REDIS_URL", "redis:")


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return service_url("DATABASE_URL", "postgres:")
