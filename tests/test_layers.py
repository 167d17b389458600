"""The apps read top-down: each imports only from the apps below it, and no
app imports another app's views.

From the bottom: ``config`` (settings, cache, regions, mail), ``accounts``
(users), ``couples`` (spaces, seats, the viewer), ``rituals``, ``exercises``
(which may use the ritual catalog), and ``home`` at the top, which composes
them into the dashboard, our rhythm and the export. A page that needs two
apps lives in ``home``; a lower app that must hear of a change above it gets
a signal (``couples.signals``, ``couples.receivers``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["config", "accounts", "couples", "rituals", "exercises", "home"]


def modules(app: str) -> dict[str, Path]:
    found = {}
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[dotted.removesuffix(".__init__")] = path
    return found


def imports(source: str) -> set[str]:
    """Every absolute module name the source imports, at any depth (lazy imports too)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # "from exercises import views" imports the module exercises.views
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def upward(app: str, imported: set[str]) -> set[str]:
    """The imports of a module of ``app`` that reach an app above it."""
    rank = LAYERS.index(app)
    return {
        name
        for name in imported
        if name.split(".")[0] in LAYERS and LAYERS.index(name.split(".")[0]) > rank
    }


def view_modules() -> set[str]:
    """Modules that hold a view of Tend's URLconf."""
    found = set()

    def walk(patterns) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                module = getattr(pattern.callback, "__module__", "")
                if module.split(".")[0] in LAYERS:
                    found.add(module)

    walk(get_resolver().url_patterns)
    return found


def views_of_others(module: str, imported: set[str], views: set[str]) -> set[str]:
    app = module.split(".")[0]
    return {name for name in imported if name in views and name.split(".")[0] != app}


@pytest.mark.parametrize("app", LAYERS)
def test_each_app_imports_only_from_the_apps_below_it(app):
    found = {
        module: sorted(upward(app, imports(path.read_text())))
        for module, path in modules(app).items()
    }
    assert {module: names for module, names in found.items() if names} == {}


def test_no_app_imports_another_apps_views():
    views = view_modules()
    assert {"home.views", "couples.views", "rituals.views", "exercises.views"} <= views
    found = {}
    for app in LAYERS:
        for module, path in modules(app).items():
            crossing = views_of_others(module, imports(path.read_text()), views)
            if crossing:
                found[module] = sorted(crossing)
    assert found == {}


def test_the_checks_see_a_crossing():
    """Both rules can fail: the kind of import the dashboard used to make."""
    source = "from exercises.views import dashboard_sessions\nfrom home import views\n"
    assert {"exercises.views", "home.views"} <= upward("couples", imports(source))
    assert upward("home", imports(source)) == set()
    assert views_of_others("couples.views", imports(source), view_modules()) == {
        "exercises.views",
        "home.views",
    }
