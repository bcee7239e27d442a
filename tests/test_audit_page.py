"""The audit page (/audit/) and a deleted thread's "not found" page, through Django's client."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.audit.views import PER_PAGE

from .conftest import upstream_thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    return staff_user


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


def event(**fields) -> AuditEvent:
    defaults = {"actor_username": "support", "action": AuditAction.VIEWED_THREAD}
    return AuditEvent.objects.create(**{**defaults, **fields})


def shown_thread_ids(response) -> list[str]:
    return re.findall(r'class="thread-id" href="[^"]*">([^<]*)<', response.content.decode())


def test_it_needs_the_view_permission(staff_client):
    response = staff_client.get("/audit/")
    assert response.status_code == 403


def test_it_lists_events_newest_first_with_links_back(auditor_client):
    now = datetime.now(UTC)
    event(thread_id="cthr_old", end_user="alice", created_at=now - timedelta(hours=2))
    event(thread_id="cthr_new", end_user="team/support", created_at=now)
    response = auditor_client.get("/audit/")
    body = response.content.decode()
    assert response.status_code == 200
    assert shown_thread_ids(response) == ["cthr_new", "cthr_old"]
    assert 'href="/threads/cthr_new/"' in body
    assert 'href="/users/team%2Fsupport/"' in body
    assert 'href="/audit/?actor=support"' in body
    assert "Viewed a thread" in body


def test_times_are_time_elements_the_browser_shows_in_local_time(auditor_client):
    event(created_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    body = auditor_client.get("/audit/").content.decode()
    assert '<time datetime="2026-03-04T05:06:07+00:00" title="2026-03-04 05:06:07 UTC">' in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=carol", ["cthr_c"]),
        ("action=deleted_thread", ["cthr_d"]),
        ("end_user=bob", ["cthr_b"]),
        ("thread=cthr_b", ["cthr_b"]),
        ("thread=+cthr_b+", ["cthr_b"]),
        ("date_from=2026-01-02&date_to=2026-01-02", ["cthr_c"]),
        ("date_to=2026-01-01", ["cthr_d", "cthr_b"]),
    ],
)
def test_each_filter_narrows_the_list(auditor_client, query, expected):
    day = datetime(2026, 1, 1, 12, tzinfo=UTC)
    event(thread_id="cthr_b", end_user="bob", created_at=day)
    event(thread_id="cthr_d", action=AuditAction.DELETED_THREAD, created_at=day + timedelta(1 / 24))
    event(thread_id="cthr_c", actor_username="carol", created_at=day + timedelta(days=1))
    # A padded id is trimmed on the way to its clean URL.
    response = auditor_client.get(f"/audit/?{query}", follow=True)
    assert response.status_code == 200
    assert shown_thread_ids(response) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("action=bogus", "Choose an action from the list."),
        ("date_from=yesterday", "Enter the first day as YYYY-MM-DD."),
        ("date_from=2026-02-02&date_to=2026-02-01", "The last day comes before the first"),
        ("page=0", "Pages are numbered from 1."),
        ("page=x", "The page number must be a whole number from 1."),
        ("thread=" + "x" * 513, "Thread ids are at most 512 characters."),
    ],
)
def test_bad_filters_get_a_400_saying_what_is_wrong(auditor_client, query, message):
    response = auditor_client.get(f"/audit/?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert 'class="audit-table"' not in response.content.decode()


def test_unknown_parameters_are_ignored_not_run_as_lookups(auditor_client):
    event(thread_id="cthr_1")
    response = auditor_client.get("/audit/?end_user__regex=^(a|a)*$", follow=True)
    assert response.redirect_chain == [("/audit/", 302)]
    assert shown_thread_ids(response) == ["cthr_1"]


def test_pages_hold_a_fixed_number_and_link_with_clean_urls(auditor_client):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(PER_PAGE + 3):
        event(thread_id=f"cthr_{n:03d}", created_at=start + timedelta(minutes=n))
    first = auditor_client.get("/audit/?actor=support")
    assert len(shown_thread_ids(first)) == PER_PAGE
    assert 'href="/audit/?actor=support&amp;page=2" rel="next"' in first.content.decode()
    assert "Newest events matching the filters" in first.content.decode()
    second = auditor_client.get("/audit/?actor=support&page=2")
    assert shown_thread_ids(second) == ["cthr_002", "cthr_001", "cthr_000"]
    assert 'href="/audit/?actor=support" rel="prev"' in second.content.decode()
    assert "Page 2 matching the filters" in second.content.decode()
    assert 'rel="next"' not in second.content.decode()


@pytest.mark.parametrize(
    ("query", "clean"),
    [
        ("actor=&action=&end_user=&thread=&date_from=&date_to=", "/audit/"),
        (
            "actor=+carol+&action=&date_from=2026-01-02&page=1",
            "/audit/?actor=carol&date_from=2026-01-02",
        ),
    ],
)
def test_the_filter_form_lands_on_the_clean_url(auditor_client, query, clean):
    response = auditor_client.get(f"/audit/?{query}")
    assert response.status_code == 302
    assert response["Location"] == clean


def test_the_filters_are_the_shared_filter_form(auditor_client):
    body = auditor_client.get("/audit/").content.decode()
    assert (
        '<form method="get" action="/audit/" class="filters foldable" '
        'aria-label="Filter audit events">' in body
    )
    assert 'name="actor"' in body and 'name="date_to"' in body


def test_a_page_past_the_end_says_so(auditor_client):
    event()
    response = auditor_client.get("/audit/?page=5")
    assert response.status_code == 404
    assert "There are no events on that page." in response.content.decode()


def test_a_page_counts_nothing_over_the_whole_trail(auditor_client):
    for _ in range(3):
        event()
    with CaptureQueriesContext(connection) as queries:
        auditor_client.get("/audit/?page=1")
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_the_empty_result_says_so(auditor_client):
    response = auditor_client.get("/audit/?actor=nobody")
    assert "No audit events match these filters." in response.content.decode()


def test_the_admin_change_list_stays_read_only(auditor_client):
    audit_event = event()
    assert auditor_client.get("/admin/audit/auditevent/").status_code == 200
    assert auditor_client.get("/admin/audit/auditevent/add/").status_code == 403
    delete = f"/admin/audit/auditevent/{audit_event.pk}/delete/"
    assert auditor_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=audit_event.pk).exists()


# --- A deleted thread's page ----------------------------------------------------------


@responses.activate
def test_a_deleted_threads_page_says_who_deleted_it_and_when(auditor_client):
    event(
        thread_id="cthr_gone",
        actor_username="carol",
        action=AuditAction.DELETED_THREAD,
        created_at=datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC),
    )
    upstream_thread("cthr_gone", http_status=404)
    response = auditor_client.get("/threads/cthr_gone/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "<strong>carol</strong> deleted it from this dashboard on" in body
    assert 'datetime="2026-05-06T07:08:09+00:00"' in body
    assert 'href="/audit/?thread=cthr_gone"' in body


@responses.activate
def test_a_thread_never_deleted_here_gets_the_plain_not_found_page(auditor_client):
    event(thread_id="cthr_gone", action=AuditAction.DELETE_FAILED)
    upstream_thread("cthr_gone", http_status=404)
    body = auditor_client.get("/threads/cthr_gone/").content.decode()
    assert "It may have been deleted, or the id is mistyped." in body
    assert "deleted it from this dashboard" not in body
