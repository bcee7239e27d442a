"""The ChatKit HTTP client: headers, parameters, timeouts, parsing, errors, retries, secrecy.

Every upstream answer is faked with `responses`; time is faked too (a clock that only moves
when the client sleeps or a fake request says it took a while), so retry tests take no time.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from responses import matchers
from responses.registries import OrderedRegistry

from dashboard.chatkit import client as client_module
from dashboard.chatkit.client import ChatKitClient, get_client, list_params, shown_url
from dashboard.chatkit.errors import (
    ChatKitAuthenticationError,
    ChatKitBadResponseError,
    ChatKitEndpointNotFoundError,
    ChatKitError,
    ChatKitInvalidRequestError,
    ChatKitNotConfiguredError,
    ChatKitNotFoundError,
    ChatKitRateLimitError,
    ChatKitTimeoutError,
    ChatKitUnavailableError,
)
from dashboard.chatkit.types import StatusKind, Thread, ThreadPage, ThreadStatus

KEY = "sk-test-" + "k" * 40
# Any 20 characters of the key's secret part: catches truncated or re-quoted echoes too.
KEY_FRAGMENT = "k" * 20
BASE_URL = "https://api.example.test/v1"
THREADS_URL = BASE_URL + "/chatkit/threads"
ODD_USER = "ana maria/50%#1&x=y+z;ü 用户 🙂"
DROP = object()  # a builder override that removes the field


# --- Builders -------------------------------------------------------------------------------


def thread_json(**overrides):
    thread = {
        "id": "cthr_abc123",
        "object": "chatkit.thread",
        "created_at": 1712345600,
        "title": "Demo feedback",
        "user": "user_456",
        "status": {"type": "active"},
    }
    thread.update(overrides)
    return {key: value for key, value in thread.items() if value is not DROP}


def page_json(threads=None, **overrides):
    threads = [thread_json()] if threads is None else threads
    ids = [t["id"] for t in threads if isinstance(t, dict) and "id" in t]
    page = {
        "object": "list",
        "data": threads,
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
        "has_more": False,
    }
    page.update(overrides)
    return {key: value for key, value in page.items() if value is not DROP}


def error_json(message="Something went wrong.", type="server_error", param=None, code=None):
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def exception_chain(error: BaseException) -> list[BaseException]:
    """`error` and everything reachable through __cause__ and __context__."""
    seen: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__]
    return seen


def texts_of(error: BaseException) -> list[str]:
    """Every str/repr a traceback, a log line or a template could show for `error`."""
    texts = []
    for exc in exception_chain(error):
        texts += [str(exc), repr(exc), *(repr(arg) for arg in exc.args)]
        if isinstance(exc, ChatKitError):
            texts += [repr(value) for value in vars(exc).values()]
    return texts


def assert_no_key_in(texts):
    for text in texts:
        assert KEY not in text
        assert KEY_FRAGMENT not in text, text


# --- Fixtures -------------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock that moves only when the client sleeps or a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def make_client(fake_time):
    def make(**options):
        arguments = {
            "api_key": KEY,
            "base_url": BASE_URL,
            "sleep": fake_time.sleep,
            "clock": fake_time.clock,
            **options,
        }
        return ChatKitClient(**arguments)

    return make


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def upstream():
    # Ordered: each registered answer is used once, in order; an unexpected extra request fails.
    with responses.RequestsMock(registry=OrderedRegistry) as mock:
        yield mock


@pytest.fixture
def jitter(monkeypatch):
    """Pin random.random() (the SDK's jitter source) to a value."""

    def pin(value: float) -> None:
        monkeypatch.setattr(random, "random", lambda: value)

    return pin


def timeouts_sent(upstream):
    return [call.request.req_kwargs["timeout"] for call in upstream.calls]


# --- Headers ----------------------------------------------------------------------------------


def test_it_sends_the_bearer_key_and_the_chatkit_beta_header(client, upstream):
    upstream.get(
        THREADS_URL,
        json=page_json(),
        match=[
            matchers.header_matcher(
                {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "chatkit_beta=v1"}
            )
        ],
    )
    client.list_threads()
    assert len(upstream.calls) == 1
    assert upstream.calls[0].request.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    "organization, project",
    [("", ""), ("org-123", ""), ("", "proj_456"), ("org-123", "proj_456")],
)
def test_it_sends_organization_and_project_headers_only_when_configured(
    make_client, upstream, organization, project
):
    upstream.get(THREADS_URL, json=page_json())
    make_client(organization=organization, project=project).list_threads()
    sent = upstream.calls[0].request.headers
    assert sent.get("OpenAI-Organization") == (organization or None)
    assert sent.get("OpenAI-Project") == (project or None)


# --- Parameters -------------------------------------------------------------------------------


