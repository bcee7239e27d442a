"""Which Previous / Next cursors a page of an upstream-style list offers.

ChatKit pages by cursor (`after` / `before` an id) and says `has_more`. These rules serve
every such list: the thread list, a transcript, and any list paged the same way. Lists from
the thread index have page numbers instead (`CountedPaginator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.paginator import Page, Paginator


@dataclass(frozen=True, slots=True)
class Pager:
    """Cursors for the Previous and Next links; None hides the link."""

    previous_before: str | None
    next_after: str | None
    # The first page, without cursors, is always one click away once you have paged.
    on_first_page: bool


def pager_for(
    *,
    after: str | None,
    before: str | None,
    first_id: str | None,
    last_id: str | None,
    has_more: bool,
) -> Pager:
    """Paging links that never strand the user.

    `has_more` is trusted only in the direction of travel: the API does not say what
    it means on a `before` page in the other direction, and the page we came from
    is always there to go back to.
    """
    if before:
        return Pager(
            previous_before=first_id if has_more and first_id else None,
            next_after=last_id or before,
            on_first_page=False,
        )
    if after:
        return Pager(
            previous_before=first_id or after,
            next_after=last_id if has_more and last_id else None,
            on_first_page=False,
        )
    return Pager(
        previous_before=None,
        next_after=last_id if has_more and last_id else None,
        on_first_page=True,
    )


class CountedPaginator(Paginator):
    """Django's Paginator, told the total instead of counting it: a page of an index answer
    takes its total from counter tables (or a count it made anyway), never a second COUNT."""

    def __init__(self, object_list: Any, per_page: int, *, count: int, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count


def numbered_position(page: Page, *, at_least: bool = False) -> str:
    """Where `page` sits among its list's pages, e.g. "Page 2 of 14"; `at_least` when the
    count stopped short of the whole list, so more pages exist than are numbered."""
    of = f"at least {page.paginator.num_pages:,}" if at_least else f"{page.paginator.num_pages:,}"
    return f"Page {page.number:,} of {of}"
