"""The benchmark scripts still run: `make bench` is not part of `make test`, so without this
a refactor could break them unnoticed. Tiny sizes; the figures are printed, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("page_cost.py", ["--repeat", "3"], "ratio"),
        (
            "status_scan.py",
            ["--threads", "2000", "--latency-ms", "0", "--repeats", "1", "--step-latency-ms", "20"],
            "first answer",
        ),
        ("upstream_calls.py", ["--views", "2", "--burst", "3"], "concurrent identical requests"),
        ("export_csv.py", ["--threads", "2000", "--max-rows", "300"], "rows/s"),
        ("demo_upstream.py", ["--sizes", "2000", "20000", "--repeat", "3"], "above baseline"),
        ("attacks.py", ["--attack", "redirect", "--bomb-mb", "8"], "third party reached 0 times"),
        (
            "index_sync.py",
            ["--threads", "300,600", "--latency-ms", "5", "--repeat", "1"],
            "peak memory at N=600",
        ),
        ("health_under_stall.py", ["--rounds", "1", "--seconds", "2", "--clients", "8"], "500s:"),
        (
            "index_pages.py",
            ["--threads", "2000", "--users", "200", "--repeat", "1", "--latency-ms", "0"],
            "page / (3 x raw sql + rest)",
        ),
        (
            "serving.py",
            ["--requests", "40", "--concurrency", "4", "--latency-ms", "0"],
            "5xx:         0",
        ),
    ],
)
def test_a_benchmark_runs_and_prints_its_figures(script, args, expected, tmp_path):
    # Files of its own: benchmarks running side by side (pytest -n) never share them.
    env = {
        **os.environ,
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "HUEY_SQLITE_PATH": str(tmp_path / "huey.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
