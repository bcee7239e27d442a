"""Delete audit events older than AUDIT_RETENTION_DAYS; run it daily (cron, a k8s CronJob)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.audit.services import audit_prune


class Command(BaseCommand):
    help = "Delete audit events older than AUDIT_RETENTION_DAYS and print how many."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Keep this many days instead (default: {settings.AUDIT_RETENTION_DAYS}).",
        )

    def handle(self, *args, dry_run: bool, days: int | None, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        count, cutoff = audit_prune(days=days, dry_run=dry_run)
        when = f"{cutoff:%Y-%m-%d %H:%M:%S} UTC"
        noun = "event" if count == 1 else "events"
        if dry_run:
            self.stdout.write(f"Would delete {count} audit {noun} older than {when} (dry run).")
        else:
            self.stdout.write(f"Deleted {count} audit {noun} older than {when}.")
