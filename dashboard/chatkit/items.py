"""Typed thread items (a transcript's entries), parsed at the boundary like `types.py`.

Items are a union discriminated by `type`. The schema spells it `chatkit.user_message`,
OpenAI's own examples spell it `user_message`; both are accepted. A type newer than this
code becomes an `UnsupportedItem` so one unknown entry never hides a whole transcript;
a known type with a missing or ill-typed required field raises ChatKitBadResponseError.

Fields that OpenAI's published examples leave out although the schema lists them
(`thread_id`, `attachments`, `inference_options`, `annotations`) are tolerated when
absent, but still type-checked when present.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import ChatKitBadResponseError
from .types import nullable_str, require, require_mapping, unix_time

TYPE_PREFIX = "chatkit."


def _optional(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """`data[key]` if present and not null, checked to be of `kind`; else None."""
    if data.get(key) is None:
        return None
    return require(data, key, kind, where)


def _list(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> list:
    if not required and key not in data:
        return []
    return require(data, key, list, where)


def _pretty_json(text: str | None) -> str | None:
    """`text` re-indented if it is JSON, else None (the caller then shows it as sent)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return None
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def is_web_url(url: str) -> bool:
    """Only http(s) URLs may become links; `javascript:` and friends stay plain text."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- Pieces of items ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextBlock:
    """One content block: `input_text`, `quoted_text` or `output_text` (or newer)."""

    type: str
    text: str
    annotations: tuple[Annotation, ...] = ()

    @property
    def is_quote(self) -> bool:
        return self.type == "quoted_text"

    @classmethod
    def from_dict(cls, value: Any, where: str) -> TextBlock:
        data = require_mapping(value, where)
        kind = require(data, "type", str, where)
        if kind in ("input_text", "quoted_text", "output_text"):
            text = require(data, "text", str, where)
        else:
            # A newer block type: show its text if it has one rather than fail the page.
            text = _optional(data, "text", str, where) or ""
        annotations = tuple(
            Annotation.from_dict(a, f"{where} annotation")
            for a in _list(data, "annotations", where, required=False)
        )
        return cls(type=kind, text=text, annotations=annotations)


@dataclass(frozen=True, slots=True)
class Annotation:
    """A cited source: a file by name, or a URL (shown as text, linked only if http(s))."""

    type: str
    filename: str | None = None
    url: str | None = None

    @property
    def is_link(self) -> bool:
        return self.url is not None and is_web_url(self.url)

    @classmethod
    def from_dict(cls, value: Any, where: str) -> Annotation:
        data = require_mapping(value, where)
        kind = require(data, "type", str, where)
        if kind == "file":
            source = require_mapping(require(data, "source", dict, where), f"{where} source")
            return cls(type=kind, filename=require(source, "filename", str, f"{where} source"))
        if kind == "url":
            source = require_mapping(require(data, "source", dict, where), f"{where} source")
            return cls(type=kind, url=require(source, "url", str, f"{where} source"))
        return cls(type=kind)


@dataclass(frozen=True, slots=True)
class Attachment:
    type: str
    id: str
    name: str
    mime_type: str
    preview_url: str | None

    @property
    def preview_is_link(self) -> bool:
        return self.preview_url is not None and is_web_url(self.preview_url)

    @classmethod
    def from_dict(cls, value: Any) -> Attachment:
        where = "attachment"
        data = require_mapping(value, where)
        return cls(
            type=require(data, "type", str, where),
            id=require(data, "id", str, where),
            name=require(data, "name", str, where),
            mime_type=require(data, "mime_type", str, where),
            preview_url=_optional(data, "preview_url", str, where),
        )


@dataclass(frozen=True, slots=True)
class InferenceOptions:
    model: str | None
    tool_choice: str | None

    @classmethod
    def from_dict(cls, value: Any) -> InferenceOptions:
        where = "inference options"
        data = require_mapping(value, where)
        tool = _optional(data, "tool_choice", dict, where)
        return cls(
            model=_optional(data, "model", str, where),
            tool_choice=require(tool, "id", str, "tool choice") if tool is not None else None,
        )


@dataclass(frozen=True, slots=True)
class GroupTask:
    type: str
    heading: str | None
    summary: str | None

    @classmethod
    def from_dict(cls, value: Any) -> GroupTask:
        where = "task group task"
        data = require_mapping(value, where)
        return cls(
            type=require(data, "type", str, where),
            heading=_optional(data, "heading", str, where),
            summary=_optional(data, "summary", str, where),
        )


# --- Items ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserMessageItem:
    id: str
    created_at: datetime
    content: tuple[TextBlock, ...]
    attachments: tuple[Attachment, ...]
    inference_options: InferenceOptions | None
    kind: str = field(default="user_message", init=False)


@dataclass(frozen=True, slots=True)
class AssistantMessageItem:
    id: str
    created_at: datetime
    content: tuple[TextBlock, ...]
    kind: str = field(default="assistant_message", init=False)


@dataclass(frozen=True, slots=True)
class WidgetItem:
    id: str
    created_at: datetime
    # As sent (a JSON string), and indented for reading when it parses.
    widget: str
    pretty: str | None
    kind: str = field(default="widget", init=False)


@dataclass(frozen=True, slots=True)
class ClientToolCallItem:
    id: str
    created_at: datetime
    name: str
    call_id: str
    status: str
    arguments: str
    output: str | None
    kind: str = field(default="client_tool_call", init=False)

    @property
    def pretty_arguments(self) -> str:
        return _pretty_json(self.arguments) or self.arguments

    @property
    def pretty_output(self) -> str | None:
        return _pretty_json(self.output) or self.output


@dataclass(frozen=True, slots=True)
class TaskItem:
    id: str
    created_at: datetime
    task_type: str
    heading: str | None
    summary: str | None
    kind: str = field(default="task", init=False)


@dataclass(frozen=True, slots=True)
class TaskGroupItem:
    id: str
    created_at: datetime
    tasks: tuple[GroupTask, ...]
    kind: str = field(default="task_group", init=False)


@dataclass(frozen=True, slots=True)
class UnsupportedItem:
    """An item type newer than this code: its id and type are shown, nothing is guessed."""

    id: str
    created_at: datetime | None
    raw_type: str
    kind: str = field(default="unsupported", init=False)


ThreadItem = (
    UserMessageItem
    | AssistantMessageItem
    | WidgetItem
    | ClientToolCallItem
    | TaskItem
    | TaskGroupItem
    | UnsupportedItem
)


def parse_item(value: Any) -> ThreadItem:
    where = "thread item"
    data = require_mapping(value, where)
    raw_type = require(data, "type", str, where)
    kind = raw_type.removeprefix(TYPE_PREFIX)
    item_id = require(data, "id", str, where)
    where = f"{kind} item {item_id!r}"
    _optional(data, "thread_id", str, where)  # type-checked when present; the page knows it

    if kind not in _PARSERS:
        created = unix_time(data, "created_at", where) if "created_at" in data else None
        return UnsupportedItem(id=item_id, created_at=created, raw_type=raw_type)
    return _PARSERS[kind](data, item_id, unix_time(data, "created_at", where), where)


def _user_message(
    data: Mapping[str, Any], item_id: str, created_at: datetime, where: str
) -> UserMessageItem:
    options = _optional(data, "inference_options", dict, where)
    return UserMessageItem(
        id=item_id,
        created_at=created_at,
        content=tuple(
            TextBlock.from_dict(block, f"{where} content")
            for block in _list(data, "content", where)
        ),
        attachments=tuple(
            Attachment.from_dict(a) for a in _list(data, "attachments", where, required=False)
        ),
        inference_options=InferenceOptions.from_dict(options) if options is not None else None,
    )


def _assistant_message(
    data: Mapping[str, Any], item_id: str, created_at: datetime, where: str
) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        created_at=created_at,
        content=tuple(
            TextBlock.from_dict(block, f"{where} content")
            for block in _list(data, "content", where)
        ),
    )


def _widget(data: Mapping[str, Any], item_id: str, created_at: datetime, where: str) -> WidgetItem:
    widget = require(data, "widget", str, where)
    return WidgetItem(id=item_id, created_at=created_at, widget=widget, pretty=_pretty_json(widget))


def _client_tool_call(
    data: Mapping[str, Any], item_id: str, created_at: datetime, where: str
) -> ClientToolCallItem:
    if "output" not in data:
        raise ChatKitBadResponseError(f"The upstream {where} has no 'output' field.")
    return ClientToolCallItem(
        id=item_id,
        created_at=created_at,
        name=require(data, "name", str, where),
        call_id=require(data, "call_id", str, where),
        status=require(data, "status", str, where),
        arguments=require(data, "arguments", str, where),
        output=require(data, "output", (str, type(None)), where),
    )


def _task(data: Mapping[str, Any], item_id: str, created_at: datetime, where: str) -> TaskItem:
    return TaskItem(
        id=item_id,
        created_at=created_at,
        task_type=require(data, "task_type", str, where),
        heading=_optional(data, "heading", str, where),
        summary=_optional(data, "summary", str, where),
    )


def _task_group(
    data: Mapping[str, Any], item_id: str, created_at: datetime, where: str
) -> TaskGroupItem:
    return TaskGroupItem(
        id=item_id,
        created_at=created_at,
        tasks=tuple(GroupTask.from_dict(task) for task in _list(data, "tasks", where)),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any], str, datetime, str], ThreadItem]] = {
    "user_message": _user_message,
    "assistant_message": _assistant_message,
    "widget": _widget,
    "client_tool_call": _client_tool_call,
    "task": _task,
    "task_group": _task_group,
}


@dataclass(frozen=True, slots=True)
class ThreadItemPage:
    items: tuple[ThreadItem, ...]
    first_id: str | None
    last_id: str | None
    has_more: bool
    # The upstream's x-request-id, for audit records and error reports.
    request_id: str | None = field(default=None, compare=False)

    def with_request_id(self, request_id: str | None) -> ThreadItemPage:
        return replace(self, request_id=request_id)

    @classmethod
    def from_dict(cls, value: Any) -> ThreadItemPage:
        where = "thread item list"
        data = require_mapping(value, where)
        rows = require(data, "data", list, where)
        return cls(
            items=tuple(parse_item(row) for row in rows),
            first_id=nullable_str(data, "first_id", where),
            last_id=nullable_str(data, "last_id", where),
            has_more=require(data, "has_more", bool, where),
        )
