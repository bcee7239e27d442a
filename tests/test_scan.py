"""The status scan (dashboard/threads/scan.py, through selectors.py's cached upstream pages)
and what it says, without the pages."""

from __future__ import annotations

from dataclasses import replace

import pytest
import responses

from dashboard.chatkit.types import StatusKind, Thread
from dashboard.threads.scan import StatusScan, describe_scan
from dashboard.threads.selectors import thread_status_scan
from dashboard.web.query import ThreadQuery

from .conftest import THREADS_URL, error_json, page_json, scan_page, thread_json


def locked(**kw):
    return thread_json(status={"type": "locked", "reason": "abuse"}, **kw)


def active(**kw):
    return thread_json(**kw)


@responses.activate
def test_the_scan_stops_mid_page_once_it_has_a_full_page_and_resumes_after_the_last_match():
    rows = [active(), locked(), active(), locked(), locked(), active()]
    scan_page(rows, has_more=True)
    scan = thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED, limit=2))
    assert [t.id for t in scan.threads] == [rows[1]["id"], rows[3]["id"]]
    assert scan.scanned == 4
    assert not scan.exhausted
    assert scan.resume_cursor == rows[3]["id"]
    assert len(responses.calls) == 1


@responses.activate
def test_the_scan_follows_after_cursors_until_the_list_ends():
    first = [active() for _ in range(3)] + [locked()]
    second = [locked(), active()]
    scan_page(first, has_more=True)
    scan_page(second, after=first[-1]["id"], has_more=False)
    scan = thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED, limit=20))
    assert [t.id for t in scan.threads] == [first[-1]["id"], second[0]["id"]]
    assert scan.exhausted and scan.resume_cursor is None
    assert scan.scanned == 6
    assert scan.upstream_pages == 2


@responses.activate
def test_the_scan_stops_at_its_page_budget_and_says_where_to_continue(settings):
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=2)
    first = [active() for _ in range(5)]
    second = [active() for _ in range(5)]
    scan_page(first, has_more=True)
    scan_page(second, after=first[-1]["id"], has_more=True)
    scan = thread_status_scan(query=ThreadQuery(status=StatusKind.CLOSED, limit=20))
    assert scan.threads == ()
    assert not scan.exhausted
    assert scan.resume_cursor == second[-1]["id"]
    assert scan.upstream_pages == 2
    assert len(responses.calls) == 2


@responses.activate
def test_a_backward_scan_keeps_the_matches_nearest_the_cursor_in_list_order():
    # Paging back from "cursor": the upstream returns the 100 threads just before it.
    rows = [locked(), active(), locked(), locked()]
    scan_page(rows, before="cursor", has_more=True)
    scan = thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED, before="cursor", limit=2))
    assert [t.id for t in scan.threads] == [rows[2]["id"], rows[3]["id"]]
    assert scan.resume_cursor == rows[2]["id"]


@responses.activate
def test_a_scan_keeps_its_first_pages_request_id_for_the_audit_trail():
    responses.get(
        THREADS_URL,
        json=page_json([active(), locked()], has_more=False),
        headers={"x-request-id": "req_scan_1"},
    )
    assert (
        thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED)).request_id == "req_scan_1"
    )


# --- what the scan says ------------------------------------------------------------


def scan_of(n_found, *, scanned, exhausted, pages=10):
    threads = tuple(Thread.from_dict(locked()) for _ in range(n_found))
    return StatusScan(
        threads=threads,
        found=n_found,
        scanned=scanned,
        upstream_pages=pages,
        exhausted=exhausted,
        resume_cursor=None if exhausted else "c",
    )


def test_a_budget_stop_never_claims_there_are_none():
    query = ThreadQuery(status=StatusKind.LOCKED)
    message = describe_scan(query, scan_of(0, scanned=1000, exhausted=False))
    assert message.startswith("No locked threads among the 1,000 most recent threads.")
    assert "there may be more" in message


def test_a_partial_result_says_how_many_were_checked():
    message = describe_scan(
        ThreadQuery(status=StatusKind.LOCKED), scan_of(7, scanned=1000, exhausted=False)
    )
    assert message.startswith("7 locked threads among the 1,000 most recent threads.")


def test_an_exhausted_scan_may_say_none_among_all():
    message = describe_scan(
        ThreadQuery(status=StatusKind.CLOSED), scan_of(0, scanned=412, exhausted=True)
    )
    assert message == "No closed threads among all 412 threads."


@pytest.mark.parametrize(
    ("query", "scope"),
    [
        (ThreadQuery(status=StatusKind.LOCKED, order="asc"), "the 1,000 oldest threads"),
        (ThreadQuery(status=StatusKind.LOCKED, after="x"), "the next 1,000 threads"),
        (ThreadQuery(status=StatusKind.LOCKED, before="x"), "the previous 1,000 threads"),
    ],
)
def test_the_message_names_the_part_of_the_list_it_scanned(query, scope):
    assert scope in describe_scan(query, scan_of(3, scanned=1000, exhausted=False))


# --- the page's deadline ---------------------------------------------------------------


def test_a_scan_that_runs_out_of_time_returns_the_pages_it_read_and_says_so():
    from dashboard.chatkit.errors import ChatKitDeadlineExceededError
    from dashboard.chatkit.types import ThreadPage
    from dashboard.threads.scan import scan_for_status

    first = ThreadPage.from_dict(page_json([active(), locked(), active()], has_more=True))
    pages = iter([first])

    def fetch(cursor):
        try:
            return next(pages)
        except StopIteration:
            raise ChatKitDeadlineExceededError("out of time") from None

    query = ThreadQuery(status=StatusKind.LOCKED, limit=20)
    scan = scan_for_status(
        fetch=fetch, status=query.status, cursor=None, backwards=False, limit=20, max_pages=10
    )
    assert (len(scan.threads), scan.scanned, scan.upstream_pages) == (1, 3, 1)
    assert scan.out_of_time and not scan.exhausted
    assert scan.resume_cursor == first.threads[-1].id
    assert describe_scan(query, scan) == (
        "1 locked thread among the 3 most recent threads. The scan stopped after 1 upstream "
        "page when the page's time budget ran out, so there may be more further on."
    )


def test_a_scan_whose_first_page_runs_out_of_time_has_nothing_to_show_but_the_timeout():
    from dashboard.chatkit.errors import ChatKitDeadlineExceededError
    from dashboard.threads.scan import scan_for_status

    def fetch(cursor):
        raise ChatKitDeadlineExceededError("out of time")

    with pytest.raises(ChatKitDeadlineExceededError):
        scan_for_status(
            fetch=fetch, status=StatusKind.LOCKED, cursor=None, backwards=False, limit=20,
            max_pages=10,
        )  # fmt: skip


@responses.activate
def test_a_later_page_that_fails_ends_the_scan_with_what_was_read(staff_client):
    first = [active(), locked()]
    scan_page(first, has_more=True)
    responses.get(THREADS_URL, json=error_json("upstream trouble"), status=503)
    scan = thread_status_scan(query=ThreadQuery(status=StatusKind.LOCKED))
    assert [t.id for t in scan.threads] == [first[1]["id"]]
    assert scan.failure is not None and scan.failure.status == 503
    assert (scan.upstream_pages, scan.exhausted, scan.resume_cursor) == (1, False, first[1]["id"])

    scan_page(first, has_more=True)  # `responses` used up the first for the scan above
    body = staff_client.get("/threads/?status=locked").content.decode()
    assert "1 locked thread among the 2 most recent threads." in body
    assert "Reading page 2 failed:" in body
