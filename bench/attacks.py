"""Each hostile-upstream attack against gunicorn as `make run` starts it, one line per attack.

    .venv/bin/python bench/attacks.py [--attack NAME ...] [--repeat 1]

Starts tests/hostile_server.py in its own process and gunicorn (gunicorn.conf.py, 2 workers
x 8 threads, DJANGO_MANIFEST_STATIC=1, a scratch SQLite database) on loopback, logs in as
the demo staff account and warms both workers up. Then, for each attack: switches the
upstream's mode, requests one page and reads it all (the upstream cache is off unless
CHATKIT_CACHE_TTL says otherwise, or the page would come from it), and prints the time to
answer, the status, the workers' resident memory before and after (the worker that grew
most, and its peak during the attack, from VmHWM reset through /proc/PID/clear_refs), and
whether the next normal request works. The last lines check gunicorn's log for the key and for a
forged line, and compare against the targets: every page within CHATKIT_TIME_BUDGET + 1 s
(CSV exports: CHATKIT_CSV_TIME_BUDGET + 1 s), no worker growing more than 50 MB, no 500.
Figures only: it exits 0 whatever they are. Stops both servers in every case.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from load import log_in
from serving import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dashboard.config import ChatKitConfig  # noqa: E402

PYTHON = sys.executable
MB = 1024 * 1024
GROWTH_TARGET_MB = 50
DETAIL = "/threads/cthr_000001/"
DELETE = DETAIL + "delete/"
ROW_MARK = 'class="thread-id"'


@dataclass(frozen=True)
class Attack:
    name: str
    mode: str
    path: str
    method: str = "GET"
    export: bool = False


ATTACKS = [
    Attack("trickled body, list", "trickle", "/threads/"),
    Attack("trickled body, detail (2 calls)", "trickle", DETAIL),
    Attack("trickled headers", "trickle-headers", "/threads/"),
    Attack("stall after headers", "stall", "/threads/"),
    Attack("stall before headers", "stall-headers", "/threads/"),
    Attack("endless chunked body", "endless", "/threads/"),
    Attack("gzip bomb (1 MB -> 1 GB)", "gzip-bomb", "/threads/"),
    Attack("redirect, list", "redirect", "/threads/"),
    Attack("redirect, delete", "redirect", DELETE, method="POST"),
    Attack("100,000 threads for limit=20", "oversize", "/threads/?limit=20"),
    Attack("500 threads for limit=20", "many-rows", "/threads/?limit=20"),
    Attack("4 MB of threads for limit=20", "full-rows", "/threads/?limit=20"),
    Attack("4 MB of empty objects", "dense", "/threads/?limit=20"),
    Attack("500 threads, page CSV", "many-rows", "/threads/export.csv?scope=page", export=True),
    # 1 thread in 50 is locked: 20 of them take 10 pages of 100.
    Attack("slow pages (5 s), status scan", "slow", "/threads/?status=locked"),
    # 10,000 threads: the 5,000-row cap takes 50 pages.
    Attack("slow pages (5 s), CSV all", "slow", "/threads/export.csv?scope=all", export=True),
    Attack("forged x-request-id", "forged-request-id", "/connection/"),
    Attack("key + newline in message", "forged-message", "/threads/"),
]


# --- Processes and memory -----------------------------------------------------------------


def workers_of(master: int) -> list[int]:
    """gunicorn's worker processes: the master's children."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may hold spaces and parentheses: fields follow the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master:
            children.append(int(entry.name))
    return sorted(children)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Memory:
    before: dict[int, int]
    after: dict[int, int]
    peak: dict[int, int]

    def worst(self) -> tuple[int, int, int, int | None]:
        """(pid, before, after, peak) in kB of the worker that grew most, by peak or end."""

        def growth(pid: int) -> int:
            return max(self.after[pid], self.peak.get(pid, 0)) - self.before[pid]

        pid = max(self.before, key=growth)
        return pid, self.before[pid], self.after[pid], self.peak.get(pid)


# --- One attack ---------------------------------------------------------------------------


@dataclass
class Outcome:
    attack: Attack
    seconds: float
    status: int | str
    memory: Memory
    next_ok: bool
    note: str


