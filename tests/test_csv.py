"""CSV export of thread lists, through Django's test client, the upstream faked by `responses`."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.http import StreamingHttpResponse
from django.urls import reverse
from responses.registries import OrderedRegistry

from dashboard.audit.models import AuditAction, AuditEvent

from .conftest import TEST_API_KEY, THREADS_URL, page_json, thread_json

pytestmark = pytest.mark.django_db

HEADER = ["Title", "Thread ID", "User", "Created (UTC)", "Status", "Status reason"]


_opened: list = []


@pytest.fixture(autouse=True)
def exports_closed():
    """Every export is closed when its test ends, as a server closes it: one left unread
    would keep its upstream slot (a per-process count) into the next test."""
    yield
    while _opened:
        _opened.pop().close()


def export(client, url=None, **params):
    response = client.get(url or reverse("threads:export"), params)
    _opened.append(response)
    return response


def rows_of(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def sent(call=0):
    query = parse_qs(urlsplit(responses.calls[call].request.url).query)
    return {k: v[0] for k, v in query.items()}


@responses.activate
def test_the_file_has_the_tables_columns_with_iso_utc_times(staff_client):
    responses.get(
        THREADS_URL,
        json=page_json(
            [
                thread_json(id="cthr_a", title="Refund", user="u1", created_at=1_763_000_000),
                thread_json(
                    id="cthr_b",
                    title=None,
                    user="u2",
                    created_at=1_700_000_000.5,
                    status={"type": "locked", "reason": "Abuse, again"},
                ),
                thread_json(id="cthr_c", status={"type": "archived"}),
            ]
        ),
    )
    response = export(staff_client)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="chatkit-threads-page.csv"'
    assert response["Cache-Control"] == "no-store"
    rows = rows_of(response)
    assert rows[0] == HEADER
    assert rows[1] == ["Refund", "cthr_a", "u1", "2025-11-13T02:13:20Z", "active", ""]
    assert rows[2] == ["", "cthr_b", "u2", "2023-11-14T22:13:20Z", "locked", "Abuse, again"]
    assert rows[3][4] == "archived"
    assert len(rows) == 4


@responses.activate
def test_quotes_commas_and_newlines_survive_a_round_trip(staff_client):
    title = 'He said "hi",\nthen left; ü 🙂'
    responses.get(THREADS_URL, json=page_json([thread_json(title=title, user="a,b")]))
    rows = rows_of(export(staff_client))
    assert rows[1][0] == title and rows[1][2] == "a,b"


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tcmd", "\rcmd"],
)
@responses.activate
def test_formula_injection_is_neutralised_in_every_column(staff_client, value):
    responses.get(
        THREADS_URL,
        json=page_json(
            [thread_json(id=value, title=value, user=value, status={"type": "x", "reason": value})]
        ),
    )
    row = rows_of(export(staff_client))[1]
    assert row[0] == row[1] == row[2] == row[5] == "'" + value


@responses.activate
def test_page_scope_asks_the_upstream_for_the_rows_on_screen(staff_client):
    responses.get(THREADS_URL, json=page_json([thread_json()]))
    export(staff_client, user="ops@x", order="asc", limit="50", after="cthr_9", scope="page")
    assert sent() == {"user": "ops@x", "order": "asc", "limit": "50", "after": "cthr_9"}


@responses.activate
def test_page_scope_with_a_status_uses_the_same_scan_as_the_page(staff_client):
    responses.get(
        THREADS_URL,
        json=page_json(
            [thread_json(id="cthr_act"), thread_json(id="cthr_lock", status={"type": "locked"})]
        ),
    )
    rows = rows_of(export(staff_client, status="locked"))
    assert [r[1] for r in rows[1:]] == ["cthr_lock"]
    assert sent()["limit"] == "100"


@responses.activate(registry=OrderedRegistry)
def test_all_scope_is_bounded_by_csv_max_rows_and_says_it_was_cut(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, csv_max_rows=250)
    for n in (100, 100, 50):
        responses.get(THREADS_URL, json=page_json([thread_json() for _ in range(n)], has_more=True))
    response = export(staff_client, scope="all", after="ignored", limit="10")
    assert response["X-Export-Row-Limit"] == "250"
    assert response["Content-Disposition"] == 'attachment; filename="chatkit-threads-all.csv"'
    rows = rows_of(response)
    assert len(responses.calls) == 3
    assert [sent(i)["limit"] for i in range(3)] == ["100", "100", "50"]
    assert "after" not in sent(0)
    assert sent(1)["after"] == rows[100][1]
    assert len(rows) == 1 + 250 + 1
    assert len(rows[-1]) == 1 and rows[-1][0].startswith("# TRUNCATED")
    assert all(len(row) == 6 for row in rows[:-1])


@responses.activate(registry=OrderedRegistry)
def test_all_scope_that_fits_has_no_trailing_line(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, csv_max_rows=250)
    responses.get(THREADS_URL, json=page_json([thread_json() for _ in range(100)], has_more=True))
    responses.get(THREADS_URL, json=page_json([thread_json() for _ in range(30)], has_more=False))
    rows = rows_of(export(staff_client, scope="all"))
    assert len(rows) == 1 + 130
    assert all(len(row) == 6 for row in rows)


@responses.activate(registry=OrderedRegistry)
def test_all_scope_keeps_only_the_status_asked_for(staff_client):
    locked = {"type": "locked", "reason": None}
    responses.get(
        THREADS_URL,
        json=page_json([thread_json(), thread_json(id="cthr_l1", status=locked)], has_more=True),
    )
    responses.get(THREADS_URL, json=page_json([thread_json(id="cthr_l2", status=locked)]))
    response = export(staff_client, scope="all", status="locked", user="bob")
    rows = rows_of(response)
    assert [r[1] for r in rows[1:]] == ["cthr_l1", "cthr_l2"]
    assert sent(0)["user"] == "bob" and sent(1)["after"] == "cthr_l1"
    assert "locked-all" in response["Content-Disposition"]


@responses.activate
def test_the_per_user_export_takes_the_user_from_the_path(staff_client):
    responses.get(THREADS_URL, json=page_json([thread_json(user="ops/x y")]))
    response = export(staff_client, reverse("threads:user_export", kwargs={"user": "ops/x y"}))
    assert response.status_code == 200
    assert sent()["user"] == "ops/x y"
    assert "chatkit-threads-opsx-y-page.csv" in response["Content-Disposition"]


def test_an_overlong_user_is_a_400(staff_client):
    url = reverse("threads:user_export", kwargs={"user": "u" * 513})
    response = staff_client.get(url)
    assert response.status_code == 400
    assert "at most 512 characters" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"scope": "everything"}, "Export scope is page (this page) or all (all matching)."),
        ({"limit": "0"}, "at least 1"),
        ({"status": "gone"}, "Choose a status from the list: active, locked or closed."),
        ({"after": "a", "before": "b"}, "not both"),
    ],
)
@responses.activate
def test_bad_export_parameters_are_a_400_without_an_upstream_call(staff_client, params, message):
    response = export(staff_client, **params)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert len(responses.calls) == 0


@responses.activate
def test_an_upstream_error_before_the_first_byte_gets_the_banner_and_status(staff_client):
    responses.get(
        THREADS_URL,
        status=429,
        json={"error": {"message": "Slow down", "type": "rate_limit"}},
        headers={"x-request-id": "req_429", "Retry-After": "20"},
    )
    response = export(staff_client, scope="all")
    body = response.content.decode()
    assert response.status_code == 503
    assert not isinstance(response, StreamingHttpResponse)
    assert "Slow down" in body and "req_429" in body and 'role="alert"' in body
    assert response["Retry-After"] == "20"
    assert not AuditEvent.objects.exists()


@responses.activate(registry=OrderedRegistry)
def test_an_upstream_error_mid_stream_ends_the_file_with_a_clear_line(staff_client):
    responses.get(THREADS_URL, json=page_json([thread_json() for _ in range(100)], has_more=True))
    responses.get(
        THREADS_URL,
        status=500,
        json={"error": {"message": "Kaboom", "type": "server_error"}},
        headers={"x-request-id": "req_mid"},
    )
    response = export(staff_client, scope="all")
    assert response.status_code == 200
    rows = rows_of(response)
    assert len(rows) == 1 + 100 + 1
    assert rows[-1][0].startswith("# INCOMPLETE: the export failed after 100 rows.")
    assert "Kaboom" in rows[-1][0] and "req_mid" in rows[-1][0]


@pytest.mark.parametrize("status", [200, 401, 500])
@responses.activate
def test_the_api_key_is_never_in_an_export(staff_client, status):
    body = (
        page_json([thread_json()])
        if status == 200
        else {"error": {"message": f"Bad key {TEST_API_KEY}", "type": "x"}}
    )
    responses.get(THREADS_URL, json=body, status=status)
    response = export(staff_client)
    content = (
        b"".join(response.streaming_content)
        if isinstance(response, StreamingHttpResponse)
        else response.content
    ).decode()
    assert response.status_code == (200 if status == 200 else 502 if status == 401 else 503)
    assert TEST_API_KEY[-8:] not in content
    assert all(TEST_API_KEY[-8:] not in value for value in response.headers.values())


@responses.activate
def test_an_export_is_audited_with_its_scope_filters_and_request_id(staff_client, staff_user):
    responses.get(THREADS_URL, json=page_json([thread_json()]), headers={"x-request-id": "req_e"})
    rows_of(export(staff_client, user="u9", status="", scope="page", limit="50"))
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.EXPORTED_CSV
    assert (event.actor, event.end_user, event.upstream_request_id) == (staff_user, "u9", "req_e")
    assert event.details == {"scope": "page", "source": "live", "user": "u9", "limit": "50"}


@responses.activate
def test_the_list_page_offers_both_exports_with_its_filters(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, csv_max_rows=1234)
    responses.get(THREADS_URL, json=page_json([thread_json(id="cthr_x")], has_more=True))
    body = staff_client.get("/threads/", {"user": "a b", "limit": "50", "after": "cthr_0"})
    links = {
        text: html.unescape(href)
        for href, text in re.findall(r'href="([^"]+)" download>([^<]+)<', body.content.decode())
    }
    assert links["Export this page as CSV"] == (
        "/threads/export.csv?user=a+b&limit=50&after=cthr_0&scope=page"
    )
    assert links["Export all matching (up to 1,234)"] == (
        "/threads/export.csv?user=a+b&limit=50&scope=all"
    )


@responses.activate
def test_the_user_page_exports_from_its_own_path(staff_client):
    responses.get(THREADS_URL, json=page_json([thread_json()]))
    body = staff_client.get(reverse("threads:user", kwargs={"user": "x/y"})).content.decode()
    assert 'href="/users/x%2Fy/export.csv?scope=page"' in body


@responses.activate
def test_a_head_request_neither_reads_upstream_nor_records_an_export(staff_client):
    from dashboard.audit.models import AuditEvent

    response = staff_client.head("/threads/export.csv")
    assert response.status_code == 405
    assert len(responses.calls) == 0
    assert not AuditEvent.objects.exists()
