from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard import health
from dashboard.login_throttle import AdminLoginForm, LoginForm

# The admin's own log-in page takes the same one-attempt-at-a-time throttling.
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="threads:list"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/login/", auth_views.LoginView.as_view(form_class=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("dashboard.thread_index.urls")),
    path("", include("dashboard.data_requests.urls")),
    path("", include("dashboard.audit.urls")),
    path("", include("dashboard.threads.urls")),
]
