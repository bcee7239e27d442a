"""A local HTTP server that speaks the ChatKit threads API, for demos, tests and benchmarks.

The dashboard must be exercised end to end without an OpenAI account, and its
failure handling must be tested against an upstream that misbehaves on demand.
This server answers the four ChatKit thread endpoints the way api.openai.com
does (paths, parameters and their bounds, cursor paging, OpenAI's error
envelope, `x-request-id`), over HTTP/1.1 keep-alive so clients can pool
connections, and optionally exposes `/__control/*` endpoints that inject faults,
change the data and count requests. One thread per connection: a stalled or
trickled answer never holds up another client, and `close()` hangs up on every
open connection rather than wait for it.

The modules, by job: data.py and transcripts.py generate threads and items,
validation.py checks what clients send, store.py holds the live data and pages
it, control.py parses faults and answers /__control/*, live.py is live mode, and
this module is the HTTP serving. Standard library only (no Django import), so it
starts fast and can be embedded in a test process with `serve_in_thread`.

Control API (only with `control=True`; no auth; never counted as API requests):

    POST   /__control/faults        {"mode": ..., "count": N, ...}  -> {"fault": {...}}
             "status":    answer an error: "status" (400-599, default 500), optional
                          "retry_after", "retry_after_ms", "message", "should_retry"
             "latency":   "ms" (0-600000): wait, then answer normally
             "stall":     "ms": take the request, answer nothing for that long, hang up
             "drop":      close the connection without answering
             "truncate":  Content-Length larger than the body, then close
             "malformed": 200 with the invalid JSON `{"data": [`
             "drift":     200 with the real answer in an incompatible shape
             "trickle":   the real answer, its body sent at "bytes_per_second"
             "endless":   200 with a chunked list body that never ends (thread
                          rows over and over), optionally at "bytes_per_second"
             "gzip_bomb": 200, Content-Encoding: gzip, a ~1/1000 size body that
                          expands to "expanded_bytes" (default 1 GiB, up to 4 GiB)
                          of whitespace-padded JSON
             "redirect":  "status" 301/302/307/308 (default 302) with a Location:
                          "location", default this same URL (a loop until `count`
                          runs out)
             "oversize":  a list page with "extra_rows" (default 1000) more rows
                          than `limit` (repeating rows when too few exist); other
                          endpoints answer normally
           "request_id": a forged `x-request-id` value, with any mode or alone
                          (no "mode": answer normally, but with that header).
           "count" is how many API requests it hits; omitted/null: until cleared.
           Options of other modes are refused, as are unknown ones.
    GET    /__control/faults        -> {"fault": {...} | null}
    DELETE /__control/faults        -> {"fault": null}
    GET    /__control/stats         -> {"requests": N}  (API requests received)
    POST   /__control/stats/reset   -> {"requests": 0}
    POST   /__control/reset         undo deletions, changes and added threads, clear the
                                    fault, zero the stats
    POST   /__control/threads       {"user", "title", "status", "created_at"}, all optional
                                    (invented user and title, active, now) -> 201 the thread
    PATCH  /__control/threads/<id>  {"title"} and/or {"status": {"type", "reason"}}
                                    -> the changed thread
    DELETE /__control/threads/<id>  delete it as someone else would -> the deletion object
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .control import Fault, FaultController, Stats, drift, gzip_bomb, handle_control, injected_error
from .data import Dataset, encode_json, make_dataset
from .live import LiveActivity
from .store import ThreadStore
from .validation import (
    BETA_HEADER,
    MAX_LIMIT,
    ApiError,
    ListParams,
    check_credentials,
    invalid_url,
    parse_list_params,
    require_method,
    thread_not_found,
)

DEFAULT_API_KEY = "demo-key-not-secret"
MAX_BODY_BYTES = 1 << 20
PACE_STEPS_PER_SECOND = 10  # a trickled body goes out in this many writes a second


class HangUp(Exception):
    """End this connection now, without (further) answer."""


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
        live_interval: float | None = None,
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
        self.closing = threading.Event()  # set by close(): waits and slow bodies give up
        self.live = (
            None
            if live_interval is None
            else LiveActivity(
                self.store,
                interval=live_interval,
                seed=self.store.dataset.seed,
                log=self._log_live if verbose else None,
            )
        )
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._serving_thread: threading.Thread | None = None
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, DemoUpstreamHandler)

    @property
    def root_url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @staticmethod
    def _log_live(line: str) -> None:
        sys.stderr.write(f"live: {line}\n")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        if self.live is not None:
            self.live.start()
        super().serve_forever(poll_interval)

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
        """Stop serving (if serving in a thread), hang up on every client, release the socket."""
        self.closing.set()
        if self.live is not None:
            self.live.stop()
        if self._serving_thread is not None:
            self.shutdown()
            self._serving_thread.join(timeout=5)
            self._serving_thread = None
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()  # joins the handler threads, which now end at once


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
                    raise invalid_url(self.command, url.path)
                self._send_json(*handle_control(self.server, self.command, url.path, body))
            else:
                self._api(url.path, url.query)
        except ApiError as error:
            self._send_json(error.status, error.body(), headers=error.headers)
        except (HangUp, OSError):  # ours, or the client went away mid-answer
            self._hang_up()
        except Exception as exc:  # a bug here: say so, and keep serving
            sys.stderr.write(f"demo upstream: {type(exc).__name__} on {self.command}: {exc}\n")
            failure = ApiError(
                500, "The demo upstream failed unexpectedly.", error_type="server_error"
            )
            try:
                self._send_json(500, failure.body())
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
        server = self.server
        server.stats.increment()
        fault = server.faults.take()
        mode = fault.mode if fault is not None else None
        if fault is not None and fault.request_id is not None:
            self._request_id = fault.request_id
        delay_ms = server.latency_ms + ((fault.ms or 0) if fault and mode == "latency" else 0)
        if delay_ms and server.closing.wait(delay_ms / 1000):
            raise HangUp
        if fault is not None and mode in _ANSWERED_BY_FAULT:
            _ANSWERED_BY_FAULT[mode](self, fault)
            return
        extra_rows = (fault.extra_rows or 0) if fault and mode == "oversize" else 0
        status, payload = self._route(path, query, extra_rows=extra_rows)
        if mode == "drift":
            payload = drift(json.loads(payload) if isinstance(payload, bytes) else payload)
        rate = fault.bytes_per_second if fault is not None and mode == "trickle" else None
        self._send_json(status, payload, bytes_per_second=rate)

    def _route(self, path: str, query: str, *, extra_rows: int) -> tuple[int, Any]:
        self._authenticate()
        segments = self._segments(path)
        store = self.server.store
        match segments:
            case ["v1", "chatkit", "threads"]:
                require_method(self.command, "GET")
                params = parse_list_params(query, with_user=True)
                return 200, store.list_threads(params, extra_rows=extra_rows)
            case ["v1", "chatkit", "threads", thread_id] if thread_id:
                require_method(self.command, "GET", "DELETE")
                if self.command == "GET":
                    return 200, store.encoded(thread_id)
                if not store.delete(thread_id):
                    raise thread_not_found(thread_id)
                return 200, {"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True}
            case ["v1", "chatkit", "threads", thread_id, "items"] if thread_id:
                require_method(self.command, "GET")
                params = parse_list_params(query, with_user=False)
                return 200, store.list_items(thread_id, params, extra_rows=extra_rows)
        raise invalid_url(self.command, path)

    def _segments(self, path: str) -> list[str]:
        try:
            return [unquote(segment, errors="strict") for segment in path.split("/")[1:]]
        except UnicodeDecodeError:
            raise invalid_url(self.command, path) from None

    def _authenticate(self) -> None:
        check_credentials(
            authorization=self.headers.get("Authorization", ""),
            betas=[value.strip() for value in self.headers.get_all(BETA_HEADER, [])],
            api_key=self.server.api_key,
        )

    # --- Faults that replace the answer ----------------------------------------

    def _answer_error(self, fault: Fault) -> None:
        error = injected_error(fault)
        self._send_json(error.status, error.body(), headers=error.headers)

    def _drop(self, fault: Fault) -> None:
        raise HangUp  # no status line at all

    def _stall(self, fault: Fault) -> None:
        self.server.closing.wait((fault.ms or 0) / 1000)
        raise HangUp

    def _truncate(self, fault: Fault) -> None:
        partial = b'{"object":"list","data":[{"id":"cthr_trunc'
        self.close_connection = True
        self._send_raw(200, partial, content_length=len(partial) + 4096)

    def _malformed(self, fault: Fault) -> None:
        self._send_raw(200, b'{"data": [')

    def _redirect(self, fault: Fault) -> None:
        location = fault.location or self.server.root_url + self.path
        self._send_raw(fault.status or 302, b"", headers=[("Location", location)])

    def _gzip_bomb(self, fault: Fault) -> None:
        body = gzip_bomb(fault.expanded_bytes or 0)
        self._send_raw(200, body, headers=[("Content-Encoding", "gzip")])

    def _endless(self, fault: Fault) -> None:
        page = json.loads(self.server.store.list_threads(ListParams(limit=MAX_LIMIT)))["data"]
        rows = b"".join(encode_json(row) + b"," for row in page) or b" " * 4096
        self.close_connection = True
        self._send_head(200, headers=[("Transfer-Encoding", "chunked")], content_length=None)
        if self.command == "HEAD":
            return
        self._write(b'{"object":"list","data":[', fault.bytes_per_second, chunked=True)
        while not self.server.closing.is_set():
            self._write(rows, fault.bytes_per_second, chunked=True)
        raise HangUp

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

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send_json(
        self,
        status: int,
        payload: Any,
        *,
        headers: Sequence[tuple[str, str]] = (),
        bytes_per_second: int | None = None,
    ) -> None:
        body = payload if isinstance(payload, bytes) else encode_json(payload)
        self._send_raw(status, body, headers=headers, bytes_per_second=bytes_per_second)

    def _send_raw(
        self,
        status: int,
        body: bytes,
        *,
        headers: Sequence[tuple[str, str]] = (),
        content_length: int | None = None,
        bytes_per_second: int | None = None,
    ) -> None:
        length = len(body) if content_length is None else content_length
        self._send_head(status, headers=headers, content_length=length)
        if self.command != "HEAD":
            self._write(body, bytes_per_second)

    def _send_head(
        self, status: int, *, headers: Sequence[tuple[str, str]], content_length: int | None
    ) -> None:
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if content_length is not None:
            self.send_header("Content-Length", str(content_length))
        self.send_header("x-request-id", _raw(self._request_id))
        for name, value in headers:
            self.send_header(name, _raw(value))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _write(self, data: bytes, bytes_per_second: int | None, *, chunked: bool = False) -> None:
        """Send `data`, at `bytes_per_second` if given; HangUp if the server is closing."""
        if bytes_per_second is None:
            step = len(data)
        else:
            step = max(1, bytes_per_second // PACE_STEPS_PER_SECOND)
        for offset in range(0, len(data), max(1, step)):
            piece = data[offset : offset + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if bytes_per_second is not None and self.server.closing.wait(
                len(piece) / bytes_per_second
            ):
                raise HangUp

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


def _raw(value: str) -> str:
    """A header value whose UTF-8 bytes go out as they are (a forged one may be any text)."""
    return value.encode().decode("latin-1")


_ANSWERED_BY_FAULT = {
    "status": DemoUpstreamHandler._answer_error,
    "drop": DemoUpstreamHandler._drop,
    "stall": DemoUpstreamHandler._stall,
    "truncate": DemoUpstreamHandler._truncate,
    "malformed": DemoUpstreamHandler._malformed,
    "redirect": DemoUpstreamHandler._redirect,
    "gzip_bomb": DemoUpstreamHandler._gzip_bomb,
    "endless": DemoUpstreamHandler._endless,
}


def make_server(
    host: str,
    port: int,
    *,
    api_key: str,
    latency_ms: int = 0,
    dataset: Dataset | None = None,
    control: bool = False,
    verbose: bool = False,
    live_interval: float | None = None,
) -> DemoUpstreamServer:
    """A bound, not yet serving, demo upstream; call `serve_forever()` (or `close()`)."""
    return DemoUpstreamServer(
        (host, port),
        api_key=api_key,
        latency_ms=latency_ms,
        dataset=dataset,
        control=control,
        verbose=verbose,
        live_interval=live_interval,
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
    live_interval: float | None = None,
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
        live_interval=live_interval,
    )
    server.start_in_thread()
    return server, server.base_url
