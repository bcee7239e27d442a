"""Real servers for tests: gunicorn exactly as `make run` starts it, on a free loopback port.

A busy machine makes every step slow, never wrong: readiness is waited for on any request
error (refused, reset, timed out), and a server is always stopped, master and workers,
when the test using it fails, even while it is still starting.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# Generous: only a server that never comes up waits this long.
START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env: dict[str, str], *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
        capture_output=True, timeout=300,
    )  # fmt: skip


def wait_until_answering(url: str, process: subprocess.Popen, describe) -> None:
    """Until `url` answers 200; any request error means "not yet", an exit means never."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{describe()}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {START_SECONDS} s:\n{describe()}")


def served_env(demo_upstream, **extra: str) -> dict[str, str]:
    """The test process's environment for `make run`, against the demo upstream."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_PRODUCTION"}
    }
    return {
        **env,
        "DJANGO_MANIFEST_STATIC": "1",
        "OPENAI_BASE_URL": demo_upstream.base_url,
        "OPENAI_API_KEY": demo_upstream.api_key,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


class Gunicorn:
    """`make run`'s server (gunicorn.conf.py); use as `with Gunicorn(env) as server:`.

    Its collected static files and huey queue are its own, in a scratch directory: servers
    started side by side (pytest -n) never rewrite the files another one is serving.
    """

    def __init__(self, env: dict[str, str]) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self._scratch = tempfile.TemporaryDirectory(prefix="gunicorn-test-")
        self.env = {
            "DJANGO_STATIC_ROOT": f"{self._scratch.name}/static",
            "HUEY_SQLITE_PATH": f"{self._scratch.name}/huey.sqlite3",
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_ACCESS_LOG": "",
        }
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a full pipe would block the server's logging, and so the server.
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> Gunicorn:
        try:
            manage(self.env, "migrate", "--noinput", "-v", "0")
            manage(self.env, "collectstatic", "--noinput", "-v", "0")
            manage(self.env, "create_demo_staff")
            # On a shared database (make test-services) an earlier test may have locked the demo
            # account out on purpose; this server starts with a clean slate.
            manage(self.env, "axes_reset")
            self.process = subprocess.Popen(
                [GUNICORN, "-c", "gunicorn.conf.py"], cwd=ROOT, env=self.env,
                stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True,
            )  # fmt: skip
            wait_until_answering(f"{self.base}/healthz", self.process, self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-5000:]

    def stop(self) -> None:
        """Quick shutdown (SIGINT), then SIGKILL for whatever is left of the server's process
        group, orphaned workers included: a worker whose threads wait on a stalled upstream
        would otherwise hold the master for its whole graceful timeout."""
        if self.process is not None:
            group = self.process.pid
            if self.process.poll() is None:
                os.killpg(group, signal.SIGINT)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        self._log.close()
        self._scratch.cleanup()

    def logged_in(self, username: str = "demo", password: str = "demo-password"):
        session = requests.Session()
        answer = log_in(session, self.base, username, password)
        assert answer.status_code == 302, answer.status_code
        return session


def csrf_token(session: requests.Session, base: str) -> str:
    page = session.get(f"{base}/accounts/login/", timeout=30)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]


def log_in(session: requests.Session, base: str, username: str, password: str, token: str = ""):
    """One POST of the log-in form (fetching a CSRF token first unless given one)."""
    return session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token or csrf_token(session, base),
        },
        allow_redirects=False,
        timeout=120,
    )
