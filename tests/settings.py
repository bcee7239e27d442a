"""The test run's settings: the real ones, with huey kept in memory.

pytest-django imports settings (and Django imports huey) before any conftest runs, so this
is the one place early enough. Immediate mode runs an enqueued task at once, in the test's
own thread, and keeps huey's queue in memory: tests are deterministic and no huey.sqlite3
appears in the repository.
"""

from dashboard.settings import *  # noqa: F403
from dashboard.settings import HUEY

HUEY = {**HUEY, "immediate": True}
