"""A pytest plugin that fails any test during which the API key escapes.

It watches, for the whole session:

- every response Django produces: body (streamed chunks too), headers and cookies. The seam
  is `BaseHandler.get_response` (and its async twin): both the test `Client` and the
  live server's WSGI handler call it, and what it returns is the response after every
  middleware ran, i.e. exactly what goes on the wire. `request_finished` carries no
  response, and a test-only middleware would miss what outer middleware adds;
- every log record, at DEBUG, from every logger (a handler on the root logger, with the
  root and urllib3 loggers lowered to DEBUG so nothing is filtered before it);
- every exception message: unhandled ones in views (`got_request_exception`), those the
  ChatKit client builds (`ChatKitError`, which carry upstream text), and logged tracebacks.

A leak is the key, or its last 8 characters (enough to identify it), of any key the tests
use: conftest's TEST_API_KEY, the demo upstream's key, and whatever settings.CHATKIT.api_key holds.
Log records must never hold an Authorization header either (no "Bearer ").

The test then fails at teardown, naming where it leaked but never the key.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable, Iterator

import pytest

TAIL = 8


def secret_fragments(keys: Iterable[str]) -> set[str]:
    """What to look for: each key's last TAIL characters (the whole key contains them)."""
    return {key[-TAIL:] for key in keys if key and len(key) >= TAIL}


def find_leaks(text: str | bytes, fragments: Iterable[str]) -> list[str]:
    """The fragments present in `text`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [fragment for fragment in fragments if fragment in text]


def has_authorization(text: str) -> bool:
    lowered = text.lower()
    return "bearer " in lowered or "authorization:" in lowered


class SecretGuard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.leaks: list[str] = []
        self.checked = 0

    def keys(self) -> list[str]:
        from django.conf import settings

        from dashboard.demo_upstream.server import DEFAULT_API_KEY
        from tests.conftest import TEST_API_KEY

        return [TEST_API_KEY, DEFAULT_API_KEY, settings.CHATKIT.api_key]

    def check(self, where: str, text: str | bytes) -> None:
        if not text:
            return
        found = find_leaks(text, secret_fragments(self.keys()))
        with self._lock:
            self.checked += 1
            if found:
                self.leaks.append(f"{where}: contains an API key (or its last {TAIL} chars)")

    def check_log(self, where: str, text: str) -> None:
        self.check(where, text)
        if has_authorization(text):
            with self._lock:
                self.leaks.append(f"{where}: contains an Authorization header")

    def take(self) -> list[str]:
        with self._lock:
            leaks, self.leaks = self.leaks, []
        return leaks


GUARD = SecretGuard()


# --- Responses -----------------------------------------------------------------------


def check_response(response, where: str = "response") -> None:
    from django.http import FileResponse

    for name, value in response.items():
        GUARD.check(f"{where} header {name}", f"{name}: {value}")
    GUARD.check(f"{where} cookies", response.cookies.output())
    if isinstance(response, FileResponse):
        return  # static files, read from disk
    if getattr(response, "streaming", False):
        if not getattr(response, "is_async", False):
            response.streaming_content = _checked_chunks(response.streaming_content, where)
        return
    GUARD.check(f"{where} body", response.content)


def _checked_chunks(chunks: Iterable[bytes], where: str) -> Iterator[bytes]:
    for chunk in chunks:
        GUARD.check(f"{where} streamed body", chunk)
        yield chunk


def _install_response_seam() -> None:
    from django.core.handlers.base import BaseHandler

    if getattr(BaseHandler.get_response, "_secret_guarded", False):
        return
    original = BaseHandler.get_response
    original_async = BaseHandler.get_response_async

    def get_response(self, request):
        response = original(self, request)
        check_response(response, f"{request.method} {request.path}")
        return response

    async def get_response_async(self, request):
        response = await original_async(self, request)
        check_response(response, f"{request.method} {request.path}")
        return response

    get_response._secret_guarded = True
    BaseHandler.get_response = get_response
    BaseHandler.get_response_async = get_response_async


# --- Exceptions ----------------------------------------------------------------------


def _on_request_exception(sender, request=None, **kwargs) -> None:
    text = traceback.format_exc()
    GUARD.check(f"unhandled exception in {getattr(request, 'path', '?')}", text)


def _install_exception_seams() -> None:
    from django.core.signals import got_request_exception

    from dashboard.chatkit.errors import ChatKitError

    got_request_exception.connect(_on_request_exception, dispatch_uid="secret-guard")
    if getattr(ChatKitError.__init__, "_secret_guarded", False):
        return
    original_init = ChatKitError.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        GUARD.check(f"{type(self).__name__} message", str(self))

    __init__._secret_guarded = True
    ChatKitError.__init__ = __init__


# --- Logs ----------------------------------------------------------------------------


class GuardHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is not ours to judge
            text = str(record.msg)
        if record.exc_info:
            text += "\n" + self._formatter.formatException(record.exc_info)
        GUARD.check_log(f"log record {record.name}:{record.levelname}", text)


HANDLER = GuardHandler()


def _install_log_seam() -> None:
    root = logging.getLogger()
    if HANDLER in root.handlers:
        return
    # Lower the root to DEBUG so every record reaches us; keep other handlers as chatty
    # as they were so test output does not change.
    for handler in root.handlers:
        if handler.level == logging.NOTSET:
            handler.setLevel(root.level)
    root.setLevel(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    root.addHandler(HANDLER)


# --- Pytest --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def secret_guard():
    """Every test: start clean, and fail if anything leaked while it ran."""
    _install_response_seam()
    _install_exception_seams()
    _install_log_seam()
    before = GUARD.take()
    yield GUARD
    leaks = GUARD.take()
    if before:
        leaks = [f"(before this test) {leak}" for leak in before] + leaks
    if leaks:
        pytest.fail("The API key leaked:\n  " + "\n  ".join(dict.fromkeys(leaks)), pytrace=False)


def pytest_sessionfinish(session, exitstatus) -> None:
    leaks = GUARD.take()
    if leaks:
        session.config.get_terminal_writer().line(
            "SECRET GUARD: the API key leaked after the last test:\n  " + "\n  ".join(leaks),
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(
        f"secret guard: {GUARD.checked:,} responses, headers, log records and messages checked"
    )
