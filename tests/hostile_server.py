"""A hostile ChatKit upstream over raw sockets: each mode misbehaves the way a real one might.

The demo upstream (dashboard/demo_upstream) injects most of these faults too; this one
writes raw bytes, so it can also trickle the status line and headers, stall after them,
and send bodies within the size cap that are expensive to parse; and one process covers
every attack bench/attacks.py runs, switched by a GET. Used by tests/test_faults.py and
bench/attacks.py, in a thread (`serve_in_thread`) or as its own process:

    python -m tests.hostile_server --port 8021 --api-key sk-... [--mode normal]

`GET /__mode/<mode>` switches the mode of a running server; `GET /__seen` lists the
requests it received (method and path), `/__seen/reset` forgets them. In `normal` mode it
answers list, retrieve, items and delete calls with small valid pages, so one server can
also show that the dashboard recovers.
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import threading
from urllib.parse import parse_qs, urlsplit

from dashboard.demo_upstream.control import gzip_bomb

MODES = (
    "normal",
    # The real answer, one byte every TRICKLE_SECONDS.
    "trickle",
    # The status line, then the headers one byte at a time.
    "trickle-headers",
    # A 200 whose chunked body never ends, as fast as the socket takes it.
    "endless",
    # 1 MB of gzip that expands to 1 GB of JSON whitespace, sent whatever was asked.
    "gzip-bomb",
    # 307 to a "third party" (this server's /elsewhere/), for every method.
    "redirect",
    # Headers with a Content-Length, then silence.
    "stall",
    # The request is read, nothing is answered.
    "stall-headers",
    # GETs stall before the headers; DELETEs are answered.
    "stall-reads",
    # A valid page of OVERSIZE_ROWS threads, whatever limit was asked for.
    "oversize",
    # A valid page of MANY_ROWS threads (well within any size cap), whatever the limit.
    "many-rows",
    # Just under the default size cap, of the JSON that costs most memory to parse: `{},` x 1.4M.
    "dense",
    # Just under the default size cap, of valid threads (about 27,000), whatever the limit.
    "full-rows",
    # Every answer after `slow_seconds` (SLOW_SECONDS unless changed).
    "slow",
    # A normal answer whose x-request-id is "req_" + the API key.
    "forged-request-id",
    # A 400 whose message holds the key in three forms and a forged log line.
    "forged-message",
)
TRICKLE_SECONDS = 0.5
SLOW_SECONDS = 5.0
OVERSIZE_ROWS = 100_000
MANY_ROWS = 500
BOMB_BYTES = 1 << 30
# The client's default cap (CHATKIT_MAX_RESPONSE_BYTES), less a little.
DENSE_BYTES = 4 * 1024 * 1024 - 1024
FORGED_LINE = "\n2026-01-01 00:00:00,000 INFO dashboard.audit forged: deleted everything"
THREAD_COUNT = 150


def thread_json(n: int) -> dict:
    return {
        "id": f"cthr_{n:06d}",
        "object": "chatkit.thread",
        "created_at": 1_763_000_000 - n * 60,
        "title": f"Hostile thread {n}",
        # Locked threads are rare, so a status scan for them reads many pages.
        "status": {"type": "locked" if n % 50 == 0 else "closed" if n % 7 == 0 else "active"},
        "user": f"user_{n % 7:04d}",
    }


def page_json(rows: list[dict], *, has_more: bool) -> dict:
    return {
        "object": "list",
        "data": rows,
        "first_id": rows[0]["id"] if rows else None,
        "last_id": rows[-1]["id"] if rows else None,
        "has_more": has_more,
    }


def _limit(query: dict[str, list[str]]) -> int:
    try:
        return max(0, min(100, int(query.get("limit", ["20"])[0])))
    except ValueError:
        return 20


def normal_answer(
    method: str, path: str, query: dict[str, list[str]], *, threads: int = THREAD_COUNT
) -> tuple[int, dict]:
    """What a healthy upstream would say to the four thread endpoints (order ignored)."""
    parts = [p for p in path.split("/") if p]
    if parts[-2:] == ["chatkit", "threads"] or parts[-1:] == ["threads"]:
        ids = list(range(1, threads + 1))
        after = query.get("after", [None])[0]
        start = ids.index(int(after[5:])) + 1 if after and after[5:].isdigit() else 0
        rows = ids[start : start + _limit(query)]
        more = start + len(rows) < len(ids)
        return 200, page_json([thread_json(n) for n in rows], has_more=more)
    if parts[-1] == "items":
        thread_id = parts[-2]
        item = {
            "id": "cthi_000001",
            "object": "chatkit.thread_item",
            "created_at": 1_763_000_000,
            "thread_id": thread_id,
            "type": "chatkit.user_message",
            "content": [{"type": "input_text", "text": "Hello."}],
            "attachments": [],
            "inference_options": None,
        }
        return 200, page_json([item], has_more=False)
    thread_id = parts[-1]
    number = int(thread_id[5:]) if thread_id[5:].isdigit() else 1
    if method == "DELETE":
        return 200, {"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True}
    return 200, {**thread_json(number), "id": thread_id}


def dense_page(size: int) -> bytes:
    """A page of `size` bytes whose rows are empty objects: the most objects per byte."""
    head, tail = b'{"object": "list", "data": [', b'{}], "has_more": true}'
    return head + b"{}," * ((size - len(head) - len(tail)) // 3) + tail


def full_page(size: int) -> bytes:
    """A valid page of as many threads as fit in `size` bytes."""
    row_size = len(json.dumps(thread_json(10**6))) + 2
    rows = [thread_json(n) for n in range(size // row_size)]
    while True:
        body = json.dumps(page_json(rows, has_more=True)).encode()
        if len(body) <= size:
            return body
        rows = rows[: -1 - (len(body) - size) // row_size]


class HostileServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        api_key: str,
        mode: str = "normal",
        bomb_bytes: int = BOMB_BYTES,
    ) -> None:
        super().__init__(address, _Handler)
        self.api_key = api_key
        self.mode = mode
        self.bomb_bytes = bomb_bytes
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.slow_seconds = SLOW_SECONDS
        self.trickle_seconds = TRICKLE_SECONDS
        self.thread_count = THREAD_COUNT
        self._built: dict[str, bytes] = {}
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def built(self, mode: str) -> bytes:
        """The big bodies, built once: building them in a request would make it slow too."""
        with self.lock:
            if mode not in self._built:
                if mode == "gzip-bomb":
                    self._built[mode] = gzip_bomb(self.bomb_bytes)
                elif mode == "dense":
                    self._built[mode] = dense_page(DENSE_BYTES)
                elif mode == "full-rows":
                    self._built[mode] = full_page(DENSE_BYTES)
                else:
                    rows = OVERSIZE_ROWS if mode == "oversize" else MANY_ROWS
                    page = page_json([thread_json(n) for n in range(rows)], has_more=True)
                    self._built[mode] = json.dumps(page).encode()
            return self._built[mode]

    def requests_seen(self, prefix: str = "") -> list[tuple[str, str]]:
        with self.lock:
            return [(m, p) for m, p in self.seen if p.startswith(prefix)]

    def close(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(socketserver.BaseRequestHandler):
    server: HostileServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        try:
            head = self._read_head(sock)
            if head is None:
                return
            method, target = head
            url = urlsplit(target)
            if url.path.startswith("/__"):
                self._control(sock, url.path)
                return
            with self.server.lock:
                self.server.seen.append((method, url.path))
            if url.path.startswith("/elsewhere/"):
                # The third party a redirect points at: it obliges.
                self._json(sock, 200, {"id": "x", "object": "x", "deleted": True})
                return
            self._attack(sock, method, url.path, parse_qs(url.query))
        except OSError:
            pass  # the client gave up: that is the point

    def _read_head(self, sock: socket.socket) -> tuple[str, str] | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
            if len(data) > 1 << 16:
                return None
        request_line = data.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = request_line.split(" ", 2)
        return method, target

    def _control(self, sock: socket.socket, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["__mode"] and len(parts) == 2 and parts[1] in MODES:
            self.server.mode = parts[1]
            self._json(sock, 200, {"mode": self.server.mode})
        elif parts == ["__seen"]:
            self._json(sock, 200, {"seen": self.server.requests_seen()})
        elif parts == ["__seen", "reset"]:
            with self.server.lock:
                self.server.seen.clear()
            self._json(sock, 200, {"seen": []})
        else:
            self._json(sock, 404, {"error": {"message": "No such control."}})

    def _attack(self, sock: socket.socket, method: str, path: str, query) -> None:
        server = self.server
        mode = server.mode
        status, payload = normal_answer(method, path, query, threads=server.thread_count)
        body = json.dumps(payload).encode()
        if mode == "normal":
            self._json(sock, status, payload)
        elif mode == "trickle":
            sock.sendall(self._head(200, [("Content-Length", str(len(body)))]))
            for byte in body:
                if server.stopping.wait(server.trickle_seconds):
                    return
                sock.sendall(bytes([byte]))
        elif mode == "trickle-headers":
            head = self._head(200, [("Content-Length", str(len(body)))])
            sock.sendall(head[:17])
            for byte in head[17:]:
                if server.stopping.wait(server.trickle_seconds):
                    return
                sock.sendall(bytes([byte]))
            sock.sendall(body)
        elif mode == "endless":
            sock.sendall(self._head(200, [("Transfer-Encoding", "chunked")]))
            self._chunk(sock, b'{"object": "list", "data": [')
            row = json.dumps(thread_json(1)).encode() + b","
            block = row * (65536 // len(row))
            while not server.stopping.is_set():
                self._chunk(sock, block)
        elif mode == "gzip-bomb":
            bomb = server.built(mode)
            headers = [("Content-Encoding", "gzip"), ("Content-Length", str(len(bomb)))]
            sock.sendall(self._head(200, headers) + bomb)
        elif mode == "redirect":
            location = f"http://{sock.getsockname()[0]}:{sock.getsockname()[1]}/elsewhere{path}"
            sock.sendall(self._head(307, [("Location", location), ("Content-Length", "0")]))
        elif mode == "stall":
            sock.sendall(self._head(200, [("Content-Length", str(len(body)))]))
            self._wait_for_close(sock)
        elif mode == "stall-headers" or (mode == "stall-reads" and method == "GET"):
            self._wait_for_close(sock)
        elif mode == "stall-reads":
            self._json(sock, status, payload)
        elif mode in ("oversize", "many-rows", "dense", "full-rows"):
            self._send_json_bytes(sock, 200, server.built(mode))
        elif mode == "slow":
            if not server.stopping.wait(server.slow_seconds):
                self._json(sock, status, payload)
        elif mode == "forged-request-id":
            self._json(sock, status, payload, request_id=f"req_{server.api_key}")
        elif mode == "forged-message":
            key = server.api_key
            message = (
                f"Bad key {key}, or {key.removeprefix('sk-')}, ending {key[-8:]}.{FORGED_LINE}"
            )
            error = {"message": message, "type": "invalid_request_error", "code": None}
            self._json(sock, 400, {"error": {**error, "param": key[-8:]}}, request_id=key[-8:])

    def _wait_for_close(self, sock: socket.socket, seconds: float = 120) -> None:
        """Say nothing until the client hangs up (or the server stops, or `seconds` pass)."""
        sock.settimeout(0.1)
        for _ in range(int(seconds / 0.1)):
            if self.server.stopping.is_set():
                return
            try:
                if not sock.recv(1024):
                    return
            except TimeoutError:
                continue

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} Hostile", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _json(self, sock, status: int, payload, *, request_id: str = "req_hostile") -> None:
        self._send_json_bytes(sock, status, json.dumps(payload).encode(), request_id=request_id)

    def _send_json_bytes(
        self, sock, status: int, body: bytes, *, request_id: str = "req_hostile"
    ) -> None:
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("x-request-id", request_id),
        ]
        sock.sendall(self._head(status, headers) + body)

    def _chunk(self, sock: socket.socket, data: bytes) -> None:
        sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def serve_in_thread(*, api_key: str, mode: str = "normal", **options) -> HostileServer:
    server = HostileServer(("127.0.0.1", 0), api_key=api_key, mode=mode, **options)
    threading.Thread(target=server.serve_forever, name="hostile-upstream", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--threads", type=int, default=THREAD_COUNT, help="in normal answers")
    parser.add_argument("--bomb-mb", type=int, default=BOMB_BYTES >> 20, help="expanded size")
    args = parser.parse_args()
    server = HostileServer(
        ("127.0.0.1", args.port),
        api_key=args.api_key,
        mode=args.mode,
        bomb_bytes=args.bomb_mb << 20,
    )
    server.thread_count = args.threads
    for mode in ("gzip-bomb", "oversize", "many-rows", "dense", "full-rows"):
        server.built(mode)  # before the first request, so no attack waits for it
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
