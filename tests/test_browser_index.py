"""The pages that read the thread index, in Chromium: filtering, sorting and paging an index
answer, the user filter's suggestions, and axe on each state (no violations at all).

The index is filled the real way: one full sweep of the demo upstream through the syncs.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .browser_fixtures import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def swept_index(live_dashboard, settings):
    from dashboard.thread_index.models import SyncKind, SyncOutcome, SyncTrigger
    from dashboard.thread_index.sync import run_sync

    settings.THREAD_INDEX = replace(settings.THREAD_INDEX, max_calls_per_second=1e6)
    run = run_sync(kind=SyncKind.FULL, trigger=SyncTrigger.COMMAND)
    assert run is not None and run.outcome == SyncOutcome.SUCCEEDED, run and run.error
    return run


@pytest.fixture
def signed_in(page, live_dashboard, browser_staff, swept_index):
    log_in(page, live_dashboard)
    return page


def no_violations(page, name: str) -> None:
    violations = Axe().run(page).response["violations"]
    for violation in violations:
        targets = [node["target"] for node in violation["nodes"]][:5]
        print(f"axe: {name}: [{violation['impact']}] {violation['id']} -> {targets}")
    assert violations == [], name


def shown_ids(page) -> list[str]:
    return page.locator("td.col-id code.thread-id").all_inner_texts()


def expected_ids(*, status: str, order: tuple[str, ...], limit: int = 20) -> list[str]:
    """What the database itself says the page should list (its collation decides titles)."""
    from dashboard.thread_index.models import IndexedThread

    rows = IndexedThread.objects.filter(gone_at__isnull=True, status=status).order_by(*order)
    return list(rows.values_list("thread_id", flat=True)[:limit])


def range_text(page) -> str:
    return page.locator(".summary .range").inner_text()


def test_filtering_sorting_and_paging_an_index_answer(signed_in, live_dashboard):
    page = signed_in
    page.goto(f"{live_dashboard}/threads/")
    page.get_by_label("Status", exact=True).select_option("locked")
    page.get_by_role("button", name="Apply").click()
    assert "From the index" in page.locator(".freshness").inner_text()
    locked_total = int(re.search(r"of ([\d,]+)", range_text(page)).group(1).replace(",", ""))
    assert locked_total > 20
    assert page.locator(".col-status .badge").all_inner_texts() == ["Locked"] * 20
    no_violations(page, "index answer, locked")

    # A count link applies its status.
    page.locator("a.count-closed").click()
    assert "status=closed" in page.url
    assert set(page.locator(".col-status .badge").all_inner_texts()) == {"Closed"}

    # A sortable header sorts, and says so.
    page.get_by_role("link", name="Title", exact=True).click()
    assert "sort=title" in page.url
    header = page.locator("th.col-title")
    assert header.get_attribute("aria-sort") == "ascending"
    assert shown_ids(page) == expected_ids(status="closed", order=("title_key", "id"))
    no_violations(page, "index answer, sorted by title")

    # Page numbers.
    page.goto(f"{live_dashboard}/threads/?status=locked")
    first = shown_ids(page)
    page.get_by_role("link", name="Page 2").click()
    assert "page=2" in page.url
    assert range_text(page).startswith("21–")
    assert not set(first) & set(shown_ids(page))
    assert page.get_by_role("link", name="2", exact=True).get_attribute("aria-current") == "page"
    no_violations(page, "index answer, page 2")


def test_a_title_search_through_the_form(signed_in, live_dashboard):
    page = signed_in
    page.goto(f"{live_dashboard}/threads/")
    search = page.get_by_label("Title contains")
    search.fill("ab")
    page.get_by_role("button", name="Apply").click()
    # The browser itself holds the form back (minlength), and the server says why too.
    assert search.evaluate("field => field.validity.tooShort")
    page.goto(f"{live_dashboard}/threads/?q=ab")
    assert "Search for at least 3 characters" in page.locator(".field-q").inner_text()
    no_violations(page, "search too short")
    page.get_by_label("Title contains").fill("invoice")
    page.get_by_role("button", name="Apply").click()
    titles = page.locator("td.col-title").all_inner_texts()
    assert titles and all("invoice" in title.lower() for title in titles)
    assert "q=invoice" in page.url


def test_the_user_filter_suggests_users_from_the_index(signed_in, live_dashboard):
    page = signed_in
    page.goto(f"{live_dashboard}/threads/?status=active")
    field = page.get_by_label("User", exact=True)
    field.focus()
    page.keyboard.type("user_00")
    options = page.locator("#user-suggestions option")
    options.first.wait_for(state="attached")
    suggested = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert suggested and all("user_00" in user for user in suggested)
    # Keyboard alone: take a suggestion and apply the filter.
    field.fill(suggested[0])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"user=" + re.escape(suggested[0])))
    # Applying on change may navigate once more: wait for the rows, then read them all.
    expect(page.locator("td.col-user").first).to_have_text(suggested[0])
    page.wait_for_load_state("load")
    users = set(page.locator("td.col-user").all_inner_texts())
    assert users == {suggested[0]}
    no_violations(page, "user filter with suggestions")


def test_the_users_index_sorts_pages_and_links_to_each_user(signed_in, live_dashboard):
    page = signed_in
    page.goto(f"{live_dashboard}/users/")
    no_violations(page, "users index")
    counts = [
        int(n.replace(",", "")) for n in page.locator("td.num:nth-child(2)").all_inner_texts()
    ]
    assert counts == sorted(counts, reverse=True)
    page.get_by_role("link", name="User", exact=True).click()
    users = page.locator("td.col-user").all_inner_texts()
    assert users == sorted(users)
    page.get_by_role("link", name=users[0], exact=True).click()
    assert users[0] in page.get_by_role("heading", level=1).inner_text()


def test_on_a_phone_each_user_is_a_card_and_nothing_scrolls_sideways(
    page, live_dashboard, browser_staff, swept_index
):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_dashboard)
    page.goto(live_dashboard + "/users/")
    card = page.locator("table.user-table tbody tr").first
    expect(card.locator("td.col-user a")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert card.evaluate("el => getComputedStyle(el).display") == "flex"
    assert box["height"] < 150, "a few short lines, not a column per character"
    expect(card.locator("td.num").first).to_have_attribute("data-label", "threads")
    no_violations(page, "users index on a phone")
