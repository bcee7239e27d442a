"""Site-wide request guards: staff-only access and the Content-Security-Policy."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

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


class StaffOnlyMiddleware:
    """Signed-in users who are not active staff see a 403, whatever the page.

    LoginRequiredMiddleware (before this) already sent anonymous users to the login
    page; views marked `login_not_required` (login, health check) stay open.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
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
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Django's admin has inline scripts of its own; it keeps Django's defaults.
        if not request.path.startswith("/admin/"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
