"""A slow status scan in steps (threads/views.py `scan_step`, scan.py's pause): the page shows
what its first pages held, htmx asks for the rest a page at a time, and every step's figures
are the whole scan's. Without JavaScript the page reads the scan whole (`scan=all`)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.urls import reverse
from responses import matchers

from dashboard.audit.models import AuditAction, AuditEvent

from .conftest import THREADS_URL, error_json, scan_page, thread_json

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def pausing(upstream_settings):
    """Every scan pauses after its first page, whatever the machine's speed."""
    upstream_settings.CHATKIT = replace(upstream_settings.CHATKIT, status_scan_step=1e-9)
    return upstream_settings


def locked(**kw):
    return thread_json(status={"type": "locked", "reason": "abuse"}, **kw)


def upstream_pages(*pages, user=None):
    """Register consecutive upstream pages of 100, each after the previous one's last id."""
    for index, threads in enumerate(pages):
        after = pages[index - 1][-1]["id"] if index else None
        scan_page(threads, after=after, user=user, has_more=index < len(pages) - 1)


def next_step(response) -> str:
    found = re.search(r'hx-get="([^"]*)"', response.content.decode())
    return html.unescape(found.group(1)) if found else ""


def step_params(response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(next_step(response)).query).items()}


def row_ids(response) -> list[str]:
    return re.findall(r'<code class="thread-id">([^<]+)</code>', response.content.decode())


def three_pages():
    first = [thread_json(), locked(), thread_json()]
    second = [locked(), locked(), thread_json()]
    third = [thread_json(), locked()]
    return first, second, third


@responses.activate
def test_a_slow_scan_shows_its_first_page_at_once_with_its_progress(staff_client, pausing):
    first, second, third = three_pages()
    upstream_pages(first, second, third)
    response = staff_client.get("/threads/?status=locked")
    assert response.status_code == 200
    assert len(responses.calls) == 1, "the rest is the browser's next step"
    assert row_ids(response) == [first[1]["id"]]
    body = response.content.decode()
    assert "Reading page 2 of at most 10… 1 locked found so far among 3 threads." in body
    assert "1 locked thread shown." in body
    assert step_params(response) == {
        "status": "locked",
        "scan_from": first[-1]["id"],
        "scan_pages": "1",
        "scan_counts": "2.1.0.0",
        "scan_first": first[1]["id"],
    }
    assert urlsplit(next_step(response)).path == "/threads/"
    # htmx, the step's reader and the fallback without JavaScript come with the paused page.
    assert "django_htmx/htmx-2.min" in body and "js/scan.js" in body
    whole = "/threads/?status=locked&amp;scan=all"
    assert f'<meta http-equiv="refresh" content="0; url={whole}">' in body


@responses.activate
def test_without_javascript_the_page_reads_the_scan_whole(staff_client, pausing):
    first, second, third = three_pages()
    upstream_pages(first, second, third)
    response = staff_client.get("/threads/?status=locked&scan=all")
    assert len(responses.calls) == 3
    assert row_ids(response) == [first[1]["id"], second[0]["id"], second[1]["id"], third[1]["id"]]
    assert next_step(response) == ""
    assert "htmx" not in response.content.decode()
    assert "4 locked threads among all 8 threads." in response.content.decode()


@responses.activate
def test_a_fast_scan_answers_whole_and_loads_no_htmx(staff_client):
    first, second, third = three_pages()
    upstream_pages(first, second, third)
    response = staff_client.get("/threads/?status=locked")
    assert len(responses.calls) == 3
    assert next_step(response) == "" and "htmx" not in response.content.decode()


@responses.activate
def test_a_step_appends_its_rows_and_carries_the_whole_scans_figures(staff_client, pausing):
    first, second, third = three_pages()
    upstream_pages(first, second, third)
    step = next_step(staff_client.get("/threads/?status=locked"))

    response = staff_client.get(step, headers=HTMX)
    assert response.status_code == 200
    assert len(responses.calls) == 2, "a step reads only its own page"
    body = response.content.decode()
    assert row_ids(response) == [second[0]["id"], second[1]["id"]]
    assert '<tbody hx-swap-oob="beforeend:#thread-rows">' in body
    assert "Reading page 3 of at most 10… 3 locked found so far among 6 threads." in body
    assert "3 locked threads shown." in body
    assert step_params(response)["scan_pages"] == "2"
    assert step_params(response)["scan_counts"] == "3.3.0.0"
    assert "Vary" in response and "HX-Request" in response["Vary"]

    last = staff_client.get(next_step(response), headers=HTMX)
    assert row_ids(last) == [third[1]["id"]]
    body = last.content.decode()
    assert next_step(last) == "", "the list ended: no further step"
    assert "4 locked threads among all 8 threads." in body
    assert "Among the 8 scanned: 4 active, 4 locked, 0 closed." in body
    assert 'rel="next"' not in body


