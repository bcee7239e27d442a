"""A mutable fake of the upstream's thread list, served through `responses`.

Sync tests need threads to appear, change status and vanish between runs, and calls to fail
on demand; the fake pages exactly as the API does (newest first, `after` cursors, a 400 for a
cursor thread that no longer exists) and counts the calls it answered.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from tests.conftest import THREADS_URL

BASE_TIME = 1_763_000_000


class FakeUpstream:
    def __init__(self, mock: responses.RequestsMock) -> None:
        self.threads: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.cursors: list[str | None] = []
        # Answers to give before the real ones: (status, headers, body) or an exception.
        self.failures: deque = deque()
        self._lock = threading.RLock()
        self._served = 0
        self._down_at: int | None = None
        # Seconds each answer takes.
        self.latency = 0.0
        self._next = 0
        mock.add_callback(responses.GET, THREADS_URL, callback=self._answer)

    # --- Making threads -------------------------------------------------------------

    def add(self, count: int = 1, *, created_at: int | None = None, **fields: Any) -> list[str]:
        ids = []
        for _ in range(count):
            self._next += 1
            n = self._next
            thread = {
                "id": f"cthr_{n:07d}",
                "object": "chatkit.thread",
                "created_at": created_at if created_at is not None else BASE_TIME + n,
                "title": f"Thread {n}",
                "status": {"type": "active"},
                "user": f"user_{n % 7}",
            }
            thread.update(fields)
            with self._lock:
                self.threads[thread["id"]] = thread
            ids.append(thread["id"])
        return ids

    def go_down_after(self, pages: int | None) -> None:
        """Answer 503 to every call after `pages` more good answers (None: come back up)."""
        self._down_at = None if pages is None else self._served + pages

    def set_status(self, thread_id: str, kind: str, reason: str | None = None) -> None:
        status = {"type": kind} if kind == "active" else {"type": kind, "reason": reason}
        with self._lock:
            self.threads[thread_id] = {**self.threads[thread_id], "status": status}

    def delete(self, thread_id: str) -> None:
        with self._lock:
            del self.threads[thread_id]

    def ordered(self) -> list[dict[str, Any]]:
        with self._lock:
            threads = list(self.threads.values())
        return sorted(threads, key=lambda t: (t["created_at"], t["id"]), reverse=True)

    # --- Answering ----------------------------------------------------------------------

    def _answer(self, request):
        # Syncs ask for the next page while writing one: answers may come from another thread.
        with self._lock:
            return self._answer_locked(request)

    def _answer_locked(self, request):
        self.calls += 1
        if self.latency:
            time.sleep(self.latency)
        if self.failures:
            failure = self.failures.popleft()
            if isinstance(failure, BaseException):
                raise failure
            status, headers, body = failure
            return status, {"x-request-id": f"req_fail_{self.calls}", **headers}, json.dumps(body)
        if self._down_at is not None and self._served >= self._down_at:
            return (
                503,
                {"x-request-id": f"req_fail_{self.calls}"},
                json.dumps({"error": {"message": "Down for maintenance", "type": "server_error"}}),
            )
        self._served += 1
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        after, limit = query.get("after"), int(query.get("limit", 20))
        self.cursors.append(after)
        ordered = self.ordered()
        start = 0
        if after is not None:
            ids = [t["id"] for t in ordered]
            if after not in ids:
                body = {
                    "error": {
                        "message": f"Invalid 'after': no thread found with id '{after}'.",
                        "type": "invalid_request_error",
                        "param": "after",
                        "code": "invalid_value",
                    }
                }
                return 400, {"x-request-id": f"req_{self.calls}"}, json.dumps(body)
            start = ids.index(after) + 1
        page = ordered[start : start + limit]
        body = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(ordered),
        }
        return 200, {"x-request-id": f"req_{self.calls}"}, json.dumps(body)


def rate_limited(retry_after: float | None = 1) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return 429, headers, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
