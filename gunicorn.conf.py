"""gunicorn settings for `make run` (and any production start): `gunicorn -c gunicorn.conf.py`.

A page view is mostly waiting on the ChatKit API, so each worker process runs
several threads (gthread): while one waits on the upstream, others render.
Processes give CPU parallelism and isolation; threads give cheap concurrency.
Each worker builds its own pooled upstream session after the fork (no
`preload_app`), so no two processes ever share a socket.

Every knob is an environment variable:
GUNICORN_BIND (127.0.0.1:8000), GUNICORN_WORKERS (2), GUNICORN_THREADS (8),
GUNICORN_TIMEOUT (30), GUNICORN_KEEPALIVE (5), GUNICORN_ACCESS_LOG ("-" = stdout,
empty = off), GUNICORN_FORWARDED_ALLOW_IPS (127.0.0.1: the proxy allowed to set
X-Forwarded-*), GUNICORN_LOG_LEVEL (info).
"""

from __future__ import annotations

import os


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise SystemExit(f"{name} must be a whole number of at least {minimum}, not {raw!r}.")
    return int(raw)


wsgi_app = "dashboard.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", 2)
# Threads per worker; the upstream connection pool (CHATKIT_POOL_SIZE, 16) covers them.
threads = _int("GUNICORN_THREADS", 8)
# gthread workers heartbeat from their main loop, so a slow upstream call does not get a
# worker killed; this only catches a worker that is truly stuck.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = timeout
# Seconds an idle browser connection is kept open between page views.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access log lines hold paths and query strings (user ids, cursors), never headers or keys.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Refuse absurd request lines and headers before Django sees them.
limit_request_line = 8190
limit_request_fields = 100
