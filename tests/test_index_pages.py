"""The sync status page and its actions: who sees what, what is recorded."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import responses
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.jobs.leases import beat, hold_lease
from dashboard.thread_index.models import SyncKind, SyncOutcome, SyncRun, SyncState, SyncTrigger
from dashboard.thread_index.sources import current_source, lease_name
from dashboard.thread_index.tasks import SCHEDULER_HEARTBEAT

# `engine`: PostgreSQL behaves differently here; `make test-services` runs it again.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.engine,
    pytest.mark.usefixtures("unpaced_index_syncs"),
]

STATUS_URL = "/index/"
SYNC_URL = "/index/sync"
CANCEL_URL = "/index/cancel"


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user(
        username="operator", password="correct horse battery", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="start_sync"))
    return user


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def make_run(kind=SyncKind.INCREMENTAL, *, ago: float = 10, **fields) -> SyncRun:
    started = timezone.now() - timedelta(seconds=ago)
    defaults = {
        "source": current_source(),
        "kind": kind,
        "trigger": SyncTrigger.SCHEDULE,
        "started_at": started,
        "heartbeat_at": started,
        "finished_at": started + timedelta(seconds=1),
        "outcome": SyncOutcome.SUCCEEDED,
    }
    return SyncRun.objects.create(**{**defaults, **fields})


def test_it_requires_staff(client, django_user_model):
    assert client.get(STATUS_URL).status_code == 302
    user = django_user_model.objects.create_user(username="visitor", password="x" * 20)
    client.force_login(user)
    assert client.get(STATUS_URL).status_code == 403


def test_a_fresh_install_says_nothing_has_run_and_no_worker_is_there(staff_client):
    page = staff_client.get(STATUS_URL).content.decode()
    assert "No worker is running the sync schedule" in page
    assert "It has never run" in page
    assert "No sync has run yet" in page
    assert page.count("Missed") == 3
    assert "Sync now<span" not in page  # staff without the permission


def test_it_shows_the_last_runs_their_outcome_and_the_targets(staff_client):
    beat(SCHEDULER_HEARTBEAT)
    make_run(SyncKind.INCREMENTAL, ago=10, pages=1, calls=1, new=3)
    make_run(
        SyncKind.FULL,
        ago=120,
        outcome=SyncOutcome.FAILED,
        error="The ChatKit API is unavailable. (HTTP 503) [request req_abc]",
        request_ids=["req_abc"],
    )
    page = staff_client.get(STATUS_URL).content.decode()
    assert "No worker is running" not in page
    assert "req_abc" in page and "HTTP 503" in page
    assert "Succeeded" in page and "Failed" in page
    # New threads: 10 s old, within 60 s. Status changes and deletions: never synced.
    assert page.count("Holds") == 1 and page.count("Missed") == 2


def test_a_stale_incremental_misses_its_target(staff_client):
    make_run(SyncKind.INCREMENTAL, ago=600)
    page = staff_client.get(STATUS_URL).content.decode()
    assert "10 min old" in page
    assert page.count("Missed") == 3


def test_a_running_sync_shows_its_progress(staff_client):
    run = make_run(SyncKind.FULL, ago=5, outcome=SyncOutcome.RUNNING, finished_at=None, pages=7)
    with hold_lease(lease_name(current_source()), ttl=60, holder="worker-1"):
        page = staff_client.get(STATUS_URL).content.decode()
    assert "Running now" in page and f"#{run.pk}" in page and "7 pages" in page
    assert "worker-1" in page


def test_the_page_shows_the_next_run_and_a_pending_request(staff_client):
    source = current_source()
    SyncState.objects.create(
        source=source, kind=SyncKind.INCREMENTAL, next_run_at=timezone.now() + timedelta(seconds=25)
    )
    SyncState.objects.create(
        source=source, kind=SyncKind.FULL, requested_at=timezone.now(), requested_by="alice"
    )
    page = staff_client.get(STATUS_URL).content.decode()
    assert "in 2" in page  # "in 24 s" or "in 25 s"
    assert "Requested by alice" in page


def test_sync_now_needs_the_permission(staff_client):
    response = staff_client.post(SYNC_URL, {"kind": "incremental"})
    assert response.status_code == 403
    assert not AuditEvent.objects.exists() and not SyncRun.objects.exists()


def test_sync_now_is_post_only(operator_client):
    assert operator_client.get(SYNC_URL).status_code == 405


def test_sync_now_needs_a_csrf_token(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(SYNC_URL, {"kind": "incremental"}).status_code == 403
    assert not AuditEvent.objects.exists()


def test_sync_now_runs_the_sync_and_audits_it(operator_client, upstream):
    upstream.add(30)
    page = operator_client.get(STATUS_URL).content.decode()
    assert page.count("Sync now<span") == 3
    response = operator_client.post(SYNC_URL, {"kind": "full"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("thread_index:status")
    assert "Full sweep requested" in response.content.decode()
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.STARTED_INDEX_SYNC
    assert event.actor_username == "operator" and event.details["kind"] == "full"
    # Tests run huey in immediate mode: the enqueued task has run.
    run = SyncRun.objects.get()
    assert (run.kind, run.trigger, run.requested_by, run.new) == ("full", "staff", "operator", 30)
    assert SyncState.objects.get(kind=SyncKind.FULL).requested_at is None


def test_sync_now_refuses_an_unknown_kind(operator_client):
    response = operator_client.post(SYNC_URL, {"kind": "everything"}, follow=True)
    assert "There is no sync called everything" in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_a_staff_request_while_another_sync_runs_waits_its_turn(
    operator_client, upstream, monkeypatch
):
    from dashboard.thread_index import tasks

    monkeypatch.setattr(tasks, "LEASE_WAIT_SECONDS", 0)  # the task runs inline in tests
    with hold_lease(lease_name(current_source()), ttl=60, holder="worker-1"):
        operator_client.post(SYNC_URL, {"kind": "incremental"})
    assert not SyncRun.objects.exists()
    state = SyncState.objects.get(kind=SyncKind.INCREMENTAL)
    assert state.requested_by == "operator"  # still pending; the task tries again


def test_cancel_asks_the_running_sync_to_stop_and_is_audited(operator_client):
    name = lease_name(current_source())
    with hold_lease(name, ttl=60, holder="worker-1") as lease:
        response = operator_client.post(CANCEL_URL, follow=True)
        assert "stops after its current page" in response.content.decode()
        assert lease.cancel_requested()
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.CANCELLED_INDEX_SYNC and event.details["was_running"]


def test_cancel_with_nothing_running_says_so(operator_client):
    response = operator_client.post(CANCEL_URL, follow=True)
    assert "nothing to cancel" in response.content.decode()


def test_cancel_needs_the_permission(staff_client):
    assert staff_client.post(CANCEL_URL).status_code == 403


def test_the_navigation_links_to_the_index_page(staff_client):
    page = staff_client.get(STATUS_URL).content.decode()
    assert f'href="{STATUS_URL}" aria-current="page"' in page


# --- The pages that use the index: /threads/ answered by it, /users/, history, exports -------

THREADS = "/threads/"


def indexed(*threads: dict, observed_at=None):
    """Write upstream thread objects into the index, as a sync would have seen them."""
    from dashboard.chatkit.types import Thread
    from dashboard.thread_index.store import write_threads

    return write_threads(
        source=current_source(),
        threads=[Thread.from_dict(thread) for thread in threads],
        observed_at=observed_at or timezone.now(),
    )


def swept(ago: float = 3 * 3600):
    """A completed full sweep `ago` seconds ago: the index now answers."""
    return make_run(SyncKind.FULL, ago=ago)


def threads_of(response) -> list[str]:
    import re

    return re.findall(r'<code class="thread-id">([^<]+)</code>', response.content.decode())


def t(n: int, **fields) -> dict:
    """Thread n of a small fixture: newer n is newer, titles say their number."""
    from tests.conftest import thread_json

    fields = {"title": f"Ticket {n}", **fields}
    return thread_json(id=f"cthr_{n:04d}", created_at=1_763_000_000 + n * 3600, **fields)


LOCKED = {"type": "locked", "reason": "Abuse report"}
CLOSED = {"type": "closed", "reason": "Resolved"}


@pytest.fixture
def no_upstream():
    """Any upstream call fails the test: the index answers alone."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert not mock.calls, [call.request.url for call in mock.calls]