def test_it_asks_for_twenty_threads_newest_first_by_default(client, upstream):
    upstream.get(
        THREADS_URL,
        json=page_json(),
        match=[matchers.query_param_matcher({"limit": "20", "order": "desc"})],
    )
    client.list_threads()
    assert parse_qs(urlsplit(upstream.calls[0].request.url).query) == {
        "limit": ["20"],
        "order": ["desc"],
    }


def test_it_passes_user_after_before_limit_and_order_through_exactly(client, upstream):
    expected = {
        "user": ODD_USER,
        "after": "cthr_after",
        "before": "cthr_before",
        "limit": "5",
        "order": "asc",
    }
    upstream.get(THREADS_URL, json=page_json(), match=[matchers.query_param_matcher(expected)])
    client.list_threads(
        user=ODD_USER, after="cthr_after", before="cthr_before", limit=5, order="asc"
    )
    url = urlsplit(upstream.calls[0].request.url)
    # Nothing in the user id may leak into the path or become a fragment or an extra parameter.
    assert url.path == "/v1/chatkit/threads"
    assert url.fragment == ""
    assert parse_qs(url.query, strict_parsing=True) == {k: [v] for k, v in expected.items()}


@given(user=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=512))
def test_any_user_id_reaches_the_server_exactly_as_given(user):
    with responses.RequestsMock() as mock:
        mock.get(THREADS_URL, json=page_json())
        quiet = ChatKitClient(api_key=KEY, base_url=BASE_URL, max_retries=0, sleep=lambda s: None)
        quiet.list_threads(user=user)
        query = urlsplit(mock.calls[0].request.url).query
    assert parse_qs(query, keep_blank_values=True, strict_parsing=True)["user"] == [user]


LIST_DEFAULTS = {"user": None, "after": None, "before": None, "limit": 20, "order": "desc"}
REFUSED_PARAMETERS = {
    "limit -1": {"limit": -1},
    "limit 101": {"limit": 101},
    "order sideways": {"order": "sideways"},
    "empty user": {"user": ""},
    "user of 513 characters": {"user": "u" * 513},
}


@pytest.mark.parametrize("overrides", REFUSED_PARAMETERS.values(), ids=REFUSED_PARAMETERS.keys())
def test_list_params_refuses_what_the_upstream_would_refuse(overrides):
    with pytest.raises(ValueError):
        list_params(**{**LIST_DEFAULTS, **overrides})


@pytest.mark.parametrize("overrides", REFUSED_PARAMETERS.values(), ids=REFUSED_PARAMETERS.keys())
def test_list_threads_refuses_bad_parameters_without_calling_the_upstream(
    client, upstream, overrides
):
    with pytest.raises(ValueError):
        client.list_threads(**overrides)
    assert len(upstream.calls) == 0


@pytest.mark.parametrize(
    "overrides",
    [{"limit": 0}, {"limit": 100}, {"order": "asc"}, {"user": "u"}, {"user": "u" * 512}],
    ids=["limit 0", "limit 100", "order asc", "user of 1 character", "user of 512 characters"],
)
def test_list_params_accepts_the_boundaries(overrides):
    arguments = {**LIST_DEFAULTS, **overrides}
    params = list_params(**arguments)
    assert params["limit"] == arguments["limit"]
    assert params["order"] == arguments["order"]
    assert params.get("user") == arguments["user"]


# --- Timeouts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, (3.0, 6.0)),
        ({"connect_timeout": 1.5, "read_timeout": 4.0}, (1.5, 4.0)),
        ({"time_budget": 4.0}, (3.0, 4.0)),
        ({"time_budget": 2.0}, (2.0, 2.0)),
    ],
)
def test_it_passes_connect_and_read_timeouts_clipped_by_the_budget(
    make_client, upstream, options, expected
):
    upstream.get(THREADS_URL, json=page_json())
    make_client(**options).list_threads()
    assert timeouts_sent(upstream) == [pytest.approx(expected)]


def test_a_retry_gets_only_the_time_left_in_the_budget(client, upstream, fake_time, jitter):
    jitter(0.0)  # backoff of exactly 0.5 s

    def slow_failure(request):
        fake_time.advance(5.0)
        return 503, {}, json.dumps(error_json("Overloaded."))

    upstream.add_callback(responses.GET, THREADS_URL, callback=slow_failure)
    upstream.get(THREADS_URL, json=page_json())
    client.list_threads()
    assert fake_time.sleeps == [0.5]
    # 8 s budget - 5 s first attempt - 0.5 s backoff = 2.5 s for both timeouts.
    assert timeouts_sent(upstream) == [pytest.approx((3.0, 6.0)), pytest.approx((2.5, 2.5))]


# --- Parsing --------------------------------------------------------------------------------


