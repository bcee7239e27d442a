"""The demo upstream at scale: memory and list-page latency by dataset size.

    .venv/bin/python bench/demo_upstream.py [--sizes 10000 1000000] [--repeat 200]

Memory: each size in a fresh process (serving, one page answered), its resident set
(VmRSS) against the same process with no dataset built (the interpreter and imports).
Latency: one in-process server per size, requests interleaved across sizes over a
keep-alive connection: the newest page, a page from the middle (`after=` a cursor
there), a rare hard user's page, a heavy user's page, and a page after 1,000 deletions
spread over the newest threads. Median and 10th-90th percentile in ms; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "chatkit_beta=v1"}

RSS_PROBE = """
import sys, requests
from dashboard.demo_upstream.data import make_dataset
from dashboard.demo_upstream.server import serve_in_thread
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
count = int(sys.argv[1])
if count:
    server, base = serve_in_thread(api_key="k", dataset=make_dataset(count))
    requests.get(base + "/chatkit/threads?limit=100", timeout=30,
                 headers={"Authorization": "Bearer k", "OpenAI-Beta": "chatkit_beta=v1"})
print(rss_kb())
"""


def rss_mb(count: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(count)], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.split()[-1]) / 1024


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    low, high = ms[len(ms) // 10], ms[(len(ms) * 9) // 10]
    return f"{statistics.median(ms):6.2f} ({low:.2f}-{high:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    import requests

    from dashboard.demo_upstream.data import HARD_USERS, make_dataset
    from dashboard.demo_upstream.server import serve_in_thread

    baseline = rss_mb(0)
    print(f"resident memory (interpreter and imports alone: {baseline:.1f} MB)")
    for size in args.sizes:
        built = time.perf_counter()
        rss = rss_mb(size)
        elapsed = time.perf_counter() - built
        print(f"  {size:>9,} threads: {rss:6.1f} MB, {rss - baseline:5.1f} MB above baseline "
              f"(process start to first page {elapsed:.1f} s)")  # fmt: skip

    servers = {}
    for size in args.sizes:
        dataset = make_dataset(size)
        server, base = serve_in_thread(api_key=KEY, dataset=dataset)
        heavy = max(dataset.thread_counts, key=dataset.thread_counts.__getitem__)
        middle = dataset.thread_id(size // 2)
        deleted = serve_in_thread(api_key=KEY, dataset=dataset)
        for index in range(size - 1, max(-1, size - 1 - 1000 * 7), -7):  # 1,000 holes
            deleted[0].store.delete(dataset.thread_id(index))
        servers[size] = (server, deleted[0], {
            "newest page": (base, {"limit": 100}),
            "middle page": (base, {"limit": 100, "after": middle}),
            "rare user": (base, {"limit": 100, "user": HARD_USERS[4]}),
            "heavy user": (base, {"limit": 100, "user": heavy}),
            "after deletes": (deleted[1], {"limit": 100}),
        })  # fmt: skip

    times: dict[tuple[int, str], list[float]] = {}
    with requests.Session() as session:
        session.headers.update(HEADERS)
        for _ in range(args.repeat):
            for size, (_, _, cases) in servers.items():  # interleaved: sizes share any noise
                for name, (base, params) in cases.items():
                    started = time.perf_counter()
                    response = session.get(f"{base}/chatkit/threads", params=params, timeout=30)
                    times.setdefault((size, name), []).append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
    print(f"list page over HTTP, limit=100, ms: median (p10-p90) of {args.repeat}")
    names = list(next(iter(servers.values()))[2])
    print(f"  {'':14}" + "".join(f"{size:>22,}" for size in servers))
    for name in names:
        row = "".join(f"{summary(times[(size, name)]):>22}" for size in servers)
        print(f"  {name:14}{row}")
    for server, deleted, _ in servers.values():
        server.close()
        deleted.close()


if __name__ == "__main__":
    main()