@pytest.fixture
def small_index():
    indexed(
        t(1, user="alice", status=LOCKED),
        t(2, user="bob"),
        t(3, user="alice", status=CLOSED),
        t(4, user="carol", title="Refund for ORDER 77"),
        t(5, user="alice", status=LOCKED, title="Order missing"),
    )


def test_the_unfiltered_default_view_stays_live_even_with_a_ready_index(staff_client, small_index):
    from tests.conftest import THREADS_URL, page_json, thread_json

    swept()
    with responses.RequestsMock() as mock:
        mock.get(THREADS_URL, json=page_json([thread_json(id="cthr_live")]))
        response = staff_client.get(THREADS)
    assert threads_of(response) == ["cthr_live"]
    assert "Live from ChatKit" in response.content.decode()


def test_a_status_is_answered_by_the_index_with_exact_counts(
    staff_client, small_index, no_upstream
):
    swept()
    response = staff_client.get(THREADS, {"status": "locked"})
    page = response.content.decode()
    assert response.status_code == 200
    assert threads_of(response) == ["cthr_0005", "cthr_0001"]
    assert "1–2 of 2" in page
    # Counts for the other filters, each a link applying its status; the current one marked.
    assert '<a class="count count-active" href="/threads/?status=active">2 active</a>' in page
    assert 'href="/threads/?status=locked" aria-current="true">2 locked</a>' in page
    assert 'href="/threads/?status=closed">1 closed</a>' in page
    assert 'href="/threads/">5 any status</a>' in page


