"""The secret guard (tests/secret_guard.py) catches leaks: proved on deliberately leaky views.

Each test leaks on purpose, then takes the recorded leaks off the guard so that only the
assertion here decides the outcome.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

from dashboard.chatkit.errors import ChatKitUnavailableError

from .conftest import TEST_API_KEY
from .secret_guard import find_leaks, has_authorization, secret_fragments

pytestmark = pytest.mark.django_db


@login_not_required
def leaky_body(request):
    return HttpResponse(f"<p>key ends {TEST_API_KEY[-10:]}</p>")


@login_not_required
def leaky_header(request):
    response = HttpResponse("fine")
    response["X-Debug"] = TEST_API_KEY
    return response


@login_not_required
def leaky_stream(request):
    return StreamingHttpResponse(iter([b"first chunk ", TEST_API_KEY.encode()]))


@login_not_required
def leaky_exception(request):
    raise RuntimeError(f"could not call upstream with {TEST_API_KEY}")


@login_not_required
def clean(request):
    return HttpResponse("nothing to see")


urlpatterns = [
    path("body", leaky_body),
    path("header", leaky_header),
    path("stream", leaky_stream),
    path("exception", leaky_exception),
    path("clean", clean),
]


@pytest.fixture
def leaky_site(settings):
    settings.ROOT_URLCONF = __name__


def test_the_fragments_are_each_keys_last_eight_characters():
    assert secret_fragments(["sk-abcdefghijkl", "", "short"]) == {"efghijkl"}


def test_find_leaks_sees_the_tail_of_a_key_in_text_and_bytes():
    fragments = secret_fragments([TEST_API_KEY])
    assert find_leaks(f"x {TEST_API_KEY} y", fragments)
    assert find_leaks(("…" + TEST_API_KEY[-8:]).encode(), fragments)
    assert not find_leaks("sk-test-" + "a" * 40, fragments)


def test_authorization_headers_are_recognised_in_log_text():
    assert has_authorization("headers={'Authorization': 'Bearer abc'}")
    assert has_authorization("authorization: Basic abc")
    assert not has_authorization("GET /v1/chatkit/threads -> 200")


@pytest.mark.parametrize("url", ["/body", "/header", "/stream"])
def test_a_leaking_response_is_caught(client, leaky_site, secret_guard, url):
    response = client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)
    leaks = secret_guard.take()
    assert leaks and all("API key" in leak for leak in leaks)
    # The guard's own report must not repeat the secret.
    assert not find_leaks("\n".join(leaks), secret_fragments([TEST_API_KEY]))


def test_an_unhandled_exception_message_is_caught(client, leaky_site, secret_guard):
    client.raise_request_exception = False
    response = client.get("/exception")
    assert response.status_code == 500
    leaks = secret_guard.take()
    assert any("exception" in leak for leak in leaks)


def test_a_chatkit_error_carrying_the_key_is_caught(secret_guard):
    ChatKitUnavailableError(f"upstream said {TEST_API_KEY}")
    assert any("ChatKitUnavailableError" in leak for leak in secret_guard.take())


def test_a_log_record_with_the_key_or_a_bearer_header_is_caught(secret_guard):
    logging.getLogger("dashboard.anything").debug("sending %s", TEST_API_KEY)
    logging.getLogger("urllib3.connectionpool").debug("Authorization: Bearer abc")
    leaks = secret_guard.take()
    assert any("API key" in leak for leak in leaks)
    assert any("Authorization header" in leak for leak in leaks)


def test_clean_responses_and_logs_pass(client, leaky_site, secret_guard):
    assert client.get("/clean").status_code == 200
    logging.getLogger("dashboard").info("chatkit GET /chatkit/threads -> 200")
    assert secret_guard.take() == []
