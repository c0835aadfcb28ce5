"""Commit → SSE message with the writer and the server in different processes, on SQLite and PostgreSQL, pushed
(the store's change watcher) against looking again every 250 ms (the stream's own timeout, all there was before).

Run as `python benchmarks/push.py [--quick]`. It prints figures and never asserts timings.

A writer process commits one HR reading at a time, at random intervals (0.2-0.6 s, so commits fall anywhere in
the stream's 250 ms), and notes `time.time()` right after each commit returns. A server process runs the live
stream (`stream_updates`, what /stream/ serves to the bed view) on the same database and notes `time.time()`
when a message with that reading is produced. Same machine, one clock. The browser's part (receiving and
drawing an SSE message) is not in these figures: benchmarks/live_update.py measures it in process.
PostgreSQL is a throwaway server of its own (tests/postgres.py; Debian's postgresql package), with fsync on.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):  # run as a script: make `monitor`, `adapters` and the tests' helpers importable
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from adapters.model.reading import Reading  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.timeutil import from_us  # noqa: E402

SERVE = """
import sys, time
from datetime import UTC
import monitor.store.changes as changes
changes.WATCH = sys.argv[3] == "push"
from monitor.store import Cursor, Store
from monitor.web.stream import stream_updates
store = Store(sys.argv[1])
store.watch_changes()
print("ready", flush=True)
for message in stream_updates(store, int(sys.argv[2]), Cursor(), UTC):
    if message.startswith("id:"):
        print(time.time(), message.split("data: ", 1)[1].strip(), flush=True)
"""


def run(db: str, mode: str, n: int) -> list[float]:
    """Latencies (ms) of `n` readings from commit in this process to the stream in a server process."""
    store = Store(db)
    sid = store.sessions.create(f"push {mode}", "live")
    server = subprocess.Popen([sys.executable, "-c", SERVE, db, str(sid), mode], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # the stream's first message and its watcher
    committed: dict[int, float] = {}
    for i in range(n):
        time.sleep(random.uniform(0.2, 0.6))
        store.samples.write(sid, [Reading(from_us(1_800_000_000_000_000 + i * 1_000_000), "hr", 1000 + i, "bench")])
        committed[1000 + i] = time.time()
    time.sleep(1.0)
    server.terminate()
    out, _ = server.communicate(timeout=30)
    latencies = []
    for line in out.splitlines():
        at, data = line.split(" ", 1)
        for _, vital, value in json.loads(data).get("r", []):
            if vital == "hr" and value in committed:
                latencies.append((float(at) - committed.pop(value)) * 1000)
    store.close()
    assert not committed, f"never streamed: {sorted(committed)}"
    return latencies


def describe(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{name:<28} n={len(ordered):<4} median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   "
            f"max {ordered[-1]:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 readings per case instead of 100")
    n = 20 if parser.parse_args().quick else 100
    from postgres import Cluster

    with tempfile.TemporaryDirectory(prefix="vigil-push-") as folder:
        cluster = Cluster(fsync=True)
        try:
            dbs = {"SQLite": str(Path(folder) / "vigil.db"), "PostgreSQL": cluster.url(cluster.new_database())}
            for engine, db in dbs.items():
                for mode in ("poll", "push"):
                    print(describe(f"{engine}, {'pushed' if mode == 'push' else 'polled (250 ms)'}",
                                   run(db, mode, n)), flush=True)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
