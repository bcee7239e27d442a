"""Deployment safety: production settings, security headers, CSRF, login throttling and
idle sessions. Settings that are read at start-up are checked in a fresh subprocess.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from dashboard.threads import urls as thread_urls

from .servers import free_port

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "OPENAI_API_KEY": "sk-deploy-check-" + "z" * 20, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "DJANGO_PRODUCTION": "true",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "dashboard.example.com",
        **overrides,
    }


# --- Production settings ---------------------------------------------------------------


def test_production_passes_check_deploy_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "secret_key, complaint",
    [("", "must be set"), ("short-key", "at least 50"), ("a" * 60, "at least 50")],
    ids=["missing", "short", "monotonous"],
)
def test_production_refuses_a_missing_or_weak_secret_key(secret_key, complaint):
    result = manage("check", **production_env(DJANGO_SECRET_KEY=secret_key))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr and complaint in result.stderr


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "OPENAI_ORGANIZATION", "OPENAI_PROJECT"])
def test_a_value_headers_cannot_carry_stops_the_server_without_showing_it(name):
    pasted = "sk-pasted-with-a-curly-quote-1234’"
    result = manage("check", **{name: pasted})
    assert result.returncode != 0
    assert f"{name} holds a character that is not printable ASCII" in result.stderr
    assert "curly-quote" not in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["LOG_LEVEL"])
def test_a_log_level_typo_stops_the_server(name):
    result = manage("check", **{name: "VERBOSE"})
    assert result.returncode != 0 and "LOG_LEVEL must be" in result.stderr


def test_debug_is_off_unless_asked_for():
    probe = "from django.conf import settings; print('DEBUG', settings.DEBUG)"
    assert "DEBUG False" in manage("shell", "-c", probe).stdout
    assert "DEBUG False" in manage("shell", "-c", probe, **production_env()).stdout


# --- Content-Security-Policy and headers -------------------------------------------------


def all_templates() -> list[Path]:
    found = sorted((ROOT / "templates").rglob("*.html"))
    found += sorted((ROOT / "dashboard").rglob("templates/**/*.html"))
    assert found
    return found


@pytest.mark.parametrize("template", all_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_scripts_or_styles(template):
    text = template.read_text()
    assert not re.search(r"<style\b", text, re.I), "a <style> block"
    assert not re.search(r"\sstyle\s*=", text, re.I), "a style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", text, re.I), "an inline event handler"
    for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.I | re.S):
        attributes, body = match.groups()
        assert "src=" in attributes and not body.strip(), "an inline <script>"


@pytest.fixture
def support(django_user_model):
    return django_user_model.objects.create_user(
        username="support", password=PASSWORD, is_staff=True
    )


@pytest.mark.parametrize("url", ["/accounts/login/", "/threads/?limit=0", "/admin/"])
def test_pages_send_a_strict_csp_and_security_headers(client, support, url):
    client.force_login(support)
    response = client.get(url)
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


# --- CSRF ------------------------------------------------------------------------------


def test_login_without_a_csrf_token_is_refused(support):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "support", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_logout_without_a_csrf_token_is_refused(support):
    client = Client(enforce_csrf_checks=True)
    client.force_login(support)
    assert client.post(reverse("logout")).status_code == 403
    assert client.get("/threads/?limit=0").status_code != 302  # still signed in


def test_login_with_the_forms_csrf_token_works(support):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        reverse("login"),
        {"username": "support", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(support.pk)


def every_thread_url() -> list[str]:
    urls = []
    for pattern in thread_urls.urlpatterns:
        kwargs = {name: "cthr_sample" for name in pattern.pattern.converters}
        urls.append(reverse(f"threads:{pattern.name}", kwargs=kwargs))
    return urls


@pytest.mark.parametrize("url", every_thread_url())
def test_every_dashboard_url_refuses_a_post_without_csrf(support, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(support)
    assert client.post(url, {"confirm": "yes"}).status_code == 403


# --- Login throttling ------------------------------------------------------------------


def log_in(client, password, username="support"):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_repeated_failures_lock_the_login_even_for_the_right_password(client, support):
    limit = django_settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = log_in(client, "wrong password")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    locked = log_in(client, "wrong password")
    assert locked.status_code in (403, 429)
    assert "Too many failed log-in attempts" in locked.content.decode()

    refused = log_in(client, PASSWORD)
    assert refused.status_code in (403, 429)
    assert "Too many failed log-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_per_user_and_address_not_for_everyone(client, support, django_user_model):
    django_user_model.objects.create_user(username="other", password=PASSWORD, is_staff=True)
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong password")
    assert log_in(client, PASSWORD, username="other").status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, support):
    limit = django_settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        log_in(client, "wrong password")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(limit - 1):
        log_in(client, "wrong password")
    assert log_in(client, PASSWORD).status_code == 302


# --- Idle sessions ---------------------------------------------------------------------

# The clock is moved, not waited on (time-machine moves time.time, datetime and
# timezone.now alike), so whatever the expiry mechanism reads (per-request saves, periodic
# refreshes, signed cookies), it sees the time pass; only the behaviour is promised.
IDLE_TIMEOUT = 60


def signed_in(client) -> bool:
    response = client.get(reverse("threads:list") + "?limit=0")
    return not (response.status_code == 302 and "/accounts/login/" in response["Location"])


def test_an_idle_session_is_logged_out_after_the_timeout(client, support, settings):
    settings.SESSION_COOKIE_AGE = IDLE_TIMEOUT
    with time_machine.travel(time.time(), tick=False) as clock:
        assert log_in(client, PASSWORD).status_code == 302
        assert signed_in(client)
        clock.shift(IDLE_TIMEOUT - 1)
        assert signed_in(client)
        clock.shift(IDLE_TIMEOUT + 1)
        assert not signed_in(client)


def test_an_active_session_is_kept_past_the_timeout(client, support, settings):
    settings.SESSION_COOKIE_AGE = IDLE_TIMEOUT
    with time_machine.travel(time.time(), tick=False) as clock:
        assert log_in(client, PASSWORD).status_code == 302
        for _ in range(6):
            clock.shift(IDLE_TIMEOUT / 3)
            assert signed_in(client)


# --- make demo / make run on a busy port -------------------------------------------------------


@pytest.fixture
def busy_port():
    """A port some other program is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.mark.parametrize("busy", ["DEMO_PORT", "DEMO_UPSTREAM_PORT"])
