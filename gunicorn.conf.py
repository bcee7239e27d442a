"""gunicorn settings for `make run` (and any production start): `gunicorn -c gunicorn.conf.py`.

A page view is mostly waiting on the ChatKit API, so each worker process runs
several threads (gthread): while one waits on the upstream, others render.
Processes give CPU parallelism and isolation; threads give cheap concurrency.
Each worker builds its own pooled upstream session after the fork (no
`preload_app`), so no two processes ever share a socket.

Every knob is an environment variable:
GUNICORN_BIND (127.0.0.1:8000), GUNICORN_WORKERS (2), GUNICORN_THREADS (16),
GUNICORN_TIMEOUT (30), GUNICORN_KEEPALIVE (5), GUNICORN_ACCESS_LOG ("-" = stdout,
empty = off), GUNICORN_FORWARDED_ALLOW_IPS (127.0.0.1: the proxy allowed to set
X-Forwarded-*), GUNICORN_LOG_LEVEL (info), GUNICORN_MAX_REQUESTS (1000) and
GUNICORN_MAX_REQUESTS_JITTER (100).
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
# Threads per worker; the upstream connection pool (CHATKIT_POOL_SIZE, 16) covers them. Most
# pages wait on the upstream, so threads are cheap concurrency: with fewer, a burst of 20
# clients on 2 workers would meet the upstream cap below and get 503s (bench/serving.py).
threads = _int("GUNICORN_THREADS", 16)
# At most CHATKIT_CONCURRENCY_LIMIT of them (default: threads - 2) wait on the upstream at
# once (dashboard/upstream_slots.py); the rest stay free for health checks, static files
# and the log-in page. Read by Django; checked here, where the thread count is known.
_upstream_slots = _int("CHATKIT_CONCURRENCY_LIMIT", 0, minimum=0)
if _upstream_slots >= threads:
    raise SystemExit(
        f"CHATKIT_CONCURRENCY_LIMIT ({_upstream_slots}) must be below GUNICORN_THREADS "
        f"({threads}), or /healthz queues behind a stalled upstream; 0 turns the cap off."
    )
# gthread workers heartbeat from their main loop, so a slow upstream call does not get a
# worker killed; this only catches a worker that is truly stuck.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = timeout
# Seconds an idle browser connection is kept open between page views.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Each worker is replaced after about this many requests (0: never), so a slow leak in any
# library cannot grow for ever; the jitter keeps workers from restarting all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000, minimum=0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100, minimum=0)
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access log lines hold paths and query strings (user ids, cursors), never headers or keys.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Refuse absurd request lines and headers before Django sees them.
limit_request_line = 8190
limit_request_fields = 100
