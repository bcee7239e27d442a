"""The demo upstream must be a faithful ChatKit stand-in, or dashboard tests prove nothing.

These tests hold it to the published contract (paths, parameters and bounds, cursor
paging, OpenAI's error envelope) against a deliberately naive model, parse its answers
with OpenAI's own Python SDK in strict validation mode, check that its data has the
awkward cases the dashboard must survive at any size, and exercise every fault, the
control endpoint and live mode. Where the SDK already checks something (shapes, a
full walk, retrieve), the raw-HTTP tests do not check it again.

Servers run in-process on free ports and are closed even when a test fails.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openai
import pytest
import requests
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.beta.chatkit.chatkit_thread import (
    ChatKitThread,
    StatusActive,
    StatusClosed,
    StatusLocked,
)
from openai.types.beta.chatkit.chatkit_thread_assistant_message_item import (
    ChatKitThreadAssistantMessageItem,
)
from openai.types.beta.chatkit.chatkit_thread_item_list import (
    DataChatKitClientToolCall,
    DataChatKitTask,
    DataChatKitTaskGroup,
)
from openai.types.beta.chatkit.chatkit_thread_user_message_item import (
    ChatKitThreadUserMessageItem,
)
from openai.types.beta.chatkit.chatkit_widget_item import ChatKitWidgetItem

from dashboard.demo_upstream import data, transcripts
from dashboard.demo_upstream.data import HARD_USERS, LONG_USER, Dataset, Thread, make_dataset
from dashboard.demo_upstream.live import LiveActivity
from dashboard.demo_upstream.server import DemoUpstreamServer, serve_in_thread
from dashboard.demo_upstream.store import SortedPairs, ThreadStore, paginate
from dashboard.demo_upstream.validation import ListParams, mask_key

KEY = "test-key-0123456789abcdWXYZ"
HEADERS = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "chatkit_beta=v1"}
REQUEST_ID = re.compile(r"req_[0-9a-f]{16,}")
ROOT = Path(__file__).resolve().parent.parent

# --- Fixtures and helpers -------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return make_dataset()


@pytest.fixture(scope="module")
def threads(dataset: Dataset) -> list[Thread]:
    """Every generated thread, materialised once for the naive model."""
    return list(dataset.threads)


@pytest.fixture(scope="module")
def upstream(dataset: Dataset) -> Iterator[str]:
    """A shared, read-only server: no test may change threads or set faults on it."""
    server, base_url = serve_in_thread(api_key=KEY, dataset=dataset)
    yield base_url
    server.close()


@pytest.fixture
def fresh(dataset: Dataset) -> Iterator[tuple[DemoUpstreamServer, str]]:
    """A private server for destructive or fault-injecting tests."""
    server, base_url = serve_in_thread(api_key=KEY, dataset=dataset)
    yield server, base_url
    server.close()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def root_of(base_url: str) -> str:
    return base_url.removesuffix("/v1")


def host_port(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    return host, int(port)


def list_threads(http: requests.Session, base_url: str, **params: Any) -> dict[str, Any]:
    response = http.get(f"{base_url}/chatkit/threads", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def ids_of(page: dict[str, Any]) -> list[str]:
    return [row["id"] for row in page["data"]]


def assert_error(
    response: requests.Response,
    status: int,
    *,
    param: str | None = None,
    code: Any = ...,  # ... : any code
    error_type: str = "invalid_request_error",
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == error_type
    assert error["param"] == param
    if code is not ...:
        assert error["code"] == code
    return error


def expected_page(
    threads: Iterable[Thread],
    *,
    user: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
) -> tuple[list[str], bool]:
    """A deliberately naive (O(n)) model of OpenAI's cursor paging, to check the server by."""
    everything = list(threads)
    by_id = {t.id: t for t in everything}
    ordered = sorted(
        (t for t in everything if user is None or t.user == user),
        key=lambda t: t.key,
        reverse=order == "desc",
    )

    def comes_after(a: tuple[int, str], b: tuple[int, str]) -> bool:
        return a > b if order == "asc" else a < b

    window = ordered
    if after is not None:
        window = [t for t in window if comes_after(t.key, by_id[after].key)]
    if before is not None:
        window = [t for t in window if comes_after(by_id[before].key, t.key)]
    page = window[max(0, len(window) - limit) :] if before and not after else window[:limit]
    return [t.id for t in page], len(window) > limit


def walk(http: requests.Session, base_url: str, **params: Any) -> list[dict[str, Any]]:
    """Every thread, following `after=last_id` while has_more, checking each page's envelope."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = list_threads(http, base_url, **params, **({"after": cursor} if cursor else {}))
        assert page["object"] == "list"
        if page["data"]:
            assert page["first_id"] == page["data"][0]["id"]
            assert page["last_id"] == page["data"][-1]["id"]
        seen.extend(page["data"])
        if not page["has_more"]:
            return seen
        assert len(page["data"]) == params.get("limit", 20)
        cursor = page["last_id"]


def control(base_url: str, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, root_of(base_url) + "/__control" + path, json=body, timeout=10)


def set_fault(base_url: str, **spec: Any) -> dict[str, Any]:
    response = control(base_url, "POST", "/faults", spec)
    assert response.status_code == 200, response.text
    return response.json()["fault"]


def wait_until_taken(base_url: str) -> None:
    """Until a request in flight has taken the fault (so the next request gets none)."""
    deadline = time.monotonic() + 30
    while control(base_url, "GET", "/faults").json()["fault"] is not None:
        assert time.monotonic() < deadline, "no request took the fault"
        time.sleep(0.01)


def wait_for_a_live_thread_on_top(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The newest thread, once live mode has added one newer than any generated thread."""
    deadline = time.monotonic() + 30
    while True:
        page = requests.get(f"{base_url}/chatkit/threads?limit=1", headers=headers).json()
        if page["data"][0]["created_at"] > data.BASE_TIMESTAMP:
            return page["data"][0]
        assert time.monotonic() < deadline, page
        time.sleep(0.05)


def raw_request(base_url: str, path: str, *, timeout: float = 10) -> socket.socket:
    """A socket that has sent one authenticated GET; the caller reads and closes it."""
    sock = socket.create_connection(host_port(base_url), timeout=timeout)
    headers = "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: demo\r\n{headers}\r\n".encode())
    return sock


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The status line and headers, and whatever body bytes came with them."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, raw
        raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    return head, rest


def closes_promptly(server: DemoUpstreamServer) -> bool:
    closer = threading.Thread(target=server.close)
    closer.start()
    closer.join(timeout=20)  # a hang would last the fault's minutes, not seconds
    return not closer.is_alive()


# --- The dataset ------------------------------------------------------------------


def test_dataset_size_users_and_ids(dataset: Dataset, threads: list[Thread]) -> None:
    assert len(dataset) == data.DEFAULT_COUNT >= 2000
    assert len(dataset.users) >= 50
    ids = [t.id for t in threads]
    assert len(set(ids)) == len(ids)
    assert all(data.THREAD_ID.fullmatch(thread_id) for thread_id in ids)


def test_the_index_is_the_list_order_and_ids_lead_back_to_it(
    dataset: Dataset, threads: list[Thread]
) -> None:
    keys = [t.key for t in threads]
    assert keys == sorted(keys)  # index 0 oldest, ties in id order too
    assert [t.index for t in threads] == list(range(len(dataset)))
    assert all(dataset.index_of(t.id) == t.index for t in threads)
    assert dataset.by_id[threads[7].id] == threads[7] and threads[7].id in dataset.by_id
    for stranger in ["cthr_" + "0" * 32, threads[7].id[:-1] + "x", threads[7].id.upper(), ""]:
        assert dataset.index_of(stranger) is None and stranger not in dataset.by_id
    assert dataset.threads[-1] == threads[-1] and dataset.threads[:3] == threads[:3]


@given(value=st.integers(0, 2**32 - 1), key=st.integers(0, 2**32 - 1))
def test_the_id_permutation_is_a_bijection(value: int, key: int) -> None:
    assert data.unscramble(data.scramble(value, key), key) == value


def test_dataset_is_deterministic_and_seeded() -> None:
    first, second = Dataset(300, 11), Dataset(300, 11)
    assert list(first.threads) == list(second.threads)
    assert first.items_for(first.threads[5]) == second.items_for(second.threads[5])
    assert list(Dataset(300, 12).threads) != list(first.threads)


