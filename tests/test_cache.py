"""The shared upstream cache and request coalescing (dashboard/threads/upstream_cache.py).

Hits, misses and keys are checked against `responses`; concurrency against the demo
upstream, whose request counter is the proof of how many calls reached it. The
cross-process case needs Redis (REDIS_URL) and runs in CI's `make test-services`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import responses
from django.core.cache import cache
from responses import matchers

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.chatkit.client import get_client
from dashboard.chatkit.errors import ChatKitUnavailableError
from dashboard.chatkit.types import StatusKind
from dashboard.threads import upstream_cache
from dashboard.threads.selectors import thread_page, thread_status_scan
from dashboard.threads.services import thread_delete
from dashboard.web.query import ThreadQuery

from . import real_services
from .conftest import TEST_API_KEY, THREADS_URL, UPSTREAM, deleted_json, page_json, thread_json

# `engine`: Redis behaves differently here; `make test-services` runs it again.
pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_on(upstream_settings):
    upstream_settings.CHATKIT = replace(upstream_settings.CHATKIT, cache_ttl=5.0)
    return upstream_settings


@pytest.fixture
def clock(monkeypatch):
    """The cache's wall clock, moved by hand."""

    class Clock:
        at = 1_800_000_000.0

        def __call__(self) -> float:
            return self.at

    fake = Clock()
    monkeypatch.setattr(upstream_cache, "now", fake)
    return fake


def upstream(threads=None, *, status=200, query=None, **page):
    body = page_json(threads if threads is not None else [thread_json()], **page)
    match = [matchers.query_param_matcher(query)] if query is not None else []
    return responses.get(THREADS_URL, json=body, status=status, match=match)


# --- Hits, misses, TTL --------------------------------------------------------------------


@responses.activate
def test_a_repeated_page_is_served_from_the_cache(cache_on):
    upstream([thread_json(id="cthr_one")])
    first = thread_page(limit=20)
    second = thread_page(limit=20)
    assert len(responses.calls) == 1
    assert second == first
    assert second.fetched_at == first.fetched_at


@responses.activate
def test_a_ttl_of_zero_turns_the_cache_off(upstream_settings):
    assert upstream_settings.CHATKIT.cache_ttl == 0
    upstream()
    thread_page()
    thread_page()
    assert len(responses.calls) == 2


@responses.activate
def test_entries_live_exactly_the_ttl(cache_on, clock):
    upstream()
    thread_page()
    clock.at += 4.9
    thread_page()
    assert len(responses.calls) == 1
    clock.at += 0.2  # 5.1 s after the fetch
    thread_page()
    assert len(responses.calls) == 2


@responses.activate
def test_fresh_skips_the_cache_and_replaces_the_entry(cache_on, clock):
    upstream([thread_json(id="cthr_old")])
    thread_page()
    responses.replace(responses.GET, THREADS_URL, json=page_json([thread_json(id="cthr_new")]))
    clock.at += 1
    fresh = thread_page(fresh=True)
    assert len(responses.calls) == 2
    assert fresh.threads[0].id == "cthr_new"
    assert fresh.fetched_at.timestamp() == clock.at
    assert thread_page().threads[0].id == "cthr_new"
    assert len(responses.calls) == 2


@responses.activate
def test_errors_are_never_cached(cache_on):
    upstream(status=500, json={"error": {"message": "boom", "type": "server_error"}})
    with pytest.raises(ChatKitUnavailableError):
        thread_page()
    responses.replace(responses.GET, THREADS_URL, json=page_json([thread_json(id="cthr_ok")]))
    assert thread_page().threads[0].id == "cthr_ok"
    assert len(responses.calls) == 2


@responses.activate
def test_an_unparseable_answer_is_not_cached(cache_on):
    responses.get(THREADS_URL, json={"object": "list", "data": "nope"})
    for _ in range(2):
        with pytest.raises(Exception, match="data"):
            thread_page()
    assert len(responses.calls) == 2


@responses.activate
def test_an_unreadable_entry_is_a_miss_not_a_failure(cache_on):
    upstream()
    params = {"limit": 20, "order": "desc"}
    key = upstream_cache.list_key(base_url=UPSTREAM, path="threads", params=params)
    cache.set(key, "not an entry", 30)
    assert thread_page().threads
    assert len(responses.calls) == 1


