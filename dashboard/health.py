"""Health checks for load balancers and orchestrators: no login, no upstream call.

- `/healthz` (liveness): the process answers. It touches nothing else, so a slow database
  or a stalled upstream never makes a probe restart a healthy server.
- `/readyz` (readiness): the database answers, and Redis when REDIS_URL is set. A 503
  names the check that failed, never its connection details.

Both are exempt from the HTTPS redirect (settings.SECURE_REDIRECT_EXEMPT): probes speak
plain HTTP to the app server.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _outcome("database", database_answers)}
    if settings.REDIS_URL:
        checks["cache"] = _outcome("cache", cache_answers)
    ready = all(outcome == "ok" for outcome in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def cache_answers() -> None:
    """A round trip through the shared cache: what is written must come back."""
    key, token = f"readyz:{secrets.token_hex(8)}", secrets.token_hex(8)
    cache.set(key, token, timeout=10)
    if cache.get(key) != token:
        raise RuntimeError("the cache did not return what was just stored")
    cache.delete(key)


def _outcome(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as error:
        logger.warning("readiness check %s failed: %s", name, type(error).__name__)
        return f"failed ({type(error).__name__})"
    return "ok"
