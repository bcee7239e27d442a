"""Faults and control: how a test makes the demo upstream misbehave, or changes its data.

The `/__control/*` endpoints (documented in server.py) land in `handle_control`.
A `Fault` is parsed and checked here, once, when it is set; server.py then plays it
on the wire. Standard library only.
"""

from __future__ import annotations

import functools
import json
import random
import struct
import threading
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import unquote

from .data import STATUS_TYPES
from .validation import ApiError, check_user, invalid_url, require_method, thread_not_found

if TYPE_CHECKING:
    from .server import DemoUpstreamServer

FAULT_MODES = (
    "status",
    "latency",
    "drop",
    "truncate",
    "malformed",
    "drift",
    "trickle",
    "endless",
    "gzip_bomb",
    "redirect",
    "stall",
    "oversize",
)
REDIRECT_STATUSES = (301, 302, 307, 308)
MAX_MS = 600_000
MAX_BYTES_PER_SECOND = 100_000_000
DEFAULT_GZIP_EXPANDED_BYTES = 1 << 30
MAX_GZIP_EXPANDED_BYTES = 1 << 32
DEFAULT_EXTRA_ROWS = 1000
MAX_EXTRA_ROWS = 100_000
MAX_REQUEST_ID_LENGTH = 8192
MAX_CREATED_AT = 1 << 40
_INVENTED = random.Random()  # users and titles for added threads that name none


@dataclass(slots=True)
class Fault:
    mode: str | None  # None: only the forged request id
    remaining: int | None  # None: until cleared
    status: int | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    message: str | None = None
    should_retry: bool | None = None
    ms: int | None = None
    bytes_per_second: int | None = None
    expanded_bytes: int | None = None
    location: str | None = None
    extra_rows: int | None = None
    request_id: str | None = None

    def describe(self) -> dict[str, Any]:
        """The fault as set: its mode, count, and the options that apply to it."""
        described: dict[str, Any] = {"mode": self.mode, "count": self.remaining}
        for name in _OPTIONS.get(self.mode, ()) + ("request_id",):
            described[name] = getattr(self, name)
        return described


# Each mode's options: those describe() shows, and the only ones _parse_fault accepts.
_OPTIONS: dict[str | None, tuple[str, ...]] = {
    "status": ("status", "retry_after", "retry_after_ms", "message", "should_retry"),
    "latency": ("ms",),
    "stall": ("ms",),
    "trickle": ("bytes_per_second",),
    "endless": ("bytes_per_second",),
    "gzip_bomb": ("expanded_bytes",),
    "redirect": ("status", "location"),
    "oversize": ("extra_rows",),
}