def test_a_status_newer_than_the_dashboard_is_counted_but_not_offered_as_a_filter(
    staff_client, no_upstream
):
    from tests.conftest import thread_json

    indexed(thread_json(id="cthr_a"), thread_json(id="cthr_b", status={"type": "archived"}))
    swept()
    page = staff_client.get(THREADS, {"status": "active"}).content.decode()
    assert "status=archived" not in page, "the filter would refuse it"
    assert re.search(r'<span class="count count-unknown" title="[^"]+">1 archived</span>', page)


def test_an_index_answer_says_its_source_and_freshness(staff_client, small_index, no_upstream):
    swept(ago=3 * 3600)
    make_run(SyncKind.INCREMENTAL, ago=40)
    page = staff_client.get(THREADS, {"status": "active"}).content.decode()
    assert "From the index</span>, synced" in page
    assert "40 s ago" in page or "41 s ago" in page
    assert "(full sweep <span" in page and "3 h ago" in page
    assert "Live from ChatKit" not in page


def test_before_the_first_full_sweep_a_status_falls_back_to_the_live_scan(
    staff_client, small_index
):
    from tests.conftest import THREADS_URL, page_json, thread_json

    state = SyncState.objects.create(
        source=current_source(),
        kind=SyncKind.FULL,
        pass_started_at=timezone.now() - timedelta(minutes=5),
        cursor="cthr_0003",
    )
    make_run(SyncKind.FULL, ago=300, outcome=SyncOutcome.RUNNING, finished_at=None, pages=12)
    assert state.pk
    with responses.RequestsMock() as mock:
        mock.get(THREADS_URL, json=page_json([thread_json(id="cthr_scan", status=LOCKED)]))
        response = staff_client.get(THREADS, {"status": "locked"})
    page = response.content.decode()
    assert threads_of(response) == ["cthr_scan"]
    assert "Live from ChatKit" in page
    assert "until then this is a live scan" in page
    assert "has read 12 pages so far: 5 threads indexed" in page
    assert "back to threads created 2025-11-13 05:13 UTC" in page  # thread 3's creation


@pytest.mark.parametrize(
    "params, field",
    [
        ({"q": "order"}, "Title contains"),
        ({"created_from": "2025-11-13"}, "Created from"),
        ({"sort": "title"}, "Sort"),
        ({"page": "2"}, None),
    ],
)
def test_before_the_first_full_sweep_index_only_filters_say_the_index_is_being_built(
    staff_client, small_index, no_upstream, params, field
):
    response = staff_client.get(THREADS, params)
    page = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"]
    assert "The thread index is still being built." in page
    assert "the first full sweep has not started yet." in page
    if field:
        assert "Needs the thread index, which is still being built." in page
    assert threads_of(response) == []


def test_a_title_search_is_case_insensitive_and_counted_per_status(
    staff_client, small_index, no_upstream
):
    swept()
    response = staff_client.get(THREADS, {"q": "ORDER"})
    page = response.content.decode()
    assert threads_of(response) == ["cthr_0005", "cthr_0004"]
    assert "1–2 of 2" in page
    assert 'href="/threads/?q=ORDER&amp;status=active">1 active</a>' in page
    assert 'href="/threads/?q=ORDER&amp;status=locked">1 locked</a>' in page
    assert 'href="/threads/?q=ORDER&amp;status=closed">0 closed</a>' in page
    # The search with a status: the count of that status is the total.
    locked = staff_client.get(THREADS, {"q": "order", "status": "locked"})
    assert threads_of(locked) == ["cthr_0005"]
    assert "1–1 of 1" in locked.content.decode()


def test_a_search_treats_like_wildcards_as_text(staff_client, no_upstream):
    indexed(t(1, title="100% sure"), t(2, title="1000 sure"))
    swept()
    assert threads_of(staff_client.get(THREADS, {"q": "0% s"})) == ["cthr_0001"]