def test_it_parses_a_full_page_into_typed_threads(client, upstream):
    body = page_json(
        [
            thread_json(id="cthr_1"),
            thread_json(
                id="cthr_2",
                created_at=1712345600.25,
                title=None,
                user="user_789",
                status={"type": "locked", "reason": "Abuse report"},
            ),
            thread_json(id="cthr_3", status={"type": "closed", "reason": None}),
            thread_json(
                id="cthr_4",
                status={"type": "archived", "reason": "Old", "since": 1},
                surprise={"nested": [1, 2]},
            ),
        ],
        has_more=True,
        next_cursor="ignored",
    )
    upstream.get(THREADS_URL, json=body, headers={"x-request-id": "req_page"})

    page = client.list_threads()

    when = datetime(2024, 4, 5, 19, 33, 20, tzinfo=UTC)

    def status(kind, reason=None):
        return ThreadStatus(StatusKind(kind), reason, raw_type=kind)

    assert page == ThreadPage(
        threads=(
            Thread("cthr_1", when, "Demo feedback", "user_456", status("active")),
            Thread(
                "cthr_2",
                when + timedelta(milliseconds=250),
                None,
                "user_789",
                status("locked", "Abuse report"),
            ),
            Thread("cthr_3", when, "Demo feedback", "user_456", status("closed")),
            Thread(
                "cthr_4",
                when,
                "Demo feedback",
                "user_456",
                ThreadStatus(StatusKind.UNKNOWN, "Old", raw_type="archived"),
            ),
        ),
        first_id="cthr_1",
        last_id="cthr_4",
        has_more=True,
    )
    assert page.request_id == "req_page"
    assert all(thread.created_at.utcoffset() == timedelta(0) for thread in page.threads)


@pytest.mark.parametrize(
    "status, kind, reason, label",
    [
        ({"type": "active"}, StatusKind.ACTIVE, None, "Active"),
        ({"type": "active", "reason": "stale"}, StatusKind.ACTIVE, None, "Active"),
        ({"type": "locked", "reason": "Spam"}, StatusKind.LOCKED, "Spam", "Locked"),
        ({"type": "locked", "reason": None}, StatusKind.LOCKED, None, "Locked"),
        ({"type": "closed", "reason": "Resolved"}, StatusKind.CLOSED, "Resolved", "Closed"),
        ({"type": "closed", "reason": None}, StatusKind.CLOSED, None, "Closed"),
        ({"type": "closed"}, StatusKind.CLOSED, None, "Closed"),
        ({"type": "archived"}, StatusKind.UNKNOWN, None, "Unknown (archived)"),
    ],
)
def test_it_parses_each_thread_status(client, upstream, status, kind, reason, label):
    upstream.get(THREADS_URL, json=page_json([thread_json(status=status)]))
    parsed = client.list_threads().threads[0].status
    assert (parsed.kind, parsed.reason, parsed.raw_type, parsed.label) == (
        kind,
        reason,
        status["type"],
        label,
    )


def test_it_parses_an_empty_page_with_null_first_and_last_ids(client, upstream):
    upstream.get(THREADS_URL, json=page_json([], first_id=None, last_id=None, has_more=False))
    page = client.list_threads()
    assert page == ThreadPage(threads=(), first_id=None, last_id=None, has_more=False)
    assert page.request_id is None


def test_it_attaches_the_request_id_from_the_response(client, upstream):
    upstream.get(THREADS_URL, json=page_json(), headers={"x-request-id": "req_abc"})
    assert client.list_threads().request_id == "req_abc"


def _raw(value) -> str:
    return json.dumps(value)


MALFORMED_BODIES = {
    "not JSON": ("<html>Bad gateway</html>", "not JSON"),
    "an empty body": ("", "not JSON"),
    "JSON nested past the recursion limit": ("[" * 100_000 + "]" * 100_000, "not JSON"),
    "a JSON array": (_raw([thread_json()]), "not a JSON object"),
    "a JSON string": (_raw("list"), "not a JSON object"),
    "no data": (_raw(page_json(data=DROP)), "'data'"),
    "data not a list": (_raw(page_json(data={"0": thread_json()})), "'data'"),
    "data null": (_raw(page_json(data=None)), "'data'"),
    "a thread that is not an object": (_raw(page_json(["cthr_1"])), "thread"),
    "a thread without id": (_raw(page_json([thread_json(id=DROP)])), "'id'"),
    "a thread without created_at": (
        _raw(page_json([thread_json(created_at=DROP)])),
        "'created_at'",
    ),
    "a thread without user": (_raw(page_json([thread_json(user=DROP)])), "'user'"),
    "a thread without status": (_raw(page_json([thread_json(status=DROP)])), "'status'"),
    "id as a number": (_raw(page_json([thread_json(id=123)])), "'id'"),
    "user as null": (_raw(page_json([thread_json(user=None)])), "'user'"),
    "created_at as a string": (
        _raw(page_json([thread_json(created_at="1712345600")])),
        "'created_at'",
    ),
    "created_at as a boolean": (_raw(page_json([thread_json(created_at=True)])), "'created_at'"),
    "created_at out of range": (_raw(page_json([thread_json(created_at=1e20)])), "'created_at'"),
    "created_at null": (_raw(page_json([thread_json(created_at=None)])), "'created_at'"),
    "has_more as 'yes'": (_raw(page_json(has_more="yes")), "'has_more'"),
    "has_more missing": (_raw(page_json(has_more=DROP)), "'has_more'"),
    "title as a number": (_raw(page_json([thread_json(title=42)])), "'title'"),
    "first_id as a number": (_raw(page_json(first_id=7)), "'first_id'"),
    "status reason as a number": (
        _raw(page_json([thread_json(status={"type": "locked", "reason": 7})])),
        "'reason'",
    ),
    "status not an object": (_raw(page_json([thread_json(status="active")])), "'status'"),
    "status without type": (
        _raw(page_json([thread_json(status={"reason": "x"})])),
        "'type'",
    ),
    "status type as a number": (_raw(page_json([thread_json(status={"type": 1})])), "'type'"),
}


