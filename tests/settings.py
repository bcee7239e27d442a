"""The test run's settings: the real ones, with huey kept in memory.

pytest-django imports settings (and Django imports huey) before any conftest runs, so this
is the one place early enough. Immediate mode runs an enqueued task at once, in the test's
own thread, and keeps huey's queue in memory: tests are deterministic and no huey.sqlite3
appears in the repository. Subprocesses that load dashboard.settings themselves (deploy
checks) inherit a queue file in the temporary directory instead.
"""

import hashlib
import os
import tempfile
from pathlib import Path

os.environ.setdefault(
    "HUEY_SQLITE_PATH", str(Path(tempfile.gettempdir()) / "chatkit-dashboard-tests.huey.sqlite3")
)

from dashboard.settings import *  # noqa: E402, F403
from dashboard.settings import BASE_DIR, DATABASES, HUEY  # noqa: E402

HUEY = {**HUEY, "immediate": True}

# A file, not SQLite's shared in-memory database: there, a job thread's write and a page's
# read of the same table fail at once ("database table is locked": shared-cache locks ignore
# the busy timeout), where the file in WAL mode lets them wait, as in production. One file per
# checkout (pytest-django adds each xdist worker's suffix), so two clones never share one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _checkout = hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:10]
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"chatkit-dashboard-tests-{_checkout}.sqlite3")
    }
