"""Data requests on huey, the one task queue (found by djhuey's autodiscovery of `tasks`).

`run_data_request` runs a request's job in any worker. A request whose lease is taken
(another erasure of the same user, or the same request in another worker) waits and is tried
again. Each minute the scheduler's consumer runs again every request a dead worker left
behind (`resume_data_requests`), and removes expired archives (`expire_data_archives`).
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .jobs import run_request
from .models import DataRequest
from .services import archives_expire, resume_abandoned

logger = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 30


@db_task()
def run_data_request(request_id: int) -> None:
    if not DataRequest.objects.filter(pk=request_id).exists():
        logger.warning("data request %s: no such request", request_id)
        return
    if run_request(request_id) is None:
        run_data_request.schedule(args=(request_id,), delay=BUSY_RETRY_SECONDS)


@db_periodic_task(crontab(minute="*"))
def resume_data_requests() -> None:
    resume_abandoned()


@db_periodic_task(crontab(minute="*/10"))
def expire_data_archives() -> None:
    for request in archives_expire():
        logger.info("data request %s: its archive expired and was removed", request.pk)