@pytest.mark.parametrize("q", ["ab", "  ab  ", "é"])
def test_a_search_shorter_than_three_characters_is_a_field_error(staff_client, no_upstream, q):
    swept()
    response = staff_client.get(THREADS, {"q": q})
    assert response.status_code == 400
    assert "Search for at least 3 characters" in response.content.decode()


def test_a_search_with_no_match_says_so_and_is_not_an_error(staff_client, small_index, no_upstream):
    swept()
    response = staff_client.get(THREADS, {"q": "nothing like it"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "No threads match" in page and "No threads." in page
    assert "0 any status" in page


def test_dates_are_inclusive_days_in_the_given_zone(staff_client, no_upstream):
    # 2025-03-01 23:30 UTC is already March 2nd in Berlin; 2025-03-02 23:30 UTC is the 3rd.
    from tests.conftest import thread_json

    march_1_late = 1_740_871_800  # 2025-03-01T23:30:00Z
    indexed(
        thread_json(id="cthr_a", created_at=march_1_late),
        thread_json(id="cthr_b", created_at=march_1_late + 86_400),
        thread_json(id="cthr_c", created_at=march_1_late - 86_400),
    )
    swept()
    utc = staff_client.get(THREADS, {"created_from": "2025-03-01", "created_to": "2025-03-01"})
    assert threads_of(utc) == ["cthr_a"]
    berlin = {"created_from": "2025-03-02", "created_to": "2025-03-02", "tz": "Europe/Berlin"}
    response = staff_client.get(THREADS, berlin)
    assert threads_of(response) == ["cthr_a"]
    page = response.content.decode()
    assert "Both days included, in Europe/Berlin." in page
    # Links keep the zone with the dates.
    assert "tz=Europe%2FBerlin" in page
    wide = staff_client.get(THREADS, {"created_from": "2025-02-28", "created_to": "2025-03-02"})
    assert threads_of(wide) == ["cthr_b", "cthr_a", "cthr_c"]
    assert "1–3 of 3" in wide.content.decode()
    assert threads_of(staff_client.get(THREADS, {"created_to": "2025-02-28"})) == ["cthr_c"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"created_from": "01/03/2025"}, "Enter a date as YYYY-MM-DD."),
        ({"created_from": "2025-02-30"}, "Enter a date as YYYY-MM-DD."),
        ({"created_from": "2025-03-02", "created_to": "2025-03-01"}, "before the start date"),
        ({"created_from": "2025-03-02", "tz": "Mars/Olympus"}, "Unknown time zone"),
        ({"created_from": "2025-03-02", "tz": "../../etc/passwd"}, "Unknown time zone"),
        ({"sort": "-changed,title"}, "Choose a sort from the Sort menu."),
        ({"sort": "id"}, "Choose a sort from the Sort menu."),
        ({"page": "two"}, "The page number must be a whole number"),
        ({"page": "0"}, "Pages are numbered from 1."),
        ({"page": "2", "after": "cthr_1"}, "Page cursors (after, before) page the live list only"),
        ({"q": "x" * 201}, "at most 200 characters"),
    ],
)
def test_bad_index_parameters_get_a_clear_error_and_no_answer(
    staff_client, small_index, no_upstream, params, message
):
    swept()
    response = staff_client.get(THREADS, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert threads_of(response) == []


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("-created", ["cthr_0005", "cthr_0004", "cthr_0003", "cthr_0002", "cthr_0001"]),
        ("created", ["cthr_0001", "cthr_0002", "cthr_0003", "cthr_0004", "cthr_0005"]),
        # "Order missing", "Refund for ORDER 77", "Ticket 1", ...: one case, any collation.
        ("title", ["cthr_0005", "cthr_0004", "cthr_0001", "cthr_0002", "cthr_0003"]),
        ("-title", ["cthr_0003", "cthr_0002", "cthr_0001", "cthr_0004", "cthr_0005"]),
        ("user", ["cthr_0005", "cthr_0003", "cthr_0001", "cthr_0002", "cthr_0004"]),
        ("status", ["cthr_0004", "cthr_0002", "cthr_0003", "cthr_0005", "cthr_0001"]),
        ("-status", ["cthr_0001", "cthr_0005", "cthr_0003", "cthr_0002", "cthr_0004"]),
    ],
)
def test_every_sort_orders_the_whole_set(staff_client, small_index, no_upstream, sort, expected):
    swept()
    # A page number makes even a creation sort an index answer; the default sort (and only
    # it) leaves the URL on the way.
    response = staff_client.get(THREADS, {"sort": sort, "page": "1"}, follow=True)
    assert len(response.redirect_chain) == (sort == "-created")
    assert threads_of(response) == expected


