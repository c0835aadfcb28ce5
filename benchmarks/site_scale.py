"""A site of 16 serial beds in one `vigil serve`: what the server costs per bed, and what the central view costs the
browser while it follows them all.

Run as `python benchmarks/site_scale.py [--quick]`. It prints figures and never asserts timings (see
benchmarks/live_update.py for why).

Set-up, as a clinic would run it: a site.toml of 16 beds on real ptys, every other one a GE S/5 (asked for one
record a second) and the rest HL7 senders, each bed's session already holding an hour of 1 Hz vitals (written into
the store before `vigil serve` starts: serve continues a bed's open session, monitor/store/beds.py). Emulators
(tests/support.py `DrivenMonitor`, in this process: their CPU is not the server's) send each bed's HR, SpO₂ and PR
once a second, the beds staggered over the second, with an NIBP every 3 min per bed (the beds' cuffs staggered too).
HR steps by 1 each second through a 40-value cycle, so every reading changes the tile. The central view is open in
headless Chromium (1920×1080, loopback, sign-in off) and everything is measured over one span (60 s). `--quick` is a
smoke run of every step at a smaller scale (2 beds, one of each protocol, 5 min of session data, a 2-s span after
0.5 s with no page open, shorter waits): its targets are not judged.

- server CPU: utime + stime of the `vigil serve` process (all its threads) from /proc/PID/stat, Δ over wall time
  (first over a span with no page open: acquisition, commits and alarms alone; then with the central view);
  per bed = that / the beds. Its resident memory (VmRSS) at the start and end of the span, and the growth per minute.
- reading-to-tile latency: from `time.time()` right after the emulator wrote a record on the pty to the frame in
  which that bed's HR tile shows the record's value (a MutationObserver on each tile's HR text notes the DOM change
  and, in a requestAnimationFrame callback, the frame: both on the browser's wall clock,
  `performance.timeOrigin + performance.now()`; the browser–Python clock offset is printed). Includes the serial
  link's read, decoding, the commit, the stream's wake-up and the page's work. Readings never shown are counted.
- main thread: CDP `Performance.getMetrics` at both ends of the span (benchmarks/page_speed.py `measure_busy`):
  busy % (wall time, which the load of a shared machine inflates) beside the thread's CPU % (`ThreadTime`).
- bytes per bed update: the site stream's messages as the page received them (CDP
  `Network.eventSourceMessageReceived` from Chromium's performance log, so no second stream loads the server):
  the SSE text of each message (`data: …\\n\\n`, without HTTP chunk framing) over the bed updates it carries.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import select
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):  # run as a script: `monitor`, `adapters`, `benchmarks` and the test helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from benchmarks.live_update import (  # noqa: E402
    PRESET,
    chromium_version,
    clock_offset_ms,
    fill_session,
    fmt,
    pct,
    timed,
)
from benchmarks.page_speed import Busy, chrome, measure_busy, network_events  # noqa: E402
from monitor.limits.model import load_preset  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.beds import Bed  # noqa: E402
from monitor.web.site.page import tile_id  # noqa: E402
from tests.support import T0, DrivenMonitor, Processes  # noqa: E402

BEDS = 16  # a full run's; `--quick` runs QUICK_BEDS
QUICK_BEDS = 2  # one GE S/5 and one HL7 sender
NIBP_EVERY_S = 180
HR_CYCLE = 40  # HR 60..99, one step a second: consecutive readings always differ, a value recurs after 40 s
MB = 1e6
TARGET_CPU_PER_BED = 1.0  # % of one core
TARGET_P95_MS = 100.0
TARGET_BUSY = 25.0
TARGET_BYTES = 200

# Each tile's HR text: when it changed, and the frame that shows it.
OBSERVER_JS = """
window.__paints = [];
for (const [tile, bed] of Object.entries(arguments[0])) {
  const el = document.querySelector("#" + tile + " .sv-hr .sv-value");
  new MutationObserver(() => {
    const text = el.textContent, dom = performance.timeOrigin + performance.now();
    requestAnimationFrame(() => window.__paints.push([bed, text, dom, performance.timeOrigin + performance.now()]));
  }).observe(el, {childList: true, characterData: true, subtree: true});
}
"""
ALL_LIVE_JS = """
const tiles = Array.from(document.querySelectorAll(".site-tile"));
return tiles.length === arguments[0] && tiles.every((t) => t.querySelector(".st-link").textContent === "Live"
  && /[0-9]/.test(t.querySelector(".sv-hr .sv-value").textContent));
