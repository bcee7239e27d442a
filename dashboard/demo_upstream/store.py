"""The demo upstream's live data and its cursor paging; every ThreadStore method is thread-safe.

A `Dataset` is immutable and may hold a million generated threads; the store keeps
only what happened since: deleted indexes, changed threads, and threads added later
(by the control endpoint or live mode). A page merges the generated threads (found by
arithmetic and `bytes.find`, never listed) with the few added ones, skipping deleted
ones, so it costs O(log n + limit + deletions skipped) whatever the size.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import heapq
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .data import Dataset, Key, Thread, encode_json
from .validation import ApiError, ListParams, shown, thread_not_found

TRANSCRIPT_CACHE_SIZE = 256
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


# --- Paging ----------------------------------------------------------------------


class Walk(Protocol[T_co]):
    """Walks something sorted by Key between two exclusive bounds (None: open)."""

    def __call__(self, low: Key | None, high: Key | None, *, upward: bool) -> Iterator[T_co]: ...


def paginate(
    walk: Walk[T],
    *,
    after: Key | None,
    before: Key | None,
    limit: int,
    order: str,
) -> tuple[list[T], bool]:
    """One page in `order`, OpenAI-style, from whatever `walk` walks.

    `after` keeps what follows that key in `order`, `before` what precedes it; both
    may apply. With no cursor or with `after`, the page is the first `limit` of
    that window and `has_more` says whether more follow; with only `before`, it is
    the last `limit` (those immediately preceding the cursor) and `has_more` says
    whether more lie further back. Cursor keys need not be entries themselves.
    """
    if order == "asc":
        low, high = after, before
        upward = after is not None or before is None
    else:
        low, high = before, after
        upward = after is None and before is not None
    taken = list(itertools.islice(walk(low, high, upward=upward), limit + 1))
    page = taken[:limit]
    if upward != (order == "asc"):
        page.reverse()
    return page, len(taken) > limit


class SortedPairs(Generic[T]):
    """An ascending list of (key, value) pairs, walked by key."""

    def __init__(self, pairs: Sequence[tuple[Key, T]]) -> None:
        self.pairs = pairs

    def positions(self, low: Key | None, high: Key | None, *, upward: bool) -> range:
        pairs = self.pairs
        start = 0 if low is None else bisect.bisect_right(pairs, low, key=_first)
        stop = len(pairs) if high is None else bisect.bisect_left(pairs, high, key=_first)
        return range(start, stop) if upward else range(stop - 1, start - 1, -1)

    def walk(self, low: Key | None, high: Key | None, *, upward: bool) -> Iterator[T]:
        pairs = self.pairs
        return (pairs[position][1] for position in self.positions(low, high, upward=upward))


def _first(pair: tuple[Key, Any]) -> Key:
    return pair[0]


@dataclass(frozen=True, slots=True)
class Transcript:
    """A thread's items, with the sorted keys and lookups that paging needs."""

    items: SortedPairs[dict[str, Any]]
    key_by_id: dict[str, Key]


def list_envelope(
    chunks: Sequence[bytes], first_id: str | None, last_id: str | None, has_more: bool
) -> bytes:
    """OpenAI's list object around already-encoded entries."""
    return b"".join(
        (
            b'{"object":"list","data":[',
            b",".join(chunks),
            b'],"first_id":',
            encode_json(first_id),
            b',"last_id":',
            encode_json(last_id),
            b',"has_more":',
            b"true" if has_more else b"false",
            b"}",
        )
    )


def _padded(rows: list[T], size: int) -> list[T]:
    """`rows` repeated up to `size` entries (an oversized page needs more than exist)."""
    if not rows or len(rows) >= size:
        return rows
    return list(itertools.islice(itertools.cycle(rows), size))


# --- State -----------------------------------------------------------------------


