"""HL7 listener throughput and acknowledgement latency: how many monitors can one site's listener take?

Run as `python benchmarks/hl7_listener.py [--quick]`. It prints figures and never asserts timings: numbers from
a shared machine are for ranking approaches and spotting growth, not pass/fail.

What runs is what `vigil serve` runs for HL7 beds: the MLLP listener on a loopback port, one `Hl7Feed` and
`LiveRunner` per bed (alarm engine included) and a SQLite store (WAL, synchronous=FULL) in a temporary folder.
Each emulated monitor is a thread with its own TCP connection sending PCD-01 ORU^R01 messages of four readings
(HR, SpO2, pulse rate, respiration rate) that `encode_oru` writes; every message is acknowledged only after its
readings are committed, so both figures include the commit.
- throughput: 16 monitors, each sending its messages back to back with up to 16 unacknowledged at once (as a
  monitor catching up after an outage does; what one read brings is committed in one transaction);
  messages/s = all messages / time until the last ACK arrived.
- latency: 16 monitors × 1 message/s (a clinic's steady state, beds spread across the second), each message
  timed from its send to its ACK; p50/p95 in ms.
`--quick` (the tests' smoke run) does both with 4 monitors: 50 messages each, then 1 s at 1 message/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `monitor` and `adapters` importable
    sys.path.insert(0, str(ROOT))

from adapters.model.reading import Reading  # noqa: E402
from adapters.protocols import protocol  # noqa: E402
from adapters.protocols.hl7_mllp.message import encode_oru  # noqa: E402
from monitor.limits.model import load_preset  # noqa: E402
from monitor.runtime import bed as beds  # noqa: E402
from monitor.runtime.hl7 import Hl7Feed, Hl7Service  # noqa: E402
from monitor.runtime.live import LiveRunner  # noqa: E402
from monitor.store import Store  # noqa: E402

MONITORS = 16  # a full run's; `--quick` runs QUICK_MONITORS
QUICK_MONITORS = 4
WINDOW = 16
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def frames(monitor: int, n: int, first: int = 0) -> list[bytes]:
    out = []
    for k in range(first, first + n):
        t = T0 + timedelta(seconds=k)
        batch = [Reading(t, "hr", 70.0), Reading(t, "spo2", 97.0), Reading(t, "pr", 71.0), Reading(t, "rr", 14.0)]
        out.append(encode_oru(batch, control_id=str(k), sender=f"MON-{monitor}"))
    return out


class Site:
    """`monitors` HL7 beds behind one listener, as `vigil serve` runs them."""

    def __init__(self, folder: Path, monitors: int) -> None:
        spec = protocol("hl7-mllp")
        self.monitors = monitors
        self.store = Store(folder / "bench.db")
        feeds = {f"MON-{i}": Hl7Feed.of(spec, spec.name, {}) for i in range(monitors)}
        self.service = Hl7Service("127.0.0.1", 0, feeds)
        self.service.open()
        self.runners: list[LiveRunner] = []
        for i in range(monitors):
            bed = beds.LiveBed(f"chair-{i}", f"hl7_id MON-{i}", "other", load_preset("iv-ketamine"), "bench",
                               name=f"chair {i}")
            self.runners.append(beds.open_live(self.store, bed, feeds[f"MON-{i}"], device_clock=True))
        for runner in self.runners:
            runner.start()
        self.service.start()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.service.listener.port), timeout=30)

    def close(self) -> None:
        self.service.stop()
        for runner in self.runners:
            runner.stop()
        self.store.close()


def count_acks(sock: socket.socket, n: int, on_ack: object = None) -> None:
    """Read until n acknowledgements arrived; `on_ack()` after each."""
    seen, buffer = 0, b""
    while seen < n:
        data = sock.recv(1 << 16)
        if not data:
            raise RuntimeError("the listener closed the connection")
        buffer += data
        while (end := buffer.find(b"\x1c\r")) >= 0:
            buffer = buffer[end + 2:]
            seen += 1
            if callable(on_ack):
                on_ack()


def throughput(site: Site, per_monitor: int) -> tuple[float, float]:
    """All monitors back to back with WINDOW unacknowledged at most: (messages/s, seconds)."""

    def run(i: int) -> None:
        window = threading.Semaphore(WINDOW)
        with site.connect() as sock:
            reader = threading.Thread(target=count_acks, args=(sock, per_monitor, window.release))
            reader.start()
            for data in frames(i, per_monitor, first=100_000):
                window.acquire()
                sock.sendall(data)
            reader.join()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(site.monitors)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return site.monitors * per_monitor / elapsed, elapsed


def latency(site: Site, seconds: int) -> list[float]:
    """`site.monitors` × 1 message/s, spread across each second: each message's send-to-ACK time in ms."""
    times: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def run(i: int) -> None:
        with site.connect() as sock:
            for k, data in enumerate(frames(i, seconds, first=200_000)):
                due = start + k + i / site.monitors
                time.sleep(max(0.0, due - time.monotonic()))
                sent = time.perf_counter()
                sock.sendall(data)
                count_acks(sock, 1)
                with lock:
                    times.append((time.perf_counter() - sent) * 1000)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(site.monitors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_MONITORS} monitors, fewer messages and a 1 s latency run (for the tests)")
    args = parser.parse_args()
    monitors, per_monitor, seconds = (QUICK_MONITORS, 50, 1) if args.quick else (MONITORS, 500, 30)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"{monitors} monitors, SQLite store")
    with tempfile.TemporaryDirectory() as folder:
        site = Site(Path(folder), monitors)
        try:
            rate, elapsed = throughput(site, per_monitor)
            times = latency(site, seconds)
            stored = sum(site.store.samples.counts(r.session_id)[0] for r in site.runners)
        finally:
            site.close()
    expected = monitors * (per_monitor + seconds) * 4
    if stored != expected:
        print(f"stored {stored} readings, expected {expected}", file=sys.stderr)
        return 1
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"messages/s to the store       {rate:8.0f}   ({monitors}×{per_monitor} messages in {elapsed:.2f} s, "
          f"{rate * 4:.0f} readings/s)")
    print(f"ACK latency p50 ms            {p50:8.1f}   ({monitors} monitors × 1 message/s for {seconds} s)")
    print(f"ACK latency p95 ms            {p95:8.1f}")
    print(f"readings stored               {stored:8d}   (each message's, once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