def test_dataset_statuses_titles_and_reasons(threads: list[Thread]) -> None:
    statuses = Counter(t.status_type for t in threads)
    n = len(threads)
    assert abs(statuses["active"] / n - 0.85) < 0.03
    assert abs(statuses["closed"] / n - 0.10) < 0.03
    assert abs(statuses["locked"] / n - 0.05) < 0.02
    assert abs(sum(t.title is None for t in threads) / n - 0.08) < 0.03
    ended = [t for t in threads if t.status_type != "active"]
    assert 0.2 < sum(t.reason is None for t in ended) / len(ended) < 0.4
    titles = {t.title for t in threads}
    assert "<script>alert(1)</script>" in titles
    assert '"quotes" & <b>tags</b>' in titles
    assert "" in titles  # empty, which is not null
    assert any(title and not title.isascii() for title in titles)
    assert any(title and re.search("[\u0600-\u06ff]", title) for title in titles)  # RTL
    assert any(title and re.search("[\u3040-\u30ff\u4e00-\u9fff]", title) for title in titles)
    assert any(title and any(ord(ch) > 0xFFFF for ch in title) for title in titles)  # emoji


def test_dataset_time_span_and_ties(threads: list[Thread]) -> None:
    created = [t.created_at for t in threads]
    assert data.BASE_TIMESTAMP - data.SPAN_SECONDS <= min(created)
    assert max(created) <= data.BASE_TIMESTAMP
    assert max(created) - min(created) > 100 * 24 * 3600
    # Some threads share a timestamp, so only (created_at, id) orders them.
    assert len(set(created)) < len(created)


def test_dataset_hard_users(dataset: Dataset, threads: list[Thread]) -> None:
    users = set(dataset.users)
    assert set(HARD_USERS) <= users
    for needle in (" ", "/", "%", "#", "&", "@", "?", "+"):
        assert any(needle in user for user in users), needle
    assert "ユーザー" in users and "josé" in users
    assert len(LONG_USER) == 512 and LONG_USER in users
    assert all(dataset.thread_counts[user] >= data.MIN_THREADS_PER_HARD_USER for user in HARD_USERS)
    assert sum(re.fullmatch(r"user_\d{4}", user) is not None for user in users) >= 50
    assert Counter(t.user for t in threads) == dataset.thread_counts
    assert threads[-1].user in HARD_USERS  # the newest page shows a hard user at once


def test_a_million_threads_page_filter_and_find_like_any_other() -> None:
    big = make_dataset(data.MAX_COUNT)
    store = ThreadStore(big)
    newest = json.loads(store.list_threads(ListParams(limit=100)))
    assert ids_of(newest) == [
        big.thread_id(i) for i in range(data.MAX_COUNT - 1, data.MAX_COUNT - 101, -1)
    ]
    oldest = json.loads(store.list_threads(ListParams(limit=3, order="asc")))
    assert oldest["data"] == [big.thread(i).to_dict() for i in range(3)]
    middle = big.threads[500_000]
    assert store.get(middle.id) == middle
    after = json.loads(store.list_threads(ListParams(after=middle.id, limit=2)))
    assert ids_of(after) == [big.thread_id(499_999), big.thread_id(499_998)]
    user = HARD_USERS[3]
    own = json.loads(store.list_threads(ListParams(user=user, limit=100, before=middle.id)))
    expected = [i for i in range(500_001, data.MAX_COUNT) if big.user_of(i) == user][:100]
    assert ids_of(own) == [big.thread_id(i) for i in reversed(expected)]
    assert big.thread_counts[user] >= 100
    with pytest.raises(ValueError):
        Dataset(data.MAX_COUNT + 1)


def test_transcripts_are_plausible_and_cover_every_type_spelling_and_field(
    dataset: Dataset, threads: list[Thread]
) -> None:
    seen: list[dict[str, Any]] = []
    for thread in threads[:120]:
        items = dataset.items_for(thread)
        assert 3 <= len(items) <= 14
        times = [item["created_at"] for item in items]
        assert times == sorted(set(times)) and times[0] >= thread.created_at
        for item in items:
            assert re.fullmatch(r"cthi_[0-9a-f]{32}", item["id"])
            assert item["object"] == "chatkit.thread_item"
            assert item["thread_id"] == thread.id
        seen += items
    spellings = Counter(item["type"] for item in seen)
    for kind in transcripts.ITEM_TYPES:
        assert spellings[f"chatkit.{kind}"] and spellings[kind], kind
    assert sum(spellings[f"chatkit.{k}"] for k in transcripts.ITEM_TYPES) > 3 * sum(
        spellings[k] for k in transcripts.ITEM_TYPES
    )

    def of(kind: str) -> list[dict[str, Any]]:
        return [item for item in seen if item["type"].removeprefix("chatkit.") == kind]

    content = [block for item in of("user_message") for block in item["content"]]
    assert {block["type"] for block in content} == {"input_text", "quoted_text"}
    attachments = [a for item in of("user_message") for a in item["attachments"]]
    assert {a["type"] for a in attachments} == {"image", "file"}
    assert {a["preview_url"] is None for a in attachments} == {True, False}
    options = [item["inference_options"] for item in of("user_message")]
    assert None in options
    assert any(o and o["tool_choice"] for o in options) and any(o and o["model"] for o in options)
    annotations = [
        a for item in of("assistant_message") for block in item["content"]
        for a in block["annotations"]
    ]  # fmt: skip
    assert {a["type"] for a in annotations} == {"file", "url"}
    for annotation in annotations:
        assert annotation["source"]["type"] == annotation["type"]
    for widget in of("widget"):
        assert isinstance(json.loads(widget["widget"]), dict)
    calls = of("client_tool_call")
    assert {c["status"] for c in calls} == {"completed", "in_progress"}
    for call in calls:
        json.loads(call["arguments"])
        assert (call["output"] is None) == (call["status"] == "in_progress")
    assert {t["task_type"] for t in of("task")} == {"custom", "thought"}
    assert any(t["heading"] is None for t in of("task"))
    grouped = [task for group in of("task_group") for task in group["tasks"]]
    assert grouped and all(set(task) == {"type", "heading", "summary"} for task in grouped)


def test_bare_spelling_is_a_deterministic_minority(dataset: Dataset, threads: list[Thread]) -> None:
    for thread in threads[:30]:
        types = {item["type"] for item in dataset.items_for(thread)}
        bare = thread.index % transcripts.BARE_SPELLING_EVERY == 3
        assert all(t.startswith("chatkit.") != bare for t in types)


# --- Paging, in isolation ----------------------------------------------------------

keys_strategy = st.lists(
    st.tuples(st.integers(0, 8), st.sampled_from("abcdefgh")), unique=True, max_size=25
).map(sorted)


@given(
    keys=keys_strategy,
    after=st.none() | st.tuples(st.integers(-1, 9), st.sampled_from("abcdefgh")),
    before=st.none() | st.tuples(st.integers(-1, 9), st.sampled_from("abcdefgh")),
    limit=st.integers(0, 30),
    order=st.sampled_from(["asc", "desc"]),
)
def test_paginate_matches_a_naive_model(
    keys: list[tuple[int, str]],
    after: tuple[int, str] | None,
    before: tuple[int, str] | None,
    limit: int,
    order: str,
) -> None:
    ordered = sorted(keys, reverse=order == "desc")

    def comes_after(a: tuple[int, str], b: tuple[int, str]) -> bool:
        return a > b if order == "asc" else a < b

    window = [k for k in ordered if after is None or comes_after(k, after)]
    window = [k for k in window if before is None or comes_after(before, k)]
    expected = window[max(0, len(window) - limit) :] if before and not after else window[:limit]
    pairs = SortedPairs([(key, key) for key in keys])
    assert paginate(pairs.walk, after=after, before=before, limit=limit, order=order) == (
        expected,
        len(window) > limit,
    )


@pytest.fixture(scope="module")
def small() -> Dataset:
    return Dataset(120, 3)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data_=st.data())
def test_pages_over_added_changed_and_deleted_threads_match_the_model(
    small: Dataset, data_: st.DataObject
) -> None:
    store = ThreadStore(small)
    live = {t.id: t for t in small.threads}
    times = sorted({t.created_at for t in live.values()})
    users = ["support team", "user_0001", small.threads[0].user]
    steps = data_.draw(
        st.lists(st.sampled_from(["add", "delete", "change"]), max_size=25), label="steps"
    )
    for step in steps:
        if step == "add":
            created_at = data_.draw(  # often tied with a generated thread's timestamp
                st.sampled_from(times) | st.integers(times[0] - 5, times[-1] + 5), label="at"
            )
            user = data_.draw(st.sampled_from(users), label="user")
            added = store.add(user=user, title="new", created_at=created_at)
            live[added.id] = added
        elif live:
            victim = data_.draw(st.sampled_from(sorted(live)), label="victim")
            if step == "delete":
                assert store.delete(victim)
                del live[victim]
            else:
                locked = dataclasses.replace(live[victim], status_type="locked", reason="why")
                assert store.change(victim, status_type="locked", reason="why") == locked
                live[victim] = locked
    assert len(store) == len(live)
    ids = sorted(live)
    cursor = st.none() | st.sampled_from(ids) if ids else st.none()
    params = {
        "user": data_.draw(st.none() | st.sampled_from(users), label="filter"),
        "after": data_.draw(cursor, label="after"),
        "before": data_.draw(cursor, label="before"),
        "limit": data_.draw(st.integers(0, 40), label="limit"),
        "order": data_.draw(st.sampled_from(["asc", "desc"]), label="order"),
    }
    page = json.loads(store.list_threads(ListParams(**params)))
    expected_ids, expected_more = expected_page(live.values(), **params)
    assert ids_of(page) == expected_ids and page["has_more"] is expected_more
    assert page["data"] == [live[thread_id].to_dict() for thread_id in expected_ids]


