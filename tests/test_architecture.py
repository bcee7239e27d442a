"""The layers depend only downwards, and views stay thin: checked on the source, not by eye.

chatkit (the SDK) <- web (what every thread page shares) <- threads (the live pages' use
cases and views). The apps to come (thread_index, data_requests) sit beside threads and may
import web, never threads' insides.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
VIEW_MODULES = sorted((DASHBOARD / "threads").glob("*views.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(DASHBOARD.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            else:
                found.add(node.module or "")
    return found


def package_modules(name: str) -> list[Path]:
    return sorted((DASHBOARD / name).rglob("*.py"))


@pytest.mark.parametrize("path", package_modules("chatkit"), ids=lambda p: p.name)
def test_the_sdk_knows_nothing_of_the_pages(path):
    assert not {
        module
        for module in imported_modules(path)
        if module.startswith(("dashboard.web", "dashboard.threads", "dashboard.audit"))
        or module.startswith("django.views")
    }


@pytest.mark.parametrize("path", package_modules("web"), ids=lambda p: p.name)
def test_the_shared_web_layer_reaches_into_no_app_above_it(path):
    assert not {
        module
        for module in imported_modules(path)
        if module.startswith(
            ("dashboard.threads", "dashboard.audit", "dashboard.thread_index", "dashboard.data_")
        )
    }


@pytest.mark.parametrize("path", VIEW_MODULES, ids=lambda p: p.name)
def test_views_neither_record_audit_events_nor_reach_the_upstream(path):
    modules = imported_modules(path)
    assert not {m for m in modules if m.startswith(("dashboard.audit", "dashboard.chatkit.client"))}
    assert "requests" not in modules
    assert "dashboard.threads.selectors" not in modules  # views call use cases, not raw reads


@pytest.mark.parametrize("path", VIEW_MODULES, ids=lambda p: p.name)
def test_no_view_catches_upstream_errors_by_hand(path):
    tree = ast.parse(path.read_text())
    caught = {
        ast.unparse(handler.type)
        for handler in ast.walk(tree)
        if isinstance(handler, ast.ExceptHandler) and handler.type is not None
    }
    assert not {name for name in caught if "ChatKit" in name}


def test_the_view_modules_are_found():
    assert {path.name for path in VIEW_MODULES} == {
        "views.py",
        "detail_views.py",
        "export_views.py",
    }


@pytest.mark.parametrize("path", package_modules("thread_index"), ids=lambda p: p.name)
def test_the_index_hears_the_live_pages_only_through_their_signals(path):
    assert {
        module for module in imported_modules(path) if module.startswith("dashboard.threads")
    } <= {"dashboard.threads.signals"}


def test_only_the_list_use_case_and_views_know_the_index_answers():
    """The choice of source is made in threads/services.py; selectors never ask the index."""
    for path in package_modules("threads"):
        if path.name in ("services.py", "views.py", "export_views.py"):
            continue
        assert not {
            module
            for module in imported_modules(path)
            if module.startswith("dashboard.thread_index")
        }, path.name
