"""Built for all-day use, in headless Chromium: keyboard shortcuts, the dense table, cards on
phones, dark mode, the copy fallback, and axe with no violations at all in either theme.

Fixtures are in tests/browser_fixtures.py; `open_page` adds viewports, colour schemes,
permissions and init scripts to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from dashboard.demo_upstream.data import LONG_USER

from .browser_fixtures import log_in, screenshot

pytestmark = pytest.mark.browser

ROWS = "table.thread-table tbody tr"
PHONE = (390, 844)


@pytest.fixture
def open_page(browser, live_dashboard, browser_staff) -> Iterator[Callable[..., object]]:
    """Signed-in pages in fresh browser contexts; every context is closed afterwards."""
    contexts = []

    def open_(
        path: str = "/threads/",
        *,
        size: tuple[int, int] = (1440, 900),
        scheme: str = "light",
        javascript: bool = True,
        permissions: list[str] | None = None,
        init_script: str | None = None,
    ):
        context = browser.new_context(
            viewport={"width": size[0], "height": size[1]},
            color_scheme=scheme,
            java_script_enabled=javascript,
            locale="en-US",
        )
        contexts.append(context)
        context.set_default_timeout(10_000)
        if permissions:
            context.grant_permissions(permissions, origin=live_dashboard)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        log_in(page, live_dashboard)
        # goto waits for the load event, so the page's scripts are running before a test acts.
        page.goto(live_dashboard + path)
        return page

    try:
        yield open_
    finally:
        for context in contexts:
            context.close()


def path_of(page) -> str:
    return urlsplit(page.url).path


def focused_row_index(page) -> int:
    """Which table row holds the keyboard focus, or -1."""
    return page.evaluate(
        """rows => [...document.querySelectorAll(rows)]
            .findIndex(row => row.contains(document.activeElement))""",
        ROWS,
    )


def row(page, index: int):
    return page.locator(ROWS).nth(index)


def row_thread_id(page, index: int) -> str:
    return row(page, index).locator("code.thread-id").inner_text()


def active_element(page) -> dict:
    return page.evaluate(
        """() => ({tag: document.activeElement.tagName.toLowerCase(),
                   id: document.activeElement.id, name: document.activeElement.name || ""})"""
    )


def axe_violations(page, name: str) -> list[str]:
    """Every axe violation, whatever its impact."""
    violations = Axe().run(page).response["violations"]
    print(f"\naxe: {name}: {len(violations)} violation(s)")
    found = []
    for violation in violations:
        targets = [node["target"] for node in violation["nodes"]][:5]
        found.append(f"[{violation['impact']}] {violation['id']}: {targets}")
        print("  " + found[-1])
    return found


def background_luminance(page, selector: str = "html") -> float:
    """Relative luminance (WCAG) of an element's computed background colour."""
    colour = page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor")
    channels = [float(c) for c in re.findall(r"[\d.]+", colour)]
    assert len(channels) == 3 or channels[3] == 1, f"{selector} has no opaque background: {colour}"
    red, green, blue = (c / 255 for c in channels[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


# Everything that makes a page wider than the screen: the document scrolling sideways, any box
# with its own sideways scroll bar, and anything drawn past the right edge and not clipped.
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className ? "." + el.className.trim() : "");
  if (document.documentElement.scrollWidth > width) {
    found.push("document is " + document.documentElement.scrollWidth + " px wide");
  }
  const clipped = el => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (/hidden|clip/.test(getComputedStyle(up).overflowX)) { return true; }
    }
    return false;
  };
  for (const el of document.body.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") { continue; }
    if (/auto|scroll/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
      found.push(name(el) + " scrolls sideways (" + el.scrollWidth + " > " + el.clientWidth + ")");
    }
    const rect = el.getBoundingClientRect();
    if (rect.width > 1 && rect.right > width + 1 && !clipped(el)) {
      found.push(name(el) + " ends at " + Math.round(rect.right) + " px");
    }
  }
  return found;
}"""


# --- Keyboard ----------------------------------------------------------------------------


def test_slash_focuses_the_filter_s_first_field(open_page):
    page = open_page()
    page.keyboard.press("/")
    # The title search, the filter form's first field since the thread index.
    assert active_element(page)["id"] == "id_q"


def test_slash_focuses_the_thread_id_box_on_a_page_without_filters(open_page):
    page = open_page("/connection/")
    page.keyboard.press("/")
    assert active_element(page)["id"] == "open-thread-id"


def test_shortcuts_never_fire_while_typing_in_a_field(open_page):
    page = open_page()
    before = page.url
    page.keyboard.press("/")
    page.keyboard.type("jk[]?gtuc/")
    assert page.get_by_label("Title contains", exact=True).input_value() == "jk[]?gtuc/"
    assert page.url == before
    assert page.locator("dialog[open]").count() == 0
    assert focused_row_index(page) == -1
    # Esc leaves the field; then the same keys are shortcuts again.
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    assert focused_row_index(page) == 0


def test_j_and_k_move_a_visible_row_focus_and_enter_opens_the_thread(open_page):
    page = open_page()
    page.keyboard.press("j")
    assert focused_row_index(page) == 0
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert focused_row_index(page) == 1
    # The focused row is marked, not only its link's outline.
    backgrounds = page.locator(ROWS).evaluate_all(
        "rows => rows.map(row => getComputedStyle(row).backgroundColor)"
    )
    assert backgrounds[1] not in backgrounds[:1] + backgrounds[2:]
    page.keyboard.press("k")
    page.keyboard.press("k")
    assert focused_row_index(page) == 0, "k stops at the first row"
    page.keyboard.press("j")
    thread_id = row_thread_id(page, 1)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    assert page.locator(".thread-facts code.thread-id").inner_text() == thread_id


def test_back_from_a_thread_returns_the_focus_to_its_row(open_page):
    page = open_page()
    for _ in range(3):
        page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    page.go_back()
    page.wait_for_load_state()
    assert focused_row_index(page) == 2


def test_u_opens_the_focused_rows_user(open_page):
    page = open_page()
    page.keyboard.press("u")
    assert path_of(page) == "/threads/", "without a focused row, u does nothing"
    page.keyboard.press("j")
    page.keyboard.press("j")
    user = row(page, 1).locator("td.col-user").inner_text()
    page.keyboard.press("u")
    page.wait_for_url(re.compile(r"/users/"))
    assert page.get_by_role("heading", level=1).inner_text() == f"Threads of {user}"


def test_c_copies_the_focused_rows_thread_id(open_page):
    page = open_page(permissions=["clipboard-read", "clipboard-write"])
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("c")
    # The live region keeps its text; the button's "Copied" lasts only a moment.
    expect(page.locator("#live-status")).to_have_text(f"Copied {row_thread_id(page, 1)}")
    assert page.evaluate("navigator.clipboard.readText()") == row_thread_id(page, 1)
    assert focused_row_index(page) == 1, "copying leaves the focus on the row"


def test_c_on_a_thread_copies_its_id(open_page):
    page = open_page(permissions=["clipboard-read", "clipboard-write"])
    thread_id = row_thread_id(page, 0)
    row(page, 0).locator("a.row-link").click()
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    page.keyboard.press("c")
    assert page.evaluate("navigator.clipboard.readText()") == thread_id


def test_brackets_go_to_the_next_and_the_previous_page(open_page):
    page = open_page()
    first_page = row_thread_id(page, 0)
    page.keyboard.press("[")
    assert path_of(page) == "/threads/" and "before=" not in page.url, "no page before the first"
    page.keyboard.press("]")
    page.wait_for_url(re.compile(r"after="))
    assert row_thread_id(page, 0) != first_page
    page.keyboard.press("[")
    page.wait_for_url(re.compile(r"/threads/$"))  # back at the start: the first page itself
    assert row_thread_id(page, 0) == first_page


def test_g_then_t_goes_to_the_thread_list_and_g_then_c_to_the_connection(open_page, live_dashboard):
    page = open_page("/users/user_0004/")
    page.keyboard.press("g")
    page.keyboard.press("c")
    page.wait_for_url(re.compile(r"/connection/$"))
    page.keyboard.press("g")
    page.keyboard.press("t")
    page.wait_for_url(re.compile(r"/threads/$"))
    # A lone t is not the sequence.
    page.goto(live_dashboard + "/connection/")
    page.keyboard.press("t")
    assert path_of(page) == "/connection/"


def test_g_then_u_goes_to_the_users_index(open_page):
    page = open_page()
    page.keyboard.press("?")
    assert "Go to Users" in page.locator("dialog").inner_text()
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    page.keyboard.press("u")
    page.wait_for_url(re.compile(r"/users/$"))


def test_g_then_u_does_nothing_where_no_link_offers_it(open_page):
    page = open_page()
    page.evaluate("""() => document.querySelector('[data-shortcut="g u"]').remove()""")
    page.keyboard.press("g")
    page.keyboard.press("u")
    assert path_of(page) == "/threads/"


def test_question_mark_shows_every_shortcut_and_esc_closes_it(open_page):
    page = open_page()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_visible()
    listed = dialog.locator("dt").all_inner_texts()
    for keys in ["/", "j", "k", "Enter", "u", "c", "[", "]", "?", "Esc", "g then t", "g then c"]:
        assert keys in listed, keys
    # While it is open, shortcuts do not act on the page behind it.
    page.keyboard.press("j")
    assert focused_row_index(page) == -1
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    assert dialog.is_visible()
    dialog.get_by_role("button", name="Close").click()
    assert not dialog.is_visible()


def test_each_row_is_one_tab_stop(open_page):
    page = open_page()
    tab_stops = page.evaluate(
        """rows => [...document.querySelectorAll(rows)].map(row =>
            [...row.querySelectorAll("a, button, input, select, [tabindex]")]
              .filter(el => el.tabIndex >= 0).length)""",
        ROWS,
    )
    assert tab_stops == [1] * 20
    row(page, 0).locator("a.row-link").focus()
    page.keyboard.press("Tab")
    assert focused_row_index(page) == 1
    # Copy and the user link are still there for the mouse.
    assert row(page, 0).get_by_role("button", name=re.compile("^Copy thread id")).is_visible()


def test_filter_menus_apply_on_change_and_keep_the_focus(open_page):
    page = open_page()
    page.get_by_label("Status", exact=True).select_option("locked")
    page.wait_for_url(re.compile(r"status=locked"))
    assert active_element(page)["name"] == "status"
    page.get_by_label("Rows", exact=True).select_option("10")
    page.wait_for_url(re.compile(r"limit=10"))
    assert "status=locked" in page.url
    assert page.get_by_role("button", name="Apply").is_visible()


def test_without_javascript_apply_still_filters_and_no_dead_controls_show(open_page):
    page = open_page(javascript=False)
    page.get_by_label("Status", exact=True).select_option("closed")
    assert "status=" not in page.url, "nothing happens on change without JavaScript"
    page.get_by_role("button", name="Apply").click()
    # The server leaves the blank fields and the defaults out, as the app's own links do.
    page.wait_for_url(re.compile(r"/threads/\?status=closed$"))
    for name in ["Keyboard shortcuts", "Dark theme", "Compact rows"]:
        assert not page.get_by_role("button", name=name).is_visible(), name


def page_requests(page) -> list[str]:
    """The path and query of every page the browser asks for from now on, hops included."""
    asked: list[str] = []

    def note(request) -> None:
        if request.resource_type == "document":
            parts = urlsplit(request.url)
            asked.append(f"{parts.path}?{parts.query}" if parts.query else parts.path)

    page.on("request", note)
    return asked


def test_filter_forms_send_only_what_is_set_with_no_redirect_hop(open_page):
    page = open_page()
    asked = page_requests(page)
    # index.js has filled the zone, which travels only with a date.
    assert page.locator("input[name=tz]").input_value()
    page.get_by_label("Rows", exact=True).select_option("50")  # applies on change
    page.wait_for_url(re.compile(r"/threads/\?limit=50$"))
    page.get_by_label("Rows", exact=True).select_option("20")  # the default: nothing at all
    page.wait_for_url(re.compile(r"/threads/$"))
    page.get_by_label("Created from").fill("2025-01-02")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"created_from=2025-01-02"))
    assert asked[:2] == ["/threads/?limit=50", "/threads/"]
    assert len(asked) == 3
    dated = parse_qs(urlsplit(asked[2]).query)
    assert set(dated) == {"created_from", "tz"} and dated["created_from"] == ["2025-01-02"]


def test_the_users_and_audit_filter_forms_send_clean_urls_too(open_page, live_dashboard):
    grant("view_auditevent")
    page = open_page("/users/")
    asked = page_requests(page)
    page.get_by_label("User contains").fill("user_00")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"/users/\?q=user_00$"))
    page.goto(live_dashboard + "/audit/")
    page.get_by_label("Staff user").fill("browser-staff")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"/audit/\?actor=browser-staff$"))
    assert asked == ["/users/?q=user_00", "/audit/", "/audit/?actor=browser-staff"]
    # Every field can be set back to nothing: the page itself, without a bare "?".
    page.get_by_label("Staff user").fill("")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"/audit/$"))
    assert asked[-1] == "/audit/"


def test_the_delete_page_focuses_its_confirm_field_and_esc_cancels(open_page, live_dashboard):
    from django.contrib.auth.models import Permission, User

    staff = User.objects.get(username="browser-staff")
    staff.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    page = open_page()
    thread_id = row_thread_id(page, 0)
    detail = page.locator("a.row-link").first.get_attribute("href")
    page.goto(live_dashboard + detail + "delete/")
    confirm = page.get_by_label(re.compile("^Type the thread id"))
    assert active_element(page)["id"] == confirm.get_attribute("id")
    page.keyboard.type(thread_id[:6])
    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(re.escape(detail) + "$"))
    # Cancelled, not deleted: the thread is still there.
    assert page.locator(".thread-facts code.thread-id").inner_text() == thread_id


# --- Copy without the clipboard API --------------------------------------------------------

NO_CLIPBOARD = "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});"
NO_EXEC_COMMAND = "document.execCommand = () => false;"


def test_copy_without_the_clipboard_api_selects_the_id_and_says_how_to_copy_it(open_page):
    page = open_page(init_script=NO_CLIPBOARD + NO_EXEC_COMMAND)
    thread_id = row_thread_id(page, 2)
    copy = row(page, 2).locator("button.copy")
    copy.click()
    assert page.evaluate("String(window.getSelection())") == thread_id
    assert copy.inner_text() == "Press Ctrl+C"
    assert page.locator("#live-status").inner_text() == (
        "Thread id selected. Press Ctrl+C to copy it."
    )
    assert axe_violations(page, "copy hint") == []
    # The hint stays while the id is selected and goes once it is not.
    page.locator("h1").click()
    expect(copy).to_have_text("Copy")


def test_copy_without_the_clipboard_api_still_copies_through_the_selection(open_page):
    page = open_page(init_script=NO_CLIPBOARD)
    thread_id = row_thread_id(page, 0)
    copy = row(page, 0).locator("button.copy")
    copy.click()
    assert page.evaluate("String(window.getSelection())") == thread_id
    assert page.locator("#live-status").inner_text() == f"Copied {thread_id}"


# --- Density, truncation, width ------------------------------------------------------------


def row_heights(page) -> list[float]:
    return page.evaluate(
        "rows => [...document.querySelectorAll(rows)].map(r => r.getBoundingClientRect().height)",
        ROWS,
    )


def test_rows_are_one_line_and_the_density_toggle_is_remembered(open_page):
    page = open_page("/threads/?limit=100")
    compact = row_heights(page)
    assert len(compact) == 100 and max(compact) <= 34, max(compact)
    toggle = page.get_by_role("button", name="Compact rows")
    assert toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false"
    comfortable = row_heights(page)
    assert min(comfortable) >= max(compact) + 6
    page.reload()
    assert row_heights(page) == comfortable
    assert page.get_by_role("button", name="Compact rows").get_attribute("aria-pressed") == "false"


def test_long_user_ids_are_cut_short_and_shown_in_full_on_hover_and_focus(open_page):
    page = open_page(f"/users/{quote(LONG_USER, safe='')}/")
    user = row(page, 0).locator("td.col-user a")
    assert user.inner_text() == LONG_USER, "the whole id is on the page"
    assert max(row_heights(page)) <= 34
    assert user.evaluate("el => getComputedStyle(el).textOverflow") == "ellipsis"
    assert user.evaluate("el => el.scrollWidth > el.clientWidth")
    user.hover()
    assert user.get_attribute("title") == LONG_USER
    # The heading keeps the id to one line as well.
    heading_id = page.locator("h1 .user-id")
    assert heading_id.bounding_box()["height"] < 40
    heading_id.hover()
    assert heading_id.get_attribute("title") == LONG_USER
    page.keyboard.press("j")
    assert user.evaluate("el => el.scrollWidth <= el.clientWidth"), "focus shows it all"
    assert row_heights(page)[0] > 34


def test_the_title_links_to_the_thread(open_page):
    page = open_page()
    link = row(page, 0).locator("td.col-title a")
    assert link.get_attribute("href") == f"/threads/{quote(row_thread_id(page, 0), safe='')}/"


def test_the_page_and_the_transcript_use_the_screen_width(open_page):
    page = open_page()
    assert page.locator("table.thread-table").bounding_box()["width"] >= 1440 - 2 * 24 - 2
    page.locator("a.row-link").first.click()
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    widest = max(item.bounding_box()["width"] for item in page.locator(".item").all())
    assert widest >= 1440 - 2 * 24 - 2 - 40


# --- Waiting on the upstream -------------------------------------------------------------


# Playwright queries the new page once a navigation is under way, so the old page notes what
# its waiting notice said in sessionStorage, which the next page of the same tab can read.
NOTE_WAITING = """
new MutationObserver(() => {
  const notice = document.getElementById("page-wait");
  if (notice && !notice.hidden) { sessionStorage.setItem("waited", notice.textContent); }
}).observe(document, {childList: true, subtree: true, characterData: true, attributes: true});
"""


def test_a_slow_status_scan_says_it_is_scanning_at_once(open_page, demo_upstream):
    page = open_page(init_script=NOTE_WAITING)
    assert page.evaluate("sessionStorage.getItem('waited')") is None
    demo_upstream.inject(mode="latency", ms=1500, count=3)
    page.get_by_label("Status", exact=True).select_option("locked")  # applies on change
    page.wait_for_url(re.compile(r"status=locked"))
    waited = page.evaluate("sessionStorage.getItem('waited')")
    assert waited and waited.startswith("Scanning the ChatKit API for matching threads")
    assert page.locator("#page-wait").count() == 0, "the new page shows no stale notice"


# --- Transcript tools --------------------------------------------------------------------


def open_transcript_with_folded_items(open_page, **options):
    """The first thread on the list whose transcript has folded items (tool calls, tasks)."""
    page = open_page("/threads/?limit=100", **options)
    links = page.locator("a.row-link").evaluate_all("all => all.map(a => a.href)")
    for link in links:
        page.goto(link)
        if page.locator(".transcript details").count() >= 2:
            return page
    raise AssertionError("no demo transcript with two folded items on the first 100 threads")


def test_expand_all_and_collapse_all_fold_every_item(open_page):
    page = open_transcript_with_folded_items(open_page)
    folded = page.locator(".transcript details")
    page.get_by_role("button", name="Expand all").click()
    assert folded.evaluate_all("all => all.every(d => d.open)")
    expect(page.locator("#live-status")).to_have_text(re.compile(r"^Expanded \d+ items\.$"))
    page.get_by_role("button", name="Collapse all").click()
    assert folded.evaluate_all("all => all.every(d => !d.open)")


def test_a_messages_copy_button_copies_its_text_and_its_link_points_at_it(open_page):
    page = open_transcript_with_folded_items(
        open_page, permissions=["clipboard-read", "clipboard-write"]
    )
    message = page.locator(".item-user").first
    message.get_by_role("button", name="Copy the text of this user message").click()
    expect(page.locator("#live-status")).to_have_text("Copied the message.")
    texts = message.locator(".message-text .text").all_inner_texts()
    assert page.evaluate("navigator.clipboard.readText()") == "\n\n".join(texts)
    message.get_by_role("link", name="Link to this user message").click()
    assert urlsplit(page.url).fragment == message.get_attribute("id")
    assert message.evaluate("el => el.matches(':target')")


def test_newest_first_reverses_the_transcript(open_page):
    page = open_transcript_with_folded_items(open_page)
    oldest = page.locator(".transcript > li").evaluate_all("all => all.map(li => li.id)")
    page.get_by_role("link", name="Newest first").click()
    page.wait_for_url(re.compile(r"order=desc"))
    newest = page.locator(".transcript > li").evaluate_all("all => all.map(li => li.id)")
    assert newest == list(reversed(oldest))
    assert page.get_by_role("link", name="Newest first").get_attribute("aria-current") == "true"


def test_jump_to_latest_brings_the_last_item_into_view(open_page):
    page = open_transcript_with_folded_items(open_page, size=PHONE)
    last = page.locator(".transcript > li").last
    assert not last.evaluate("el => el.getBoundingClientRect().top < innerHeight")
    page.get_by_role("link", name="Jump to latest").click()
    expect(last).to_be_in_viewport()


# --- Phones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/threads/?limit=100", f"/users/{quote(LONG_USER, safe='')}/", "TRANSCRIPT"],
    ids=["list", "long user", "transcript"],
)
def test_nothing_scrolls_sideways_at_390_px(open_page, live_dashboard, path):
    page = open_page(size=PHONE)
    if path == "TRANSCRIPT":
        page.locator("a.row-link").first.click()
        page.wait_for_url(re.compile(r"/threads/cthr_"))
        page.locator(".item details").evaluate_all("all => all.forEach(d => (d.open = true))")
    else:
        page.goto(live_dashboard + path)
    assert page.evaluate(SIDEWAYS) == []


def grant(codename: str) -> None:
    from django.contrib.auth.models import Permission, User

    staff = User.objects.get(username="browser-staff")
    staff.user_permissions.add(Permission.objects.get(codename=codename))


def test_the_audit_page_does_not_scroll_sideways_at_390_px(open_page):
    grant("view_auditevent")
    page = open_page(size=PHONE)
    page.locator("a.row-link").first.click()  # viewing a thread leaves an audit record
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(re.compile(r"/audit/$"))
    assert page.locator("table.audit-table tbody tr").count() >= 1
    assert page.evaluate(SIDEWAYS) == []
    screenshot(page, "phone-audit")


def test_the_audit_page_fits_1440_px_and_g_a_opens_it(open_page):
    grant("view_auditevent")
    page = open_page()
    page.locator("a.row-link").first.click()
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    page.keyboard.press("g")
    page.keyboard.press("a")
    page.wait_for_url(re.compile(r"/audit/$"))
    expect(page.locator("table.audit-table tbody tr").first).to_contain_text("Viewed a thread")
    assert page.evaluate(SIDEWAYS) == []
    # Shown in the browser's zone, with the zone named (en-US, the context's locale: "UTC").
    assert re.search(r"[A-Z]{2,5}|GMT", page.locator("td[data-label=When] time").first.inner_text())


def test_below_700_px_each_thread_is_a_card_under_a_compact_header(open_page):
    page = open_page(size=PHONE)
    # Brand, account, the open box and seven destinations: three short rows, an eighth of the
    # screen (it took a quarter before the phone layout).
    assert page.locator("header.site-header").bounding_box()["height"] <= PHONE[1] * 0.13
    card = row(page, 0)
    assert card.evaluate("el => getComputedStyle(el).display") == "grid"
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0]
    for cell in ["td.col-title", "td.col-status .badge", "td.col-user", "td.col-created"]:
        part = card.locator(cell)
        assert part.is_visible(), cell
        inside = part.bounding_box()
        assert (
            box["y"] <= inside["y"] and inside["y"] + inside["height"] <= box["y"] + box["height"]
        )
    assert not card.locator("td.col-id").is_visible()
    screenshot(page, "phone-list")


def test_on_a_phone_the_filters_fold_to_one_line_that_says_what_is_applied(open_page):
    page = open_page("/threads/?status=closed&limit=50", size=PHONE)
    toggle = page.locator("[data-toggle-filters]")
    expect(toggle).to_have_text(re.compile(r"Filters\s+Status Closed · Rows 50 per page"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    status = page.get_by_label("Status", exact=True)
    expect(status).to_be_hidden()
    assert page.locator("form.filters").bounding_box()["height"] < 60, "one line"

    toggle.click()
    expect(status).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    status.select_option("locked")  # applies on change; the new page keeps the menu open
    page.wait_for_url(re.compile(r"status=locked"))
    expect(page.get_by_label("Status", exact=True)).to_be_focused()

    page.goto(page.url)  # a fresh page: folded again; `/` unfolds it to focus the first field
    expect(page.get_by_label("Status", exact=True)).to_be_hidden()
    page.keyboard.press("/")
    expect(page.locator("form.filters input:visible").first).to_be_focused()


def test_on_a_desktop_the_filters_never_fold(open_page):
    page = open_page("/threads/?status=closed")
    expect(page.locator("[data-toggle-filters]")).to_be_hidden()
    expect(page.get_by_label("Status", exact=True)).to_be_visible()


def test_the_empty_state_reads_in_full_on_a_phone(open_page):
    page = open_page("/users/nobody-has-this-id/", size=PHONE)
    empty = page.locator("td.empty")
    assert empty.inner_text() == "No threads."
    assert empty.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert empty.bounding_box()["x"] + empty.bounding_box()["width"] <= PHONE[0]


# --- Dark mode ---------------------------------------------------------------------------


def test_the_theme_follows_the_systems_colour_scheme(open_page):
    light = open_page(scheme="light")
    dark = open_page(scheme="dark")
    assert background_luminance(light) > 0.8
    assert background_luminance(dark) < 0.05
    assert background_luminance(dark, ".table-wrap") < 0.05
    assert dark.get_by_role("button", name="Dark theme").get_attribute("aria-pressed") == "true"


# Records <html>'s classes the moment <body> appears: set before the first paint, or not.
CLASSES_AT_BODY = """
new MutationObserver((_, observer) => {
  if (!document.body) { return; }
  window.classesAtBody = document.documentElement.className;
  observer.disconnect();
}).observe(document, {childList: true, subtree: true});
"""


def test_the_theme_toggle_overrides_the_system_and_is_remembered_without_a_flash(
    open_page, live_dashboard
):
    page = open_page(scheme="light", init_script=CLASSES_AT_BODY)
    toggle = page.get_by_role("button", name="Dark theme")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert background_luminance(page) < 0.05
    assert toggle.get_attribute("aria-pressed") == "true"
    page.goto(live_dashboard + "/connection/")
    assert background_luminance(page) < 0.05
    assert "theme-dark" in page.evaluate("window.classesAtBody")
    # Back to light, which is the system's choice: nothing is stored, the system rules again.
    page.get_by_role("button", name="Dark theme").click()
    assert background_luminance(page) > 0.8
    assert page.evaluate("localStorage.getItem('theme')") is None


# --- axe, every new page and state, both themes ------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_on_the_desktop_pages_and_states(open_page, live_dashboard, scheme):
    from django.contrib.auth.models import Permission, User

    staff = User.objects.get(username="browser-staff")
    staff.user_permissions.add(Permission.objects.get(codename="delete_thread"))
    page = open_page("/threads/?limit=100", scheme=scheme)
    found = {"list": axe_violations(page, f"list, {scheme}")}
    page.keyboard.press("j")
    found["focused row"] = axe_violations(page, f"focused row, {scheme}")
    page.get_by_role("button", name="Compact rows").click()
    found["comfortable"] = axe_violations(page, f"comfortable rows, {scheme}")
    page.keyboard.press("?")
    found["help"] = axe_violations(page, f"shortcut help, {scheme}")
    page.keyboard.press("Escape")
    page.goto(live_dashboard + "/threads/?status=locked")
    found["locked"] = axe_violations(page, f"locked filter, {scheme}")
    page.goto(live_dashboard + f"/users/{quote(LONG_USER, safe='')}/")
    found["long user"] = axe_violations(page, f"long user, {scheme}")
    page.goto(live_dashboard + "/users/nobody-has-this-id/")
    found["empty"] = axe_violations(page, f"empty, {scheme}")
    page.goto(live_dashboard + "/threads/")
    page.locator("a.row-link").first.click()
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    page.locator(".item details").evaluate_all("all => all.forEach(d => (d.open = true))")
    found["transcript"] = axe_violations(page, f"transcript, {scheme}")
    page.get_by_role("link", name="Newest first").click()
    page.wait_for_url(re.compile(r"order=desc"))
    found["newest first"] = axe_violations(page, f"transcript newest first, {scheme}")
    page.get_by_role("link", name="Delete thread…").click()
    page.wait_for_load_state()
    found["delete"] = axe_violations(page, f"delete page, {scheme}")
    page.get_by_role("button", name="Delete thread").click()
    page.wait_for_load_state()
    found["delete error"] = axe_violations(page, f"delete page with an error, {scheme}")
    page.goto(live_dashboard + "/connection/")
    found["connection"] = axe_violations(page, f"connection, {scheme}")
    assert {state: v for state, v in found.items() if v} == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", [(1440, 900), PHONE], ids=["desktop", "phone"])
def test_axe_finds_no_violations_on_the_audit_pages(open_page, live_dashboard, scheme, size):
    grant("view_auditevent")
    grant("delete_thread")
    page = open_page(size=size, scheme=scheme)
    page.locator("a.row-link").first.click()
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    thread_id = page.locator(".thread-facts code.thread-id").inner_text()
    page.get_by_role("link", name="Delete thread…").click()
    page.locator("#id_confirm_id").fill(thread_id)
    page.get_by_role("button", name="Delete thread").click()
    page.wait_for_load_state()
    page.goto(live_dashboard + "/audit/")
    found = {"audit": axe_violations(page, f"audit, {scheme}")}
    page.goto(live_dashboard + "/audit/?action=bogus&date_from=never")
    found["audit errors"] = axe_violations(page, f"audit with errors, {scheme}")
    page.goto(live_dashboard + f"/threads/{thread_id}/")
    expect(page.locator("main")).to_contain_text("deleted it from this dashboard")
    found["deleted thread"] = axe_violations(page, f"deleted thread, {scheme}")
    assert {state: v for state, v in found.items() if v} == {}
    if scheme == "dark" and size == PHONE:
        screenshot(page, "phone-deleted-thread-dark")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_on_a_phone(open_page, scheme):
    page = open_page(size=PHONE, scheme=scheme)
    found = {"list": axe_violations(page, f"phone list, {scheme}")}
    page.locator("a.row-link").first.click()
    page.wait_for_url(re.compile(r"/threads/cthr_"))
    found["transcript"] = axe_violations(page, f"phone transcript, {scheme}")
    assert {state: v for state, v in found.items() if v} == {}
    if scheme == "dark":
        screenshot(page, "phone-transcript-dark")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_on_the_login_page(browser, live_dashboard, scheme):
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(f"{live_dashboard}/accounts/login/")
        found = {"login": axe_violations(page, f"login, {scheme}")}
        page.get_by_label("Username").fill("nobody")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        found["login error"] = axe_violations(page, f"login error, {scheme}")
        assert {state: v for state, v in found.items() if v} == {}
    finally:
        context.close()


def test_axe_does_check_contrast_in_the_dark_theme(open_page):
    # Proves the dark scans above are not vacuous: too dim a grey is reported.
    page = open_page(scheme="dark")
    page.evaluate("document.documentElement.style.setProperty('--muted', '#3a3f46')")
    assert any("color-contrast" in v for v in axe_violations(page, "deliberately dim, dark"))


# --- A slow status scan, in steps ----------------------------------------------------------


@pytest.fixture
def slow_scan(settings, demo_upstream):
    """Every upstream page slow, and the scan pausing after its first: the page shows what it
    has and htmx reads the rest, a step at a time."""
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_step=0.001, time_budget=8.0)
    demo_upstream.inject(mode="latency", ms=300)


def held_step(page, held: list):
    """The scan's next step, which `page.route` holds until the test lets it through (or
    never): what the page shows meanwhile is then certain, whatever the machine's speed."""
    page.wait_for_function("() => document.getElementById('scan-next') !== null")
    for _ in range(1500):  # Playwright hands the route over while the page waits
        if held:
            return held.pop(0)
        page.wait_for_timeout(20)
    raise AssertionError("the page never asked for the scan's next step")


