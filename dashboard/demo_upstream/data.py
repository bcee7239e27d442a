"""Deterministic fake ChatKit threads for the demo upstream, up to a million of them.

The dashboard has to be developed, tested and benchmarked without a real OpenAI
account, so this module invents a plausible support workload: threads spread over
~120 days, a skewed set of users (including user ids that are awkward in URLs and
HTML), every thread status, and titles that stress escaping and unicode handling.

Nothing is built per thread up front. A thread is a pure function of
`(count, seed, index)`, and the index is also its place in the list order: index 0 is
the oldest thread, `count - 1` the newest, and `created_at` never decreases with the
index (every 40th thread shares the previous one's timestamp, so clients must page by
cursor, not time; within such a tie the ids sort in index order too). An id encodes
its index (a keyed 32-bit permutation, then a keyed hash), so finding a cursor's
place needs no table. The only per-thread memory is one byte naming its user, so
that `?user=` pages are a `bytes.find` away: 1 MB at a million threads.

Standard library only: no Django import, so the server can start fast.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from .transcripts import generate_items

DEFAULT_COUNT = 2400
DEFAULT_SEED = 7
MAX_COUNT = 1_000_000

# A fixed "now" (2025-11-13T02:13:20Z) so data is identical across runs; threads fall
# in the SPAN_SECONDS before it.
BASE_TIMESTAMP = 1_763_000_000
SPAN_SECONDS = 120 * 24 * 3600
TIE_EVERY = 40  # index % 40 == 39 shares the previous thread's created_at

LONG_USER = ("long-user-id-" * 40)[:512]

# User ids that break naive URL building, HTML templating or text handling.
HARD_USERS: tuple[str, ...] = (
    "support team",  # space
    "acme/support",  # slash
    "100%-sure",  # percent
    "ticket#4521",  # hash
    "r&d-lab",  # ampersand
    "jane.doe@example.com",  # email
    "who?what",  # question mark
    "alex+chatkit@example.org",  # plus (and @)
    "a=b;c=d",  # = and ;
    "../admin",  # looks like path traversal
    "<img src=x onerror=alert(1)>",  # HTML
    "ユーザー",  # CJK
    "josé",  # accent
    "مستخدم",  # right-to-left
    "emoji-🦄",  # astral-plane character
    LONG_USER,  # exactly 512 characters, the maximum the API accepts
)
ORDINARY_USER_COUNT = 60
MIN_THREADS_PER_HARD_USER = 3

_TITLE_TEMPLATES: tuple[str, ...] = (
    "Refund for order #{n}",
    "Can't reset my password",
    "Billing question about invoice INV-{n}",
    "Export to CSV fails with a timeout",
    "SSO login loops back to the sign-in page",
    "Webhook retries not arriving",
    "How do I add a teammate to my workspace?",
    "Charged twice this month",
    "API returns 429 even at low volume",
    "Shipping address change for order #{n}",
    "Two-factor codes not received by SMS",
    "Upgrade from Starter to Pro plan",
    "Cancel my subscription",
    "Data deletion request (GDPR)",
    "Integration with Salesforce stopped syncing",
    "Dashboard charts show no data since Monday",
    "Invoice needs our VAT number",
    "Mobile app crashes on launch (iOS 18)",
    "Where is my package? Tracking #{n}",
    "Bulk import rejected row {n}",
    "Question about usage limits",
    "Locked out after too many attempts",
    "Feature request: scheduled reports",
    "Discount code SPRING{n} not accepted",
)
_UNICODE_TITLES: tuple[str, ...] = (
    "Problème de facturation – café offert ?",
    "注文のキャンセルについて",
    "退款申请进度查询",
    "Compte bloqué après la mise à jour 🔒",
    "مشكلة في تسجيل الدخول",
    "Не приходит письмо подтверждения",
    "🚀 Feature request: dark mode",
    "Zahlung fehlgeschlagen – Überweisung prüfen",
    "¿Cómo cambio mi método de pago?",
    "배송 지연 문의 📦",
)
_HOSTILE_TITLES: tuple[str, ...] = (
    "<script>alert(1)</script>",
    '"quotes" & <b>tags</b>',
    "Robert'); DROP TABLE threads;--",
    "{{ 7*7 }} and {% if %} in a title",
    "Line one\nline two\ttabbed",
    "",  # an empty title is not the same as no title
    "A very long title that keeps going " * 12,
)
LOCK_REASONS: tuple[str, ...] = (
    "Escalated to the billing team",
    "Awaiting legal review",
    "Flagged by automated moderation",
    "Account under fraud investigation",
    "User exceeded the message limit",
    "Paused by an agent: <b>waiting on customer</b>",
)
CLOSE_REASONS: tuple[str, ...] = (
    "Resolved by the customer",
    "Duplicate of another thread",
    "No response for 14 days",
    "Fixed in release 2.3.1",
    "Refund issued",
    "Résolu – merci !",
    "Closed after satisfaction survey",
)
STATUS_TYPES = ("active", "locked", "closed")

THREAD_ID = re.compile(r"cthr_[0-9a-f]{32}")
Key = tuple[int, str]  # the list order: (created_at, id)


@dataclass(frozen=True, slots=True)
class Thread:
    """One ChatKit thread. `index` seeds its transcript; it is also its place in the list
    order for generated threads (threads added later get indexes from `count` on)."""

    index: int
    id: str
    created_at: int
    title: str | None
    status_type: str  # "active" | "locked" | "closed"
    reason: str | None
    user: str

    @property
    def key(self) -> Key:
        """The list ordering: creation time, ties broken by id."""
        return (self.created_at, self.id)

    @property
    def status(self) -> dict[str, Any]:
        if self.status_type == "active":
            return {"type": "active"}
        return {"type": self.status_type, "reason": self.reason}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chatkit.thread",
            "created_at": self.created_at,
            "title": self.title,
            "status": self.status,
            "user": self.user,
        }


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the server sends it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# --- Pure per-index functions --------------------------------------------------------

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF
# Odd multipliers (invertible modulo 2**32) and their inverses, for the id permutation.
_MULTIPLIERS = (0x9E3779B1, 0x85EBCA6B, 0xC2B2AE35)
_INVERSES = tuple(pow(m, -1, 1 << 32) for m in _MULTIPLIERS)


def mix64(value: int) -> int:
    """SplitMix64's finaliser: a well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def scramble(value: int, key: int) -> int:
    """A keyed bijection on 32-bit integers (xor-shift-multiply rounds)."""
    value = (value ^ key) & _MASK32
    value = (value * _MULTIPLIERS[0]) & _MASK32
    value ^= value >> 16
    value = (value * _MULTIPLIERS[1]) & _MASK32
    value ^= value >> 13
    value = (value * _MULTIPLIERS[2]) & _MASK32
    return value ^ (value >> 16)


