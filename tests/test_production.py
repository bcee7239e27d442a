"""Production serving: idle sessions without per-request writes, the cached template loader,
gunicorn's configuration, and gunicorn + WhiteNoise for real (also against PostgreSQL and
Redis, marked `services`). Deploy checks live in tests/test_deploy.py."""

from __future__ import annotations

import re
import runpy
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.sessions.models import Session
from django.template import engines

from dashboard import middleware

from . import real_services
from .servers import ROOT, Gunicorn, served_env

# --- Idle sessions --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_session_is_refreshed_at_most_once_a_minute(staff_client, monkeypatch):
    clock = [1_800_000_000.0]
    monkeypatch.setattr(middleware.time, "time", lambda: clock[0])
    saved = ["sessionid" in staff_client.get("/accounts/login/").cookies]
    clock[0] += 30
    saved.append("sessionid" in staff_client.get("/accounts/login/").cookies)
    clock[0] += 31  # 61 s after the last refresh
    saved.append("sessionid" in staff_client.get("/accounts/login/").cookies)
    assert saved == [True, False, True]
    assert staff_client.session[middleware.SessionIdleRefreshMiddleware.KEY] == int(clock[0])


@pytest.mark.django_db
def test_a_refresh_pushes_the_expiry_forward(staff_client, monkeypatch):
    clock = [1_800_000_000.0]
    monkeypatch.setattr(middleware.time, "time", lambda: clock[0])
    staff_client.get("/accounts/login/")
    first = Session.objects.get().expire_date
    time.sleep(0.01)
    clock[0] += 61
    staff_client.get("/accounts/login/")
    assert Session.objects.get().expire_date > first


@pytest.mark.django_db
def test_anonymous_visits_store_no_session(client):
    client.get("/threads/")
    client.get("/accounts/login/")
    client.get("/healthz")
    assert Session.objects.count() == 0


def test_templates_are_parsed_once_per_process():
    loaders = engines["django"].engine.template_loaders
    assert [type(loader).__module__ for loader in loaders] == ["django.template.loaders.cached"]


# --- gunicorn configuration -------------------------------------------------------------------


