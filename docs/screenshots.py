"""Retake the README's screenshots from a running `make demo`: `make screenshots`.

Desktop (1440 x 900, light), phone (390 x 844) and dark, of the locked threads as a support
engineer opens them, once the demo's thread index has finished its first sweep. Uses
Debian's Chromium, like the browser tests; never downloads a browser.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
PAGE = "/threads/?status=locked"
SHOTS = [
    # (file, viewport, colour scheme)
    ("screenshot.png", (1440, 900), "light"),
    ("screenshot-mobile.png", (390, 844), "light"),
    ("screenshot-dark.png", (1440, 900), "dark"),
]


def log_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/threads/")


def wait_for_the_index(page, base_url: str, *, timeout: float = 300) -> None:
    """Until the locked list comes from the index: its exact counts are the point."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        page.goto(base_url + PAGE)
        if page.locator(".source-index").count():
            return
        time.sleep(5)
    sys.exit("The demo's thread index did not finish its first sweep in time.")


def main(base_url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            for name, (width, height), scheme in SHOTS:
                context = browser.new_context(
                    viewport={"width": width, "height": height},
                    color_scheme=scheme,
                    locale="en-US",
                )
                page = context.new_page()
                log_in(page, base_url)
                wait_for_the_index(page, base_url)
                page.screenshot(path=str(DOCS / name))
                print(f"docs/{name}")
                context.close()
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
