"""The demo upstream must be a faithful ChatKit stand-in, or dashboard tests prove nothing.

These tests hold it to the published contract (paths, parameters and bounds,
cursor paging, OpenAI's error envelope), check its dataset has the awkward
cases the dashboard must survive, exercise every fault mode, and finally parse
everything with OpenAI's own Python SDK in strict validation mode.

The server runs in-process on a free port; nothing here needs Django.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openai
import pytest
import requests
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

from dashboard.demo_upstream import data
from dashboard.demo_upstream.data import HARD_USERS, LONG_USER, Dataset, make_dataset
from dashboard.demo_upstream.server import (
    DemoUpstreamServer,
    mask_key,
    paginate,
    serve_in_thread,
)

KEY = "test-key-0123456789abcdWXYZ"
HEADERS = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "chatkit_beta=v1"}
REQUEST_ID = re.compile(r"req_[0-9a-f]{16,}")
ROOT = Path(__file__).resolve().parent.parent

# --- Fixtures and helpers -------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return make_dataset()


@pytest.fixture(scope="module")
def upstream(dataset: Dataset) -> Iterator[str]:
    """A shared, read-only server: no test may delete threads or set faults on it."""
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


def list_threads(http: requests.Session, base_url: str, **params: Any) -> dict[str, Any]:
    response = http.get(f"{base_url}/chatkit/threads", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


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
    dataset: Dataset,
    *,
    user: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
) -> tuple[list[str], bool]:
    """A deliberately naive (O(n)) model of OpenAI's cursor paging, to check the server by."""
    threads = sorted(
        (t for t in dataset.threads if user is None or t.user == user),
        key=lambda t: t.key,
        reverse=order == "desc",
    )

    def comes_after(a: tuple[int, str], b: tuple[int, str]) -> bool:
        return a > b if order == "asc" else a < b

    window = threads
    if after is not None:
        after_key = dataset.by_id[after].key
        window = [t for t in window if comes_after(t.key, after_key)]
    if before is not None:
        before_key = dataset.by_id[before].key
        window = [t for t in window if comes_after(before_key, t.key)]
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


# --- The dataset ------------------------------------------------------------------


def test_dataset_size_users_and_ids(dataset: Dataset) -> None:
    assert len(dataset) == data.DEFAULT_COUNT >= 2000
    assert len(dataset.user_keys) >= 50
    ids = [t.id for t in dataset.threads]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"cthr_[0-9a-f]{32}", thread_id) for thread_id in ids)


def test_dataset_is_deterministic_and_seeded() -> None:
    build = make_dataset.__wrapped__  # bypass the cache: really build twice
    first, second = build(300, 11), build(300, 11)
    assert first.threads == second.threads
    assert data.generate_items(first.threads[5], 11) == data.generate_items(second.threads[5], 11)
    assert build(300, 12).threads != first.threads


def test_ten_thousand_threads_build_well_under_a_second() -> None:
    started = time.perf_counter()
    big = make_dataset.__wrapped__(10_000, 99)
    assert time.perf_counter() - started < 1.0
    assert len(big) == 10_000 and len(big.by_id) == 10_000


def test_dataset_statuses_titles_and_reasons(dataset: Dataset) -> None:
    statuses = Counter(t.status_type for t in dataset.threads)
    n = len(dataset)
    assert abs(statuses["active"] / n - 0.85) < 0.03
    assert abs(statuses["closed"] / n - 0.10) < 0.03
    assert abs(statuses["locked"] / n - 0.05) < 0.02
    assert abs(sum(t.title is None for t in dataset.threads) / n - 0.08) < 0.03
    ended = [t for t in dataset.threads if t.status_type != "active"]
    assert 0.2 < sum(t.reason is None for t in ended) / len(ended) < 0.4
    titles = {t.title for t in dataset.threads}
    assert "<script>alert(1)</script>" in titles
    assert '"quotes" & <b>tags</b>' in titles
    assert "" in titles  # empty, which is not null
    assert any(title and not title.isascii() for title in titles)
    assert any(title and re.search("[\u0600-\u06ff]", title) for title in titles)  # RTL
    assert any(title and re.search("[\u3040-\u30ff\u4e00-\u9fff]", title) for title in titles)
    assert any(title and any(ord(ch) > 0xFFFF for ch in title) for title in titles)  # emoji


