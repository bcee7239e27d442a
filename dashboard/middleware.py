"""Site-wide request guards: staff-only access, the Content-Security-Policy, idle sessions,
and the cap on requests waiting on the upstream."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from dashboard.upstream_slots import UpstreamBusy

# No inline scripts or styles anywhere: every script and stylesheet is a static file.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

GetResponse = Callable[[HttpRequest], HttpResponseBase]
ViewFunc = Callable[..., HttpResponseBase]


class StaffOnlyMiddleware:
    """Signed-in users who are not active staff see a 403, whatever the page.

    LoginRequiredMiddleware (before this) already sent anonymous users to the login
    page; views marked `login_not_required` (login, health check) stay open.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: ViewFunc,
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if not getattr(view_func, "login_required", True):
            return None
        user = request.user
        if user.is_authenticated and not (user.is_active and user.is_staff):
            # The logout view must stay reachable, or a non-staff user is stuck.
            if request.resolver_match and request.resolver_match.url_name == "logout":
                return None
            raise PermissionDenied("This dashboard is for staff accounts only.")
        return None


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class SessionIdleRefreshMiddleware:
    """SESSION_COOKIE_AGE as an idle timeout, without a session write on every request.

    Django's SESSION_SAVE_EVERY_REQUEST writes the session (a database UPDATE) on every
    page view just to push its expiry forward. Refreshing only when the last refresh is
    over REFRESH_SECONDS old keeps the same timeout, give or take that long, for one write
    a minute. Sits inside SessionMiddleware, which saves what this marks modified.
    """

    REFRESH_SECONDS = 60
    KEY = "_idle_refreshed_at"

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # An empty or never-loaded session (anonymous, health checks) has nothing to keep alive.
        if session is None or session.is_empty():
            return response
        now = int(time.time())
        last = session.get(self.KEY)
        # Never a refresh interval near the timeout itself, or an active user is logged out.
        interval = min(self.REFRESH_SECONDS, settings.SESSION_COOKIE_AGE // 10)
        if not isinstance(last, int) or not 0 <= now - last < interval:
            session[self.KEY] = now
        return response


class UpstreamSlotsMiddleware:
    """The busy page for an `UpstreamBusy` that no view's error seam answered.

    The client takes the slots (dashboard/upstream_slots.py), one per attempt on the wire, and
    pages built on `ProblemPageMixin` show a refusal as their own problem banner; any other view
    still answers a fast 503 with Retry-After rather than a 500.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UpstreamBusy):
            return upstream_busy_response(request, exception)
        return None


def upstream_busy_response(request: HttpRequest, busy: UpstreamBusy) -> HttpResponse:
    response = render(
        request,
        "upstream_busy.html",
        {"retry_after": busy.retry_after, "waiting": busy.limit},
        status=503,
    )
    response["Retry-After"] = str(busy.retry_after)
    add_never_cache_headers(response)
    return response