def set_mode(control: str, mode: str) -> None:
    requests.get(f"{control}/__mode/{mode}", timeout=10).raise_for_status()


def third_party_calls(control: str) -> int:
    seen = requests.get(f"{control}/__seen", timeout=10).json()["seen"]
    return sum(1 for _method, path in seen if path.startswith("/elsewhere/"))


def csrf_token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not match:
        raise SystemExit(f"No CSRF token on {url} (HTTP {page.status_code}).")
    return match[1]


def note_for(attack: Attack, response: requests.Response, key_forms: list[str]) -> str:
    text = response.content.decode("utf-8", "replace")
    notes = []
    if attack.export and response.status_code == 200:
        lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        data = [row for row in lines[1:] if len(row) == 6]
        notes.append(f"{len(data):,} data rows")
        if lines and len(lines[-1]) == 1:
            notes.append(lines[-1][0].split(":")[0].lstrip("# "))
    elif "/threads/" in attack.path and response.status_code == 200:
        notes.append(f"{text.count(ROW_MARK):,} rows shown")
    if "Deleted thread" in text:
        notes.append("CLAIMED A DELETION")
    if any(form in text for form in key_forms):
        notes.append("KEY SHOWN")
    elif attack.mode.startswith("forged"):
        notes.append("key not shown")
    return ", ".join(notes)


def run_attack(
    attack: Attack, *, base: str, control: str, master: int, session, key_forms
) -> Outcome:
    set_mode(control, "normal")
    token = csrf_token(session, base + DELETE) if attack.method == "POST" else ""
    workers = workers_of(master)
    before = {pid: status_kb(pid, "VmRSS") for pid in workers}
    peaks_reset = all(reset_peak(pid) for pid in workers)
    set_mode(control, attack.mode)
    started = time.monotonic()
    try:
        if attack.method == "POST":
            response = session.post(
                base + attack.path,
                data={"confirm_id": "cthr_000001", "csrfmiddlewaretoken": token},
                headers={"Referer": base + attack.path},
                timeout=300,
                allow_redirects=False,
            )
        else:
            response = session.get(base + attack.path, timeout=300)
        response.content  # noqa: B018  (the whole body, streamed exports too)
        status: int | str = response.status_code
        note = note_for(attack, response, key_forms)
    except requests.RequestException as exc:
        status, note = type(exc).__name__, ""
    seconds = time.monotonic() - started
    after = {pid: status_kb(pid, "VmRSS") for pid in workers}
    peak = {pid: status_kb(pid, "VmHWM") for pid in workers} if peaks_reset else {}
    if attack.mode == "redirect":
        note = f"third party reached {third_party_calls(control)} times"
    set_mode(control, "normal")
    check = session.get(base + "/threads/", timeout=60)
    next_ok = check.status_code == 200 and check.text.count(ROW_MARK) == 20
    return Outcome(attack, seconds, status, Memory(before, after, peak), next_ok, note)


def print_outcome(outcome: Outcome) -> None:
    pid, before, after, peak = outcome.memory.worst()
    peak_text = f"{peak / 1024:6.1f}" if peak is not None else "     ?"
    print(
        f"{outcome.attack.name:<34} {outcome.seconds:6.2f} s  {outcome.status!s:>4}  "
        f"{before / 1024:6.1f} -> {after / 1024:6.1f} MB (peak {peak_text})  "
        f"next {'ok' if outcome.next_ok else 'FAILS'}  {outcome.note}",
        flush=True,
    )


