"""Live mode: the demo upstream's data changes on its own, as if other people used ChatKit.

Every `interval` seconds 1-3 new threads arrive (created now); now and then one of the
newest threads is locked or closed with a reason, and once in a while one is deleted.
The dashboard's pages, caches and index then have real changes to follow. The changes
go through the store's own locked methods, so requests never see half of one.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable

from .data import CLOSE_REASONS, LOCK_REASONS, Thread
from .store import ThreadStore
from .validation import ApiError

RECENT = 20  # status changes and deletions pick among this many newest threads
STATUS_CHANGE_CHANCE = 0.35
DELETE_CHANCE = 0.12


def describe(verb: str, thread: Thread) -> str:
    reason = f": {thread.reason}" if thread.reason else ""
    return f"{verb} {thread.id} of {thread.user!r}{reason}"


class LiveActivity:
    """Changes a store every `interval` seconds on a daemon thread, until `stop()`."""

    def __init__(
        self,
        store: ThreadStore,
        *,
        interval: float,
        seed: int,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError("interval must be > 0")
        self.store = store
        self.interval = interval
        self._rng = random.Random(f"demo-upstream-live:{seed}")
        self._log = log
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="demo-upstream-live", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                lines = self.step()
            except Exception as exc:  # a bug here must not end live mode silently
                sys.stderr.write(f"demo upstream live mode: {type(exc).__name__}: {exc}\n")
                continue
            if self._log is not None:
                for line in lines:
                    self._log(line)

    def step(self) -> list[str]:
        """One round of changes; says what it did."""
        rng, store, done = self._rng, self.store, []
        for _ in range(rng.randint(1, 3)):
            done.append(describe("added", store.add(**store.dataset.invent(rng))))
        if rng.random() < STATUS_CHANGE_CHANCE:
            active = [t for t in store.newest(RECENT) if t.status_type == "active"]
            if active:
                victim = rng.choice(active)
                kind, reasons = rng.choice((("locked", LOCK_REASONS), ("closed", CLOSE_REASONS)))
                try:
                    changed = store.change(victim.id, status_type=kind, reason=rng.choice(reasons))
                except ApiError:  # deleted meanwhile, by a client
                    pass
                else:
                    done.append(describe(kind, changed))
        if rng.random() < DELETE_CHANCE:
            recent = store.newest(RECENT)
            if recent:
                victim = rng.choice(recent)
                if store.delete(victim.id):
                    done.append(describe("deleted", victim))
        return done
