"""Deterministic fake ChatKit data for the demo upstream.

The dashboard has to be developed, tested and benchmarked without a real OpenAI
account, so this module invents a plausible support workload: thousands of
threads spread over ~120 days, a skewed set of users (including user ids that
are awkward in URLs and HTML), every thread status, and titles that stress
escaping and unicode handling.

Everything is a pure function of `(count, seed)`: the same arguments give the
same ids, timestamps and transcripts on every run and machine. Threads are
built eagerly (cheap: 10,000 take a few tens of milliseconds) but transcripts
are built lazily, per thread, by `generate_items`, because they are ~10x larger
and a listing page never needs them.

Standard library only: no Django import, so the server can start fast.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_COUNT = 2400
DEFAULT_SEED = 7

# A fixed "now" (2025-11-13T02:13:20Z) so data is identical across runs; threads fall
# in the SPAN_SECONDS before it.
BASE_TIMESTAMP = 1_763_000_000
SPAN_SECONDS = 120 * 24 * 3600

# Item `type` spellings: the schema's, and the bare one OpenAI's own examples use.
ITEM_TYPES = (
    "user_message",
    "assistant_message",
    "widget",
    "client_tool_call",
    "task",
    "task_group",
)
BARE_SPELLING_EVERY = 7  # threads whose index % 7 == 3 use the bare spelling

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
_LOCK_REASONS: tuple[str, ...] = (
    "Escalated to the billing team",
    "Awaiting legal review",
    "Flagged by automated moderation",
    "Account under fraud investigation",
    "User exceeded the message limit",
    "Paused by an agent: <b>waiting on customer</b>",
)
_CLOSE_REASONS: tuple[str, ...] = (
    "Resolved by the customer",
    "Duplicate of another thread",
    "No response for 14 days",
    "Fixed in release 2.3.1",
    "Refund issued",
    "Résolu – merci !",
    "Closed after satisfaction survey",
)


@dataclass(frozen=True, slots=True)
class Thread:
    """One ChatKit thread. `index` is its position in generation order (the item seed)."""

    index: int
    id: str
    created_at: int
    title: str | None
    status_type: str  # "active" | "locked" | "closed"
    reason: str | None
    user: str

    @property
    def key(self) -> tuple[int, str]:
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


@dataclass(frozen=True, slots=True)
class Dataset:
    """An immutable set of threads plus the sorted indexes the server pages through."""

    seed: int
    threads: tuple[Thread, ...]
    by_id: Mapping[str, Thread] = field(repr=False)
    # Ascending (created_at, id) keys, over everything and per user.
    sorted_keys: tuple[tuple[int, str], ...] = field(repr=False)
    user_keys: Mapping[str, tuple[tuple[int, str], ...]] = field(repr=False)
    # Each thread's JSON, encoded once: list pages are then mostly a bytes join.
    encoded: Mapping[str, bytes] = field(repr=False)

    @property
    def users(self) -> list[str]:
        return list(self.user_keys)

    def __len__(self) -> int:
        return len(self.threads)

    def items_for(self, thread: Thread) -> list[dict[str, Any]]:
        """The thread's transcript (generated on each call; the server caches it)."""
        return generate_items(thread, self.seed)


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the server sends it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _hex_id(rng: random.Random, prefix: str, bits: int = 128) -> str:
    return f"{prefix}{rng.getrandbits(bits):0{bits // 4}x}"


def _user_picker(rng: random.Random) -> tuple[list[str], list[float]]:
    """Users with Zipf-like weights: a few heavy users, a long tail, hard users rare-ish."""
    ordinary = [f"user_{n:04d}" for n in range(1, ORDINARY_USER_COUNT + 1)]
    rng.shuffle(ordinary)  # which ordinary user is "heavy" depends on the seed
    users = ordinary + list(HARD_USERS)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(ordinary))]
    weights += [0.02] * len(HARD_USERS)
    return users, list(itertools.accumulate(weights))


def _title(rng: random.Random, index: int) -> str | None:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.14:
        return _UNICODE_TITLES[index % len(_UNICODE_TITLES)]
    if roll < 0.16:
        return _HOSTILE_TITLES[index % len(_HOSTILE_TITLES)]
    template = _TITLE_TEMPLATES[rng.randrange(len(_TITLE_TEMPLATES))]
    return template.format(n=rng.randrange(1000, 99999))


def _status(rng: random.Random) -> tuple[str, str | None]:
    roll = rng.random()
    if roll < 0.85:
        return "active", None
    kind, reasons = ("closed", _CLOSE_REASONS) if roll < 0.95 else ("locked", _LOCK_REASONS)
    reason = None if rng.random() < 0.30 else reasons[rng.randrange(len(reasons))]
    return kind, reason


