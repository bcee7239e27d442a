"""How each upstream failure is told to a support engineer, and the one seam that answers it.

`problem_for()` is a plain function of the typed error, so every case is testable without a
view. `ProblemPageMixin` is the only place where a `ChatKitError` becomes a response: the
page's own template with the problem banner, the problem's HTTP status and Retry-After.
Views call their service and let its errors rise to it; none catches them by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.defaultfilters import pluralize
from django.utils.encoding import escape_uri_path
from django.views.generic.base import ContextMixin, TemplateResponseMixin, View

from dashboard.chatkit import errors
from dashboard.chatkit.errors import ChatKitError
from dashboard.upstream_slots import UpstreamBusy

logger = logging.getLogger(__name__)


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
        case UpstreamBusy(limit=limit, retry_after=retry_after):
            return Problem(
                503,
                "The dashboard is busy waiting on the ChatKit API",
                f"This server already has {limit} request{pluralize(limit)} waiting for OpenAI's "
                "answer, the most it lets wait at once, so this one was not sent. The API is "
                f"probably slow or stalled right now. Try again in {_duration(retry_after)}.",
                "",
                retry_after=retry_after,
            )
        case errors.ChatKitNotConfiguredError():
            return Problem(
                503,
                "The dashboard is not configured",
                "No OpenAI API key is set on the server. Ask whoever runs the dashboard to set "
                "OPENAI_API_KEY; `manage.py check` reports it too.",
                detail,
            )
        case errors.ChatKitAuthenticationError():
            return Problem(
                502,
                "The OpenAI API rejected the dashboard's API key",
                "The key on the server is wrong, revoked, or lacks access to ChatKit for this "
                "organization and project. Ask whoever runs the dashboard to check it; retrying "
                "will not help.",
                detail,
                request_id,
            )
        case errors.ChatKitRateLimitError(retry_after=retry_after):
            wait = max(1, round(retry_after)) if retry_after is not None else None
            return Problem(
                503,
                "The OpenAI API is rate limiting the dashboard",
                f"Try again in {_duration(wait)}." if wait else "Try again in a minute.",
                detail,
                request_id,
                retry_after=wait or 60,
            )
        case errors.ChatKitTimeoutError():
            return Problem(
                504,
                "The OpenAI API did not answer in time",
                "It may be slow or overloaded. Try again in a few seconds.",
                detail,
                request_id,
                retry_after=5,
            )
        case errors.ChatKitUnavailableError():
            return Problem(
                503,
                "The OpenAI API is unavailable",
                "It failed or could not be reached. Try again in a few seconds; if it lasts, "
                "check OpenAI's status page.",
                detail,
                request_id,
                retry_after=5,
            )
        case errors.ChatKitBadResponseError():
            return Problem(
                502,
                "The OpenAI API sent an answer the dashboard cannot read",
                "The API may have changed. Report this with the request id below.",
                detail,
                request_id,
            )
        case errors.ChatKitEndpointNotFoundError(base_url=base_url):
            return Problem(
                502,
                "The ChatKit API address looks wrong",
                f"The server answered “not found” for the thread list at {base_url}, so the "
                "base URL is wrong, not any thread. Ask whoever runs the dashboard to check "
                "OPENAI_BASE_URL: OpenAI's ends in /v1.",
                detail,
                request_id,
            )
        case errors.ChatKitNotFoundError():
            return Problem(
                404,
                "Not found",
                "The ChatKit API has no such thread, or it was deleted.",
                detail,
                request_id,
            )
        case errors.ChatKitInvalidRequestError():
            return Problem(
                400,
                "The OpenAI API refused this request",
                "A page cursor may point at a thread that no longer exists. Start again from "
                "the first page.",
                detail,
                request_id,
            )
    return Problem(502, "The OpenAI API call failed", "Try again.", detail, request_id)


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{round(minutes / 60)} hours"


class ProblemPageMixin(TemplateResponseMixin, ContextMixin, View):
    """The error seam: a `ChatKitError` from the view's service becomes the problem page.

    The page is the view's own template, given `get_problem_context_data()` (by default its
    usual context plus `problem`), answered with the problem's status and Retry-After.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)
        except ChatKitError as error:
            return self.problem_response(error)

    def problem_response(self, error: ChatKitError) -> HttpResponse:
        problem = problem_for(error)
        return self.respond(self.get_problem_context_data(problem), problem)

    def get_problem_context_data(self, problem: Problem) -> dict[str, Any]:
        return self.get_context_data(problem=problem)

    def render_page(
        self, context: dict[str, Any], *, failed_part: ChatKitError | None = None
    ) -> HttpResponse:
        """The page; when a part of it could not load (`failed_part`), with that part's
        problem banner, status and Retry-After around what did load."""
        if failed_part is None:
            return self.respond(context, None)
        problem = problem_for(failed_part)
        return self.respond({**context, "problem": problem}, problem)

    def respond(self, context: dict[str, Any], problem: Problem | None) -> HttpResponse:
        response = self.render_to_response(context, status=problem.status_code if problem else 200)
        if problem is None:
            return response
        if problem.retry_after:
            # Tells clients (and proxies) when trying again makes sense.
            response["Retry-After"] = str(problem.retry_after)
        # The upstream's trouble, told as it is, once: Django would log this 5xx at ERROR
        # as if the dashboard had failed, which is the sign of a bug it keeps for real ones.
        # (Its django.request logger skips a response marked as logged.)
        logger.warning(
            "%s %s answered %d: %s (upstream request %s)",
            self.request.method, escape_uri_path(self.request.path), problem.status_code,
            problem.title,
            problem.request_id or "-",
        )  # fmt: skip
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
