# ruff: noqa: F811  (the client's fixtures are imported from test_client.py, then requested)
"""The client against an upstream that cannot be trusted: deadlines, size caps, redirects,
row caps, forged request ids and echoed keys. Faked with `responses` and a fake clock;
behaviour that needs a real socket (trickles, stalls, bombs) is in tests/test_faults.py.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from dashboard.chatkit import deadline
from dashboard.chatkit.deadline import Deadline, UpstreamDeadlineMiddleware
from dashboard.chatkit.errors import (
    ChatKitBadResponseError,
    ChatKitDeadlineExceededError,
    ChatKitInvalidRequestError,
    ChatKitRateLimitError,
    ChatKitTimeoutError,
    ChatKitUnavailableError,
)
from dashboard.chatkit.untrusted import KeyRedactor, escape_controls
from dashboard.config import ChatKitConfig

from .conftest import item_json, items_page_json
from .test_client import (  # noqa: F401  (fixtures shared with the client's other tests)
    BASE_URL,
    KEY,
    THREADS_URL,
    client,
    error_json,
    fake_time,
    make_client,
    page_json,
    thread_json,
    timeouts_sent,
    upstream,
)

# The key as an upstream may echo it: whole, without its prefix, and its identifying tail.
KEY_FORMS = {"whole": KEY, "without sk-": KEY.removeprefix("sk-"), "last 8": KEY[-8:]}
DELETED = {"id": "cthr_abc123", "object": "chatkit.thread.deleted", "deleted": True}


@pytest.fixture
def page_deadline(fake_time):
    """Run the block under a page deadline of `seconds` on the fake clock."""

    def start(seconds: float):
        return deadline.active(Deadline.start(seconds, clock=fake_time.clock))

    return start


def ids(n: int, prefix: str = "cthr_") -> list[dict]:
    return [thread_json(id=f"{prefix}{i:04d}") for i in range(n)]


# --- One deadline per page -----------------------------------------------------------------


def test_there_is_no_deadline_outside_a_page():
    assert deadline.current() is None
    assert deadline.remaining() is None


def test_a_deadline_is_current_only_inside_its_block_and_an_inner_one_replaces_it(fake_time):
    outer = Deadline.start(8, clock=fake_time.clock)
    inner = Deadline.start(60, scope="export", clock=fake_time.clock)
    with deadline.active(outer):
        fake_time.advance(3)
        assert deadline.remaining() == pytest.approx(5)
        with deadline.active(inner):
            assert deadline.current() is inner
        assert deadline.current() is outer
    assert deadline.current() is None


def test_within_produces_each_item_under_the_deadline_and_the_consumer_outside_it(fake_time):
    export = Deadline.start(60, scope="export", clock=fake_time.clock)
    seen_by_producer = []

    def produce():
        for n in range(3):
            seen_by_producer.append(deadline.current())
            yield n

    seen_by_consumer = [deadline.current() for _ in deadline.within(export, produce())]
    assert seen_by_producer == [export] * 3
    assert seen_by_consumer == [None] * 3


def test_a_portion_gives_a_block_part_of_the_time_left_and_no_more(fake_time):
    page = Deadline.start(8, clock=fake_time.clock)
    with deadline.active(page):
        fake_time.advance(2)
        with deadline.portion(0.5) as half:
            assert deadline.remaining() == pytest.approx(3)
            assert half.describe() == page.describe()  # still the page's budget, by name
        assert deadline.remaining() == pytest.approx(6)
    with deadline.portion(0.5) as nothing:
        assert nothing is None and deadline.current() is None


def test_two_calls_of_one_page_share_its_deadline(client, upstream, fake_time, page_deadline):
    def slow_page(request):
        fake_time.advance(2.5)
        return 200, {}, json.dumps(thread_json())

    upstream.add_callback(responses.GET, f"{THREADS_URL}/cthr_abc123", callback=slow_page)
    upstream.get(f"{THREADS_URL}/cthr_abc123/items", json=page_json([]))
    with page_deadline(4.0):
        client.get_thread("cthr_abc123")
        client.list_thread_items("cthr_abc123")
    # The second call gets what the first left of the page's 4 s: 1.5 s, not a budget of its own.
    assert timeouts_sent(upstream) == [pytest.approx((3.0, 4.0)), pytest.approx((1.5, 1.5))]


def slow_retry_after_a_500(upstream, fake_time, method, url):
    """A 500, then a retry the page's deadline cuts off (the watchdog's timeout)."""

    def cut_off(request):
        fake_time.advance(10.0)
        raise requests.ReadTimeout("cut by the watchdog")

    upstream.add(method, url, status=500, json=error_json("boom"))
    upstream.add_callback(method, url, callback=cut_off)


def test_a_read_whose_retry_runs_out_of_time_reports_the_upstreams_last_answer(
    client, upstream, fake_time, page_deadline
):
    slow_retry_after_a_500(upstream, fake_time, responses.GET, THREADS_URL)
    with page_deadline(4.0), pytest.raises(ChatKitUnavailableError) as caught:
        client.list_threads()
    assert len(upstream.calls) == 2
    assert caught.value.status == 500, "a lasting 500 is 'unavailable', not a timeout"


def test_a_delete_whose_retry_runs_out_of_time_says_it_may_have_been_sent(
    client, upstream, fake_time, page_deadline
):
    slow_retry_after_a_500(upstream, fake_time, responses.DELETE, f"{THREADS_URL}/cthr_abc123")
    with page_deadline(4.0), pytest.raises(ChatKitDeadlineExceededError) as caught:
        client.delete_thread("cthr_abc123")
    assert caught.value.sent is True


def test_a_call_after_the_deadline_passed_is_never_sent(client, upstream, fake_time, page_deadline):
    with page_deadline(4.0), pytest.raises(ChatKitDeadlineExceededError) as caught:
        fake_time.advance(4.0)
        client.delete_thread("cthr_abc123")
    assert len(upstream.calls) == 0
    assert caught.value.sent is False
    assert caught.value.message == (
        "The page's time budget (4 s, CHATKIT_TIME_BUDGET) ran out before this ChatKit API call."
    )
    # Pages treat it as the timeout it is.
    assert isinstance(caught.value, ChatKitTimeoutError)


def test_a_retry_wait_longer_than_the_page_has_left_is_reported_not_taken(
    client, upstream, fake_time, page_deadline
):
    upstream.get(THREADS_URL, status=429, json=error_json(), headers={"Retry-After": "5"})
    with page_deadline(8.0):
        fake_time.advance(4.0)  # an earlier call of the page took 4 s
        with pytest.raises(ChatKitRateLimitError) as caught:
            client.list_threads()
    # On its own the call could wait 5 s of its 8; the page has only 4 left.
    assert fake_time.sleeps == []
    assert caught.value.retry_after == 5.0


def test_a_retry_that_fits_the_page_is_still_made(client, upstream, fake_time, page_deadline):
    upstream.get(THREADS_URL, status=429, json=error_json(), headers={"Retry-After": "1"})
    upstream.get(THREADS_URL, json=page_json())
    with page_deadline(8.0):
        assert client.list_threads().threads
    assert fake_time.sleeps == [1.0]


def test_a_timeout_once_the_deadline_passed_says_whose_budget_ran_out(
    client, upstream, fake_time, page_deadline
):
    def timing_out(request):
        fake_time.advance(3.0)
        raise requests.exceptions.ReadTimeout("read timed out")

    upstream.add_callback(responses.GET, THREADS_URL, callback=timing_out)
    with page_deadline(3.0), pytest.raises(ChatKitDeadlineExceededError) as caught:
        client.list_threads()
    assert len(upstream.calls) == 1
    assert caught.value.sent is True
    assert "within the page's time budget (3 s, CHATKIT_TIME_BUDGET)" in caught.value.message


def test_a_page_deadline_shorter_than_the_call_budget_bounds_the_call(
    client, upstream, page_deadline
):
    upstream.get(THREADS_URL, json=page_json())
    with page_deadline(2.0):
        client.list_threads()
    assert timeouts_sent(upstream) == [pytest.approx((2.0, 2.0))]


# --- The middleware ----------------------------------------------------------------------


def test_the_middleware_runs_the_view_under_the_page_budget(settings):
    settings.CHATKIT = replace(settings.CHATKIT, time_budget=7.0)
    seen = []

    def view(request):
        seen.append(deadline.current())
        return HttpResponse("ok")

    UpstreamDeadlineMiddleware(view)(RequestFactory().get("/threads/"))
    [during] = seen
    assert (during.scope, during.seconds) == ("page", 7.0)
    assert 6.0 < during.remaining() <= 7.0
    assert deadline.current() is None


def test_a_streamed_response_reads_on_under_the_export_budget(settings):
    settings.CHATKIT = replace(settings.CHATKIT, time_budget=7.0, csv_time_budget=45.0)
    seen = []

    def rows():
        for n in range(2):
            seen.append(deadline.current())
            yield f"row {n}\n"

    response = UpstreamDeadlineMiddleware(lambda request: StreamingHttpResponse(rows()))(
        RequestFactory().get("/threads/export.csv")
    )
    assert b"".join(response.streaming_content) == b"row 0\nrow 1\n"
    assert [(d.scope, d.seconds) for d in seen] == [("export", 45.0)] * 2
    assert "CHATKIT_CSV_TIME_BUDGET" in seen[0].describe()
    assert deadline.current() is None


# --- No redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_redirect_is_a_bad_response_and_never_followed(client, status, method):
    elsewhere = "https://third-party.example.test/v1/chatkit/threads/cthr_abc123"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            method,
            f"{THREADS_URL}/cthr_abc123",
            status=status,
            headers={"Location": elsewhere, "x-request-id": "req_redirect"},
        )
        third_party = mock.add(method, elsewhere, json=DELETED)
        with pytest.raises(ChatKitBadResponseError) as caught:
            if method == "GET":
                client.get_thread("cthr_abc123")
            else:
                client.delete_thread("cthr_abc123")
        assert third_party.call_count == 0
        assert len(mock.calls) == 1
    assert f"HTTP {status}" in caught.value.message and "never follows" in caught.value.message
    assert (caught.value.status, caught.value.request_id) == (status, "req_redirect")


def test_a_redirect_is_not_retried(client, upstream, fake_time):
    upstream.get(THREADS_URL, status=307, headers={"Location": "https://x.test/"})
    with pytest.raises(ChatKitBadResponseError):
        client.list_threads()
    assert len(upstream.calls) == 1
    assert fake_time.sleeps == []


# --- Bounded bodies --------------------------------------------------------------------------


def test_it_asks_for_uncompressed_bodies(client, upstream):
    upstream.get(THREADS_URL, json=page_json())
    client.list_threads()
    assert upstream.calls[0].request.headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, gzip"])
def test_a_compressed_body_sent_anyway_is_a_bad_response(client, upstream, encoding):
    upstream.get(THREADS_URL, body=b"\x1f\x8b...", headers={"Content-Encoding": encoding})
    with pytest.raises(ChatKitBadResponseError) as caught:
        client.list_threads()
    assert "compressed" in caught.value.message
    assert len(upstream.calls) == 1


def test_identity_encoding_is_read_as_usual(client, upstream):
    upstream.get(THREADS_URL, json=page_json(), headers={"Content-Encoding": "identity"})
    assert client.list_threads().threads


def padded_page(size: int) -> bytes:
    """A valid page of exactly `size` bytes (whitespace pads it)."""
    body = json.dumps(page_json()).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_a_body_at_the_cap_is_read(make_client, upstream):
    upstream.get(THREADS_URL, body=padded_page(4096), content_type="application/json")
    assert make_client(max_response_bytes=4096).list_threads().threads


def test_a_body_one_byte_over_the_cap_is_a_bad_response(make_client, upstream):
    upstream.get(
        THREADS_URL,
        body=padded_page(4097),
        content_type="application/json",
        headers={"x-request-id": "req_big"},
    )
    with pytest.raises(ChatKitBadResponseError) as caught:
        make_client(max_response_bytes=4096).list_threads()
    assert caught.value.message == (
        "The ChatKit API sent an answer larger than the 4,096 bytes the dashboard reads "
        "(CHATKIT_MAX_RESPONSE_BYTES)."
    )
    assert caught.value.request_id == "req_big"
    assert len(upstream.calls) == 1


def test_a_body_without_a_length_is_capped_as_it_streams(make_client, upstream):
    upstream.get(THREADS_URL, body=padded_page(200_000), auto_calculate_content_length=False)
    with pytest.raises(ChatKitBadResponseError) as caught:
        make_client(max_response_bytes=50_000).list_threads()
    assert "larger than the 50,000 bytes" in caught.value.message
    assert "content-length" not in upstream.calls[0].response.headers


def test_a_body_of_empty_objects_within_the_cap_is_refused_before_parsing(client, upstream):
    # 150,000 objects in 450 KB would cost a worker 10 MB; at the cap, 100 MB.
    body = '{"object": "list", "data": [' + "{}," * 150_000 + '{}], "has_more": false}'
    upstream.get(THREADS_URL, body=body, content_type="application/json")
    with pytest.raises(ChatKitBadResponseError) as caught:
        client.list_threads()
    assert "150,003 JSON objects and lists" in caught.value.message  # rows, list, envelope


def test_braces_inside_strings_are_not_counted_as_objects(client, upstream):
    widget = json.dumps({"type": "Card", "children": [{"type": "Text", "value": "a"}] * 20_000})
    item = {**item_json("widget"), "widget": widget}
    upstream.get(f"{THREADS_URL}/cthr_1/items", json=items_page_json([item]))
    [parsed] = client.list_thread_items("cthr_1").items
    assert len(widget) > 400_000 and parsed.widget == widget


def test_an_oversized_error_body_still_reports_its_status(make_client, upstream):
    for _ in range(3):
        upstream.get(THREADS_URL, status=503, body=b"x" * 200_000)
    with pytest.raises(ChatKitUnavailableError) as caught:
        make_client().list_threads()
    assert caught.value.message == ChatKitUnavailableError.default_message
    assert len(upstream.calls) == 3  # retried as any 503


# --- Row caps ----------------------------------------------------------------------------------


def test_a_page_with_more_rows_than_asked_for_is_cut_to_the_limit(client, upstream, caplog):
    upstream.get(THREADS_URL, json=page_json(ids(500), has_more=False))
    page = client.list_threads(limit=20)
    assert [t.id for t in page.threads] == [f"cthr_{i:04d}" for i in range(20)]
    # The rest is still there, after the last row kept.
    assert (page.first_id, page.last_id, page.has_more) == ("cthr_0000", "cthr_0019", True)
    assert "sent 500 threads for a page of 20; kept 20" in caplog.text


def test_a_backwards_page_keeps_the_rows_nearest_its_cursor(client, upstream):
    upstream.get(THREADS_URL, json=page_json(ids(50)))
    page = client.list_threads(limit=10, before="cthr_0050")
    assert [t.id for t in page.threads] == [f"cthr_{i:04d}" for i in range(40, 50)]
    assert (page.first_id, page.last_id, page.has_more) == ("cthr_0040", "cthr_0049", True)


def test_a_page_of_zero_gets_no_rows(client, upstream):
    upstream.get(THREADS_URL, json=page_json(ids(5)))
    page = client.list_threads(limit=0)
    assert page.threads == () and page.has_more


def test_a_page_within_its_limit_is_left_alone(client, upstream):
    upstream.get(THREADS_URL, json=page_json(ids(20), has_more=False))
    page = client.list_threads(limit=20)
    assert (len(page.threads), page.has_more) == (20, False)


def test_a_transcript_page_is_cut_to_its_limit_too(client, upstream):
    upstream.get(
        f"{THREADS_URL}/cthr_1/items", json=items_page_json([item_json() for _ in range(30)])
    )
    page = client.list_thread_items("cthr_1", limit=5)
    assert len(page.items) == 5 and page.has_more


# --- Request ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_id",
    ["req_0123456789abcdef0123456789abcdef", "req-abc.1:2", "7f3a"],
)
def test_a_request_id_that_looks_like_one_is_kept(client, upstream, request_id):
    upstream.get(THREADS_URL, json=page_json(), headers={"x-request-id": request_id})
    assert client.list_threads().request_id == request_id


FORGED_IDS = {
    "the key": f"req_{KEY}",
    "the key without sk-": f"req_{KEY.removeprefix('sk-')}",
    "the key's last 8": f"req_{KEY[-8:]}",
    "any 8 characters of the key": f"req_{KEY[10:18]}",
    "another key": "sk-proj-abcdefgh12",
    "too long": "req_" + "a" * 80,
    "spaces": "req abc",
    "markup": "<b>req</b>",
    "a forged log line": "req_1\n2026-01-01 INFO forged",
    "not ASCII": "req_ü",
    "empty": "",
}


@pytest.mark.parametrize("forged", FORGED_IDS.values(), ids=FORGED_IDS.keys())
def test_a_request_id_that_does_not_look_like_one_is_never_shown(client, upstream, forged, caplog):
    caplog.set_level(logging.INFO)
    headers = {"x-request-id": forged}
    upstream.get(THREADS_URL, json=page_json(), headers=headers)
    upstream.get(THREADS_URL, json=page_json(), headers=headers)
    upstream.get(THREADS_URL, status=400, json=error_json(), headers=headers)
    assert client.list_threads().request_id is None
    assert client.list_threads(limit=3).request_id is None
    with pytest.raises(ChatKitInvalidRequestError) as caught:
        client.list_threads()
    assert caught.value.request_id is None
    assert "(request -, attempt 1)" in caplog.text
    if forged:
        assert forged not in caplog.text


def test_a_parse_error_carries_only_a_checked_request_id(client, upstream):
    upstream.get(THREADS_URL, body="not json", headers={"x-request-id": f"req_{KEY[-8:]}"})
    with pytest.raises(ChatKitBadResponseError) as caught:
        client.list_threads()
    assert caught.value.request_id is None


# --- The key in every form, wherever upstream text goes ----------------------------------------


@pytest.mark.parametrize("form", KEY_FORMS.values(), ids=KEY_FORMS.keys())
def test_the_key_in_any_form_is_redacted_from_error_fields(make_client, upstream, form):
    upstream.get(
        THREADS_URL,
        status=400,
        json=error_json(f"Bad key {form}.", type=f"t {form}", param=form, code=f"c{form}"),
    )
    with pytest.raises(ChatKitInvalidRequestError) as caught:
        make_client(max_retries=0).list_threads()
    error = caught.value
    assert error.message == "Bad key [redacted key]."
    assert (error.error_type, error.param, error.code) == (
        "t [redacted key]",
        "[redacted key]",
        "c[redacted key]",
    )


@pytest.mark.parametrize("form", KEY_FORMS.values(), ids=KEY_FORMS.keys())
def test_the_key_in_any_form_is_redacted_from_thread_fields(client, upstream, form):
    thread = thread_json(
        title=f"Paste: {form}",
        user=f"user {form}",
        status={"type": "locked", "reason": f"leaked {form}"},
    )
    upstream.get(THREADS_URL, json=page_json([thread]))
    [parsed] = client.list_threads().threads
    assert parsed.title == "Paste: [redacted key]"
    assert parsed.user == "user [redacted key]"
    assert parsed.status.reason == "leaked [redacted key]"


def test_a_key_spelt_with_json_escapes_is_redacted_too(client, upstream):
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in KEY)
    body = json.dumps(page_json([thread_json(title="TITLE")])).replace("TITLE", escaped)
    upstream.get(THREADS_URL, body=body, content_type="application/json")
    assert client.list_threads().threads[0].title == "[redacted key]"


def test_transcript_text_is_redacted(client, upstream):
    item = item_json(content=[{"type": "input_text", "text": f"my key is {KEY[-8:]}"}])
    upstream.get(f"{THREADS_URL}/cthr_1/items", json=items_page_json([item]))
    [parsed] = client.list_thread_items("cthr_1").items
    assert parsed.content[0].text == "my key is [redacted key]"


def test_text_without_the_key_is_left_exactly_as_sent(client, upstream):
    title = 'Ünïcode "quoted" \\ back\\slash sk- skate'
    upstream.get(THREADS_URL, json=page_json([thread_json(title=title)]))
    assert client.list_threads().threads[0].title == title


def test_the_redactor_catches_each_form_and_other_keys():
    redactor = KeyRedactor(KEY)
    text = f"a {KEY} b {KEY.removeprefix('sk-')} c {KEY[-8:]} d sk-proj-Zx81aBc9 e"
    assert redactor.redact(text) == (
        "a [redacted key] b [redacted key] c [redacted key] d [redacted key] e"
    )


# --- Control characters in logs --------------------------------------------------------------


def test_an_upstream_message_cannot_forge_a_log_line(make_client, upstream, caplog):
    caplog.set_level(logging.INFO)
    forged = "Overloaded.\n2026-01-01 00:00:00,000 INFO dashboard forged: all clear\x1b[2J"
    for _ in range(2):
        upstream.get(THREADS_URL, status=503, json=error_json(forged))
    with pytest.raises(ChatKitUnavailableError) as caught:
        make_client(max_retries=1).list_threads()
    # Shown on pages as sent (HTML escapes it); logged and printed on one line.
    assert caught.value.message == forged
    assert str(caught.value) == (
        "Overloaded.\\n2026-01-01 00:00:00,000 INFO dashboard forged: all clear\\x1b[2J (HTTP 503)"
    )
    for record in caplog.records:
        assert "\n" not in record.getMessage() and "\x1b" not in record.getMessage()


@pytest.mark.parametrize(
    "raw, escaped",
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f c1\x85", "del\\x7f c1\\x85"),
        ("line\u2028sep", "line\\u2028sep"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("plain ü 用户 🙂", "plain ü 用户 🙂"),
    ],
)
def test_escape_controls(raw, escaped):
    assert escape_controls(raw) == escaped


# --- Configuration ---------------------------------------------------------------------------


def test_the_new_settings_have_their_defaults_and_read_the_environment():
    assert (ChatKitConfig().csv_time_budget, ChatKitConfig().max_response_bytes) == (
        60.0,
        4 * 1024 * 1024,
    )
    config = ChatKitConfig.from_environ(
        {"CHATKIT_CSV_TIME_BUDGET": "90", "CHATKIT_MAX_RESPONSE_BYTES": "2097152"}
    )
    assert (config.csv_time_budget, config.max_response_bytes) == (90.0, 2_097_152)


@pytest.mark.parametrize(
    "environ",
    [
        {"CHATKIT_CSV_TIME_BUDGET": "soon"},
        {"CHATKIT_CSV_TIME_BUDGET": "-1"},
        {"CHATKIT_MAX_RESPONSE_BYTES": "1.5"},
        {"CHATKIT_MAX_RESPONSE_BYTES": "100"},
    ],
)
def test_the_new_settings_refuse_what_they_cannot_use(environ):
    with pytest.raises(ImproperlyConfigured):
        ChatKitConfig.from_environ(environ)