def test_a_slow_scan_shows_progress_and_rows_as_they_arrive_and_stops_keeping_them(
    open_page, live_dashboard, slow_scan
):
    page = open_page("/threads/")
    held: list = []
    page.route(re.compile(r"[?&]scan_from="), lambda route: held.append(route))
    page.goto(live_dashboard + "/threads/?status=locked&limit=100")
    notice = page.locator("#scan-notice")
    expect(notice.locator(".scan-progress")).to_contain_text(
        re.compile(r"Reading page 2 of at most 10… \d+ locked found so far among 100 threads\.")
    )
    first_rows = page.locator(ROWS).count()
    assert first_rows >= 1

    held_step(page, held).continue_()
    expect(notice.locator(".scan-progress")).to_contain_text(
        re.compile(r"Reading page 3 of at most 10… \d+ locked found so far among 200 threads\.")
    )
    rows_after_two_pages = page.locator(ROWS).count()
    assert rows_after_two_pages > first_rows, "the second page's matches were added"
    assert page.locator(f"{ROWS} .badge-locked").count() == rows_after_two_pages

    held_step(page, held)  # the third page is asked for; stop before it comes
    page.keyboard.press("Escape")
    stopped = notice.locator(".scan-stopped")
    expect(stopped).to_be_visible()
    expect(stopped).to_have_text(
        f"{rows_after_two_pages} locked threads among the 200 most recent threads. The scan "
        "stopped after 2 upstream pages, so there may be more further on. Scan further"
    )
    expect(notice.locator(".scan-progress")).to_be_hidden()
    expect(page.locator("#scan-next")).to_have_count(0)
    assert page.locator(ROWS).count() == rows_after_two_pages
    shown = f"{rows_after_two_pages} locked threads shown."
    expect(page.locator("#scan-shown")).to_have_text(shown)
    expect(stopped.get_by_role("link", name="Scan further")).to_have_attribute(
        "href", re.compile(r"status=locked&limit=100&after=cthr_")
    )
    expect(page.locator("#live-status")).to_contain_text("The scan stopped after 2 upstream pages")


