"""The pages, through Django's test client, with the upstream faked by `responses`."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
import responses
from django.urls import reverse
from responses import matchers

from .conftest import TEST_API_KEY, THREADS_URL, UPSTREAM, error_json, page_json, thread_json

pytestmark = pytest.mark.django_db

HARD_USER_IDS = [
    "alice smith",
    "team/support",
    "100%-sure",
    "issue#42",
    "tom&jerry",
    "ops@example.com",
    "what?is=this",
    "plus+sign",
    "ユーザー",
    "josé",
    "trailing/",
    "acme/../admin",
    "./x",
    "%2F-already-encoded",
    "x" * 512,
]


def upstream(threads=None, *, status=200, query=None, headers=None, **page):
    """Register one upstream answer, optionally only for an exact query string."""
    body = page_json(threads if threads is not None else [thread_json()], **page)
    match = [matchers.query_param_matcher(query)] if query is not None else []
    return responses.get(THREADS_URL, json=body, status=status, match=match, headers=headers)


def sent_params(call_index=0):
    return {
        k: v[0]
        for k, v in parse_qs(urlsplit(responses.calls[call_index].request.url).query).items()
    }


def links(response, rel):
    return [
        html.unescape(m)
        for m in re.findall(rf'href="([^"]*)" rel="{rel}"', response.content.decode())
    ]


# --- Access --------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login_with_next(client):
    response = client.get("/threads/?user=abc")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert unquote(response["Location"].split("next=")[1]) == "/threads/?user=abc"


def test_the_login_page_and_health_check_are_open(client):
    assert client.get(reverse("login")).status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


@responses.activate
def test_the_health_check_makes_no_upstream_call(client):
    client.get("/healthz")
    assert len(responses.calls) == 0


def test_signed_in_non_staff_users_get_403(client, django_user_model):
    user = django_user_model.objects.create_user(username="enduser", password="pw-123456789")
    client.force_login(user)
    response = client.get("/threads/")
    assert response.status_code == 403
    assert b"staff accounts only" in response.content
    assert b"All threads</a>" not in response.content  # no navigation into pages it cannot see


def test_non_staff_users_can_still_log_out(client, django_user_model):
    user = django_user_model.objects.create_user(username="enduser", password="pw-123456789")
    client.force_login(user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_inactive_staff_are_treated_as_anonymous(client, staff_user):
    client.force_login(staff_user)
    staff_user.is_active = False
    staff_user.save()
    assert client.get("/threads/").status_code == 302


def test_staff_log_in_with_a_password_and_land_on_the_threads(client, staff_user):
    response = client.post(
        reverse("login"), {"username": "support", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("threads:list")


def test_logout_is_post_only(staff_client):
    assert staff_client.get(reverse("logout")).status_code == 405


def test_the_home_page_redirects_to_the_threads(staff_client):
    response = staff_client.get("/")
    assert response["Location"] == reverse("threads:list")


# --- The table ------------------------------------------------------------------------


@responses.activate
def test_the_table_shows_every_column(staff_client):
    upstream(
        [
            thread_json(
                id="cthr_a", title="Refund please", user="user_7", created_at=1_700_000_000
            ),
            thread_json(id="cthr_b", title=None, status={"type": "locked", "reason": "Abuse"}),
            thread_json(id="cthr_c", status={"type": "closed", "reason": None}),
        ]
    )
    response = staff_client.get("/threads/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Refund please" in body
    assert '<code class="thread-id">cthr_a</code>' in body
    assert 'href="/users/user_7/"' in body
    assert 'datetime="2023-11-14T22:13:20+00:00"' in body
    assert 'title="2023-11-14 22:13:20 UTC"' in body
    assert 'class="placeholder">Untitled<' in body
    assert ">Locked</span>" in body and ">Abuse<" in body
    assert ">Closed</span>" in body and "no reason recorded" in body
    assert ">Active</span>" in body


@responses.activate
def test_the_table_tells_an_empty_title_from_a_missing_one(staff_client):
    upstream([thread_json(id="cthr_none", title=None), thread_json(id="cthr_empty", title="")])
    body = staff_client.get("/threads/").content.decode()
    assert body.count('class="placeholder">Untitled<') == 1
    assert body.count('title="The title is set, but empty">Empty title<') == 1


@responses.activate
def test_the_default_page_asks_for_twenty_newest(staff_client):
    upstream()
    staff_client.get("/threads/")
    assert sent_params() == {"limit": "20", "order": "desc"}


@responses.activate
def test_every_filter_reaches_the_upstream(staff_client):
    upstream()
    staff_client.get(
        "/threads/",
        {"user": "ops@example.com", "sort": "created", "limit": "50", "after": "cthr_x"},
    )
    assert sent_params() == {
        "user": "ops@example.com",
        "order": "asc",
        "limit": "50",
        "after": "cthr_x",
    }


@responses.activate
def test_a_limit_outside_the_menu_is_accepted_and_shown(staff_client):
    upstream()
    response = staff_client.get("/threads/", {"limit": "37"})
    assert sent_params()["limit"] == "37"
    assert b'<option value="37" selected>37 per page</option>' in response.content


@responses.activate
def test_titles_and_user_ids_are_escaped(staff_client):
    upstream(
        [thread_json(title="<script>alert(1)</script>", user='"><img src=x onerror=alert(2)>')]
    )
    body = staff_client.get("/threads/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img src=x" not in body


@responses.activate
def test_an_unknown_status_type_is_shown_not_fatal(staff_client):
    upstream([thread_json(status={"type": "archived"})])
    response = staff_client.get("/threads/")
    assert response.status_code == 200
    assert b"Unknown (archived)" in response.content


@responses.activate
def test_the_summary_counts_the_statuses_shown(staff_client):
    upstream(
        [
            thread_json(),
            thread_json(status={"type": "locked", "reason": None}),
            thread_json(status={"type": "closed", "reason": "done"}),
            thread_json(status={"type": "closed", "reason": "x"}),
        ]
    )
    body = staff_client.get("/threads/").content.decode()
    assert "1 active" in body and "1 locked" in body and "2 closed" in body


# --- Paging -----------------------------------------------------------------------------


@responses.activate
def test_the_first_page_has_next_but_no_previous(staff_client):
    upstream([thread_json(id="cthr_1"), thread_json(id="cthr_2")], has_more=True)
    response = staff_client.get("/threads/", {"user": "u 1", "limit": "2"})
    assert links(response, "prev") == []
    assert links(response, "next") == ["/threads/?user=u+1&limit=2&after=cthr_2"]


@responses.activate
def test_after_paging_forward_previous_shows_even_without_has_more(staff_client):
    upstream([thread_json(id="cthr_3")], has_more=False)
    response = staff_client.get("/threads/", {"after": "cthr_2", "sort": "created"})
    assert links(response, "prev") == ["/threads/?sort=created&before=cthr_3"]
    assert links(response, "next") == []


@responses.activate
def test_paging_back_to_the_start_is_the_first_page_at_its_clean_url(staff_client):
    upstream([thread_json(id="cthr_1")], has_more=False)
    response = staff_client.get("/threads/", {"before": "cthr_2", "limit": "10"})
    assert response.status_code == 302
    assert response["Location"] == "/threads/?limit=10"


@responses.activate
def test_a_users_page_paged_back_to_the_start_keeps_the_user_in_the_path(staff_client):
    upstream([thread_json(id="cthr_1")], has_more=False)
    response = staff_client.get("/users/acme%2Fsupport/", {"before": "cthr_2"})
    assert response["Location"] == "/users/acme%2Fsupport/"


@responses.activate
def test_the_first_page_offers_no_first_page_link(staff_client):
    upstream([thread_json(id="cthr_1")], has_more=True)
    body = staff_client.get("/threads/").content.decode()
    assert "First page" not in body
    assert '<p class="position">Newest threads</p>' in body


@responses.activate
def test_an_earlier_page_that_is_not_the_start_offers_the_first_page(staff_client):
    upstream([thread_json(id="cthr_5")], has_more=True)
    body = staff_client.get("/threads/", {"before": "cthr_6"}).content.decode()
    assert 'href="/threads/">« First page' in body
    assert '<p class="position">An earlier page, newest first</p>' in body


@responses.activate
def test_paging_back_with_more_shows_previous(staff_client):
    upstream([thread_json(id="cthr_1")], has_more=True)
    response = staff_client.get("/threads/", {"before": "cthr_2"})
    assert links(response, "prev") == ["/threads/?before=cthr_1"]


@responses.activate
def test_an_empty_page_says_so(staff_client):
    upstream([])
    response = staff_client.get("/threads/")
    assert response.status_code == 200
    assert b"No threads" in response.content


# --- Validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "at least 1"),
        ({"limit": "101"}, "at most 100"),
        ({"limit": "ten"}, "whole number"),
        ({"limit": "²"}, "whole number"),
        ({"limit": "①"}, "whole number"),
        ({"order": "sideways"}, "Order is newest first (desc) or oldest first (asc)."),
        ({"status": "deleted"}, "Choose a status from the list: active, locked or closed."),
        ({"user": "u" * 513}, "at most 512"),
        ({"after": "a", "before": "b"}, "not both"),
        ({"after": "bad cursor"}, "not a valid thread id"),
        ({"after": "c" * 600}, "at most 512"),
    ],
)
@responses.activate
def test_bad_query_values_get_a_400_with_the_message(staff_client, params, message):
    response = staff_client.get("/threads/", params)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert len(responses.calls) == 0


@responses.activate
def test_a_field_error_sits_beside_its_field(staff_client):
    response = staff_client.get("/threads/", {"limit": "500"})
    body = response.content.decode()
    field = body.index('id="id_limit"')
    error = body.index('class="field-error"')
    assert 0 < error - field < 1500


@responses.activate
def test_repeated_parameters_use_the_last_value(staff_client):
    upstream()
    staff_client.get("/threads/?limit=10&limit=50")
    assert sent_params()["limit"] == "50"


# --- Per-user pages ------------------------------------------------------------------------


@pytest.mark.parametrize("user_id", HARD_USER_IDS)
@responses.activate
def test_hard_user_ids_round_trip_through_links(staff_client, user_id):
    upstream([thread_json(id="cthr_1", user=user_id)])
    listing = staff_client.get("/threads/")
    href = html.unescape(
        re.search(r'<td class="col-user"><a href="([^"]+)"', listing.content.decode()).group(1)
    )
    upstream([thread_json(id="cthr_1", user=user_id)], has_more=True)
    page = staff_client.get(href)
    assert page.status_code == 200
    assert sent_params(1)["user"] == user_id
    assert html.escape(user_id) in page.content.decode()
    # Next keeps the user in the path, not the query.
    next_href = links(page, "next")[0]
    assert urlsplit(next_href).path == urlsplit(href).path
    assert "user=" not in urlsplit(next_href).query


@pytest.mark.parametrize("user_id", [".", ".."])
@responses.activate
def test_dot_user_ids_link_to_the_filtered_list_since_browsers_collapse_them(staff_client, user_id):
    upstream([thread_json(id="cthr_1", user=user_id)])
    listing = staff_client.get("/threads/")
    href = html.unescape(
        re.search(r'<td class="col-user"><a href="([^"]+)"', listing.content.decode()).group(1)
    )
    assert urlsplit(href).path == "/threads/"
    assert parse_qs(urlsplit(href).query) == {"user": [user_id]}
    # A hand-made /users/../ URL (only non-browser clients can send one) lands there too.
    assert staff_client.get(f"/users/{user_id}/")["Location"] == href


@responses.activate
def test_a_user_id_over_512_characters_gets_a_400(staff_client):
    response = staff_client.get(reverse("threads:user", kwargs={"user": "y" * 513}))
    assert response.status_code == 400
    assert b"at most 512 characters" in response.content
    assert len(responses.calls) == 0


@responses.activate
def test_the_user_page_filters_by_status_too(staff_client):
    upstream([thread_json(status={"type": "locked", "reason": "r"}, user="bob")], has_more=False)
    response = staff_client.get(
        reverse("threads:user", kwargs={"user": "bob"}), {"status": "locked"}
    )
    assert response.status_code == 200
    assert sent_params() == {"user": "bob", "limit": "100", "order": "desc"}
    assert b"1 locked thread among all 1 threads." in response.content


# --- The status filter through the page ------------------------------------------------------


@responses.activate
def test_the_status_filter_tells_how_far_it_scanned_and_offers_to_scan_further(
    staff_client, settings
):
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=1)
    rows = [thread_json() for _ in range(99)] + [
        thread_json(status={"type": "locked", "reason": None})
    ]
    upstream(rows, has_more=True)
    response = staff_client.get("/threads/", {"status": "locked"})
    body = html.unescape(response.content.decode())
    assert "1 locked thread among the 100 most recent threads." in body
    assert "there may be more" in body
    assert f'href="/threads/?status=locked&after={rows[-1]["id"]}">Scan further' in body


# --- Upstream errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "expected_status", "title"),
    [
        (401, {}, 502, "rejected the dashboard's API key"),
        (403, {}, 502, "rejected the dashboard's API key"),
        (429, {"Retry-After": "30"}, 503, "rate limiting"),
        (500, {}, 503, "unavailable"),
        (503, {}, 503, "unavailable"),
        (400, {}, 400, "refused this request"),
    ],
)
@responses.activate
def test_upstream_errors_show_a_banner_and_a_fitting_status(
    staff_client, status, headers, expected_status, title
):
    responses.get(
        THREADS_URL,
        json=error_json(),
        status=status,
        headers={"x-request-id": "req_abc123", **headers},
    )
    response = staff_client.get("/threads/")
    body = html.unescape(response.content.decode())
    assert response.status_code == expected_status
    assert title in body
    assert "req_abc123" in body
    assert 'role="alert"' in body


@responses.activate
def test_an_upstream_failure_is_logged_once_as_a_warning_not_as_a_dashboard_error(
    staff_client, caplog
):
    responses.get(THREADS_URL, json=error_json(), status=503, headers={"x-request-id": "req_9"})
    with caplog.at_level("INFO"):
        assert staff_client.get("/threads/").status_code == 503
    answered = [r for r in caplog.records if r.name == "dashboard.web.problems"]
    assert [(r.levelname, r.getMessage()) for r in answered] == [
        ("WARNING", "GET /threads/ answered 503: The OpenAI API is unavailable "
         "(upstream request req_9)"),
    ]  # fmt: skip
    assert not [r for r in caplog.records if r.name == "django.request"]


@responses.activate
def test_a_rate_limit_says_when_to_try_again(staff_client):
    responses.get(THREADS_URL, json=error_json(), status=429, headers={"Retry-After": "120"})
    response = staff_client.get("/threads/")
    assert "Try again in 2 minutes." in response.content.decode()
    assert response["Retry-After"] == "120"
    assert len(responses.calls) == 1  # a 2-minute wait is beyond the page's budget


@pytest.mark.parametrize(
    ("failure", "expected_status", "title"),
    [
        (requests.ConnectTimeout("slow"), 504, "did not answer in time"),
        (requests.ReadTimeout("slow"), 504, "did not answer in time"),
        (requests.ConnectionError("refused"), 503, "unavailable"),
    ],
)
@responses.activate
def test_network_failures_show_a_banner(staff_client, settings, failure, expected_status, title):
    settings.CHATKIT = replace(settings.CHATKIT, max_retries=0)
    responses.get(THREADS_URL, body=failure)
    response = staff_client.get("/threads/")
    assert response.status_code == expected_status
    assert title in response.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        '{"data": [',
        '{"data": [{"id": "cthr_1"}], "has_more": false, "object": "list"}',
        '{"data": "nope", "has_more": false}',
        "[]",
    ],
)
@responses.activate
def test_malformed_upstream_answers_show_a_bad_response_banner(staff_client, body):
    responses.get(THREADS_URL, body=body, content_type="application/json")
    response = staff_client.get("/threads/")
    assert response.status_code == 502
    assert "cannot read" in response.content.decode()


def test_a_missing_api_key_shows_a_configuration_page(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, api_key="")
    response = staff_client.get("/threads/")
    assert response.status_code == 503
    assert "not configured" in response.content.decode()


# --- The key never leaves the server -----------------------------------------------------------


@pytest.mark.parametrize("status", [200, 401, 429, 500])
@responses.activate
def test_the_api_key_is_in_no_response(staff_client, status):
    echo = error_json(message=f"Incorrect API key provided: {TEST_API_KEY}")
    responses.get(
        THREADS_URL, json=echo if status != 200 else page_json([thread_json()]), status=status
    )
    response = staff_client.get("/threads/")
    assert TEST_API_KEY not in response.content.decode()
    assert TEST_API_KEY[-8:] not in response.content.decode()
    assert all(TEST_API_KEY not in value for value in response.headers.values())


def test_pages_carry_security_headers(staff_client):
    response = staff_client.get(reverse("login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]


@responses.activate
def test_a_refused_cursor_offers_the_first_page(staff_client):
    responses.get(
        THREADS_URL, json=error_json("Invalid 'after'", "invalid_request_error"), status=400
    )
    response = staff_client.get("/threads/", {"after": "cthr_gone", "user": "bob"})
    assert response.status_code == 400
    assert 'href="/threads/?user=bob">Go to the first page</a>' in response.content.decode()


# --- The connection page ----------------------------------------------------------------------


@responses.activate
def test_the_connection_page_checks_the_api_live_and_shows_only_a_masked_key(staff_client):
    upstream(query={"limit": "1", "order": "desc"}, headers={"x-request-id": "req_live"})
    body = staff_client.get(reverse("threads:connection")).content.decode()
    assert "Reachable" in body and "req_live" in body
    assert f"<code>sk-…{TEST_API_KEY[-4:]}</code>" in body
    assert TEST_API_KEY[-8:] not in body


@responses.activate
def test_the_connection_check_is_never_served_from_the_cache(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, cache_ttl=60)
    upstream()
    staff_client.get(reverse("threads:connection"))
    staff_client.get(reverse("threads:connection"))
    assert len(responses.calls) == 2


@responses.activate
def test_the_connection_page_reports_a_rejected_key_without_failing(staff_client):
    responses.get(THREADS_URL, json=error_json("Incorrect API key"), status=401)
    response = staff_client.get(reverse("threads:connection"))
    assert response.status_code == 200
    assert "rejected the dashboard&#x27;s API key" in response.content.decode()


@pytest.mark.parametrize("page", ["threads:list", "threads:connection"])
@responses.activate
def test_a_404_for_the_list_says_the_base_url_looks_wrong_and_shows_it(staff_client, page):
    responses.get(THREADS_URL, json=error_json("Invalid URL (GET /chatkit/threads)"), status=404)
    body = html.unescape(staff_client.get(reverse(page)).content.decode())
    assert "The ChatKit API address looks wrong" in body
    assert f"for the thread list at {UPSTREAM}, so the base URL is wrong" in body
    assert "OPENAI_BASE_URL" in body
    assert "no such thread" not in body


@responses.activate
def test_a_404_for_a_cursor_is_still_about_the_thread(staff_client):
    responses.get(THREADS_URL, json=error_json("No thread cthr_gone"), status=404)
    body = html.unescape(staff_client.get("/threads/?after=cthr_gone").content.decode())
    assert "The ChatKit API has no such thread, or it was deleted." in body
    assert "address looks wrong" not in body


def test_the_connection_page_says_when_no_key_is_set(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, api_key="")
    body = staff_client.get(reverse("threads:connection")).content.decode()
    assert "not set</strong>" in body and "not configured" in body


@pytest.mark.parametrize(
    ("step", "says"),
    [
        (0.5, "per view, showing what it has after 0.5 s and reading on in steps"),
        (0, "per view</dd>"),
    ],
)
def test_the_connection_page_says_how_a_status_scan_runs(staff_client, settings, step, says):
    settings.CHATKIT = replace(settings.CHATKIT, api_key="", status_scan_step=step)
    assert says in staff_client.get(reverse("threads:connection")).content.decode()


# --- Status scans through the page: where paging continues ------------------------------------


def scan_rows(n_active: int, *, locked_at: int):
    return [
        thread_json(status={"type": "locked", "reason": None}) if i == locked_at else thread_json()
        for i in range(n_active)
    ]


@responses.activate
def test_after_a_scan_stops_early_next_continues_where_it_stopped_not_at_the_last_match(
    staff_client, settings
):
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=1)
    rows = scan_rows(100, locked_at=10)
    upstream(rows, has_more=True)
    response = staff_client.get("/threads/", {"status": "locked"})
    assert links(response, "next") == [f"/threads/?status=locked&after={rows[-1]['id']}"]


@responses.activate
def test_a_backward_scan_offers_to_scan_further_back(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=1)
    rows = scan_rows(100, locked_at=90)
    upstream(rows, has_more=True)
    response = staff_client.get("/threads/", {"status": "locked", "before": "cthr_cursor"})
    body = html.unescape(response.content.decode())
    assert "there may be more further back" in body
    assert f'href="/threads/?status=locked&before={rows[0]["id"]}">Scan further' in body


@responses.activate
def test_a_status_scan_counts_every_status_it_scanned(staff_client, settings):
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_pages=1)
    rows = (
        [thread_json() for _ in range(85)]
        + [thread_json(status={"type": "closed", "reason": None}) for _ in range(10)]
        + [thread_json(status={"type": "locked", "reason": "r"}) for _ in range(5)]
    )
    responses.get(THREADS_URL, json=page_json(rows, has_more=True))
    body = staff_client.get("/threads/", {"status": "locked"}).content.decode()
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    assert "Among the 100 scanned: 85 active, 5 locked, 10 closed." in summary


@responses.activate
def test_filtering_the_list_by_user_is_audited_like_the_user_page(staff_client):
    from dashboard.audit.models import AuditAction, AuditEvent

    upstream(headers={"x-request-id": "req_u"})
    staff_client.get("/threads/", {"user": "acme/support"})
    event = AuditEvent.objects.get()
    assert (event.action, event.end_user, event.upstream_request_id) == (
        AuditAction.VIEWED_USER_THREADS,
        "acme/support",
        "req_u",
    )


@responses.activate
def test_the_unfiltered_list_is_not_audited_as_a_user_view(staff_client):
    from dashboard.audit.models import AuditEvent

    upstream()
    staff_client.get("/threads/")
    assert not AuditEvent.objects.exists()


@responses.activate
def test_a_bad_cursors_way_out_keeps_the_valid_filters(staff_client):
    response = staff_client.get(
        "/threads/", {"after": "bad cursor", "status": "locked", "limit": "50"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'href="/threads/?status=locked&amp;limit=50">Go to the first page</a>' in body


@responses.activate
def test_the_user_fields_help_text_is_shown_and_described(staff_client):
    upstream()
    body = staff_client.get("/threads/").content.decode()
    assert 'aria-describedby="id_user_helptext"' in body
    assert 'id="id_user_helptext">The exact user id' in body


# --- What the toolbar says --------------------------------------------------------------


@responses.activate
def test_export_buttons_hide_on_an_empty_result(staff_client):
    upstream([])
    body = staff_client.get("/users/nobody/").content.decode()
    assert "No threads." in body
    assert "Export this page as CSV" not in body and "Export all matching" not in body


@responses.activate
def test_export_buttons_show_when_there_are_rows(staff_client):
    upstream()
    body = staff_client.get("/threads/").content.decode()
    assert "Export this page as CSV" in body and "Export all matching" in body


@responses.activate
def test_a_status_filtered_page_says_what_it_shows_without_zero_chips(staff_client):
    locked = {"type": "locked", "reason": None}
    upstream([thread_json(id=f"cthr_{n}", status=locked) for n in range(3)])
    body = staff_client.get("/threads/?status=locked").content.decode()
    toolbar = body[
        body.index('<div class="table-toolbar">') : body.index('<div class="table-wrap">')
    ]
    assert "3 locked threads shown." in toolbar
    assert 'class="count' not in toolbar


@responses.activate
def test_an_unfiltered_page_counts_each_status(staff_client):
    upstream([thread_json(id="cthr_a"), thread_json(id="cthr_l", status={"type": "locked"})])
    body = staff_client.get("/threads/").content.decode()
    assert "2 threads shown:" in body
    assert '"count count-active">1 active<' in body and '"count count-locked">1 locked<' in body


# --- Clean URLs, position, the filters' words ---------------------------------------------


@pytest.mark.parametrize(
    ("params", "clean"),
    [
        # What a form sends without JavaScript: every field, blank or at its default.
        (
            {
                "tz": "Europe/Berlin",
                "q": "",
                "user": "bob",
                "status": "",
                "created_from": "",
                "created_to": "",
                "sort": "-created",
                "limit": "20",
            },
            "/threads/?user=bob",
        ),
        (
            {"user": "", "status": "locked", "sort": "created"},
            "/threads/?status=locked&sort=created",
        ),
        ({"user": "", "status": "", "sort": "-created", "limit": "20", "tz": "UTC"}, "/threads/"),
        # The zone goes with the dates, and stays with them.
        (
            {"created_from": "2025-01-02", "created_to": "", "tz": "Europe/Berlin", "limit": "20"},
            "/threads/?created_from=2025-01-02&tz=Europe%2FBerlin",
        ),
        # A page number, even 1, asks the index: it stays.
        ({"page": "1", "limit": "20"}, "/threads/?page=1"),
        # An old link's order=asc is sort=created, as the app's links now write it.
        ({"order": "asc"}, "/threads/?sort=created"),
        ({"limit": "050"}, "/threads/?limit=50"),
        ({"user": "bob", "utm_source": "mail"}, "/threads/?user=bob"),
        # How a status scan runs is no filter, but it stays: without JavaScript, read whole.
        ({"status": "locked", "user": "", "scan": "all"}, "/threads/?status=locked&scan=all"),
        ({"status": "locked", "scan": ""}, "/threads/?status=locked"),
    ],
)
def test_applying_the_filters_lands_on_the_clean_url(staff_client, params, clean):
    response = staff_client.get("/threads/", params)
    assert response.status_code == 302
    assert response["Location"] == clean


def test_the_user_page_leaves_its_user_and_defaults_out_of_the_query(staff_client):
    response = staff_client.get("/users/bob/", {"user": "eve", "status": "", "limit": "20"})
    assert response["Location"] == "/users/bob/"


@pytest.mark.parametrize(
    "url",
    [
        "/threads/?user=bob&limit=50",
        "/threads/?limit=50&user=bob",  # any order: a bookmark stays as it is
        "/threads/?fresh=1&limit=20",  # a Refresh reads the page again, wherever it is
        "/threads/?status=locked&scan=all",  # the paused scan's fallback without JavaScript
    ],
)
@responses.activate
def test_a_clean_url_is_served_as_it_is(staff_client, url):
    upstream()
    assert staff_client.get(url).status_code == 200


def test_a_bad_value_is_shown_beside_its_field_not_redirected_away(staff_client):
    response = staff_client.get("/threads/", {"status": "", "limit": "500"})
    assert response.status_code == 400


@responses.activate
def test_the_user_filter_trims_surrounding_spaces_and_says_so(staff_client):
    upstream(query={"user": "user_0004", "limit": "20", "order": "desc"})
    response = staff_client.get("/threads/", {"user": " user_0004\t", "status": ""}, follow=True)
    assert response.redirect_chain == [("/threads/?user=user_0004", 302)]
    body = html.unescape(response.content.decode())
    assert "Showing “user_0004”: the spaces around it were removed." in body
    assert sent_params()["user"] == "user_0004"


@responses.activate
def test_a_user_filter_of_only_spaces_is_no_filter(staff_client):
    upstream()
    response = staff_client.get("/threads/", {"user": "   "}, follow=True)
    assert response.redirect_chain == [("/threads/", 302)]
    assert "were removed" not in response.content.decode()


@responses.activate
def test_a_trimmed_user_id_is_measured_without_its_spaces(staff_client):
    upstream()
    response = staff_client.get("/threads/", {"user": "u" * 512 + " "})
    assert response["Location"] == "/threads/?user=" + "u" * 512


@responses.activate
def test_a_user_filter_names_the_user_in_the_heading(staff_client):
    upstream()
    body = staff_client.get("/threads/?user=alice%3Cb%3E").content.decode()
    assert '<h1>Threads of <span class="user-id">alice&lt;b&gt;</span></h1>' in body
    assert "<title>Threads of alice&lt;b&gt;" in body


def test_the_heading_names_the_user_beside_another_fields_error(staff_client):
    body = staff_client.get("/threads/?user=alice&limit=0").content.decode()
    assert '<h1>Threads of <span class="user-id">alice</span></h1>' in body


def test_the_rows_menu_shows_the_size_asked_for_beside_its_error(staff_client):
    response = staff_client.get("/threads/?limit=500")
    body = response.content.decode()
    assert response.status_code == 400
    assert '<option value="500" selected>500 per page</option>' in body
    assert "Show at most 100 threads per page" in body


def test_the_rows_menu_reads_a_padded_size_as_the_size(staff_client):
    body = staff_client.get("/threads/?limit=050&status=bogus").content.decode()
    assert '<option value="50" selected>50 per page</option>' in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"user": "u" * 600}, "User ids are at most 512 characters; this one has 600."),
        ({"user": "a\x00b"}, "Remove the null character: no id, name or title has one."),
        ({"q": "ab\x00c"}, "Remove the null character: no id, name or title has one."),
        ({"sort": "size"}, "Choose a sort from the Sort menu."),
        ({"tz": "x" * 300}, "That is not a time zone name."),
        (
            {"after": "c" * 600},
            "This page cursor is too long to be an id (at most 512 characters).",
        ),
        ({"before": "a\x00"}, "Remove the null character"),
    ],
)
def test_field_errors_read_in_the_dashboards_words(staff_client, params, message):
    response = staff_client.get("/threads/", params)
    body = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert message in body
    assert "Ensure this value" not in body and "Select a valid choice" not in body
    assert "Null characters are not allowed" not in body


@pytest.mark.parametrize(
    ("params", "position"),
    [
        ({}, "Newest threads"),
        ({"sort": "created"}, "Oldest threads"),
        ({"after": "cthr_9"}, "A later page, newest first"),
        ({"after": "cthr_9", "sort": "created"}, "A later page, oldest first"),
        ({"after": "cthr_9", "status": "closed"}, "A later page, newest first, closed only"),
    ],
)
@responses.activate
def test_a_live_page_says_where_it_is_and_no_more(staff_client, params, position):
    closed = {"type": "closed", "reason": None}
    upstream([thread_json(status=closed)] if params.get("status") else None, has_more=True)
    body = staff_client.get("/threads/", params).content.decode()
    assert f'<p class="position">{position}</p>' in body
    assert "Page " not in body  # cursor paging knows no page numbers