def test_sorting_by_change_puts_the_latest_observed_change_first(staff_client, no_upstream):
    earlier = timezone.now() - timedelta(hours=2)
    indexed(t(1), t(2), t(3), observed_at=earlier - timedelta(hours=1))
    indexed(t(1, status=LOCKED), observed_at=earlier)
    indexed(t(3, status=CLOSED))
    swept()
    response = staff_client.get(THREADS, {"sort": "-changed"})
    assert threads_of(response) == ["cthr_0003", "cthr_0001", "cthr_0002"]
    assert "none seen" in response.content.decode()


def test_headers_sort_by_their_column_and_say_which_one_sorts(
    staff_client, small_index, no_upstream
):
    swept()
    page = staff_client.get(THREADS, {"status": "locked", "sort": "title"}).content.decode()
    assert '<th scope="col" class="col-title" aria-sort="ascending">' in page
    assert 'href="/threads/?status=locked&amp;sort=-title">Title' in page  # reverses
    assert 'href="/threads/?status=locked&amp;sort=user">User' in page
    assert 'href="/threads/?status=locked">Created' in page  # newest first: the default
    assert 'href="/threads/?status=locked&amp;sort=-changed">Changed' in page
    assert "Thread ID</th>" in page  # not sortable


def test_page_numbers_page_through_the_index(staff_client, no_upstream):
    indexed(*(t(n) for n in range(1, 46)))
    swept()
    response = staff_client.get(THREADS, {"sort": "created", "page": "2", "limit": "10"})
    page = response.content.decode()
    assert threads_of(response) == [f"cthr_{n:04d}" for n in range(11, 21)]
    assert "11–20 of 45" in page
    assert '<p class="position">Page 2 of 5</p>' in page
    assert 'href="/threads/?sort=created&amp;limit=10&amp;page=3" rel="next"' in page
    assert 'href="/threads/?sort=created&amp;limit=10" rel="prev"' in page
    assert 'aria-current="page">2</a>' in page
    assert 'aria-label="Page 5">5</a>' in page
    # Sorting or filtering starts from page 1 again.
    assert 'href="/threads/?sort=-title&amp;limit=10">Title' not in page
    assert 'href="/threads/?sort=title&amp;limit=10">Title' in page


def test_a_page_past_the_last_one_says_so(staff_client, small_index, no_upstream):
    swept()
    response = staff_client.get(THREADS, {"status": "locked", "page": "7"})
    page = response.content.decode()
    assert response.status_code == 404
    assert "There is no page 7: these filters match 2 threads." in page
    assert '<a href="/threads/?status=locked">Go to the first page</a>' in page


def test_a_users_page_is_answered_by_the_index_and_keeps_the_user_in_the_path(
    staff_client, small_index, no_upstream
):
    from dashboard.audit.models import AuditEvent

    swept()
    response = staff_client.get("/users/alice/", {"status": "locked"})
    page = response.content.decode()
    assert threads_of(response) == ["cthr_0005", "cthr_0001"]
    # alice's own counts, from the user counters.
    assert 'href="/users/alice/?status=closed">1 closed</a>' in page
    assert 'href="/users/alice/">3 any status</a>' in page
    event = AuditEvent.objects.get()
    assert (event.action, event.end_user) == (AuditAction.VIEWED_USER_THREADS, "alice")
    assert event.details == {"user": "alice", "status": "locked", "source": "index"}


