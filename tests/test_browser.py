"""The dashboard in headless Chromium, against the live server and the demo upstream.

Fixtures are in tests/browser_fixtures.py. Screenshots of the main states are saved to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from .browser_fixtures import log_in, screenshot

pytestmark = pytest.mark.browser

COLUMNS = ["title", "thread id", "user", "created", "status"]


def row_ids(page) -> list[str]:
    return page.locator("table.thread-table tbody code.thread-id").all_inner_texts()


def row_users(page) -> list[str]:
    return page.locator("table.thread-table tbody td.col-user").all_inner_texts()


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def fill_user_filter(page, value: str) -> None:
    """Type into the user filter and wait for its suggestions, which it fetches as you type:
    the test server shares one database connection between requests, so none may overlap."""
    with page.expect_response(lambda response: "/users/suggestions.json" in response.url):
        page.get_by_label("User", exact=True).fill(value)


def page_requests(page) -> list[str]:
    """Every page (document) the browser asks for from now on, redirect hops included."""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.resource_type == "document" else None)
    return asked


@pytest.fixture
def signed_in(page, live_dashboard, browser_staff):
    log_in(page, live_dashboard)
    return page


def test_staff_log_in_through_the_form_and_log_out(page, live_dashboard, browser_staff):
    page.goto(f"{live_dashboard}/threads/")
    assert "/accounts/login/" in page.url
    screenshot(page, "login")
    log_in(page, live_dashboard)
    assert urlsplit(page.url).path == "/threads/"
    assert page.get_by_role("heading", level=1).inner_text() == "All threads"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.goto(f"{live_dashboard}/threads/")
    assert "/accounts/login/" in page.url


def test_a_wrong_password_is_refused_with_a_message(page, live_dashboard, browser_staff):
    log_in(page, live_dashboard, password="not the password")
    assert "/accounts/login/" in page.url
    assert page.get_by_role("alert").is_visible()


def test_the_default_table_shows_the_newest_threads(signed_in):
    page = signed_in
    headers = page.locator("table.thread-table thead th[scope=col]").all_inner_texts()
    assert [h.strip().lower() for h in headers] == COLUMNS
    assert len(row_ids(page)) == 20
    times = page.locator("tbody time[datetime]")
    assert times.count() == 20
    stamps = [times.nth(i).get_attribute("datetime") for i in range(20)]
    assert stamps == sorted(stamps, reverse=True)
    assert page.locator("tbody .badge").count() == 20
    screenshot(page, "table")


def test_filtering_by_user_through_the_form(signed_in):
    page = signed_in
    asked = page_requests(page)
    fill_user_filter(page, "user_0004")
    page.get_by_role("button", name="Apply").click()
    # Only what is set goes in the URL (no blank status, no default sort or size), and the
    # browser asks for it straight away: no redirect hop.
    page.wait_for_url(re.compile(r"/threads/\?user=user_0004$"))
    assert [urlsplit(url).query for url in asked] == ["user=user_0004"]
    users = row_users(page)
    assert len(users) == 20
    assert set(users) == {"user_0004"}
    assert page.get_by_role("heading", level=1).inner_text() == "Threads of user_0004"


def test_a_pasted_user_id_with_spaces_is_trimmed_and_the_page_says_so(signed_in):
    page = signed_in
    fill_user_filter(page, " user_0004 ")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"/threads/\?user=user_0004$"))
    assert "the spaces around it were removed" in page.locator(".messages").inner_text()
    assert set(row_users(page)) == {"user_0004"}


def test_following_a_user_link_shows_only_that_users_threads(signed_in):
    page = signed_in
    link = page.locator("tbody td.col-user a").first
    user = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/users/"))
    assert user in page.get_by_role("heading", level=1).inner_text()
    users = row_users(page)
    assert users and set(users) == {user}
    screenshot(page, "user-table")


def test_next_and_previous_page_there_and_back(signed_in):
    page = signed_in
    first = row_ids(page)
    page.get_by_role("link", name="Next ›").click()
    page.wait_for_url(re.compile(r"after="))
    second = row_ids(page)
    assert len(second) == 20
    assert not set(first) & set(second)
    screenshot(page, "second-page")

    assert page.locator("p.position").inner_text() == "A later page, newest first"

    page.get_by_role("link", name="‹ Previous").click()
    # Back at the start, this is the first page: its own URL, no "First page" link.
    page.wait_for_url(re.compile(r"/threads/$"))
    assert row_ids(page) == first
    assert page.get_by_role("link", name="« First page").count() == 0
    assert page.locator("p.position").inner_text() == "Newest threads"


def test_the_status_filter_says_how_far_it_looked(signed_in):
    page = signed_in
    page.get_by_label("Status", exact=True).select_option("locked")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"status=locked"))
    notice = page.locator(".scan-notice").inner_text()
    match = re.search(r"(\d+|No) locked threads? among the ([\d,]+) most recent threads", notice)
    assert match, notice
    badges = page.locator("tbody .badge").all_inner_texts()
    assert badges and {b.strip() for b in badges} == {"Locked"}
    assert match.group(1) == str(len(badges))
    assert int(match.group(2).replace(",", "")) >= len(badges)
    screenshot(page, "status-locked")


def test_an_upstream_failure_shows_a_banner_and_clears(signed_in, demo_upstream, live_dashboard):
    page = signed_in
    demo_upstream.inject(mode="status", status=500)
    response = page.goto(f"{live_dashboard}/threads/")
    assert response.status == 503
    banner = page.get_by_role("alert")
    assert "The OpenAI API is unavailable" in banner.inner_text()
    assert page.locator("table.thread-table").count() == 0
    screenshot(page, "error-unavailable")

    demo_upstream.clear_faults()
    assert page.reload().status == 200
    assert len(row_ids(page)) == 20


def test_a_rate_limit_says_when_to_try_again(signed_in, demo_upstream, live_dashboard):
    page = signed_in
    demo_upstream.inject(mode="status", status=429, retry_after="30")
    response = page.goto(f"{live_dashboard}/threads/")
    assert response.status == 503
    assert response.headers["retry-after"] == "30"
    text = page.get_by_role("alert").inner_text()
    assert "rate limiting" in text
    assert "Try again in 30 seconds" in text
    screenshot(page, "error-rate-limited")


def focused(page) -> dict:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          const box = el.getBoundingClientRect();
          return {
            tag: el.tagName, id: el.id, text: (el.innerText || '').trim(),
            outlineStyle: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
            visible: box.width > 0 && box.height > 0 && box.bottom > 0
              && box.top < window.innerHeight,
          };
        }"""
    )


