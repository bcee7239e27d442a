"""How each upstream failure is told to a support engineer, and which HTTP status we answer.

A plain function of the typed error, so every case is testable without a view.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpResponse

from dashboard.chatkit.errors import (
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


@dataclass(frozen=True, slots=True)
class Problem:
    status_code: int
    title: str
    advice: str
    detail: str
    request_id: str | None = None
    # Whole seconds after which trying again makes sense (sent as our own Retry-After).
    retry_after: int | None = None


def problem_for(error: ChatKitError) -> Problem:
    detail = error.message
    request_id = error.request_id
    match error:
        case ChatKitNotConfiguredError():
            return Problem(
                503,
                "The dashboard is not configured",
                "No OpenAI API key is set on the server. Ask whoever runs the dashboard to set "
                "OPENAI_API_KEY; `manage.py check` reports it too.",
                detail,
            )
        case ChatKitAuthenticationError():
            return Problem(
                502,
                "The OpenAI API rejected the dashboard's API key",
                "The key on the server is wrong, revoked, or lacks access to ChatKit for this "
                "organization and project. Ask whoever runs the dashboard to check it; retrying "
                "will not help.",
                detail,
                request_id,
            )
        case ChatKitRateLimitError(retry_after=retry_after):
            wait = max(1, round(retry_after)) if retry_after is not None else None
            return Problem(
                503,
                "The OpenAI API is rate limiting the dashboard",
                f"Try again in {_duration(wait)}." if wait else "Try again in a minute.",
                detail,
                request_id,
                retry_after=wait or 60,
            )
        case ChatKitTimeoutError():
            return Problem(
                504,
                "The OpenAI API did not answer in time",
                "It may be slow or overloaded. Try again in a few seconds.",
                detail,
                request_id,
                retry_after=5,
            )
        case ChatKitUnavailableError():
            return Problem(
                503,
                "The OpenAI API is unavailable",
                "It failed or could not be reached. Try again in a few seconds; if it lasts, "
                "check OpenAI's status page.",
                detail,
                request_id,
                retry_after=5,
            )
        case ChatKitBadResponseError():
            return Problem(
                502,
                "The OpenAI API sent an answer the dashboard cannot read",
                "The API may have changed. Report this with the request id below.",
                detail,
                request_id,
            )
        case ChatKitNotFoundError():
            return Problem(
                404,
                "Not found",
                "The ChatKit API has no such thread, or it was deleted.",
                detail,
                request_id,
            )
        case ChatKitInvalidRequestError():
            return Problem(
                400,
                "The OpenAI API refused this request",
                "A page cursor may point at a thread that no longer exists. Start again from "
                "the first page.",
                detail,
                request_id,
            )
    return Problem(502, "The OpenAI API call failed", "Try again.", detail, request_id)


def with_retry_after(response: HttpResponse, problem: Problem | None) -> HttpResponse:
    """`response`, telling clients (and proxies) when trying again makes sense."""
    if problem and problem.retry_after:
        response["Retry-After"] = str(problem.retry_after)
    return response


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{round(minutes / 60)} hours"
