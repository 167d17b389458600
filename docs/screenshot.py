"""Retake the README's screenshots of the demo couple's space (docs/*.png).

Start the development site first (it loads the demo couple), then run this
with the project's Python:

    PORT=8124 scripts/dev.sh &
    .venv/bin/python docs/screenshot.py http://127.0.0.1:8124

It only reads pages; the demo space is left as it was. The end-to-end tests
take a screenshot of every page, on a phone and a laptop, in light and dark,
into var/test-artifacts/pages/ (tests/e2e/test_every_page.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

# Playwright cannot download its own browsers here: use the system Chromium.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DOCS = Path(__file__).resolve().parent
# (file, page, viewport, colour scheme, whole page or the first screen)
SHOTS = [
    ("dashboard.png", "/", {"width": 1100, "height": 760}, "light", True),
    ("dashboard-phone.png", "/", {"width": 390, "height": 844}, "light", False),
    ("exercises-phone-dark.png", "/exercises/", {"width": 390, "height": 844}, "dark", False),
]


def log_in(page: Page, site: str) -> None:
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email").fill("sam@demo.tend")
    page.get_by_label("Password").fill("tend-together")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(site + "/")


def main(site: str) -> None:
    site = site.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path, viewport, scheme, whole in SHOTS:
            context = browser.new_context(
                viewport=viewport, color_scheme=scheme, reduced_motion="reduce"
            )
            page = context.new_page()
            log_in(page, site)
            page.goto(site + path)  # again, without the "logged in" message
            page.wait_for_load_state("load")
            if whole:
                # As tall as the page, so a phone's tab bar would sit at its foot.
                height = page.evaluate("document.documentElement.scrollHeight")
                page.set_viewport_size({"width": viewport["width"], "height": height})
            page.screenshot(path=DOCS / name, caret="initial")
            context.close()
            print(f"Wrote {DOCS / name}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