"""


def bed_id(i: int) -> str:
    return f"chair-{i + 1:02d}"


def protocol_of(i: int) -> str:
    return "ge-s5" if i % 2 == 0 else "hl7-mllp"


def hr_at(i: int, k: int) -> int:
    """Bed i's HR at scenario second k."""
    return 60 + (k + 7 * i) % HR_CYCLE


def write_scenario(path: Path, i: int, seconds: int) -> Path:
    """Bed i's scenario CSV from T0: HR/SpO₂/PR each second, an NIBP every NIBP_EVERY_S (staggered per bed)."""
    rows = ["time,sbp,dbp,map,hr,spo2,pr"]
    for k in range(seconds):
        t = (T0 + timedelta(seconds=k)).isoformat().replace("+00:00", "Z")
        cuff = ["", "", ""]
        if (k + 11 * i) % NIBP_EVERY_S == 0:
            sbp, dbp = 118 + (k // NIBP_EVERY_S) % 9, 76 + i % 5
            cuff = [str(sbp), str(dbp), str(round((sbp + 2 * dbp) / 3))]
        hr = hr_at(i, k)
        rows.append(",".join([t, *cuff, str(hr), str(96 + (k // 30) % 3), str(hr)]))
    path.write_text("\n".join(rows) + "\n")
    return path


def write_site(path: Path, monitors: list[DrivenMonitor], db: str | None = None) -> Path:
    """The site.toml of the beds on the emulators' ptys; with `db`, the site's database (chair computers)."""
    beds = []
    for i, monitor in enumerate(monitors):
        interval = "interval = 1\n" if monitor.protocol == "ge-s5" else ""
        beds.append(f'[[beds]]\nid = "{bed_id(i)}"\nlabel = "Chair {i + 1}"\nport = "{monitor.pty.path}"\n'
                    f'protocol = "{monitor.protocol}"\ntype = "{PRESET}"\n{interval}')
    database = f'db = "{db}"\n' if db else ""
    path.write_text(f'name = "Scale test clinic"\n{database}\n' + "\n".join(beds))
    return path


def prefill(db: Path | str, beds: int, length: timedelta) -> None:
    """Each bed declared, its session opened and `length` of data written, ending now: what serve continues."""
    store = Store(db)
    try:
        end = datetime.now(UTC)
        limits = load_preset(PRESET).to_dict()
        for i in range(beds):
            store.beds.declare(Bed(bed_id(i), f"Chair {i + 1}", PRESET, PRESET), "bench")
            sid, _ = store.beds.session(bed_id(i), name=f"Chair {i + 1}", who="bench", limits=limits,
                                        limits_from=end - length)
            fill_session(store, sid, end, length, source=protocol_of(i))  # the link's source: one signal
    finally:
        store.close()


class Feeder:
    """Drives every bed's emulator from one thread: bed i's record for second k goes out at k + i/beds s, and
    `writes` notes (bed, HR sent, wall ms just after the write). What the server writes back (HL7 ACKs, GE
    requests) is read and dropped, so no pty fills up."""

    def __init__(self, monitors: list[DrivenMonitor]) -> None:
        self.monitors = monitors
        self.writes: list[tuple[str, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        for monitor in self.monitors:
            monitor.take_request(0)  # a GE S/5 waits for the reader's request; an HL7 sender just starts
        self._thread.start()

    def _run(self) -> None:
        t0, k = time.monotonic(), 0
        while not self._stop.is_set():
            for i, monitor in enumerate(self.monitors):
                self._stop.wait(max(0.0, t0 + k + i / len(self.monitors) - time.monotonic()))
                monitor.send(k)
                self.writes.append((bed_id(i), hr_at(i, k), time.time() * 1000))
                while select.select([monitor.pty.master], [], [], 0)[0]:
                    os.read(monitor.pty.master, 4096)
            k += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for monitor in self.monitors:
            monitor.pty.hang_up()


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of the process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024 / MB  # type: ignore[union-attr]


def drain(pipe: object) -> None:
    """Read a pipe to its end on a thread: a server whose stderr pipe fills would block."""
    threading.Thread(target=lambda: [None for _ in pipe], daemon=True).start()  # type: ignore[attr-defined]


@dataclass
class Server:
    cpu_pct: float  # of one core, over the span
    rss_mb: tuple[float, float]  # at the start and end of the span
    seconds: float


@dataclass
class Latency:
    ms: list[float]  # write -> frame showing it
    dom_ms: list[float]  # write -> DOM changed
    missed: int
    counted: int


@dataclass
class Stream:
    messages: int
    updates: int
    bytes: int
    full: int  # snapshots among the updates (none expected once the page is up)


def latency(writes: list[tuple[str, int, float]], paints: list, t0: float, t1: float) -> Latency:
    """Match each write made in [t0, t1) to the first paint of its value on its bed after it."""
    shown: dict[str, list[tuple[str, float, float]]] = {}
    for bed, text, dom, frame in paints:
        shown.setdefault(bed, []).append((text, dom, frame))
    run = Latency([], [], 0, 0)
    for bed, value, at in writes:
        if not t0 <= at < t1:
            continue
        run.counted += 1
        # the clocks agree to a few ms (printed); a value recurs only after HR_CYCLE s
        match = next((p for p in shown.get(bed, []) if p[0] == str(value) and at - 20 <= p[1] < at + 10_000), None)
        if match is None:
            run.missed += 1
            continue
        run.dom_ms.append(match[1] - at)
        run.ms.append(match[2] - at)
    return run


def stream_bytes(events: list[dict]) -> Stream:
    found = Stream(0, 0, 0, 0)
    for e in events:
        if e["method"] != "Network.eventSourceMessageReceived":
            continue
        data = e["params"]["data"]
        updates = json.loads(data).get("u", [])
        found.messages += 1
        found.updates += len(updates)
        found.full += sum(1 for u in updates if u.get("full"))
        found.bytes += len(f"data: {data}\n\n".encode())
    return found


def start_serve(processes: Processes, site: Path, db: Path, feeder: Feeder) -> tuple[int, str]:
    """`vigil serve` of the site: (pid, base URL). The emulators start as soon as serve has opened the beds."""
    server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert server.stdout is not None and server.stderr is not None
    drain(server.stderr)
    for _ in feeder.monitors:
        line = server.stdout.readline()
        if not line.startswith("bed ") or "offline" in line:
            raise RuntimeError(f"vigil serve did not open every bed: {line!r}")
    feeder.start()
    while (line := server.stdout.readline()) and "http://" not in line:
        pass
    url = re.search(r"http://\S+", line)
    if url is None:
        raise RuntimeError("vigil serve stopped before serving")
    drain(server.stdout)
    return server.pid, url.group(0).rstrip("/")


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of a process and each of its children (a PostgreSQL server: its postmaster and backends)."""
    found = {root: cpu_seconds(root)}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == root:
                found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            continue  # gone meanwhile
    return found


class Usage:
    """CPU and memory from /proc between `start` and `stop`: one Server for each of `pids`, then one for each of
    `trees` (a process and its children, summed over those alive at both ends; memory not counted)."""

    def __init__(self, pids: list[int], trees: tuple[int, ...] = ()) -> None:
        self.pids, self.trees = pids, trees

    def _sample(self) -> tuple[list[tuple[float, float]], list[dict[int, float]], float]:
        return ([(cpu_seconds(pid), rss_mb(pid)) for pid in self.pids], [tree_cpu(root) for root in self.trees],
                time.monotonic())

    def start(self) -> None:
        self._begin = self._sample()

    def stop(self) -> list[Server]:
        (begin, trees0, wall0), (end, trees1, wall1) = self._begin, self._sample()
        wall = wall1 - wall0
        found = [Server(100 * (cpu1 - cpu0) / wall, (rss0, rss1), wall)
                 for (cpu0, rss0), (cpu1, rss1) in zip(begin, end, strict=True)]
        for before, after in zip(trees0, trees1, strict=True):
            cpu = sum(after[pid] - before[pid] for pid in before.keys() & after.keys())
            found.append(Server(100 * cpu / wall, (float("nan"), float("nan")), wall))
        return found


def acquisition_only(usage: Usage, plan: Plan) -> list[Server]:
    """The processes' CPU and memory over the span with no page open: acquisition, commits and alarms alone."""
    time.sleep(plan.settle_s)  # the links' start-up (a GE S/5's request, the first batches) is over
    usage.start()
    time.sleep(plan.idle_s)
    return usage.stop()


def open_central_view(driver: webdriver.Chrome, base: str, beds: int, settle_s: float) -> None:
    driver.get(base + "/")
    WebDriverWait(driver, 120, poll_frequency=0.2).until(lambda d: d.execute_script(ALL_LIVE_JS, beds))
    time.sleep(settle_s)  # settled: snapshots applied, trends drawn


@dataclass
class Span:
    """One measured span with the central view open: the processes' usage (in the order asked), the page's main
    thread, reading-to-tile latency, the site stream, and the span's wall-clock bounds (ms) for other figures."""
    usage: list[Server]
    busy: Busy
    latency: Latency
    stream: Stream
    t_ms: tuple[float, float]


def measure(driver: webdriver.Chrome, usage: Usage, feeder: Feeder, plan: Plan) -> Span:
    driver.execute_script(OBSERVER_JS, {tile_id(bed_id(i)): bed_id(i) for i in range(len(feeder.monitors))})
    network_events(driver)  # from here on
    t0_ms = time.time() * 1000
    usage.start()
    busy = measure_busy(driver, plan.span_s)
    servers, t1_ms = usage.stop(), time.time() * 1000
    events = network_events(driver)
    time.sleep(plan.reach_s)
    paints = driver.execute_script("return window.__paints")
    # readings written in the span's last second may not have reached the page when the span ends
    return Span(servers, busy, latency(list(feeder.writes), paints, t0_ms, t1_ms - 1000), stream_bytes(events),
                (t0_ms, t1_ms - 1000))


# -- report ---------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def usage_line(label: str, during: Server, idle: Server, beds: int) -> str:
    return (f"{label:<24}{during.cpu_pct:>8.1f}   per bed {during.cpu_pct / beds:.2f}   "
            f"(no page open: {idle.cpu_pct:.1f}, per bed {idle.cpu_pct / beds:.2f})")


def latency_line(label: str, lat: Latency, what: str = "shown") -> str:
    return (f"{label:<24}p50 {fmt(pct(lat.ms, 50))}   p95 {fmt(pct(lat.ms, 95))}   "
            f"max {fmt(max(lat.ms, default=float('nan')))}   ({lat.counted} readings, {lat.missed} never {what})")


def page_lines(span: Span) -> list[str]:
    """The central view's figures: reading to tile, the main thread, the site stream's bytes."""
    lat, busy, stream = span.latency, span.busy, span.stream
    per_update = stream.bytes / stream.updates if stream.updates else float("nan")
    return [
        latency_line("latency ms write->tile", lat)
        + f"   DOM p50/p95 {fmt(pct(lat.dom_ms, 50))}/{fmt(pct(lat.dom_ms, 95))}",
        f"main thread busy %      {busy.task:>8.1f}   cpu % {busy.cpu:.1f}   script {busy.script:.1f}   "
        f"layout {busy.layout:.1f}   style {busy.style:.1f}   heap MB {busy.heap_mb[0]:.1f} -> {busy.heap_mb[1]:.1f}",
        f"bytes/bed update        {per_update:>8.1f}   ({stream.bytes} B in {stream.messages} messages, "
        f"{stream.updates} bed updates, {stream.full} snapshots)",
    ]


def conditions(run: Run, plan: Plan) -> str:
    beds = plan.beds
    return (f"{beds} beds ({beds // 2} GE S/5 at 1 record/s, {beds // 2} HL7), HR+SpO2+PR each second per bed, NIBP "
            f"every {NIBP_EVERY_S} s per bed; sessions pre-filled with {plan.fill} each; "
            f"span {run.span.usage[0].seconds:.0f} s; "
            f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
            f"browser-python clock offset {run.offset_ms:+.1f} ms")


def report(run: Run, plan: Plan) -> None:
    server, lat, busy, stream = run.span.usage[0], run.span.latency, run.span.busy, run.span.stream
    per_bed = server.cpu_pct / plan.beds
    growth = (server.rss_mb[1] - server.rss_mb[0]) / (server.seconds / 60)
    per_update = stream.bytes / stream.updates if stream.updates else float("nan")
    p95 = pct(lat.ms, 95)
    print()
    print(usage_line("server cpu % of a core", server, run.idle[0], plan.beds))
    print(f"server rss MB           {server.rss_mb[0]:>8.1f} -> {server.rss_mb[1]:.1f}   "
          f"growth {growth:+.2f} MB/min")
    print("\n".join(page_lines(run.span)))
    print()
    print(conditions(run, plan))
    if plan.quick:
        print(f"targets: not judged: a quick run of {plan.beds} beds over {plan.span_s:g} s (run without --quick)")
        return
    print(
        f"targets: server <= {TARGET_CPU_PER_BED:g} % of a core per bed: "
        f"{verdict(per_bed <= TARGET_CPU_PER_BED)} ({per_bed:.2f} %); "
        f"latency p95 <= {TARGET_P95_MS:g} ms: {verdict(p95 <= TARGET_P95_MS and lat.missed == 0)} ({fmt(p95)} ms); "
        f"busy <= {TARGET_BUSY:g} %: {verdict(busy.task <= TARGET_BUSY)} ({busy.task:.1f} %); "
        f"<= {TARGET_BYTES} B/bed update: {verdict(per_update <= TARGET_BYTES)} ({per_update:.0f} B)"
    )


@dataclass
class Run:
    idle: list[Server]  # as `Span.usage`, with no page open
    span: Span
    offset_ms: float  # browser - python clock
    writes: list[tuple[str, int, float]]  # the feeder's


Start = Callable[[Processes, Path, list[DrivenMonitor], Feeder], tuple[Usage, str]]


def run_site(tmp: Path, db: Path | str, plan: Plan, start: Start) -> Run:
    """The emulators, the pre-filled sessions, the processes `start` runs (it starts the feeder once they have
    opened the beds, and says what to measure and where the central view is), then the spans measured."""
    span_s = plan.span_s
    timed(f"pre-fill {plan.beds} sessions with {plan.fill}", lambda: prefill(db, plan.beds, plan.fill))
    scenario_s = int(span_s) + 900  # set-up and the browser's start fit well within
    monitors = [DrivenMonitor(write_scenario(tmp / f"bed-{i}.csv", i, scenario_s), protocol_of(i))
                for i in range(plan.beds)]
    feeder = Feeder(monitors)
    processes = Processes()
    driver = chrome(watch_numerics=False)
    try:
        usage, base = start(processes, tmp, monitors, feeder)
        idle = timed(f"no page open, {plan.idle_s:g} s", lambda: acquisition_only(usage, plan))
        timed("open the central view", lambda: open_central_view(driver, base, plan.beds, plan.settle_s))
        span = timed(f"measure {span_s:.0f} s", lambda: measure(driver, usage, feeder, plan))
        offset = clock_offset_ms(driver)
        driver.get("about:blank")
    finally:
        driver.quit()
        for process in processes.running:  # SIGTERM, as Processes.stop; its pipes are being drained
            process.terminate()
            process.wait(30)
        feeder.stop()
        processes.kill_all()
    return Run(idle, span, offset, list(feeder.writes))


@dataclass(frozen=True)
class Plan:
    """What a run does: how many beds, each session's pre-fill, the span measured with the central view open and the
    one with no page open, how long the links and the page are left to settle before a span, and how long the span's
    last readings are given to reach the page after it; a quick run's targets are not judged."""
    beds: int
    fill: timedelta
    span_s: float
    idle_s: float
    settle_s: float
    reach_s: float
    quick: bool


def parse(argv: list[str] | None, description: str) -> Plan:
    """The common options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK_BEDS} beds, 5 min of session data, a 2-s span (0.5 s with no "
                        "page open)")
    parser.add_argument("--span", type=float, help="seconds measured over (default 60)")
    args = parser.parse_args(argv)
    if args.quick:
        plan = Plan(QUICK_BEDS, timedelta(minutes=5), span_s=2.0, idle_s=0.5, settle_s=0.2, reach_s=0.3, quick=True)
    else:
        plan = Plan(BEDS, timedelta(hours=1), span_s=60.0, idle_s=60.0, settle_s=3.0, reach_s=2.0, quick=False)
    logging.getLogger("adapters").setLevel(logging.ERROR)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return replace(plan, span_s=args.span, idle_s=args.span) if args.span else plan


def main(argv: list[str] | None = None) -> int:
    plan = parse(argv, __doc__.splitlines()[0])
    print("Vigil site scale benchmark" + (" (--quick)" if plan.quick else ""))
    print(f"env: {chromium_version()}, headless at 1920×1080, loopback, sign-in off")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        db = Path(tmp) / "site.db"

        def start(processes: Processes, folder: Path, monitors: list[DrivenMonitor], feeder: Feeder
                  ) -> tuple[Usage, str]:
            pid, base = timed("start vigil serve",
                              lambda: start_serve(processes, write_site(folder / "site.toml", monitors), db, feeder))
            return Usage([pid]), base

        run = run_site(Path(tmp), db, plan, start)
    report(run, plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