@pytest.mark.parametrize(
    "body, names", MALFORMED_BODIES.values(), ids=list(MALFORMED_BODIES.keys())
)
def test_a_malformed_payload_raises_bad_response_with_the_request_id(client, upstream, body, names):
    upstream.get(
        THREADS_URL, body=body, content_type="application/json", headers={"x-request-id": "req_bad"}
    )
    with pytest.raises(ChatKitBadResponseError) as caught:
        client.list_threads()
    assert names in caught.value.message
    # The error page says "report this with the request id": it must be there.
    assert caught.value.request_id == "req_bad"
    assert len(upstream.calls) == 1


# --- Error mapping ----------------------------------------------------------------------------

STATUS_CLASSES = [
    (400, ChatKitInvalidRequestError),
    (401, ChatKitAuthenticationError),
    (403, ChatKitAuthenticationError),
    # The list itself missing: the base URL is wrong (thread 404s: see below).
    (404, ChatKitEndpointNotFoundError),
    (422, ChatKitInvalidRequestError),
    (429, ChatKitRateLimitError),
    (500, ChatKitUnavailableError),
    (502, ChatKitUnavailableError),
    (503, ChatKitUnavailableError),
]


@pytest.mark.parametrize("status, error_class", STATUS_CLASSES)
def test_each_http_error_maps_to_its_class_with_openais_details(
    make_client, upstream, status, error_class
):
    upstream.get(
        THREADS_URL,
        status=status,
        json=error_json("Specific words.", type="some_error", param="limit", code="bad_limit"),
        headers={"x-request-id": "req_err"},
    )
    with pytest.raises(error_class) as caught:
        make_client(max_retries=0).list_threads()
    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.message, error.error_type, error.code, error.param) == (
        status,
        "Specific words.",
        "some_error",
        "bad_limit",
        "limit",
    )
    assert error.request_id == "req_err"
    assert str(error) == f"Specific words. (HTTP {status}) [request req_err]"


def test_a_404_for_the_list_names_the_base_url(make_client, upstream):
    upstream.get("https://api.example.test/chatkit/threads", status=404, json=error_json("nope"))
    client = make_client(base_url="https://api.example.test/", max_retries=0)
    with pytest.raises(ChatKitEndpointNotFoundError) as caught:
        client.list_threads()
    assert caught.value.base_url == "https://api.example.test"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://me:secret@api.example.test:8443/x", "https://api.example.test:8443/x"),
        ("http://[::1]:9000/v1?token=abc#f", "http://[::1]:9000/v1"),
    ],
)
def test_a_shown_base_url_has_no_credentials_query_or_fragment(url, shown):
    assert shown_url(url) == shown


def test_a_404_for_a_list_cursor_or_a_thread_is_a_missing_thread(make_client, upstream):
    upstream.get(THREADS_URL, status=404, json=error_json("No thread cthr_gone"))
    upstream.get(f"{THREADS_URL}/cthr_gone", status=404, json=error_json("No thread"))
    client = make_client(max_retries=0)
    for call in (
        lambda: client.list_threads(after="cthr_gone"),
        lambda: client.get_thread("cthr_gone"),
    ):
        with pytest.raises(ChatKitNotFoundError) as caught:
            call()
        assert type(caught.value) is ChatKitNotFoundError


@pytest.mark.parametrize(
    "headers, retry_after",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({}, None),
    ],
)
def test_a_rate_limit_error_carries_retry_after(make_client, upstream, headers, retry_after):
    upstream.get(THREADS_URL, status=429, json=error_json(type="requests"), headers=headers)
    with pytest.raises(ChatKitRateLimitError) as caught:
        make_client(max_retries=0).list_threads()
    assert caught.value.retry_after == retry_after


NON_ENVELOPES = {
    "html": "<html><body>502 Bad Gateway</body></html>",
    "empty": "",
    "array": "[]",
    "error as a string": '{"error": "nope"}',
    "no error key": '{"message": "nope"}',
    "message as a number": '{"error": {"message": 5, "type": "x"}}',
    "empty message": '{"error": {"message": ""}}',
}