def test_dataset_time_span_and_ties(dataset: Dataset) -> None:
    created = [t.created_at for t in dataset.threads]
    assert data.BASE_TIMESTAMP - data.SPAN_SECONDS <= min(created)
    assert max(created) <= data.BASE_TIMESTAMP
    assert max(created) - min(created) > 100 * 24 * 3600
    # Some threads share a timestamp, so only (created_at, id) orders them.
    assert len(set(created)) < len(created)


def test_dataset_hard_users(dataset: Dataset) -> None:
    users = set(dataset.user_keys)
    assert set(HARD_USERS) <= users
    for needle in (" ", "/", "%", "#", "&", "@", "?", "+"):
        assert any(needle in user for user in users), needle
    assert "ユーザー" in users and "josé" in users
    assert len(LONG_USER) == 512 and LONG_USER in users
    assert all(
        len(dataset.user_keys[user]) >= data.MIN_THREADS_PER_HARD_USER for user in HARD_USERS
    )
    assert sum(re.fullmatch(r"user_\d{4}", user) is not None for user in users) >= 50


def test_transcripts_are_lazy_plausible_and_cover_every_type(dataset: Dataset) -> None:
    spellings: Counter[str] = Counter()
    for thread in dataset.threads[:120]:
        items = data.generate_items(thread, dataset.seed)
        assert 3 <= len(items) <= 14
        times = [item["created_at"] for item in items]
        assert times == sorted(set(times)) and times[0] >= thread.created_at
        for item in items:
            assert re.fullmatch(r"cthi_[0-9a-f]{32}", item["id"])
            assert item["object"] == "chatkit.thread_item"
            assert item["thread_id"] == thread.id
        spellings.update(item["type"] for item in items)
    for kind in data.ITEM_TYPES:
        assert spellings[f"chatkit.{kind}"] > 0, kind
        assert spellings[kind] > 0, kind
    assert sum(spellings[f"chatkit.{k}"] for k in data.ITEM_TYPES) > 3 * sum(
        spellings[k] for k in data.ITEM_TYPES
    )


# --- Paging, in isolation ----------------------------------------------------------

keys_strategy = st.lists(
    st.tuples(st.integers(0, 8), st.sampled_from("abcdefgh")), unique=True, max_size=25
).map(sorted)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
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
    assert paginate(keys, after=after, before=before, limit=limit, order=order) == (
        expected,
        len(window) > limit,
    )


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
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    thread_id = dataset.threads[0].id
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
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    thread_id = dataset.threads[0].id
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
        for method, path in [("GET", "/__control/stats"), ("POST", "/__control/faults")]:
            response = requests.request(method, root_of(base_url) + path, json={"mode": "drop"})
            assert_error(response, 404)
        assert requests.get(f"{base_url}/chatkit/threads", headers=HEADERS).status_code == 200
    finally:
        server.close()


def test_connections_are_kept_alive(upstream: str, dataset: Dataset) -> None:
    host, port = upstream.removeprefix("http://").split("/")[0].split(":")
    connection = HTTPConnection(host, int(port), timeout=5)
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
    host, port = upstream.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
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
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    page = list_threads(http, upstream)
    newest = sorted(dataset.threads, key=lambda t: t.key, reverse=True)[:20]
    assert [t["id"] for t in page["data"]] == [t.id for t in newest]
    assert page["data"] == [t.to_dict() for t in newest]
    assert page["has_more"] is True
    assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}


def test_thread_shape(http: requests.Session, upstream: str) -> None:
    for thread in list_threads(http, upstream, limit=100)["data"]:
        assert list(thread) == ["id", "object", "created_at", "title", "status", "user"]
        assert thread["object"] == "chatkit.thread"
        assert type(thread["created_at"]) is int
        assert thread["title"] is None or isinstance(thread["title"], str)
        status = thread["status"]
        if status["type"] == "active":
            assert status == {"type": "active"}
        else:
            assert status["type"] in ("locked", "closed") and set(status) == {"type", "reason"}


@pytest.mark.parametrize("limit", [0, 1, 20, 99, 100])
def test_valid_limits(http: requests.Session, upstream: str, dataset: Dataset, limit: int) -> None:
    page = list_threads(http, upstream, limit=limit, order="asc")
    assert [t["id"] for t in page["data"]] == expected_page(dataset, limit=limit, order="asc")[0]
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
    assert len(page["data"]) == len(dataset.user_keys[LONG_USER]) >= 1
    assert list_threads(http, upstream, user="y" * 512)["data"] == []


