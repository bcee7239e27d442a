"""The client's one-thread calls: retrieve, list items, delete. Upstream faked by `responses`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from dashboard.chatkit.client import ChatKitClient
from dashboard.chatkit.errors import (
    ChatKitBadResponseError,
    ChatKitNotFoundError,
    ChatKitUnavailableError,
)
from dashboard.chatkit.items import AssistantMessageItem, UserMessageItem

from .conftest import item_json, items_page_json, thread_json

KEY = "sk-test-" + "d" * 40
BASE_URL = "https://api.example.test/v1"
THREADS_URL = BASE_URL + "/chatkit/threads"
HEADERS = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "chatkit_beta=v1"}


@pytest.fixture
def client():
    return ChatKitClient(
        api_key=KEY, base_url=BASE_URL, max_retries=2, sleep=lambda s: None, time_budget=5
    )


def sent_query(call=0):
    return {k: v[0] for k, v in parse_qs(urlsplit(responses.calls[call].request.url).query).items()}


# --- get_thread -------------------------------------------------------------------------------


@responses.activate
def test_get_thread_sends_the_headers_and_returns_a_typed_thread_with_its_request_id(client):
    responses.get(
        f"{THREADS_URL}/cthr_1",
        json=thread_json(id="cthr_1", title=None, user="u1"),
        headers={"x-request-id": "req_get"},
        match=[matchers.header_matcher(HEADERS)],
    )
    thread = client.get_thread("cthr_1")
    assert (thread.id, thread.title, thread.user) == ("cthr_1", None, "u1")
    assert thread.request_id == "req_get"


@pytest.mark.parametrize(
    ("thread_id", "path"),
    [
        ("a/b", "a%2Fb"),
        ("../threads", "..%2Fthreads"),
        ("x?y=1#z", "x%3Fy%3D1%23z"),
        ("sp ace", "sp%20ace"),
        ("ü", "%C3%BC"),
    ],
)
@responses.activate
def test_every_character_of_a_thread_id_stays_in_its_path_segment(client, thread_id, path):
    responses.get(f"{THREADS_URL}/{path}", json=thread_json(id=thread_id))
    responses.get(f"{THREADS_URL}/{path}/items", json=items_page_json([]))
    responses.delete(
        f"{THREADS_URL}/{path}", json={"id": thread_id, "object": "x", "deleted": True}
    )
    client.get_thread(thread_id)
    client.list_thread_items(thread_id)
    client.delete_thread(thread_id)
    assert [urlsplit(c.request.url).path for c in responses.calls] == [
        f"/v1/chatkit/threads/{path}",
        f"/v1/chatkit/threads/{path}/items",
        f"/v1/chatkit/threads/{path}",
    ]


def test_an_empty_thread_id_is_refused_before_any_call(client):
    for call in (client.get_thread, client.list_thread_items, client.delete_thread):
        with pytest.raises(ValueError, match="empty"):
            call("")


@responses.activate
def test_a_missing_thread_is_not_found_with_the_upstream_message(client):
    responses.get(
        f"{THREADS_URL}/nope",
        status=404,
        json={"error": {"message": "No thread found with id 'nope'.", "type": "x"}},
        headers={"x-request-id": "req_404"},
    )
    with pytest.raises(ChatKitNotFoundError) as caught:
        client.get_thread("nope")
    assert caught.value.message == "No thread found with id 'nope'."
    assert caught.value.request_id == "req_404"
    assert len(responses.calls) == 1  # 404 is not retried


@responses.activate
def test_a_malformed_thread_is_a_bad_response_carrying_the_request_id(client):
    responses.get(
        f"{THREADS_URL}/cthr_1", json={"id": "cthr_1"}, headers={"x-request-id": "req_bad"}
    )
    with pytest.raises(ChatKitBadResponseError) as caught:
        client.get_thread("cthr_1")
    assert caught.value.request_id == "req_bad"


# --- list_thread_items ----------------------------------------------------------------------


@responses.activate
def test_list_items_defaults_mirror_the_api(client):
    responses.get(f"{THREADS_URL}/cthr_1/items", json=items_page_json([]))
    client.list_thread_items("cthr_1")
    assert sent_query() == {"limit": "20", "order": "desc"}


@responses.activate
def test_list_items_sends_cursors_and_returns_typed_items(client):
    items = [item_json("user_message"), item_json("assistant_message", spelling="")]
    responses.get(
        f"{THREADS_URL}/cthr_1/items",
        json=items_page_json(items, has_more=True),
        headers={"x-request-id": "req_items"},
        match=[matchers.header_matcher(HEADERS)],
    )
    page = client.list_thread_items("cthr_1", after="cthi_0", limit=2, order="asc")
    assert sent_query() == {"after": "cthi_0", "limit": "2", "order": "asc"}
    assert isinstance(page.items[0], UserMessageItem)
    assert isinstance(page.items[1], AssistantMessageItem)
    assert page.has_more and page.last_id == items[1]["id"]
    assert page.request_id == "req_items"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"limit": 101}, "limit"), ({"limit": -1}, "limit"), ({"order": "up"}, "order")],
)
def test_list_items_refuses_what_the_api_would(client, kwargs, message):
    with pytest.raises(ValueError, match=message):
        client.list_thread_items("cthr_1", **kwargs)


@responses.activate
def test_list_items_retries_a_503_then_succeeds(client):
    url = f"{THREADS_URL}/cthr_1/items"
    responses.get(url, status=503, json={"error": {"message": "busy", "type": "server"}})
    responses.get(url, json=items_page_json([item_json("task")]))
    page = client.list_thread_items("cthr_1")
    assert len(page.items) == 1 and len(responses.calls) == 2


@responses.activate
def test_a_malformed_item_fails_the_page_with_the_request_id(client):
    bad = item_json("user_message")
    del bad["content"]
    responses.get(
        f"{THREADS_URL}/cthr_1/items",
        json=items_page_json([bad]),
        headers={"x-request-id": "req_x"},
    )
    with pytest.raises(ChatKitBadResponseError) as caught:
        client.list_thread_items("cthr_1")
    assert "'content'" in caught.value.message and caught.value.request_id == "req_x"


# --- delete_thread --------------------------------------------------------------------------


@responses.activate
def test_delete_sends_a_delete_and_returns_the_confirmation(client):
    responses.delete(
        f"{THREADS_URL}/cthr_1",
        json={"id": "cthr_1", "object": "chatkit.thread.deleted", "deleted": True},
        headers={"x-request-id": "req_del"},
        match=[matchers.header_matcher(HEADERS)],
    )
    result = client.delete_thread("cthr_1")
    assert (result.id, result.deleted, result.request_id) == ("cthr_1", True, "req_del")
    assert responses.calls[0].request.method == "DELETE"


@responses.activate
def test_a_delete_failing_upstream_raises_the_typed_error(client):
    responses.delete(
        f"{THREADS_URL}/cthr_1",
        status=500,
        json={"error": {"message": "kaput", "type": "server_error"}},
        headers={"x-request-id": "req_500"},
    )
    with pytest.raises(ChatKitUnavailableError) as caught:
        client.delete_thread("cthr_1")
    assert caught.value.message == "kaput" and caught.value.request_id == "req_500"


@pytest.mark.parametrize("body", [{"id": "cthr_1"}, {"deleted": True}, {"id": 1, "deleted": 1}])
@responses.activate
def test_a_malformed_delete_confirmation_is_a_bad_response(client, body):
    responses.delete(f"{THREADS_URL}/cthr_1", json=body)
    with pytest.raises(ChatKitBadResponseError):
        client.delete_thread("cthr_1")
