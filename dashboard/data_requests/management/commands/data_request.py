"""`manage.py data_request export|erase USER --ticket REF --as STAFF_USERNAME [--yes]`

For privacy teams who script their requests from a ticketing system. It makes the same
request record and audit trail as the pages, then runs the same job in this process (no
worker needed), printing progress and, last, a summary. Exit status 1 when the job fails,
is cancelled, or (for an erasure) threads remain. A user id starting with "-" goes after
"--": `data_request erase --ticket T --as S --yes -- -odd-id`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.audit.services import Actor
from dashboard.chatkit.errors import ChatKitError
from dashboard.data_requests.archive import archive_storage
from dashboard.data_requests.jobs import run_request
from dashboard.data_requests.models import DataRequest, RequestKind, RequestState
from dashboard.data_requests.services import (
    DataRequestRefused,
    check_requester,
    data_request_create,
    erasure_dry_run,
)

KINDS = {"export": RequestKind.EXPORT, "erase": RequestKind.ERASURE}
PROGRESS_EVERY = 10


class Command(BaseCommand):
    help = "Export or erase every ChatKit thread of one end user, as an audited data request."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=sorted(KINDS), help="export or erase")
        parser.add_argument("user", help="The end user's id, exactly (quote it).")
        parser.add_argument("--ticket", required=True, help="The ticket this request comes from.")
        parser.add_argument(
            "--as",
            dest="staff",
            required=True,
            metavar="STAFF_USERNAME",
            help="The active staff account the request is made by (erase: with the delete "
            "permission).",
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="erase: really delete. Without it, erase prints the dry run and deletes nothing.",
        )

    def handle(self, *args: Any, action: str, user: str, ticket: str, staff: str, yes: bool,
               **options: Any) -> None:  # fmt: skip
        kind = KINDS[action]
        actor = self._actor(staff, kind)
        if kind == RequestKind.ERASURE and not yes:
            self._dry_run(actor, user)
            return
        try:
            request = data_request_create(
                actor=actor, kind=kind, end_user=user, ticket=ticket, enqueue=False
            )
        except DataRequestRefused as refused:
            raise CommandError(refused.message) from None
        self.stdout.write(f"{request} (ticket {request.ticket}) created; running it here.")
        finished = run_request(request.pk, on_progress=self._progress)
        if finished is None:
            raise CommandError(
                f"Another job holds request #{request.pk}'s lease (an erasure of the same "
                "user?). It stays pending; a worker runs it once the other job ends."
            )
        self._summary(finished)

    def _actor(self, username: str, kind: RequestKind) -> Actor:
        account = get_user_model().objects.filter(username=username).first()
        if account is None:
            raise CommandError(f"--as: there is no account named {username!r}.")
        if problem := check_requester(account, kind):
            raise CommandError(f"--as {username}: {problem}")
        return account

    def _dry_run(self, actor: Actor, user: str) -> None:
        try:
            dry_run = erasure_dry_run(actor=actor, end_user=user)
        except DataRequestRefused as refused:
            raise CommandError(refused.message) from None
        except ChatKitError as error:
            raise CommandError(f"The dry run could not list the user's threads: {error}") from None
        more = "" if dry_run.complete else " (and more: the listing stopped early)"
        self.stdout.write(f"Dry run: {len(dry_run.threads)} threads of {user!r}{more}:")
        for thread in dry_run.threads:
            title = thread.title if thread.title else "(untitled)"
            self.stdout.write(f"  {thread.id}  {thread.created_at:%Y-%m-%d %H:%M} UTC  {title!r}")
        self.stdout.write("Nothing was deleted. Run again with --yes to erase these threads.")

    def _progress(self, request: DataRequest) -> None:
        settled = request.threads_done + request.threads_failed
        if settled % PROGRESS_EVERY == 0 or settled == request.threads_found:
            verb = "deleted" if request.kind == RequestKind.ERASURE else "exported"
            failed = f", {request.threads_failed} failed" if request.threads_failed else ""
            self.stdout.write(f"  {request.threads_done}/{request.threads_found} {verb}{failed}")

    def _summary(self, request: DataRequest) -> None:
        self.stdout.write(f"{request}: {request.get_state_display().lower()}.")
        if request.error:
            self.stdout.write(f"  Error: {request.error}")
        if request.failure_request_ids:
            self.stdout.write(f"  Upstream request ids: {', '.join(request.failure_request_ids)}")
        if request.kind == RequestKind.EXPORT:
            if request.archive_name:
                self.stdout.write(f"  Threads: {request.threads_done} exported, "
                                  f"{request.threads_failed} failed.")  # fmt: skip
                self.stdout.write(f"  Archive: {_archive_location(request.archive_name)}")
            problem = request.state != RequestState.DONE
        else:
            gone = request.threads.filter(outcome="gone").count()
            remaining = request.remaining_threads
            self.stdout.write(
                f"  Deleted: {request.threads_done - gone} (and {gone} already gone); "
                f"failed: {request.threads_failed}; remaining: "
                f"{'unknown (not verified)' if remaining is None else remaining}."
            )
            problem = request.state != RequestState.DONE or remaining != 0
        if problem:
            raise CommandError(f"{request} did not complete cleanly.", returncode=1)


def _archive_location(name: str) -> str:
    storage = archive_storage()
    try:
        return storage.path(name)
    except NotImplementedError:  # object storage: the name in it
        return name
