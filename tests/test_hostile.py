"""Hostile input, property-tested: arbitrary query strings, user ids and upstream answers.

Whatever arrives, the dashboard answers with a clear page: never a 500 of its own
(upstream faults may be 502/503/504), never a raw `<x-inj>` from input or upstream in the
HTML. Hypothesis runs derandomized with a fixed budget, so CI sees the same inputs each time.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import THREADS_URL, item_json, page_json, thread_json

pytestmark = pytest.mark.django_db

MARKER = "<x-inj>"
BUDGET = settings(
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
UPSTREAM_FAULT_STATUSES = {502, 503, 504}
TRIED: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_inputs_tried(request):
    yield
    if not TRIED:
        return
    summary = ", ".join(f"{name}: {count:,}" for name, count in sorted(TRIED.items()))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nhostile inputs tried ({sum(TRIED.values()):,}): {summary}")


# --- Strategies ----------------------------------------------------------------------

# Any code point a request can carry (lone surrogates cannot be encoded at all).
any_char = st.characters(exclude_categories=["Cs"])
control_char = st.characters(min_codepoint=0, max_codepoint=31)
percent_junk = st.sampled_from(["%", "%%", "%0", "%G1", "%00", "%FF", "%ED%A0%80", "%C3", "%2F"])
piece = st.one_of(
    st.text(any_char, max_size=40),
    st.text(control_char, min_size=1, max_size=5),
    percent_junk,
    st.just(MARKER),
    st.just("\x00"),
)
hostile_text = st.one_of(
    st.lists(piece, max_size=12).map("".join),
    st.text(any_char, max_size=2000),
    st.integers(0, 2000).map(lambda n: "x" * n),
)
param_name = st.one_of(
    st.sampled_from(
        ["user", "status", "order", "limit", "after", "before", "page", "q", "sort", ""]
        + ["created_from", "created_to", "tz"]
    ),
    st.text(any_char, max_size=10),
)


@st.composite
def query_strings(draw) -> str:
    """A query string as the WSGI server hands it over: the raw bytes, as latin-1 text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300)).decode("latin-1")  # not even UTF-8
    pairs = draw(st.lists(st.tuples(param_name, hostile_text), max_size=6))
    # Repeated parameters: the same name again, with another value.
    if pairs and draw(st.booleans()):
        pairs.append((pairs[0][0], draw(hostile_text)))
    if draw(st.booleans()):
        return urlencode(pairs)
    raw = "&".join(f"{name}={value}" if draw(st.booleans()) else name for name, value in pairs)
    return raw.encode().decode("latin-1")


