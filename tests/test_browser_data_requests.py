"""The erasure flow in headless Chromium, from the user's page to done, against the demo
upstream: the dry run, the retyped id, the request's page following the job without a reload.

The job runs in a thread of its own, as a worker would run it beside the dashboard.
"""

from __future__ import annotations

import threading

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Permission
from django.db import connection

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.data_requests import services
from dashboard.data_requests.jobs import run_request
from dashboard.data_requests.models import DataRequest, RequestState
from dashboard.web.links import user_threads_url

from .browser_fixtures import log_in, screenshot

pytestmark = pytest.mark.browser

USER = "erase me/<ü>"
THREADS = 8


@pytest.fixture
def worker(monkeypatch):
    """Jobs enqueued by the pages run in a background thread, joined at teardown."""
    started: list[threading.Thread] = []

    def run(request_id: int) -> None:
        try:
            run_request(request_id)
        finally:
            connection.close()

    def enqueue(request_id: int) -> None:
        thread = threading.Thread(target=run, args=(request_id,), daemon=True)
        started.append(thread)
        thread.start()

    monkeypatch.setattr(services, "enqueue_request", enqueue)
    yield started
    for thread in started:
        thread.join(timeout=60)


def serious_violations(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [v["id"] for v in violations if v["impact"] in ("serious", "critical")]


def test_an_erasure_from_the_users_page_to_done(
    page, live_dashboard, demo_upstream, browser_staff, worker
):
    store = demo_upstream.server.store
    ids = [
        store.add(user=USER, title=f"Chat {n}", created_at=1_700_000_000 + n).id
        for n in range(THREADS)
    ]
    browser_staff.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    log_in(page, live_dashboard)

    page.goto(live_dashboard + user_threads_url(USER))
    page.get_by_role("link", name="Erase all their threads…").click()
    page.wait_for_load_state()
    assert "Dry run: nothing was deleted." in page.locator(".banner").inner_text()
    assert page.locator("table.dry-run tbody tr").count() == THREADS
    assert set(page.locator("table.dry-run code.thread-id").all_inner_texts()) == set(ids)
    assert serious_violations(page) == []
    screenshot(page, "data-request-dry-run")

    page.get_by_label("Ticket reference").fill("PRIV-2024")
    page.get_by_label("Type the user id to confirm").fill(USER + "x")
    page.get_by_role("button", name=f"Erase {THREADS} threads").click()
    page.wait_for_load_state()
    assert "not this user" in page.locator(".field-error").inner_text()
    assert not DataRequest.objects.exists()

    # Each deletion a little slow, so the page is seen following the job.
    demo_upstream.inject(mode="latency", ms=300, count=THREADS * 2)
    page.get_by_label("Type the user id to confirm").fill(USER)
    page.get_by_role("button", name=f"Erase {THREADS} threads").click()
    page.wait_for_load_state()
    progress = page.locator("#request-progress")
    assert progress.is_visible()
    page.locator(".request-progress .banner", has_text="Verified").wait_for(timeout=30_000)
    assert "Done" in page.locator(".request-state").inner_text()
    assert page.locator("td", has_text="Done").count() == THREADS
    assert serious_violations(page) == []
    screenshot(page, "data-request-done")

    request = DataRequest.objects.get()
    assert request.state == RequestState.DONE and request.ticket == "PRIV-2024"
    assert request.end_user == USER and request.dry_run_threads == THREADS
    assert store.get(ids[0]) is None
    deleted = AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD)
    assert sorted(deleted.values_list("thread_id", flat=True)) == sorted(ids)
