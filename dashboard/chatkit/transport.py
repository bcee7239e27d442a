"""Bounded HTTP to the upstream: every read ends by the deadline, every body has a size cap.

Timeouts in requests are per socket operation: an upstream trickling a byte a second, in
its headers or its body, never trips them. So each request is *watched*: the connection
registers its socket with one watchdog thread per process, which shuts the socket down when
the request's deadline passes, and any read blocked on it returns at once. Bodies are read
in chunks as they arrive (`read_capped`), checking the deadline and the size cap after each,
so neither a trickle nor an endless or oversized body holds a worker or its memory.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

CHUNK_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    """The body would exceed the cap; `declared` when Content-Length said so up front."""

    def __init__(self, limit: int, *, declared: bool) -> None:
        super().__init__(limit)
        self.limit = limit
        self.declared = declared


class TimeUp(Exception):
    """The deadline passed while the body was still arriving."""


# --- The watchdog -----------------------------------------------------------------------


class _Watchdog:
    """Shuts sockets down at their deadlines; one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also in a forked child, which inherits the heap and the lock but not the thread.
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, list[Any]]] = []
        self._order = itertools.count()
        self._started = False

    def watch(self, sock: socket.socket, expires_at: float) -> list[Any]:
        """Shut `sock` down at `expires_at` (time.monotonic); cancel by clearing the list."""
        entry: list[Any] = [sock]
        with self._wake:
            if not self._started:
                self._started = True
                threading.Thread(target=self._run, name="chatkit-watchdog", daemon=True).start()
            heapq.heappush(self._heap, (expires_at, next(self._order), entry))
            self._wake.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                expires_at, _, entry = self._heap[0]
                delay = expires_at - time.monotonic()
                if delay > 0 and entry:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
                sock = entry[0] if entry else None
                entry.clear()
            if sock is not None:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    try:
        # The plain socket call, also for TLS sockets: ssl's own shutdown() tears down its
        # state under the feet of the thread still reading.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):
        pass  # already closed, or not a real socket


WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=WATCHDOG._reset)


class _Watch:
    def __init__(self, expires_at: float) -> None:
        self.expires_at = expires_at
        self.entries: list[list[Any]] = []


_watch: ContextVar[_Watch | None] = ContextVar("chatkit_watch", default=None)


@contextmanager
def watched(seconds: float) -> Iterator[None]:
    """Requests made inside the block have their sockets shut down `seconds` from now."""
    watch = _Watch(time.monotonic() + seconds)
    token = _watch.set(watch)
    try:
        yield
    finally:
        _watch.reset(token)
        for entry in watch.entries:
            entry.clear()


class _WatchedMixin:
    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        # Called once per request, right before the status line and headers are read.
        watch = _watch.get()
        if watch is not None and isinstance(self.sock, socket.socket):
            watch.entries.append(WATCHDOG.watch(self.sock, watch.expires_at))
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class WatchedHTTPSConnection(_WatchedMixin, HTTPSConnection):
    pass


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


WATCHED_POOLS = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter with watched connections, direct or through an HTTP(S) proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # SOCKS managers have pools of their own
            manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager


def build_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    # Retries are the client's (budgeted, SDK-compatible); urllib3 must not add its own.
    adapter = WatchedAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# --- Bodies -----------------------------------------------------------------------------


def read_capped(
    response: requests.Response, *, max_bytes: int, time_left: Callable[[], float]
) -> bytes:
    """The raw body of a streamed `response`, at most `max_bytes`, read before time runs out.

    Raises BodyTooLarge, TimeUp, or whatever the connection raises (urllib3/requests
    errors). Content is never decoded here: compression is not asked for (see the client).
    """
    declared = response.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes, declared=True)
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read
    body = bytearray()
    while True:
        if time_left() <= 0:
            raise TimeUp()
        # read1: whatever has arrived (one socket read), so a trickle is checked often.
        chunk = read(CHUNK_BYTES, decode_content=False)
        if not chunk:
            break
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(max_bytes, declared=False)
    if time_left() <= 0:
        # The end may be the watchdog's shutdown, not the upstream's: a body without a
        # length (read until close) would then look complete.
        raise TimeUp()
    return bytes(body)
