"""The pages a member of a space opens, taken from the URLconf through the access matrix.

``tests/test_access_matrix.py`` must list every route, so a page added to the
app shows up here by itself: the reachability crawl and the every-page
browser test then cover it without being told.
"""

from __future__ import annotations

from tests.test_access_matrix import MATRIX

# GET routes a member can load that are not pages to navigate to.
NOT_PAGES = {
    "exercise_poll": "an htmx fragment the session page polls",
    "exercise_waiting": "an htmx fragment the dashboard polls",
    "exercise_stream": "the session page's event stream",
    "exercise_waiting_stream": "the dashboard's event stream",
    "ritual_preview": "an htmx fragment inside the ritual form",
}

# Member routes that answer with a file rather than a page.
DOWNLOADS = {"export_download": "everything I wrote, as a JSON download"}


def member_pages() -> set[str]:
    """Route names of every page a member opens (signed email links and the
    invitee's invitation page are not theirs to browse)."""
    return {
        name
        for name, route in MATRIX.items()
        if route.method == "get" and route.member == 200 and not route.signed
    } - set(NOT_PAGES)
