"""gunicorn (gthread) + WhiteNoise under a bounded loopback load, against the demo upstream.

    .venv/bin/python bench/serving.py [--requests 2000] [--concurrency 20] [--latency-ms 0 200]

For each upstream latency (and once more at the last latency with the cache off), starts
the demo upstream and gunicorn exactly as `make run` does (gunicorn.conf.py: 2 workers x
16 threads), on a scratch SQLite database, then runs bench/load.py: a fixed number of
requests from a fixed number of keep-alive clients over a mix of list, filter, status
and per-user pages. Prints requests/s, latency percentiles, errors and upstream calls.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.request import Request, urlopen

from common import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEMO_KEY = "demo-key-not-secret"


def upstream_calls(control: str, reset: bool = False) -> int:
    request = Request(control + ("/stats/reset" if reset else "/stats"),
                      method="POST" if reset else "GET", data=b"" if reset else None)  # fmt: skip
    with urlopen(request) as answer:
        return json.loads(answer.read())["requests"]


def run_once(args, env: dict[str, str], latency: int, ttl: float) -> None:
    upstream_port, port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    control = f"http://127.0.0.1:{upstream_port}/__control"
    env = {
        **env,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "CHATKIT_CACHE_TTL": str(ttl),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    upstream = subprocess.Popen(
        [PYTHON, "manage.py", "run_demo_upstream", "--port", str(upstream_port),
         "--latency-ms", str(latency), "--enable-control", "--api-key", DEMO_KEY],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env
    )
    try:
        wait_for(f"{base}/healthz")
        wait_for(f"{control}/stats")
        upstream_calls(control, reset=True)
        shape = f"{env['GUNICORN_WORKERS']} workers x {env['GUNICORN_THREADS']} threads"
        print(f"\n--- upstream {latency} ms, CACHE_TTL {ttl:g} s, gunicorn {shape}", flush=True)
        subprocess.run(
            [PYTHON, "bench/load.py", "--url", base, "--requests", str(args.requests),
             "--concurrency", str(args.concurrency), "--duration-cap", str(args.duration_cap)],
            cwd=ROOT, env=env, check=False,
        )  # fmt: skip
        print(f"upstream:    {upstream_calls(control):,} calls", flush=True)
    finally:
        for process in (server, upstream):
            process.terminate()
        for process in (server, upstream):
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration-cap", type=float, default=120)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 200])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
            "DJANGO_DEMO": "true",  # run_demo_upstream and create_demo_staff live in the demo app
            "OPENAI_API_KEY": DEMO_KEY,
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": "",
            "GUNICORN_LOG_LEVEL": "warning",
            "GUNICORN_WORKERS": os.environ.get("GUNICORN_WORKERS", "2"),
            "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "16"),
        }
        for command in (["migrate", "--noinput", "-v", "0"], ["create_demo_staff"]):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        for latency in args.latency_ms:
            run_once(args, env, latency, ttl=5.0)
        run_once(args, env, args.latency_ms[-1], ttl=0.0)


if __name__ == "__main__":
    main()
