"""Typed, immutable views of the upstream's JSON, parsed at the boundary.

`from_dict` accepts exactly what the contract promises: unknown extra fields
are ignored, a missing or ill-typed required field raises
ChatKitBadResponseError naming the field.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .errors import ChatKitBadResponseError

_MISSING = object()


def require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """`data[key]`, checked to be of `kind`; None is allowed only when `kind` includes NoneType."""
    value = data.get(key, _MISSING)
    if value is _MISSING:
        raise ChatKitBadResponseError(f"The upstream {where} has no '{key}' field.")
    # bool is a subclass of int, and never what a numeric field means.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise ChatKitBadResponseError(
            f"The upstream {where} has an ill-typed '{key}' field "
            f"({type(value).__name__}, expected {_type_names(kind)})."
        )
    return value


def require_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ChatKitBadResponseError(f"The upstream {where} is not a JSON object.")
    return value


def unix_time(data: Mapping[str, Any], key: str, where: str) -> datetime:
    seconds = require(data, key, (int, float), where)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ChatKitBadResponseError(
            f"The upstream {where} has an out-of-range '{key}' timestamp."
        ) from None


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_names(kind: type | tuple[type, ...]) -> str:
    names = {int: "number", float: "number", str: "string", bool: "boolean", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in _as_tuple(kind)))


class StatusKind(enum.StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    CLOSED = "closed"
    # A status type newer than this code: shown as-is rather than failing the whole page.
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ThreadStatus:
    kind: StatusKind
    reason: str | None = None
    # The upstream's own word, kept for UNKNOWN kinds.
    raw_type: str = ""

    @classmethod
    def from_dict(cls, value: Any) -> ThreadStatus:
        data = require_mapping(value, "thread status")
        raw_type = require(data, "type", str, "thread status")
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ChatKitBadResponseError("The upstream thread status has an ill-typed 'reason'.")
        try:
            kind = StatusKind(raw_type)
        except ValueError:
            kind = StatusKind.UNKNOWN
        if kind is StatusKind.ACTIVE:
            reason = None
        return cls(kind=kind, reason=reason, raw_type=raw_type)

    @property
    def label(self) -> str:
        if self.kind is StatusKind.UNKNOWN:
            return f"Unknown ({self.raw_type})" if self.raw_type else "Unknown"
        return self.kind.value.capitalize()


@dataclass(frozen=True, slots=True)
class Thread:
    id: str
    created_at: datetime
    title: str | None
    user: str
    status: ThreadStatus
    # The upstream's x-request-id when the thread was retrieved on its own (audit records).
    request_id: str | None = field(default=None, compare=False)

    def with_request_id(self, request_id: str | None) -> Thread:
        return replace(self, request_id=request_id)

    @classmethod
    def from_dict(cls, value: Any) -> Thread:
        data = require_mapping(value, "thread")
        return cls(
            id=require(data, "id", str, "thread"),
            created_at=unix_time(data, "created_at", "thread"),
            title=nullable_str(data, "title", "thread"),
            user=require(data, "user", str, "thread"),
            status=ThreadStatus.from_dict(require(data, "status", dict, "thread")),
        )


@dataclass(frozen=True, slots=True)
class ThreadPage:
    threads: tuple[Thread, ...]
    first_id: str | None
    last_id: str | None
    has_more: bool
    # The upstream's x-request-id, for audit records and error reports.
    request_id: str | None = field(default=None, compare=False)
    # When the upstream answered; a page shared from the cache keeps its original time.
    fetched_at: datetime | None = field(default=None, compare=False)

    def with_request_id(self, request_id: str | None) -> ThreadPage:
        return replace(self, request_id=request_id)

    def with_fetched_at(self, fetched_at: datetime) -> ThreadPage:
        return replace(self, fetched_at=fetched_at)

    @classmethod
    def from_dict(cls, value: Any) -> ThreadPage:
        data = require_mapping(value, "thread list")
        rows = require(data, "data", list, "thread list")
        return cls(
            threads=tuple(Thread.from_dict(row) for row in rows),
            first_id=nullable_str(data, "first_id", "thread list"),
            last_id=nullable_str(data, "last_id", "thread list"),
            has_more=require(data, "has_more", bool, "thread list"),
        )


@dataclass(frozen=True, slots=True)
class DeletedThread:
    id: str
    deleted: bool
    request_id: str | None = field(default=None, compare=False)

    def with_request_id(self, request_id: str | None) -> DeletedThread:
        return replace(self, request_id=request_id)

    @classmethod
    def from_dict(cls, value: Any) -> DeletedThread:
        data = require_mapping(value, "deleted thread")
        return cls(
            id=require(data, "id", str, "deleted thread"),
            deleted=require(data, "deleted", bool, "deleted thread"),
        )


def nullable_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    """A required-but-nullable string field; omission is tolerated too, as "no value" is all
    it can mean."""
    if key not in data:
        return None
    return require(data, key, (str, type(None)), where)
