"""The thread table (dashboard/web/tables.py) and the `<time>` element (web/timestamps.py):
computed in Python for speed, they must print exactly what Django's own filters and
reverse() would (bench/page_cost.py has the speed figures)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from django.template import engines
from django.template.defaultfilters import date as date_filter
from django.urls import resolve, reverse
from hypothesis import given
from hypothesis import strategies as st

from dashboard.chatkit.types import StatusKind, Thread, ThreadPage, ThreadStatus
from dashboard.web.tables import ThreadTable, status_counts, thread_cells
from dashboard.web.timestamps import utc_time

from .conftest import page_json, thread_json

# No deadline: on a busy machine the first example also pays for loading the URLconf.
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
def test_times_read_exactly_as_djangos_date_filter(moment):
    exact = f'datetime="{date_filter(moment, "c")}"'
    title = f'title="{date_filter(moment, "Y-m-d H:i:s")} UTC"'
    assert utc_time(moment) == (
        f"<time {exact} {title}>{date_filter(moment, 'Y-m-d H:i')} UTC</time>"
    )
    assert utc_time(moment, "second") == (
        f"<time {exact} {title}>{date_filter(moment, 'Y-m-d H:i:s')} UTC</time>"
    )
    assert utc_time(moment, "clock") == (
        f'<time {exact} data-precision="seconds" {title}>{date_filter(moment, "H:i:s")} UTC</time>'
    )


@given(moment=moments)
def test_the_table_prints_each_creation_time_to_the_minute(moment):
    assert thread_cells(thread(created_at=moment))["created"] == utc_time(moment, "minute")


@pytest.mark.parametrize("precision", ["minute", "second", "clock"])
def test_the_template_tag_prints_the_same_element(precision):
    moment = datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    rendered = (
        engines["django"]
        .from_string("{% load web_tags %}{% utc_time moment precision %}")
        .render({"moment": moment, "precision": precision})
    )
    assert rendered == utc_time(moment, precision)
    assert 'datetime="2025-01-02T03:04:05.678000+00:00"' in rendered


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


def test_status_counts_cover_every_kind():
    page = ThreadPage.from_dict(
        page_json(
            [
                thread_json(),
                thread_json(status={"type": "locked", "reason": "abuse"}),
                thread_json(status={"type": "closed", "reason": None}),
            ]
        )
    )
    counts = status_counts(page.threads)
    assert counts[StatusKind.ACTIVE] == counts[StatusKind.LOCKED] == counts[StatusKind.CLOSED] == 1
    assert counts[StatusKind.UNKNOWN] == 0
    assert ThreadTable(page.threads).status_counts() == counts