def unscramble(value: int, key: int) -> int:
    """The inverse of `scramble`."""
    value ^= value >> 16
    value = (value * _INVERSES[2]) & _MASK32
    value ^= (value >> 13) ^ (value >> 26)
    value = (value * _INVERSES[1]) & _MASK32
    value ^= value >> 16
    value = (value * _INVERSES[0]) & _MASK32
    return value ^ key


def pick_title(rng: random.Random, variant: int) -> str | None:
    """~8 % none, ~6 % unicode, ~2 % hostile, the rest from support-desk templates."""
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.14:
        return _UNICODE_TITLES[variant % len(_UNICODE_TITLES)]
    if roll < 0.16:
        return _HOSTILE_TITLES[variant % len(_HOSTILE_TITLES)]
    template = _TITLE_TEMPLATES[rng.randrange(len(_TITLE_TEMPLATES))]
    return template.format(n=rng.randrange(1000, 99999))


def pick_status(rng: random.Random) -> tuple[str, str | None]:
    """~85/10/5 % active/closed/locked; ~30 % of the others have no reason."""
    roll = rng.random()
    if roll < 0.85:
        return "active", None
    kind, reasons = ("closed", CLOSE_REASONS) if roll < 0.95 else ("locked", LOCK_REASONS)
    reason = None if rng.random() < 0.30 else reasons[rng.randrange(len(reasons))]
    return kind, reason


