"""The sync status page and its actions: who sees what, what is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.jobs.leases import beat, hold_lease
from dashboard.thread_index.models import SyncKind, SyncOutcome, SyncRun, SyncState, SyncTrigger
from dashboard.thread_index.sources import current_source, lease_name
from dashboard.thread_index.tasks import SCHEDULER_HEARTBEAT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unpaced_index_syncs")]

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
