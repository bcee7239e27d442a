"""Parsing thread items: every type in both spellings, unknown types, malformed items."""

from __future__ import annotations

import json

import pytest

from dashboard.chatkit.errors import ChatKitBadResponseError
from dashboard.chatkit.items import (
    AssistantMessageItem,
    ClientToolCallItem,
    TaskGroupItem,
    TaskItem,
    ThreadItemPage,
    UnsupportedItem,
    UserMessageItem,
    WidgetItem,
    is_web_url,
    parse_item,
)

from .conftest import item_json, items_page_json

KINDS = {
    "user_message": UserMessageItem,
    "assistant_message": AssistantMessageItem,
    "widget": WidgetItem,
    "client_tool_call": ClientToolCallItem,
    "task": TaskItem,
    "task_group": TaskGroupItem,
}


@pytest.mark.parametrize("spelling", ["chatkit.", ""])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_item_type_parses_in_both_spellings(kind, spelling):
    item = parse_item(item_json(kind, spelling=spelling, id="cthi_x", created_at=1_700_000_000))
    assert isinstance(item, KINDS[kind])
    assert item.kind == kind
    assert item.id == "cthi_x"
    assert item.created_at.isoformat() == "2023-11-14T22:13:20+00:00"


def test_a_user_message_keeps_blocks_attachments_and_options():
    item = parse_item(
        item_json(
            "user_message",
            content=[
                {"type": "quoted_text", "text": "earlier words"},
                {"type": "input_text", "text": "my question"},
            ],
            attachments=[
                {
                    "type": "image",
                    "id": "cfile_1",
                    "name": "shot.png",
                    "mime_type": "image/png",
                    "preview_url": "https://files.example/p.png",
                },
                {
                    "type": "file",
                    "id": "cfile_2",
                    "name": "a.pdf",
                    "mime_type": "application/pdf",
                    "preview_url": None,
                },
            ],
            inference_options={"tool_choice": {"id": "lookup"}, "model": "gpt-5"},
        )
    )
    assert [(b.type, b.text, b.is_quote) for b in item.content] == [
        ("quoted_text", "earlier words", True),
        ("input_text", "my question", False),
    ]
    assert [a.name for a in item.attachments] == ["shot.png", "a.pdf"]
    assert item.attachments[0].preview_is_link
    assert item.attachments[1].preview_url is None
    assert item.inference_options.model == "gpt-5"
    assert item.inference_options.tool_choice == "lookup"


def test_optional_user_message_fields_may_be_absent_as_in_openais_examples():
    raw = item_json("user_message")
    del raw["attachments"], raw["inference_options"], raw["thread_id"]
    item = parse_item(raw)
    assert item.attachments == () and item.inference_options is None


def test_assistant_annotations_keep_files_and_urls():
    item = parse_item(
        item_json(
            "assistant_message",
            content=[
                {
                    "type": "output_text",
                    "text": "See these.",
                    "annotations": [
                        {"type": "file", "source": {"type": "file", "filename": "guide.pdf"}},
                        {"type": "url", "source": {"type": "url", "url": "https://x.example/a"}},
                        {"type": "url", "source": {"type": "url", "url": "javascript:alert(1)"}},
                        {"type": "citation_v2", "source": {}},
                    ],
                }
            ],
        )
    )
    notes = item.content[0].annotations
    assert [(n.type, n.filename, n.url) for n in notes] == [
        ("file", "guide.pdf", None),
        ("url", None, "https://x.example/a"),
        ("url", None, "javascript:alert(1)"),
        ("citation_v2", None, None),
    ]
    assert [n.is_link for n in notes] == [False, True, False, False]


