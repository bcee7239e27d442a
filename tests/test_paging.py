"""Paging rules and the links they become (dashboard/web/paging.py and links.py), without HTTP."""

from __future__ import annotations

from dashboard.chatkit.types import StatusKind
from dashboard.web.links import ListLinks, page_links, transcript_links
from dashboard.web.paging import Pager, pager_for
from dashboard.web.query import ThreadQuery

# --- pager_for -----------------------------------------------------------------


def test_the_first_page_has_no_previous_and_next_follows_has_more():
    pager = pager_for(after=None, before=None, first_id="a", last_id="b", has_more=True)
    assert pager.previous_before is None
    assert pager.next_after == "b"
    assert pager.on_first_page


def test_the_last_first_page_has_no_links_at_all():
    pager = pager_for(after=None, before=None, first_id="a", last_id="b", has_more=False)
    assert (pager.previous_before, pager.next_after) == (None, None)


def test_after_paging_forward_previous_always_shows():
    pager = pager_for(after="x", before=None, first_id="a", last_id="b", has_more=False)
    assert pager.previous_before == "a"
    assert pager.next_after is None


def test_after_paging_back_next_always_shows_and_has_more_decides_previous():
    back = {"after": None, "before": "x"}
    pager = pager_for(**back, first_id="a", last_id="b", has_more=False)
    assert pager.next_after == "b"
    assert pager.previous_before is None
    assert pager_for(**back, first_id="a", last_id="b", has_more=True).previous_before == "a"


def test_an_empty_page_after_a_cursor_still_leads_back():
    pager = pager_for(after="x", before=None, first_id=None, last_id=None, has_more=False)
    assert pager.previous_before == "x"
    assert not pager.on_first_page


def test_an_empty_page_before_a_cursor_still_leads_forward():
    pager = pager_for(after=None, before="x", first_id=None, last_id=None, has_more=False)
    assert pager.next_after == "x"


# --- The links ---------------------------------------------------------------------


def test_page_links_ask_the_page_for_each_cursor_and_hide_what_the_pager_hides():
    asked = []

    def url(cursor):
        asked.append(cursor)
        return "/p?" + "&".join(f"{k}={v}" for k, v in cursor.items())

    links = page_links(Pager(previous_before="a", next_after=None, on_first_page=False), url)
    assert (links.first, links.previous, links.next) == ("/p?", "/p?before=a", "")
    assert asked == [{}, {"before": "a"}]
    first = page_links(Pager(previous_before=None, next_after="b", on_first_page=True), url)
    assert (first.first, first.previous, first.next) == ("", "", "/p?after=b")


def test_transcript_links_keep_a_page_size_other_than_the_default():
    pager = Pager(previous_before="i1", next_after="i9", on_first_page=False)
    sized = transcript_links("cthr_a/b", limit=5, pager=pager)
    assert sized.previous == "/threads/cthr_a%2Fb/?limit=5&before=i1"
    assert sized.next == "/threads/cthr_a%2Fb/?limit=5&after=i9"
    assert sized.first == "/threads/cthr_a%2Fb/?limit=5"
    assert transcript_links("c", limit=20, pager=pager).first == "/threads/c/"


def test_a_list_page_links_drop_cursors_for_its_first_page_and_all_export():
    links = ListLinks(page="/threads/", export="/threads/export.csv")
    query = ThreadQuery(user="a b", status=StatusKind.LOCKED, limit=50, after="c1")
    page = links.for_page(query, Pager(previous_before="c2", next_after="c3", on_first_page=False))
    assert page.pages.first == "/threads/?user=a+b&status=locked&limit=50"
    assert page.pages.previous == "/threads/?user=a+b&status=locked&limit=50&before=c2"
    assert page.pages.next == "/threads/?user=a+b&status=locked&limit=50&after=c3"
    assert page.scan_further == page.pages.next
    assert page.export_page == (
        "/threads/export.csv?user=a+b&status=locked&limit=50&after=c1&scope=page"
    )
    assert page.export_all == "/threads/export.csv?user=a+b&status=locked&limit=50&scope=all"
    assert page.refresh == "/threads/?user=a+b&status=locked&limit=50&after=c1&fresh=1"


def test_a_backward_scan_scans_further_back():
    links = ListLinks(page="/threads/", export="/threads/export.csv")
    query = ThreadQuery(status=StatusKind.LOCKED, before="c1")
    page = links.for_page(query, Pager(previous_before="c0", next_after="c5", on_first_page=False))
    assert page.scan_further == page.pages.previous == "/threads/?status=locked&before=c0"


def test_a_per_user_page_keeps_the_user_in_its_path_not_its_query():
    links = ListLinks(page="/users/x%2Fy/", export="/users/x%2Fy/export.csv", user_in_path=True)
    query = ThreadQuery(user="x/y", after="c1")
    assert links.first_page(query) == "/users/x%2Fy/"
    page = links.for_page(query, Pager(previous_before=None, next_after="c2", on_first_page=False))
    assert page.pages.next == "/users/x%2Fy/?after=c2"
    assert page.export_all == "/users/x%2Fy/export.csv?scope=all"


def test_transcript_links_keep_newest_first_and_leave_the_default_order_out():
    pager = Pager(previous_before="i1", next_after="i9", on_first_page=False)
    newest = transcript_links("c", limit=20, pager=pager, order="desc")
    assert newest.first == "/threads/c/?order=desc"
    assert newest.next == "/threads/c/?order=desc&after=i9"
    assert transcript_links("c", limit=20, pager=pager, order="asc").next == "/threads/c/?after=i9"