class ThreadStore:
    """The live view of a Dataset: deletions, changes and added threads on top of it."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to the dataset: undo every deletion, change and addition."""
        with self._lock:
            self._deleted: set[int] = set()
            self._changed: dict[int, Thread] = {}
            self._added: dict[int, Thread] = {}  # as first added: their transcripts' seed
            self._added_ids: dict[str, int] = {}
            self._added_pairs: list[tuple[Key, int]] = []
            self._added_user_pairs: dict[str, list[tuple[Key, int]]] = {}
            self._next_index = self.dataset.count
            self._transcripts: OrderedDict[int, Transcript] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return self.dataset.count + len(self._added) - len(self._deleted)

    # --- Single threads (call with the lock held) --------------------------------

    def _index_of(self, thread_id: str) -> int | None:
        """The live thread's index, or None (unknown or deleted)."""
        index = self._added_ids.get(thread_id)
        if index is None:
            index = self.dataset.index_of(thread_id)
        if index is None or index in self._deleted:
            return None
        return index

    def _original(self, index: int) -> Thread:
        added = self._added.get(index)
        return added if added is not None else self.dataset.thread(index)

    def _current(self, index: int) -> Thread:
        changed = self._changed.get(index)
        return changed if changed is not None else self._original(index)

    def _key(self, index: int) -> Key:
        added = self._added.get(index)
        return added.key if added is not None else self.dataset.key(index)

    def _encoded(self, index: int) -> bytes:
        if index in self._changed or index in self._added:
            return encode_json(self._current(index).to_dict())
        return self.dataset.encoded(index)

    # --- Single threads ----------------------------------------------------------

    def get(self, thread_id: str) -> Thread | None:
        with self._lock:
            index = self._index_of(thread_id)
            return None if index is None else self._current(index)

    def encoded(self, thread_id: str) -> bytes:
        """The thread's JSON, or a 404 ApiError."""
        with self._lock:
            index = self._index_of(thread_id)
            if index is None:
                raise thread_not_found(thread_id)
            return self._encoded(index)

    def add(
        self,
        *,
        user: str,
        title: str | None,
        status_type: str = "active",
        reason: str | None = None,
        created_at: int | None = None,
    ) -> Thread:
        """A new thread, as if someone had just started it (created now unless told)."""
        with self._lock:
            thread_id = self._new_id()
            thread = Thread(
                index=self._next_index,
                id=thread_id,
                created_at=int(time.time()) if created_at is None else created_at,
                title=title,
                status_type=status_type,
                reason=None if status_type == "active" else reason,
                user=user,
            )
            self._next_index += 1
            self._added[thread.index] = thread
            self._added_ids[thread.id] = thread.index
            pair = (thread.key, thread.index)
            bisect.insort(self._added_pairs, pair)
            bisect.insort(self._added_user_pairs.setdefault(user, []), pair)
            return thread

    def _new_id(self) -> str:
        """A fresh id, the same on every run for the same sequence of additions."""
        attempt = 0
        while True:
            seed = f"{self.dataset.seed}:{self._next_index}:{attempt}".encode()
            digest = hashlib.blake2b(seed, digest_size=16, person=b"demo-added").hexdigest()
            thread_id = f"cthr_{digest}"
            if thread_id not in self._added_ids and self.dataset.index_of(thread_id) is None:
                return thread_id
            attempt += 1

    def change(self, thread_id: str, **fields: Any) -> Thread:
        """Set the `title`, or `status_type` and `reason`, of a live thread (404 if none)."""
        with self._lock:
            index = self._index_of(thread_id)
            if index is None:
                raise thread_not_found(thread_id)
            changed = dataclasses.replace(self._current(index), **fields)
            if changed.status_type == "active":
                changed = dataclasses.replace(changed, reason=None)
            self._changed[index] = changed
            return changed

    def delete(self, thread_id: str) -> bool:
        with self._lock:
            index = self._index_of(thread_id)
            if index is None:
                return False
            self._deleted.add(index)
            self._changed.pop(index, None)
            self._transcripts.pop(index, None)
            return True

    # --- Lists -------------------------------------------------------------------

    def _cursor_key(self, thread_id: str | None, name: str) -> Key | None:
        # Any live thread is a valid cursor, even one of another user than the filter's.
        if thread_id is None:
            return None
        index = self._index_of(thread_id)
        if index is None:
            raise ApiError(
                400,
                f"Invalid '{name}': no thread found with id {shown(thread_id)}.",
                param=name,
                code="invalid_value",
            )
        return self._key(index)

    def _walk(
        self, low: Key | None, high: Key | None, *, upward: bool, user: str | None
    ) -> Iterator[int]:
        """Live thread indexes with low < key < high: generated and added ones, merged."""
        dataset = self.dataset
        start = 0 if low is None else dataset.position_after(low)
        stop = dataset.count if high is None else dataset.position_before(high)
        indexes: Iterable[int] = dataset.indexes(start, max(start, stop), user=user, upward=upward)
        pairs = self._added_pairs if user is None else self._added_user_pairs.get(user, [])
        added = SortedPairs(pairs).positions(low, high, upward=upward) if pairs else range(0)
        if added:
            generated = ((dataset.key(index), index) for index in indexes)
            merged = heapq.merge(generated, (pairs[p] for p in added), reverse=not upward)
            indexes = (index for _, index in merged)
        deleted = self._deleted
        return (index for index in indexes if index not in deleted)

    def _page(self, params: ListParams, size: int) -> tuple[list[int], bool]:
        after = self._cursor_key(params.after, "after")
        before = self._cursor_key(params.before, "before")
        walk = functools.partial(self._walk, user=params.user)
        return paginate(walk, after=after, before=before, limit=size, order=params.order)

    def list_threads(self, params: ListParams, *, extra_rows: int = 0) -> bytes:
        """The encoded list envelope for one page (`extra_rows` more: the oversize fault)."""
        size = params.limit + extra_rows
        with self._lock:
            indexes, has_more = self._page(params, size)
            indexes = _padded(indexes, size) if extra_rows else indexes
            chunks = [self._encoded(index) for index in indexes]
            ends = [self._key(index)[1] for index in indexes[:1] + indexes[-1:]]
        return list_envelope(
            chunks, ends[0] if ends else None, ends[-1] if ends else None, has_more
        )

    def newest(self, count: int) -> list[Thread]:
        """The `count` newest live threads, newest first."""
        with self._lock:
            indexes, _ = self._page(ListParams(limit=count), count)
            return [self._current(index) for index in indexes]

    # --- Items -------------------------------------------------------------------

    def list_items(self, thread_id: str, params: ListParams, *, extra_rows: int = 0) -> bytes:
        """The encoded list envelope for one page of a thread's items."""
        size = params.limit + extra_rows
        with self._lock:
            index = self._index_of(thread_id)
            if index is None:
                raise thread_not_found(thread_id)
            transcript = self._transcript(index)
            cursors: dict[str, Key | None] = {}
            for name in ("after", "before"):
                value = getattr(params, name)
                key = transcript.key_by_id.get(value) if value is not None else None
                if value is not None and key is None:
                    raise ApiError(
                        400,
                        f"Invalid '{name}': no item with id {shown(value)} in thread "
                        f"{shown(thread_id)}.",
                        param=name,
                        code="invalid_value",
                    )
                cursors[name] = key
            items, has_more = paginate(
                transcript.items.walk,
                after=cursors["after"],
                before=cursors["before"],
                limit=size,
                order=params.order,
            )
        items = _padded(items, size) if extra_rows else items
        return list_envelope(
            [encode_json(item) for item in items],
            items[0]["id"] if items else None,
            items[-1]["id"] if items else None,
            has_more,
        )

    def _transcript(self, index: int) -> Transcript:
        cached = self._transcripts.get(index)
        if cached is not None:
            self._transcripts.move_to_end(index)
            return cached
        # From the thread as it was first made: a later title change rewrites no messages.
        items = self.dataset.items_for(self._original(index))
        pairs = sorted((((item["created_at"], item["id"]), item) for item in items), key=_first)
        transcript = Transcript(
            items=SortedPairs(pairs), key_by_id={key[1]: key for key, _ in pairs}
        )
        self._transcripts[index] = transcript
        while len(self._transcripts) > TRANSCRIPT_CACHE_SIZE:
            self._transcripts.popitem(last=False)
        return transcript
