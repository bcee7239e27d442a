"""The only code that talks HTTP to the ChatKit API.

One pooled `requests.Session` per process keeps connections alive between page
views. Every call has connect and read timeouts and fits in the page's deadline
(deadline.py), retries included: an interactive page would rather show "try again
in 30 s" than hang. Retries follow OpenAI's own Python SDK (at most 2; connection
errors, timeouts, 408, 409, 429 and 5xx; exponential backoff with jitter;
`retry-after-ms` and `Retry-After` honoured).

Nothing the upstream sends is trusted: bodies are read under a size cap and the
deadline (transport.py), redirects are refused rather than followed, a page with
more rows than asked for is cut to the limit, and the key is redacted from all
upstream text while request ids are shown only when they look like one
(untrusted.py).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from dashboard import upstream_slots
from dashboard.config import ChatKitConfig

from . import deadline as deadlines
from . import transport
from .deadline import Deadline
from .errors import (
    ChatKitAuthenticationError,
    ChatKitBadResponseError,
    ChatKitDeadlineExceededError,
    ChatKitEndpointNotFoundError,
    ChatKitError,
    ChatKitInvalidRequestError,
    ChatKitNotConfiguredError,
    ChatKitNotFoundError,
    ChatKitRateLimitError,
    ChatKitTimeoutError,
    ChatKitUnavailableError,
)
from .headers import is_header_safe
from .items import ThreadItemPage
from .types import DeletedThread, Thread, ThreadPage
from .untrusted import KeyRedactor

logger = logging.getLogger(__name__)

BETA_HEADER = "chatkit_beta=v1"
USER_AGENT = "chatkit-dashboard/0.1"
ORDERS = ("asc", "desc")
MAX_LIMIT = 100
MAX_USER_LENGTH = 512

# The SDK's own constants (openai/_constants.py).
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# An error body is read for OpenAI's envelope only; past this, its status says enough.
MAX_ERROR_BODY_BYTES = 64 * 1024
# A page of 100 rows holds a few thousand JSON objects and lists. Each costs Python about
# 60-400 bytes once parsed, so a body within the size cap made of nothing else (`[{},{},...`)
# would cost a worker 25 times its size; it is refused before parsing instead.
MAX_JSON_CONTAINERS = 100_000
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')

# The client's defaults are the configuration's, so each value has one default.
DEFAULTS = ChatKitConfig()

build_session = transport.build_session

# What a broken connection raises mid-body (urllib3) or mid-headers (http.client).
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class ChatKitClient:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        organization: str = "",
        project: str = "",
        connect_timeout: float = DEFAULTS.connect_timeout,
        read_timeout: float = DEFAULTS.read_timeout,
        time_budget: float = DEFAULTS.time_budget,
        max_retries: int = DEFAULTS.max_retries,
        max_response_bytes: int = DEFAULTS.max_response_bytes,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        admit: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        if not api_key:
            raise ChatKitNotConfiguredError()
        for name, value in (
            ("API key", api_key),
            ("organization", organization),
            ("project", project),
        ):
            # Headers carry printable ASCII only; http.client would raise with the whole
            # header (key included) in its message. Never echo the value.
            if not is_header_safe(value):
                raise ChatKitNotConfiguredError(
                    f"The configured OpenAI {name} holds a character that is not printable ASCII."
                )
        self._redactor = KeyRedactor(api_key)
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.time_budget = time_budget
        self.max_retries = max_retries
        self.max_response_bytes = max_response_bytes
        self.session = session or build_session(pool_size=DEFAULTS.pool_size)
        self._sleep = sleep
        self._clock = clock
        # Held around every attempt on the wire: the process's cap on calls waiting upstream
        # (dashboard/upstream_slots.py), so answers from the shared cache never need a slot.
        self._admit = admit
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "OpenAI-Beta": BETA_HEADER,
            "Accept": "application/json",
            # Compressed bodies are not asked for, so a body's size on the wire is its size
            # in memory (a 1 MB gzip body may expand to 1 GB); one sent anyway is refused.
            "Accept-Encoding": "identity",
            "User-Agent": USER_AGENT,
        }
        if organization:
            self._headers["OpenAI-Organization"] = organization
        if project:
            self._headers["OpenAI-Project"] = project

    def __repr__(self) -> str:  # never the key, even in a debugger or a traceback's locals
        return f"<ChatKitClient {self.base_url}>"

    # --- Endpoints -----------------------------------------------------------

    def list_threads(
        self,
        *,
        user: str | None = None,
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        order: str = "desc",
    ) -> ThreadPage:
        params = list_params(user=user, after=after, before=before, limit=limit, order=order)
        try:
            body, request_id = self.request("GET", "/chatkit/threads", params=params)
        except ChatKitNotFoundError as error:
            if after or before:
                raise  # the cursor's thread may be the one missing
            raise ChatKitEndpointNotFoundError(
                error.message if error.message != error.default_message else None,
                base_url=shown_url(self.base_url),
                status=error.status,
                error_type=error.error_type,
                code=error.code,
                param=error.param,
                request_id=error.request_id,
            ) from error
        body = _at_most(body, limit, backwards=before is not None, what="threads")
        # The error page asks staff to report the request id: a parse error carries it too.
        return _parsed(ThreadPage.from_dict, body, request_id)

    def get_thread(self, thread_id: str) -> Thread:
        return self.get_thread_json(thread_id)[0]

    def get_thread_json(self, thread_id: str) -> tuple[Thread, dict[str, Any]]:
        """The thread, and the upstream's JSON object for it exactly as sent (a data export's
        archive keeps the upstream's own shape). The JSON passed the same checks."""
        body, request_id = self.request("GET", thread_path(_checked_id(thread_id)))
        return _parsed(Thread.from_dict, body, request_id), body

    def list_thread_items(
        self,
        thread_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        order: str = "desc",
    ) -> ThreadItemPage:
        return self.list_thread_items_json(
            thread_id, after=after, before=before, limit=limit, order=order
        )[0]

    def list_thread_items_json(
        self,
        thread_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        order: str = "desc",
    ) -> tuple[ThreadItemPage, dict[str, Any]]:
        """A page of items, and the upstream's JSON list object exactly as sent."""
        params = list_params(user=None, after=after, before=before, limit=limit, order=order)
        path = thread_path(_checked_id(thread_id), "/items")
        body, request_id = self.request("GET", path, params=params)
        body = _at_most(body, limit, backwards=before is not None, what="items")
        return _parsed(ThreadItemPage.from_dict, body, request_id), body

    def delete_thread(self, thread_id: str) -> DeletedThread:
        body, request_id = self.request("DELETE", thread_path(_checked_id(thread_id)))
        return _parsed(DeletedThread.from_dict, body, request_id)

    # --- Transport -----------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, str | None]:
        """Send one logical request, retrying as the SDK does; return (JSON body, request id).

        It ends by the earlier of the current page's deadline and its own time budget.
        """
        url = self.base_url + path
        started = self._clock()
        own = Deadline.start(self.time_budget, scope="call", clock=self._clock)
        page = deadlines.current()
        attempt = 0
        last_error: ChatKitError | None = None
        while True:
            # The binding deadline may change between attempts (they run on two clocks).
            deadline = own if page is None or own.remaining() < page.remaining() else page
            try:
                outcome = self._attempt(method, path, url, params, deadline, attempt)
            except ChatKitDeadlineExceededError:
                if last_error is None or method != "GET":
                    raise  # a DELETE must say whether it was sent: the deletion depends on it
                # The time ran out on a retry: what the upstream last answered is the news
                # (a lasting 500 is "unavailable", however slow the machine retrying it).
                raise self._in_full(last_error, started, attempt) from None
            if not isinstance(outcome, _Retryable):
                return outcome
            error, cause = outcome.error, outcome.cause
            last_error = error
            if attempt >= self.max_retries:
                raise self._in_full(error, started, attempt + 1) from cause
            wait = _retry_wait(attempt, outcome.retry_after)
            if wait > min(own.remaining(), page.remaining() if page else math.inf):
                # Waiting would blow the page's budget: report now, with the upstream's wait.
                raise self._in_full(error, started, attempt + 1) from cause
            logger.warning("chatkit %s %s retrying in %.2f s: %s", method, path, wait, error)
            self._sleep(wait)
            attempt += 1

    def _in_full(self, error: ChatKitError, started: float, attempts: int) -> ChatKitError:
        """A timeout told by the whole wait, not the last attempt's (shrunken) timeout."""
        if type(error) is not ChatKitTimeoutError:
            return error
        waited = self._clock() - started
        tries = f" over {attempts} attempts" if attempts > 1 else ""
        return ChatKitTimeoutError(
            f"The ChatKit API did not answer: the dashboard waited {waited:.1f} s{tries}.",
            request_id=error.request_id,
        )

    def _attempt(
        self,
        method: str,
        path: str,
        url: str,
        params: Mapping[str, Any] | None,
        deadline: Deadline,
        attempt: int,
    ) -> tuple[Any, str | None] | _Retryable:
        """One attempt: its answer, a retryable failure, or a raised final error."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise self._deadline_error(deadline, sent=False)
        timeout = (
            max(0.05, min(self.connect_timeout, remaining)),
            max(0.05, min(self.read_timeout, remaining)),
        )
        started = self._clock()
        try:
            with self._admit(), transport.watched(remaining):
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    headers=self._headers,
                    timeout=timeout,
                    stream=True,
                    allow_redirects=False,
                )
                try:
                    return self._answer(method, path, response, deadline, started, attempt)
                finally:
                    response.close()
        except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            if deadline.expired:
                raise self._deadline_error(deadline) from self._redact_exception(exc)
            error: ChatKitError = ChatKitTimeoutError(
                f"The ChatKit API did not answer within {timeout[1]:.1f} s."
            )
            return _Retryable(error, self._redact_exception(exc))
        except _TRANSPORT_ERRORS as exc:
            if deadline.expired:
                # The watchdog shut the socket: the deadline passed, the upstream did not fail.
                raise self._deadline_error(deadline) from self._redact_exception(exc)
            error = ChatKitUnavailableError(
                f"Could not connect to the ChatKit API ({type(exc).__name__})."
            )
            return _Retryable(error, self._redact_exception(exc))

    def _answer(
        self,
        method: str,
        path: str,
        response: requests.Response,
        deadline: Deadline,
        started: float,
        attempt: int,
    ) -> tuple[Any, str | None] | _Retryable:
        status = response.status_code
        headers = response.headers
        request_id = self._redactor.request_id(headers.get("x-request-id"))
        ok = 200 <= status < 300
        if not ok and status < 400:
            # Never followed, whatever the method: after a 307 a DELETE would go wherever
            # the upstream says, with our key, and we would believe the answer from there.
            raise ChatKitBadResponseError(
                f"The ChatKit API answered with a redirect or an interim answer (HTTP {status}), "
                "which the dashboard never follows.",
                status=status,
                request_id=request_id,
            )
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise ChatKitBadResponseError(
                "The ChatKit API sent a compressed answer although none was asked for.",
                status=status,
                request_id=request_id,
            )
        limit = self.max_response_bytes if ok else MAX_ERROR_BODY_BYTES
        try:
            body = transport.read_capped(response, max_bytes=limit, time_left=deadline.remaining)
        except transport.TimeUp:
            raise self._deadline_error(deadline, request_id=request_id) from None
        except transport.BodyTooLarge:
            if ok:
                raise ChatKitBadResponseError(
                    f"The ChatKit API sent an answer larger than the {limit:,} bytes the "
                    "dashboard reads (CHATKIT_MAX_RESPONSE_BYTES).",
                    status=status,
                    request_id=request_id,
                ) from None
            body = b""  # an oversized error body: its status alone is reported
        elapsed_ms = (self._clock() - started) * 1000
        logger.info(
            "chatkit %s %s -> %s in %.0f ms (request %s, attempt %d)",
            method, path, status, elapsed_ms, request_id or "-", attempt + 1,
        )  # fmt: skip
        if ok:
            return self._decode(body, status, request_id), request_id
        error = self._error_for(status, headers, body, request_id)
        if not _should_retry(status, headers):
            raise error
        return _Retryable(error, None, _retry_after_seconds(headers))

    def _deadline_error(
        self, deadline: Deadline, *, sent: bool = True, request_id: str | None = None
    ) -> ChatKitDeadlineExceededError:
        budget = deadline.describe()
        if sent:
            message = f"The ChatKit API did not finish answering within {budget}."
        else:
            message = f"{budget[0].upper()}{budget[1:]} ran out before this ChatKit API call."
        return ChatKitDeadlineExceededError(message, sent=sent, request_id=request_id)

    def _decode(self, body: bytes, status: int, request_id: str | None) -> Any:
        try:
            text = body.decode("utf-8-sig")
            # Each takes two characters at least: most bodies are too short to need counting.
            containers = _containers(text) if len(text) > 2 * MAX_JSON_CONTAINERS else 0
            if containers > MAX_JSON_CONTAINERS:
                raise ChatKitBadResponseError(
                    f"The ChatKit API sent an answer of {containers:,} JSON objects and lists; "
                    f"a page holds far fewer, and the dashboard reads at most "
                    f"{MAX_JSON_CONTAINERS:,}.",
                    status=status,
                    request_id=request_id,
                )
            value = json.loads(text)
            if self._redactor.may_hide_a_key(text):
                value = self._redactor.redact_json(value)
        except (ValueError, RecursionError):  # not JSON, or nested past Python's recursion limit
            raise ChatKitBadResponseError(
                "The ChatKit API answered with something that is not JSON.",
                status=status,
                request_id=request_id,
            ) from None
        return value

    def _error_for(
        self, status: int, headers: Mapping[str, str], body: bytes, request_id: str | None
    ) -> ChatKitError:
        details = _error_details(body)
        kwargs: dict[str, Any] = {
            "status": status,
            "error_type": self.redact(details.get("type")) or None,
            "code": self.redact(details.get("code")) or None,
            "param": self.redact(details.get("param")) or None,
            "request_id": request_id,
        }
        message = self.redact(details.get("message")) or None
        if status in (401, 403):
            return ChatKitAuthenticationError(message, **kwargs)
        if status == 404:
            return ChatKitNotFoundError(message, **kwargs)
        if status == 429:
            return ChatKitRateLimitError(
                message, retry_after=_retry_after_seconds(headers), **kwargs
            )
        if status >= 500:
            return ChatKitUnavailableError(message, **kwargs)
        return ChatKitInvalidRequestError(message, **kwargs)

    def redact(self, text: str | None) -> str:
        """`text` without the key in any form (whole, without `sk-`, its tail) or any key."""
        return self._redactor.redact(text)

    def _redact_exception(self, exc: BaseException) -> BaseException:
        """`exc`, and the exceptions it chains, with the key redacted from their messages.

        requests quotes a refused header value in its error ("... in header value:
        'Bearer sk-...'"), e.g. for a key with a stray newline; that error becomes our cause.
        """
        seen: list[BaseException] = []
        current: BaseException | None = exc
        while current is not None and not any(current is known for known in seen):
            seen.append(current)
            current.args = tuple(
                self.redact(arg) if isinstance(arg, str) else arg for arg in current.args
            )
            current = current.__cause__ or current.__context__
        return exc


def shown_url(url: str) -> str:
    """`url` as it may appear on a page: without user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def list_params(
    *, user: str | None, after: str | None, before: str | None, limit: int, order: str
) -> dict[str, Any]:
    """The query string for a list call, refusing what the upstream would refuse."""
    if not 0 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 0 and {MAX_LIMIT}")
    if order not in ORDERS:
        raise ValueError("order must be 'asc' or 'desc'")
    if user is not None and not 1 <= len(user) <= MAX_USER_LENGTH:
        raise ValueError(f"user must be 1 to {MAX_USER_LENGTH} characters")
    params: dict[str, Any] = {"limit": limit, "order": order}
    for name, value in (("user", user), ("after", after), ("before", before)):
        if value:
            params[name] = value
    return params


def _checked_id(thread_id: str) -> str:
    # An empty id would turn /chatkit/threads/{id} into the list endpoint (or DELETE on it).
    if not thread_id:
        raise ValueError("thread_id must not be empty")
    return thread_id


def _parsed(parse: Callable[[Any], Any], body: Any, request_id: str | None) -> Any:
    """`parse(body)` with the request id attached, to the result or to the parse error."""
    try:
        result = parse(body)
    except ChatKitBadResponseError as exc:
        exc.request_id = exc.request_id or request_id
        raise
    return result.with_request_id(request_id)


def thread_path(thread_id: str, suffix: str = "") -> str:
    # Any character may reach us from a URL; none may change which path we call.
    return f"/chatkit/threads/{quote(thread_id, safe='')}{suffix}"


class _Retryable:
    """A failed attempt that another attempt may fix."""

    def __init__(
        self, error: ChatKitError, cause: BaseException | None, retry_after: float | None = None
    ) -> None:
        self.error = error
        self.cause = cause
        self.retry_after = retry_after


def _at_most(body: Any, limit: int, *, backwards: bool, what: str) -> Any:
    """A list page cut to the `limit` rows asked for, keeping those nearest the cursor.

    An upstream sending 100,000 rows for a page of 20 would otherwise break every row cap
    downstream (pages, CSV exports). What was cut is still there: `has_more` says so.
    """
    rows = body.get("data") if isinstance(body, dict) else None
    if not isinstance(rows, list) or len(rows) <= limit:
        return body
    logger.warning("chatkit sent %d %s for a page of %d; kept %d", len(rows), what, limit, limit)
    # Backwards (a `before` cursor), the rows nearest the cursor are at the end.
    kept = rows[len(rows) - limit :] if backwards else rows[:limit]
    return {
        **body,
        "data": kept,
        "first_id": _row_id(kept[0]) if kept else None,
        "last_id": _row_id(kept[-1]) if kept else None,
        "has_more": True,
    }


def _containers(json_text: str) -> int:
    """How many objects and lists `json_text` holds (braces inside strings do not count)."""
    structure = _JSON_STRING.sub("", json_text)
    return structure.count("{") + structure.count("[")


def _row_id(row: Any) -> Any:
    return row.get("id") if isinstance(row, dict) else None


def _error_details(body: bytes) -> dict[str, Any]:
    """OpenAI's error envelope {"error": {message, type, param, code}}, as far as present."""
    try:
        decoded = json.loads(body.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        decoded = None
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if not isinstance(error, dict):
        return {}
    return {
        key: value
        for key in ("message", "type", "param", "code")
        if isinstance(value := error.get(key), str)
    }


def _should_retry(status: int, headers: Mapping[str, str]) -> bool:
    hint = headers.get("x-should-retry")
    if hint == "true":
        return True
    if hint == "false":
        return False
    return status in RETRYABLE_STATUSES or status >= 500


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, else `Retry-After` in seconds or as an HTTP date; None if absent."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms and (milliseconds := _finite_float(raw_ms)) is not None:
        return max(0.0, milliseconds / 1000)
    raw = headers.get("retry-after")
    if not raw:
        return None
    if (seconds := _finite_float(raw)) is not None:
        return max(0.0, seconds)
    try:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    except (TypeError, ValueError, OverflowError, OSError):
        # A date no calendar holds ("Wed, 21 Oct 99999 ...") says nothing usable.
        return None


def _finite_float(raw: str) -> float | None:
    """`raw` as a number; None unless it is one ("inf", "nan" and "1e400" are not waits)."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _retry_wait(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None and retry_after > 0:
        # Unlike the SDK, a wait over 60 s is kept too: it exceeds any page's budget, so the
        # caller reports it ("try again in 2 min") instead of hammering a rate-limited API.
        return retry_after
    backoff = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    return backoff * (1 - 0.25 * random.random())


# --- The process-wide client ------------------------------------------------------

_client: ChatKitClient | None = None
_client_lock = threading.Lock()


def get_client() -> ChatKitClient:
    """The shared client, built from settings on first use (and again after they change)."""
    global _client
    with _client_lock:
        if _client is None:
            config = settings.CHATKIT
            _client = ChatKitClient(
                api_key=config.api_key,
                base_url=config.base_url,
                organization=config.organization,
                project=config.project,
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                time_budget=config.time_budget,
                max_retries=config.max_retries,
                max_response_bytes=config.max_response_bytes,
                session=build_session(config.pool_size),
                admit=upstream_slots.acquire_or_refuse,
            )
        return _client


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs: Any) -> None:
    global _client
    if setting == "CHATKIT":
        with _client_lock:
            _client = None