# --- Auth, headers, routing -------------------------------------------------------


def test_missing_key(upstream: str) -> None:
    response = requests.get(
        f"{upstream}/chatkit/threads", headers={"OpenAI-Beta": "chatkit_beta=v1"}
    )
    error = assert_error(response, 401, code=None)
    assert error["message"].startswith("You didn't provide an API key")


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer   ", f"Basic {KEY}", KEY])
def test_unusable_authorization_header_counts_as_missing(upstream: str, authorization: str) -> None:
    response = requests.get(
        f"{upstream}/chatkit/threads",
        headers={"Authorization": authorization, "OpenAI-Beta": "chatkit_beta=v1"},
    )
    assert_error(response, 401, code=None)


@pytest.mark.parametrize(
    "wrong_key", ["sk-proj-secretSECRETsecret9876", KEY + "x", "short", "k-ends-in-<b>&<"]
)
def test_wrong_key_is_refused_without_echoing_it(upstream: str, wrong_key: str) -> None:
    response = requests.get(
        f"{upstream}/chatkit/threads",
        headers={"Authorization": f"Bearer {wrong_key}", "OpenAI-Beta": "chatkit_beta=v1"},
    )
    error = assert_error(response, 401, code="invalid_api_key")
    assert error["message"].startswith("Incorrect API key provided: ")
    if len(wrong_key) > 8:
        assert wrong_key[:-4] not in response.text
    assert mask_key(wrong_key) in error["message"]
    shown = re.search(r"provided: (\S+)\.", error["message"]).group(1)
    assert len(shown.strip("*")) <= 4


def test_mask_key() -> None:
    assert mask_key("sk-abcdefghijklmnop1234") == "********1234"
    assert mask_key("tiny") == "********"
    assert mask_key("a-long-key-ending-in<>&'") == "********"


@pytest.mark.parametrize(
    ("beta", "status"),
    [
        (None, 400),
        ("chatkit_beta=v2", 400),
        ("assistants=v2", 400),
        ("assistants=v2, chatkit_beta=v1", 200),
        ("chatkit_beta=v1", 200),
    ],
)
def test_beta_header_is_required(upstream: str, beta: str | None, status: int) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    if beta is not None:
        headers["OpenAI-Beta"] = beta
    response = requests.get(f"{upstream}/chatkit/threads", headers=headers)
    if status == 400:
        error = assert_error(response, 400, code="missing_beta_header")
        assert "chatkit_beta=v1" in error["message"]
    else:
        assert response.status_code == 200


def test_every_answer_has_a_request_id_and_json_type(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    thread_id = threads[0].id
    responses = [
        http.get(f"{upstream}/chatkit/threads"),
        http.get(f"{upstream}/chatkit/threads/{thread_id}"),
        http.get(f"{upstream}/chatkit/threads/{thread_id}/items"),
        http.get(f"{upstream}/chatkit/threads", params={"limit": 101}),
        http.get(f"{upstream}/chatkit/nope"),
        http.post(f"{upstream}/chatkit/threads"),
        requests.get(f"{upstream}/chatkit/threads"),
    ]
    ids = set()
    for response in responses:
        assert response.headers["Content-Type"] == "application/json"
        assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
        assert int(response.headers["Content-Length"]) == len(response.content)
        response.json()
        ids.add(response.headers["x-request-id"])
    assert len(ids) == len(responses)


@pytest.mark.parametrize(
    "path",
    ["/v1", "/v1/", "/v1/chatkit", "/v1/chatkit/threads/", "/v1/chatkit/threadz", "/", "/v2/x",
     "/v1/chatkit/threads/cthr_x/items/extra", "/v1/chatkit/threads//items"],
)  # fmt: skip
def test_unknown_paths_are_404_json(http: requests.Session, upstream: str, path: str) -> None:
    response = http.get(root_of(upstream) + path)
    error = assert_error(response, 404)
    assert error["message"].startswith("Invalid URL")


def test_wrong_methods_are_405_json(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    thread_id = threads[0].id
    for method, path, allow in [
        ("POST", "/chatkit/threads", "GET"),
        ("DELETE", "/chatkit/threads", "GET"),
        ("PUT", f"/chatkit/threads/{thread_id}", "GET, DELETE"),
        ("PATCH", f"/chatkit/threads/{thread_id}", "GET, DELETE"),
        ("POST", f"/chatkit/threads/{thread_id}/items", "GET"),
    ]:
        response = http.request(method, upstream + path, json={"x": 1})
        assert_error(response, 405, code="method_not_allowed")
        assert response.headers["Allow"] == allow
    head = http.head(f"{upstream}/chatkit/threads")
    assert head.status_code == 405 and head.content == b""


def test_control_endpoints_do_not_exist_unless_enabled(dataset: Dataset) -> None:
    server, base_url = serve_in_thread(api_key=KEY, dataset=dataset, control=False)
    try:
        for method, path in [("GET", "/stats"), ("POST", "/faults"), ("POST", "/threads")]:
            assert_error(control(base_url, method, path, {"mode": "drop"}), 404)
        assert requests.get(f"{base_url}/chatkit/threads", headers=HEADERS).status_code == 200
    finally:
        server.close()


def test_connections_are_kept_alive(upstream: str) -> None:
    connection = HTTPConnection(*host_port(upstream), timeout=5)
    try:
        connection.request("GET", "/v1/chatkit/threads?limit=1", headers=HEADERS)
        connection.getresponse().read()
        sock = connection.sock
        for path in ["/v1/chatkit/threads?limit=100", "/v1/nope", "/v1/chatkit/threads?limit=x"]:
            connection.request("GET", path, headers=HEADERS)
            response = connection.getresponse()
            json.loads(response.read())
            assert response.getheader("Connection") != "close"
        assert connection.sock is sock  # the same TCP connection served all four
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("request_line", "status"),
    [(b"NOT A VALID REQUEST LINE AT ALL", 400), (b"GET /v1/chatkit/threads HTTP/2.5", 505),
     (b"BREW /v1/chatkit/threads HTTP/1.1", 501)],
)  # fmt: skip
def test_garbage_requests_get_json_errors(upstream: str, request_line: bytes, status: int) -> None:
    with socket.create_connection(host_port(upstream), timeout=5) as sock:
        sock.sendall(request_line + b"\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d" % status)
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


# --- List parameters ----------------------------------------------------------------


def test_defaults_are_desc_and_twenty(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    page = list_threads(http, upstream)
    newest = sorted(threads, key=lambda t: t.key, reverse=True)[:20]
    assert page["data"] == [t.to_dict() for t in newest]
    assert page["has_more"] is True
    assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}


@pytest.mark.parametrize("limit", [0, 1, 99, 100])
def test_valid_limits(
    http: requests.Session, upstream: str, threads: list[Thread], limit: int
) -> None:
    page = list_threads(http, upstream, limit=limit, order="asc")
    assert ids_of(page) == expected_page(threads, limit=limit, order="asc")[0]
    assert page["has_more"] is True
    if limit == 0:
        assert page["data"] == [] and page["first_id"] is None and page["last_id"] is None


def test_limit_zero_for_an_empty_result_has_no_more(http: requests.Session, upstream: str) -> None:
    page = list_threads(http, upstream, limit=0, user="nobody-has-this-id")
    assert page == {"object": "list", "data": [], "first_id": None, "last_id": None,
                    "has_more": False}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("101", "integer_above_max_value"),
        ("1000000000000000000000000", "integer_above_max_value"),
        ("-1", "integer_below_min_value"),
        ("-99999999999999999999", "integer_below_min_value"),
        ("abc", "invalid_type"),
        ("", "invalid_type"),
        ("1.5", "invalid_type"),
        ("1e2", "invalid_type"),
        (" 5", "invalid_type"),
        ("5_0", "invalid_type"),
        ("٣", "invalid_type"),  # a non-ASCII digit
    ],
)
def test_invalid_limits(http: requests.Session, upstream: str, value: str, code: str) -> None:
    response = http.get(f"{upstream}/chatkit/threads", params={"limit": value})
    error = assert_error(response, 400, param="limit", code=code)
    assert "'limit'" in error["message"]


