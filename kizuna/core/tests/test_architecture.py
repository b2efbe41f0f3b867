"""DESIGN.md's arrows: an app imports only the apps upstream of it, never the other way."""

import ast
from pathlib import Path

import kizuna

PACKAGE = Path(kizuna.__file__).parent

# DESIGN.md: core <- accounts <- crm <- tracking <- segments <- {members, content, messaging,
# support, community} <- automation <- console (shell only), api. Apps in one tier are peers and
# do not import each other.
TIERS = [
    {"core"},
    {"accounts"},
    {"crm"},
    {"tracking"},
    {"segments"},
    {"members", "content", "messaging", "support", "community"},
    {"automation"},
    {"console", "api"},
]
RANK = {app: rank for rank, tier in enumerate(TIERS) for app in tier}


def imported_modules(source: str, module: str) -> list[str]:
    """Absolute names of the modules a source file imports (relative imports resolved)."""
    names = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def violations_in(source: str, module: str) -> list[str]:
    app = module.split(".")[1]
    found = []
    for name in imported_modules(source, module):
        parts = name.split(".")
        if parts[0] != "kizuna" or len(parts) < 3 or parts[1] not in RANK or parts[1] == app:
            continue
        target = parts[1]
        if RANK[target] >= RANK[app]:
            found.append(f"{module} imports {name}: {app} may not depend on {target}")
        elif parts[2:4] == ["tests", "factories"] and ".tests." in module:
            continue  # tests build their data with the upstream app's factories
        elif parts[2] in {"views", "tests"} or any(part.startswith("_") for part in parts[2:]):
            found.append(f"{module} imports {name}: another app's views, tests or private names")
    return found


def app_modules():
    for path in sorted(PACKAGE.glob("*/**/*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if relative.parts[1] in RANK and "migrations" not in relative.parts:
            yield path, ".".join(relative.parts)


def test_every_app_of_the_package_has_a_place_in_the_arrows():
    apps = {path.parent.name for path in PACKAGE.glob("*/apps.py")}
    assert apps <= set(RANK), f"add {apps - set(RANK)} to TIERS as DESIGN.md places them"


def test_no_app_imports_against_the_arrows():
    problems = []
    for path, module in app_modules():
        problems += violations_in(path.read_text(encoding="utf-8"), module)
    assert problems == []


def test_the_check_catches_an_upstream_app_importing_a_downstream_one():
    source = "from kizuna.console.dashboard import dashboard_figures\n"
    assert violations_in(source, "kizuna.core.models") == [
        "kizuna.core.models imports kizuna.console.dashboard.dashboard_figures: "
        "core may not depend on console"
    ]


def test_the_check_catches_relative_imports_and_imports_of_another_apps_views():
    assert violations_in("from ..console import views\n", "kizuna.accounts.models")
    assert violations_in("from kizuna.core.views import site\n", "kizuna.console.views")
    assert violations_in("from kizuna.core import models\n", "kizuna.console.views") == []
    assert violations_in("from kizuna.accounts.tests import factories\n", "kizuna.crm.views")
    factories = "from kizuna.accounts.tests.factories import UserFactory\n"
    assert violations_in(factories, "kizuna.crm.tests.test_x") == []