@functools.lru_cache(maxsize=8)
def make_dataset(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> Dataset:
    """Build `count` threads deterministically from `seed` (cached: datasets are immutable).

    Guarantees, once `count` is large enough: every hard user owns at least
    MIN_THREADS_PER_HARD_USER threads, ~85/10/5 % active/closed/locked, ~8 % null
    titles, ~30 % null reasons among locked/closed, unique ids, and a few
    deliberate created_at ties (so clients must page by cursor, not timestamp).
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = random.Random(f"demo-upstream-threads:{seed}")
    users, cumulative = _user_picker(rng)
    total_weight = cumulative[-1]
    guaranteed = len(HARD_USERS) * MIN_THREADS_PER_HARD_USER

    threads: list[Thread] = []
    seen_ids: set[str] = set()
    previous_created_at = BASE_TIMESTAMP
    for index in range(count):
        thread_id = _hex_id(rng, "cthr_")
        while thread_id in seen_ids:  # astronomically unlikely, but ids must be unique
            thread_id = _hex_id(rng, "cthr_")
        seen_ids.add(thread_id)
        if index % 40 == 39:
            created_at = previous_created_at  # a tie with the previous thread
        else:
            created_at = BASE_TIMESTAMP - rng.randrange(SPAN_SECONDS)
        previous_created_at = created_at
        if index < guaranteed:
            user = HARD_USERS[index % len(HARD_USERS)]
        else:
            user = users[bisect.bisect_right(cumulative, rng.random() * total_weight)]
        status_type, reason = _status(rng)
        threads.append(
            Thread(
                index=index,
                id=thread_id,
                created_at=created_at,
                title=_title(rng, index),
                status_type=status_type,
                reason=reason,
                user=user,
            )
        )

    by_user: dict[str, list[tuple[int, str]]] = {}
    for thread in threads:
        by_user.setdefault(thread.user, []).append(thread.key)
    return Dataset(
        seed=seed,
        threads=tuple(threads),
        by_id={thread.id: thread for thread in threads},
        sorted_keys=tuple(sorted(thread.key for thread in threads)),
        user_keys={user: tuple(sorted(keys)) for user, keys in by_user.items()},
        encoded={thread.id: encode_json(thread.to_dict()) for thread in threads},
    )


# --- Transcripts -------------------------------------------------------------------

_USER_OPENERS = (
    "Hi, I need help with this: {topic}",
    "Hello! {topic}. Can you take a look?",
    "Urgent: {topic}",
    "Bonjour, j'ai un souci : {topic}",
    "{topic} — any idea what's going on?",
)
_USER_FOLLOW_UPS = (
    "I tried that already and it still fails.",
    "Thanks, that worked!",
    "Can you check again? It's been two days.",
    "Here is the screenshot you asked for.",
    "ありがとうございます。もう一度試してみます。",
    "What does <b>this</b> error & code mean?",
    "Could you escalate this to a human?",
)
_QUOTES = (
    "Error 502: upstream connect error",
    "Your payment could not be processed.",
    "Invalid state parameter",
    "You have reached your plan's limit.",
)
_ASSISTANT_REPLIES = (
    "Thanks for reaching out. I've looked up your account and can see the issue.",
    "Let's start by confirming the workflow version you deployed.",
    "I've issued the refund; it should appear within 5–10 business days.",
    "This is a known issue and a fix is rolling out this week.",
    "Could you confirm the email address on the account?",
    "I've reset the integration token. Please reconnect from Settings → Integrations.",
    "According to our policy, annual plans are refundable within 30 days.",
)
_DOC_URLS = (
    "https://help.example.com/articles/refund-policy",
    "https://status.example.com/incidents/2025-10-02",
    "https://docs.example.com/api/rate-limits#retries",
    "https://help.example.com/articles/sso?lang=fr&ref=chat",
)
_FILENAMES = ("refund-policy.pdf", "sso-setup-guide.pdf", "pricing-2025.xlsx", "release-notes.md")
_ATTACHMENTS = (
    ("image", "screenshot.png", "image/png"),
    ("image", "photo of receipt.jpg", "image/jpeg"),
    ("file", "invoice-1042.pdf", "application/pdf"),
    ("file", "export (3).csv", "text/csv"),
    ("file", "logs.txt", "text/plain"),
)
_TOOLS = (
    ("get_order_status", {"order_id": "ord_1042"}, {"status": "shipped", "eta": "2025-11-20"}),
    ("lookup_invoice", {"invoice": "INV-2231"}, {"amount": 49.0, "currency": "EUR"}),
    ("open_settings_panel", {"panel": "billing"}, {"opened": True}),
    ("fetch_user_profile", {"fields": ["plan", "seats"]}, {"plan": "pro", "seats": 12}),
)
_TASK_HEADINGS = (
    "Checking order history",
    "Searching the knowledge base",
    "Thinking about refund eligibility",
    "Verifying identity",
    "Drafting a reply",
)
_TASK_SUMMARIES = (
    "Found 3 orders in the last 90 days.",
    "Two relevant articles found.",
    "Customer is within the 30-day window.",
    "Email matches the account on file.",
)
_MODELS = ("gpt-4.1-mini", "gpt-4o", "gpt-5")


def item_type_spelling(thread: Thread, kind: str) -> str:
    """`chatkit.<kind>` for most threads, bare `<kind>` for a deterministic minority."""
    if thread.index % BARE_SPELLING_EVERY == 3:
        return kind
    return f"chatkit.{kind}"


def generate_items(thread: Thread, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """The thread's transcript (3-14 items, oldest first), a pure function of (seed, index).

    Items have strictly increasing created_at values starting at or after the thread's.
    """
    rng = random.Random(f"demo-upstream-items:{seed}:{thread.index}")
    target = rng.randint(3, 14)
    clock = thread.created_at + rng.randrange(0, 30)
    items: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        nonlocal clock
        items.append(
            {
                "id": _hex_id(rng, "cthi_"),
                "object": "chatkit.thread_item",
                "created_at": clock,
                "thread_id": thread.id,
                "type": item_type_spelling(thread, kind),
                **fields,
            }
        )
        clock += rng.randint(1, 900)

    # Turns of: user message, some workflow steps, the assistant's answer, maybe a widget.
    topic = thread.title or "a problem with my account"
    opener = rng.choice(_USER_OPENERS).format(topic=topic)
    add("user_message", **_user_message(rng, opener))
    while len(items) < target:
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            roll = rng.random()
            if roll < 0.4:
                add("task", **_task(rng))
            elif roll < 0.7:
                add("task_group", tasks=[_group_task(rng) for _ in range(rng.randint(1, 4))])
            else:
                add("client_tool_call", **_tool_call(rng))
        add("assistant_message", content=_assistant_content(rng))
        if rng.random() < 0.3:
            add("widget", widget=_widget(rng, thread))
        if len(items) < target:
            add("user_message", **_user_message(rng, rng.choice(_USER_FOLLOW_UPS)))
    del items[target:]
    return items


def _user_message(rng: random.Random, text: str) -> dict[str, Any]:
    content: list[dict[str, str]] = [{"type": "input_text", "text": text}]
    if rng.random() < 0.25:
        content.insert(0, {"type": "quoted_text", "text": rng.choice(_QUOTES)})
    attachments = []
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        kind, name, mime = rng.choice(_ATTACHMENTS)
        attachment_id = _hex_id(rng, "cfile_", 64)
        preview = None
        if kind == "image" and rng.random() < 0.7:
            preview = f"https://files.example.com/previews/{attachment_id}.png"
        attachments.append(
            {
                "type": kind,
                "id": attachment_id,
                "name": name,
                "mime_type": mime,
                "preview_url": preview,
            }
        )
    inference_options = None
    if rng.random() < 0.4:
        inference_options = {
            "tool_choice": {"id": rng.choice(_TOOLS)[0]} if rng.random() < 0.4 else None,
            "model": rng.choice(_MODELS) if rng.random() < 0.7 else None,
        }
    return {"content": content, "attachments": attachments, "inference_options": inference_options}


def _assistant_content(rng: random.Random) -> list[dict[str, Any]]:
    blocks = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        annotations: list[dict[str, Any]] = []
        if rng.random() < 0.3:
            filename = rng.choice(_FILENAMES)
            annotations.append({"type": "file", "source": {"type": "file", "filename": filename}})
        if rng.random() < 0.3:
            url = rng.choice(_DOC_URLS)
            annotations.append({"type": "url", "source": {"type": "url", "url": url}})
        blocks.append(
            {
                "type": "output_text",
                "text": rng.choice(_ASSISTANT_REPLIES),
                "annotations": annotations,
            }
        )
    return blocks


def _tool_call(rng: random.Random) -> dict[str, Any]:
    name, arguments, output = rng.choice(_TOOLS)
    completed = rng.random() < 0.8
    return {
        "status": "completed" if completed else "in_progress",
        "call_id": _hex_id(rng, "call_", 64),
        "name": name,
        "arguments": json.dumps(arguments),
        "output": json.dumps(output) if completed else None,
    }


def _task(rng: random.Random) -> dict[str, Any]:
    return {
        "task_type": rng.choice(("custom", "thought")),
        "heading": rng.choice(_TASK_HEADINGS) if rng.random() < 0.85 else None,
        "summary": rng.choice(_TASK_SUMMARIES) if rng.random() < 0.6 else None,
    }


def _group_task(rng: random.Random) -> dict[str, Any]:
    task = _task(rng)
    return {"type": task["task_type"], "heading": task["heading"], "summary": task["summary"]}


def _widget(rng: random.Random, thread: Thread) -> str:
    order = rng.randrange(1000, 9999)
    card = {
        "type": "Card",
        "children": [
            {"type": "Title", "value": f"Order #{order}"},
            {"type": "Text", "value": rng.choice(("Shipped", "Processing", "Delivered"))},
            {"type": "Button", "label": "Track package", "action": {"type": "open_tracking"}},
        ],
        "thread": thread.id,
    }
    return json.dumps(card, ensure_ascii=False)
