"""One wall-clock deadline for all the upstream work of one page.

A page may make several upstream calls (a transcript's two, a deletion's lookup and delete,
a status scan's pages), each with retries and waits. Budgeting each call on its own lets a
page take several budgets; so the middleware below starts one `Deadline` per request and
makes it current (a context variable) while the view runs. The ChatKit client reads it: an
attempt gets only the time left, a retry wait that does not fit is not taken, and a body
still arriving when the deadline passes is cut off (see `transport.py`).

A CSV export streams after the view has returned; its rows are read under its own, longer
deadline, counted from the same start (CHATKIT_CSV_TIME_BUDGET).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

T = TypeVar("T")

# What each kind of deadline is called in messages, and the setting that sizes it.
SCOPES = {
    "page": ("the page's", "CHATKIT_TIME_BUDGET"),
    "export": ("the export's", "CHATKIT_CSV_TIME_BUDGET"),
    # One call made outside any page (a management command, a shell): it budgets itself.
    "call": ("the call's", "CHATKIT_TIME_BUDGET"),
}


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment on `clock` (monotonic seconds) after which no upstream work may go on."""

    expires_at: float
    # The budget it was started with, and what it bounds ("page", "export" or "call").
    seconds: float
    scope: str = "page"
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def start(
        cls,
        seconds: float,
        *,
        scope: str = "page",
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
    ) -> Deadline:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {sorted(SCOPES)}")
        begin = clock() if started is None else started
        return cls(expires_at=begin + seconds, seconds=seconds, scope=scope, clock=clock)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.expires_at - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def describe(self) -> str:
        """The budget in words: "the page's time budget (8 s, CHATKIT_TIME_BUDGET)"."""
        whose, setting = SCOPES[self.scope]
        return f"{whose} time budget ({self.seconds:g} s, {setting})"


_current: ContextVar[Deadline | None] = ContextVar("chatkit_deadline", default=None)


def current() -> Deadline | None:
    """The deadline upstream work is under now; None outside any page (commands, shells)."""
    return _current.get()


def remaining() -> float | None:
    """Seconds left of the current deadline; None when there is none.

    For loops of upstream calls (the status scan) that would rather stop and say how far
    they got than have their next call refused.
    """
    deadline = current()
    return None if deadline is None else deadline.remaining()


@contextmanager
def active(deadline: Deadline) -> Iterator[Deadline]:
    """Make `deadline` the current one inside the block (it replaces any outer one)."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


@contextmanager
def portion(fraction: float) -> Iterator[Deadline | None]:
    """Inside the block, only `fraction` of the time left: for a best-effort call that must
    leave the rest to the call that matters (a deletion's owner lookup, then the delete)."""
    outer = current()
    if outer is None:
        yield None
        return
    expires_at = outer.clock() + outer.remaining() * fraction
    # Named after the budget it is part of: that is the setting to change.
    share = Deadline(expires_at, seconds=outer.seconds, scope=outer.scope, clock=outer.clock)
    with active(share):
        yield share


def within(deadline: Deadline, items: Iterable[T]) -> Iterator[T]:
    """`items`, each produced under `deadline`; the consumer's own code runs outside it."""
    iterator = iter(items)
    while True:
        with active(deadline):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item


class UpstreamDeadlineMiddleware:
    """Every request's upstream work runs under one deadline (CHATKIT_TIME_BUDGET).

    A streamed response (a CSV export) reads on under CHATKIT_CSV_TIME_BUDGET, counted from
    the start of the request; its first page was read by the view, under the page's budget.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        config = settings.CHATKIT
        started = time.monotonic()
        with active(Deadline.start(config.time_budget, started=started)):
            response = self.get_response(request)
        if isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse):
            content = response.streaming_content
            # Served by WSGI: a streamed body is a plain iterator (async ones are ASGI's).
            if isinstance(content, Iterator):
                export = Deadline.start(config.csv_time_budget, scope="export", started=started)
                response.streaming_content = within(export, content)
        return response