@pytest.mark.parametrize(
    ("url", "linkable"),
    [
        ("https://example.com/x", True),
        ("http://example.com", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("//evil.example/x", False),
        ("https://", False),
        ("http://[::1", False),
    ],
)
def test_only_http_urls_become_links(url, linkable):
    assert is_web_url(url) is linkable


def test_a_widget_keeps_the_raw_string_and_a_pretty_form():
    item = parse_item(item_json("widget", widget='{"type":"Card","children":[1,2]}'))
    assert item.widget == '{"type":"Card","children":[1,2]}'
    assert json.loads(item.pretty) == {"type": "Card", "children": [1, 2]}
    assert "\n  " in item.pretty


def test_a_widget_that_is_not_json_has_no_pretty_form():
    item = parse_item(item_json("widget", widget="<not json>"))
    assert item.widget == "<not json>" and item.pretty is None


def test_a_widget_nested_deeper_than_python_recurses_is_shown_as_sent():
    deep = "[" * 100_000 + "]" * 100_000
    item = parse_item(item_json("widget", widget=deep))
    assert item.widget == deep and item.pretty is None


def test_a_tool_call_in_progress_has_no_output():
    item = parse_item(item_json("client_tool_call", status="in_progress", output=None))
    assert item.output is None and item.pretty_output is None
    assert json.loads(item.pretty_arguments) == {"order": 42}


def test_task_fields_may_be_null():
    item = parse_item(item_json("task", heading=None, summary=None))
    assert (item.task_type, item.heading, item.summary) == ("thought", None, None)


def test_a_task_group_lists_its_tasks():
    item = parse_item(
        item_json(
            "task_group",
            tasks=[
                {"type": "custom", "heading": "A", "summary": "a"},
                {"type": "thought", "heading": None, "summary": None},
            ],
        )
    )
    assert [(t.type, t.heading, t.summary) for t in item.tasks] == [
        ("custom", "A", "a"),
        ("thought", None, None),
    ]


@pytest.mark.parametrize("raw_type", ["chatkit.hologram", "hologram", "chatkit."])
def test_an_unknown_item_type_is_unsupported_not_fatal(raw_type):
    item = parse_item({"id": "cthi_1", "type": raw_type, "created_at": 1_700_000_000, "x": 1})
    assert isinstance(item, UnsupportedItem)
    assert item.raw_type == raw_type and item.id == "cthi_1"


def test_an_unknown_item_without_a_time_still_parses():
    assert parse_item({"id": "cthi_1", "type": "new_thing"}).created_at is None


def test_an_unknown_content_block_type_keeps_its_text_if_any():
    item = parse_item(
        item_json("user_message", content=[{"type": "input_audio"}, {"type": "x", "text": "t"}])
    )
    assert [(b.type, b.text) for b in item.content] == [("input_audio", ""), ("x", "t")]


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("user_message", {"id": None}, "id"),
        ("user_message", {"id": 5}, "id"),
        ("user_message", {"type": None}, "type"),
        ("user_message", {"created_at": "yesterday"}, "created_at"),
        ("user_message", {"created_at": True}, "created_at"),
        ("user_message", {"content": "hi"}, "content"),
        ("user_message", {"content": [{"type": "input_text"}]}, "text"),
        ("user_message", {"content": ["hi"]}, "not a JSON object"),
        ("user_message", {"attachments": [{"type": "file"}]}, "id"),
        ("user_message", {"inference_options": {"model": 3}}, "model"),
        ("user_message", {"thread_id": 7}, "thread_id"),
        ("assistant_message", {"content": [{"type": "output_text", "text": 1}]}, "text"),
        (
            "assistant_message",
            {"content": [{"type": "output_text", "text": "t", "annotations": [{"type": "url"}]}]},
            "source",
        ),
        ("widget", {"widget": {"type": "Card"}}, "widget"),
        ("client_tool_call", {"name": None}, "name"),
        ("client_tool_call", {"arguments": {"a": 1}}, "arguments"),
        ("client_tool_call", {"output": 5}, "output"),
        ("task", {"task_type": None}, "task_type"),
        ("task", {"heading": 5}, "heading"),
        ("task_group", {"tasks": None}, "tasks"),
        ("task_group", {"tasks": [{"heading": "h", "summary": None}]}, "type"),
    ],
)
def test_malformed_items_raise_a_bad_response_naming_the_field(kind, change, field):
    raw = item_json(kind)
    for key, value in change.items():
        if value is None and key in ("id", "type", "name", "task_type", "tasks"):
            raw.pop(key)
        else:
            raw[key] = value
    with pytest.raises(ChatKitBadResponseError) as caught:
        parse_item(raw)
    assert field in caught.value.message


def test_a_tool_call_without_an_output_field_is_malformed():
    raw = item_json("client_tool_call")
    del raw["output"]
    with pytest.raises(ChatKitBadResponseError, match="'output'"):
        parse_item(raw)


@pytest.mark.parametrize("value", [None, [], "item", 3])
def test_an_item_that_is_not_an_object_is_malformed(value):
    with pytest.raises(ChatKitBadResponseError):
        parse_item(value)


def test_an_item_page_parses_with_its_cursors():
    items = [item_json("user_message"), item_json("assistant_message", spelling="")]
    page = ThreadItemPage.from_dict(items_page_json(items, has_more=True))
    assert [i.kind for i in page.items] == ["user_message", "assistant_message"]
    assert page.first_id == items[0]["id"] and page.last_id == items[1]["id"]
    assert page.has_more is True
    assert page.with_request_id("req_1").request_id == "req_1"


@pytest.mark.parametrize(
    "body",
    [
        {"data": [], "first_id": None, "last_id": None},
        {"data": {}, "has_more": False},
        {"data": [], "has_more": "no"},
        {"data": [], "has_more": False, "first_id": 3},
        [],
    ],
)
def test_a_malformed_item_page_is_a_bad_response(body):
    with pytest.raises(ChatKitBadResponseError):
        ThreadItemPage.from_dict(body)
