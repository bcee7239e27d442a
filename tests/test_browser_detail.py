"""The thread page and the delete flow in headless Chromium, against the demo upstream.

Fixtures (live server, demo upstream, Chromium, log-in) are in tests/browser_fixtures.py.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Permission

from dashboard.audit.models import AuditAction, AuditEvent
from dashboard.demo_upstream.data import generate_items

from .browser_fixtures import log_in, screenshot

pytestmark = pytest.mark.browser


def demo_thread(demo_upstream, *, needs: set[str], min_items: int = 0):
    """A demo thread whose transcript has item kinds `needs` and at least `min_items` items."""
    dataset = demo_upstream.server.store.dataset
    for thread in dataset.threads:
        items = generate_items(thread, dataset.seed)
        kinds = {item["type"].removeprefix("chatkit.") for item in items}
        if needs <= kinds and len(items) >= min_items:
            return thread, items
    raise AssertionError(f"the demo data has no thread with {needs}")


@pytest.fixture
def signed_in(page, live_dashboard, browser_staff):
    log_in(page, live_dashboard)
    return page


def serious_violations(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    for v in violations:
        print(f"  axe [{v['impact']}] {v['id']}: {v['help']}")
    return [v["id"] for v in violations if v["impact"] in ("serious", "critical")]


def test_a_title_in_the_table_opens_its_transcript(signed_in, live_dashboard):
    page = signed_in
    thread_id = page.locator("table.thread-table tbody td.col-id code").first.inner_text()
    page.locator("table.thread-table tbody td.col-title a").first.click()
    page.wait_for_load_state()
    assert page.locator(".thread-facts code.thread-id").inner_text() == thread_id
    speakers = page.locator(".transcript .speaker").all_inner_texts()
    # Every demo transcript opens with the user's message.
    assert speakers[0].lower() == "user"
    assert page.get_by_role("button", name=f"Copy thread id {thread_id}").is_visible()


def test_the_transcript_labels_turns_and_folds_tool_calls(signed_in, live_dashboard, demo_upstream):
    page = signed_in
    thread, items = demo_thread(
        demo_upstream, needs={"user_message", "assistant_message", "client_tool_call"}
    )
    page.goto(f"{live_dashboard}/threads/{thread.id}/?limit=100")
    assert page.locator(".transcript > li").count() == len(items)
    assert page.locator(".item-user .speaker").first.inner_text().lower() == "user"
    assert page.locator(".item-assistant .speaker").first.inner_text().lower() == "assistant"
    tool = page.locator(".item-tool details").first
    assert tool.get_attribute("open") is None
    # Keyboard only: focus the summary and press Enter to unfold it.
    tool.locator("summary").focus()
    page.keyboard.press("Enter")
    assert tool.get_attribute("open") is not None
    assert tool.locator("pre.json").first.is_visible()
    screenshot(page, "thread-detail")
    assert serious_violations(page) == []


def test_load_later_and_load_earlier_walk_the_transcript(signed_in, live_dashboard, demo_upstream):
    page = signed_in
    thread, items = demo_thread(demo_upstream, needs={"user_message"}, min_items=7)
    ids = [item["id"] for item in sorted(items, key=lambda i: (i["created_at"], i["id"]))]
    page.goto(f"{live_dashboard}/threads/{thread.id}/?limit=3")
    assert page.get_by_role("link", name="Load earlier").count() == 0
    page.get_by_role("link", name="Load later").click()
    page.wait_for_load_state()
    assert f"after={ids[2]}" in urlsplit(page.url).query
    page.get_by_role("link", name="Load earlier").click()
    page.wait_for_load_state()
    # Back at the start: the first page itself, at its own URL.
    assert urlsplit(page.url).query == "limit=3"
    assert page.locator(".transcript > li").count() == 3
    assert page.get_by_role("link", name="Load later").count() == 1
    assert page.get_by_role("link", name="Load earlier").count() == 0


def test_the_delete_flow_confirms_deletes_and_audits(
    signed_in, live_dashboard, browser_staff, demo_upstream
):
    page = signed_in
    browser_staff.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    thread, _ = demo_thread(demo_upstream, needs={"user_message"})
    page.goto(f"{live_dashboard}/threads/{thread.id}/")
    page.get_by_role("link", name="Delete thread…").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Delete this thread?"

    field = page.get_by_label("Type the thread id to confirm")
    field.fill(thread.id + "x")
    page.get_by_role("button", name="Delete thread").click()
    page.wait_for_load_state()
    assert "not this thread's id" in page.locator(".field-error").inner_text()
    assert (
        page.get_by_label("Type the thread id to confirm").get_attribute("aria-invalid") == "true"
    )
    screenshot(page, "delete-mismatch")

    page.get_by_label("Type the thread id to confirm").fill(thread.id)
    page.get_by_role("button", name="Delete thread").click()
    page.wait_for_url(re.compile(r"/users/.+/$"))  # back to the owner's threads
    assert page.locator(".user-id").first.inner_text() == thread.user
    assert f"Deleted thread {thread.id}." in page.locator("ul.messages").inner_text()

    page.goto(f"{live_dashboard}/threads/{thread.id}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Thread not found"
    event = AuditEvent.objects.get(action=AuditAction.DELETED_THREAD)
    assert event.thread_id == thread.id and event.upstream_request_id


def test_staff_without_the_permission_see_no_delete_button(signed_in, live_dashboard):
    page = signed_in
    page.locator("table.thread-table tbody td.col-title a").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Delete thread…").count() == 0
