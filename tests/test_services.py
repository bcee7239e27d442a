"""The use cases (dashboard/threads/services.py) without HTTP to the dashboard: what each
returns, records in the audit trail and announces, with the upstream faked by `responses`."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace

import pytest
import responses
from responses.registries import OrderedRegistry

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.chatkit.errors import ChatKitNotFoundError, ChatKitUnavailableError
from dashboard.chatkit.types import StatusKind
from dashboard.threads import services
from dashboard.threads.signals import thread_deleted, threads_seen
from dashboard.web.query import ThreadQuery

from .conftest import (
    THREADS_URL,
    error_json,
    item_json,
    page_json,
    thread_json,
    upstream_delete,
    upstream_items,
    upstream_thread,
)

pytestmark = pytest.mark.django_db


def upstream_list(threads, *, status=200, **page):
    body = page_json(threads, **page) if status == 200 else error_json()
    responses.get(THREADS_URL, json=body, status=status, headers={"x-request-id": "req_list"})


@pytest.fixture
def seen():
    """Every `threads_seen` announcement, as (sender, thread ids)."""
    received = []

    def receiver(sender, threads, **kwargs):
        received.append((sender, [thread.id for thread in threads]))

    threads_seen.connect(receiver, weak=False)
    yield received
    threads_seen.disconnect(receiver)


@pytest.fixture
def gone():
    """Every `thread_deleted` announcement, as (sender, thread id)."""
    received = []

    def receiver(sender, thread_id, **kwargs):
        received.append((sender, thread_id))

    thread_deleted.connect(receiver, weak=False)
    yield received
    thread_deleted.disconnect(receiver)


# --- Lists ------------------------------------------------------------------------------------


@responses.activate
def test_the_unfiltered_list_returns_its_page_and_records_nothing(staff_user, seen):
    upstream_list([thread_json(id="cthr_a"), thread_json(id="cthr_b")], has_more=True)
    listed = services.thread_list(actor=staff_user, query=ThreadQuery(limit=2))
    assert [t.id for t in listed.threads] == ["cthr_a", "cthr_b"]
    assert listed.pager.next_after == "cthr_b" and listed.pager.on_first_page
    assert listed.scan is None and listed.scan_message == ""
    assert listed.request_id == "req_list" and listed.fetched_at is not None
    assert not AuditEvent.objects.exists()
    assert seen == [(services.thread_list, ["cthr_a", "cthr_b"])]


@responses.activate
def test_filtering_the_list_by_user_records_viewing_that_users_threads(staff_user):
    upstream_list([thread_json(user="bob")])
    services.thread_list(actor=staff_user, query=ThreadQuery(user="bob", limit=10))
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.end_user, event.upstream_request_id) == (
        AuditAction.VIEWED_USER_THREADS,
        staff_user,
        "bob",
        "req_list",
    )
    assert event.details == {"user": "bob", "limit": "10", "source": "live"}


@responses.activate
def test_a_users_list_takes_its_user_whatever_the_query_says(staff_user):
    upstream_list([thread_json(user="ops/x")])
    listed = services.user_thread_list(actor=staff_user, user="ops/x", query=ThreadQuery())
    assert listed.query.user == "ops/x"
    assert responses.calls[0].request.params["user"] == "ops/x"
    assert AuditEvent.objects.get().end_user == "ops/x"


@responses.activate
def test_a_failed_list_raises_and_records_nothing(staff_user, seen):
    upstream_list([], status=500)
    with pytest.raises(ChatKitUnavailableError):
        services.user_thread_list(actor=staff_user, user="bob", query=ThreadQuery())
    assert not AuditEvent.objects.exists()
    assert seen == []


@responses.activate
def test_a_status_filtered_list_says_what_its_scan_covered(staff_user, settings):
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=1)
    rows = [thread_json() for _ in range(99)] + [thread_json(status={"type": "locked"})]
    upstream_list(rows, has_more=True)
    listed = services.thread_list(actor=staff_user, query=ThreadQuery(status=StatusKind.LOCKED))
    assert [t.id for t in listed.threads] == [rows[-1]["id"]]
    assert listed.scan is not None and listed.scan.scanned == 100
    assert listed.scan_message.startswith("1 locked thread among the 100 most recent threads.")
    # Where the scan stopped, past its last match only if it read further.
    assert listed.pager.next_after == rows[-1]["id"]


# --- One thread ---------------------------------------------------------------------------


@responses.activate
def test_viewing_a_thread_returns_its_transcript_and_records_the_view(staff_user, seen):
    upstream_thread(user="owner_1")
    upstream_items([item_json(id="cthi_1"), item_json(id="cthi_2")], has_more=True)
    view = services.thread_view(actor=staff_user, thread_id="cthr_1", after="cthi_0", limit=2)
    assert view.thread.user == "owner_1"
    assert [item.id for item in view.items] == ["cthi_1", "cthi_2"]
    assert view.pager.next_after == "cthi_2" and view.pager.previous_before == "cthi_1"
    assert view.transcript_error is None
    event = AuditEvent.objects.get()
    assert (event.action, event.thread_id, event.end_user, event.upstream_request_id) == (
        AuditAction.VIEWED_THREAD,
        "cthr_1",
        "owner_1",
        "req_thread",
    )
    assert event.details == {"after": "cthi_0"}
    assert seen == [(services.thread_view, ["cthr_1"])]


@responses.activate
def test_a_failed_transcript_is_returned_with_the_thread_and_the_view_still_recorded(staff_user):
    upstream_thread()
    upstream_items([], status=503)
    view = services.thread_view(actor=staff_user, thread_id="cthr_1", limit=20)
    assert view.items is None and view.pager is None
    assert isinstance(view.transcript_error, ChatKitUnavailableError)
    assert AuditEvent.objects.get().action == AuditAction.VIEWED_THREAD


@responses.activate
def test_a_missing_thread_raises_and_records_nothing(staff_user):
    upstream_thread(http_status=404)
    with pytest.raises(ChatKitNotFoundError):
        services.thread_view(actor=staff_user, thread_id="cthr_1", limit=20)
    assert not AuditEvent.objects.exists()


@responses.activate
def test_the_thread_and_its_first_items_are_asked_for_at_once(staff_user):
    # Each answer waits until the other request has arrived: asked in turn, the first would
    # wait in vain (and the test fail on the wait's result, not on a timing margin).
    arrived = {"thread": threading.Event(), "items": threading.Event()}

    def answer(own: str, other: str, body: dict):
        def callback(request):
            arrived[own].set()
            met = arrived[other].wait(timeout=20)
            return 200, {}, json.dumps(body if met else error_json("asked in turn"))

        return callback

    responses.add_callback(
        "GET", f"{THREADS_URL}/cthr_1", callback=answer("thread", "items", thread_json(id="cthr_1"))
    )
    responses.add_callback(
        "GET",
        f"{THREADS_URL}/cthr_1/items",
        callback=answer("items", "thread", page_json([item_json(id="cthi_1")])),
    )
    view = services.thread_view(actor=staff_user, thread_id="cthr_1", limit=20)
    assert view.thread.id == "cthr_1"
    assert [item.id for item in view.items] == ["cthi_1"]


@responses.activate
def test_a_missing_thread_waits_for_its_transcript_call_before_raising(staff_user):
    upstream_thread(http_status=404)
    upstream_items([], status=404)
    with pytest.raises(ChatKitNotFoundError):
        services.thread_view(actor=staff_user, thread_id="cthr_1", limit=20)
    assert sorted(call.request.path_url.split("?")[0] for call in responses.calls) == [
        "/v1/chatkit/threads/cthr_1",
        "/v1/chatkit/threads/cthr_1/items",
    ]


# --- Deletion -----------------------------------------------------------------------------


@responses.activate
def test_a_deletion_records_itself_with_the_owner_and_announces_it(staff_user, gone):
    upstream_thread(user="owner_9")
    upstream_delete()
    deletion = services.thread_delete(actor=staff_user, thread_id="cthr_1")
    assert (deletion.owner, deletion.request_id, deletion.already_gone) == (
        "owner_9",
        "req_del",
        False,
    )
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.thread_id, event.end_user) == (
        AuditAction.DELETED_THREAD,
        staff_user,
        "cthr_1",
        "owner_9",
    )
    assert gone == [(services.thread_delete, "cthr_1")]


@responses.activate
def test_a_failed_deletion_records_the_attempt_and_raises(staff_user, gone):
    upstream_thread()
    upstream_delete(status=500)
    with pytest.raises(ChatKitUnavailableError):
        services.thread_delete(actor=staff_user, thread_id="cthr_1")
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.DELETE_FAILED
    assert event.details == {"status": 500, "error": "Deletion refused by upstream"}
    assert gone == []


@responses.activate
def test_deleting_a_thread_already_gone_is_an_outcome_recorded_as_a_failed_attempt(
    staff_user, gone
):
    upstream_thread(http_status=404)
    upstream_delete(status=404)
    deletion = services.thread_delete(actor=staff_user, thread_id="cthr_1")
    assert deletion.already_gone and deletion.owner == ""
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.DELETE_FAILED and event.details["status"] == 404
    assert gone == [(services.thread_delete, "cthr_1")]


@responses.activate
def test_the_confirmation_page_reads_the_thread_without_recording(staff_user, seen):
    upstream_thread(title="Bye")
    assert services.thread_delete_confirmation(thread_id="cthr_1").title == "Bye"
    assert not AuditEvent.objects.exists()
    assert seen == [(services.thread_delete_confirmation, ["cthr_1"])]


# --- CSV export -------------------------------------------------------------------------------


@responses.activate(registry=OrderedRegistry)
def test_an_export_is_recorded_once_its_first_batch_is_read_and_streams_the_rest(
    staff_user, settings, seen
):
    settings.CHATKIT = replace(settings.CHATKIT, csv_max_rows=150)
    first = [thread_json() for _ in range(100)]
    upstream_list(first, has_more=True)
    upstream_list([thread_json(id="cthr_last")] * 50, has_more=True)
    export = services.thread_export(actor=staff_user, query=ThreadQuery(), scope="all")
    assert len(responses.calls) == 1
    event = AuditEvent.objects.get()
    assert (event.action, event.upstream_request_id, event.details) == (
        AuditAction.EXPORTED_CSV,
        "req_list",
        {"scope": "all", "source": "live"},
    )
    batches = list(export.batches)
    assert [len(batch.threads) for batch in batches] == [100, 50]
    assert [batch.truncated for batch in batches] == [False, True]
    assert (export.row_limit, export.filename) == (150, "chatkit-threads-all.csv")
    assert [sender for sender, _ in seen] == [services.thread_export] * 2


@responses.activate
def test_an_export_that_fails_before_its_first_batch_raises_and_records_nothing(staff_user):
    upstream_list([], status=503)
    with pytest.raises(ChatKitUnavailableError):
        services.thread_export(actor=staff_user, query=ThreadQuery(user="u"), scope="page")
    assert not AuditEvent.objects.exists()


# --- Announcements never fail a page -----------------------------------------------------------


@responses.activate
def test_a_failing_receiver_is_logged_and_the_page_still_gets_its_threads(staff_user, caplog):
    def broken(sender, **kwargs):
        raise RuntimeError("index unavailable")

    threads_seen.connect(broken, weak=False)
    try:
        upstream_list([thread_json(id="cthr_a")])
        with caplog.at_level(logging.ERROR, logger="django.dispatch"):
            listed = services.thread_list(actor=staff_user, query=ThreadQuery())
    finally:
        threads_seen.disconnect(broken)
    assert [t.id for t in listed.threads] == ["cthr_a"]
    assert "index unavailable" in caplog.text


# --- The connection ---------------------------------------------------------------------------


@responses.activate
def test_a_failed_connection_check_is_the_reports_finding_not_an_error():
    responses.get(THREADS_URL, json=error_json(), status=503)
    report = services.connection_check()
    assert report.check is None
    assert isinstance(report.error, ChatKitUnavailableError)
    assert report.masked_key.startswith("sk-…")


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("", ""),
        ("sk-short", "set (too short to show any of it)"),
        ("sk-proj-" + "a" * 40 + "WXYZ", "sk-…WXYZ"),
        ("k" * 30 + "1234", "…1234"),
    ],
)
def test_a_masked_key_shows_at_most_its_last_four_characters(key, shown):
    assert services.masked_key(key) == shown