def test_the_stop_button_stops_a_scan(open_page, live_dashboard, slow_scan):
    page = open_page("/threads/")
    held: list = []
    page.route(re.compile(r"[?&]scan_from="), lambda route: held.append(route))
    page.goto(live_dashboard + "/threads/?status=locked")
    held_step(page, held)
    page.get_by_role("button", name="Stop").click()
    stopped = page.locator("#scan-notice .scan-stopped")
    expect(stopped).to_contain_text("The scan stopped after 1 upstream page")
    expect(stopped).not_to_contain_text("did not answer")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()


def test_a_failed_step_says_so_and_keeps_what_was_found(open_page, live_dashboard, slow_scan):
    page = open_page("/threads/")
    held: list = []
    page.route(re.compile(r"[?&]scan_from="), lambda route: held.append(route))
    page.goto(live_dashboard + "/threads/?status=locked")
    shown = page.locator(ROWS).count()
    held_step(page, held).fulfill(status=503, body="busy")
    stopped = page.locator("#scan-notice .scan-stopped")
    expect(stopped).to_contain_text("The dashboard did not answer the next step of the scan.")
    assert page.locator(ROWS).count() == shown


def test_a_step_after_the_session_ended_says_to_log_in_again(open_page, live_dashboard, slow_scan):
    page = open_page("/threads/")
    held: list = []
    page.route(re.compile(r"[?&]scan_from="), lambda route: held.append(route))
    page.goto(live_dashboard + "/threads/?status=locked")
    step = held_step(page, held)
    page.context.clear_cookies()
    step.continue_()
    expect(page.locator("#scan-notice .scan-stopped")).to_contain_text(
        "your session has ended, so log in again to go on."
    )


def test_without_javascript_a_slow_scan_is_read_whole(open_page, slow_scan):
    page = open_page("/threads/?status=locked&limit=100", javascript=False)
    page.wait_for_url(re.compile(r"scan=all"))
    expect(page.locator("#scan-notice")).to_contain_text(
        "among the 1,000 most recent threads. The scan stopped after 10 upstream pages"
    )
    expect(page.locator(".scan-progress")).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_in_a_scan_under_way_or_stopped(
    open_page, live_dashboard, slow_scan, scheme
):
    page = open_page("/threads/", scheme=scheme)
    held: list = []
    page.route(re.compile(r"[?&]scan_from="), lambda route: held.append(route))
    page.goto(live_dashboard + "/threads/?status=locked")
    held_step(page, held)
    found = {"under way": axe_violations(page, f"scan under way, {scheme}")}
    page.keyboard.press("Escape")
    expect(page.locator("#scan-notice .scan-stopped")).to_be_visible()
    found["stopped"] = axe_violations(page, f"scan stopped, {scheme}")
    assert {state: v for state, v in found.items() if v} == {}
