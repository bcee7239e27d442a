"""`manage.py run_demo_upstream`: serve fake ChatKit threads on a local port.

Point the dashboard's OPENAI_BASE_URL at the printed URL to demo or benchmark it
without an OpenAI account. This command is the only way the server starts
outside tests; nothing starts it implicitly.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.demo_upstream.data import DEFAULT_COUNT, DEFAULT_SEED, MAX_COUNT, make_dataset
from dashboard.demo_upstream.server import DEFAULT_API_KEY, make_server

API_KEY_ENV = "DEMO_UPSTREAM_API_KEY"


class Command(BaseCommand):
    help = "Serve a ChatKit-compatible demo upstream (fake threads) over HTTP."
    requires_system_checks: list[str] = []  # needs no database or other app

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind.")
        parser.add_argument("--port", type=int, default=8001, help="Port (0: any free port).")
        parser.add_argument(
            "--api-key",
            default=None,
            help=f"Bearer key clients must send (default: ${API_KEY_ENV}, else "
            f"{DEFAULT_API_KEY!r}).",
        )
        parser.add_argument(
            "--latency-ms", type=int, default=0, help="Delay every API answer this long."
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=DEFAULT_COUNT,
            help=f"How many threads to generate (up to {MAX_COUNT:,}; made on demand, "
            "about 1 byte of memory each).",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Dataset seed.")
        parser.add_argument(
            "--enable-control",
            action="store_true",
            help="Expose /__control/* (fault injection, request stats) without auth.",
        )
        parser.add_argument(
            "--live",
            action="store_true",
            help="Live mode: new threads arrive, some get locked or closed, a few are deleted.",
        )
        parser.add_argument(
            "--live-interval",
            type=float,
            default=5.0,
            help="Seconds between live mode's rounds of changes (default 5).",
        )
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="Log one line per request (and per live change) to stderr.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        api_key = options["api_key"] or os.environ.get(API_KEY_ENV) or DEFAULT_API_KEY
        if not 0 <= options["threads"] <= MAX_COUNT:
            raise CommandError(f"--threads must be from 0 to {MAX_COUNT:,}.")
        if not 0 < options["live_interval"] <= 3600:
            raise CommandError("--live-interval must be more than 0 and at most 3600 seconds.")
        if options["latency_ms"] < 0:
            raise CommandError("--latency-ms must be >= 0.")
        dataset = make_dataset(count=options["threads"], seed=options["seed"])
        try:
            server = make_server(
                options["host"],
                options["port"],
                api_key=api_key,
                latency_ms=options["latency_ms"],
                dataset=dataset,
                control=options["enable_control"],
                verbose=options["verbose"],
                live_interval=options["live_interval"] if options["live"] else None,
            )
        except OSError as exc:
            where = f"{options['host']}:{options['port']}"
            raise CommandError(f"Cannot listen on {where}: {exc}") from exc

        key_note = (
            f"the built-in demo key {DEFAULT_API_KEY!r}"
            if api_key == DEFAULT_API_KEY
            else "the key from --api-key or $" + API_KEY_ENV
        )
        self.stdout.write(
            f"Demo ChatKit upstream on {server.base_url} "
            f"({len(dataset):,} threads, {len(dataset.users)} users, seed {options['seed']}); "
            f"clients must send {key_note}."
        )
        if options["live"]:
            self.stdout.write(
                f"Live mode: new threads, status changes and deletions every "
                f"{options['live_interval']:g} s."
            )
        if options["enable_control"]:
            self.stdout.write(f"Control endpoints: {server.root_url}/__control/")
        self.stdout.write("Quit with CONTROL-C.")
        self.stdout.flush()  # whoever launched us may be waiting for the URL
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopping.")
        finally:
            server.close()