def tab_until(page, predicate, limit: int = 120) -> dict:
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = focused(page)
        if predicate(state):
            return state
    raise AssertionError(f"Tab never reached the element; last focus: {state}")


def assert_visibly_focused(state: dict) -> None:
    assert state["visible"], state
    assert state["outlineStyle"] != "none" and state["outlineWidth"] >= 2, state


def test_keyboard_alone_filters_and_pages(signed_in):
    page = signed_in
    state = tab_until(page, lambda s: s["id"] == "id_user")
    assert_visibly_focused(state)
    page.keyboard.type("user_0004")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"user=user_0004"))
    assert set(row_users(page)) == {"user_0004"}

    state = tab_until(page, lambda s: s["tag"] == "A" and s["text"].startswith("Next"))
    assert_visibly_focused(state)
    screenshot(page, "keyboard-focus-next")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"after="))
    assert query_of(page)["user"] == ["user_0004"]
    assert set(row_users(page)) == {"user_0004"}


def test_no_page_trips_the_content_security_policy(signed_in, live_dashboard, browser_staff):
    from django.contrib.auth.models import Permission

    browser_staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    page = signed_in
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{live_dashboard}/threads/")
    page.locator("table.thread-table tbody a").first.click()  # a thread's transcript
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").is_visible()
    for path in ("/admin/", "/admin/audit/auditevent/", "/threads/?status=locked"):
        page.goto(f"{live_dashboard}{path}")
        page.wait_for_load_state("networkidle")
    assert violations == []