def test_make_demo_on_a_busy_port_names_it_and_how_to_choose_another(busy_port, busy):
    ports = {"DEMO_PORT": str(free_port()), "DEMO_UPSTREAM_PORT": str(free_port())}
    ports[busy] = str(busy_port)
    result = make("demo", *(f"{name}={port}" for name, port in ports.items()))
    assert result.returncode != 0
    assert f"Port {busy_port} on 127.0.0.1 ({busy}) is already in use." in result.stderr
    suggestion = re.search(rf"choose other ports: make demo {busy}=(\d+)\n", result.stderr)
    assert suggestion and suggestion[1] != str(busy_port)
    # Nothing started: no URL and credentials for a server that is not there, no crash.
    assert "Log in as" not in result.stdout and "migrate" not in result.stdout
    assert "Segmentation fault" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_make_run_on_a_busy_port_names_it_and_how_to_choose_another(busy_port):
    result = make("run", f"GUNICORN_BIND=127.0.0.1:{busy_port}")
    assert result.returncode != 0
    assert f"Port {busy_port} on 127.0.0.1 (GUNICORN_BIND) is already in use." in result.stderr
    assert re.search(
        r"choose other ports: make run GUNICORN_BIND=127\.0\.0\.1:\d+\n", result.stderr
    )
    assert "Traceback" not in result.stderr and "migrate" not in result.stdout


def test_the_port_check_passes_free_ports_and_unix_sockets():
    from dashboard import portcheck

    assert portcheck.main(["make demo", f"DEMO_PORT={free_port()}"]) == 0
    assert (
        portcheck.main(["make run", f"GUNICORN_BIND=unix:/tmp/x.sock,127.0.0.1:{free_port()}"]) == 0
    )