def test_limit_messages_read_well(http: requests.Session, upstream: str) -> None:
    above = http.get(f"{upstream}/chatkit/threads", params={"limit": 101}).json()["error"]
    assert above["message"] == (
        "Invalid 'limit': integer above maximum value. Expected a value <= 100, "
        "but got 101 instead."
    )
    below = http.get(f"{upstream}/chatkit/threads", params={"limit": -1}).json()["error"]
    assert below["message"] == (
        "Invalid 'limit': integer below minimum value. Expected a value >= 0, but got -1 instead."
    )


@pytest.mark.parametrize("value", ["ASC", "up", "", "desc ", "random"])
def test_invalid_order(http: requests.Session, upstream: str, value: str) -> None:
    response = http.get(f"{upstream}/chatkit/threads", params={"order": value})
    assert_error(response, 400, param="order", code="invalid_value")


@pytest.mark.parametrize(
    ("value", "code"), [("", "string_below_min_length"), ("x" * 513, "string_above_max_length")]
)
def test_invalid_user(http: requests.Session, upstream: str, value: str, code: str) -> None:
    response = http.get(f"{upstream}/chatkit/threads", params={"user": value})
    assert_error(response, 400, param="user", code=code)


def test_user_of_exactly_512_characters_is_accepted(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    page = list_threads(http, upstream, user=LONG_USER, limit=100)
    assert len(page["data"]) == dataset.thread_counts[LONG_USER] >= 1
    assert list_threads(http, upstream, user="y" * 512)["data"] == []


@pytest.mark.parametrize("name", ["after", "before"])
def test_unknown_or_empty_cursor(http: requests.Session, upstream: str, name: str) -> None:
    for value in ["cthr_doesnotexist", "", "<script>", "cthi_" + "0" * 32, "cthr_" + "f" * 32]:
        response = http.get(f"{upstream}/chatkit/threads", params={name: value})
        error = assert_error(response, 400, param=name, code="invalid_value")
        assert f"'{name}'" in error["message"]


def test_repeated_known_parameters_are_refused(http: requests.Session, upstream: str) -> None:
    for name, values in [("limit", ["5", "6"]), ("order", ["asc", "asc"]), ("user", ["a", "b"])]:
        response = http.get(f"{upstream}/chatkit/threads", params=[(name, v) for v in values])
        assert_error(response, 400, param=name, code="duplicate_parameter")


def test_unknown_parameters_are_ignored(http: requests.Session, upstream: str) -> None:
    plain = list_threads(http, upstream, limit=7)
    noisy = list_threads(http, upstream, limit=7, foo="bar", page=3, x=["1", "2"], LIMIT=1)
    assert noisy == plain


def test_bad_percent_encoding_in_query(http: requests.Session, upstream: str) -> None:
    response = http.get(f"{upstream}/chatkit/threads?user=%ff%fe")
    assert_error(response, 400, code="invalid_value")


# --- Cursor paging -----------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data_=st.data())
def test_pages_match_the_model(
    http: requests.Session,
    upstream: str,
    dataset: Dataset,
    threads: list[Thread],
    data_: st.DataObject,
) -> None:
    ids = [t.id for t in threads]
    user = data_.draw(st.none() | st.sampled_from(sorted(dataset.users)), label="user")
    own = [t.id for t in threads if t.user == user] if user else ids
    cursor = st.none() | st.sampled_from(own) | st.sampled_from(ids)
    params = {
        "user": user,
        "after": data_.draw(cursor, label="after"),
        "before": data_.draw(cursor, label="before"),
        "limit": data_.draw(st.integers(0, 100), label="limit"),
        "order": data_.draw(st.sampled_from(["asc", "desc"]), label="order"),
    }
    params = {name: value for name, value in params.items() if value is not None}
    page = list_threads(http, upstream, **params)
    expected_ids, expected_more = expected_page(threads, **params)
    assert ids_of(page) == expected_ids
    assert page["has_more"] is expected_more
    assert page["first_id"] == (expected_ids[0] if expected_ids else None)
    assert page["last_id"] == (expected_ids[-1] if expected_ids else None)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walking_back_with_before_reaches_every_thread_once(
    http: requests.Session, upstream: str, threads: list[Thread], order: str
) -> None:
    # Start from the very end, then travel back one page at a time.
    last = expected_page(threads, limit=1, order="desc" if order == "asc" else "asc")[0][0]
    collected: list[list[str]] = [[last]]
    cursor = last
    while True:
        page = list_threads(http, upstream, limit=77, order=order, before=cursor)
        collected.insert(0, ids_of(page))
        if not page["has_more"]:
            break
        assert len(page["data"]) == 77
        cursor = page["first_id"]
    everything = [thread_id for ids in collected for thread_id in ids]
    assert everything == expected_page(threads, limit=len(threads), order=order)[0]


def test_after_and_before_together_keep_what_lies_between(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    ordered = expected_page(threads, limit=100)[0]
    page = list_threads(http, upstream, after=ordered[10], before=ordered[20], limit=5)
    assert ids_of(page) == ordered[11:16] and page["has_more"]
    page = list_threads(http, upstream, after=ordered[10], before=ordered[20], limit=9)
    assert ids_of(page) == ordered[11:20] and not page["has_more"]
    page = list_threads(http, upstream, after=ordered[20], before=ordered[10])
    assert page["data"] == [] and not page["has_more"]


def test_cursor_may_belong_to_another_user(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    user = "support team"
    others = [t for t in threads if t.user != user]
    for cursor in (others[0].id, others[len(others) // 2].id, others[-1].id):
        for order in ("asc", "desc"):
            for name in ("after", "before"):
                page = list_threads(http, upstream, user=user, order=order, **{name: cursor})
                expected = expected_page(threads, user=user, order=order, **{name: cursor})
                assert ids_of(page) == expected[0]
                assert all(t["user"] == user for t in page["data"])


def test_ties_on_created_at_are_ordered_by_id(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    by_time = Counter(t.created_at for t in threads)
    tied = sorted(t.key for t in threads if by_time[t.created_at] > 1)[:2]
    assert tied[0][0] == tied[1][0]
    page = list_threads(http, upstream, order="asc", after=tied[0][1], limit=1)
    assert page["data"][0]["id"] == tied[1][1]
    page = list_threads(http, upstream, order="desc", before=tied[0][1], limit=1)
    assert page["data"][0]["id"] == tied[1][1]


# --- User ids and thread ids in URLs --------------------------------------------------


def test_hard_users_survive_every_query_encoding(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    for user in HARD_USERS:
        expected = expected_page(threads, user=user, limit=100)[0]
        assert expected
        # As requests encodes it (space as '+'), and fully percent-encoded (space as %20).
        assert ids_of(list_threads(http, upstream, user=user, limit=100)) == expected
        response = http.get(f"{upstream}/chatkit/threads?limit=100&user={quote(user, safe='')}")
        assert ids_of(response.json()) == expected


def test_plus_in_a_query_is_a_space_unless_encoded(http: requests.Session, upstream: str) -> None:
    raw_plus = http.get(f"{upstream}/chatkit/threads?user=alex+chatkit@example.org").json()
    assert raw_plus["data"] == []  # that asked for "alex chatkit@example.org"
    encoded = http.get(f"{upstream}/chatkit/threads?user=alex%2Bchatkit%40example.org").json()
    assert encoded["data"]


def test_retrieve_decodes_percent_encoded_ids(
    http: requests.Session, upstream: str, threads: list[Thread]
) -> None:
    thread = threads[3]
    every_char = "".join(f"%{ord(ch):02X}" for ch in thread.id)
    assert http.get(f"{upstream}/chatkit/threads/{every_char}").json() == thread.to_dict()
    items = http.get(f"{upstream}/chatkit/threads/{every_char}/items")
    assert items.status_code == 200 and items.json()["data"]


@pytest.mark.parametrize(
    "raw_id", ["cthr_nope", "cthr_a%2Fb", "%3Cscript%3E", "%E2%9C%93", "cthr_%20", "a..b"]
)
def test_retrieve_unknown(http: requests.Session, upstream: str, raw_id: str) -> None:
    for suffix in ("", "/items"):
        response = http.get(f"{upstream}/chatkit/threads/{raw_id}{suffix}")
        error = assert_error(response, 404, code="not_found")
        assert error["message"].startswith("No thread found with id '")


def test_not_found_message_names_the_id(http: requests.Session, upstream: str) -> None:
    error = http.get(f"{upstream}/chatkit/threads/cthr_missing").json()["error"]
    assert error["message"] == "No thread found with id 'cthr_missing'."


# --- Items ----------------------------------------------------------------------------


def items_page(http: requests.Session, base_url: str, thread_id: str, **params: Any) -> Any:
    response = http.get(
        f"{base_url}/chatkit/threads/{quote(thread_id, safe='')}/items", params=params
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_items_paging_both_ways(
    http: requests.Session, upstream: str, dataset: Dataset, threads: list[Thread], order: str
) -> None:
    thread = max(threads[:50], key=lambda t: len(dataset.items_for(t)))
    transcript = dataset.items_for(thread)
    expected = [item["id"] for item in (transcript if order == "asc" else transcript[::-1])]
    default = items_page(http, upstream, thread.id, order=order)
    assert ids_of(default) == expected and default["has_more"] is False
    forward: list[str] = []
    cursor: dict[str, str] = {}
    while True:
        page = items_page(http, upstream, thread.id, limit=3, order=order, **cursor)
        forward += ids_of(page)
        if not page["has_more"]:
            break
        cursor = {"after": page["last_id"]}
    assert forward == expected
    backward: list[str] = []
    cursor = {"before": expected[-1]}
    while True:
        page = items_page(http, upstream, thread.id, limit=4, order=order, **cursor)
        backward = ids_of(page) + backward
        if not page["has_more"]:
            break
        cursor = {"before": page["first_id"]}
    assert backward == expected[:-1]
    page = items_page(http, upstream, thread.id, limit=0)
    assert page["data"] == [] and page["has_more"] is True


def test_items_parameters_are_validated(
    http: requests.Session, upstream: str, dataset: Dataset, threads: list[Thread]
) -> None:
    thread, other = threads[0], threads[1]
    url = f"{upstream}/chatkit/threads/{thread.id}/items"
    assert_error(http.get(url, params={"limit": 101}), 400, param="limit")
    assert_error(http.get(url, params={"limit": "x"}), 400, param="limit")
    assert_error(http.get(url, params={"order": "newest"}), 400, param="order")
    foreign_item = dataset.items_for(other)[0]["id"]
    for name, value in [("after", foreign_item), ("before", thread.id), ("after", "")]:
        assert_error(http.get(url, params={name: value}), 400, param=name, code="invalid_value")
    # `user` means nothing here and is ignored like any unknown parameter.
    assert http.get(url, params={"user": ""}).status_code == 200


# --- Delete (private servers) ---------------------------------------------------------


def test_delete_keeps_pages_full_and_refuses_the_gone_thread(
    http: requests.Session, fresh: tuple[DemoUpstreamServer, str], threads: list[Thread]
) -> None:
    _, base_url = fresh
    newest = expected_page(threads, limit=30)[0]
    victim = next(t for t in threads if t.id == newest[5])
    assert http.delete(f"{base_url}/chatkit/threads/{victim.id}").status_code == 200
    assert_error(http.get(f"{base_url}/chatkit/threads/{victim.id}/items"), 404)
    assert_error(http.delete(f"{base_url}/chatkit/threads/{victim.id}"), 404, code="not_found")
    assert_error(
        http.get(f"{base_url}/chatkit/threads", params={"after": victim.id}), 400, param="after"
    )
    page = list_threads(http, base_url, limit=20)
    assert ids_of(page) == [i for i in newest if i != victim.id][:20]
    user_page = list_threads(http, base_url, user=victim.user, limit=100)
    assert victim.id not in ids_of(user_page)


def test_concurrent_deletes_and_reads_stay_consistent(
    fresh: tuple[DemoUpstreamServer, str], threads: list[Thread]
) -> None:
    server, base_url = fresh
    victims = [t.id for t in threads[100:160]]
    errors: list[str] = []

    def delete(ids: list[str]) -> None:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            for thread_id in ids:
                response = session.delete(f"{base_url}/chatkit/threads/{thread_id}")
                if response.status_code != 200:
                    errors.append(response.text)

    def read() -> None:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            for _ in range(30):
                page = session.get(f"{base_url}/chatkit/threads", params={"limit": 100}).json()
                if len(page["data"]) != 100:
                    errors.append("short page")

    workers = [threading.Thread(target=delete, args=(victims[i::4],)) for i in range(4)]
    workers += [threading.Thread(target=read) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with requests.Session() as session:
        session.headers.update(HEADERS)
        remaining = {t["id"] for t in walk(session, base_url, limit=100)}
    assert remaining == {t.id for t in threads} - set(victims)
    assert len(server.store) == len(threads) - len(victims)

    control(base_url, "POST", "/reset")
    assert len(server.store) == len(threads)


# --- Changing threads through the control endpoint (private servers) --------------------


def test_control_adds_changes_and_deletes_threads(
    http: requests.Session, fresh: tuple[DemoUpstreamServer, str], threads: list[Thread]
) -> None:
    server, base_url = fresh
    newest = threads[-1]
    made = control(base_url, "POST", "/threads", {"user": "josé", "title": "<b>new</b>"})
    assert made.status_code == 201, made.text
    added = made.json()
    assert added["user"] == "josé" and added["title"] == "<b>new</b>"
    assert added["status"] == {"type": "active"} and data.THREAD_ID.fullmatch(added["id"])
    assert added["created_at"] >= int(time.time()) - 5
    assert list_threads(http, base_url, limit=1)["data"] == [added]
    assert ids_of(list_threads(http, base_url, user="josé", limit=1)) == [added["id"]]
    assert http.get(f"{base_url}/chatkit/threads/{added['id']}").json() == added
    assert items_page(http, base_url, added["id"])["data"]

    back_then = {"user": "u", "title": None, "created_at": newest.created_at - 1,
                 "status": {"type": "closed", "reason": None}}  # fmt: skip
    older = control(base_url, "POST", "/threads", back_then).json()
    assert older["status"] == {"type": "closed", "reason": None}
    below = list_threads(http, base_url, after=newest.id, limit=5)["data"]
    assert older in below  # among the generated threads, in (created_at, id) order
    keys = [(row["created_at"], row["id"]) for row in below]
    assert keys == sorted(keys, reverse=True)

    locked = {"status": {"type": "locked", "reason": "Held by legal"}}
    changed = control(base_url, "PATCH", f"/threads/{newest.id}", locked).json()
    assert changed == {**newest.to_dict(), "status": locked["status"]}
    assert http.get(f"{base_url}/chatkit/threads/{newest.id}").json() == changed
    retitled = control(base_url, "PATCH", f"/threads/{quote(newest.id)}", {"title": "Renamed"})
    assert retitled.json()["title"] == "Renamed" and retitled.json()["status"] == locked["status"]
    transcript = items_page(http, base_url, newest.id, limit=100, order="asc")["data"]
    assert transcript == server.store.dataset.items_for(newest)  # a new title rewrites nothing

    gone = control(base_url, "DELETE", f"/threads/{newest.id}")
    assert gone.json() == {"id": newest.id, "object": "chatkit.thread.deleted", "deleted": True}
    assert_error(http.get(f"{base_url}/chatkit/threads/{newest.id}"), 404, code="not_found")
    assert_error(control(base_url, "DELETE", f"/threads/{newest.id}"), 404, code="not_found")
    assert len(server.store) == len(threads) + 1

    assert_error(control(base_url, "GET", "/threads"), 405, code="method_not_allowed")
    assert_error(control(base_url, "PATCH", "/threads/cthr_nope", {"title": "x"}), 404)
    assert_error(control(base_url, "POST", "/threads/a/b"), 404)

    control(base_url, "POST", "/reset")
    assert list_threads(http, base_url, limit=1)["data"] == [newest.to_dict()]
    assert_error(http.get(f"{base_url}/chatkit/threads/{added['id']}"), 404)


@pytest.mark.parametrize(
    ("method", "body", "param"),
    [
        ("POST", [], None),
        ("POST", {"user": ""}, "user"),  # the API's own bounds and codes
        ("POST", {"user": "x" * 513}, "user"),
        ("POST", {"user": 7}, "user"),
        ("POST", {"title": 5}, "title"),
        ("POST", {"status": "locked"}, "status"),
        ("POST", {"status": {"type": "active", "reason": "x"}}, "status"),
        ("POST", {"status": {"type": "locked", "reason": 3}}, "status"),
        ("POST", {"created_at": -1}, None),
        ("POST", {"created_at": "now"}, None),
        ("POST", {"id": "cthr_mine"}, "id"),
        ("PATCH", {}, None),
        ("PATCH", {"user": "someone"}, "user"),
        ("PATCH", {"created_at": 5}, "created_at"),
    ],
)
def test_control_thread_bodies_are_checked(
    fresh: tuple[DemoUpstreamServer, str],
    threads: list[Thread],
    method: str,
    body: Any,
    param: str | None,
) -> None:
    _, base_url = fresh
    path = "/threads" if method == "POST" else f"/threads/{threads[0].id}"
    error = assert_error(control(base_url, method, path, body), 400, param=param)
    length_codes = {"string_below_min_length", "string_above_max_length"}
    assert error["code"] == "invalid_thread" or param == "user" and error["code"] in length_codes


# --- Live mode --------------------------------------------------------------------------


def test_live_mode_adds_threads_and_locks_closes_and_deletes_some(dataset: Dataset) -> None:
    store = ThreadStore(dataset)
    live = LiveActivity(store, interval=1, seed=dataset.seed)
    newest_before = store.newest(1)[0]
    started = int(time.time())
    lines = [line for _ in range(60) for line in live.step()]
    verbs = Counter(line.split()[0] for line in lines)
    assert 60 <= verbs["added"] <= 180
    assert verbs["locked"] + verbs["closed"] >= 5 and verbs["locked"] and verbs["closed"]
    assert verbs["deleted"] >= 1
    assert len(store) == len(dataset) + verbs["added"] - verbs["deleted"]
    recent = store.newest(100)
    assert all(t.created_at >= started for t in recent) and newest_before not in recent
    ended = [t for t in recent if t.status_type != "active"]
    assert ended and all(t.reason for t in ended)  # live changes always give a reason
    assert {t.user for t in recent} <= set(dataset.users)


def test_a_live_server_changes_its_listing_on_its_own(dataset: Dataset) -> None:
    server, base_url = serve_in_thread(api_key=KEY, dataset=dataset, live_interval=0.05)
    try:
        newest = wait_for_a_live_thread_on_top(base_url, HEADERS)
        assert server.store.get(newest["id"]).index >= len(dataset)
    finally:
        assert closes_promptly(server)


# --- Faults, latency and stats (private servers) ---------------------------------------


def test_status_fault_with_count(http: requests.Session, fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="status", status=500, count=2)
    for _ in range(2):
        assert_error(http.get(f"{base_url}/chatkit/threads"), 500, error_type="server_error")
    assert http.get(f"{base_url}/chatkit/threads").status_code == 200
    assert control(base_url, "GET", "/faults").json() == {"fault": None}


def test_rate_limit_fault_sets_retry_after(http: requests.Session, fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="status", status=429, retry_after="3", count=1)
    response = http.get(f"{base_url}/chatkit/threads")
    assert_error(response, 429, error_type="requests", code="rate_limit_exceeded")
    assert response.headers["Retry-After"] == "3"
    set_fault(base_url, mode="status", status=429, retry_after_ms=250, should_retry=False, count=1)
    response = http.get(f"{base_url}/chatkit/threads")
    assert response.headers["retry-after-ms"] == "250"
    assert response.headers["x-should-retry"] == "false"
    assert "Retry-After" not in response.headers


def test_fault_without_count_lasts_until_cleared(
    http: requests.Session, fresh: tuple[Any, str]
) -> None:
    _, base_url = fresh
    fault = set_fault(base_url, mode="status", status=503, message="Down for <maintenance>")
    assert fault == {"mode": "status", "count": None, "status": 503, "retry_after": None,
                     "retry_after_ms": None, "message": "Down for <maintenance>",
                     "should_retry": None, "request_id": None}  # fmt: skip
    for _ in range(5):
        error = assert_error(
            http.get(f"{base_url}/chatkit/threads"), 503, error_type="server_error"
        )
        assert error["message"] == "Down for <maintenance>"
    # Control endpoints are not API requests: they neither consume nor suffer faults.
    assert control(base_url, "GET", "/stats").status_code == 200
    assert control(base_url, "DELETE", "/faults").json() == {"fault": None}
    assert http.get(f"{base_url}/chatkit/threads").status_code == 200


def test_latency_fault(http: requests.Session, fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="latency", ms=300, count=1)
    started = time.perf_counter()
    assert http.get(f"{base_url}/chatkit/threads").status_code == 200
    assert time.perf_counter() - started >= 0.3
    assert control(base_url, "GET", "/faults").json() == {"fault": None}


def test_drop_fault_closes_without_answer(fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="drop", count=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/chatkit/threads", headers=HEADERS, timeout=5)
    assert requests.get(f"{base_url}/chatkit/threads", headers=HEADERS).status_code == 200


def test_truncate_fault_sends_less_than_promised(fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="truncate", count=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(f"{base_url}/chatkit/threads", headers=HEADERS, timeout=5)
    assert requests.get(f"{base_url}/chatkit/threads", headers=HEADERS).status_code == 200


def test_malformed_fault_is_invalid_json(fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="malformed", count=1)
    response = requests.get(f"{base_url}/chatkit/threads", headers=HEADERS)
    assert response.status_code == 200 and response.content == b'{"data": ['
    with pytest.raises(ValueError):
        response.json()


def test_drift_fault_breaks_the_schema(
    http: requests.Session, fresh: tuple[Any, str], threads: list[Thread]
) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="drift", count=3)
    page = list_threads(http, base_url, limit=50)
    assert page["object"] == "list" and len(page["data"]) == 50
    assert all("created_at" not in t and isinstance(t["status"], str) for t in page["data"])
    assert any(isinstance(t["title"], int) for t in page["data"])
    thread = http.get(f"{base_url}/chatkit/threads/{threads[0].id}").json()
    assert "created_at" not in thread
    items = http.get(f"{base_url}/chatkit/threads/{threads[0].id}/items").json()
    assert all(item["type"] == "chatkit.hologram" for item in items["data"])
    assert "created_at" in list_threads(http, base_url)["data"][0]  # count exhausted


# --- Hostile faults: slow, endless, huge, redirected, stalled, oversized, forged ----------


def test_trickle_sends_the_real_answer_slowly(
    http: requests.Session, fresh: tuple[Any, str]
) -> None:
    _, base_url = fresh
    expected = list_threads(http, base_url, limit=4)
    size = len(json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode())
    set_fault(base_url, mode="trickle", bytes_per_second=1000, count=1)
    started = time.perf_counter()
    answer = requests.get(f"{base_url}/chatkit/threads?limit=4", headers=HEADERS, timeout=30)
    elapsed = time.perf_counter() - started
    assert answer.json() == expected
    assert int(answer.headers["Content-Length"]) == size
    assert elapsed >= (size - 100) / 1000  # each tenth of a second's bytes waited its turn


def test_endless_body_never_ends_and_close_does_not_wait_for_it(dataset: Dataset) -> None:
    server, base_url = serve_in_thread(api_key=KEY, dataset=dataset)
    stuck: socket.socket | None = None
    try:
        set_fault(base_url, mode="endless", count=2)
        with requests.get(
            f"{base_url}/chatkit/threads", headers=HEADERS, stream=True, timeout=10
        ) as response:
            assert response.status_code == 200
            assert response.headers["Transfer-Encoding"] == "chunked"
            assert "Content-Length" not in response.headers
            received = b""
            for chunk in response.iter_content(65536):
                received += chunk
                if len(received) > 3_000_000:
                    break
        assert received.startswith(b'{"object":"list","data":[{"id":"cthr_')
        assert received.count(b'"object":"chatkit.thread"') > 5000
        # Another one nobody reads: the server must not hang on it when closing.
        stuck = raw_request(base_url, "/v1/chatkit/threads")
        head, _ = read_head(stuck)
        assert head.startswith(b"HTTP/1.1 200")
        assert requests.get(f"{base_url}/chatkit/threads", headers=HEADERS).status_code == 200
    finally:
        assert closes_promptly(server)
        if stuck is not None:
            stuck.close()


def test_paced_endless_body_arrives_slowly(fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    fault = set_fault(base_url, mode="endless", bytes_per_second=2000, count=1)
    assert fault == {"mode": "endless", "count": 1, "bytes_per_second": 2000, "request_id": None}
    with requests.get(
        f"{base_url}/chatkit/threads", headers=HEADERS, stream=True, timeout=10
    ) as response:
        started = time.perf_counter()
        received = response.raw.read(1000)
        assert len(received) == 1000
    assert time.perf_counter() - started >= 0.2


def test_gzip_bomb_is_small_on_the_wire_and_huge_expanded(fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    expanded = 8 * 1024 * 1024
    fault = set_fault(base_url, mode="gzip_bomb", expanded_bytes=expanded, count=1)
    assert fault["expanded_bytes"] == expanded
    with requests.get(
        f"{base_url}/chatkit/threads", headers=HEADERS, stream=True, timeout=10
    ) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        wire = response.raw.read(decode_content=False)
    assert int(response.headers["Content-Length"]) == len(wire) < expanded / 500
    body = gzip.decompress(wire)  # checks the CRC and length trailer too
    assert len(body) == expanded
    assert json.loads(body) == {"object": "list", "data": [], "first_id": None,
                                "last_id": None, "has_more": False}  # fmt: skip
    default = set_fault(base_url, mode="gzip_bomb", count=1)
    assert default["expanded_bytes"] == 1 << 30


def test_redirect_fault_points_elsewhere(fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="redirect", count=1)
    url = f"{base_url}/chatkit/threads?limit=2"
    response = requests.get(url, headers=HEADERS, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == url
    assert response.content == b""
    set_fault(base_url, mode="redirect", status=307, location="http://elsewhere.test/x", count=1)
    response = requests.get(url, headers=HEADERS, allow_redirects=False)
    assert response.status_code == 307 and response.headers["Location"] == "http://elsewhere.test/x"
    set_fault(base_url, mode="redirect", status=308, count=1)
    followed = requests.get(url, headers=HEADERS)  # the loop lasts only `count` requests
    assert followed.status_code == 200 and [r.status_code for r in followed.history] == [308]


def test_stall_takes_the_request_and_hangs_up_without_a_byte(fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="stall", ms=400, count=1)
    stalled = raw_request(base_url, "/v1/chatkit/threads")
    try:
        wait_until_taken(base_url)
        assert requests.get(f"{base_url}/chatkit/threads", headers=HEADERS).status_code == 200
        stalled.settimeout(30)
        assert stalled.recv(1024) == b""  # hung up after the stall, without a byte
    finally:
        stalled.close()


def test_slow_answers_hold_up_no_one_and_close_hangs_up_on_them(dataset: Dataset) -> None:
    server, base_url = serve_in_thread(api_key=KEY, dataset=dataset)
    sockets: list[socket.socket] = []
    idle = requests.Session()
    idle.headers.update(HEADERS)
    try:
        idle.get(f"{base_url}/chatkit/threads")  # kept alive, then idle
        for fault in ({"mode": "stall", "ms": 600_000}, {"mode": "latency", "ms": 600_000},
                      {"mode": "trickle", "bytes_per_second": 1}):  # fmt: skip
            set_fault(base_url, **fault, count=1)
            sockets.append(raw_request(base_url, "/v1/chatkit/threads"))
            wait_until_taken(base_url)
        assert read_head(sockets[-1])[0].startswith(b"HTTP/1.1 200")  # the trickle has begun
        # Each of those would take ten minutes; everyone else is answered meanwhile.
        assert list_threads(idle, base_url, limit=1)["data"]
        assert requests.get(f"{base_url}/chatkit/threads", headers=HEADERS).status_code == 200
    finally:
        assert closes_promptly(server)
        for sock in sockets:
            sock.close()
        idle.close()


def test_oversize_answers_more_rows_than_asked(
    http: requests.Session, fresh: tuple[Any, str], threads: list[Thread]
) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="oversize", extra_rows=7, count=3)
    page = list_threads(http, base_url, limit=5)
    assert ids_of(page) == expected_page(threads, limit=12)[0] and page["has_more"]
    thread = threads[10]
    items = items_page(http, base_url, thread.id, limit=2)
    assert len(items["data"]) == 9  # repeating items if the transcript is shorter
    assert http.get(f"{base_url}/chatkit/threads/{thread.id}").json() == thread.to_dict()
    assert len(list_threads(http, base_url, limit=5)["data"]) == 5  # count exhausted


@pytest.mark.parametrize("forged", ["req_forged", "", "<script>alert(1)</script>", "ünïcødé ✓",
                                    "x" * 8192])  # fmt: skip
def test_a_forged_request_id_comes_alone_or_with_any_fault(
    fresh: tuple[Any, str], forged: str
) -> None:
    _, base_url = fresh
    assert set_fault(base_url, request_id=forged, count=1) == {
        "mode": None,
        "count": 1,
        "request_id": forged,
    }
    answer = raw_request(base_url, "/v1/chatkit/threads?limit=1")
    head, _ = read_head(answer)
    answer.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert b"\r\nx-request-id: " + forged.encode() + b"\r\n" in head + b"\r\n"
    set_fault(base_url, mode="status", status=502, request_id=forged, count=1)
    response = requests.get(f"{base_url}/chatkit/threads", headers=HEADERS)
    assert response.status_code == 502
    assert response.headers["x-request-id"].encode("latin-1") == forged.encode()


@pytest.mark.parametrize(
    "spec",
    [{}, {"mode": "explode"}, {"mode": "status", "status": 200}, {"mode": "status", "count": 0},
     {"mode": "latency"}, {"mode": "latency", "ms": -5}, {"mode": "drop", "count": "2"}, [],
     {"mode": "stall"}, {"mode": "stall", "ms": 600_001}, {"mode": "trickle"},
     {"mode": "trickle", "bytes_per_second": 0}, {"mode": "endless", "bytes_per_second": -1},
     {"mode": "gzip_bomb", "expanded_bytes": 10}, {"mode": "gzip_bomb", "expanded_bytes": 2**33},
     {"mode": "redirect", "status": 303}, {"mode": "redirect", "location": "http://a\r\nX: y"},
     {"mode": "oversize", "extra_rows": 0}, {"mode": "oversize", "extra_rows": 10**6},
     {"request_id": "a\r\nSet-Cookie: x=1"}, {"request_id": 5}, {"request_id": "\ud800"},
     {"mode": "drop", "ms": 5}, {"mode": "latency", "ms": 5, "status": 500}, {"colour": "red"}],
)  # fmt: skip
def test_invalid_fault_specs(fresh: tuple[Any, str], spec: Any) -> None:
    _, base_url = fresh
    response = control(base_url, "POST", "/faults", spec)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fault"
    assert control(base_url, "GET", "/faults").json() == {"fault": None}
    not_json = requests.post(root_of(base_url) + "/__control/faults", data=b"{")
    assert not_json.status_code == 400


def test_stats_count_api_requests_only(http: requests.Session, fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    assert control(base_url, "POST", "/stats/reset").json() == {"requests": 0}
    http.get(f"{base_url}/chatkit/threads")
    http.get(f"{base_url}/chatkit/threads", params={"limit": 500})
    requests.get(f"{base_url}/chatkit/threads")  # unauthenticated: still an upstream call
    control(base_url, "GET", "/faults")
    assert control(base_url, "GET", "/stats").json() == {"requests": 3}
    assert control(base_url, "POST", "/stats/reset").json() == {"requests": 0}
    assert control(base_url, "GET", "/stats").json() == {"requests": 0}
    assert_error(control(base_url, "GET", "/stats/reset"), 405)


def test_server_wide_latency(dataset: Dataset) -> None:
    server, base_url = serve_in_thread(api_key=KEY, dataset=dataset, latency_ms=200)
    try:
        for request in (
            lambda: requests.get(f"{base_url}/chatkit/threads", headers=HEADERS),
            lambda: requests.get(f"{base_url}/chatkit/threads"),  # errors are slow too
        ):
            started = time.perf_counter()
            request()
            assert time.perf_counter() - started >= 0.2
    finally:
        server.close()


def test_quiet_unless_verbose(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    for verbose in (False, True):
        server, base_url = serve_in_thread(api_key=KEY, dataset=dataset, verbose=verbose)
        try:
            requests.get(f"{base_url}/chatkit/threads?limit=3", headers=HEADERS)
            requests.get(f"{base_url}/chatkit/threads", headers={"Authorization": "Bearer zzz"})
        finally:
            server.close()
        logged = capsys.readouterr().err
        if not verbose:
            assert logged == ""
        else:
            lines = logged.splitlines()
            assert len(lines) == 2
            assert '"GET /v1/chatkit/threads?limit=3" 200' in lines[0]
            assert " 401 " in lines[1] and REQUEST_ID.search(lines[1])
            assert KEY not in logged and "zzz" not in logged


def test_many_concurrent_clients(upstream: str, threads: list[Thread]) -> None:
    failures: list[Any] = []

    def client(offset: int) -> None:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            for i in range(25):
                thread = threads[(offset * 25 + i) % len(threads)]
                page = session.get(
                    f"{upstream}/chatkit/threads", params={"after": thread.id, "limit": 10}
                )
                if ids_of(page.json()) != expected_page(threads, after=thread.id, limit=10)[0]:
                    failures.append(thread.id)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []


# --- The management command and the settings that install it --------------------------


def test_management_command_serves_a_million_live_threads() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DEMO_UPSTREAM_API_KEY": "from-the-env"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_demo_upstream", "--port", "0", "--threads", "1000000",
         "--seed", "5", "--enable-control", "--live", "--live-interval", "0.1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"(http://\S+/v1)", banner)
        assert match, banner + (process.stderr.read() if process.poll() is not None else "")
        assert "1,000,000 threads" in banner and "from-the-env" not in banner
        assert "Live mode" in process.stdout.readline()
        base_url = match.group(1)
        headers = {"Authorization": "Bearer from-the-env", "OpenAI-Beta": "chatkit_beta=v1"}
        oldest = requests.get(
            f"{base_url}/chatkit/threads?order=asc&limit=3", headers=headers, timeout=10
        ).json()
        assert oldest["data"] == [t.to_dict() for t in make_dataset(1_000_000, 5).threads[:3]]
        assert control(base_url, "GET", "/stats").json() == {"requests": 1}
        wait_for_a_live_thread_on_top(base_url, headers)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    "argv",
    [["--threads", "1000001"], ["--threads", "-1"], ["--live-interval", "0"],
     ["--latency-ms", "-1"]],
)  # fmt: skip
def test_management_command_refuses_bad_flags(argv: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("run_demo_upstream", "--port", "0", *argv)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_demo_app_is_installed_only_with_django_demo_and_never_in_production() -> None:
    production = {"DJANGO_PRODUCTION": "true", "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
                  "DJANGO_ALLOWED_HOSTS": "dashboard.example.com"}  # fmt: skip
    refused = manage("check", DJANGO_DEMO="true", **production)
    assert refused.returncode != 0
    assert "DJANGO_DEMO cannot be on with DJANGO_PRODUCTION" in refused.stderr
    for env in (production, {}):
        for command in ("create_demo_staff", "run_demo_upstream"):
            result = manage(command, "--help", **env)
            assert result.returncode != 0 and f"Unknown command: '{command}'" in result.stderr
    assert manage("run_demo_upstream", "--help", DJANGO_DEMO="true").returncode == 0


# --- OpenAI's own SDK -----------------------------------------------------------------


def sdk(base_url: str, *, strict: bool = True, key: str = KEY) -> openai.OpenAI:
    # Strict validation: the SDK's pydantic models must accept every answer as-is.
    return openai.OpenAI(
        api_key=key, base_url=base_url, max_retries=0, _strict_response_validation=strict
    )


STATUS_CLASSES = {"active": StatusActive, "locked": StatusLocked, "closed": StatusClosed}


def assert_sdk_thread(thread: ChatKitThread, dataset: Dataset) -> None:
    assert isinstance(thread, ChatKitThread)
    assert isinstance(thread.status, STATUS_CLASSES[thread.status.type])
    assert not thread.model_extra and not thread.status.model_extra
    assert thread.model_dump() == dataset.by_id[thread.id].to_dict()


def test_sdk_list_with_every_parameter(
    upstream: str, dataset: Dataset, threads: list[Thread]
) -> None:
    client = sdk(upstream)
    user = max(dataset.thread_counts, key=dataset.thread_counts.__getitem__)
    own = expected_page(threads, user=user, limit=100, order="asc")[0]
    page = client.beta.chatkit.threads.list(
        user=user, after=own[3], before=own[30], limit=10, order="asc"
    )
    assert [t.id for t in page.data] == own[4:14]
    assert page.has_more is True and page.last_id == own[13]
    for thread in page.data:
        assert_sdk_thread(thread, dataset)
    # Auto-paging keeps user/before and follows last_id: exactly what lies between.
    assert [t.id for t in page] == own[4:30]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sdk_auto_pages_through_everything(
    upstream: str, dataset: Dataset, threads: list[Thread], order: str
) -> None:
    seen = list(sdk(upstream).beta.chatkit.threads.list(limit=100, order=order))
    assert [t.id for t in seen] == expected_page(threads, limit=len(threads), order=order)[0]
    statuses = set()
    for thread in seen:
        assert_sdk_thread(thread, dataset)
        statuses.add(type(thread.status))
    assert statuses == {StatusActive, StatusLocked, StatusClosed}


@pytest.mark.parametrize("user", HARD_USERS, ids=lambda u: repr(u[:24]))
def test_sdk_hard_users(upstream: str, threads: list[Thread], user: str) -> None:
    listed = list(sdk(upstream).beta.chatkit.threads.list(user=user, limit=2))
    assert [t.id for t in listed] == expected_page(threads, user=user, limit=100)[0]
    assert {t.user for t in listed} == {user}


def test_sdk_retrieve(upstream: str, dataset: Dataset, threads: list[Thread]) -> None:
    client = sdk(upstream)
    for thread in threads[:: len(threads) // 40]:
        assert_sdk_thread(client.beta.chatkit.threads.retrieve(thread.id), dataset)
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.chatkit.threads.retrieve("cthr_unknown/../x y")
    assert caught.value.code == "not_found"


ITEM_CLASSES = {
    "chatkit.user_message": ChatKitThreadUserMessageItem,
    "chatkit.assistant_message": ChatKitThreadAssistantMessageItem,
    "chatkit.widget": ChatKitWidgetItem,
    "chatkit.client_tool_call": DataChatKitClientToolCall,
    "chatkit.task": DataChatKitTask,
    "chatkit.task_group": DataChatKitTaskGroup,
}


def test_sdk_list_items(upstream: str, dataset: Dataset, threads: list[Thread]) -> None:
    client = sdk(upstream)
    classes = set()
    prefixed = [t for t in threads[:60] if t.index % transcripts.BARE_SPELLING_EVERY != 3]
    for thread in prefixed:
        transcript = dataset.items_for(thread)
        items = list(client.beta.chatkit.threads.list_items(thread.id, limit=2, order="asc"))
        assert [item.id for item in items] == [item["id"] for item in transcript]
        for item, raw in zip(items, transcript, strict=True):
            assert type(item) is ITEM_CLASSES[item.type]
            assert not item.model_extra
            assert item.model_dump() == raw
            classes.add(type(item))
    assert classes == set(ITEM_CLASSES.values())


def test_sdk_sees_bare_spellings_verbatim(
    upstream: str, dataset: Dataset, threads: list[Thread]
) -> None:
    """The SDK's union only knows `chatkit.*`; clients must normalise the bare spelling."""
    thread = next(t for t in threads if t.index % transcripts.BARE_SPELLING_EVERY == 3)
    client = sdk(upstream, strict=False)
    items = list(client.beta.chatkit.threads.list_items(thread.id, limit=100, order="asc"))
    assert [item.type for item in items] == [item["type"] for item in dataset.items_for(thread)]
    assert not any(item.type.startswith("chatkit.") for item in items)
    with pytest.raises(openai.APIResponseValidationError):
        sdk(upstream).beta.chatkit.threads.list_items(thread.id, limit=100)


def test_sdk_errors(upstream: str) -> None:
    with pytest.raises(openai.AuthenticationError) as auth:
        sdk(upstream, key="wrong-key-abcdefgh1234").beta.chatkit.threads.list()
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk(upstream).beta.chatkit.threads.list(limit=101)
    assert bad.value.param == "limit"
    with pytest.raises(openai.BadRequestError) as cursor:
        sdk(upstream).beta.chatkit.threads.list(before="cthr_nope")
    assert cursor.value.param == "before"
    assert REQUEST_ID.fullmatch(cursor.value.request_id or "")


def test_sdk_delete(fresh: tuple[DemoUpstreamServer, str], threads: list[Thread]) -> None:
    _, base_url = fresh
    client = sdk(base_url)
    victim = threads[42]
    deleted = client.beta.chatkit.threads.delete(victim.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (
        victim.id,
        "chatkit.thread.deleted",
        True,
    )
    with pytest.raises(openai.NotFoundError):
        client.beta.chatkit.threads.retrieve(victim.id)
    remaining = [t.id for t in client.beta.chatkit.threads.list(limit=100)]
    assert len(remaining) == len(threads) - 1 and victim.id not in remaining


def test_sdk_reads_threads_the_control_endpoint_and_live_mode_made(
    fresh: tuple[DemoUpstreamServer, str], dataset: Dataset
) -> None:
    server, base_url = fresh
    control(base_url, "POST", "/threads", {"status": {"type": "locked", "reason": None}})
    LiveActivity(server.store, interval=1, seed=1).step()
    client = sdk(base_url)
    for thread in client.beta.chatkit.threads.list(limit=10).data:
        assert thread.model_dump() == server.store.get(thread.id).to_dict()
        assert not thread.model_extra
        assert isinstance(thread.status, STATUS_CLASSES[thread.status.type])


def test_sdk_under_faults(fresh: tuple[DemoUpstreamServer, str]) -> None:
    _, base_url = fresh
    client = sdk(base_url)
    set_fault(base_url, mode="status", status=500, count=1)
    with pytest.raises(openai.InternalServerError):
        client.beta.chatkit.threads.list()
    set_fault(base_url, mode="status", status=429, retry_after="1", count=1)
    with pytest.raises(openai.RateLimitError):
        client.beta.chatkit.threads.list()
    set_fault(base_url, mode="drop", count=1)
    with pytest.raises(openai.APIConnectionError):
        client.beta.chatkit.threads.list()
    set_fault(base_url, mode="drift", count=1)
    with pytest.raises(openai.APIResponseValidationError):
        client.beta.chatkit.threads.list()
    assert client.beta.chatkit.threads.list(limit=1).data
