"""A short-lived shared cache of upstream list pages, with request coalescing.

Several support engineers opening the same list, a status scan walking pages
another view just read, or a burst of reloads should cost the upstream one
call, not one each. So a list page is kept in Django's cache for
`settings.CHATKIT.cache_ttl` seconds (0 turns all of this off), and
identical requests that miss at the same moment share one upstream call:

- within a process, the first caller fetches and the others wait on its Future;
- across processes (gunicorn workers, hosts sharing Redis), the fetching caller
  holds a short `cache.add` lock and the others poll the cache for its answer,
  falling back to their own call if it does not come within the time budget.

Keys cover every query parameter, the base URL and a keyed hash of the API
identity (key, organization, project), so two configurations never share
entries; the key itself never leaves the process. Errors are never cached
(callers already waiting share the one error), and only list pages are cached.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any, TypeGuard, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from dashboard.chatkit.types import StatusKind, Thread, ThreadPage, ThreadStatus

logger = logging.getLogger(__name__)

T = TypeVar("T")

KEY_PREFIX = "chatkit:list"
GENERATION_KEY = "chatkit:list:generation"
# Polling for another process's answer: start quick, back off to this.
POLL_FIRST = 0.01
POLL_MAX = 0.05

# Wall-clock seconds: entries are compared across processes. Tests replace it.
now: Callable[[], float] = time.time
sleep: Callable[[float], None] = time.sleep


def _schema_version() -> str:
    # Entries are pickled dataclasses; a deploy that changes their fields gets new keys,
    # so old and new workers sharing Redis never unpickle each other's shapes.
    shapes = [
        [f.name for f in dataclasses.fields(kind)] for kind in (ThreadPage, Thread, ThreadStatus)
    ]
    shapes.append([member.value for member in StatusKind])
    return hashlib.sha256(json.dumps(shapes).encode()).hexdigest()[:12]


SCHEMA_VERSION = _schema_version()


# --- Keys ---------------------------------------------------------------------------------


def identity() -> str:
    """Who the upstream calls are made as: a keyed hash, never the key itself."""
    secret = "\0".join(
        [settings.CHATKIT.api_key, settings.CHATKIT.organization, settings.CHATKIT.project]
    )
    return salted_hmac("dashboard.threads.upstream_cache.identity", secret).hexdigest()


def list_key(*, base_url: str, path: str, params: Mapping[str, Any]) -> str:
    """The cache key for one list call: every parameter, the base URL and the identity."""
    try:
        generation = cache.get(GENERATION_KEY, 0)
    except Exception:  # a cache outage makes every read a miss, never a failed page
        logger.warning("upstream cache unreadable; listing without it", exc_info=True)
        generation = 0
    parts = json.dumps(
        [SCHEMA_VERSION, generation, base_url, identity(), path, sorted(params.items())],
        default=str,
    )
    return f"{KEY_PREFIX}:{hashlib.sha256(parts.encode()).hexdigest()}"


def forget_lists() -> None:
    """Make every cached list page stale, e.g. after a thread was deleted upstream."""
    # A new generation changes every key; the old entries expire on their own.
    try:
        if not cache.add(GENERATION_KEY, 1, timeout=None):
            try:
                cache.incr(GENERATION_KEY)
            except ValueError:  # expired or evicted between add and incr
                cache.set(GENERATION_KEY, 1, timeout=None)
    except Exception:
        # The deletion itself succeeded; stale pages expire within CACHE_TTL anyway.
        logger.warning("upstream cache unreachable; cached lists will expire", exc_info=True)


# --- Reads --------------------------------------------------------------------------------


def cache_ttl() -> float:
    return float(settings.CHATKIT.cache_ttl)


def cached_call(key: str, fetch: Callable[[], T], *, fresh: bool = False) -> T:
    """`fetch()`'s result, shared under `key` for CACHE_TTL seconds and between callers.

    `fresh` skips the stored entry (the Refresh button), yet still joins a call that is
    already in flight, which answers no earlier than this request was made.
    """
    ttl = cache_ttl()
    if ttl <= 0:
        return fetch()
    asked_at = now()
    if not fresh:
        entry = _read(key, ttl)
        if entry is not None:
            return entry[1]
    # A fresh caller never joins an ordinary call in flight: that one may settle for a cached
    # entry from before the Refresh click. Fresh callers share calls among themselves.
    flight = f"{key}:fresh" if fresh else key
    return _coalesced(flight, lambda: _fetch_shared(key, fetch, ttl, asked_at if fresh else None))


def _read(key: str, ttl: float, *, newer_than: float | None = None) -> tuple[float, Any] | None:
    """The stored (fetched_at, value) if still within `ttl`; None for anything else."""
    try:
        entry = cache.get(key)
    except Exception:  # an unreadable entry (another code version, a cache outage) is a miss
        logger.warning("upstream cache read failed; fetching instead", exc_info=True)
        return None
    if not _usable(entry, ttl, newer_than):
        return None
    return entry


def _usable(entry: Any, ttl: float, newer_than: float | None) -> TypeGuard[tuple[float, Any]]:
    if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], float)):
        return False
    age = now() - entry[0]
    # The backend's own expiry is rounded to whole seconds; this check is exact.
    if not -1 <= age <= ttl:
        return False
    return newer_than is None or entry[0] >= newer_than


# --- Coalescing ---------------------------------------------------------------------------

_in_flight: dict[str, Future] = {}
_in_flight_lock = threading.Lock()


def wait_budget() -> float:
    """How long a caller waits for someone else's call before making its own."""
    return float(settings.CHATKIT.time_budget) + 1.0