@pytest.mark.parametrize("name", ["after", "before"])
def test_unknown_or_empty_cursor(http: requests.Session, upstream: str, name: str) -> None:
    for value in ["cthr_doesnotexist", "", "<script>", "cthi_" + "0" * 32]:
        response = http.get(f"{upstream}/chatkit/threads", params={name: value})
        error = assert_error(response, 400, param=name, code="invalid_value")
        assert f"'{name}'" in error["message"]


def test_repeated_known_parameters_are_refused(http: requests.Session, upstream: str) -> None:
    for name, values in [("limit", ["5", "6"]), ("order", ["asc", "asc"]), ("user", ["a", "b"])]:
        response = http.get(f"{upstream}/chatkit/threads", params=[(name, v) for v in values])
        assert_error(response, 400, param=name, code="duplicate_parameter")


def test_unknown_parameters_are_ignored(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    plain = list_threads(http, upstream, limit=7)
    noisy = list_threads(http, upstream, limit=7, foo="bar", page=3, x=["1", "2"], LIMIT=1)
    assert noisy == plain


def test_bad_percent_encoding_in_query(http: requests.Session, upstream: str) -> None:
    response = http.get(f"{upstream}/chatkit/threads?user=%ff%fe")
    assert_error(response, 400, code="invalid_value")


# --- Cursor paging -----------------------------------------------------------------


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data_=st.data())
def test_pages_match_the_model(
    http: requests.Session, upstream: str, dataset: Dataset, data_: st.DataObject
) -> None:
    ids = [t.id for t in dataset.threads]
    user = data_.draw(st.none() | st.sampled_from(sorted(dataset.user_keys)), label="user")
    own = [t.id for t in dataset.threads if t.user == user] if user else ids
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
    expected_ids, expected_more = expected_page(dataset, **params)
    assert [t["id"] for t in page["data"]] == expected_ids
    assert page["has_more"] is expected_more
    assert page["first_id"] == (expected_ids[0] if expected_ids else None)
    assert page["last_id"] == (expected_ids[-1] if expected_ids else None)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walking_with_after_reaches_every_thread_once(
    http: requests.Session, upstream: str, dataset: Dataset, order: str
) -> None:
    seen = walk(http, upstream, limit=100, order=order)
    assert len(seen) == len(dataset)
    assert {t["id"] for t in seen} == set(dataset.by_id)
    keys = [(t["created_at"], t["id"]) for t in seen]
    assert keys == sorted(keys, reverse=order == "desc")
    assert seen == [dataset.by_id[t["id"]].to_dict() for t in seen]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walking_back_with_before_reaches_every_thread_once(
    http: requests.Session, upstream: str, dataset: Dataset, order: str
) -> None:
    # Start from the very end, then travel back one page at a time.
    last = expected_page(dataset, limit=1, order="desc" if order == "asc" else "asc")[0][0]
    collected: list[list[str]] = [[last]]
    cursor = last
    while True:
        page = list_threads(http, upstream, limit=77, order=order, before=cursor)
        ids = [t["id"] for t in page["data"]]
        collected.insert(0, ids)
        if not page["has_more"]:
            break
        assert len(ids) == 77
        cursor = page["first_id"]
    everything = [thread_id for ids in collected for thread_id in ids]
    assert everything == expected_page(dataset, limit=len(dataset), order=order)[0]


