"""Refuse to start a server on a port that is taken, saying which and how to choose another.

    python -m dashboard.portcheck "make demo" DEMO_PORT=8000 DEMO_UPSTREAM_PORT=8001
    python -m dashboard.portcheck "make run" GUNICORN_BIND=127.0.0.1:8000

Each NAME=VALUE is a Makefile variable: a port on 127.0.0.1, or a gunicorn bind list
(host:port, comma-separated; unix sockets are skipped). Exits 0 when every port is free;
otherwise prints one line per busy port and the same command with free ports, and exits 1.
Uses only the standard library: it runs before anything else is set up.
"""

from __future__ import annotations

import errno
import socket
import sys

LOOPBACK = "127.0.0.1"
# Where suggested ports start: clear of the defaults and of `make load`'s 8010/8011.
SUGGESTIONS_FROM = 8100


def addresses(value: str) -> list[tuple[str, int]]:
    """(host, port) pairs in a port number or a gunicorn bind list."""
    if value.isdigit():
        return [(LOOPBACK, int(value))]
    found = []
    for bind in value.split(","):
        bind = bind.strip()
        if not bind or bind.startswith(("unix:", "fd://")):
            continue
        host, _, port = bind.rpartition(":")
        if port.isdigit():  # anything else is gunicorn's to refuse, in its own words
            found.append((host.strip("[]") or LOOPBACK, int(port)))
    return found


def problem(host: str, port: int) -> str | None:
    """Why a server could not listen on host:port, or None if it could."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As runserver and gunicorn do, so a connection lingering in TIME_WAIT is no obstacle.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return "is already in use"
            return f"cannot be used ({error.strerror or error})"
    return None


def free_ports(count: int, *, avoid: set[int]) -> list[int]:
    ports = []
    for port in range(SUGGESTIONS_FROM, 65536):
        if port not in avoid and problem(LOOPBACK, port) is None:
            ports.append(port)
            if len(ports) == count:
                break
    return ports


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all("=" in arg for arg in argv[1:]):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    command, variables = argv[0], [arg.split("=", 1) for arg in argv[1:]]
    busy, to_move = [], []
    for name, value in variables:
        for host, port in addresses(value):
            reason = problem(host, port)
            if reason:
                busy.append(f"Port {port} on {host} ({name}) {reason}.")
                if (name, value) not in to_move:
                    to_move.append((name, value))
    if not busy:
        return 0
    taken = {port for _, value in variables for _, port in addresses(value)}
    suggestions = iter(free_ports(len(to_move), avoid=taken))
    choices = []
    for name, value in to_move:
        suggestion = next(suggestions, None)
        if suggestion is None:
            choices.append(f"{name}=...")
        elif value.isdigit():
            choices.append(f"{name}={suggestion}")
        else:
            host = next(iter(addresses(value)), (LOOPBACK, 0))[0]
            choices.append(f"{name}={f'[{host}]' if ':' in host else host}:{suggestion}")
    print("\n".join(busy), file=sys.stderr)
    print(
        f"Stop whatever is using it, or choose other ports: {command} {' '.join(choices)}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
