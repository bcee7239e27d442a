"""`manage.py expire_data_archives`: remove export archives past DATA_REQUEST_ARCHIVE_DAYS
(audited), for cron. The worker does the same every ten minutes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from dashboard.data_requests.services import archives_expire


class Command(BaseCommand):
    help = "Remove data export archives past their expiry (DATA_REQUEST_ARCHIVE_DAYS)."

    def handle(self, *args: Any, **options: Any) -> None:
        removed = archives_expire()
        for request in removed:
            self.stdout.write(f"Removed the archive of {request}.")
        self.stdout.write(f"{len(removed)} archive{'s' if len(removed) != 1 else ''} removed.")