@pytest.mark.parametrize("body", NON_ENVELOPES.values(), ids=list(NON_ENVELOPES.keys()))
@pytest.mark.parametrize(
    "status, error_class",
    [
        (401, ChatKitAuthenticationError),
        (404, ChatKitEndpointNotFoundError),
        (429, ChatKitRateLimitError),
        (502, ChatKitUnavailableError),
    ],
)
def test_an_error_body_without_openais_envelope_still_maps_with_the_default_message(
    make_client, upstream, body, status, error_class
):
    upstream.get(THREADS_URL, status=status, body=body, headers={"x-request-id": "req_html"})
    with pytest.raises(error_class) as caught:
        make_client(max_retries=0).list_threads()
    error = caught.value
    assert error.message == error_class.default_message
    assert (error.status, error.request_id, error.code, error.param) == (
        status,
        "req_html",
        None,
        None,
    )


TRANSPORT_FAILURES = {
    "read timeout": (requests.exceptions.ReadTimeout, ChatKitTimeoutError),
    "connect timeout": (requests.exceptions.ConnectTimeout, ChatKitTimeoutError),
    "connection refused": (requests.exceptions.ConnectionError, ChatKitUnavailableError),
}


@pytest.mark.parametrize(
    "exception_class, error_class",
    TRANSPORT_FAILURES.values(),
    ids=list(TRANSPORT_FAILURES.keys()),
)
def test_transport_failures_map_to_timeout_or_unavailable(
    make_client, upstream, exception_class, error_class
):
    failure = exception_class("[Errno 111] Connection refused")
    upstream.get(THREADS_URL, body=failure)
    with pytest.raises(error_class) as caught:
        make_client(max_retries=0).list_threads()
    assert type(caught.value) is error_class
    assert caught.value.status is None
    assert caught.value.__cause__ is failure


def test_a_timeout_after_retries_states_the_whole_wait(make_client, upstream, fake_time):
    def slow(request):
        fake_time.advance(2.5)
        raise requests.exceptions.ReadTimeout("timed out")

    for _ in range(3):
        upstream.add_callback("GET", THREADS_URL, callback=slow)
    client = make_client(read_timeout=2.5, time_budget=60, max_retries=2)
    with pytest.raises(ChatKitTimeoutError) as caught:
        client.list_threads()
    assert len(upstream.calls) == 3
    waited = 3 * 2.5 + sum(fake_time.sleeps)
    assert waited > 7.5
    assert caught.value.message == (
        f"The ChatKit API did not answer: the dashboard waited {waited:.1f} s over 3 attempts."
    )


def test_a_single_timeout_states_its_wait(make_client, upstream, fake_time):
    def slow(request):
        fake_time.advance(1.5)
        raise requests.exceptions.ReadTimeout("timed out")

    upstream.add_callback("GET", THREADS_URL, callback=slow)
    with pytest.raises(ChatKitTimeoutError) as caught:
        make_client(read_timeout=1.5, max_retries=0).list_threads()
    assert caught.value.message == "The ChatKit API did not answer: the dashboard waited 1.5 s."


# --- Retries --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_it_retries_a_retryable_status_twice_then_gives_up(client, upstream, fake_time, status):
    for _ in range(3):
        upstream.get(THREADS_URL, status=status, json=error_json())
    with pytest.raises(ChatKitError) as caught:
        client.list_threads()
    assert caught.value.status == status
    assert len(upstream.calls) == 3
    assert len(fake_time.sleeps) == 2


