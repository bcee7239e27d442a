"""Log-in throttling that holds: concurrent attempts on SQLite (and PostgreSQL) never get more
than LOGIN_FAILURE_LIMIT password checks nor a 500, and behind a trusted proxy lockouts are
per user name and the client's own address."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.urls import reverse

from dashboard.client_address import client_ip, parse_trusted_proxies
from dashboard.login_throttle import AdminLoginForm

from . import real_services
from .servers import ROOT, Gunicorn, csrf_token, log_in, served_env

# `engine`: PostgreSQL behaves differently here; `make test-services` runs it again.
pytestmark = pytest.mark.engine

PASSWORD = "correct horse battery"
LOCKED = "Too many failed log-in attempts"


# --- Concurrent attempts against a real server ------------------------------------------------


def attack(base: str, *, attempts: int, concurrency: int) -> list[requests.Response]:
    """`attempts` wrong passwords for the demo account, `concurrency` at a time."""
    setup = requests.Session()
    token = csrf_token(setup, base)
    cookies = setup.cookies.get_dict()

    def one(n: int) -> requests.Response:
        session = requests.Session()
        session.cookies.update(cookies)
        return log_in(session, base, "demo", f"wrong password {n}", token)

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(attempts)))


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.services)]
)
def test_sixty_concurrent_wrong_passwords_get_at_most_the_limit_of_checks_and_no_500(
    demo_upstream, tmp_path, database
):
    if database == "sqlite":
        database_url = f"sqlite:///{tmp_path}/throttle.sqlite3"
    else:
        database_url = real_services.database_url()
    checks = tmp_path / "password-checks.log"
    env = served_env(
        demo_upstream,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="tests.counting_settings",
        PASSWORD_CHECK_LOG=str(checks),
        LOGIN_FAILURE_LIMIT="5",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="8",
    )
    with Gunicorn(env) as server:
        if database == "postgres":  # a shared database: start from no recorded failures
            subprocess.run(
                [sys.executable, "manage.py", "axes_reset"], cwd=ROOT, env=server.env, check=True,
                capture_output=True,
            )  # fmt: skip
        checks.write_text("")
        answers = attack(server.base, attempts=60, concurrency=16)
        statuses = sorted({answer.status_code for answer in answers})
        assert all(status < 500 for status in statuses), statuses
        refused = [answer for answer in answers if LOCKED in answer.text]
        wrong = [answer for answer in answers if "Please enter a correct username" in answer.text]
        assert len(refused) + len(wrong) == 60
        assert len(checks.read_text().splitlines()) == 5
        # Every one of the five checked failures was counted: the right password is refused.
        right = log_in(requests.Session(), server.base, "demo", "demo-password")
        assert right.status_code in (403, 429) and LOCKED in right.text
        assert len(checks.read_text().splitlines()) == 5


# --- The database's settings ---------------------------------------------------------------------


def database_settings(**env: str) -> dict:
    probe = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'], default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sqlite_writers_take_the_lock_up_front_and_wait_for_it(tmp_path):
    options = database_settings(DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] == 20
    assert "journal_mode=WAL" in options["init_command"]
    waiting = database_settings(
        DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3", DATABASE_SQLITE_TIMEOUT="45"
    )
    assert waiting["OPTIONS"]["timeout"] == 45


def test_postgres_gets_no_sqlite_options_but_a_connect_timeout():
    options = database_settings(DATABASE_URL="postgres://u:p@127.0.0.1:1/db")["OPTIONS"]
    assert options == {"connect_timeout": 5}


def test_the_admin_log_in_page_is_throttled_the_same_way():
    assert admin.site.login_form is AdminLoginForm


# --- The client's address --------------------------------------------------------------------


@pytest.fixture
def behind_proxies(settings):
    settings.TRUSTED_PROXIES = parse_trusted_proxies(["10.0.0.0/8", "2001:db8::1"])
    return settings


def address_of(remote: str, forwarded: str | None = None) -> str:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("198.51.100.9", "203.0.113.7", "198.51.100.9"),  # not a proxy: the header is the client's
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the forged part is ignored
        ("10.0.0.2", "203.0.113.7, 10.1.1.1, 10.2.2.2", "203.0.113.7"),  # a chain of proxies
        ("10.0.0.2", "10.1.1.1", "10.1.1.1"),  # all proxies: the farthest one
        ("10.0.0.2", "203.0.113.7:51234", "203.0.113.7"),
        ("10.0.0.2", "[2001:db8::42]:443", "2001:db8::42"),
        ("2001:db8::1", "::ffff:203.0.113.7", "203.0.113.7"),
        ("10.0.0.2", "203.0.113.7, not-an-address", "10.0.0.2"),  # unreadable: stop at the proxy
        ("10.0.0.2", "", "10.0.0.2"),
    ],
)
def test_the_client_address_is_read_from_trusted_proxies_only(
    behind_proxies, remote, forwarded, expected
):
    assert address_of(remote, forwarded) == expected


def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = ()
    assert address_of("10.0.0.2", "203.0.113.7") == "10.0.0.2"


def test_a_bad_trusted_proxy_stops_start_up_with_its_name():
    with pytest.raises(ImproperlyConfigured, match="DJANGO_TRUSTED_PROXIES: 'proxy.local'"):
        parse_trusted_proxies(["10.0.0.1", "proxy.local"])
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env={**clean, "DJANGO_TRUSTED_PROXIES": "10.0.0.0/8, 300.1.1.1"}, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "'300.1.1.1' is not an IP address" in result.stderr


@pytest.fixture
def support(django_user_model):
    return django_user_model.objects.create_user(
        username="support", password=PASSWORD, is_staff=True
    )


def via_proxy(client_address: str) -> Client:
    return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_address)


def lock_out(client: Client) -> None:
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "support", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "support", "password": PASSWORD})
    assert LOCKED in locked.content.decode()


@pytest.mark.django_db
def test_behind_a_trusted_proxy_a_lockout_is_per_user_and_client_address(behind_proxies, support):
    lock_out(via_proxy("203.0.113.7"))
    # Someone else behind the same proxy is not locked out of the same account.
    other = via_proxy("198.51.100.20").post(
        reverse("login"), {"username": "support", "password": PASSWORD}
    )
    assert other.status_code == 302


@pytest.mark.django_db
def test_without_trusted_proxies_everyone_behind_the_proxy_shares_the_lockout(settings, support):
    settings.TRUSTED_PROXIES = ()
    lock_out(via_proxy("203.0.113.7"))
    other = via_proxy("198.51.100.20").post(
        reverse("login"), {"username": "support", "password": PASSWORD}
    )
    assert LOCKED in other.content.decode()
