"""A local HTTP server that speaks the ChatKit threads API, for demos, tests and benchmarks.

The dashboard must be exercised end to end without an OpenAI account, and its
failure handling must be tested against an upstream that misbehaves on demand.
This server answers the four ChatKit thread endpoints the way api.openai.com
does (paths, parameters and their bounds, cursor paging, OpenAI's error
envelope, `x-request-id`), over HTTP/1.1 keep-alive so clients can pool
connections, and optionally exposes `/__control/*` endpoints that inject faults
(error statuses, latency, dropped or truncated connections, malformed or
drifted JSON) and count requests.

Standard library only (no Django import), so it starts fast and can be embedded
in a test process with `serve_in_thread`. Pages are O(log n + limit): the
sorted (created_at, id) keys are kept in memory and cursors are bisected.

Control API (only with `control=True`; no auth; never counted as API requests):

    POST   /__control/faults        {"mode": ..., "count": N}  -> {"fault": {...}}
             mode "status":    "status" (400-599), optional "retry_after",
                               "retry_after_ms", "message", "should_retry"
             mode "latency":   "ms" (delay, then answer normally)
             mode "drop":      close the connection without answering
             mode "truncate":  Content-Length larger than the body, then close
             mode "malformed": 200 with the invalid JSON `{"data": [`
             mode "drift":     200 with the real answer in an incompatible shape
           "count" is how many API requests it hits; omitted/null: until cleared.
    GET    /__control/faults        -> {"fault": {...} | null}
    DELETE /__control/faults        -> {"fault": null}
    GET    /__control/stats         -> {"requests": N}  (API requests received)
    POST   /__control/stats/reset   -> {"requests": 0}
    POST   /__control/reset         undo deletions, clear the fault, zero the stats
"""

from __future__ import annotations

import bisect
import hmac
import json
import re
import secrets
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .data import Dataset, Thread, encode_json, generate_items, make_dataset

DEFAULT_API_KEY = "demo-key-not-secret"
BETA_HEADER = "OpenAI-Beta"
BETA_VALUE = "chatkit_beta=v1"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_USER_LENGTH = 512
MAX_BODY_BYTES = 1 << 20
TRANSCRIPT_CACHE_SIZE = 256
API_KEYS_URL = "https://platform.openai.com/account/api-keys"
FAULT_MODES = ("status", "latency", "drop", "truncate", "malformed", "drift")

Key = tuple[int, str]


class ApiError(Exception):
    """An error answered with OpenAI's envelope: {"error": {message, type, param, code}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code
        self.headers = tuple(headers)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


def _shown(value: str, limit: int = 64) -> str:
    """A user-supplied value, quoted and shortened for an error message."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def mask_key(key: str) -> str:
    """How a wrong key appears in the 401 message: never more than its last 4 characters."""
    tail = key[-4:]
    if len(key) < 12 or not tail.isascii() or not tail.isalnum():
        return "*" * 8
    return "*" * 8 + tail


# --- Paging ----------------------------------------------------------------------


def paginate(
    keys: Sequence[Key],
    *,
    after: Key | None,
    before: Key | None,
    limit: int,
    order: str,
) -> tuple[list[Key], bool]:
    """One page of `keys` (sorted ascending) in `order`, OpenAI-style; O(log n + limit).

    `after` keeps what follows that key in `order`, `before` what precedes it; both
    may apply. With no cursor or with `after`, the page is the first `limit` of
    that window and `has_more` says whether more follow; with only `before`, it is
    the last `limit` (those immediately preceding the cursor) and `has_more` says
    whether more lie further back. Cursor keys need not be in `keys` themselves.
    """
    if order == "asc":
        lo = bisect.bisect_right(keys, after) if after is not None else 0
        hi = bisect.bisect_left(keys, before) if before is not None else len(keys)
        take_low = after is not None or before is None
    else:
        lo = bisect.bisect_right(keys, before) if before is not None else 0
        hi = bisect.bisect_left(keys, after) if after is not None else len(keys)
        take_low = after is None and before is not None
    hi = max(lo, hi)
    if take_low:
        start, stop = lo, min(hi, lo + limit)
        has_more = stop < hi
    else:
        start, stop = max(lo, hi - limit), hi
        has_more = start > lo
    page = list(keys[start:stop])
    if order == "desc":
        page.reverse()
    return page, has_more