@responses.activate
def test_the_first_match_replaces_the_empty_row(staff_client, pausing):
    first = [thread_json(), thread_json()]
    second = [locked()]
    upstream_pages(first, second)
    page = staff_client.get("/threads/?status=locked")
    assert "None found yet; still scanning." in page.content.decode()

    response = staff_client.get(next_step(page), headers=HTMX)
    body = response.content.decode()
    assert '<tbody id="thread-rows" hx-swap-oob="true">' in body
    assert row_ids(response) == [second[0]["id"]]
    assert "1 locked thread among all 3 threads." in body


@responses.activate
def test_a_scan_that_fills_its_page_offers_the_next_from_its_last_match(staff_client, pausing):
    first = [locked(), thread_json()]
    second = [locked(), locked(), thread_json()]
    upstream_pages(first, second, [thread_json()])
    step = next_step(staff_client.get("/threads/?status=locked&limit=2"))
    response = staff_client.get(step, headers=HTMX)
    assert row_ids(response) == [second[0]["id"]]
    assert next_step(response) == ""
    assert "2 locked threads among the 3 most recent threads." in response.content.decode()
    assert f'href="/threads/?status=locked&amp;limit=2&amp;after={second[0]["id"]}" rel="next"' in (
        response.content.decode()
    )


@responses.activate
def test_a_step_the_upstream_fails_keeps_what_was_found(staff_client, pausing):
    first = [locked(), thread_json()]
    upstream_pages(first, [locked()])
    step = next_step(staff_client.get("/threads/?status=locked"))
    responses.replace(
        responses.GET,
        THREADS_URL,
        json=error_json("upstream trouble"),
        status=502,
        match=[
            matchers.query_param_matcher(
                {"limit": "100", "order": "desc", "after": first[-1]["id"]}
            )
        ],
    )
    response = staff_client.get(step, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "1 locked thread among the 2 most recent threads." in body
    assert "Reading page 2 failed:" in body
    assert next_step(response) == "", "a failed step is not retried on its own"
    assert "1 locked thread shown." in body


@responses.activate
def test_a_step_opened_as_a_page_goes_to_the_page_itself(staff_client, pausing):
    first, second, third = three_pages()
    upstream_pages(first, second, third)
    step = next_step(staff_client.get("/threads/?status=locked"))
    response = staff_client.get(step)
    assert response.status_code == 302
    assert response["Location"] == "/threads/?status=locked"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("scan_from=x&scan_pages=abc&scan_counts=1.0.0.0", "page count is a whole number"),
        ("scan_from=x&scan_pages=10&scan_counts=1.0.0.0", "within the scan&#x27;s page limit"),
        ("scan_from=x&scan_pages=1&scan_counts=1.0", "one per status"),
        ("scan_from=x&scan_pages=1", "together"),
        ("scan=everything", "whole (scan=all)"),
    ],
)
def test_a_bad_step_is_refused_in_words(staff_client, params, message):
    response = staff_client.get(f"/threads/?status=locked&{params}", headers=HTMX)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_only_a_forward_status_scan_has_steps(staff_client):
    params = "scan_from=x&scan_pages=1&scan_counts=1.0.0.0"
    full = "scan_from=x&scan_pages=1&scan_counts=0.20.0.0"
    for query in (params, f"status=locked&before=y&{params}", f"status=locked&{full}"):
        assert staff_client.get(f"/threads/?{query}", headers=HTMX).status_code == 400


@responses.activate
def test_a_users_scan_steps_are_recorded_as_viewing_their_threads(staff_client, pausing):
    first = [locked(user="u1"), thread_json(user="u1")]
    second = [locked(user="u1")]
    upstream_pages(first, second, user="u1")
    page = staff_client.get(reverse("threads:user", args=["u1"]) + "?status=locked")
    assert urlsplit(next_step(page)).path == "/users/u1/"
    assert "user" not in step_params(page)
    staff_client.get(next_step(page), headers=HTMX)
    viewed = AuditEvent.objects.filter(action=AuditAction.VIEWED_USER_THREADS, end_user="u1")
    assert viewed.count() == 2
    assert viewed.order_by("-id").first().details["scan_from"] == first[-1]["id"]
