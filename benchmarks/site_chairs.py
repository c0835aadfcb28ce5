"""A site of 16 chair computers on one PostgreSQL: each bed acquired by its own `vigil acquire --config site.toml
--bed chair-N`, the central view served by `vigil serve --config site.toml --no-acquire` — what commits take, what
each process costs, and how long a reading takes to reach its tile on the central view.

Run as `python benchmarks/site_chairs.py [--quick]`. It prints figures and never asserts timings.

The beds, emulators, scenarios, central view and spans are benchmarks/site_scale.py's (16 beds on real ptys, half
GE S/5 and half HL7, HR/SpO₂/PR each second and an NIBP every 3 min per bed, sessions pre-filled; one span with no
page open, one with the central view in headless Chromium; `--quick` as there: 2 beds, short spans), with
`db = "postgresql://…"` in the site.toml: a throwaway PostgreSQL server of our own with fsync on (tests/postgres.py),
on the same machine. Measured:

- commit, write -> stored: from `time.time()` right after the emulator wrote a record on the pty to the moment its
  HR row is readable by another connection: a reader process LISTENs on the store's change channel (every writer
  NOTIFYs after its commit) and, on each wake-up, reads the HR rows of the beds' sessions it has not seen. It
  includes the chair's serial read and decoding and its whole transaction (BEGIN, inserts, COMMIT with its WAL
  flush), and the NOTIFY's delivery to the reader.
- commit, server side: every COMMIT statement's duration on the database during the span, as PostgreSQL logs it
  (`log_min_duration_statement = 0` for that database): the WAL flush of each chair write (readings, alarms, the
  lease's heartbeat) and of each NOTIFY that follows one.
- CPU (% of a core, from /proc): the central server; each chair process (mean and max over the chairs); PostgreSQL
  (the postmaster and its backends alive at both ends of the span: so with the reader's small query on each
  NOTIFY and the logging of every statement, which a site would not have: an upper bound).
- reading-to-tile latency and the central view's main thread and bytes: as benchmarks/site_scale.py.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):  # run as a script: `monitor`, `adapters`, `benchmarks` and the test helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import sqlalchemy as sa  # noqa: E402

from benchmarks.live_update import chromium_version, fmt, pct, timed  # noqa: E402
from benchmarks.site_scale import (  # noqa: E402
    Feeder,
    Latency,
    Plan,
    Run,
    Server,
    Usage,
    bed_id,
    conditions,
    drain,
    latency,
    latency_line,
    page_lines,
    parse,
    run_site,
    usage_line,
    write_site,
)
from tests.support import DrivenMonitor, Processes, start_chair  # noqa: E402

# Prints "bed value ms" for each HR row of a bed's session once it is readable, woken by the store's NOTIFY. Rows
# may commit out of id order under concurrent writers: it looks back WINDOW ids and skips the ones it has seen.
READER = """
import sys, time
import psycopg
from monitor.store.changes import CHANNEL
WINDOW = 2000
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute(f"LISTEN {CHANNEL}")
top = conn.execute("SELECT coalesce(max(id), 0) FROM readings").fetchone()[0]
seen = set()
print("ready", flush=True)
while True:
    rows = conn.execute("SELECT r.id, s.bed_id, r.value FROM readings r JOIN sessions s ON s.id = r.session_id "
                        "WHERE r.vital = 'hr' AND s.bed_id IS NOT NULL AND r.id > %s", (top - WINDOW,)).fetchall()
    now = time.time() * 1000
    for id_, bed, value in rows:
        if id_ not in seen:
            seen.add(id_)
            print(bed, f"{value:g}", now, flush=True)
    top = max([top, *(row[0] for row in rows)])
    for _ in conn.notifies(timeout=0.5, stop_after=1):
        pass
