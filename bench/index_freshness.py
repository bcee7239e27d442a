"""How fresh the thread index stays with default settings, against a demo upstream that changes.

    .venv/bin/python bench/index_freshness.py [--new 6] [--changes 3] [--recent-seconds 240]

A demo upstream (in process, with its control API) plays the world; a real huey consumer
(`manage.py run_huey`, the Makefile's flags, its own SQLite queue file) runs the schedule
against a fresh SQLite app database, exactly as `make demo` does. This script only acts
upstream and reads the index's table:

- how long after the worker starts the index holds every demo thread;
- new threads created at random moments: seconds until each is in the index (target 60 s);
- status changes of recent threads: seconds until the index shows them (target 300 s);
- a thread deleted by someone else: whether the first full sweep after it marks it gone
  (`manage.py sync_threads --full`, since the scheduled sweep is a day away).

Measured in the steady state, after the start-up runs. Prints figures; asserts nothing.
Takes about twice INDEX_RECENT_SECONDS, plus a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEMO_KEY = "demo-key-not-secret"


def control(base_url: str, method: str, path: str, body=None) -> dict:
    request = Request(
        base_url.removesuffix("/v1") + "/__control" + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new", type=int, default=6, help="new threads to time")
    parser.add_argument("--changes", type=int, default=3, help="status changes to time")
    parser.add_argument("--recent-seconds", type=float, default=None, help="INDEX_RECENT_SECONDS")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    from dashboard.demo_upstream.server import serve_in_thread

    server, base_url = serve_in_thread(api_key=DEMO_KEY)
    workdir = Path(tempfile.mkdtemp(prefix="bench-freshness-"))
    database = workdir / "app.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INDEX_", "HUEY_"))},
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "HUEY_SQLITE_PATH": str(workdir / "huey.sqlite3"),
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": DEMO_KEY,
        "LOG_LEVEL": "WARNING",
    }
    if args.recent_seconds is not None:
        env["INDEX_RECENT_SECONDS"] = str(args.recent_seconds)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    worker = subprocess.Popen(
        [*manage, "run_huey", "--graceful-signal", "TERM", "--shutdown-timeout", "25", "-q"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    started = time.monotonic()
    db = sqlite3.connect(database, timeout=30)

    def indexed(thread_id: str) -> tuple | None:
        return db.execute(
            "SELECT status, gone_at FROM thread_index_indexedthread WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()

    def succeeded(kind: str) -> bool:
        return (
            db.execute(
                "SELECT COUNT(*) FROM thread_index_syncrun WHERE kind = ? AND outcome = ?",
                (kind, "succeeded"),
            ).fetchone()[0]
            > 0
        )

    def live_count() -> int:
        return db.execute(
            "SELECT COUNT(*) FROM thread_index_indexedthread WHERE gone_at IS NULL"
        ).fetchone()[0]

    try:
        total = len(server.store)
        while live_count() < total and time.monotonic() - started < args.timeout:
            time.sleep(0.2)
        print(f"thread index freshness (default schedule; demo upstream with {total:,} threads)")
        print(f"  index filled ({live_count():,} threads) {time.monotonic() - started:.1f} s "
              "after the worker started")  # fmt: skip

        # Steady state: the start-up runs (a sweep and a window skipped while the first
        # incremental pass held the lease run a tick later) are over.
        while time.monotonic() - started < args.timeout and not (
            succeeded("full") and succeeded("recent")
        ):
            time.sleep(0.5)
        rng = random.Random(7)
        new_waits: list[float] = []
        change_waits: list[float] = []
        # Recent threads to change, indexed first (as new threads), then changed at random
        # moments across one recent-window interval.
        hour_ago = int(time.time()) - 3600  # recent, and older than the fillers below
        subjects = [
            control(base_url, "POST", "/threads", {"created_at": hour_ago})["id"]
            for _ in range(args.changes)
        ]
        # A page of newer threads above them: the incremental pass re-reads the newest page
        # every 30 s (and would see their changes); only the recent window reads further.
        fillers = [control(base_url, "POST", "/threads", {})["id"] for _ in range(100)]
        while any(indexed(t) is None for t in subjects + fillers):
            time.sleep(0.2)
        window = args.recent_seconds or 240
        change_at = {t: time.monotonic() + rng.uniform(0, window) for t in subjects}
        pending_changes: dict[str, float] = {}
        pending_new = {}
        next_new = time.monotonic()
        deadline = time.monotonic() + args.timeout
        while (change_at or pending_changes or pending_new or len(new_waits) < args.new) and (
            time.monotonic() < deadline
        ):
            now = time.monotonic()
            for thread_id, moment in list(change_at.items()):
                if now >= moment:
                    control(
                        base_url, "PATCH", f"/threads/{thread_id}", {"status": {"type": "locked"}}
                    )
                    pending_changes[thread_id] = time.monotonic()
                    del change_at[thread_id]
            if len(new_waits) + len(pending_new) < args.new and now >= next_new:
                pending_new[control(base_url, "POST", "/threads", {})["id"]] = now
                next_new = now + rng.uniform(3, 17)
            for thread_id, since in list(pending_new.items()):
                if indexed(thread_id) is not None:
                    new_waits.append(time.monotonic() - since)
                    del pending_new[thread_id]
            for thread_id, since in list(pending_changes.items()):
                if (indexed(thread_id) or ("",))[0] == "locked":
                    change_waits.append(time.monotonic() - since)
                    del pending_changes[thread_id]
            time.sleep(0.2)
        for label, waits, target, missing in (
            ("new thread in the index", new_waits, 60, pending_new),
            ("recent status change in the index", change_waits, 300, pending_changes),
        ):
            unseen = f"; {len(missing)} not seen before the timeout" if missing else ""
            if waits:
                median, worst = statistics.median(waits), max(waits)
                print(f"  {label}: median {median:.1f} s, max {worst:.1f} s over {len(waits)} "
                      f"(target {target} s){unseen}")  # fmt: skip
            else:
                print(f"  {label}: none seen before the timeout")

        victim = db.execute(
            # An old thread: only a full sweep reads it again.
            "SELECT thread_id FROM thread_index_indexedthread WHERE gone_at IS NULL "
            "ORDER BY created_at LIMIT 1"
        ).fetchone()[0]
        control(base_url, "DELETE", f"/threads/{victim}")
        while True:  # the worker may hold the lease for a scheduled pass: try again
            sweep = subprocess.run(
                [*manage, "sync_threads", "--full"], cwd=ROOT, env=env, capture_output=True,
                text=True,
            )  # fmt: skip
            if sweep.returncode == 0 or "Another sync" not in sweep.stderr:
                break
            time.sleep(1)
        gone = (indexed(victim) or (None, None))[1] is not None
        print(f"  deletion by someone else: {'gone' if gone else 'NOT gone'} after the first "
              f"full sweep ({sweep.stdout.strip() or sweep.stderr.strip()})")  # fmt: skip
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=40)
        except subprocess.TimeoutExpired:
            worker.kill()
        db.close()
        server.close()


if __name__ == "__main__":
    main()
