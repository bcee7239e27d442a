"""Django settings, read from the environment in this one module.

Every knob is an environment variable; `.env.example` lists them. The parsers
(dashboard/config.py) refuse values they cannot read, so a typo fails at
start-up, not at the first request. The upstream's settings are one typed
`ChatKitConfig`, `settings.CHATKIT`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dashboard.client_address import parse_trusted_proxies
from dashboard.config import (
    ChatKitConfig,
    IndexConfig,
    env_bool,
    env_int,
    env_list,
    env_number,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent


# --- Core -----------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)
# Production mode turns on every HTTPS and cookie hardening that `check --deploy` asks for.
PRODUCTION = env_bool("DJANGO_PRODUCTION", False)
# The demo upstream app (run_demo_upstream, create_demo_staff) is for `make demo`, `make load`
# and the tests only: production never installs it.
DEMO = env_bool("DJANGO_DEMO", False)
if DEMO and PRODUCTION:
    raise ImproperlyConfigured("DJANGO_DEMO cannot be on with DJANGO_PRODUCTION.")

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production.")
    # Development only: a fixed, public key; DJANGO_PRODUCTION refuses to start without a real one.
    SECRET_KEY = "dev-insecure-" + "x" * 50
elif PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 varied characters.")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Index expressions with operator classes (the thread index's trigram search).
    "django.contrib.postgres",
    "django_tables2",
    # htmx itself (its static file and script tag): a paused status scan continues with it.
    "django_htmx",
    "axes",
    "huey.contrib.djhuey",
    "dashboard.web",
    "dashboard.threads",
    "dashboard.audit",
    "dashboard.jobs",
    "dashboard.thread_index",
    "dashboard.data_requests",
]
if DEMO:
    INSTALLED_APPS.append("dashboard.demo_upstream")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # One deadline for all of a page's upstream calls (CHATKIT_TIME_BUDGET).
    "dashboard.chatkit.deadline.UpstreamDeadlineMiddleware",
    "dashboard.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "dashboard.middleware.SessionIdleRefreshMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "dashboard.middleware.StaffOnlyMiddleware",
    "dashboard.middleware.UpstreamSlotsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Parsed once per process, in development too (restart to see template edits).
            "loaders": [
                (
                    "django.template.loaders.cached.Loader",
                    [
                        "django.template.loaders.filesystem.Loader",
                        "django.template.loaders.app_directories.Loader",
                    ],
                )
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Every transaction takes the write lock when it begins, and a writer that finds it
        # taken waits up to `timeout` seconds: concurrent writes queue instead of failing
        # with "database is locked" (a deferred transaction cannot wait to upgrade its lock).
        "transaction_mode": "IMMEDIATE",
        "timeout": env_number("DATABASE_SQLITE_TIMEOUT", 20, minimum=1),
        # Readers never wait for the writer; NORMAL is durable enough with WAL.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        **DATABASES["default"].get("OPTIONS", {}),
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails /readyz and pages in seconds, not after the OS's TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
# A Redis that hangs costs a page at most a second per call, then counts as a miss
# (threads/upstream_cache.py), instead of holding the page until the proxy gives up.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "chatkit-dashboard",
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "threads:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("DJANGO_MANIFEST_STATIC", PRODUCTION)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

DJANGO_TABLES2_TEMPLATE = "web/table.html"

# --- Security ---------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60, minimum=60)
# SessionIdleRefreshMiddleware pushes expiry forward at most once a minute, so
# SESSION_COOKIE_AGE is an idle timeout without a session write on every request.
SESSION_SAVE_EVERY_REQUEST = False
CSRF_COOKIE_HTTPONLY = True

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Load balancers probe over plain HTTP; a redirect would read as "down".
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_number("LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind a proxy every request comes from the proxy's address: without this, a lockout
# would shut out a user name for everyone (dashboard/client_address.py).
TRUSTED_PROXIES = parse_trusted_proxies(env_list("DJANGO_TRUSTED_PROXIES"))
AXES_CLIENT_IP_CALLABLE = "dashboard.client_address.client_ip"

# --- Logging: never the Authorization header; the client logs only method, path and status.

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").strip().upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # urllib3 logs request lines at DEBUG; keep it quiet whatever the root level.
        "urllib3": {"level": "WARNING"},
    },
}

# --- The ChatKit upstream -----------------------------------------------------

CHATKIT = ChatKitConfig.from_environ()
# Per process, requests that may wait on the upstream at once (dashboard/upstream_slots.py);
# fewer than gunicorn's threads (16 unless GUNICORN_THREADS says otherwise, gunicorn.conf.py),
# so health checks always find one free. 0: no cap.
UPSTREAM_CONCURRENCY_LIMIT = env_int(
    "CHATKIT_CONCURRENCY_LIMIT", max(1, env_int("GUNICORN_THREADS", 16, minimum=1) - 2)
)

AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)

# The local thread index and its background syncs (dashboard/thread_index/).
THREAD_INDEX = IndexConfig.from_environ()

# Data-subject requests (dashboard/data_requests/): export archives live in the storage
# "data_requests" (private: never under STATIC or MEDIA; swap its BACKEND for object
# storage) and are removed this many days after they were made.
DATA_REQUEST_ARCHIVE_DAYS = env_int("DATA_REQUEST_ARCHIVE_DAYS", 7, minimum=1)
STORAGES["data_requests"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {
        "location": env_str("DATA_REQUEST_ARCHIVE_DIR", str(BASE_DIR / "private" / "archives")),
        # Not served by any URL: downloads go through the dashboard's audited view.
        "base_url": None,
        "file_permissions_mode": 0o600,
        "directory_permissions_mode": 0o700,
    },
}

# --- Background jobs: huey ----------------------------------------------------------
# One task queue for every background job (index syncs, data requests). By default its queue
# is a SQLite file of its own, so one machine needs no other server; HUEY_URL moves it to
# Redis (redis://…) or PostgreSQL (postgres://…, tables made by `manage.py create_huey_tables`,
# never on import) for several workers on several machines. Exactly one consumer runs the
# scheduler (`run_huey`); every other one starts with `run_huey -n`.
HUEY_URL = env_str("HUEY_URL").strip()
_huey_common = {
    "name": "chatkit-dashboard",
    # huey defaults `immediate` to DEBUG, which would run every task inside the web process.
    "immediate": False,
    # No task's result is read; TaskLockedException results would otherwise pile up.
    "results": False,
    "utc": True,
    "consumer": {
        "workers": env_int("HUEY_WORKERS", 2, minimum=1),
        "worker_type": "thread",
        "check_worker_health": True,
    },
}
if not HUEY_URL:
    HUEY = {
        **_huey_common,
        "huey_class": "huey.SqliteHuey",
        "filename": env_str("HUEY_SQLITE_PATH", str(BASE_DIR / "huey.sqlite3")),
        # Wait for a busy queue file instead of failing.
        "timeout": 30,
    }
elif HUEY_URL.startswith(("redis://", "rediss://")):
    HUEY = {**_huey_common, "huey_class": "huey.RedisHuey", "url": HUEY_URL}
elif HUEY_URL.startswith(("postgres://", "postgresql://")):
    HUEY = {
        **_huey_common,
        "huey_class": "huey.PostgresHuey",
        "dsn": HUEY_URL,
        "create_tables": False,
    }
else:
    raise ImproperlyConfigured("HUEY_URL must be a redis:// or postgres:// URL, or empty.")
