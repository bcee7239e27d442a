"""An export's archive: one zip of a user's threads, built on disk and saved to storage.

Layout: `README.txt` (what the archive holds, for whom, when it was made), `summary.csv`
(one row per thread found: id, title, dates, status, items, file, outcome) and one JSON file
per thread under `threads/`: `{"thread": <the thread object>, "items": [<each item>]}`, both
exactly as the upstream sent them. Memory stays flat whatever the thread count: each thread's
file is written to a spooled temporary file page by page and then copied into the zip, which
itself is a temporary file on disk, streamed to storage in chunks when complete. A thread
whose transcript fails half-way thus never leaves half a file in the archive.

The API key never enters an archive: the upstream's JSON is the only foreign text written,
and any occurrence of the configured key in it is redacted.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

from dashboard.web.csv_export import neutralise

from .models import DataRequest, RequestThread

STORAGE_ALIAS = "data_requests"
REDACTED = "[redacted key]"
SUMMARY_HEADER = (
    "Thread ID",
    "Title",
    "Created (UTC)",
    "Status",
    "Items",
    "File",
    "Outcome",
    "Upstream request id",
    "Error",
)
# A thread's file is kept in memory up to this size, then spills to disk.
SPOOL_BYTES = 1 << 20


def archive_storage() -> Storage:
    return storages[STORAGE_ALIAS]


def thread_file_name(position: int, thread_id: str) -> str:
    """A safe, unique name inside the zip: ids may hold any character (`/`, `..`, NUL)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", thread_id)[:80].strip("_") or "thread"
    return f"threads/{position:05d}_{slug}.json"


def archive_name(request: DataRequest, made_at: datetime) -> str:
    return f"export-{request.pk}-{made_at:%Y%m%dT%H%M%SZ}.zip"


class ThreadFile:
    """One thread's JSON, written as its pages arrive."""

    def __init__(self, thread_json: dict[str, Any]) -> None:
        self._buffer: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self._text = io.TextIOWrapper(self._buffer, encoding="utf-8", newline="\n")
        self._text.write('{"thread": ' + _dumps(thread_json) + ', "items": [')
        self.items = 0

    def add_items(self, items: Iterable[Any]) -> None:
        for item in items:
            self._text.write((",\n  " if self.items else "\n  ") + _dumps(item))
            self.items += 1

    def finish(self) -> IO[bytes]:
        self._text.write("\n]}\n" if self.items else "]}\n")
        self._text.flush()
        self._buffer.seek(0)
        return self._buffer

    def discard(self) -> None:
        self._buffer.close()


class ArchiveBuilder:
    """The zip under construction, in a temporary file on local disk."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._zip = zipfile.ZipFile(self._file, "w", compression=zipfile.ZIP_DEFLATED)

    def add_thread(self, name: str, thread_file: ThreadFile) -> None:
        with self._zip.open(name, "w") as target:
            shutil.copyfileobj(thread_file.finish(), target)
        thread_file.discard()

    def save(
        self, *, request: DataRequest, rows: Iterable[RequestThread], names: dict[int, str]
    ) -> tuple[str, int]:
        """Add the summary and README, close the zip and save it; return (name, bytes)."""
        made_at = datetime.now(UTC).replace(microsecond=0)
        with self._zip.open("summary.csv", "w") as target:
            text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")
            _write_summary(text, rows, names)
            text.flush()
            text.detach()
        self._zip.writestr("README.txt", _readme(request, made_at))
        self._zip.close()
        size = self._file.tell()
        self._file.seek(0)
        name = archive_storage().save(archive_name(request, made_at), File(self._file))
        self._file.close()
        return name, size

    def discard(self) -> None:
        self._zip.close()
        self._file.close()


def _write_summary(text: IO[str], rows: Iterable[RequestThread], names: dict[int, str]) -> None:
    writer = csv.writer(text)
    writer.writerow(SUMMARY_HEADER)
    for row in rows:
        writer.writerow(
            [
                neutralise(row.thread_id),
                neutralise(row.title or ""),
                row.created_at.astimezone(UTC).isoformat() if row.created_at else "",
                neutralise(row.status),
                "" if row.items is None else str(row.items),
                names.get(row.pk, ""),
                row.get_outcome_display(),
                neutralise(row.upstream_request_id),
                neutralise(row.error),
            ]
        )


def _readme(request: DataRequest, made_at: datetime) -> str:
    exported = request.threads.filter(outcome="done").count()
    asked = request.created_at.astimezone(UTC)
    return f"""\
ChatKit data export
===================

End user:      {request.end_user}
Request:       #{request.pk}, ticket {request.ticket}
Requested by:  {request.requested_by_username}, {asked:%Y-%m-%d %H:%M:%S} UTC
Made at:       {made_at:%Y-%m-%d %H:%M:%S} UTC
Upstream:      {settings.CHATKIT.base_url}

What it holds
-------------
Every ChatKit thread of this end user that the upstream's thread list returned when the
export ran (listed with user=<the id above>, every page): {request.threads_found} found,
{exported} exported, {request.threads_failed} failed (see summary.csv).

- summary.csv: one row per thread found: its id, title, creation time (ISO 8601, UTC),
  status, number of items, its file in this archive, and whether it was exported.
- threads/*.json: one file per exported thread, {{"thread": ..., "items": [...]}}: the
  thread object and every item of its transcript, oldest first, exactly as the ChatKit API
  returned them (its own field names; times are Unix seconds).

Threads created after the export ran are not included. The archive is removed from the
dashboard {settings.DATA_REQUEST_ARCHIVE_DAYS} days after it was made.
"""


def _dumps(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    key = settings.CHATKIT.api_key
    return text.replace(key, REDACTED) if key else text
