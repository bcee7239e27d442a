"""Every URL a thread page links to: per-user and per-thread pages, paging, exports.

User ids are free-form: `acme/support`, `100%-sure`, `who?what`, `..`. Django's
`reverse()` leaves `/` unescaped, so `acme/../x` would put a `..` segment in the
path, which browsers resolve away (even as `%2E%2E`). Escaping `/` keeps every id
one path segment; the only ids that cannot be a segment at all are `.` and `..`,
and those get the equivalent filtered list instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.paginator import Page
from django.urls import get_script_prefix, get_urlconf, reverse

from .paging import Pager
from .query import DEFAULT_LIMIT, FILTERABLE_STATUSES, ThreadQuery

DOT_SEGMENTS = frozenset({".", ".."})
# RFC 3986 path characters, minus "/": readable URLs for e-mail-like and "a+b" ids.
_SEGMENT_SAFE = "@:!$&'()*+,;="


def with_query(url: str, params: Mapping[str, object]) -> str:
    return f"{url}?{urlencode(params)}" if params else url


def clean_url(url: str, given: Mapping[str, str], params: Mapping[str, str]) -> str | None:
    """Where a filter form's submission (`given`, its query string) belongs instead: `url`
    with `params`, the page's query as the app's own links write it (blank and default
    values left out, values trimmed). None when `given` has nothing to leave out or change:
    a value the app adds (the zone that travels with dates) is no reason for a redirect."""
    if all(params.get(name) == value for name, value in given.items()):
        return None
    return with_query(url, params)


def user_threads_url(user: str) -> str:
    if user in DOT_SEGMENTS:
        return with_query(reverse("threads:list"), {"user": user})
    prefix = _user_prefix(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{prefix}{quote(user, safe=_SEGMENT_SAFE)}/"


@functools.lru_cache(maxsize=16)
def _user_prefix(script_prefix: str, urlconf: object) -> str:
    # reverse() costs ~25 µs, paid per row of a 100-row table; the prefix depends only on
    # the arguments (SCRIPT_NAME and URLconf), so it is found once with a placeholder.
    return reverse("threads:user", kwargs={"user": "-"})[: -len("-/")]


def thread_url(thread_id: str, action: str = "") -> str:
    """The detail page of a thread (or `action`, e.g. "delete/", under it); "/" escaped too.

    Real ids are `cthr_…`; an id of "." or ".." cannot be a path segment and has no page.
    """
    prefix = _thread_prefix(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{prefix}{quote(thread_id, safe=_SEGMENT_SAFE)}/{action}"


@functools.lru_cache(maxsize=16)
def _thread_prefix(script_prefix: str, urlconf: object) -> str:
    return reverse("threads:detail", kwargs={"thread_id": "-"})[: -len("-/")]


# --- Paging ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageLinks:
    """The pager's three links; "" hides one."""

    first: str
    previous: str
    next: str


def page_links(pager: Pager, url: Callable[[dict[str, str]], str]) -> PageLinks:
    """`pager` as links; `url(cursor)` is the page at `{}`, `{"before": …}` or `{"after": …}`."""
    return PageLinks(
        first="" if pager.on_first_page else url({}),
        previous=url({"before": pager.previous_before}) if pager.previous_before else "",
        next=url({"after": pager.next_after}) if pager.next_after else "",
    )


# A conversation reads from its beginning; "desc" shows the newest items first.
TRANSCRIPT_ORDER = "asc"


def transcript_url(
    thread_id: str, *, limit: int = DEFAULT_LIMIT, order: str = TRANSCRIPT_ORDER, **cursor: str
) -> str:
    """A page of a thread's transcript; the defaults (size, order) left out of the URL."""
    size = {"limit": limit} if limit != DEFAULT_LIMIT else {}
    direction = {"order": order} if order != TRANSCRIPT_ORDER else {}
    return with_query(thread_url(thread_id), {**size, **direction, **cursor})


def transcript_links(
    thread_id: str, *, limit: int, pager: Pager, order: str = TRANSCRIPT_ORDER
) -> PageLinks:
    """The transcript's other pages, keeping its page size and order."""
    return page_links(
        pager, lambda cursor: transcript_url(thread_id, limit=limit, order=order, **cursor)
    )


# --- A list page ----------------------------------------------------------------------------

# Filters kept, cursors dropped: the first page of the same list.
FIRST_PAGE: dict[str, object] = {"after": None, "before": None}


@dataclass(frozen=True, slots=True)
class ListPageLinks:
    """Every link a thread list page shows for its query; "" hides one."""

    pages: PageLinks
    # A status scan continues in its direction of travel.
    scan_further: str
    export_page: str
    export_all: str
    # This very page, asked of the upstream again rather than the cache.
    refresh: str


