"""The test run's settings: the real ones, with huey kept in memory.

pytest-django imports settings (and Django imports huey) before any conftest runs, so this
is the one place early enough. Immediate mode runs an enqueued task at once, in the test's
own thread, and keeps huey's queue in memory: tests are deterministic and no huey.sqlite3
appears in the repository. Subprocesses that load dashboard.settings themselves (deploy
checks) inherit a queue file in the temporary directory instead.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault(
    "HUEY_SQLITE_PATH", str(Path(tempfile.gettempdir()) / "chatkit-dashboard-tests.huey.sqlite3")
)

from dashboard.settings import *  # noqa: E402, F403
from dashboard.settings import HUEY  # noqa: E402

HUEY = {**HUEY, "immediate": True}