def gunicorn_config(monkeypatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_uses_threaded_workers_sized_from_the_environment(monkeypatch):
    config = gunicorn_config(monkeypatch, GUNICORN_WORKERS="3", GUNICORN_THREADS="12")
    assert config["worker_class"] == "gthread"
    assert (config["workers"], config["threads"]) == (3, 12)
    assert config["wsgi_app"] == "dashboard.wsgi:application"
    assert "preload_app" not in config  # each worker opens its own upstream connections


def test_gunicorn_defaults_to_two_workers_of_sixteen_threads_on_loopback(monkeypatch):
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_BIND"):
        monkeypatch.delenv(name, raising=False)
    config = gunicorn_config(monkeypatch)
    assert (config["workers"], config["threads"], config["bind"]) == (2, 16, ["127.0.0.1:8000"])


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_gunicorn_setting_stops_start_up_with_its_name(monkeypatch, value):
    with pytest.raises(SystemExit, match="GUNICORN_THREADS must be a whole number"):
        gunicorn_config(monkeypatch, GUNICORN_THREADS=value)


def test_gunicorn_recycles_workers_after_a_jittered_number_of_requests(monkeypatch):
    for name in ("GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER"):
        monkeypatch.delenv(name, raising=False)
    config = gunicorn_config(monkeypatch)
    assert (config["max_requests"], config["max_requests_jitter"]) == (1000, 100)
    config = gunicorn_config(
        monkeypatch, GUNICORN_MAX_REQUESTS="0", GUNICORN_MAX_REQUESTS_JITTER="0"
    )
    assert (config["max_requests"], config["max_requests_jitter"]) == (0, 0)  # never


@pytest.mark.parametrize("name", ["GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER"])
def test_a_bad_recycling_setting_stops_start_up_with_its_name(monkeypatch, name):
    with pytest.raises(SystemExit, match=f"{name} must be a whole number of at least 0"):
        gunicorn_config(monkeypatch, **{name: "-5"})


@pytest.mark.parametrize("limit", ["8", "9"])
def test_an_upstream_cap_that_leaves_no_thread_free_stops_start_up(monkeypatch, limit):
    with pytest.raises(SystemExit, match="must be below GUNICORN_THREADS"):
        gunicorn_config(monkeypatch, GUNICORN_THREADS="8", CHATKIT_CONCURRENCY_LIMIT=limit)


def test_an_upstream_cap_below_the_threads_or_none_is_accepted(monkeypatch):
    gunicorn_config(monkeypatch, GUNICORN_THREADS="8", CHATKIT_CONCURRENCY_LIMIT="7")
    gunicorn_config(monkeypatch, GUNICORN_THREADS="8", CHATKIT_CONCURRENCY_LIMIT="0")


# --- gunicorn + WhiteNoise for real -------------------------------------------------------------


@pytest.fixture
def fresh_upstream(demo_upstream):
    demo_upstream.reset()
    yield demo_upstream
    demo_upstream.clear_faults()


def test_gunicorn_serves_pages_and_hashed_compressed_static_files(fresh_upstream, tmp_path):
    env = served_env(fresh_upstream, DATABASE_URL=f"sqlite:///{tmp_path}/served.sqlite3")
    with Gunicorn(env) as server:
        session = server.logged_in()
        page = session.get(f"{server.base}/threads/", timeout=10)
        assert page.status_code == 200
        assert page.text.count('<td class="col-title">') == 20
        css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.text)
        assert css, "the page links the hashed stylesheet"
        static = requests.get(server.base + css[1], headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert static.status_code == 200
        assert static.headers["Content-Encoding"] == "gzip"
        assert "immutable" in static.headers["Cache-Control"]
        assert "max-age=315360000" in static.headers["Cache-Control"]


@pytest.mark.services
def test_two_gunicorn_workers_on_postgres_and_redis_share_one_upstream_call(fresh_upstream):
    database_url = real_services.database_url()
    redis_url = real_services.redis_url()
    env = served_env(
        fresh_upstream,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        GUNICORN_WORKERS="2",
        # 14 upstream slots (threads - 2): all 12 pages fit even if one worker gets them all.
        GUNICORN_THREADS="16",
        # A project of its own keeps this run's cache keys apart from any other's.
        OPENAI_PROJECT=f"proj-served-{time.time_ns()}",
    )
    with Gunicorn(env) as server:
        sessions = [server.logged_in() for _ in range(12)]  # sessions stored in PostgreSQL
        fresh_upstream.inject(mode="latency", ms=400, count=None)
        fresh_upstream._control("POST", "/stats/reset")
        with ThreadPoolExecutor(len(sessions)) as pool:
            pages = list(
                pool.map(lambda s: s.get(f"{server.base}/threads/?limit=9", timeout=30), sessions)
            )
        assert [page.status_code for page in pages] == [200] * len(sessions)
        assert fresh_upstream.requests_served() == 1
        times = {
            re.search(r'<time datetime="([^"]+)" data-precision', page.text)[1] for page in pages
        }
        assert len(times) == 1  # every page shows the one shared fetch


def test_gunicorn_replaces_workers_as_they_reach_max_requests_and_no_request_fails(
    fresh_upstream, tmp_path
):
    env = served_env(
        fresh_upstream,
        DATABASE_URL=f"sqlite:///{tmp_path}/recycled.sqlite3",
        GUNICORN_WORKERS="1",
        GUNICORN_MAX_REQUESTS="10",
        GUNICORN_MAX_REQUESTS_JITTER="3",
        GUNICORN_LOG_LEVEL="info",
    )
    with Gunicorn(env) as server:
        # A fresh connection each time, as a load balancer's probes would come.
        statuses = [
            requests.get(f"{server.base}/healthz", timeout=60).status_code for _ in range(60)
        ]
        assert statuses == [200] * 60
        log = server.log()
    assert log.count("Autorestarting worker after current request") >= 3, log
    assert log.count("Booting worker with pid") >= 4, log
