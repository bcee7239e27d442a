"""Data-subject requests: the jobs against the demo upstream (hundreds of threads, hostile
user ids, a 429 mid-job, a killed worker, cancellation, a thread deleted meanwhile), the
archive's contents and expiry, the permission checks, the retyped confirmation, the pages
and the command, and the audit trail of every step."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from urllib.parse import quote
from urllib.request import Request, urlopen

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.data_requests.archive import archive_storage
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
    archives_expire,
    data_request_cancel,
    data_request_create,
    resume_abandoned,
)
from dashboard.demo_upstream.data import HARD_USERS
from dashboard.jobs.leases import hold_lease

# `engine`: leases and row locks differ on PostgreSQL; `make test-services` runs it again.
pytestmark = [pytest.mark.django_db, pytest.mark.engine]

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


# --- Export -----------------------------------------------------------------------------------


def all_items(demo_upstream, thread_id: str) -> list[dict]:
    items, after = [], None
    while True:
        query = "limit=7&order=asc" + (f"&after={after}" if after else "")
        page = demo_get(demo_upstream, f"/chatkit/threads/{thread_id}/items?{query}")
        items += page["data"]
        if not page["has_more"]:
            return items
        after = page["last_id"]


def open_archive(request: DataRequest) -> zipfile.ZipFile:
    return zipfile.ZipFile(archive_storage().open(request.archive_name, "rb"))


def test_an_export_archive_holds_every_thread_and_item_as_the_upstream_sent_them(
    store, demo_upstream, staff_user, settings
):
    user = HARD_USERS[0]
    add_threads(store, user, 120)
    # A title holding the API key: the archive must still never contain it.
    store.add(user=user, title=f"leak {demo_upstream.api_key} here", created_at=BASE_TIME + 999)
    expected = user_thread_ids(demo_upstream, user)
    assert len(expected) > 120
    request = make_request(staff_user, RequestKind.EXPORT, user)

    finished = run_request(request.pk)

    assert finished.state == RequestState.DONE
    assert finished.threads_done == len(expected) and finished.threads_failed == 0
    assert finished.archive_expires_at - finished.finished_at < timezone.timedelta(days=7)
    assert finished.archive_expires_at - timezone.now() > timezone.timedelta(days=6, hours=23)
    raw = archive_storage().open(finished.archive_name, "rb").read()
    assert demo_upstream.api_key.encode() not in raw
    assert finished.archive_bytes == len(raw)
    with open_archive(finished) as archive:
        names = archive.namelist()
        thread_files = [name for name in names if name.startswith("threads/")]
        assert len(thread_files) == len(expected)
        summary = list(csv.DictReader(io.StringIO(archive.read("summary.csv").decode("utf-8-sig"))))
        assert sorted(row["Thread ID"] for row in summary) == sorted(expected)
        assert {row["Outcome"] for row in summary} == {"Done"}
        readme = archive.read("README.txt").decode()
        assert user in readme and "PRIV-1" in readme and "Made at:" in readme
        by_id = {row["Thread ID"]: row for row in summary}
        for thread_id in expected[:25]:
            exported = json.loads(archive.read(by_id[thread_id]["File"]))
            served = demo_get(demo_upstream, f"/chatkit/threads/{thread_id}")
            if demo_upstream.api_key in json.dumps(served):
                assert exported["thread"]["title"] == "leak [redacted key] here"
                continue
            assert exported["thread"] == served
            assert exported["items"] == all_items(demo_upstream, thread_id)
            assert by_id[thread_id]["Items"] == str(len(exported["items"]))
    assert (
        AuditEvent.objects.filter(action=AuditAction.DATA_REQUEST_FINISHED).get().details["archive"]
        == finished.archive_name
    )


def test_an_export_skips_threads_deleted_meanwhile_and_says_so(store, demo_upstream, staff_user):
    ids = add_threads(store, "exported", 4)
    request = make_request(staff_user, RequestKind.EXPORT, "exported")

    def deleted_meanwhile(progress: DataRequest) -> None:
        if progress.threads_done == 1:
            demo_upstream._control("DELETE", f"/threads/{ids[2]}")

    finished = run_request(request.pk, on_progress=deleted_meanwhile)
    with open_archive(finished) as archive:
        summary = list(csv.DictReader(io.StringIO(archive.read("summary.csv").decode("utf-8-sig"))))
        assert len([n for n in archive.namelist() if n.startswith("threads/")]) == 3
    outcome = {row["Thread ID"]: row["Outcome"] for row in summary}
    assert outcome[ids[2]] == "Already gone"


def test_an_export_restarted_after_a_kill_rebuilds_its_archive(store, staff_user, private_storage):
    add_threads(store, "restarted", 6)
    request = make_request(staff_user, RequestKind.EXPORT, "restarted")

    def killer(progress: DataRequest) -> None:
        if progress.threads_done == 3:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_request(request.pk, on_progress=killer)
    assert not private_storage.exists() or not any(private_storage.iterdir())
    finished = run_request(request.pk)
    assert finished.state == RequestState.DONE and finished.threads_done == 6
    with open_archive(finished) as archive:
        assert len([n for n in archive.namelist() if n.startswith("threads/")]) == 6


def test_archives_expire_and_are_removed_with_an_audit_record(store, staff_user, private_storage):
    add_threads(store, "expiring", 2)
    finished = run_request(make_request(staff_user, RequestKind.EXPORT, "expiring").pk)
    assert archive_storage().exists(finished.archive_name)
    assert archives_expire() == []  # not yet
    later = finished.archive_expires_at + timezone.timedelta(seconds=1)
    removed = archives_expire(now=later)
    assert [r.pk for r in removed] == [finished.pk]
    assert not archive_storage().exists(finished.archive_name)
    event = AuditEvent.objects.get(action=AuditAction.ARCHIVE_EXPIRED)
    assert event.details["data_request"] == finished.pk and event.end_user == "expiring"
    assert archives_expire(now=later) == []


def test_the_expiry_command_removes_expired_archives(store, staff_user):
    add_threads(store, "cron", 1)
    finished = run_request(make_request(staff_user, RequestKind.EXPORT, "cron").pk)
    DataRequest.objects.filter(pk=finished.pk).update(archive_expires_at=timezone.now())
    out = io.StringIO()
    call_command("expire_data_archives", stdout=out)
    assert "1 archive removed" in out.getvalue()
    assert not archive_storage().exists(finished.archive_name)


# --- Pages ------------------------------------------------------------------------------------


@pytest.fixture
def eraser_client(eraser):
    client = Client()
    client.force_login(eraser)
    return client


def erasure_url(user: str) -> str:
    return reverse("data_requests:new_erasure") + f"?user={quote(user, safe='')}"


def test_the_user_page_offers_both_kinds_only_to_those_allowed(store, staff_client, eraser_client):
    user = "acme/support"
    page = staff_client.get(f"/users/{quote(user, safe='')}/").content.decode()
    assert "/data-requests/new/export/?user=acme%2Fsupport" in page
    assert "/data-requests/new/erasure/" not in page
    page = eraser_client.get(f"/users/{quote(user, safe='')}/").content.decode()
    assert "/data-requests/new/erasure/?user=acme%2Fsupport" in page


def test_the_dry_run_lists_the_threads_and_deletes_nothing(store, demo_upstream, eraser_client):
    ids = add_threads(store, HOSTILE_USER, 3)
    response = eraser_client.get(erasure_url(HOSTILE_USER))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Dry run: nothing was deleted." in page
    assert all(thread_id in page for thread_id in ids)
    assert escape(f"Thread 0 of {HOSTILE_USER}") in page
    assert "<b>" not in page
    assert len(user_thread_ids(demo_upstream, HOSTILE_USER)) == 3
    viewed = AuditEvent.objects.get(action=AuditAction.VIEWED_USER_THREADS)
    assert viewed.details["purpose"] == "erasure dry run" and viewed.end_user == HOSTILE_USER


def test_erasure_pages_need_the_delete_permission(store, staff_client):
    assert staff_client.get(erasure_url("x")).status_code == 403
    response = staff_client.post(
        reverse("data_requests:new_erasure"), {"user": "x", "ticket": "T", "confirm_user": "x"}
    )
    assert response.status_code == 403
    assert not DataRequest.objects.exists()


def test_a_mistyped_confirmation_erases_nothing(store, eraser_client):
    response = eraser_client.post(
        reverse("data_requests:new_erasure"),
        {"user": HOSTILE_USER, "ticket": "PRIV-9", "confirm_user": HOSTILE_USER.strip() + "x"},
    )
    assert response.status_code == 400
    assert "not this user" in response.content.decode()
    assert not DataRequest.objects.exists()


def test_the_retyped_id_makes_the_request_with_its_audit_record(store, eraser_client, eraser):
    response = eraser_client.post(
        reverse("data_requests:new_erasure"),
        {
            "user": HOSTILE_USER,
            "ticket": "PRIV-9",
            "confirm_user": HOSTILE_USER,
            "dry_run_threads": "3",
        },
    )
    request = DataRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("data_requests:detail", args=[request.pk])
    assert (request.kind, request.end_user, request.ticket) == ("erasure", HOSTILE_USER, "PRIV-9")
    assert request.dry_run_threads == 3 and request.requested_by == eraser
    event = AuditEvent.objects.get(action=AuditAction.DATA_REQUESTED)
    assert event.end_user == HOSTILE_USER and event.details["ticket"] == "PRIV-9"


def test_a_second_erasure_of_the_same_user_goes_to_the_first(store, eraser_client, eraser):
    first = make_request(eraser, RequestKind.ERASURE, "dup")
    response = eraser_client.post(
        reverse("data_requests:new_erasure"), {"user": "dup", "ticket": "T2", "confirm_user": "dup"}
    )
    assert response["Location"] == reverse("data_requests:detail", args=[first.pk])
    assert DataRequest.objects.count() == 1


def test_posts_need_a_csrf_token(store, eraser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(eraser)
    data = {"user": "u", "ticket": "T", "confirm_user": "u"}
    assert client.post(reverse("data_requests:new_erasure"), data).status_code == 403
    assert client.post(reverse("data_requests:new_export"), data).status_code == 403
    request = make_request(eraser, RequestKind.EXPORT, "u")
    assert client.post(reverse("data_requests:cancel", args=[request.pk])).status_code == 403
    assert DataRequest.objects.count() == 1


def test_pages_are_for_staff_only(store, client, django_user_model, eraser):
    request = make_request(eraser, RequestKind.EXPORT, "u")
    client.force_login(django_user_model.objects.create_user(username="outsider"))
    for url in (
        reverse("data_requests:list"),
        reverse("data_requests:detail", args=[request.pk]),
        reverse("data_requests:download", args=[request.pk]),
    ):
        assert client.get(url).status_code in (302, 403)


def test_an_export_from_the_page_to_the_download(store, staff_client, staff_user):
    add_threads(store, "downloader", 3)
    response = staff_client.post(
        reverse("data_requests:new_export"), {"user": "downloader", "ticket": "PRIV-7"}
    )
    request = DataRequest.objects.get()
    assert response.status_code == 302
    run_request(request.pk)
    page = staff_client.get(reverse("data_requests:detail", args=[request.pk])).content.decode()
    assert "Download the archive" in page and "data-progress-url" not in page
    download = staff_client.get(reverse("data_requests:download", args=[request.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    event = AuditEvent.objects.get(action=AuditAction.DOWNLOADED_ARCHIVE)
    assert event.actor == staff_user and event.details["data_request"] == request.pk


def test_an_expired_archive_is_not_offered(store, staff_client, staff_user):
    add_threads(store, "late", 1)
    finished = run_request(make_request(staff_user, RequestKind.EXPORT, "late").pk)
    archives_expire(now=finished.archive_expires_at)
    response = staff_client.get(reverse("data_requests:download", args=[finished.pk]), follow=True)
    assert "expired and was removed" in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.DOWNLOADED_ARCHIVE).exists()


def test_the_progress_part_polls_until_the_request_is_final(store, staff_client, staff_user):
    add_threads(store, "polled", 2)
    request = make_request(staff_user, RequestKind.EXPORT, "polled")
    url = reverse("data_requests:progress", args=[request.pk])
    part = staff_client.get(url)
    assert part["Cache-Control"] == "no-store"
    assert f'data-progress-url="{url}"' in part.content.decode()
    assert "Waiting for a worker" in part.content.decode()
    run_request(request.pk)
    assert "data-progress-url" not in staff_client.get(url).content.decode()


def test_an_unknown_request_is_a_404(staff_client):
    assert staff_client.get(reverse("data_requests:detail", args=[999])).status_code == 404


def test_cancelling_an_erasure_from_its_page_needs_the_delete_permission(
    store, staff_client, eraser
):
    request = make_request(eraser, RequestKind.ERASURE, "keep")
    assert staff_client.post(reverse("data_requests:cancel", args=[request.pk])).status_code == 403
    assert DataRequest.objects.get(pk=request.pk).state == RequestState.PENDING


# --- The command ------------------------------------------------------------------------------


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("data_request", *args, stdout=out)
    return out.getvalue()


def test_the_command_exports_and_prints_the_archive_path(store, staff_user, private_storage):
    add_threads(store, HOSTILE_USER, 3)
    out = command("export", HOSTILE_USER, "--ticket", "PRIV-3", "--as", "support")
    assert "3/3 exported" in out
    request = DataRequest.objects.get()
    assert out.strip().endswith(str(private_storage / request.archive_name))
    assert actions(request)[0] == AuditAction.DATA_REQUESTED


def test_the_command_erase_without_yes_is_a_dry_run(store, demo_upstream, eraser):
    ids = add_threads(store, "scripted", 4)
    out = command("erase", "scripted", "--ticket", "PRIV-4", "--as", "privacy")
    assert all(thread_id in out for thread_id in ids)
    assert "Nothing was deleted" in out
    assert not DataRequest.objects.exists()
    assert len(user_thread_ids(demo_upstream, "scripted")) == 4


def test_the_command_erases_and_summarises(store, demo_upstream, eraser):
    add_threads(store, "scripted", 4)
    out = command("erase", "scripted", "--ticket", "PRIV-4", "--as", "privacy", "--yes")
    assert "Deleted: 4 (and 0 already gone); failed: 0; remaining: 0." in out
    assert user_thread_ids(demo_upstream, "scripted") == []
    assert AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD).count() == 4


def test_the_command_exits_non_zero_when_threads_remain(store, demo_upstream, eraser):
    add_threads(store, "stubborn", 2)
    demo_upstream.inject(mode="status", status=400, message="nope", count=1)
    with pytest.raises(CommandError, match="did not complete"):
        command("erase", "stubborn", "--ticket", "T", "--as", "privacy", "--yes")


@pytest.mark.parametrize(
    ("who", "kind", "message"),
    [
        ("nobody", "export", "no account named"),
        ("support", "erase", "permission"),
        ("inactive", "export", "active staff"),
    ],
)
def test_the_command_checks_the_as_account(
    store, staff_user, django_user_model, who, kind, message
):
    django_user_model.objects.create_user(username="inactive", is_staff=True, is_active=False)
    with pytest.raises(CommandError, match=message):
        command(kind, "u", "--ticket", "T", "--as", who, "--yes")
    assert not DataRequest.objects.exists()
