"""Shared fixtures and payload builders: a test states only what differs."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace
from typing import Any

import pytest
import responses
from hypothesis import settings as hypothesis_settings

# Live-server and browser fixtures; the guard that fails any test leaking the API key.
pytest_plugins = ["tests.browser_fixtures", "tests.secret_guard", "tests.index_fakes"]

# Every property gets a few examples locally and many in CI (.ci/run sets
# HYPOTHESIS_PROFILE=ci). No deadline: a busy machine is slow, not wrong. Properties scale
# with the profile, so none sets its own max_examples.
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis_settings.register_profile("ci", max_examples=300, deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

TEST_API_KEY = "sk-test-" + "Q7vLk2" * 8
UPSTREAM = "https://chatkit.upstream.test/v1"
THREADS_URL = f"{UPSTREAM}/chatkit/threads"

_ids = itertools.count(1)


def thread_json(**overrides: Any) -> dict[str, Any]:
    """One upstream thread object, as the API sends it."""
    n = next(_ids)
    thread = {
        "id": f"cthr_{n:06d}",
        "object": "chatkit.thread",
        "created_at": 1_763_000_000 - n * 60,
        "title": f"Thread number {n}",
        "status": {"type": "active"},
        "user": "user_0001",
    }
    thread.update(overrides)
    return thread


def page_json(threads: list[dict[str, Any]], *, has_more: bool = False, **overrides: Any):
    """The list envelope around `threads`."""
    page = {
        "object": "list",
        "data": threads,
        "first_id": threads[0]["id"] if threads else None,
        "last_id": threads[-1]["id"] if threads else None,
        "has_more": has_more,
    }
    page.update(overrides)
    return page


def scan_page(
    threads: list[dict[str, Any]],
    *,
    after: str | None = None,
    before: str | None = None,
    user: str | None = None,
    has_more: bool = True,
) -> None:
    """Register the upstream page of 100 a status scan asks for next to a cursor."""
    from responses import matchers

    params = {"limit": "100", "order": "desc"}
    for name, value in (("after", after), ("before", before), ("user", user)):
        if value:
            params[name] = value
    responses.get(
        THREADS_URL,
        json=page_json(threads, has_more=has_more),
        match=[matchers.query_param_matcher(params)],
    )


def error_json(message: str = "Upstream exploded", type_: str = "server_error", code=None):
    """The upstream's error envelope (OpenAI's shape)."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def deleted_json(thread_id: str, *, deleted: bool = True) -> dict[str, Any]:
    """The upstream's answer to a deletion."""
    return {"id": thread_id, "object": "chatkit.thread.deleted", "deleted": deleted}


@pytest.fixture(autouse=True)
def upstream_settings(settings):
    """Every test talks to a fake upstream with a known key, and starts with a cold cache."""
    settings.CHATKIT = replace(settings.CHATKIT, api_key=TEST_API_KEY, base_url=UPSTREAM)
    # Retries are the client's business (tests/test_client.py); here they would only add waits.
    settings.CHATKIT = replace(settings.CHATKIT, time_budget=2.0, max_retries=0, cache_ttl=0)
    # A scan answers whole, whatever the machine's load; tests/test_scan_steps.py pauses it.
    settings.CHATKIT = replace(settings.CHATKIT, status_scan_step=0)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()
    return settings


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="support", password="correct horse battery", is_staff=True
    )


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


# --- Thread items (the transcript) -----------------------------------------------------

_ITEM_DEFAULTS: dict[str, dict[str, Any]] = {
    "user_message": {
        "content": [{"type": "input_text", "text": "Hello, I need help."}],
        "attachments": [],
        "inference_options": None,
    },
    "assistant_message": {
        "content": [{"type": "output_text", "text": "Happy to help.", "annotations": []}]
    },
    "widget": {"widget": '{"type": "Card", "children": []}'},
    "client_tool_call": {
        "status": "completed",
        "call_id": "call_1",
        "name": "lookup_order",
        "arguments": '{"order": 42}',
        "output": '{"status": "shipped"}',
    },
    "task": {"task_type": "thought", "heading": "Thinking", "summary": "Checked the order."},
    "task_group": {"tasks": [{"type": "custom", "heading": "Step 1", "summary": None}]},
}


def item_json(kind: str = "user_message", *, spelling: str = "chatkit.", **overrides: Any):
    """One upstream thread item of `kind` (type spelt `chatkit.<kind>` unless told)."""
    n = next(_ids)
    item = {
        "id": f"cthi_{n:06d}",
        "object": "chatkit.thread_item",
        "created_at": 1_763_000_000 + n,
        "thread_id": "cthr_000001",
        "type": f"{spelling}{kind}",
        **_ITEM_DEFAULTS.get(kind, {}),
    }
    item.update(overrides)
    return item


def items_page_json(items: list[dict[str, Any]], *, has_more: bool = False, **overrides: Any):
    return page_json(items, has_more=has_more, **overrides)


# --- One thread's upstream answers (register them inside @responses.activate) -------------


def upstream_thread(thread_id="cthr_1", *, http_status=200, headers=None, **fields):
    body = thread_json(id=thread_id, **fields) if http_status == 200 else error_json()
    responses.get(
        f"{THREADS_URL}/{thread_id}",
        json=body,
        status=http_status,
        headers={"x-request-id": "req_thread", **(headers or {})},
    )


def upstream_items(items, thread_id="cthr_1", *, has_more=False, status=200, **page):
    body = items_page_json(items, has_more=has_more, **page) if status == 200 else error_json()
    responses.get(
        f"{THREADS_URL}/{thread_id}/items",
        json=body,
        status=status,
        headers={"x-request-id": "req_items"},
    )


def upstream_delete(thread_id="cthr_1", *, status=200, body=None):
    body = body or (
        deleted_json(thread_id) if status == 200 else error_json("Deletion refused by upstream")
    )
    responses.delete(
        f"{THREADS_URL}/{thread_id}", json=body, status=status, headers={"x-request-id": "req_del"}
    )
