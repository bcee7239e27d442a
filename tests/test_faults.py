"""Upstream faults end to end: real HTTP to the demo upstream, with faults injected.

Each answer must come within the client's time budget (a correctness bound: a page never
hangs), say what went wrong with the right status, and the next request after the fault
clears must work again.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace

import pytest

pytestmark = pytest.mark.django_db

READ_TIMEOUT = 0.5
TIME_BUDGET = 1.5
# Rendering, the test client and thread scheduling on a loaded machine (2.65 s was seen at a
# load average of 10 with a 1 s slack). These tests prove a page is bounded; that the bound is
# exactly the budget is proven with a fake clock in tests/test_client*.py, not by wall time.
SLACK = 3.0


@pytest.fixture
def dashboard(demo_settings, staff_client):
    demo_settings.CHATKIT = replace(
        demo_settings.CHATKIT,
        connect_timeout=0.5,
        read_timeout=READ_TIMEOUT,
        time_budget=TIME_BUDGET,
        max_retries=2,
        cache_ttl=0,
    )
    return staff_client


def timed_get(client, url: str = "/threads/"):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def assert_works(client) -> None:
    response = client.get("/threads/")
    assert response.status_code == 200
    assert response.content.decode().count('class="thread-id"') == 20


FAULTS = [
    pytest.param(
        {"mode": "latency", "ms": 5000}, 504, "did not answer in time", id="latency-past-timeout"
    ),
    pytest.param(
        {"mode": "status", "status": 429, "retry_after": "30"},
        503,
        "Try again in 30 seconds",
        id="rate-limited-429",
    ),
    pytest.param({"mode": "status", "status": 500}, 503, "is unavailable", id="500s"),
    pytest.param({"mode": "status", "status": 503}, 503, "is unavailable", id="503s"),
    pytest.param({"mode": "drop"}, 503, "is unavailable", id="dropped-connections"),
    pytest.param({"mode": "truncate"}, 503, "is unavailable", id="truncated-bodies"),
    pytest.param({"mode": "malformed"}, 502, "cannot read", id="malformed-json"),
    pytest.param({"mode": "drift"}, 502, "cannot read", id="schema-drift"),
    pytest.param({"mode": "status", "status": 401}, 502, "rejected", id="key-rejected"),
]


@pytest.mark.parametrize("fault, status, says", FAULTS)
def test_a_lasting_fault_gets_a_bounded_clear_answer_and_recovery(
    dashboard, demo_upstream, fault, status, says
):
    demo_upstream.inject(**fault)
    response, elapsed = timed_get(dashboard)
    assert elapsed <= TIME_BUDGET + SLACK, f"{elapsed:.2f} s"
    assert response.status_code == status
    body = response.content.decode()
    assert 'role="alert"' in body and says in body
    assert 'class="thread-id"' not in body

    demo_upstream.clear_faults()
    assert_works(dashboard)


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "status", "status": 500, "count": 1},
        {"mode": "status", "status": 429, "retry_after": "0.2", "count": 1},
        {"mode": "drop", "count": 1},
        {"mode": "latency", "ms": 2000, "count": 1},
    ],
    ids=["one-500", "one-429", "one-drop", "one-slow-answer"],
)
def test_a_passing_fault_is_retried_within_the_budget(dashboard, demo_upstream, fault):
    demo_upstream.inject(**fault)
    response, elapsed = timed_get(dashboard)
    assert elapsed <= TIME_BUDGET + SLACK, f"{elapsed:.2f} s"
    assert response.status_code == 200
    assert demo_upstream.requests_served() == 2


def test_a_rate_limit_passes_its_wait_on_to_the_browser(dashboard, demo_upstream):
    demo_upstream.inject(mode="status", status=429, retry_after="120")
    response, elapsed = timed_get(dashboard)
    assert elapsed <= TIME_BUDGET + SLACK
    assert response.status_code == 503
    assert response["Retry-After"] == "120"
    # A wait beyond the budget is reported at once, not retried.
    assert demo_upstream.requests_served() == 1


def test_the_status_scan_is_bounded_too(dashboard, demo_upstream):
    demo_upstream.inject(mode="latency", ms=5000)
    response, elapsed = timed_get(dashboard, "/threads/?status=locked")
    assert elapsed <= TIME_BUDGET + SLACK, f"{elapsed:.2f} s"
    assert response.status_code == 504
    demo_upstream.clear_faults()
    assert dashboard.get("/threads/?status=locked").status_code == 200


# --- A hostile upstream, over real sockets ----------------------------------------------------
#
# tests/hostile_server.py attacks the client where only a socket shows it: bodies that trickle
# or never end, stalls before or after the headers, gzip bombs, redirects. Each page must come
# within one page budget, whatever the number of upstream calls behind it. The bound checked
# is generous (HOSTILE_SLACK) so a loaded machine cannot fail it, yet each attack would take
# minutes (or forever) without the deadline; bench/attacks.py measures the real figures.

HOSTILE_SLACK = 3.0
CAP = 1 << 20


@pytest.fixture(scope="module")
def hostile_server():
    from tests.conftest import TEST_API_KEY
    from tests.hostile_server import serve_in_thread

    server = serve_in_thread(api_key=TEST_API_KEY, bomb_bytes=64 << 20)
    server.trickle_seconds = 0.2
    for mode in ("gzip-bomb", "oversize", "many-rows"):
        server.built(mode)  # here, not while a test's deadline runs (it holds the GIL)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def hostile(hostile_server, upstream_settings, staff_client):
    hostile_server.mode = "normal"
    hostile_server.slow_seconds = 5.0
    hostile_server.thread_count = 150
    with hostile_server.lock:
        hostile_server.seen.clear()
    upstream_settings.CHATKIT = replace(
        upstream_settings.CHATKIT,
        base_url=hostile_server.base_url,
        connect_timeout=0.5,
        read_timeout=1.0,
        time_budget=TIME_BUDGET,
        max_retries=2,
        cache_ttl=0,
        max_response_bytes=CAP,
    )
    yield hostile_server
    hostile_server.mode = "normal"


def assert_recovers(client, server) -> None:
    server.mode = "normal"
    response = client.get("/threads/")
    assert response.status_code == 200
    assert response.content.decode().count('class="thread-id"') == 20


ATTACKS = [
    pytest.param("trickle", "/threads/", 504, "did not answer in time", id="trickled-body"),
    pytest.param(
        "trickle", "/threads/cthr_000001/", 504, "did not answer in time", id="trickled-detail"
    ),
    pytest.param(
        "trickle-headers", "/threads/", 504, "did not answer in time", id="trickled-headers"
    ),
    pytest.param("stall", "/threads/", 504, "did not answer in time", id="stall-after-headers"),
    pytest.param(
        "stall-headers", "/threads/", 504, "did not answer in time", id="stall-before-headers"
    ),
    pytest.param("slow", "/threads/?status=locked", 504, "did not answer in time", id="slow-scan"),
    pytest.param("endless", "/threads/", 502, "cannot read", id="endless-body"),
    pytest.param("gzip-bomb", "/threads/", 502, "cannot read", id="gzip-bomb"),
    pytest.param("redirect", "/threads/", 502, "cannot read", id="redirect"),
    pytest.param("redirect", "/threads/cthr_000001/", 502, "cannot read", id="redirected-detail"),
    pytest.param("oversize", "/threads/", 502, "cannot read", id="oversize-page"),
]


@pytest.mark.parametrize("mode, url, status, says", ATTACKS)
def test_an_attack_gets_a_clear_answer_within_one_page_budget_and_recovery(
    hostile, staff_client, mode, url, status, says
):
    hostile.mode = mode
    response, elapsed = timed_get(staff_client, url)
    assert elapsed <= TIME_BUDGET + HOSTILE_SLACK, f"{elapsed:.2f} s"
    assert response.status_code == status
    body = response.content.decode()
    assert 'role="alert"' in body and says in body
    assert not hostile.requests_seen("/elsewhere/")
    assert_recovers(staff_client, hostile)


def test_a_status_scan_out_of_time_shows_what_it_read_and_says_why(
    hostile, staff_client, upstream_settings
):
    upstream_settings.CHATKIT = replace(upstream_settings.CHATKIT, read_timeout=5.0)
    hostile.thread_count = 2000  # 1 thread in 50 locked: 20 of them take 10 pages
    hostile.slow_seconds = 1.0  # the first page comes in time, the second would not
    hostile.mode = "slow"
    response, elapsed = timed_get(staff_client, "/threads/?status=locked")
    assert elapsed <= TIME_BUDGET + HOSTILE_SLACK, f"{elapsed:.2f} s"
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="thread-id"') == 2
    assert "The scan stopped after 1 upstream page when the page&#x27;s time budget ran out" in body


def test_a_redirected_delete_never_reaches_the_third_party(hostile, staff_client, staff_user):
    from django.contrib.auth.models import Permission

    from dashboard.audit.models import AuditAction, AuditEvent

    staff_user.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    hostile.mode = "redirect"
    response = staff_client.post(
        "/threads/cthr_000001/delete/", {"confirm_id": "cthr_000001"}, follow=True
    )
    body = response.content.decode()
    assert response.status_code == 502
    assert "Deleted thread" not in body and "never follows" in body
    assert hostile.requests_seen("/elsewhere/") == []
    assert [method for method, _ in hostile.requests_seen("/v1/")] == ["GET", "DELETE"]
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.DELETE_FAILED


def test_a_stalled_owner_lookup_leaves_the_delete_its_share_of_the_page(
    hostile, staff_client, staff_user
):
    from django.contrib.auth.models import Permission

    from dashboard.audit.models import AuditAction, AuditEvent

    staff_user.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    hostile.mode = "stall-reads"
    started = time.monotonic()
    response = staff_client.post(
        "/threads/cthr_000001/delete/", {"confirm_id": "cthr_000001"}, follow=True
    )
    elapsed = time.monotonic() - started
    assert elapsed <= TIME_BUDGET + HOSTILE_SLACK, f"{elapsed:.2f} s"
    assert "Deleted thread cthr_000001" in response.content.decode()
    assert [method for method, _ in hostile.requests_seen("/v1/")][:2] == ["GET", "DELETE"]
    event = AuditEvent.objects.get(action=AuditAction.DELETED_THREAD)
    assert event.end_user == ""  # the owner could not be looked up in time


def test_a_page_with_far_more_rows_than_asked_for_shows_and_exports_the_limit(
    hostile, staff_client
):
    hostile.mode = "many-rows"
    response = staff_client.get("/threads/")  # 20 rows: the default size
    assert response.status_code == 200
    assert response.content.decode().count('class="thread-id"') == 20
    export = staff_client.get("/threads/export.csv?scope=page&limit=20")
    lines = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 20  # the header and the 20 rows the page shows


def test_a_csv_export_ends_incomplete_when_its_own_deadline_passes(
    hostile, staff_client, upstream_settings
):
    upstream_settings.CHATKIT = replace(
        upstream_settings.CHATKIT, csv_time_budget=2.0, read_timeout=2.0
    )
    hostile.thread_count = 3000
    hostile.slow_seconds = 0.4  # 30 pages of 100: 12 s without the export's deadline
    hostile.mode = "slow"
    started = time.monotonic()
    export = staff_client.get("/threads/export.csv?scope=all")
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    elapsed = time.monotonic() - started
    assert elapsed <= 2.0 + HOSTILE_SLACK, f"{elapsed:.2f} s"
    *rows, [notice] = list(csv.reader(io.StringIO(text)))[1:]
    assert notice.startswith(f"# INCOMPLETE: the export failed after {len(rows):,} rows.")
    # Cut before a call or in the middle of one, depending on the machine: both name the budget.
    assert "the export's time budget (2 s, chatkit_csv_time_budget)" in notice.lower()
    assert ".." not in notice
    assert len(rows) % 100 == 0 and 100 <= len(rows) < 3000


def test_a_forged_request_id_is_never_shown_or_logged(hostile, staff_client, caplog):
    from tests.conftest import TEST_API_KEY

    hostile.mode = "forged-request-id"
    for url in ("/threads/", "/connection/", "/threads/cthr_000001/"):
        response = staff_client.get(url)
        assert response.status_code == 200
        assert "req_sk" not in response.content.decode()
    assert TEST_API_KEY[-8:] not in caplog.text
    # (tests/secret_guard.py fails the test too if any form of the key got anywhere.)


def test_an_upstream_message_with_the_key_and_a_newline_is_redacted_and_logged_on_one_line(
    hostile, staff_client, caplog
):
    from tests.hostile_server import FORGED_LINE

    hostile.mode = "forged-message"
    for url in ("/threads/", "/threads/export.csv"):
        response = staff_client.get(url)
        assert response.status_code == 400
        body = response.content.decode()
        assert body.count("[redacted key]") >= 3, url
    assert FORGED_LINE.strip() not in [line.strip() for line in caplog.text.splitlines()]


def test_an_endless_body_is_read_no_further_than_the_cap(hostile):
    import tracemalloc

    from dashboard.chatkit.client import ChatKitClient
    from dashboard.chatkit.errors import ChatKitBadResponseError
    from tests.conftest import TEST_API_KEY

    hostile.mode = "endless"
    client = ChatKitClient(api_key=TEST_API_KEY, base_url=hostile.base_url, max_response_bytes=CAP)
    tracemalloc.start()
    try:
        with pytest.raises(ChatKitBadResponseError):
            client.list_threads()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The cap, a copy of it and a chunk: never the body.
    assert peak < 4 * CAP, peak


def test_a_bounded_read_keeps_the_connection_alive_for_the_next_call(demo_settings):
    from dashboard.chatkit.client import get_client

    client = get_client()
    for _ in range(5):
        client.list_threads(limit=3)
    pools = client.session.get_adapter(client.base_url).poolmanager.pools
    assert sum(pools[key].num_connections for key in pools.keys()) == 1