@pytest.mark.parametrize(
    "exception_class", [v[0] for v in TRANSPORT_FAILURES.values()], ids=list(TRANSPORT_FAILURES)
)
def test_it_retries_a_transport_failure_twice_then_gives_up(
    client, upstream, fake_time, exception_class
):
    for _ in range(3):
        upstream.get(THREADS_URL, body=exception_class("boom"))
    with pytest.raises(ChatKitUnavailableError):
        client.list_threads()
    assert len(upstream.calls) == 3
    assert len(fake_time.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_it_never_retries_a_client_error(client, upstream, fake_time, status):
    upstream.get(THREADS_URL, status=status, json=error_json(type="invalid_request_error"))
    with pytest.raises(ChatKitError) as caught:
        client.list_threads()
    assert caught.value.status == status
    assert len(upstream.calls) == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("failure", [{"status": 500}, {"status": 429}, {"status": 408}])
def test_a_success_after_a_retry_returns_the_page(client, upstream, fake_time, failure):
    upstream.get(THREADS_URL, json=error_json(), **failure)
    upstream.get(THREADS_URL, json=page_json(), headers={"x-request-id": "req_ok"})
    page = client.list_threads()
    assert [t.id for t in page.threads] == ["cthr_abc123"]
    assert page.request_id == "req_ok"
    assert len(fake_time.sleeps) == 1


def test_a_success_after_a_dropped_connection_returns_the_page(client, upstream, fake_time):
    upstream.get(THREADS_URL, body=requests.exceptions.ConnectionError("reset by peer"))
    upstream.get(THREADS_URL, json=page_json())
    assert client.list_threads().threads[0].id == "cthr_abc123"
    assert len(fake_time.sleeps) == 1


@pytest.mark.parametrize(
    "hint, status, attempts",
    [
        ("true", 400, 3),
        ("true", 404, 3),
        ("false", 503, 1),
        ("false", 429, 1),
        ("false", 408, 1),
        ("maybe", 503, 3),
        ("maybe", 400, 1),
    ],
)
def test_x_should_retry_overrides_the_status(client, upstream, fake_time, hint, status, attempts):
    for _ in range(attempts):
        upstream.get(
            THREADS_URL, status=status, json=error_json(), headers={"x-should-retry": hint}
        )
    with pytest.raises(ChatKitError):
        client.list_threads()
    assert len(upstream.calls) == attempts
    assert len(fake_time.sleeps) == attempts - 1


@pytest.mark.parametrize(
    "random_value, expected",
    [(0.0, [0.5, 1.0]), (0.5, [0.4375, 0.875]), (0.999999, [0.375, 0.75])],
)
def test_backoff_is_half_a_second_then_one_second_times_jitter(
    client, upstream, fake_time, jitter, random_value, expected
):
    jitter(random_value)
    for _ in range(3):
        upstream.get(THREADS_URL, status=503, json=error_json())
    with pytest.raises(ChatKitUnavailableError):
        client.list_threads()
    assert fake_time.sleeps == pytest.approx(expected, abs=1e-5)


def test_real_jitter_stays_within_the_sdks_range(client, upstream, fake_time):
    for _ in range(3):
        upstream.get(THREADS_URL, status=500, json=error_json())
    with pytest.raises(ChatKitUnavailableError):
        client.list_threads()
    first, second = fake_time.sleeps
    assert 0.375 < first <= 0.5
    assert 0.75 < second <= 1.0


@pytest.mark.parametrize(
    "headers, expected_wait",
    [
        ({"retry-after-ms": "250", "Retry-After": "5"}, 0.25),
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "soon", "Retry-After": "2"}, 2.0),
    ],
)
def test_it_waits_as_long_as_the_upstream_asks(client, upstream, fake_time, headers, expected_wait):
    upstream.get(THREADS_URL, status=429, json=error_json(), headers=headers)
    upstream.get(THREADS_URL, json=page_json())
    client.list_threads()
    assert fake_time.sleeps == [pytest.approx(expected_wait)]


def test_it_honours_retry_after_given_as_an_http_date(client, upstream, fake_time):
    upstream.get(THREADS_URL, status=503, json=error_json(), headers={"Retry-After": http_date(4)})
    upstream.get(THREADS_URL, json=page_json())
    client.list_threads()
    [wait] = fake_time.sleeps
    # HTTP dates have whole seconds; allow for that and for the test's own running time.
    assert 2.0 < wait <= 4.0


@pytest.mark.parametrize(
    "retry_after",
    [
        "0",
        "-3",
        "soon",
        "inf",
        "nan",
        "1e400",
        pytest.param(http_date(-60), id="a-past-http-date"),
        "Wed, 21 Oct 99999 07:28:00 GMT",
    ],
)
def test_a_useless_retry_after_falls_back_to_the_backoff(
    client, upstream, fake_time, jitter, retry_after
):
    jitter(0.0)
    upstream.get(THREADS_URL, status=503, json=error_json(), headers={"Retry-After": retry_after})
    upstream.get(THREADS_URL, json=page_json())
    assert client.list_threads().threads
    assert fake_time.sleeps == [0.5]


@pytest.mark.parametrize("retry_after", ["inf", "1e400", "nan", "Wed, 21 Oct 99999 07:28:00 GMT"])
def test_a_rate_limit_error_never_carries_a_non_finite_retry_after(
    make_client, upstream, retry_after
):
    upstream.get(THREADS_URL, status=429, json=error_json(), headers={"Retry-After": retry_after})
    with pytest.raises(ChatKitRateLimitError) as caught:
        make_client(max_retries=0).list_threads()
    # The error page rounds it into "try again in N s": it must be a real number or absent.
    assert caught.value.retry_after is None or math.isfinite(caught.value.retry_after)


# --- The time budget --------------------------------------------------------------------------


def test_a_retry_after_longer_than_the_budget_is_reported_not_waited_for(
    client, upstream, fake_time
):
    upstream.get(
        THREADS_URL,
        status=429,
        json=error_json("Rate limit reached.", type="requests"),
        headers={"Retry-After": "30", "x-request-id": "req_rl"},
    )
    with pytest.raises(ChatKitRateLimitError) as caught:
        client.list_threads()
    assert fake_time.sleeps == []
    assert len(upstream.calls) == 1
    assert caught.value.retry_after == 30.0
    assert caught.value.request_id == "req_rl"


