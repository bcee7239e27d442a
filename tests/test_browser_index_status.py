"""The index status page in Chromium: readable, accessible, and "Sync now" works by keyboard."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.contrib.auth.models import Permission

from dashboard.thread_index.models import SyncKind, SyncRun, SyncTrigger
from dashboard.thread_index.sync import run_sync

from .browser_fixtures import log_in, screenshot
from .test_accessibility import scan

pytestmark = pytest.mark.browser


@pytest.fixture
def synced(live_dashboard, demo_settings, browser_staff):
    demo_settings.THREAD_INDEX = replace(demo_settings.THREAD_INDEX, max_calls_per_second=1e6)
    browser_staff.user_permissions.add(Permission.objects.get(codename="start_sync"))
    for kind in (SyncKind.INCREMENTAL, SyncKind.RECENT):
        run_sync(kind=kind, trigger=SyncTrigger.COMMAND)
    return live_dashboard


def test_the_index_page_shows_the_syncs_and_has_no_serious_violations(page, synced):
    log_in(page, synced)
    page.goto(f"{synced}/index/")
    assert page.get_by_role("heading", name="Thread index").is_visible()
    assert "2,400" in page.get_by_role("region", name="Threads indexed").inner_text()
    screenshot(page, "index-status")
    assert scan(page, "index status") == []


def test_sync_now_by_keyboard_runs_a_sweep(page, synced):
    log_in(page, synced)
    page.goto(f"{synced}/index/")
    button = page.get_by_role("button", name="Full sweep")
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Full sweep requested" in page.locator(".messages").inner_text()
    # huey runs in immediate mode in tests: the sweep ran during the request.
    assert SyncRun.objects.filter(kind="full", trigger="staff").exists()


def test_on_a_phone_the_index_page_scrolls_its_tables_not_itself(page, synced):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, synced)
    page.goto(f"{synced}/index/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    runs = page.get_by_role("region", name="Recent runs table")
    assert runs.evaluate("el => el.scrollWidth > el.clientWidth"), "the table scrolls within"
    runs.focus()  # reachable by keyboard, so arrow keys scroll it
    assert runs.evaluate("el => el === document.activeElement")
    assert scan(page, "index status on a phone") == []
