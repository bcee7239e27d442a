"""The one exception tree for everything that can go wrong with the upstream.

Each error carries what a support engineer needs to report it (HTTP status,
OpenAI's message, type and code, the `x-request-id`) and never the API key:
messages are built from the response body and our own words only. `str()` of an error
(what log lines and tracebacks show) escapes control characters, so upstream text in it
cannot forge a log line.
"""

from __future__ import annotations

from typing import Any

from .untrusted import escape_controls


class ChatKitError(Exception):
    """Base class. `message` is safe to show to staff."""

    default_message = "The ChatKit API call failed."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.error_type = error_type
        self.code = code
        self.param = param
        self.request_id = request_id
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.status:
            parts.append(f"(HTTP {self.status})")
        if self.request_id:
            parts.append(f"[request {self.request_id}]")
        return escape_controls(" ".join(parts))


class ChatKitNotConfiguredError(ChatKitError):
    default_message = "No OpenAI API key is configured on the server."


class ChatKitAuthenticationError(ChatKitError):
    """401 or 403: the key is missing, wrong, revoked, or lacks access to ChatKit."""

    default_message = "The OpenAI API rejected the server's API key."


class ChatKitNotFoundError(ChatKitError):
    default_message = "The ChatKit API has no such object."


class ChatKitEndpointNotFoundError(ChatKitNotFoundError):
    """A 404 for the thread list itself: no thread is missing, the URL is wrong.

    `base_url` is the configured base URL as it may be shown (no credentials, no query).
    """

    default_message = "The ChatKit API has no thread list at this address."

    def __init__(self, message: str | None = None, *, base_url: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.base_url = base_url


class ChatKitInvalidRequestError(ChatKitError):
    """A 4xx other than auth, not-found and rate limits: our parameters were refused."""

    default_message = "The ChatKit API refused the request's parameters."


class ChatKitRateLimitError(ChatKitError):
    default_message = "The ChatKit API is rate limiting this server."

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        # Seconds until the upstream said to try again, when it said.
        self.retry_after = retry_after


class ChatKitUnavailableError(ChatKitError):
    """5xx, refused or dropped connections."""

    default_message = "The ChatKit API is unavailable."


class ChatKitTimeoutError(ChatKitUnavailableError):
    default_message = "The ChatKit API did not answer in time."


class ChatKitDeadlineExceededError(ChatKitTimeoutError):
    """The page's (or the export's) deadline passed: no further upstream call will be made.

    `sent` says whether the call it interrupted had reached the upstream: a DELETE that was
    never sent deleted nothing. Loops over upstream pages (the status scan) catch this to
    report what they covered before it.
    """

    default_message = "The time budget ran out before the ChatKit API answered."

    def __init__(self, message: str | None = None, *, sent: bool = True, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.sent = sent


class ChatKitBadResponseError(ChatKitError):
    """The upstream answered 2xx with something that is not what the contract promises."""

    default_message = "The ChatKit API sent a response the dashboard cannot read."
