"""Data-subject requests: the jobs against the demo upstream (hundreds of threads, hostile
user ids, a 429 mid-job, a killed worker, cancellation, a thread deleted meanwhile), the
archive's contents and expiry, the permission checks, the retyped confirmation, the pages
and the command, and the audit trail of every step."""

from __future__ import annotations

import json
from urllib.parse import quote
from urllib.request import Request, urlopen

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.data_requests.jobs import run_request
from dashboard.data_requests.models import (
    DataRequest,
    RequestKind,
    RequestState,
    ThreadOutcome,
    erasure_lease_name,
)
from dashboard.data_requests.services import (
    DataRequestRefused,
    abandoned_requests,
    data_request_cancel,
    data_request_create,
    resume_abandoned,
)
from dashboard.demo_upstream.data import HARD_USERS
from dashboard.jobs.leases import hold_lease

pytestmark = pytest.mark.django_db

BASE_TIME = 1_700_000_000
MANY = 250
HOSTILE_USER = "acme/../ops?x=1&y=%2F#frag <b>ユーザー</b>"


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the job catches it."""


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    location = tmp_path / "archives"
    settings.STORAGES = {
        **settings.STORAGES,
        "data_requests": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


@pytest.fixture
def store(demo_settings, demo_upstream):
    return demo_upstream.server.store


@pytest.fixture
def eraser(django_user_model):
    user = django_user_model.objects.create_user(
        username="privacy", password="pw-for-privacy-team", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


def add_threads(store, user: str, count: int, *, start: int = 0) -> list[str]:
    return [
        store.add(user=user, title=f"Thread {n} of {user}", created_at=BASE_TIME + n).id
        for n in range(start, start + count)
    ]


def user_thread_ids(demo_upstream, user: str) -> list[str]:
    """What the demo upstream itself lists for `user`, over its HTTP API."""
    found, after = [], None
    while True:
        query = f"user={quote(user, safe='')}&limit=100" + (f"&after={after}" if after else "")
        page = demo_get(demo_upstream, f"/chatkit/threads?{query}")
        found += [row["id"] for row in page["data"]]
        if not page["has_more"]:
            return found
        after = page["last_id"]


def demo_get(demo_upstream, path: str):
    request = Request(
        demo_upstream.base_url + path,
        headers={
            "Authorization": f"Bearer {demo_upstream.api_key}",
            "OpenAI-Beta": "chatkit_beta=v1",
        },
    )
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def make_request(actor, kind: RequestKind, user: str, **kwargs) -> DataRequest:
    return data_request_create(
        actor=actor, kind=kind, end_user=user, ticket="PRIV-1", enqueue=False, **kwargs
    )


def actions(request: DataRequest) -> list[str]:
    events = AuditEvent.objects.filter(details__data_request=request.pk).order_by("id")
    return [event.action for event in events]


# --- Erasure ----------------------------------------------------------------------------------


def test_an_erasure_deletes_each_of_hundreds_of_threads_with_one_audit_record_each(
    store, demo_upstream, eraser
):
    ids = add_threads(store, HOSTILE_USER, MANY)
    bystander = add_threads(store, HOSTILE_USER + " ", 2)  # a near-identical id is someone else
    before = len(store)
    request = make_request(eraser, RequestKind.ERASURE, HOSTILE_USER)

    finished = run_request(request.pk, sleep=lambda s: None)

    assert finished.state == RequestState.DONE
    assert (finished.threads_found, finished.threads_done, finished.threads_failed) == (
        MANY,
        MANY,
        0,
    )
    assert finished.remaining_threads == 0
    assert user_thread_ids(demo_upstream, HOSTILE_USER) == []
    assert sorted(user_thread_ids(demo_upstream, HOSTILE_USER + " ")) == sorted(bystander)
    assert len(store) == before - MANY
    deleted = AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD)
    assert sorted(deleted.values_list("thread_id", flat=True)) == sorted(ids)
    assert set(deleted.values_list("end_user", flat=True)) == {HOSTILE_USER}
    assert all(event.actor == eraser and event.upstream_request_id for event in deleted)
    trail = actions(finished)
    assert trail[0] == AuditAction.DATA_REQUESTED
    assert trail[1] == AuditAction.DATA_REQUEST_STARTED
    assert trail[-1] == AuditAction.DATA_REQUEST_FINISHED
    assert trail.count(AuditAction.DELETED_THREAD) == MANY


@pytest.mark.parametrize("user", [*HARD_USERS, "line\nbreak", "tab\tand\x7fdel"], ids=repr)
def test_hostile_user_ids_are_erased_exactly(store, demo_upstream, eraser, user):
    mine = add_threads(store, user, 3)
    listed = user_thread_ids(demo_upstream, user)
    assert set(mine) <= set(listed)
    others_before = len(store) - len(listed)

    finished = run_request(make_request(eraser, RequestKind.ERASURE, user).pk)

    assert finished.state == RequestState.DONE
    assert finished.threads_done == len(listed)
    assert user_thread_ids(demo_upstream, user) == []
    assert len(store) == others_before
    assert DataRequest.objects.get(pk=finished.pk).end_user == user


def test_a_429_mid_job_is_waited_out_as_retry_after_says(store, demo_upstream, eraser):
    add_threads(store, "rate-limited", 12)
    request = make_request(eraser, RequestKind.ERASURE, "rate-limited")
    slept: list[float] = []

    def after_each(progress: DataRequest) -> None:
        if progress.threads_done == 4 and not slept:
            demo_upstream.inject(mode="status", status=429, retry_after="7", count=2)

    finished = run_request(request.pk, sleep=slept.append, on_progress=after_each)

    assert finished.state == RequestState.DONE
    assert (finished.threads_done, finished.threads_failed) == (12, 0)
    assert finished.remaining_threads == 0
    assert sum(slept) >= 14  # both 429s waited out, 7 s each, as the upstream asked
    assert AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD).count() == 12


def test_a_worker_killed_mid_job_is_resumed_where_it_stopped(store, demo_upstream, eraser):
    ids = add_threads(store, "killed", 30)
    request = make_request(eraser, RequestKind.ERASURE, "killed")

    def killer(progress: DataRequest) -> None:
        if progress.threads_done == 11:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_request(request.pk, on_progress=killer)
    stopped = DataRequest.objects.get(pk=request.pk)
    assert stopped.state == RequestState.RUNNING
    assert stopped.threads_done == 11
    assert len(user_thread_ids(demo_upstream, "killed")) == 19

    # Quiet for a lease's lifetime and held by no one: the periodic task runs it again.
    DataRequest.objects.filter(pk=request.pk).update(
        updated_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    assert [r.pk for r in abandoned_requests()] == [request.pk]
    assert resume_abandoned(run=lambda pk: run_request(pk)) == [request.pk]

    finished = DataRequest.objects.get(pk=request.pk)
    assert finished.state == RequestState.DONE
    assert (finished.threads_done, finished.threads_failed, finished.remaining_threads) == (
        30,
        0,
        0,
    )
    deleted = AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD)
    assert sorted(deleted.values_list("thread_id", flat=True)) == sorted(ids)  # each once
    starts = AuditEvent.objects.filter(action=AuditAction.DATA_REQUEST_STARTED)
    assert [event.details["resumed"] for event in starts] == [True, False]  # newest first


def test_a_cancelled_erasure_stops_after_its_current_thread(store, demo_upstream, eraser):
    add_threads(store, "cancel-me", 20)
    request = make_request(eraser, RequestKind.ERASURE, "cancel-me")

    def cancel_at_five(progress: DataRequest) -> None:
        if progress.threads_done == 5:
            assert data_request_cancel(actor=eraser, request_id=request.pk)

    finished = run_request(request.pk, on_progress=cancel_at_five)

    assert finished.state == RequestState.CANCELLED
    assert finished.threads_done == 5
    assert "privacy" in finished.error
    assert len(user_thread_ids(demo_upstream, "cancel-me")) == 15
    trail = actions(finished)
    assert AuditAction.DATA_REQUEST_CANCELLED in trail
    finished_event = AuditEvent.objects.get(action=AuditAction.DATA_REQUEST_FINISHED)
    assert finished_event.details["state"] == "cancelled"
    assert not data_request_cancel(actor=eraser, request_id=request.pk)  # already over


def test_a_pending_request_cancelled_never_starts(store, eraser):
    add_threads(store, "never", 3)
    request = make_request(eraser, RequestKind.ERASURE, "never")
    assert data_request_cancel(actor=eraser, request_id=request.pk)
    assert DataRequest.objects.get(pk=request.pk).state == RequestState.CANCELLED
    assert not AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD).exists()


def test_a_thread_deleted_by_someone_else_meanwhile_counts_as_done(store, demo_upstream, eraser):
    ids = add_threads(store, "raced", 6)
    request = make_request(eraser, RequestKind.ERASURE, "raced")

    def someone_else_deletes(progress: DataRequest) -> None:
        if progress.threads_done == 1:
            demo_upstream._control("DELETE", f"/threads/{ids[-1]}")

    finished = run_request(request.pk, on_progress=someone_else_deletes)

    assert finished.state == RequestState.DONE
    assert (finished.threads_done, finished.threads_failed, finished.remaining_threads) == (6, 0, 0)
    assert finished.threads.get(thread_id=ids[-1]).outcome == ThreadOutcome.GONE
    gone = AuditEvent.objects.get(action=AuditAction.DELETE_FAILED)
    assert gone.thread_id == ids[-1] and gone.details["already_gone"] is True
    assert AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD).count() == 5


def test_threads_created_meanwhile_or_failed_are_reported_as_remaining(
    store, demo_upstream, eraser
):
    add_threads(store, "busy", 5)
    request = make_request(eraser, RequestKind.ERASURE, "busy")

    def meanwhile(progress: DataRequest) -> None:
        if progress.threads_done == 2 and not progress.threads_failed:
            add_threads(store, "busy", 1, start=100)  # the user starts a new conversation
            demo_upstream.inject(mode="status", status=500, request_id="req_broken", count=7)

    finished = run_request(request.pk, sleep=lambda s: None, on_progress=meanwhile)

    assert finished.state == RequestState.DONE
    assert finished.threads_failed == 1
    assert finished.remaining_threads == 2  # the failed one and the new one
    assert "req_broken" in finished.failure_request_ids
    assert len(finished.remaining_thread_ids) == 2


def test_a_rejected_key_fails_the_job(store, demo_upstream, eraser):
    add_threads(store, "denied", 3)
    request = make_request(eraser, RequestKind.ERASURE, "denied")
    demo_upstream.inject(mode="status", status=401, request_id="req_401")
    finished = run_request(request.pk)
    assert finished.state == RequestState.FAILED
    assert "req_401" in finished.failure_request_ids
    assert (
        AuditEvent.objects.get(action=AuditAction.DATA_REQUEST_FINISHED).details["state"]
        == "failed"
    )


def test_only_one_erasure_per_user_runs_at_a_time(store, demo_upstream, eraser):
    add_threads(store, "twice", 3)
    first = make_request(eraser, RequestKind.ERASURE, "twice")
    with pytest.raises(DataRequestRefused, match="already pending"):
        make_request(eraser, RequestKind.ERASURE, "twice")
    # Another worker holds the user's erasure lease (a request made before this rule, say).
    with hold_lease(erasure_lease_name("twice"), ttl=60):
        assert run_request(first.pk) is None
    assert len(user_thread_ids(demo_upstream, "twice")) == 3
    assert run_request(first.pk).state == RequestState.DONE


def test_erasure_needs_the_delete_permission_and_active_staff(staff_user, eraser):
    with pytest.raises(DataRequestRefused, match="permission"):
        make_request(staff_user, RequestKind.ERASURE, "someone")
    eraser.is_active = False
    with pytest.raises(DataRequestRefused, match="active staff"):
        make_request(eraser, RequestKind.ERASURE, "someone")
    assert not DataRequest.objects.exists()
    assert not AuditEvent.objects.exists()