def test_an_index_export_has_the_whole_filtered_set_in_the_same_columns(
    staff_client, no_upstream, settings
):
    import csv
    import io

    indexed(*(t(n, status=LOCKED if n % 2 else {"type": "active"}) for n in range(1, 11)))
    swept()
    response = staff_client.get(
        "/threads/export.csv", {"status": "locked", "sort": "created", "scope": "all"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["Title", "Thread ID", "User", "Created (UTC)", "Status", "Status reason"]
    assert [row[1] for row in rows[1:]] == [f"cthr_{n:04d}" for n in (1, 3, 5, 7, 9)]
    assert rows[1][4:] == ["locked", "Abuse report"]
    event = AuditEvent.objects.get()
    assert event.details["source"] == "index"


def test_an_index_export_stops_at_the_cap_and_says_so(staff_client, no_upstream, settings):
    import csv
    import io
    from dataclasses import replace as with_changes

    settings.CHATKIT = with_changes(settings.CHATKIT, csv_max_rows=3)
    indexed(*(t(n) for n in range(1, 6)))
    swept()
    response = staff_client.get("/threads/export.csv", {"q": "Ticket", "scope": "all"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:4]] == ["cthr_0005", "cthr_0004", "cthr_0003"]
    assert rows[4][0].startswith("# TRUNCATED")
    page = staff_client.get(
        "/threads/export.csv", {"q": "Ticket", "sort": "created", "page": "2", "limit": "2"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(page.streaming_content).decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["cthr_0003", "cthr_0004"]


def test_an_index_only_export_before_the_first_sweep_says_why(staff_client, no_upstream):
    response = staff_client.get("/threads/export.csv", {"q": "Ticket", "scope": "all"})
    assert response.status_code == 503
    assert "The thread index is still being built." in response.content.decode()
    assert not AuditEvent.objects.exists()


# --- /users/ ------------------------------------------------------------------------------


def users_of(response) -> list[str]:
    import re

    return re.findall(r'<a class="user-id" href="[^"]+">([^<]+)</a>', response.content.decode())


def test_the_users_index_counts_every_users_threads(staff_client, small_index, no_upstream):
    swept()
    response = staff_client.get("/users/")
    page = response.content.decode()
    assert users_of(response) == ["alice", "bob", "carol"]  # most threads first
    assert "1–3 of 3 users" in page
    assert '<a class="user-id" href="/users/alice/">alice</a>' in page
    row = page[page.index("/users/alice/") : page.index("/users/bob/")]
    counts = dict(re.findall(r'<td class="num" data-label="(\w+)">(\d+)</td>', row))
    assert counts == {"threads": "3", "active": "0", "locked": "2", "closed": "1"}
    assert "From the index" in page


def test_the_users_index_searches_and_sorts(staff_client, small_index, no_upstream):
    swept()
    assert users_of(staff_client.get("/users/", {"q": "AR"})) == ["carol"]
    assert users_of(staff_client.get("/users/", {"sort": "user"})) == ["alice", "bob", "carol"]
    assert users_of(staff_client.get("/users/", {"sort": "-user"})) == ["carol", "bob", "alice"]
    assert users_of(staff_client.get("/users/", {"sort": "-last"})) == ["alice", "carol", "bob"]
    assert users_of(staff_client.get("/users/", {"sort": "-locked"}))[0] == "alice"
    page = staff_client.get("/users/", {"sort": "user"}).content.decode()
    assert 'aria-sort="ascending"><a class="sort-link" href="/users/?sort=-user">User' in page
    empty = staff_client.get("/users/", {"q": "zed"})
    assert empty.status_code == 200 and "No users match" in empty.content.decode()


def test_the_users_index_pages(staff_client, no_upstream):
    indexed(*(t(n, user=f"user_{n:02d}") for n in range(1, 26)))
    swept()
    response = staff_client.get("/users/", {"sort": "user", "page": "2", "limit": "10"})
    assert users_of(response) == [f"user_{n:02d}" for n in range(11, 21)]
    assert "11–20 of 25 users" in response.content.decode()
    assert '<p class="position">Page 2 of 3</p>' in response.content.decode()
    missing = staff_client.get("/users/", {"page": "9"})
    assert missing.status_code == 404 and "There is no page 9" in missing.content.decode()


@pytest.mark.parametrize(
    "params", [{"sort": "password"}, {"page": "-1"}, {"limit": "7"}, {"q": "u" * 513}]
)
def test_the_users_index_refuses_bad_parameters(staff_client, no_upstream, params):
    assert staff_client.get("/users/", params).status_code == 400


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "password"}, "Choose a sort from the Sort menu."),
        ({"limit": "7"}, "Rows per page is one of 10, 20, 50 or 100."),
        ({"q": "u" * 513}, "Search for at most 512 characters: no user id is longer."),
        ({"q": "a\x00"}, "Remove the null character"),
    ],
)
def test_the_users_index_says_what_is_wrong_in_its_own_words(
    staff_client, no_upstream, params, message
):
    body = html.unescape(staff_client.get("/users/", params).content.decode())
    assert message in body
    assert "Select a valid choice" not in body and "Ensure this value" not in body


def test_the_users_rows_menu_shows_the_size_asked_for_beside_its_error(staff_client, no_upstream):
    body = staff_client.get("/users/", {"limit": "7"}).content.decode()
    assert '<option value="7" selected>7 per page</option>' in body


@pytest.mark.parametrize(
    ("params", "clean"),
    [
        ({"q": "", "sort": "-threads", "limit": "20"}, "/users/"),
        ({"q": " al ", "sort": "user", "limit": "20", "page": "1"}, "/users/?q=al&sort=user"),
    ],
)
def test_the_users_form_lands_on_the_clean_url(staff_client, no_upstream, params, clean):
    response = staff_client.get("/users/", params)
    assert response.status_code == 302
    assert response["Location"] == clean