@dataclass(frozen=True, slots=True)
class ListParams:
    after: str | None = None
    before: str | None = None
    limit: int = DEFAULT_LIMIT
    order: str = "desc"
    user: str | None = None


_INTEGER = re.compile(r"[+-]?[0-9]+")


def parse_list_params(query: str, *, with_user: bool) -> ListParams:
    """Validate a list query string as the API does; unknown parameters are ignored.

    A known parameter given twice is refused (400) rather than silently picking one.
    """
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=64)
    except UnicodeDecodeError:
        raise ApiError(400, "The query string is not valid UTF-8.", code="invalid_value") from None
    except ValueError:
        raise ApiError(400, "Too many query parameters.", code="invalid_value") from None
    known = {"after", "before", "limit", "order"} | ({"user"} if with_user else set())
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            continue
        if name in values:
            raise ApiError(
                400,
                f"Duplicate query parameter '{name}': give it at most once.",
                param=name,
                code="duplicate_parameter",
            )
        values[name] = value

    params: dict[str, Any] = {}
    if "limit" in values:
        params["limit"] = _parse_limit(values["limit"])
    if "order" in values:
        order = values["order"]
        if order not in ("asc", "desc"):
            raise ApiError(
                400,
                f"Invalid value for 'order': expected one of 'asc' or 'desc', "
                f"but got {_shown(order)} instead.",
                param="order",
                code="invalid_value",
            )
        params["order"] = order
    if "user" in values:
        user = values["user"]
        if not user:
            raise ApiError(
                400,
                "Invalid 'user': string too short. Expected a string with minimum length 1, "
                "but got an empty string instead.",
                param="user",
                code="string_below_min_length",
            )
        if len(user) > MAX_USER_LENGTH:
            raise ApiError(
                400,
                f"Invalid 'user': string too long. Expected a string with maximum length "
                f"{MAX_USER_LENGTH}, but got a string with length {len(user)} instead.",
                param="user",
                code="string_above_max_length",
            )
        params["user"] = user
    for cursor in ("after", "before"):
        if cursor in values:
            if not values[cursor]:
                raise ApiError(
                    400,
                    f"Invalid '{cursor}': expected an id, but got an empty string.",
                    param=cursor,
                    code="invalid_value",
                )
            params[cursor] = values[cursor]
    return ListParams(**params)


