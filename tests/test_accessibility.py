"""axe-core scans of the main pages in Chromium: no serious or critical violations.

Every violation found (any impact) is printed, so a run's output can be quoted.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from .browser_fixtures import log_in

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


def scan(page, name: str) -> list[dict]:
    results = Axe().run(page)
    violations = results.response["violations"]
    print(f"\naxe: {name}: {len(violations)} violation(s)")
    for violation in violations:
        targets = [node["target"] for node in violation["nodes"]][:5]
        print(f"  [{violation['impact']}] {violation['id']}: {violation['help']} -> {targets}")
    return [v for v in violations if v["impact"] in BLOCKING]


def test_the_login_page_has_no_serious_violations(page, live_dashboard):
    page.goto(f"{live_dashboard}/accounts/login/")
    assert scan(page, "login") == []


def test_the_login_page_with_an_error_has_no_serious_violations(
    page, live_dashboard, browser_staff
):
    log_in(page, live_dashboard, password="wrong password")
    assert scan(page, "login error") == []


def test_the_thread_table_has_no_serious_violations(page, live_dashboard, browser_staff):
    log_in(page, live_dashboard)
    assert scan(page, "table") == []


def test_a_users_table_has_no_serious_violations(page, live_dashboard, browser_staff):
    log_in(page, live_dashboard)
    page.goto(f"{live_dashboard}/users/user_0004/?status=locked")
    assert scan(page, "user table, locked") == []


def test_an_error_state_has_no_serious_violations(
    page, live_dashboard, browser_staff, demo_upstream
):
    log_in(page, live_dashboard)
    demo_upstream.inject(mode="status", status=503)
    page.goto(f"{live_dashboard}/threads/")
    assert page.get_by_role("alert").count() == 1
    assert scan(page, "upstream error") == []


def test_a_form_error_has_no_serious_violations(page, live_dashboard, browser_staff):
    log_in(page, live_dashboard)
    page.goto(f"{live_dashboard}/threads/?limit=500")
    assert scan(page, "form error") == []


@pytest.mark.parametrize(
    "path",
    ["/connection/", "/threads/open?id=a+b", "/threads/?after=cthr_gone"],
    ids=["connection", "open-thread error", "refused cursor"],
)
def test_other_pages_have_no_serious_violations(page, live_dashboard, browser_staff, path):
    log_in(page, live_dashboard)
    page.goto(f"{live_dashboard}{path}")
    assert scan(page, path) == []


def test_a_thread_transcript_and_its_delete_page_have_no_serious_violations(
    page, live_dashboard, browser_staff
):
    from django.contrib.auth.models import Permission

    browser_staff.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    log_in(page, live_dashboard)
    page.locator("table.thread-table tbody td.col-title a").first.click()
    page.wait_for_load_state()
    assert scan(page, "thread transcript") == []
    page.get_by_role("link", name="Delete thread…").click()
    page.wait_for_load_state()
    assert scan(page, "delete confirmation") == []


def test_the_scan_does_find_violations_when_there_are_some(page, live_dashboard):
    # Proves the scans above are not vacuous: a page with known faults is reported.
    page.goto(f"{live_dashboard}/accounts/login/")
    page.set_content("<html><body><img src='x.png'><input type='text'></body></html>")
    found = {v["id"] for v in scan(page, "deliberately broken")}
    assert {"image-alt", "label"} <= found