def test_a_far_http_date_retry_after_is_reported_in_seconds(client, upstream, fake_time):
    upstream.get(
        THREADS_URL, status=429, json=error_json(), headers={"Retry-After": http_date(3600)}
    )
    with pytest.raises(ChatKitRateLimitError) as caught:
        client.list_threads()
    assert fake_time.sleeps == []
    assert caught.value.retry_after == pytest.approx(3600, abs=5)


def test_a_second_retry_after_that_no_longer_fits_stops_early(client, upstream, fake_time):
    for _ in range(2):
        upstream.get(THREADS_URL, status=429, json=error_json(), headers={"Retry-After": "5"})
    with pytest.raises(ChatKitRateLimitError) as caught:
        client.list_threads()
    # 5 s fits in the 8 s budget once; the second 5 s would not.
    assert fake_time.sleeps == [5.0]
    assert len(upstream.calls) == 2
    assert caught.value.retry_after == 5.0


def test_a_rate_limit_error_after_the_last_retry_still_carries_retry_after(
    client, upstream, fake_time
):
    for _ in range(3):
        upstream.get(THREADS_URL, status=429, json=error_json(), headers={"Retry-After": "1"})
    with pytest.raises(ChatKitRateLimitError) as caught:
        client.list_threads()
    assert fake_time.sleeps == [1.0, 1.0]
    assert caught.value.retry_after == 1.0


def test_backoffs_that_would_exceed_the_budget_stop_early(make_client, upstream, fake_time):
    for _ in range(2):
        upstream.get(THREADS_URL, status=503, json=error_json())
    with pytest.raises(ChatKitUnavailableError):
        make_client(time_budget=1.0).list_threads()
    # The first backoff (≤ 0.5 s) fits in 1 s; the second (> 0.75 s) no longer does.
    assert len(fake_time.sleeps) == 1
    assert len(upstream.calls) == 2


def test_an_attempt_that_used_up_the_budget_is_not_retried(client, upstream, fake_time):
    def slow_failure(request):
        fake_time.advance(7.9)
        return 503, {}, json.dumps(error_json())

    upstream.add_callback(responses.GET, THREADS_URL, callback=slow_failure)
    with pytest.raises(ChatKitUnavailableError):
        client.list_threads()
    assert fake_time.sleeps == []
    assert len(upstream.calls) == 1


# --- Secrecy --------------------------------------------------------------------------------

ECHOED = f"Incorrect API key provided: {KEY}. You can find your API key at https://x.test."


@pytest.mark.parametrize("status, attempts", [(401, 1), (400, 1), (429, 3), (503, 3)])
def test_an_upstream_message_echoing_the_key_is_redacted_from_the_error(
    client, upstream, status, attempts
):
    for _ in range(attempts):
        upstream.get(
            THREADS_URL,
            status=status,
            json=error_json(ECHOED, type="invalid_request_error", param=KEY, code=f"Bearer {KEY}"),
        )
    with pytest.raises(ChatKitError) as caught:
        client.list_threads()
    assert "[redacted key]" in caught.value.message
    assert caught.value.message.startswith("Incorrect API key provided: ")
    assert_no_key_in(texts_of(caught.value))


@pytest.mark.parametrize(
    "echoed",
    [
        "sk-test-kkkk" + "*" * 28 + "kkkk",  # OpenAI's own masked echo
        "sk-proj-Zx81_aB-c9dE.f0",  # some other key
    ],
    ids=["masked key", "another key"],
)
def test_anything_shaped_like_an_openai_key_is_redacted_from_upstream_messages(
    make_client, upstream, echoed
):
    upstream.get(
        THREADS_URL,
        status=401,
        json=error_json(f"Incorrect API key provided: {echoed} (check it)", param=echoed),
    )
    with pytest.raises(ChatKitAuthenticationError) as caught:
        make_client().list_threads()
    assert caught.value.message == "Incorrect API key provided: [redacted key] (check it)"
    assert caught.value.param == "[redacted key]"


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError(f"proxy refused header 'Authorization: Bearer {KEY}'"),
        requests.exceptions.ReadTimeout(f"timed out sending Bearer {KEY}"),
    ],
    ids=["connection error", "timeout"],
)
def test_a_transport_error_quoting_the_key_is_redacted_from_the_chain(
    make_client, upstream, failure
):
    upstream.get(THREADS_URL, body=failure)
    with pytest.raises(ChatKitUnavailableError) as caught:
        make_client(max_retries=0).list_threads()
    assert caught.value.__cause__ is failure
    assert_no_key_in(texts_of(caught.value))