def _parse_limit(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise ApiError(
            400,
            f"Invalid type for 'limit': expected an integer, but got {_shown(raw)} instead.",
            param="limit",
            code="invalid_type",
        )
    digits = raw.lstrip("+-").lstrip("0") or "0"
    negative = raw.startswith("-") and digits != "0"
    value = int(digits) if len(digits) <= 9 else 10**9  # no giant int parsing
    if negative:
        raise ApiError(
            400,
            f"Invalid 'limit': integer below minimum value. Expected a value >= 0, "
            f"but got -{digits if len(digits) <= 20 else digits[:20] + '…'} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if value > MAX_LIMIT:
        raise ApiError(
            400,
            f"Invalid 'limit': integer above maximum value. Expected a value <= {MAX_LIMIT}, "
            f"but got {digits if len(digits) <= 20 else digits[:20] + '…'} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return value


# --- State -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transcript:
    """A thread's items, with the sorted keys and lookups that paging needs."""

    keys: list[Key]
    key_by_id: dict[str, Key]
    item_by_key: dict[Key, dict[str, Any]]


class ThreadStore:
    """The live (deletable) view of a Dataset; every method is thread-safe.

    Deletion removes the thread's key from the sorted lists (bisect + del), so a
    page always holds `limit` live threads when they exist.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Undo every deletion."""
        with self._lock:
            self._live: dict[str, Thread] = dict(self.dataset.by_id)
            self._keys: list[Key] = list(self.dataset.sorted_keys)
            self._user_keys: dict[str, list[Key]] = {
                user: list(keys) for user, keys in self.dataset.user_keys.items()
            }
            self._transcripts: OrderedDict[str, Transcript] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    def get(self, thread_id: str) -> Thread | None:
        return self._live.get(thread_id)

    def delete(self, thread_id: str) -> bool:
        with self._lock:
            thread = self._live.pop(thread_id, None)
            if thread is None:
                return False
            for keys in (self._keys, self._user_keys[thread.user]):
                del keys[bisect.bisect_left(keys, thread.key)]
            self._transcripts.pop(thread_id, None)
            return True

    def list_threads(self, params: ListParams) -> bytes:
        """The encoded list envelope for one page of threads."""
        with self._lock:
            after = self._cursor_key(params.after, "after")
            before = self._cursor_key(params.before, "before")
            if params.user is None:
                keys: Sequence[Key] = self._keys
            else:
                keys = self._user_keys.get(params.user, ())
            page, has_more = paginate(
                keys, after=after, before=before, limit=params.limit, order=params.order
            )
            encoded = self.dataset.encoded
            chunks = [encoded[thread_id] for _, thread_id in page]
        first_id = page[0][1] if page else None
        last_id = page[-1][1] if page else None
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

    def list_items(self, thread_id: str, params: ListParams) -> dict[str, Any]:
        with self._lock:
            thread = self._live.get(thread_id)
            if thread is None:
                raise thread_not_found(thread_id)
            transcript = self._transcript(thread)
            cursors: dict[str, Key | None] = {}
            for name in ("after", "before"):
                value = getattr(params, name)
                key = transcript.key_by_id.get(value) if value is not None else None
                if value is not None and key is None:
                    raise ApiError(
                        400,
                        f"Invalid '{name}': no item with id {_shown(value)} in thread "
                        f"{_shown(thread_id)}.",
                        param=name,
                        code="invalid_value",
                    )
                cursors[name] = key
            page, has_more = paginate(
                transcript.keys,
                after=cursors["after"],
                before=cursors["before"],
                limit=params.limit,
                order=params.order,
            )
            data = [transcript.item_by_key[key] for key in page]
        return {
            "object": "list",
            "data": data,
            "first_id": page[0][1] if page else None,
            "last_id": page[-1][1] if page else None,
            "has_more": has_more,
        }

    def _cursor_key(self, thread_id: str | None, name: str) -> Key | None:
        # Any live thread is a valid cursor, even one of another user than the filter's.
        if thread_id is None:
            return None
        thread = self._live.get(thread_id)
        if thread is None:
            raise ApiError(
                400,
                f"Invalid '{name}': no thread found with id {_shown(thread_id)}.",
                param=name,
                code="invalid_value",
            )
        return thread.key

    def _transcript(self, thread: Thread) -> Transcript:
        cached = self._transcripts.get(thread.id)
        if cached is not None:
            self._transcripts.move_to_end(thread.id)
            return cached
        items = generate_items(thread, self.dataset.seed)
        keys = [(item["created_at"], item["id"]) for item in items]
        transcript = Transcript(
            keys=sorted(keys),
            key_by_id={key[1]: key for key in keys},
            item_by_key=dict(zip(keys, items, strict=True)),
        )
        self._transcripts[thread.id] = transcript
        while len(self._transcripts) > TRANSCRIPT_CACHE_SIZE:
            self._transcripts.popitem(last=False)
        return transcript


def thread_not_found(thread_id: str) -> ApiError:
    return ApiError(
        404, f"No thread found with id {_shown(thread_id, 128)}.", param=None, code="not_found"
    )


@dataclass(slots=True)
class Fault:
    mode: str
    remaining: int | None  # None: until cleared
    status: int = 500
    retry_after: str | None = None
    retry_after_ms: str | None = None
    ms: int = 0
    message: str | None = None
    should_retry: bool | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "count": self.remaining,
            "status": self.status,
            "retry_after": self.retry_after,
            "retry_after_ms": self.retry_after_ms,
            "ms": self.ms,
            "message": self.message,
            "should_retry": self.should_retry,
        }


class FaultController:
    """At most one active fault, applied to the next `count` API requests (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None

    def set(self, spec: Any) -> Fault:
        fault = _parse_fault(spec)
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


def _parse_fault(spec: Any) -> Fault:
    def bad(message: str, param: str | None = None) -> ApiError:
        return ApiError(400, message, param=param, code="invalid_fault")

    if not isinstance(spec, dict):
        raise bad("The fault must be a JSON object.")
    mode = spec.get("mode")
    if mode not in FAULT_MODES:
        raise bad(f"'mode' must be one of {', '.join(FAULT_MODES)}.", "mode")
    count = spec.get("count")
    if count is not None and (not _is_int(count) or count < 1):
        raise bad("'count' must be a positive integer or null (until cleared).", "count")
    fault = Fault(mode=mode, remaining=count)
    if mode == "status":
        status = spec.get("status", 500)
        if not _is_int(status) or not 400 <= status <= 599:
            raise bad("'status' must be an integer from 400 to 599.", "status")
        fault.status = status
        for name in ("retry_after", "retry_after_ms"):
            value = spec.get(name)
            if value is not None:
                if not isinstance(value, str | int | float) or isinstance(value, bool):
                    raise bad(f"'{name}' must be a string or a number.", name)
                setattr(fault, name, str(value))
        message = spec.get("message")
        if message is not None and not isinstance(message, str):
            raise bad("'message' must be a string.", "message")
        fault.message = message
        should_retry = spec.get("should_retry")
        if should_retry is not None and not isinstance(should_retry, bool):
            raise bad("'should_retry' must be a boolean.", "should_retry")
        fault.should_retry = should_retry
    if mode == "latency":
        ms = spec.get("ms")
        if not _is_int(ms) or not 0 <= ms <= 600_000:
            raise bad("'ms' must be an integer from 0 to 600000.", "ms")
        fault.ms = ms
    return fault


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


def _injected_error(fault: Fault) -> ApiError:
    default_message, kind, code = _STATUS_ERRORS.get(
        fault.status,
        (
            f"Injected {fault.status} error.",
            "server_error" if fault.status >= 500 else "invalid_request_error",
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
        fault.status,
        fault.message or default_message,
        error_type=kind,
        code=code,
        headers=headers,
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


# --- HTTP ------------------------------------------------------------------------


class DemoUpstreamServer(ThreadingHTTPServer):
    """The server; the handler reads its configuration and state from here."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        api_key: str,
        latency_ms: int = 0,
        dataset: Dataset | None = None,
        control: bool = False,
        verbose: bool = False,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        self.api_key = api_key
        self.latency_ms = latency_ms
        self.control = control
        self.verbose = verbose
        self.store = ThreadStore(dataset if dataset is not None else make_dataset())
        self.faults = FaultController()
        self.stats = Stats()
        self._serving_thread: threading.Thread | None = None
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, DemoUpstreamHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/v1"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-upstream:{self.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._serving_thread = thread
        return thread

    def close(self) -> None:
        """Stop serving (if serving in a thread) and release the socket."""
        if self._serving_thread is not None:
            self.shutdown()
            self._serving_thread.join(timeout=5)
            self._serving_thread = None
        self.server_close()


class DemoUpstreamHandler(BaseHTTPRequestHandler):
    server: DemoUpstreamServer
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    server_version = "demo-upstream/1.0"
    disable_nagle_algorithm = True  # headers and body are two writes
    timeout = 120  # idle keep-alive connections are closed after this many seconds

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # --- Dispatch --------------------------------------------------------------

    def _handle(self) -> None:
        started = time.perf_counter()
        self._request_id = f"req_{secrets.token_hex(16)}"
        self._status = 0
        try:
            body = self._read_body()
            url = urlsplit(self.path)
            if url.path == "/__control" or url.path.startswith("/__control/"):
                if not self.server.control:
                    raise self._invalid_url()
                self._send_json(200, self._control(url.path, body))
            else:
                self._api(url.path, url.query)
        except ApiError as error:
            self._send_json(error.status, error.body(), headers=error.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug here: say so, and keep serving
            sys.stderr.write(f"demo upstream: {type(exc).__name__} on {self.command}: {exc}\n")
            error = ApiError(
                500, "The demo upstream failed unexpectedly.", error_type="server_error"
            )
            try:
                self._send_json(500, error.body())
            except OSError:
                self.close_connection = True
        finally:
            if self.server.verbose:
                elapsed = (time.perf_counter() - started) * 1000
                self.log_message(
                    '"%s %s" %s %.1fms %s',
                    self.command,
                    self.path,
                    self._status or "-",
                    elapsed,
                    self._request_id,
                )

    def _api(self, path: str, query: str) -> None:
        self.server.stats.increment()
        fault = self.server.faults.take()
        delay_ms = self.server.latency_ms + (fault.ms if fault and fault.mode == "latency" else 0)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if fault is not None and self._apply_fault(fault):
            return
        status, payload = self._route(path, query)
        if fault is not None and fault.mode == "drift":
            if isinstance(payload, bytes):
                payload = json.loads(payload)
            payload = drift(payload)
        self._send_json(status, payload)

    def _route(self, path: str, query: str) -> tuple[int, Any]:
        self._authenticate()
        segments = self._segments(path)
        store = self.server.store
        match segments:
            case ["v1", "chatkit", "threads"]:
                self._allow("GET")
                return 200, store.list_threads(parse_list_params(query, with_user=True))
            case ["v1", "chatkit", "threads", thread_id] if thread_id:
                self._allow("GET", "DELETE")
                if self.command == "DELETE":
                    if not store.delete(thread_id):
                        raise thread_not_found(thread_id)
                    return 200, {
                        "id": thread_id,
                        "object": "chatkit.thread.deleted",
                        "deleted": True,
                    }
                thread = store.get(thread_id)
                if thread is None:
                    raise thread_not_found(thread_id)
                return 200, store.dataset.encoded[thread_id]
            case ["v1", "chatkit", "threads", thread_id, "items"] if thread_id:
                self._allow("GET")
                return 200, store.list_items(thread_id, parse_list_params(query, with_user=False))
        raise self._invalid_url()

    def _segments(self, path: str) -> list[str]:
        try:
            return [unquote(segment, errors="strict") for segment in path.split("/")[1:]]
        except UnicodeDecodeError:
            raise self._invalid_url() from None

    def _allow(self, *methods: str) -> None:
        if self.command not in methods:
            raise ApiError(
                405,
                f"Method {self.command} is not allowed here; use {' or '.join(methods)}.",
                code="method_not_allowed",
                headers=[("Allow", ", ".join(methods))],
            )

    def _invalid_url(self) -> ApiError:
        path = urlsplit(self.path).path
        return ApiError(404, f"Invalid URL ({self.command} {_shown(path, 200)[1:-1]})")

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). "
                f"You can obtain an API key from {API_KEYS_URL}.",
            )
        if not hmac.compare_digest(token.encode(), self.server.api_key.encode()):
            raise ApiError(
                401,
                f"Incorrect API key provided: {mask_key(token)}. "
                f"You can find your API key at {API_KEYS_URL}.",
                code="invalid_api_key",
            )
        betas = [value.strip() for value in self.headers.get_all(BETA_HEADER, [])]
        tokens = {part.strip() for value in betas for part in value.split(",")}
        if BETA_VALUE not in tokens:
            raise ApiError(
                400,
                f"The ChatKit API is in beta: send the header '{BETA_HEADER}: {BETA_VALUE}'.",
                code="missing_beta_header",
            )

    # --- Faults and control ----------------------------------------------------

    def _apply_fault(self, fault: Fault) -> bool:
        """Answer (or not) as the fault says; False when the request proceeds normally."""
        if fault.mode == "status":
            error = _injected_error(fault)
            self._send_json(error.status, error.body(), headers=error.headers)
        elif fault.mode == "drop":
            self.close_connection = True  # no status line at all
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif fault.mode == "truncate":
            partial = b'{"object":"list","data":[{"id":"cthr_trunc'
            self.close_connection = True
            self._send_raw(200, partial, content_length=len(partial) + 4096)
        elif fault.mode == "malformed":
            self._send_raw(200, b'{"data": [')
        else:
            return False
        return True

    def _control(self, path: str, body: bytes) -> dict[str, Any]:
        server = self.server
        routes: dict[str, tuple[str, ...]] = {
            "/__control/faults": ("GET", "POST", "DELETE"),
            "/__control/stats": ("GET",),
            "/__control/stats/reset": ("POST",),
            "/__control/reset": ("POST",),
        }
        if path not in routes:
            raise self._invalid_url()
        self._allow(*routes[path])
        if path == "/__control/faults":
            if self.command == "POST":
                try:
                    spec = json.loads(body or b"null")
                except ValueError:
                    raise ApiError(400, "The body must be JSON.", code="invalid_json") from None
                server.faults.set(spec)
            elif self.command == "DELETE":
                server.faults.clear()
            fault = server.faults.current()
            return {"fault": fault.describe() if fault else None}
        if path == "/__control/stats/reset":
            server.stats.reset()
        elif path == "/__control/reset":
            server.store.reset()
            server.faults.clear()
            server.stats.reset()
        return {"requests": server.stats.requests}

    # --- Wire ------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise ApiError(411, "Chunked request bodies are not supported; send Content-Length.")
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        if not (raw_length.isascii() and raw_length.isdigit()):
            self.close_connection = True
            raise ApiError(400, "Invalid Content-Length header.")
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, "The request body is too large.")
        return self.rfile.read(length)

    def _send_json(
        self, status: int, payload: Any, *, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        body = payload if isinstance(payload, bytes) else encode_json(payload)
        self._send_raw(status, body, headers=headers)

    def _send_raw(
        self,
        status: int,
        body: bytes,
        *,
        headers: Sequence[tuple[str, str]] = (),
        content_length: int | None = None,
    ) -> None:
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header(
            "Content-Length", str(len(body) if content_length is None else content_length)
        )
        self.send_header("x-request-id", self._request_id)
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, unknown method...) as JSON too."""
        self.close_connection = True
        # http.server assumes HTTP/0.9 (no status line) until it has parsed a version.
        self.request_version = self.protocol_version
        self._request_id = getattr(self, "_request_id", None) or f"req_{secrets.token_hex(16)}"
        error = ApiError(code, message or "The request could not be understood.")
        try:
            self._send_json(code, error.body())
        except OSError:
            pass

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _handle logs one line per request, when verbose

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def make_server(
    host: str,
    port: int,
    *,
    api_key: str,
    latency_ms: int = 0,
    dataset: Dataset | None = None,
    control: bool = False,
    verbose: bool = False,
) -> DemoUpstreamServer:
    """A bound, not yet serving, demo upstream; call `serve_forever()` (or `close()`)."""
    return DemoUpstreamServer(
        (host, port),
        api_key=api_key,
        latency_ms=latency_ms,
        dataset=dataset,
        control=control,
        verbose=verbose,
    )


def serve_in_thread(
    *,
    api_key: str = DEFAULT_API_KEY,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: int = 0,
    dataset: Dataset | None = None,
    control: bool = True,
    verbose: bool = False,
) -> tuple[DemoUpstreamServer, str]:
    """Start a server in a daemon thread (port 0: any free port); return it and its base URL.

    Stop it with `server.close()`.
    """
    server = make_server(
        host,
        port,
        api_key=api_key,
        latency_ms=latency_ms,
        dataset=dataset,
        control=control,
        verbose=verbose,
    )
    server.start_in_thread()
    return server, server.base_url