class DownCache:
    """A cache backend that is unreachable, like Redis during an outage."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache is down")

        return fail


@responses.activate
def test_a_cache_outage_costs_the_cache_not_the_page(cache_on, monkeypatch):
    monkeypatch.setattr(upstream_cache, "cache", DownCache())
    upstream([thread_json(id="cthr_up")])
    assert [t.id for t in thread_page().threads] == ["cthr_up"]
    assert [t.id for t in thread_page().threads] == ["cthr_up"]
    assert len(responses.calls) == 2


@pytest.mark.django_db
@responses.activate
def test_a_deletion_still_succeeds_when_the_cache_is_down(cache_on, monkeypatch, staff_user):
    monkeypatch.setattr(upstream_cache, "cache", DownCache())
    responses.get(f"{THREADS_URL}/cthr_1", json=thread_json(id="cthr_1"))
    responses.delete(
        f"{THREADS_URL}/cthr_1",
        json=deleted_json("cthr_1"),
    )
    assert not thread_delete(actor=staff_user, thread_id="cthr_1").already_gone
    assert AuditEvent.objects.get().action == AuditAction.DELETED_THREAD


def test_a_refresh_never_joins_an_ordinary_call_already_in_flight(cache_on):
    started, release = threading.Event(), threading.Event()
    fetches: list[str] = []

    def slow_fetch():
        fetches.append("ordinary")
        started.set()
        release.wait(5)
        return "ordinary answer"

    def fresh_fetch():
        fetches.append("fresh")
        return "fresh answer"

    with ThreadPoolExecutor(1) as pool:
        ordinary = pool.submit(upstream_cache.cached_call, "k-refresh", slow_fetch)
        assert started.wait(5)
        # The ordinary call finishes while the refresh waits on its lock; its answer began
        # before the refresh was asked for, so the refresh still fetches its own.
        threading.Timer(0.2, release.set).start()
        fresh = upstream_cache.cached_call("k-refresh", fresh_fetch, fresh=True)
        assert ordinary.result(5) == "ordinary answer"
    assert fresh == "fresh answer"
    assert fetches == ["ordinary", "fresh"]


# --- Keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        {"user": "user_0002"},
        {"after": "cthr_x"},
        {"before": "cthr_x"},
        {"limit": 21},
        {"order": "asc"},
    ],
)
@responses.activate
def test_every_parameter_is_part_of_the_key(cache_on, other):
    upstream()
    thread_page(user="user_0001", limit=20, order="desc")
    thread_page(**{"user": "user_0001", "limit": 20, "order": "desc", **other})
    assert len(responses.calls) == 2


@responses.activate
def test_equivalent_calls_share_one_key(cache_on):
    upstream()
    thread_page()
    thread_page(user=None, after=None, before=None, limit=20, order="desc")
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "setting, value",
    [
        ("base_url", "https://other.upstream.test/v1"),
        ("api_key", "sk-test-another-key-entirely-000000"),
        ("organization", "org-other"),
        ("project", "proj-other"),
    ],
)
@responses.activate
def test_two_configurations_never_share_entries(cache_on, setting, value):
    upstream()
    thread_page()
    cache_on.CHATKIT = replace(cache_on.CHATKIT, **{setting: value})
    responses.get(f"{cache_on.CHATKIT.base_url}/chatkit/threads", json=page_json([thread_json()]))
    thread_page()
    assert len(responses.calls) == 2
    assert responses.calls[1].request.url.startswith(cache_on.CHATKIT.base_url)


def test_keys_never_contain_the_api_key(cache_on):
    key = upstream_cache.list_key(base_url=UPSTREAM, path="threads", params={"limit": 20})
    assert TEST_API_KEY not in key and TEST_API_KEY[-8:] not in key
    assert TEST_API_KEY not in upstream_cache.identity()
    cache_on.CHATKIT = replace(cache_on.CHATKIT, api_key=TEST_API_KEY + "x")
    assert upstream_cache.list_key(base_url=UPSTREAM, path="threads", params={"limit": 20}) != key


@pytest.mark.django_db
@responses.activate
def test_a_deleted_thread_leaves_every_cached_list(cache_on, staff_user):
    upstream([thread_json(id="cthr_gone")])
    responses.get(f"{THREADS_URL}/cthr_gone", json=thread_json(id="cthr_gone"))
    responses.delete(
        f"{THREADS_URL}/cthr_gone",
        json=deleted_json("cthr_gone"),
    )
    thread_page()
    thread_page(user="user_0001")
    thread_delete(actor=staff_user, thread_id="cthr_gone")
    thread_page()
    thread_page(user="user_0001")
    # Two lists, the deletion (the owner's lookup for the audit, then DELETE), both lists again.
    assert [call.request.method for call in responses.calls] == [
        "GET", "GET", "GET", "DELETE", "GET", "GET",
    ]  # fmt: skip
    assert responses.calls[2].request.url == f"{THREADS_URL}/cthr_gone"


@responses.activate
def test_the_status_scan_reuses_cached_pages(cache_on):
    locked = thread_json(status={"type": "locked", "reason": None})
    upstream([thread_json(), locked], query={"limit": "100", "order": "desc"})
    thread_page(limit=100)
    scan = thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED, limit=20))
    assert [t.id for t in scan.threads] == [locked["id"]]
    assert len(responses.calls) == 1
    assert scan.fetched_at is not None
    thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED, limit=20), fresh=True)
    assert len(responses.calls) == 2


# --- The page: "as of" and Refresh ----------------------------------------------------------


@pytest.mark.django_db
@responses.activate
def test_the_page_says_how_old_its_data_is_and_offers_a_refresh(staff_client, cache_on, clock):
    upstream(has_more=True)
    clock.at = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    body = staff_client.get("/threads/", {"user": "u 1", "limit": "50"}).content.decode()
    assert '<time datetime="2027-01-15T08:00:00+00:00"' in body
    assert 'title="2027-01-15 08:00:00 UTC">08:00:00 UTC</time>' in body
    assert 'href="/threads/?user=u+1&amp;limit=50&amp;fresh=1"' in body

    clock.at += 2
    again = staff_client.get("/threads/", {"user": "u 1", "limit": "50"}).content.decode()
    assert ">08:00:00 UTC</time>" in again
    assert len(responses.calls) == 1
    refreshed = staff_client.get("/threads/", {"user": "u 1", "limit": "50", "fresh": "1"})
    assert ">08:00:02 UTC</time>" in refreshed.content.decode()
    assert len(responses.calls) == 2


@pytest.mark.django_db
@responses.activate
def test_fresh_is_never_carried_into_paging_links(staff_client, cache_on):
    upstream([thread_json(id="cthr_a"), thread_json(id="cthr_b")], has_more=True)
    body = staff_client.get("/threads/", {"fresh": "1", "after": "cthr_0"}).content.decode()
    hrefs = [h.split('"')[0] for h in body.split('href="')[1:]]
    assert "/threads/?after=cthr_b" in hrefs  # Next
    assert "/threads/?before=cthr_a" in hrefs  # Previous
    assert "/threads/" in hrefs  # First page
    # Only the Refresh link asks for fresh data.
    assert [h for h in hrefs if "fresh" in h] == ["/threads/?after=cthr_0&amp;fresh=1"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["0", "yes", "11", "true"])
@responses.activate
def test_a_bad_fresh_value_is_a_clear_400(staff_client, value):
    response = staff_client.get("/threads/", {"fresh": value})
    assert response.status_code == 400
    assert b"&#x27;fresh&#x27; must be 1" in response.content
    assert len(responses.calls) == 0


# --- Coalescing and connection reuse, against the demo upstream ---------------------------------


@pytest.fixture
def slow_demo(demo_settings, demo_upstream):
    """The demo upstream, answering every call after 300 ms, with the cache on."""
    demo_settings.CHATKIT = replace(demo_settings.CHATKIT, cache_ttl=5.0)
    demo_upstream.inject(mode="latency", ms=300, count=None)
    return demo_upstream


def zero_stats(demo) -> None:
    """Zero the request counter, keeping the injected latency (reset() would clear it)."""
    demo._control("POST", "/stats/reset")


def run_together(count: int, call) -> list:
    barrier = threading.Barrier(count)

    def one(_):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_identical_requests_make_one_upstream_call(slow_demo):
    pages = run_together(20, lambda: thread_page(limit=10))
    assert slow_demo.requests_served() == 1
    assert len({page.first_id for page in pages}) == 1
    assert len({page.fetched_at for page in pages}) == 1


def test_concurrent_fresh_requests_share_one_call_too(slow_demo):
    thread_page(limit=10)
    zero_stats(slow_demo)
    run_together(10, lambda: thread_page(limit=10, fresh=True))
    assert slow_demo.requests_served() == 1


def test_concurrent_different_requests_are_not_merged(slow_demo):
    limits = iter(range(1, 11))
    lock = threading.Lock()

    def call():
        with lock:
            limit = next(limits)
        return thread_page(limit=limit)

    run_together(10, call)
    assert slow_demo.requests_served() == 10


def test_waiters_share_the_leaders_error_and_nothing_is_cached(cache_on):
    fetches: list[str] = []

    def failing_fetch():
        fetches.append("failing")
        time.sleep(0.5)  # the other callers join meanwhile (with Redis, after a round trip)
        raise ChatKitUnavailableError("The ChatKit API is unavailable.", status=503)

    def call():
        try:
            upstream_cache.cached_call("k-error", failing_fetch)
        except ChatKitUnavailableError as error:
            return error
        return None

    outcomes = run_together(8, call)
    assert all(isinstance(o, ChatKitUnavailableError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == len(outcomes)  # each waiter has its own copy
    assert fetches == ["failing"]
    assert upstream_cache.cached_call("k-error", lambda: "recovered") == "recovered"


def test_pooled_connections_are_reused_across_page_views(demo_settings, demo_upstream):
    client = get_client()
    for limit in range(1, 31):
        thread_page(limit=limit)
    pools = client.session.get_adapter(client.base_url).poolmanager.pools
    opened = sum(pools[key].num_connections for key in pools.keys())
    assert opened == 1
    assert demo_upstream.requests_served() == 30


@pytest.mark.services
def test_processes_sharing_redis_make_one_upstream_call(slow_demo, tmp_path):
    redis_url = real_services.redis_url()
    start_at = time.time() + 4
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "REDIS_URL": redis_url,
        "OPENAI_BASE_URL": slow_demo.base_url,
        "OPENAI_API_KEY": slow_demo.api_key,
        # A project of its own keeps this run's keys apart from any other's.
        "OPENAI_PROJECT": f"proj-coalesce-{os.getpid()}-{time.time_ns()}",
        "CHATKIT_CACHE_TTL": "5",
        "LOG_LEVEL": "WARNING",
    }
    script = (
        "import sys, time, django; django.setup()\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from dashboard.threads.selectors import thread_page\n"
        "time.sleep(max(0, float(sys.argv[1]) - time.time()))\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    pages = list(pool.map(lambda _: thread_page(limit=7), range(4)))\n"
        "print(' '.join(f'{p.first_id}@{p.fetched_at.timestamp()}' for p in pages))\n"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(start_at)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [worker.communicate(timeout=60) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    answers = {answer for out, _ in outputs for answer in out.split()}
    assert slow_demo.requests_served() == 1, answers
    assert len(answers) == 1  # all 12 callers got the one fetch, with its timestamp


@pytest.mark.services
def test_the_django_cache_is_redis_when_redis_url_is_set():
    real_services.redis_url()
    from django.conf import settings

    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    cache.set("chatkit:probe", {"ok": 1}, 5)
    assert cache.get("chatkit:probe") == {"ok": 1}
    assert cache.add("chatkit:probe", 2, 5) is False


def test_a_redis_that_never_answers_is_an_error_in_a_second_not_a_hung_page():
    """The Redis cache's socket timeouts (dashboard/settings.py): a Redis that takes the
    connection and then says nothing fails the read, which the upstream cache counts as
    a miss, instead of holding the page."""
    import socket

    from django.core.cache.backends.redis import RedisCache

    from dashboard.settings import REDIS_CACHE_OPTIONS

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections wait in the backlog; nothing ever reads or answers them
    try:
        host, port = silent.getsockname()
        hung = RedisCache(f"redis://{host}:{port}/0", {"OPTIONS": REDIS_CACHE_OPTIONS})
        outcome: list[BaseException] = []

        def read() -> None:
            try:
                hung.get("anything")
            except Exception as error:  # the error is the finding
                outcome.append(error)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=60)  # a bound for a busy machine, far beyond the 1 s timeout
        assert not reader.is_alive(), "a silent Redis held the read"
        assert outcome and "Timeout" in type(outcome[0]).__name__
    finally:
        silent.close()