"""
COMMIT_LOG = re.compile(r"^(\S+ \S+) UTC \[\d+\] LOG:  duration: ([\d.]+) ms  statement: COMMIT$")


class Reader:
    """The reader process (READER): when each bed's HR row became readable, as (bed, value, ms, ms) rows in the
    shape `site_scale.latency` matches against the feeder's writes."""

    def __init__(self, url: str, processes: Processes) -> None:
        """Started among `processes`, which stop it with the rest."""
        self.process = subprocess.Popen([sys.executable, "-c", READER, url], cwd=ROOT, stdout=subprocess.PIPE,
                                        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        processes.running.append(self.process)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the commit reader did not start")
        self.rows: list[tuple[str, str, float, float]] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            bed, value, ms = line.split()
            self.rows.append((bed, value, float(ms), float(ms)))


def commits_logged(log: Path, t_ms: tuple[float, float]) -> list[float]:
    """Durations (ms) of the COMMIT statements PostgreSQL logged within the span."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if (m := COMMIT_LOG.match(line)) is None:
            continue
        at_ms = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp() * 1000
        if t_ms[0] <= at_ms < t_ms[1]:
            found.append(float(m.group(2)))
    return found


def start_chairs(processes: Processes, folder: Path, monitors: list[DrivenMonitor], feeder: Feeder, url: str,
                 postmaster: int, readers: list[Reader]) -> tuple[Usage, str]:
    """The commit reader (once the sessions are pre-filled), the central `serve --no-acquire`, then one
    `acquire --bed` per bed; the feeder starts once all hold their beds. Measured: the central server, then each
    chair, then PostgreSQL."""
    readers.append(Reader(url, processes))
    site = write_site(folder / "site.toml", monitors, url)
    central = processes.start("serve", "--config", site, "--no-acquire", "--http-port", "0", "--no-auth")
    assert central.stdout is not None and central.stderr is not None
    drain(central.stderr)
    while (line := central.stdout.readline()) and "http://" not in line:
        pass
    base = re.search(r"http://\S+", line)
    if base is None:
        raise RuntimeError("the central vigil serve stopped before serving")
    drain(central.stdout)
    chairs = []
    for i in range(len(monitors)):
        chairs.append(start_chair(processes, site, bed_id(i)))
        process = processes.running[-1]
        drain(process.stdout)
        drain(process.stderr)
    feeder.start()
    return Usage([central.pid, *chairs], trees=(postmaster,)), base.group(0).rstrip("/")


@dataclass
class Figures:
    run: Run
    stored: Latency  # write -> readable by another connection
    commits_ms: list[float]  # server-side COMMIT durations in the span


def report(figures: Figures, plan: Plan) -> None:
    run, stored = figures.run, figures.stored

    def parts(usage: list[Server]) -> tuple[Server, list[Server], Server]:
        """As `start_chairs` measures them: the central server, the chairs, PostgreSQL."""
        return usage[0], usage[1:-1], usage[-1]

    central, chairs, database = parts(run.span.usage)
    central_idle, chairs_idle, database_idle = parts(run.idle)
    chair_cpu, chair_idle_cpu = [c.cpu_pct for c in chairs], [c.cpu_pct for c in chairs_idle]
    commits = figures.commits_ms
    print()
    print(latency_line("commit ms write->stored", stored, "stored"))
    print(f"commit ms server side   p50 {fmt(pct(commits, 50))}   p95 {fmt(pct(commits, 95))}   "
          f"max {fmt(max(commits, default=float('nan')))}   ({len(commits)} COMMITs in the span)")
    print(usage_line("central cpu % of a core", central, central_idle, plan.beds))
    print(f"chair cpu % of a core   mean {statistics.mean(chair_cpu):.2f}   max {max(chair_cpu):.2f}   "
          f"(no page open: mean {statistics.mean(chair_idle_cpu):.2f}, max {max(chair_idle_cpu):.2f})")
    print(usage_line("postgresql cpu % of core", database, database_idle, plan.beds))
    print("\n".join(page_lines(run.span)))
    print()
    print(f"{plan.beds} chair processes and one central server on one PostgreSQL (fsync on); " + conditions(run, plan))


def main(argv: list[str] | None = None) -> int:
    plan = parse(argv, __doc__.splitlines()[0])
    print("Vigil chair computers benchmark" + (" (--quick)" if plan.quick else ""))
    print(f"env: {chromium_version()}, headless at 1920×1080, loopback, sign-in off")
    from postgres import Cluster

    cluster = Cluster(fsync=True)
    try:
        name = cluster.new_database()
        with cluster.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET log_min_duration_statement = 0'))
        url = cluster.url(name)
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        readers: list[Reader] = []
        with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
            run = run_site(Path(tmp), url, plan, lambda processes, folder, monitors, feeder: timed(
                f"start the central server and {plan.beds} chairs", lambda: start_chairs(
                    processes, folder, monitors, feeder, url, postmaster, readers)))
        stored = latency(run.writes, readers[0].rows, *run.span.t_ms)
        figures = Figures(run, stored, commits_logged(cluster.folder / "log", run.span.t_ms))
    finally:
        cluster.stop()
    report(figures, plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