def _coalesced(key: str, fetch: Callable[[], T]) -> T:
    """One `fetch()` per key at a time in this process; concurrent callers share its outcome."""
    with _in_flight_lock:
        running = _in_flight.get(key)
        if running is None:
            future: Future = Future()
            _in_flight[key] = future
    if running is not None:
        try:
            # The leader may wait out another process, then fetch itself: two budgets.
            return running.result(timeout=2 * wait_budget())
        except FutureTimeoutError:
            return fetch()
        except Exception as error:
            # Each waiter raises its own copy: one exception object raised in many threads
            # would collect all their tracebacks.
            raise _copied(error) from error.__cause__
    try:
        result = fetch()
    except BaseException as error:
        future.set_exception(error)
        raise
    else:
        future.set_result(result)
        return result
    finally:
        with _in_flight_lock:
            if _in_flight.get(key) is future:
                del _in_flight[key]


def _copied(error: Exception) -> Exception:
    try:
        return copy.copy(error)
    except Exception:
        return error


def _fetch_shared(key: str, fetch: Callable[[], T], ttl: float, newer_than: float | None) -> T:
    """Fetch and store, unless another process is already fetching: then wait for its answer."""
    lock_key = f"{key}:lock"
    token = uuid.uuid4().hex
    budget = wait_budget()
    try:
        locked = cache.add(lock_key, token, timeout=max(1, round(budget)))
    except Exception:
        logger.warning("upstream cache lock failed; fetching without it", exc_info=True)
        locked = True
        token = ""
    if locked:
        try:
            if newer_than is None:
                # Another process may have stored it between our miss and our lock.
                entry = _read(key, ttl)
                if entry is not None:
                    return entry[1]
            return _fetch_and_store(key, fetch, ttl)
        finally:
            if token:
                _release(lock_key, token)
    deadline = time.monotonic() + budget
    delay = POLL_FIRST
    while time.monotonic() < deadline:
        sleep(delay)
        delay = min(delay * 2, POLL_MAX)
        try:
            found = cache.get_many([key, lock_key])
        except Exception:
            break
        entry = found.get(key)
        if _usable(entry, ttl, newer_than):
            return entry[1]
        if lock_key not in found:
            # The other caller finished without storing (an error, which is never cached).
            break
    return _fetch_and_store(key, fetch, ttl)


def _fetch_and_store(key: str, fetch: Callable[[], T], ttl: float) -> T:
    # Stamped with when the fetch began: a Refresh clicked during it must not accept it.
    started = now()
    value = fetch()  # raises on any error: nothing is stored
    try:
        # The backend keeps it a little longer than `ttl`; reads check the age exactly.
        cache.set(key, (started, value), timeout=int(ttl) + 2)
    except Exception:
        logger.warning("upstream cache write failed", exc_info=True)
    return value


def _release(lock_key: str, token: str) -> None:
    try:
        if cache.get(lock_key) == token:
            cache.delete(lock_key)
    except Exception:
        logger.warning("upstream cache unlock failed; the lock expires on its own", exc_info=True)
