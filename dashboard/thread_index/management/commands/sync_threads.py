"""`manage.py sync_threads`: one incremental sync of the thread index, now, then exit."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dashboard.jobs.leases import current_lease

from ...models import SyncKind, SyncOutcome, SyncTrigger
from ...sources import current_source, lease_name
from ...sync import run_sync


class Command(BaseCommand):
    help = (
        "Sync the thread index once and exit: an incremental pass (new threads) by default, "
        "--full for a full sweep (status changes and deletions; continues an interrupted "
        "one), --recent for the recent window."
    )

    def add_arguments(self, parser):
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--full", action="store_true", help="Sweep every thread.")
        kind.add_argument(
            "--recent", action="store_true", help="Re-read threads of the last INDEX_RECENT_DAYS."
        )

    def handle(self, *args, full: bool, recent: bool, **options):
        kind = SyncKind.FULL if full else SyncKind.RECENT if recent else SyncKind.INCREMENTAL
        run = run_sync(kind=kind, trigger=SyncTrigger.COMMAND)
        if run is None:
            lease = current_lease(lease_name(current_source()))
            holder = f" (held by {lease.holder})" if lease else ""
            raise CommandError(f"Another sync of this source is running{holder}; nothing done.")
        assert run.finished_at is not None  # run_sync returns the run it finished
        seconds = (run.finished_at - run.started_at).total_seconds()
        summary = (
            f"{run.get_kind_display()} #{run.pk} {run.get_outcome_display().lower()} in "
            f"{seconds:.1f} s: {run.pages} pages, {run.calls} calls, {run.new} new, "
            f"{run.changed} changed, {run.gone} gone"
        )
        if run.skipped:
            summary += f", {run.skipped} skipped (ids too long to index)"
        if run.resumed_from_id:
            summary += f"; continued sweep #{run.resumed_from_id}"
        if run.outcome != SyncOutcome.SUCCEEDED:
            raise CommandError(f"{summary}. {run.error}")
        self.stdout.write(summary + ".")
