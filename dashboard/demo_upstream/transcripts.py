"""Deterministic fake transcripts: a thread's items, built only when someone asks for them.

A transcript is a pure function of the dataset seed and the thread's index, and ~10x
larger than the thread itself, so nothing builds one until a client lists a thread's items.
Standard library only.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .data import Thread

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


def _hex_id(rng: random.Random, prefix: str, bits: int = 128) -> str:
    return f"{prefix}{rng.getrandbits(bits):0{bits // 4}x}"


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


def generate_items(thread: Thread, seed: int) -> list[dict[str, Any]]:
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