def _user_picker(rng: random.Random) -> tuple[list[str], list[float]]:
    """Users with Zipf-like weights: a few heavy users, a long tail, hard users rare-ish."""
    ordinary = [f"user_{n:04d}" for n in range(1, ORDINARY_USER_COUNT + 1)]
    rng.shuffle(ordinary)  # which ordinary user is "heavy" depends on the seed
    users = ordinary + list(HARD_USERS)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(ordinary))]
    weights += [0.02] * len(HARD_USERS)
    return users, list(itertools.accumulate(weights))


# --- The dataset ---------------------------------------------------------------------


class Dataset:
    """`count` generated threads, computed on demand from their index; immutable.

    Guarantees, once `count` is large enough: every hard user owns at least
    MIN_THREADS_PER_HARD_USER threads (spread evenly, the newest thread among them),
    ~85/10/5 % active/closed/locked, ~8 % null titles, ~30 % null reasons among
    locked/closed, unique ids, and a created_at tie every TIE_EVERY threads.
    """

    def __init__(self, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> None:
        if not 0 <= count <= MAX_COUNT:
            raise ValueError(f"count must be from 0 to {MAX_COUNT:,}")
        self.count = count
        self.seed = seed
        self._salt = mix64(seed & _MASK64)
        self._id_key = self._salt & _MASK32
        self._tail_key = f"demo-upstream-ids:{seed}".encode()
        rng = random.Random(f"demo-upstream-threads:{seed}")
        self._user_names, self._cumulative = _user_picker(rng)
        self._user_codes = {user: code for code, user in enumerate(self._user_names)}
        self._codes = self._assign_users(rng)
        counts = {user: self._codes.count(bytes([code])) for user, code in self._user_codes.items()}
        self.thread_counts: Mapping[str, int] = {u: n for u, n in counts.items() if n}
        self.threads = _ThreadsView(self)
        self.by_id = _ByIdView(self)
        self.encoded = functools.lru_cache(maxsize=16_384)(self._encode)

    def _assign_users(self, rng: random.Random) -> bytes:
        draw, cumulative = rng.random, self._cumulative
        total = cumulative[-1]
        codes = bytearray(
            bisect.bisect_right(cumulative, draw() * total) for _ in range(self.count)
        )
        # Hard users at evenly spread places, from the newest thread back.
        guaranteed = min(self.count, len(HARD_USERS) * MIN_THREADS_PER_HARD_USER)
        stride = max(1, self.count // max(1, guaranteed))
        for n in range(guaranteed):
            codes[self.count - 1 - n * stride] = self._user_codes[HARD_USERS[n % len(HARD_USERS)]]
        return bytes(codes)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"Dataset(count={self.count}, seed={self.seed})"

    @property
    def users(self) -> list[str]:
        """Every user that owns at least one thread."""
        return list(self.thread_counts)

    def user_of(self, index: int) -> str:
        return self._user_names[self._codes[index]]

    def pick_user(self, rng: random.Random) -> str:
        """A user drawn with the dataset's own skew (for threads added later)."""
        draw = rng.random() * self._cumulative[-1]
        return self._user_names[bisect.bisect_right(self._cumulative, draw)]

    def created_at(self, index: int) -> int:
        if index % TIE_EVERY == TIE_EVERY - 1:
            index -= 1
        slot = index * SPAN_SECONDS // self.count
        width = (index + 1) * SPAN_SECONDS // self.count - slot
        jitter = mix64(self._salt ^ index) % width if width > 1 else 0
        return BASE_TIMESTAMP - SPAN_SECONDS + slot + jitter

    def _raw_id(self, index: int) -> str:
        tail = hashlib.blake2b(index.to_bytes(4, "big"), digest_size=12, key=self._tail_key)
        return f"cthr_{scramble(index, self._id_key):08x}{tail.hexdigest()}"

    def _tie_partner(self, index: int) -> int | None:
        if index % TIE_EVERY == TIE_EVERY - 1:
            return index - 1
        if index % TIE_EVERY == TIE_EVERY - 2 and index + 1 < self.count:
            return index + 1
        return None

    def thread_id(self, index: int) -> str:
        # Tied threads swap ids if need be, so that (created_at, id) still follows the index.
        own = self._raw_id(index)
        partner = self._tie_partner(index)
        if partner is None:
            return own
        other = self._raw_id(partner)
        return max(own, other) if partner < index else min(own, other)

    def index_of(self, thread_id: str) -> int | None:
        """The index of a generated thread's id, or None: O(1), no table."""
        if not THREAD_ID.fullmatch(thread_id):
            return None
        raw = unscramble(int(thread_id[5:13], 16), self._id_key)
        if raw >= self.count:
            return None
        for candidate in (raw, self._tie_partner(raw)):
            if candidate is not None and self.thread_id(candidate) == thread_id:
                return candidate
        return None

    def key(self, index: int) -> Key:
        return (self.created_at(index), self.thread_id(index))

    def position_after(self, key: Key) -> int:
        """The first index whose key is greater than `key`."""
        return bisect.bisect_right(range(self.count), key, key=self.key)

    def position_before(self, key: Key) -> int:
        """The first index whose key is not less than `key`."""
        return bisect.bisect_left(range(self.count), key, key=self.key)

    def indexes(self, start: int, stop: int, *, user: str | None, upward: bool) -> Iterator[int]:
        """Indexes in [start, stop), optionally only `user`'s, in either direction."""
        if user is None:
            yield from range(start, stop) if upward else range(stop - 1, start - 1, -1)
            return
        code = self._user_codes.get(user)
        if code is None:
            return
        needle, codes = bytes([code]), self._codes
        if upward:
            index = codes.find(needle, start, stop)
            while index != -1:
                yield index
                index = codes.find(needle, index + 1, stop)
        else:
            index = codes.rfind(needle, start, stop)
            while index != -1:
                yield index
                index = codes.rfind(needle, start, index)

    def thread(self, index: int) -> Thread:
        if not 0 <= index < self.count:
            raise IndexError(index)
        rng = random.Random(self._salt ^ (index << 1))
        status_type, reason = pick_status(rng)
        return Thread(
            index=index,
            id=self.thread_id(index),
            created_at=self.created_at(index),
            title=pick_title(rng, index),
            status_type=status_type,
            reason=reason,
            user=self.user_of(index),
        )

    def _encode(self, index: int) -> bytes:
        return encode_json(self.thread(index).to_dict())

    def invent(self, rng: random.Random) -> dict[str, Any]:
        """A plausible user and title for a thread added later (live mode, the control API)."""
        return {"user": self.pick_user(rng), "title": pick_title(rng, rng.randrange(1 << 16))}

    def items_for(self, thread: Thread) -> list[dict[str, Any]]:
        """The thread's transcript (generated on each call; the store caches it)."""
        return generate_items(thread, self.seed)


class _ThreadsView(Sequence[Thread]):
    """`dataset.threads`: every generated thread in index (oldest first) order, lazily."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset

    def __len__(self) -> int:
        return self._dataset.count

    @overload
    def __getitem__(self, position: int) -> Thread: ...
    @overload
    def __getitem__(self, position: slice) -> list[Thread]: ...
    def __getitem__(self, position: int | slice) -> Thread | list[Thread]:
        if isinstance(position, slice):
            return [self._dataset.thread(i) for i in range(self._dataset.count)[position]]
        if position < 0:
            position += self._dataset.count
        return self._dataset.thread(position)


class _ByIdView(Mapping[str, Thread]):
    """`dataset.by_id`: generated threads by id, without a table."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset

    def __getitem__(self, thread_id: str) -> Thread:
        index = self._dataset.index_of(thread_id) if isinstance(thread_id, str) else None
        if index is None:
            raise KeyError(thread_id)
        return self._dataset.thread(index)

    def __iter__(self) -> Iterator[str]:
        return (self._dataset.thread_id(i) for i in range(self._dataset.count))

    def __len__(self) -> int:
        return self._dataset.count


@functools.lru_cache(maxsize=8)
def make_dataset(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> Dataset:
    """The dataset for `(count, seed)`, shared: datasets are immutable."""
    return Dataset(count, seed)