def test_after_and_before_together_keep_what_lies_between(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    ordered = expected_page(dataset, limit=100)[0]
    page = list_threads(http, upstream, after=ordered[10], before=ordered[20], limit=5)
    assert [t["id"] for t in page["data"]] == ordered[11:16] and page["has_more"]
    page = list_threads(http, upstream, after=ordered[10], before=ordered[20], limit=9)
    assert [t["id"] for t in page["data"]] == ordered[11:20] and not page["has_more"]
    page = list_threads(http, upstream, after=ordered[20], before=ordered[10])
    assert page["data"] == [] and not page["has_more"]


def test_cursor_may_belong_to_another_user(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    user = "support team"
    others = [t for t in dataset.threads if t.user != user]
    for cursor in (others[0].id, others[len(others) // 2].id, others[-1].id):
        for order in ("asc", "desc"):
            for name in ("after", "before"):
                page = list_threads(http, upstream, user=user, order=order, **{name: cursor})
                expected = expected_page(dataset, user=user, order=order, **{name: cursor})
                assert [t["id"] for t in page["data"]] == expected[0]
                assert all(t["user"] == user for t in page["data"])


def test_ties_on_created_at_are_ordered_by_id(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    by_time = Counter(t.created_at for t in dataset.threads)
    tied = sorted(t.key for t in dataset.threads if by_time[t.created_at] > 1)[:2]
    assert tied[0][0] == tied[1][0]
    page = list_threads(http, upstream, order="asc", after=tied[0][1], limit=1)
    assert page["data"][0]["id"] == tied[1][1]
    page = list_threads(http, upstream, order="desc", before=tied[0][1], limit=1)
    assert page["data"][0]["id"] == tied[1][1]


def test_status_mix_as_served(http: requests.Session, upstream: str) -> None:
    seen = walk(http, upstream, limit=100)
    statuses = Counter(t["status"]["type"] for t in seen)
    assert abs(statuses["active"] / len(seen) - 0.85) < 0.03
    assert abs(statuses["closed"] / len(seen) - 0.10) < 0.03
    assert abs(statuses["locked"] / len(seen) - 0.05) < 0.02
    assert any(t["title"] is None for t in seen)
    assert any(t["status"].get("reason", "") is None for t in seen)
    assert len({t["user"] for t in seen}) >= 50


# --- User filter with hard ids --------------------------------------------------------


@pytest.mark.parametrize("user", HARD_USERS, ids=lambda u: repr(u[:24]))
def test_every_hard_user_round_trips(
    http: requests.Session, upstream: str, dataset: Dataset, user: str
) -> None:
    expected = expected_page(dataset, user=user, limit=100)[0]
    assert expected
    # As requests encodes it (space as '+') ...
    page = list_threads(http, upstream, user=user, limit=100)
    assert [t["id"] for t in page["data"]] == expected
    assert {t["user"] for t in page["data"]} == {user}
    # ... and fully percent-encoded (space as %20), as other clients do.
    response = http.get(f"{upstream}/chatkit/threads?limit=100&user={quote(user, safe='')}")
    assert [t["id"] for t in response.json()["data"]] == expected
    # Paging within the user's threads, two at a time.
    walked = walk(http, upstream, user=user, limit=2)
    assert [t["id"] for t in walked] == expected


def test_plus_in_a_query_is_a_space_unless_encoded(http: requests.Session, upstream: str) -> None:
    raw_plus = http.get(f"{upstream}/chatkit/threads?user=alex+chatkit@example.org").json()
    assert raw_plus["data"] == []  # that asked for "alex chatkit@example.org"
    encoded = http.get(f"{upstream}/chatkit/threads?user=alex%2Bchatkit%40example.org").json()
    assert encoded["data"]


# --- Retrieve -----------------------------------------------------------------------


def test_retrieve(http: requests.Session, upstream: str, dataset: Dataset) -> None:
    for thread in dataset.threads[:: len(dataset) // 25]:
        response = http.get(f"{upstream}/chatkit/threads/{thread.id}")
        assert response.status_code == 200
        assert response.json() == thread.to_dict()


def test_retrieve_decodes_percent_encoded_ids(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    thread = dataset.threads[3]
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


def test_items_default_page(http: requests.Session, upstream: str, dataset: Dataset) -> None:
    thread = dataset.threads[0]
    transcript = data.generate_items(thread, dataset.seed)
    page = items_page(http, upstream, thread.id)
    assert page["data"] == transcript[::-1][:20]
    assert page["has_more"] is False
    assert page["first_id"] == transcript[-1]["id"] and page["last_id"] == transcript[0]["id"]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_items_paging_both_ways(
    http: requests.Session, upstream: str, dataset: Dataset, order: str
) -> None:
    thread = max(dataset.threads[:50], key=lambda t: len(data.generate_items(t, dataset.seed)))
    transcript = data.generate_items(thread, dataset.seed)
    expected = [item["id"] for item in (transcript if order == "asc" else transcript[::-1])]
    forward: list[str] = []
    cursor: dict[str, str] = {}
    while True:
        page = items_page(http, upstream, thread.id, limit=3, order=order, **cursor)
        forward += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        cursor = {"after": page["last_id"]}
    assert forward == expected
    backward: list[str] = []
    cursor = {"before": expected[-1]}
    while True:
        page = items_page(http, upstream, thread.id, limit=4, order=order, **cursor)
        backward = [item["id"] for item in page["data"]] + backward
        if not page["has_more"]:
            break
        cursor = {"before": page["first_id"]}
    assert backward == expected[:-1]
    page = items_page(http, upstream, thread.id, limit=0)
    assert page["data"] == [] and page["has_more"] is True


def test_items_parameters_are_validated(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    thread, other = dataset.threads[0], dataset.threads[1]
    url = f"{upstream}/chatkit/threads/{thread.id}/items"
    assert_error(http.get(url, params={"limit": 101}), 400, param="limit")
    assert_error(http.get(url, params={"limit": "x"}), 400, param="limit")
    assert_error(http.get(url, params={"order": "newest"}), 400, param="order")
    foreign_item = data.generate_items(other, dataset.seed)[0]["id"]
    for name, value in [("after", foreign_item), ("before", thread.id), ("after", "")]:
        assert_error(http.get(url, params={name: value}), 400, param=name, code="invalid_value")
    # `user` means nothing here and is ignored like any unknown parameter.
    assert http.get(url, params={"user": ""}).status_code == 200


def test_items_cover_every_type_spelling_and_field(
    http: requests.Session, upstream: str, dataset: Dataset
) -> None:
    seen: list[dict[str, Any]] = []
    for thread in dataset.threads[:40]:
        page = items_page(http, upstream, thread.id, limit=100, order="asc")
        assert page["data"] == data.generate_items(thread, dataset.seed)
        seen += page["data"]
    types = Counter(item["type"] for item in seen)
    for kind in data.ITEM_TYPES:
        assert types[f"chatkit.{kind}"] and types[kind], kind

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


def test_bare_spelling_is_a_deterministic_minority(dataset: Dataset) -> None:
    for thread in dataset.threads[:30]:
        types = {item["type"] for item in data.generate_items(thread, dataset.seed)}
        bare = thread.index % data.BARE_SPELLING_EVERY == 3
        assert all(t.startswith("chatkit.") != bare for t in types)


# --- Delete (private servers) ---------------------------------------------------------


def test_delete(
    http: requests.Session, fresh: tuple[DemoUpstreamServer, str], dataset: Dataset
) -> None:
    _, base_url = fresh
    newest = expected_page(dataset, limit=30)[0]
    victim = dataset.by_id[newest[5]]
    response = http.delete(f"{base_url}/chatkit/threads/{victim.id}")
    assert response.status_code == 200
    assert response.json() == {"id": victim.id, "object": "chatkit.thread.deleted", "deleted": True}
    assert_error(http.get(f"{base_url}/chatkit/threads/{victim.id}"), 404, code="not_found")
    assert_error(http.get(f"{base_url}/chatkit/threads/{victim.id}/items"), 404)
    assert_error(http.delete(f"{base_url}/chatkit/threads/{victim.id}"), 404, code="not_found")
    assert_error(
        http.get(f"{base_url}/chatkit/threads", params={"after": victim.id}), 400, param="after"
    )
    # Pages stay full and skip the deleted thread.
    page = list_threads(http, base_url, limit=20)
    assert [t["id"] for t in page["data"]] == [i for i in newest if i != victim.id][:20]
    user_page = list_threads(http, base_url, user=victim.user, limit=100)
    assert victim.id not in {t["id"] for t in user_page["data"]}
    everything = walk(http, base_url, limit=100, order="asc")
    assert len(everything) == len(dataset) - 1


def test_concurrent_deletes_and_reads_stay_consistent(
    fresh: tuple[DemoUpstreamServer, str], dataset: Dataset
) -> None:
    server, base_url = fresh
    victims = [t.id for t in dataset.threads[100:160]]
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
    assert remaining == set(dataset.by_id) - set(victims)
    assert len(server.store) == len(dataset) - len(victims)

    requests.post(root_of(base_url) + "/__control/reset")
    assert len(server.store) == len(dataset)


# --- Faults, latency and stats (private servers) ---------------------------------------


def set_fault(base_url: str, **spec: Any) -> dict[str, Any]:
    response = requests.post(root_of(base_url) + "/__control/faults", json=spec)
    assert response.status_code == 200, response.text
    return response.json()["fault"]


def test_status_fault_with_count(http: requests.Session, fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="status", status=500, count=2)
    for _ in range(2):
        response = http.get(f"{base_url}/chatkit/threads")
        assert_error(response, 500, error_type="server_error")
    assert http.get(f"{base_url}/chatkit/threads").status_code == 200
    assert requests.get(root_of(base_url) + "/__control/faults").json() == {"fault": None}


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
    assert fault["count"] is None and fault["status"] == 503
    for _ in range(5):
        error = assert_error(
            http.get(f"{base_url}/chatkit/threads"), 503, error_type="server_error"
        )
        assert error["message"] == "Down for <maintenance>"
    # Control endpoints are not API requests: they neither consume nor suffer faults.
    assert requests.get(root_of(base_url) + "/__control/stats").status_code == 200
    cleared = requests.delete(root_of(base_url) + "/__control/faults")
    assert cleared.json() == {"fault": None}
    assert http.get(f"{base_url}/chatkit/threads").status_code == 200


def test_latency_fault(http: requests.Session, fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="latency", ms=300, count=1)
    started = time.perf_counter()
    assert http.get(f"{base_url}/chatkit/threads").status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    assert http.get(f"{base_url}/chatkit/threads").status_code == 200
    assert time.perf_counter() - started < 0.25


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
    http: requests.Session, fresh: tuple[Any, str], dataset: Dataset
) -> None:
    _, base_url = fresh
    set_fault(base_url, mode="drift", count=3)
    page = list_threads(http, base_url, limit=50)
    assert page["object"] == "list" and len(page["data"]) == 50
    assert all("created_at" not in t and isinstance(t["status"], str) for t in page["data"])
    assert any(isinstance(t["title"], int) for t in page["data"])
    thread = http.get(f"{base_url}/chatkit/threads/{dataset.threads[0].id}").json()
    assert "created_at" not in thread
    items = http.get(f"{base_url}/chatkit/threads/{dataset.threads[0].id}/items").json()
    assert all(item["type"] == "chatkit.hologram" for item in items["data"])
    assert "created_at" in list_threads(http, base_url)["data"][0]  # count exhausted


@pytest.mark.parametrize(
    "spec",
    [{}, {"mode": "explode"}, {"mode": "status", "status": 200}, {"mode": "status", "count": 0},
     {"mode": "latency"}, {"mode": "latency", "ms": -5}, {"mode": "drop", "count": "2"}, []],
)  # fmt: skip
def test_invalid_fault_specs(fresh: tuple[Any, str], spec: Any) -> None:
    _, base_url = fresh
    response = requests.post(root_of(base_url) + "/__control/faults", json=spec)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fault"
    not_json = requests.post(root_of(base_url) + "/__control/faults", data=b"{")
    assert not_json.status_code == 400


def test_stats_count_api_requests_only(http: requests.Session, fresh: tuple[Any, str]) -> None:
    _, base_url = fresh
    control = root_of(base_url) + "/__control"
    assert requests.post(control + "/stats/reset").json() == {"requests": 0}
    http.get(f"{base_url}/chatkit/threads")
    http.get(f"{base_url}/chatkit/threads", params={"limit": 500})
    requests.get(f"{base_url}/chatkit/threads")  # unauthenticated: still an upstream call
    requests.get(control + "/faults")
    assert requests.get(control + "/stats").json() == {"requests": 3}
    assert requests.post(control + "/stats/reset").json() == {"requests": 0}
    assert requests.get(control + "/stats").json() == {"requests": 0}
    assert_error(requests.get(control + "/stats/reset"), 405)


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


def test_many_concurrent_clients(upstream: str, dataset: Dataset) -> None:
    failures: list[Any] = []

    def client(offset: int) -> None:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            for i in range(25):
                thread = dataset.threads[(offset * 25 + i) % len(dataset)]
                page = session.get(
                    f"{upstream}/chatkit/threads", params={"after": thread.id, "limit": 10}
                )
                expected = expected_page(dataset, after=thread.id, limit=10)[0]
                if [t["id"] for t in page.json()["data"]] != expected:
                    failures.append(thread.id)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []


def test_management_command_serves(dataset: Dataset) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DEMO_UPSTREAM_API_KEY": "from-the-env"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_demo_upstream", "--port", "0", "--threads", "2000",
         "--seed", "5", "--enable-control"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"(http://\S+/v1)", banner)
        assert match, banner + (process.stderr.read() if process.poll() is not None else "")
        base_url = match.group(1)
        headers = {"Authorization": "Bearer from-the-env", "OpenAI-Beta": "chatkit_beta=v1"}
        page = requests.get(f"{base_url}/chatkit/threads", headers=headers, timeout=10).json()
        expected = expected_page(make_dataset(2000, 5))[0]
        assert [t["id"] for t in page["data"]] == expected
        assert requests.get(root_of(base_url) + "/__control/stats").json() == {"requests": 1}
        assert "from-the-env" not in banner
    finally:
        process.terminate()
        process.wait(timeout=10)


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


def test_sdk_list_with_every_parameter(upstream: str, dataset: Dataset) -> None:
    client = sdk(upstream)
    user = max(dataset.user_keys, key=lambda u: len(dataset.user_keys[u]))
    own = expected_page(dataset, user=user, limit=100, order="asc")[0]
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
def test_sdk_auto_pages_through_everything(upstream: str, dataset: Dataset, order: str) -> None:
    seen = list(sdk(upstream).beta.chatkit.threads.list(limit=100, order=order))
    assert [t.id for t in seen] == expected_page(dataset, limit=len(dataset), order=order)[0]
    statuses = set()
    for thread in seen:
        assert_sdk_thread(thread, dataset)
        statuses.add(type(thread.status))
    assert statuses == {StatusActive, StatusLocked, StatusClosed}


def test_sdk_default_iteration(upstream: str, dataset: Dataset) -> None:
    ids = [t.id for t in sdk(upstream).beta.chatkit.threads.list()]
    assert sorted(ids) == sorted(dataset.by_id)


@pytest.mark.parametrize("user", HARD_USERS, ids=lambda u: repr(u[:24]))
def test_sdk_hard_users(upstream: str, dataset: Dataset, user: str) -> None:
    threads = list(sdk(upstream).beta.chatkit.threads.list(user=user, limit=2))
    assert [t.id for t in threads] == expected_page(dataset, user=user, limit=100)[0]


def test_sdk_retrieve(upstream: str, dataset: Dataset) -> None:
    client = sdk(upstream)
    for thread in dataset.threads[:40]:
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


def test_sdk_list_items(upstream: str, dataset: Dataset) -> None:
    client = sdk(upstream)
    classes = set()
    prefixed = [t for t in dataset.threads[:60] if t.index % data.BARE_SPELLING_EVERY != 3]
    for thread in prefixed:
        transcript = data.generate_items(thread, dataset.seed)
        items = list(client.beta.chatkit.threads.list_items(thread.id, limit=2, order="asc"))
        assert [item.id for item in items] == [item["id"] for item in transcript]
        for item, raw in zip(items, transcript, strict=True):
            assert type(item) is ITEM_CLASSES[item.type]
            assert not item.model_extra
            assert item.model_dump() == raw
            classes.add(type(item))
    assert classes == set(ITEM_CLASSES.values())


def test_sdk_sees_bare_spellings_verbatim(upstream: str, dataset: Dataset) -> None:
    """The SDK's union only knows `chatkit.*`; clients must normalise the bare spelling."""
    thread = next(t for t in dataset.threads if t.index % data.BARE_SPELLING_EVERY == 3)
    client = sdk(upstream, strict=False)
    items = list(client.beta.chatkit.threads.list_items(thread.id, limit=100, order="asc"))
    assert [item.type for item in items] == [
        item["type"] for item in data.generate_items(thread, dataset.seed)
    ]
    assert not any(item.type.startswith("chatkit.") for item in items)
    with pytest.raises(openai.APIResponseValidationError):
        sdk(upstream).beta.chatkit.threads.list_items(thread.id, limit=100)


def test_sdk_errors(upstream: str, dataset: Dataset) -> None:
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


def test_sdk_delete(fresh: tuple[DemoUpstreamServer, str], dataset: Dataset) -> None:
    _, base_url = fresh
    client = sdk(base_url)
    victim = dataset.threads[42]
    deleted = client.beta.chatkit.threads.delete(victim.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (
        victim.id,
        "chatkit.thread.deleted",
        True,
    )
    with pytest.raises(openai.NotFoundError):
        client.beta.chatkit.threads.retrieve(victim.id)
    remaining = [t.id for t in client.beta.chatkit.threads.list(limit=100)]
    assert len(remaining) == len(dataset) - 1 and victim.id not in remaining


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