@pytest.mark.parametrize("stray", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_a_key_with_a_stray_line_break_is_refused_before_any_request(make_client, upstream, stray):
    # requests would refuse such a header value only when sending, quoting it in its error.
    with pytest.raises(ChatKitNotConfiguredError) as caught:
        make_client(api_key=KEY + stray)
    assert len(upstream.calls) == 0
    assert_no_key_in(texts_of(caught.value))


def record_texts(records):
    texts = []
    for record in records:
        texts += [record.getMessage(), repr(record.args), str(record.msg), record.exc_text or ""]
    return texts


def test_log_records_never_contain_the_key(client, upstream, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        upstream.get(
            THREADS_URL,
            status=503,
            json=error_json(ECHOED),
            headers={"x-request-id": "req_log"},
        )
    with pytest.raises(ChatKitUnavailableError):
        client.list_threads()
    retry_warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(retry_warnings) == 2
    assert all("[redacted key]" in r.getMessage() for r in retry_warnings)
    assert_no_key_in(record_texts(caplog.records))


def test_the_client_repr_never_shows_the_key(client):
    assert_no_key_in([repr(client), str(client)])
    assert BASE_URL in repr(client)


# --- The shared client ----------------------------------------------------------------------


@pytest.fixture
def configured(settings, monkeypatch):
    monkeypatch.setattr(client_module, "_client", None)
    settings.CHATKIT = replace(
        settings.CHATKIT, api_key=KEY, base_url=BASE_URL, organization="org-shared", project=""
    )
    settings.CHATKIT = replace(
        settings.CHATKIT,
        connect_timeout=2.0,
        read_timeout=5.0,
        time_budget=7.0,
        max_retries=1,
        pool_size=7,
    )
    return settings


def test_get_client_builds_one_shared_client_from_settings(configured, upstream):
    shared = get_client()
    assert get_client() is shared
    assert shared.base_url == BASE_URL
    assert (shared.connect_timeout, shared.read_timeout) == (2.0, 5.0)
    assert (shared.time_budget, shared.max_retries) == (7.0, 1)
    upstream.get(
        THREADS_URL,
        json=page_json(),
        match=[
            matchers.header_matcher(
                {"Authorization": f"Bearer {KEY}", "OpenAI-Organization": "org-shared"}
            )
        ],
    )
    shared.list_threads()
    assert len(upstream.calls) == 1


def test_get_client_rebuilds_after_the_settings_change(configured):
    before = get_client()
    configured.CHATKIT = replace(configured.CHATKIT, base_url="https://other.example.test/v1")
    after = get_client()
    assert after is not before
    assert after.base_url == "https://other.example.test/v1"
    configured.CHATKIT = replace(configured.CHATKIT, max_retries=0)
    assert get_client() is not after
    assert get_client().max_retries == 0


def test_get_client_refuses_an_empty_key(configured):
    configured.CHATKIT = replace(configured.CHATKIT, api_key="")
    with pytest.raises(ChatKitNotConfiguredError) as caught:
        get_client()
    assert caught.value.message == ChatKitNotConfiguredError.default_message
    configured.CHATKIT = replace(configured.CHATKIT, api_key=KEY)
    assert get_client().base_url == BASE_URL


@pytest.mark.parametrize("url", [THREADS_URL, "http://localhost:8100/v1/chatkit/threads"])
def test_the_shared_session_pools_connections_as_configured(configured, url):
    adapter = get_client().session.get_adapter(url)
    assert isinstance(adapter, HTTPAdapter)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 7
    # Retries are the client's own (budgeted); urllib3 must not add hidden ones.
    assert adapter.max_retries.total == 0


# --- Keep-alive -----------------------------------------------------------------------------


@pytest.fixture
def session_spy(monkeypatch):
    """Records the Session each request goes through, and every Session created."""
    used, created = [], []
    original_request = requests.Session.request
    original_init = requests.Session.__init__

    def request(self, *args, **kwargs):
        used.append(self)
        return original_request(self, *args, **kwargs)

    def init(self, *args, **kwargs):
        created.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    monkeypatch.setattr(requests.Session, "__init__", init)
    return used, created


def test_two_consecutive_calls_reuse_one_session(client, upstream, session_spy):
    used, created = session_spy
    upstream.get(THREADS_URL, json=page_json())
    upstream.get(THREADS_URL, json=page_json())
    client.list_threads()
    client.list_threads(after="cthr_abc123")
    assert len(upstream.calls) == 2
    assert len(used) == 2
    assert used[0] is used[1] is client.session
    assert created == []


def test_two_calls_through_get_client_reuse_one_session(configured, upstream, session_spy):
    used, created = session_spy
    upstream.get(THREADS_URL, json=page_json())
    upstream.get(THREADS_URL, json=page_json())
    get_client().list_threads()
    get_client().list_threads()
    assert len(used) == 2
    assert used[0] is used[1] is get_client().session
    assert len(created) == 1  # built once, on first use


@pytest.mark.parametrize("field", ["api_key", "organization", "project"])
def test_a_value_headers_cannot_carry_is_refused_without_being_shown(field):
    values = {"api_key": "sk-test-" + "k" * 40, "organization": "", "project": ""}
    values[field] = "sk-pasted-secret-value\u2019"
    with pytest.raises(ChatKitNotConfiguredError) as caught:
        ChatKitClient(base_url="https://api.example.test/v1", **values)
    assert "not printable ASCII" in str(caught.value)
    assert "pasted-secret" not in str(caught.value)