class FaultController:
    """At most one active fault, applied to the next `count` API requests (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None

    def set(self, spec: Any) -> Fault:
        fault = parse_fault(spec)
        with self._lock:
            self._fault = fault
        return fault

    def clear(self) -> None:
        with self._lock:
            self._fault = None

    def current(self) -> Fault | None:
        with self._lock:
            return self._fault

    def take(self) -> Fault | None:
        """The fault to apply to this request, counting it down."""
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._fault = None
            return fault


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_fault")


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_option(
    spec: dict[str, Any], name: str, low: int, high: int, default: int | None = None
) -> int:
    value = spec.get(name, default)
    if not _is_int(value) or not low <= value <= high:
        raise _bad(f"'{name}' must be an integer from {low} to {high}.", name)
    return value


def _header_text(value: Any, name: str, max_length: int) -> str:
    """Any text a header can carry: CR, LF or NUL would break the framing, not forge a value."""
    if isinstance(value, str) and len(value) <= max_length and not set(value) & set("\r\n\0"):
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate
            pass
        else:
            return value
    raise _bad(
        f"'{name}' must be text of at most {max_length} characters, without CR, LF or NUL.",
        name,
    )


def parse_fault(spec: Any) -> Fault:
    """A checked Fault from the POST /__control/faults body (400 `invalid_fault` if not)."""
    if not isinstance(spec, dict):
        raise _bad("The fault must be a JSON object.")
    mode = spec.get("mode")
    if mode not in FAULT_MODES and not (mode is None and "request_id" in spec):
        raise _bad(f"'mode' must be one of {', '.join(FAULT_MODES)}.", "mode")
    allowed = {"mode", "count", "request_id", *_OPTIONS.get(mode, ())}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise _bad(f"'{unknown[0]}' is not an option of mode {mode!r}.", unknown[0])
    count = spec.get("count")
    if count is not None and (not _is_int(count) or count < 1):
        raise _bad("'count' must be a positive integer or null (until cleared).", "count")
    fault = Fault(mode=mode, remaining=count)
    if "request_id" in spec:
        fault.request_id = _header_text(spec["request_id"], "request_id", MAX_REQUEST_ID_LENGTH)
    if mode == "status":
        _parse_status_options(spec, fault)
    elif mode in ("latency", "stall"):
        fault.ms = _int_option(spec, "ms", 0, MAX_MS)
    elif mode == "trickle":
        fault.bytes_per_second = _int_option(spec, "bytes_per_second", 1, MAX_BYTES_PER_SECOND)
    elif mode == "endless" and spec.get("bytes_per_second") is not None:
        fault.bytes_per_second = _int_option(spec, "bytes_per_second", 1, MAX_BYTES_PER_SECOND)
    elif mode == "gzip_bomb":
        fault.expanded_bytes = _int_option(
            spec, "expanded_bytes", 1024, MAX_GZIP_EXPANDED_BYTES, DEFAULT_GZIP_EXPANDED_BYTES
        )
        gzip_bomb(fault.expanded_bytes)  # built now, not while a client waits
    elif mode == "redirect":
        fault.status = spec.get("status", 302)
        if not _is_int(fault.status) or fault.status not in REDIRECT_STATUSES:
            raise _bad("'status' must be one of 301, 302, 307 or 308.", "status")
        if spec.get("location") is not None:
            fault.location = _header_text(spec["location"], "location", 8192)
    elif mode == "oversize":
        fault.extra_rows = _int_option(spec, "extra_rows", 1, MAX_EXTRA_ROWS, DEFAULT_EXTRA_ROWS)
    return fault


def _parse_status_options(spec: dict[str, Any], fault: Fault) -> None:
    fault.status = _int_option(spec, "status", 400, 599, 500)
    for name in ("retry_after", "retry_after_ms"):
        value = spec.get(name)
        if value is not None:
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise _bad(f"'{name}' must be a string or a number.", name)
            setattr(fault, name, _header_text(str(value), name, 256))
    message = spec.get("message")
    if message is not None and not isinstance(message, str):
        raise _bad("'message' must be a string.", "message")
    fault.message = message
    should_retry = spec.get("should_retry")
    if should_retry is not None and not isinstance(should_retry, bool):
        raise _bad("'should_retry' must be a boolean.", "should_retry")
    fault.should_retry = should_retry


_STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The server is overloaded or not ready yet.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


def injected_error(fault: Fault) -> ApiError:
    """The error a `status` fault answers, as OpenAI words that status."""
    status = fault.status or 500
    default_message, kind, code = _STATUS_ERRORS.get(
        status,
        (
            f"Injected {status} error.",
            "server_error" if status >= 500 else "invalid_request_error",
            None,
        ),
    )
    headers = []
    if fault.retry_after is not None:
        headers.append(("Retry-After", fault.retry_after))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", fault.retry_after_ms))
    if fault.should_retry is not None:
        headers.append(("x-should-retry", "true" if fault.should_retry else "false"))
    return ApiError(
        status, fault.message or default_message, error_type=kind, code=code, headers=headers
    )


def drift(payload: Any) -> Any:
    """The same answer as a future, incompatible API version might send it.

    Threads lose `created_at`, `status` becomes a bare string, `title` may become a
    number, and unknown fields appear; items lose `created_at` and get an unknown type.
    """
    if isinstance(payload, dict) and payload.get("object") == "list":
        return {**payload, "data": [drift(entry) for entry in payload.get("data", [])]}
    if isinstance(payload, dict) and payload.get("object") == "chatkit.thread":
        drifted = {key: value for key, value in payload.items() if key != "created_at"}
        drifted["status"] = payload["status"]["type"]
        drifted["metadata"] = {"schema": "v2"}
        if payload.get("title") is None or len(payload["title"]) % 2:
            drifted["title"] = 42
        return drifted
    if isinstance(payload, dict) and payload.get("object") == "chatkit.thread_item":
        drifted = {key: value for key, value in payload.items() if key != "created_at"}
        drifted["type"] = "chatkit.hologram"
        return drifted
    if isinstance(payload, dict) and payload.get("object") == "chatkit.thread.deleted":
        return {**payload, "deleted": "yes"}
    return payload


_BOMB_PREFIX = b'{"object":"list","data":[]'
_BOMB_SUFFIX = b',"first_id":null,"last_id":null,"has_more":false}'
_BOMB_CHUNK = 1 << 20


@functools.lru_cache(maxsize=4)
def gzip_bomb(expanded_bytes: int) -> bytes:
    """A gzip body that expands to `expanded_bytes` of valid, whitespace-padded JSON.

    Built in O(expanded/1000) memory: after a full flush deflate forgets what came
    before, so every further 1 MiB of spaces compresses to the very same ~1 KB block.
    """
    filler = expanded_bytes - len(_BOMB_PREFIX) - len(_BOMB_SUFFIX)
    whole, rest = divmod(filler, _BOMB_CHUNK)
    chunk, last = b" " * _BOMB_CHUNK, b" " * rest + _BOMB_SUFFIX
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(_BOMB_PREFIX) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH) if whole else b""
    tail = deflate.compress(last) + deflate.flush()
    crc = zlib.crc32(_BOMB_PREFIX)
    for _ in range(whole):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(last, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, max level
    trailer = struct.pack("<II", crc, expanded_bytes & 0xFFFFFFFF)
    return b"".join((header, head, block * whole, tail, trailer))


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0

    def increment(self) -> None:
        with self._lock:
            self.requests += 1

    def reset(self) -> None:
        with self._lock:
            self.requests = 0


# --- The control endpoint --------------------------------------------------------


def handle_control(
    server: DemoUpstreamServer, method: str, path: str, body: bytes
) -> tuple[int, dict[str, Any]]:
    """Answer one /__control/* request: (status, JSON payload)."""
    if path == "/__control/faults":
        require_method(method, "GET", "POST", "DELETE")
        if method == "POST":
            server.faults.set(_json_body(body))
        elif method == "DELETE":
            server.faults.clear()
        fault = server.faults.current()
        return 200, {"fault": fault.describe() if fault else None}
    if path == "/__control/stats":
        require_method(method, "GET")
    elif path == "/__control/stats/reset":
        require_method(method, "POST")
        server.stats.reset()
    elif path == "/__control/reset":
        require_method(method, "POST")
        server.store.reset()
        server.faults.clear()
        server.stats.reset()
    elif path == "/__control/threads":
        require_method(method, "POST")
        thread = server.store.add(**_thread_fields(_json_body(body), server, creating=True))
        return 201, thread.to_dict()
    elif path.startswith("/__control/threads/") and path.count("/") == 3:
        return _one_thread(server, method, unquote(path.rsplit("/", 1)[1]), body)
    else:
        raise invalid_url(method, path)
    return 200, {"requests": server.stats.requests}


def _one_thread(
    server: DemoUpstreamServer, method: str, thread_id: str, body: bytes
) -> tuple[int, dict[str, Any]]:
    require_method(method, "PATCH", "DELETE")
    if method == "DELETE":
        if not server.store.delete(thread_id):
            raise thread_not_found(thread_id)
        return 200, {"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True}
    fields = _thread_fields(_json_body(body), server, creating=False)
    return 200, server.store.change(thread_id, **fields).to_dict()


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "The body must be JSON.", code="invalid_json") from None


def _bad_thread(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_thread")


def _thread_fields(spec: Any, server: DemoUpstreamServer, *, creating: bool) -> dict[str, Any]:
    """Store.add / Store.change arguments from a control body; what a new one omits is invented."""
    if not isinstance(spec, dict):
        raise _bad_thread("The thread must be a JSON object.")
    allowed = {"user", "title", "status", "created_at"} if creating else {"title", "status"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise _bad_thread(
            f"'{unknown[0]}' cannot be {'set' if creating else 'changed'}; "
            f"give only {', '.join(sorted(allowed))}.",
            unknown[0],
        )
    if not creating and not spec:
        raise _bad_thread("Give 'title' or 'status' to change.")
    fields: dict[str, Any] = server.store.dataset.invent(_INVENTED) if creating else {}
    if "user" in spec:
        if not isinstance(spec["user"], str):
            raise _bad_thread("'user' must be a string.", "user")
        fields["user"] = check_user(spec["user"])
    if "title" in spec:
        if spec["title"] is not None and not isinstance(spec["title"], str):
            raise _bad_thread("'title' must be a string or null.", "title")
        fields["title"] = spec["title"]
    if "status" in spec:
        fields["status_type"], fields["reason"] = _status(spec["status"])
    if "created_at" in spec:
        created_at = spec["created_at"]
        if created_at is not None and (
            not _is_int(created_at) or not 0 <= created_at <= MAX_CREATED_AT
        ):
            raise _bad_thread("'created_at' must be a Unix time in seconds, or null (now).")
        fields["created_at"] = created_at
    return fields


def _status(value: Any) -> tuple[str, str | None]:
    """A status object as the API writes it: {"type": ..., "reason": ...}."""
    if not isinstance(value, dict) or value.get("type") not in STATUS_TYPES:
        raise _bad_thread(
            "'status' must be an object whose 'type' is active, locked or closed.", "status"
        )
    allowed = {"type"} if value["type"] == "active" else {"type", "reason"}
    reason = value.get("reason")
    if set(value) - allowed or (reason is not None and not isinstance(reason, str)):
        raise _bad_thread(
            "An active status has only 'type'; locked and closed may add a string 'reason'.",
            "status",
        )
    return value["type"], reason