def test_the_users_index_uses_the_shared_filter_form(staff_client, small_index, no_upstream):
    swept()
    page = staff_client.get("/users/").content.decode()
    assert (
        '<form method="get" action="/users/" class="filters foldable" aria-label="Search users">'
        in page
    )
    assert 'data-default="-threads"' in page and 'data-default="20"' in page


def test_the_users_index_says_it_is_incomplete_before_the_first_sweep(
    staff_client, small_index, no_upstream
):
    page = staff_client.get("/users/").content.decode()
    assert "Incomplete:" in page and "5 threads indexed so far" in page
    assert "no full sweep yet" in page


def test_user_suggestions_come_from_the_index_most_threads_first(
    staff_client, small_index, no_upstream
):
    response = staff_client.get("/users/suggestions.json", {"q": "a"})
    assert response.status_code == 200
    assert response.json() == {"users": ["alice", "carol"]}
    assert staff_client.get("/users/suggestions.json").status_code == 400


def test_the_user_filter_offers_the_suggestions(staff_client, small_index, no_upstream):
    swept()
    page = staff_client.get(THREADS, {"status": "locked"}).content.decode()
    assert 'list="user-suggestions"' in page
    assert '<datalist id="user-suggestions" data-source="/users/suggestions.json">' in page


def test_the_index_pages_require_staff(client, django_user_model):
    assert client.get("/users/").status_code == 302
    assert client.get("/users/suggestions.json", {"q": "a"}).status_code == 302
    user = django_user_model.objects.create_user(username="visitor", password="x" * 20)
    client.force_login(user)
    assert client.get("/users/").status_code == 403
    assert client.get("/users/suggestions.json", {"q": "a"}).status_code == 403


# --- Write-through and a thread's history ---------------------------------------------------


def test_a_live_list_view_writes_what_it_saw_through_to_the_index(staff_client):
    from dashboard.thread_index.models import IndexedThread, StatusChange
    from tests.conftest import THREADS_URL, page_json

    indexed(t(1), t(2))
    with responses.RequestsMock() as mock:
        mock.get(THREADS_URL, json=page_json([t(3), t(1, status=LOCKED)]))
        staff_client.get(THREADS)
    rows = dict(IndexedThread.objects.values_list("thread_id", "status"))
    assert rows == {"cthr_0001": "locked", "cthr_0002": "active", "cthr_0003": "active"}
    change = StatusChange.objects.get()
    assert (change.from_status, change.to_status, change.run) == ("active", "locked", None)


def test_deleting_a_thread_marks_it_gone_in_the_index(client, django_user_model):
    from dashboard.thread_index.models import IndexedThread, StatusCount
    from tests.conftest import THREADS_URL, deleted_json

    staff = django_user_model.objects.create_user(
        username="deleter", password="x" * 20, is_staff=True
    )
    staff.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    client.force_login(staff)
    indexed(t(1), t(2))
    with responses.RequestsMock() as mock:
        mock.get(f"{THREADS_URL}/cthr_0001", json=t(1))
        mock.delete(f"{THREADS_URL}/cthr_0001", json=deleted_json("cthr_0001"))
        client.post("/threads/cthr_0001/delete/", {"confirm_id": "cthr_0001"})
    assert IndexedThread.objects.get(thread_id="cthr_0001").gone_at is not None
    assert StatusCount.objects.get(status="active").count == 1


def test_a_thread_the_upstream_no_longer_has_is_marked_gone(staff_client):
    from dashboard.thread_index.models import IndexedThread
    from tests.conftest import THREADS_URL, error_json

    indexed(t(1))
    with responses.RequestsMock() as mock:
        mock.get(f"{THREADS_URL}/cthr_0001", json=error_json("No thread"), status=404)
        assert staff_client.get("/threads/cthr_0001/").status_code == 404
    assert IndexedThread.objects.get(thread_id="cthr_0001").gone_at is not None


def test_the_thread_page_shows_the_observed_history_and_the_live_status_wins(staff_client):
    from dashboard.thread_index.models import IndexedThread
    from tests.conftest import THREADS_URL, items_page_json

    indexed(t(1), observed_at=timezone.now() - timedelta(hours=1))
    indexed(t(1, status=CLOSED), observed_at=timezone.now() - timedelta(minutes=30))
    with responses.RequestsMock() as mock:
        mock.get(f"{THREADS_URL}/cthr_0001", json=t(1, status=LOCKED))
        mock.get(f"{THREADS_URL}/cthr_0001/items", json=items_page_json([]))
        page = staff_client.get("/threads/cthr_0001/").content.decode()
    history = page[page.index("Status history") :]
    assert history.index("Locked") < history.index("Closed")  # newest first
    assert "Abuse report</span>, seen <time" in history
    assert ", was Closed (Resolved)</li>" in history
    assert ", was Active</li>" in history
    assert "First seen <time" in history
    assert IndexedThread.objects.get().status == "locked"  # the live answer updated the index