@dataclass(frozen=True, slots=True)
class StatusLink:
    status: str
    count: int
    # "" for a status newer than this code: counted, but the filter cannot ask for it.
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class IndexPageLinks:
    """Every link of a list page the thread index answered; None: no pages to number."""

    pages: NumberedPages | None
    statuses: tuple[StatusLink, ...]
    any_status: str
    first_page: str
    export_page: str
    export_all: str


@dataclass(frozen=True, slots=True)
class ListLinks:
    """Where one list page and its CSV export live, and how a query becomes their URLs."""

    page: str
    export: str
    # The per-user pages carry the user in the path, so links leave it out of the query.
    user_in_path: bool = False

    def url(
        self, query: ThreadQuery, changes: Mapping[str, object] | None = None, *, base: str = ""
    ) -> str:
        """A URL for `query` with `changes`, on this page (or on `base`, e.g. its export)."""
        return with_query(base or self.page, self.params(query, changes))

    def params(
        self, query: ThreadQuery, changes: Mapping[str, object] | None = None
    ) -> dict[str, str]:
        params = query.as_params(**(changes or {}))
        if self.user_in_path:
            params.pop("user", None)
        return params

    def clean_url(
        self, query: ThreadQuery, given: Mapping[str, str], *, also: Mapping[str, str]
    ) -> str | None:
        """This page's own URL for `query` (and `also`, what is not a filter but stays), if
        `given` (the query string) is not it already."""
        params = {**self.params(query), **also}
        if query.page is not None:
            # A page number, even 1, asks the index (ThreadQuery.index_only): the redirect
            # must not change which source answers.
            params["page"] = str(query.page)
        return clean_url(self.page, given, params)

    def first_page(self, query: ThreadQuery) -> str:
        """The same filters from the start: the way out of a bad or stale cursor."""
        return self.url(query, FIRST_PAGE)

    def for_index_page(
        self, query: ThreadQuery, page: Page | None, counts: list[tuple[str, int]]
    ) -> IndexPageLinks:
        """Links of a list the thread index answered: numbers, a link per status count."""
        first = {**FIRST_PAGE, "page": None}
        pages = (
            numbered_pages(page, lambda n: self.url(query, {**first, "page": n}))
            if page is not None  # a Page's truth is its length: a query
            else None
        )
        current = query.status.value if query.status else None
        return IndexPageLinks(
            pages=pages,
            statuses=tuple(
                StatusLink(
                    status=status,
                    count=count,
                    url=self.url(query, {**first, "status": status})
                    if status in FILTERABLE_STATUSES
                    else "",
                    current=status == current,
                )
                for status, count in counts
            ),
            any_status=self.url(query, {**first, "status": None}),
            first_page=self.url(query, first),
            export_page=self.url(query, {"scope": "page"}, base=self.export),
            export_all=self.url(query, {**first, "scope": "all"}, base=self.export),
        )

    def sort_url(self, query: ThreadQuery, sort: str) -> str:
        return self.url(query, {**FIRST_PAGE, "page": None, "sort": sort})

    def for_page(self, query: ThreadQuery, pager: Pager) -> ListPageLinks:
        pages = page_links(pager, lambda cursor: self.url(query, {**FIRST_PAGE, **cursor}))
        return ListPageLinks(
            pages=pages,
            scan_further=pages.previous if query.before else pages.next,
            export_page=self.url(query, {"scope": "page"}, base=self.export),
            export_all=self.url(query, {**FIRST_PAGE, "scope": "all"}, base=self.export),
            refresh=self.url(query, {"fresh": "1"}),
        )


# --- Numbered pages (lists from the thread index) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class NumberedPage:
    label: str
    # "" for the current page and for a gap ("…").
    url: str
    current: bool = False


@dataclass(frozen=True, slots=True)
class NumberedPages:
    """Page numbers around the current one, with Previous / Next; "" hides a link."""

    pages: tuple[NumberedPage, ...]
    previous: str
    next: str


def numbered_pages(page: Page, url: Callable[[int], str]) -> NumberedPages:
    """Links for `page` of a Django paginator; `url(n)` is page n of the same list."""
    paginator = page.paginator
    numbers = []
    for number in paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        # The range holds ints and the lazy `paginator.ELLIPSIS` (not a str instance).
        if not isinstance(number, int):
            numbers.append(NumberedPage(label="…", url=""))
        else:
            numbers.append(
                NumberedPage(label=f"{number:,}", url=url(number), current=number == page.number)
            )
    return NumberedPages(
        pages=tuple(numbers) if paginator.num_pages > 1 else (),
        previous=url(page.previous_page_number()) if page.has_previous() else "",
        next=url(page.next_page_number()) if page.has_next() else "",
    )
