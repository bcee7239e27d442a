"""Health that always answers: /healthz and /readyz over plain HTTP in production, with no
upstream call, and a per-process cap on requests waiting on the upstream so that a stalled
upstream never takes every thread (checked over a real socket against gunicorn)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import requests
import responses
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from dashboard import upstream_slots
from dashboard.demo_upstream.server import serve_in_thread
from dashboard.upstream_slots import UpstreamBusy, acquire_or_refuse

from . import real_services
from .browser_fixtures import DEMO_KEY, DemoUpstream
from .conftest import THREADS_URL, page_json, thread_json
from .servers import ROOT, Gunicorn, served_env

# `engine`: PostgreSQL behaves differently here; `make test-services` runs it again.
pytestmark = [pytest.mark.django_db, pytest.mark.engine]


# --- /healthz and /readyz -------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_health_checks_need_no_login_and_make_no_upstream_call(client, url):
    answer = client.get(url)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert "no-cache" in answer["Cache-Control"]
    assert client.head(url).status_code == 200  # some load balancers probe with HEAD
    assert client.post(url).status_code == 405
    assert len(responses.calls) == 0


def test_readiness_reports_the_database(client, settings):
    settings.REDIS_URL = ""  # the cache's check has its own tests below
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readiness_fails_with_the_database_and_says_which_check(client, settings, monkeypatch):
    settings.REDIS_URL = ""

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server at db.internal:5432")

    monkeypatch.setattr(connection, "cursor", refuse)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable",
        "checks": {"database": "failed (OperationalError)"},
    }
    assert "db.internal" not in answer.content.decode()  # no connection details


def test_readiness_checks_the_cache_when_redis_is_configured(client, settings, monkeypatch):
    settings.REDIS_URL = "redis://cache.internal:6379/0"
    assert client.get("/readyz").json()["checks"] == {"database": "ok", "cache": "ok"}

    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to cache.internal:6379")

    monkeypatch.setattr(cache, "set", down)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "ok", "cache": "failed (ConnectionError)"}


@pytest.mark.services
def test_readiness_round_trips_through_the_real_redis(client, settings):
    settings.REDIS_URL = real_services.redis_url()
    assert client.get("/readyz").json()["checks"]["cache"] == "ok"


def production_status(path: str) -> str:
    """The status and Location of a plain-HTTP GET `path` with production settings."""
    probe = (
        "from django.test import Client; "
        f"r = Client().get({path!r}, HTTP_HOST='dashboard.example.com'); "
        "print(r.status_code, r.get('Location', ''))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env = {
        **clean,
        "DJANGO_PRODUCTION": "true",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "dashboard.example.com",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


def test_in_production_health_checks_answer_plain_http_while_pages_redirect():
    assert production_status("/healthz") == "200"
    assert production_status("/readyz") == "200"
    assert production_status("/threads/") == "301 https://dashboard.example.com/threads/"


# --- Upstream slots ------------------------------------------------------------------------


class SlotHolder:
    """Holds upstream slots from other threads until released, as stalled requests would."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def hold(self, count: int) -> None:
        taken = threading.Barrier(count + 1)

        def hold_one() -> None:
            with acquire_or_refuse():
                taken.wait(timeout=30)
                self.release.wait(timeout=60)

        for _ in range(count):
            thread = threading.Thread(target=hold_one, daemon=True)
            thread.start()
            self.threads.append(thread)
        taken.wait(timeout=30)

    def stop(self) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.fixture
def slots(settings):
    # Slots are per process: one left taken by an earlier test (a streamed response never
    # read to its end keeps its slot) would skew every count here.
    assert upstream_slots.in_use() == 0, "an earlier test left an upstream slot taken"
    settings.UPSTREAM_CONCURRENCY_LIMIT = 2
    holder = SlotHolder()
    yield holder
    holder.stop()
    assert upstream_slots.in_use() == 0


def test_a_slot_is_refused_at_once_when_all_are_taken_and_given_back_after(slots):
    slots.hold(2)
    with pytest.raises(UpstreamBusy) as refused:
        with acquire_or_refuse():
            pass
    assert refused.value.limit == 2 and refused.value.retry_after >= 1
    slots.stop()
    with acquire_or_refuse():
        assert upstream_slots.in_use() == 1


def test_a_slot_is_given_back_when_the_block_fails(slots):
    with pytest.raises(RuntimeError):
        with acquire_or_refuse():
            raise RuntimeError("upstream answered nonsense")
    assert upstream_slots.in_use() == 0


def test_a_thread_holding_a_slot_takes_no_second_one(slots):
    slots.hold(1)
    with acquire_or_refuse():
        with acquire_or_refuse():  # e.g. the client asking inside a view that holds one
            assert upstream_slots.in_use() == 2
        assert upstream_slots.in_use() == 2
    assert upstream_slots.in_use() == 1


def test_a_limit_of_zero_is_no_cap(slots, settings):
    settings.UPSTREAM_CONCURRENCY_LIMIT = 0
    slots.hold(5)
    with acquire_or_refuse():
        assert upstream_slots.in_use() == 6