json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(any_char, max_size=30),
    st.just(MARKER),
)
any_json = st.recursive(
    json_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
MISSING = object()


def maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly valid, sometimes missing, sometimes any JSON at all."""
    return st.one_of(valid, valid, valid, st.just(MISSING), any_json)


status_json = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.one_of(
                st.sampled_from(["active", "locked", "closed"]), st.text(max_size=12)
            ),
        },
        optional={"reason": st.one_of(st.none(), st.text(any_char, max_size=40), any_json)},
    ),
    any_json,
)
text_with_marker = st.one_of(st.text(any_char, max_size=60), st.just(MARKER), st.none())


@st.composite
def thread_objects(draw) -> Any:
    fields = {
        "id": draw(maybe(st.one_of(st.text(any_char, min_size=1, max_size=40), st.just(MARKER)))),
        "object": draw(maybe(st.just("chatkit.thread"))),
        "created_at": draw(
            maybe(st.one_of(st.integers(0, 2**34), st.integers(-(2**66), 2**66), st.floats()))
        ),
        "title": draw(maybe(text_with_marker)),
        "user": draw(maybe(st.one_of(st.text(any_char, max_size=40), st.just(MARKER)))),
        "status": draw(maybe(status_json)),
    }
    thread = {key: value for key, value in fields.items() if value is not MISSING}
    thread.update(draw(st.dictionaries(st.text(max_size=8), any_json, max_size=3)))
    return thread


@st.composite
def list_bodies(draw) -> Any:
    threads = draw(st.lists(st.one_of(thread_objects(), st.builds(thread_json)), max_size=25))
    if draw(st.integers(0, 9)) == 0:
        # A huge page, far beyond what was asked for.
        threads = [thread_json(title=MARKER) for _ in range(draw(st.integers(100, 400)))]
    envelope = {
        "object": draw(maybe(st.just("list"))),
        "data": threads if draw(st.integers(0, 5)) else draw(any_json),
        "first_id": draw(maybe(st.one_of(st.none(), st.text(any_char, max_size=20)))),
        "last_id": draw(maybe(st.one_of(st.none(), st.text(any_char, max_size=20)))),
        "has_more": draw(maybe(st.booleans())),
    }
    return {key: value for key, value in envelope.items() if value is not MISSING}


upstream_answers = st.tuples(
    st.sampled_from([200] * 8 + [201, 204, 301, 400, 401, 403, 404, 409, 418, 422, 429, 500, 503]),
    st.one_of(
        list_bodies().map(json.dumps),
        any_json.map(json.dumps),
        st.builds(lambda: json.dumps(page_json([], first_id=None, last_id=None))),
        st.text(any_char, max_size=200),
        st.just(""),
    ),
)


ITEM_KINDS = [
    "user_message",
    "assistant_message",
    "widget",
    "client_tool_call",
    "task",
    "task_group",
]
hostile_url = st.sampled_from(
    ["javascript:alert(1)", f"https://example.com/{MARKER}", "data:text/html,x", "//evil", ""]
)
annotation = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("url"),
            "source": st.fixed_dictionaries({"type": st.just("url"), "url": hostile_url}),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("file"),
            "source": st.fixed_dictionaries(
                {"type": st.just("file"), "filename": text_with_marker}
            ),
        }
    ),
    any_json,
)
content_block = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["input_text", "quoted_text", "output_text", "image", MARKER]),
            "text": st.one_of(st.just(MARKER), text_with_marker),
        },
        optional={"annotations": st.lists(annotation, max_size=3)},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["input_text", "quoted_text", "output_text"])},
        optional={"text": any_json, "annotations": any_json},
    ),
    any_json,
)


@st.composite
def thread_items(draw) -> Any:
    """A mostly well-formed item of any type or spelling, with some fields made hostile."""
    kind = draw(st.sampled_from([*ITEM_KINDS, "user_message", MARKER, "chatkit.future_thing"]))
    item = item_json(kind, spelling=draw(st.sampled_from(["chatkit.", ""])))
    if kind in ("user_message", "assistant_message"):
        item["content"] = draw(st.lists(content_block, min_size=1, max_size=3))
    # Rarely a hostile field: one broken item fails the whole page, hiding the rest.
    if draw(st.integers(0, 4)) == 0:
        key = draw(st.sampled_from(sorted(item)))
        mutation = draw(st.sampled_from(["delete", "any json", "marker"]))
        if mutation == "delete":
            del item[key]
        else:
            item[key] = draw(any_json) if mutation == "any json" else MARKER
    return item


# --- Checks --------------------------------------------------------------------------


def assert_clear_and_safe(response) -> None:
    status = response.status_code
    assert status < 500 or status in UPSTREAM_FAULT_STATUSES, status
    body = response.content.decode()
    assert MARKER not in body
    if status == 200:
        assert "<table" in body
    elif status in (400, 404) or status >= 500:
        # A form error, a refused parameter, a missing page, or an upstream banner.
        assert any(
            clue in body for clue in ('class="field-error"', 'role="alert"', "<h1>Not found</h1>")
        ), body[:2000]
    else:
        # A raw '#' starts a fragment, and the slash-less path left is redirected (APPEND_SLASH).
        assert status in (301, 302), status


def one_upstream_page(rsps) -> None:
    rsps.get(THREADS_URL, json=page_json([thread_json(title=MARKER, user=MARKER)]))


# --- Properties ----------------------------------------------------------------------


@BUDGET
@given(query=query_strings())
def test_any_query_string_gets_a_clear_safe_answer(staff_client, query):
    TRIED["query strings"] += 1
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        one_upstream_page(rsps)
        response = staff_client.get("/threads/", QUERY_STRING=query)
    assert_clear_and_safe(response)


@pytest.mark.engine  # hostile user ids reach the audit trail: PostgreSQL refuses NUL
@BUDGET
@given(user_id=hostile_text, raw=st.booleans(), query=st.one_of(st.just(""), query_strings()))
def test_any_user_id_gets_a_clear_safe_answer(staff_client, user_id, raw, query):
    TRIED["user ids"] += 1
    path = "/users/" + (user_id if raw else quote(user_id, safe="")) + "/"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        one_upstream_page(rsps)
        response = staff_client.get(path, QUERY_STRING=query)
    assert_clear_and_safe(response)


@BUDGET
@given(
    answer=upstream_answers,
    query=st.sampled_from(["", "status=locked", "user=u1", "after=cthr_1", "order=asc&limit=5"]),
)
def test_any_upstream_answer_gets_a_clear_safe_page(staff_client, answer, query):
    TRIED["upstream answers"] += 1
    status, body = answer
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(THREADS_URL, body=body, status=status, content_type="application/json")
        response = staff_client.get("/threads/", QUERY_STRING=query)
    assert_clear_and_safe(response)
    if status >= 400:
        assert response.status_code != 200


@BUDGET
@given(
    items=st.one_of(
        st.lists(thread_items(), max_size=4), st.lists(thread_items(), max_size=4), any_json
    ),
    status=st.sampled_from([200] * 6 + [400, 404, 429, 500]),
)
def test_any_transcript_gets_a_clear_safe_page(staff_client, items, status):
    TRIED["transcripts"] += 1
    body = items
    if isinstance(items, list):
        body = {
            "object": "list",
            "data": items,
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{THREADS_URL}/cthr_1", json=thread_json(id="cthr_1", title=MARKER))
        rsps.get(f"{THREADS_URL}/cthr_1/items", json=body, status=status)
        response = staff_client.get("/threads/cthr_1/")
    code = response.status_code
    assert code < 500 or code in UPSTREAM_FAULT_STATUSES, code
    html = response.content.decode()
    assert MARKER not in html
    assert 'href="javascript:' not in html and 'href="data:' not in html
    if code != 200:
        assert 'role="alert"' in html


def test_a_page_far_larger_than_asked_for_is_cut_to_the_limit_and_escaped(staff_client):
    with responses.RequestsMock() as rsps:
        rsps.get(THREADS_URL, json=page_json([thread_json(title=MARKER) for _ in range(5000)]))
        response = staff_client.get("/threads/")
    assert response.status_code == 200
    body = response.content.decode()
    assert MARKER not in body
    # The 20 rows asked for, and a way on to the rest.
    assert body.count("&lt;x-inj&gt;") == 20
    assert "after=" in body


def test_an_empty_page_with_null_cursors_says_no_threads(staff_client):
    with responses.RequestsMock() as rsps:
        rsps.get(THREADS_URL, json=page_json([], first_id=None, last_id=None, has_more=True))
        response = staff_client.get("/threads/")
    assert response.status_code == 200
    assert "No threads." in response.content.decode()
