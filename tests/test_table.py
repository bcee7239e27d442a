"""The table's per-row cells, computed in Python for speed, must print exactly what
Django's own filters and reverse() would (bench/page_cost.py has the speed figures)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from django.template.defaultfilters import date as date_filter
from django.urls import resolve, reverse
from hypothesis import given
from hypothesis import strategies as st

from dashboard.chatkit.types import StatusKind, Thread, ThreadStatus
from dashboard.threads.tables import thread_cells

moments = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


def thread(**overrides) -> Thread:
    values = {
        "id": "cthr_1",
        "created_at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "title": "A title",
        "user": "user_1",
        "status": ThreadStatus(kind=StatusKind.ACTIVE),
    }
    return Thread(**{**values, **overrides})


@given(moment=moments)
def test_dates_read_exactly_as_djangos_date_filter(moment):
    cells = thread_cells(thread(created_at=moment))
    assert cells["created_iso"] == date_filter(moment, "c")
    assert cells["created_second"] == date_filter(moment, "Y-m-d H:i:s")
    assert cells["created_minute"] == date_filter(moment, "Y-m-d H:i")


@given(user=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40))
def test_user_links_resolve_back_to_the_same_user(user):
    url = thread_cells(thread(user=user))["user_url"]
    if user in (".", ".."):
        assert url == reverse("threads:list") + "?user=" + ("." * len(user))
        return
    assert resolve(unquote(url)).kwargs == {"user": user}


def test_only_locked_and_closed_threads_show_a_reason():
    active = thread_cells(thread())
    locked = thread_cells(thread(status=ThreadStatus(kind=StatusKind.LOCKED, reason="Spam")))
    closed = thread_cells(thread(status=ThreadStatus(kind=StatusKind.CLOSED)))
    assert (active["shows_reason"], locked["shows_reason"], closed["shows_reason"]) == (
        False, True, True,
    )  # fmt: skip
    assert (locked["status_kind"], locked["status_label"], locked["status_reason"]) == (
        "locked", "Locked", "Spam",
    )  # fmt: skip
    assert thread_cells(thread(user=""))["user_url"] == ""