# --- The run ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attack", action="append", help="run only attacks with this in the name")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the attacks")
    parser.add_argument("--bomb-mb", type=int, default=1024, help="the gzip bomb, expanded")
    args = parser.parse_args()
    attacks = [a for a in ATTACKS if not args.attack or any(s in a.name for s in args.attack)]
    key = "sk-bench-" + secrets.token_urlsafe(36)
    key_forms = [key, key.removeprefix("sk-"), key[-8:]]
    with tempfile.TemporaryDirectory() as scratch:
        upstream_port, port = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        control = f"http://127.0.0.1:{upstream_port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CHATKIT_", "GUNICORN_"))},
            "DATABASE_URL": f"sqlite:///{scratch}/attacks.sqlite3",
            "OPENAI_API_KEY": key,
            "OPENAI_BASE_URL": f"{control}/v1",
            "DJANGO_MANIFEST_STATIC": "1",
            "DJANGO_DEMO": "true",  # create_demo_staff lives in the demo app
            "LOG_LEVEL": "INFO",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_ACCESS_LOG": "",
            "CHATKIT_CACHE_TTL": os.environ.get("CHATKIT_CACHE_TTL", "0"),
        }
        for command in (
            ["migrate", "--noinput", "-v", "0"],
            ["collectstatic", "--noinput", "-v", "0"],
            ["create_demo_staff"],
        ):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        config = ChatKitConfig.from_environ(env)
        budget, csv_budget = config.time_budget, config.csv_time_budget
        log_path = Path(scratch) / "gunicorn.log"
        with open(log_path, "wb") as log:
            upstream = subprocess.Popen(
                [PYTHON, "-m", "tests.hostile_server", "--port", str(upstream_port),
                 "--api-key", key, "--threads", "10000", "--bomb-mb", str(args.bomb_mb)],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            server = subprocess.Popen(
                [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
                cwd=ROOT, env=env, stdout=log, stderr=log,
            )  # fmt: skip
            try:
                wait_for(f"{base}/healthz")
                wait_for(f"{control}/__seen", seconds=120)  # it builds its bombs first
                outcomes = attack_all(attacks, args.repeat, base, control, server.pid, key_forms,
                                      budget, csv_budget)  # fmt: skip
            finally:
                for process in (server, upstream):
                    process.terminate()
                for process in (server, upstream):
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
        report(outcomes, log_path.read_text(errors="replace"), key_forms, budget, csv_budget)


def attack_all(attacks, repeat, base, control, master, key_forms, budget, csv_budget):
    session = log_in(base, "demo", "demo-password", timeout=30)
    # Warm both workers (imports, templates, the upstream pool) so growth is the attack's.
    for _ in range(10):
        warm = requests.Session()
        warm.cookies.update(session.cookies)
        for path in ("/threads/", DETAIL, "/connection/", "/threads/?status=locked"):
            warm.get(base + path, timeout=30, headers={"Connection": "close"})
    shape = f"gunicorn {len(workers_of(master))} workers (gunicorn.conf.py)"
    print(
        f"attacks against {shape}; CHATKIT_TIME_BUDGET {budget:g} s, "
        f"CHATKIT_CSV_TIME_BUDGET {csv_budget:g} s; memory of the worker that grew most"
    )
    outcomes = []
    for _ in range(repeat):
        for attack in attacks:
            outcome = run_attack(attack, base=base, control=control, master=master,
                                 session=session, key_forms=key_forms)  # fmt: skip
            print_outcome(outcome)
            outcomes.append(outcome)
    return outcomes


def report(outcomes, log_text, key_forms, budget, csv_budget) -> None:
    over_time = [o for o in outcomes if o.seconds > (csv_budget if o.attack.export else budget) + 1]
    growths = []
    for outcome in outcomes:
        _pid, before, after, peak = outcome.memory.worst()
        growths.append((max(after, peak or 0) - before) / 1024)
    errors = [o for o in outcomes if o.status == 500 or not isinstance(o.status, int)]
    leaked = any(form in log_text for form in key_forms)
    forged = any(line.startswith("2026-01-01 00:00:00,000") for line in log_text.splitlines())
    print(f"log: key {'FOUND' if leaked else 'absent'}; forged line "
          f"{'FOUND' if forged else 'absent'}; {len(log_text.splitlines()):,} lines")  # fmt: skip
    print(f"targets: over budget + 1 s: {len(over_time)}; worst growth (peak or end): "
          f"{max(growths, default=0):.1f} MB (target {GROWTH_TARGET_MB}); "
          f"500s or dropped: {len(errors)}; next request failed: "
          f"{sum(not o.next_ok for o in outcomes)}")  # fmt: skip


if __name__ == "__main__":
    main()
