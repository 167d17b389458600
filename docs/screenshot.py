"""Retake docs/dashboard.png, the README's screenshot of the demo couple's dashboard.

Start the development site first, then run this with the project's Python:

    PORT=8124 scripts/dev.sh &
    .venv/bin/python docs/screenshot.py http://127.0.0.1:8124
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

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
OUT = Path(__file__).resolve().parent / "dashboard.png"


def main(site: str) -> None:
    site = site.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 760})
        page.goto(site + "/accounts/login/")
        page.get_by_label("Email").fill("sam@demo.tend")
        page.get_by_label("Password").fill("tend-together")
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(site + "/")
        page.goto(site + "/")  # once more, without the "logged in" message
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT, full_page=True)
        browser.close()
    print(f"Wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