def test_a_thread_first_seen_on_its_page_has_no_changes_yet(staff_client):
    from tests.conftest import THREADS_URL, items_page_json

    with responses.RequestsMock() as mock:
        mock.get(f"{THREADS_URL}/cthr_x", json={**t(9), "id": "cthr_x"})
        mock.get(f"{THREADS_URL}/cthr_x/items", json=items_page_json([]))
        page = staff_client.get("/threads/cthr_x/").content.decode()
    # It did now: the live read wrote it through, and nothing changed since.
    assert "no status change observed since" in page


@pytest.mark.parametrize(
    "params, status",
    [
        ({"q": "a\x00b"}, 400),
        ({"q": "\\%_"}, 200),
        ({"q": "'; DROP TABLE x; --"}, 200),
        ({"user": "a/b?c#d%", "status": "locked"}, 200),
        ({"user": "x" * 513, "status": "locked"}, 400),
        ({"page": "1000000", "status": "locked"}, 404),
        ({"page": "10000000"}, 400),
        ({"page": "1e3"}, 400),
        ({"sort": "title", "order": "asc"}, 200),
        ({"created_from": "0001-01-01"}, 400),
        ({"created_to": "9999-12-31", "tz": "Pacific/Kiritimati"}, 400),
        ({"created_from": "1970-01-01", "created_to": "9998-12-31", "tz": "Etc/GMT-14"}, 200),
        ({"tz": "x" * 300}, 400),
    ],
)
def test_odd_index_queries_get_a_clear_answer(
    staff_client, small_index, no_upstream, params, status
):
    swept()
    # An old link's order=asc means nothing beside another sort: it lands on the clean URL.
    response = staff_client.get(THREADS, params, follow=True)
    assert response.status_code == status, response.content.decode()[-2000:]


def test_a_search_past_the_count_cap_says_more_than_and_still_pages(
    staff_client, no_upstream, monkeypatch
):
    from dashboard.thread_index import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    monkeypatch.setattr(selectors, "SMALL_MATCH", 2)  # past the read-them-all shortcut
    indexed(*(t(n) for n in range(1, 6)), t(6, status=LOCKED), t(7, status=LOCKED))
    swept()
    response = staff_client.get(THREADS, {"q": "Ticket", "limit": "2"})
    page = response.content.decode()
    assert "1–2 of more than 3" in page
    assert ">more than 3 active</a>" in page
    assert ">2 locked</a>" in page  # under the cap: exact
    assert "Counting stops at 3 matches" in page
    assert 'aria-label="Page 2">2</a>' in page and 'aria-label="Page 3"' not in page
    # The numbers stop at the cap; the list goes on.
    assert '<p class="position">Page 1 of at least 2</p>' in page
    dated = staff_client.get(THREADS, {"created_from": "2025-01-01", "limit": "2"})
    body = dated.content.decode()
    assert "1–2 of more than 3" in body, body[body.find("summary") :][:800]


def test_a_small_search_reads_its_matches_once_and_pages_them_by_id(staff_client, no_upstream):
    # On SQLite by id; on PostgreSQL through the trigram index: the same answer either way.
    indexed(*(t(n, status=LOCKED if n % 3 == 0 else {"type": "active"}) for n in range(1, 31)))
    indexed(t(99, title="Something else"))
    swept()
    response = staff_client.get(THREADS, {"q": "ticket", "status": "locked", "sort": "title"})
    page = response.content.decode()
    expected = sorted(
        (f"cthr_{n:04d}" for n in range(3, 31, 3)), key=lambda i: f"Ticket {int(i[5:])}"
    )
    assert threads_of(response) == expected
    assert "1–10 of 10" in page and ">20 active</a>" in page and ">10 locked</a>" in page


def test_a_page_of_threads_the_index_already_holds_writes_nothing(staff_client):
    from dashboard.thread_index.models import IndexedThread
    from tests.conftest import THREADS_URL, page_json

    long_ago = timezone.now() - timedelta(hours=5)
    indexed(t(1), t(2), observed_at=long_ago)
    with responses.RequestsMock() as mock:
        mock.get(THREADS_URL, json=page_json([t(1), t(2)]))
        staff_client.get(THREADS)
    # Unchanged: no write at all (the syncs keep last_seen_at); the page read once.
    assert set(IndexedThread.objects.values_list("last_seen_at", flat=True)) == {long_ago}