@responses.activate
def test_a_page_beyond_the_cap_gets_a_fast_503_page_without_calling_upstream(staff_client, slots):
    slots.hold(2)
    answer = staff_client.get(reverse("threads:list"))
    assert answer.status_code == 503
    assert answer["Retry-After"] == "2"  # the test time budget, rounded up
    page = answer.content.decode()
    assert "busy waiting on the ChatKit API" in page and "2 requests waiting" in page
    assert "Try again in 2 seconds" in page
    assert len(responses.calls) == 0


@responses.activate
def test_other_pages_answer_while_every_slot_is_taken(staff_client, slots):
    slots.hold(2)
    anonymous = Client()
    assert anonymous.get(reverse("login")).status_code == 200
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/readyz").status_code == 200
    # A page that never calls the upstream (here: a refused filter) takes no slot.
    assert staff_client.get("/threads/?limit=0").status_code == 400
    assert anonymous.get(reverse("threads:list")).status_code == 302
    assert len(responses.calls) == 0


@responses.activate
def test_a_page_from_the_shared_cache_answers_while_every_slot_is_taken(
    staff_client, slots, settings
):
    settings.CHATKIT = replace(settings.CHATKIT, cache_ttl=60)
    responses.get(THREADS_URL, json=page_json([thread_json()]))
    assert staff_client.get(reverse("threads:list")).status_code == 200
    slots.hold(2)
    assert staff_client.get(reverse("threads:list")).status_code == 200
    assert len(responses.calls) == 1
    assert staff_client.get(reverse("threads:list"), {"limit": 5}).status_code == 503


@responses.activate
def test_a_page_holds_its_slot_only_while_it_runs(staff_client, slots):
    responses.get(THREADS_URL, json=page_json([thread_json()]))
    for _ in range(3):  # more pages than slots, one after another
        assert staff_client.get(reverse("threads:list")).status_code == 200
    assert upstream_slots.in_use() == 0


@responses.activate
def test_a_streamed_export_holds_a_slot_only_while_it_calls_the_upstream(staff_client, slots):
    responses.get(THREADS_URL, json=page_json([thread_json() for _ in range(3)]))
    export = staff_client.get(reverse("threads:export"), {"scope": "all"})
    assert export.status_code == 200 and export.streaming
    assert b"".join(export.streaming_content).count(b"\n") == 4
    assert upstream_slots.in_use() == 0
    export.close()


def test_upstream_busy_raised_inside_a_view_gets_the_same_page(staff_client, slots, monkeypatch):
    from dashboard.threads import views

    def busy(*args, **kwargs):
        raise UpstreamBusy(limit=2, retry_after=9)

    monkeypatch.setattr(views, "thread_list", busy)
    answer = staff_client.get(reverse("threads:list"))
    assert answer.status_code == 503 and answer["Retry-After"] == "9"
    assert "busy waiting on the ChatKit API" in answer.content.decode()
    assert upstream_slots.in_use() == 0


def test_upstream_busy_outside_the_error_seam_gets_the_busy_page(rf):
    from dashboard.middleware import UpstreamSlotsMiddleware

    middleware = UpstreamSlotsMiddleware(lambda request: None)
    request = rf.get("/anywhere")
    answer = middleware.process_exception(request, UpstreamBusy(limit=3, retry_after=4))
    assert answer.status_code == 503 and answer["Retry-After"] == "4"
    assert "no-store" in answer["Cache-Control"]
    assert "3 requests waiting" in answer.content.decode()


# --- A stalled upstream, over real sockets -------------------------------------------------------


@pytest.fixture
def stalled_upstream():
    server, base_url = serve_in_thread(api_key=DEMO_KEY, control=True)
    upstream = DemoUpstream(server=server, base_url=base_url)
    try:
        yield upstream
    finally:
        upstream.clear_faults()
        server.close()


def test_with_the_upstream_stalled_health_checks_and_other_pages_keep_answering(
    stalled_upstream, tmp_path
):
    env = served_env(
        stalled_upstream,
        DATABASE_URL=f"sqlite:///{tmp_path}/stall.sqlite3",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="8",  # so 6 upstream slots
        CHATKIT_READ_TIMEOUT="60",
        CHATKIT_TIME_BUDGET="60",
        CHATKIT_MAX_RETRIES="0",
        CHATKIT_CACHE_TTL="0",
    )
    # The server stops first, so the stalled requests end with it.
    with ThreadPoolExecutor(8) as pool, Gunicorn(env) as server:
        session = server.logged_in()
        stalled_upstream.inject(mode="latency", ms=45_000, count=None)
        stalled = [
            pool.submit(session.get, f"{server.base}/threads/?limit={n + 1}", timeout=120)
            for n in range(6)
        ]
        deadline = time.monotonic() + 60
        while stalled_upstream.requests_served() < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stalled_upstream.requests_served() == 6  # every slot waits on the upstream

        beyond = session.get(f"{server.base}/threads/?limit=50", timeout=120)
        assert beyond.status_code == 503 and beyond.headers["Retry-After"] == "60"
        assert "busy waiting on the ChatKit API" in beyond.text
        for _ in range(20):
            health = requests.get(f"{server.base}/healthz", timeout=120)
            assert health.status_code == 200
        assert requests.get(f"{server.base}/readyz", timeout=120).status_code == 200
        assert requests.get(f"{server.base}/accounts/login/", timeout=120).status_code == 200
        # All of that answered while the six pages were still waiting on the upstream.
        assert not any(request.done() for request in stalled)
        assert stalled_upstream.requests_served() == 6  # the refused page asked nothing
