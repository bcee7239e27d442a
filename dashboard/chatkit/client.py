"""The only code that talks HTTP to the ChatKit API.

One pooled `requests.Session` per process keeps connections alive between page
views. Every call has connect and read timeouts and fits in a total time
budget, retries included: an interactive page would rather show "try again in
30 s" than hang. Retries follow OpenAI's own Python SDK (at most 2; connection
errors, timeouts, 408, 409, 429 and 5xx; exponential backoff with jitter;
`retry-after-ms` and `Retry-After` honoured).
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from requests.adapters import HTTPAdapter

from dashboard.config import ChatKitConfig

from .errors import (
    ChatKitAuthenticationError,
    ChatKitBadResponseError,
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

# Anything shaped like an OpenAI key, in case an upstream message echoes one.
_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_*.\-]{6,}")


# The client's defaults are the configuration's, so each value has one default.
DEFAULTS = ChatKitConfig()


def build_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    # Retries are ours (budgeted, SDK-compatible); urllib3 must not add its own.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


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
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
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
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.time_budget = time_budget
        self.max_retries = max_retries
        self.session = session or build_session(pool_size=DEFAULTS.pool_size)
        self._sleep = sleep
        self._clock = clock
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "OpenAI-Beta": BETA_HEADER,
            "Accept": "application/json",
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
        body, request_id = self.request("GET", "/chatkit/threads", params=params)
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
        return _parsed(ThreadItemPage.from_dict, body, request_id), body

    def delete_thread(self, thread_id: str) -> DeletedThread:
        body, request_id = self.request("DELETE", thread_path(_checked_id(thread_id)))
        return _parsed(DeletedThread.from_dict, body, request_id)

    # --- Transport -----------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, str | None]:
        """Send one logical request, retrying as the SDK does; return (JSON body, request id)."""
        url = self.base_url + path
        deadline = self._clock() + self.time_budget
        attempt = 0
        while True:
            remaining = deadline - self._clock()
            timeout = (
                max(0.05, min(self.connect_timeout, remaining)),
                max(0.05, min(self.read_timeout, remaining)),
            )
            started = self._clock()
            try:
                response = self.session.request(
                    method, url, params=params, headers=self._headers, timeout=timeout
                )
            except requests.Timeout as exc:
                error: ChatKitError = ChatKitTimeoutError(
                    f"The ChatKit API did not answer within {timeout[1]:.1f} s."
                )
                cause: BaseException | None = self._redact_exception(exc)
                retry_after = None
            except requests.RequestException as exc:
                error = ChatKitUnavailableError(
                    f"Could not connect to the ChatKit API ({type(exc).__name__})."
                )
                cause = self._redact_exception(exc)
                retry_after = None
            else:
                elapsed_ms = (self._clock() - started) * 1000
                request_id = response.headers.get("x-request-id")
                logger.info(
                    "chatkit %s %s -> %s in %.0f ms (request %s, attempt %d)",
                    method, path, response.status_code, elapsed_ms, request_id, attempt + 1,
                )  # fmt: skip
                if response.status_code < 400:
                    return self._decode(response), request_id
                error = self._error_for(response)
                cause = None
                if not _should_retry(response):
                    raise error
                retry_after = _retry_after_seconds(response.headers)

            if attempt >= self.max_retries:
                raise error from cause
            wait = _retry_wait(attempt, retry_after)
            if wait > deadline - self._clock():
                # Waiting would blow the page's budget: report now, with the upstream's wait.
                raise error from cause
            logger.warning("chatkit %s %s retrying in %.2f s: %s", method, path, wait, error)
            self._sleep(wait)
            attempt += 1

    def _decode(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except (ValueError, RecursionError):  # not JSON, or nested past Python's recursion limit
            raise ChatKitBadResponseError(
                "The ChatKit API answered with something that is not JSON.",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
            ) from None

    def _error_for(self, response: requests.Response) -> ChatKitError:
        status = response.status_code
        details = _error_details(response)
        kwargs = {
            "status": status,
            "error_type": self.redact(details.get("type")) or None,
            "code": self.redact(details.get("code")) or None,
            "param": self.redact(details.get("param")) or None,
            "request_id": response.headers.get("x-request-id"),
        }
        message = self.redact(details.get("message")) or None
        if status in (401, 403):
            return ChatKitAuthenticationError(message, **kwargs)
        if status == 404:
            return ChatKitNotFoundError(message, **kwargs)
        if status == 429:
            return ChatKitRateLimitError(
                message, retry_after=_retry_after_seconds(response.headers), **kwargs
            )
        if status >= 500:
            return ChatKitUnavailableError(message, **kwargs)
        return ChatKitInvalidRequestError(message, **kwargs)

    def redact(self, text: str | None) -> str:
        if not text:
            return ""
        for secret in (self._api_key, self._api_key.strip()):
            if secret:
                text = text.replace(secret, "[redacted key]")
        return _KEY_PATTERN.sub("[redacted key]", text)

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


def _error_details(response: requests.Response) -> dict[str, Any]:
    """OpenAI's error envelope {"error": {message, type, param, code}}, as far as present."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {}
    return {
        key: value
        for key in ("message", "type", "param", "code")
        if isinstance(value := error.get(key), str)
    }


def _should_retry(response: requests.Response) -> bool:
    hint = response.headers.get("x-should-retry")
    if hint == "true":
        return True
    if hint == "false":
        return False
    return response.status_code in RETRYABLE_STATUSES or response.status_code >= 500


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
                session=build_session(config.pool_size),
            )
        return _client


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs: Any) -> None:
    global _client
    if setting == "CHATKIT":
        with _client_lock:
            _client = None
