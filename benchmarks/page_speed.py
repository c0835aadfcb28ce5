"""What the bed view costs the browser: a page load (bytes, requests, time to numerics) and the page's main thread
while it follows a live session (busy share, JS heap).

Run as `python benchmarks/page_speed.py [--quick] [--one-bed] [--span S]`. It prints figures and never asserts
timings (see benchmarks/live_update.py for why). Headless Debian Chromium at 1920×1080, the app on loopback,
sign-in off.

- Page load: the bed view of a session holding one hour of 1 Hz vitals (NIBP every 5 min), opened N times with
  an empty browser cache ("cold") and N times right after another load ("warm"). From Chromium's performance log
  (CDP Network events): requests made, bytes over the wire (`encodedDataLength`: headers and the body as sent),
  bytes after decoding (`dataReceived`); and the time from navigation start to the first frame in which the
  NIBP, HR and SpO₂ numerics all show a number (a `requestAnimationFrame` loop in the page). Medians over N.
- Main thread: CDP `Performance.getMetrics` before and after a fixed span (60 s) of a page that is already open,
  drawn and left to settle for 3 s: busy % = ΔTaskDuration / Δtime (and its script, layout and style parts), and
  `JSHeapUsedSize` after a forced garbage collection at both ends. Busy time is wall time, which a loaded machine
  inflates (a task descheduled midway counts whole): the main thread's CPU time (`ThreadTime`) is shown beside it.
  Two cases: one bed at 1 reading/s (HR, SpO₂, PR each second, one NIBP, a session already an hour long so the
  60-min trend is full), and the demo (`vigil demo`: the bundled IV-ketamine sample replayed at 20×, from its start).

`--quick` is a smoke run of every step: sessions 5 min long (not 1 h), one load of each kind, 0.2 s (not 1 s) after
each is drawn, 0.2 s of settling and 1-s spans; its targets are not judged.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `monitor`, `adapters`, `tests` and `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from adapters.files.csv_reader import read_session_csv  # noqa: E402
from benchmarks.live_update import (  # noqa: E402
    CHROMEDRIVER,
    PRESET,
    chromium_version,
    fmt,
    length_text,
    new_session,
    nibp,
    pct,
    second_of_data,
    serve,
    timed,
)
from monitor.config import DEMO_SAMPLE, sample_path  # noqa: E402
from monitor.limits.model import load_preset  # noqa: E402
from monitor.runtime.bed import BedSetup, open_replay  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.web.app import DashboardConfig, create_app  # noqa: E402
from monitor.web.auth import AuthSettings  # noqa: E402
from monitor.web.bed import ids  # noqa: E402
from tests.conftest import pytest_setup_options  # noqa: E402

MB = 1e6
HOUR = timedelta(hours=1)
QUICK_SESSION = timedelta(minutes=5)  # `--quick`'s sessions: shorter pages to load
DEMO_SPEED = "20"  # as `vigil demo`
NUMERICS = [ids.number(key) for key in ("bp", "hr", "spo2")]
TARGET_COLD_MB = 3.0
TARGET_NUMERICS_S = 1.0
TARGET_BUSY_1X = 2.0
TARGET_BUSY_DEMO = 50.0
SETTLE_S = 3.0  # an opened page's first messages applied and its trend drawn before a span
AFTER_LOAD_S = 1.0  # what a page fetches once drawn, counted in its load

# Runs before the page's own scripts: notes the first frame in which every numeric shows a number.
NUMERICS_JS = """
window.__numericsAt = null;
(function watch() {
  const shown = NUMERICS.every((id) => /[0-9]/.test(document.getElementById(id)?.textContent || ""));
  if (shown) window.__numericsAt = performance.now(); else requestAnimationFrame(watch);
})();
""".replace("NUMERICS", json.dumps(NUMERICS))
TREND_DRAWN_JS = (
    f"return window.__numericsAt !== null && document.querySelector('#{ids.TREND} .js-plotly-plot .main-svg') !== null"
)


@dataclass
class Load:
    requests: int
    wire_bytes: int  # as sent: headers and (compressed) bodies
    decoded_bytes: int
    numerics_s: float


@dataclass
class Busy:
    seconds: float
    task: float  # share of the span the main thread ran tasks, % (wall time: a loaded machine inflates it)
    cpu: float  # the main thread's CPU time over the span, %
    script: float
    layout: float
    style: float
    heap_mb: tuple[float, float]  # JS heap used after a forced GC, at the start and at the end
    heap_trail: list[tuple[float, float]] = field(default_factory=list)  # (s into the span, MB after a GC)


@dataclass
class Loads:
    cold: list[Load] = field(default_factory=list)
    warm: list[Load] = field(default_factory=list)


def chrome(watch_numerics: bool = True) -> webdriver.Chrome:
    """Headless Chromium as the browser tests run it, at 1920×1080, keeping CDP's Network events; with
    `watch_numerics`, every page notes when the bed view's numerics first show (NUMERICS_JS)."""
    options = pytest_setup_options()
    options.add_argument("--window-size=1920,1080")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(str(CHROMEDRIVER)) if CHROMEDRIVER.exists() else Service()
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_window_size(1920, 1080)
    if watch_numerics:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": NUMERICS_JS})
    return driver


def network_events(driver: webdriver.Chrome) -> list[dict]:
    """CDP Network events logged since the last call (reading the log empties it)."""
    messages = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [m for m in messages if m["method"].startswith("Network.")]


def load_once(driver: webdriver.Chrome, url: str, cold: bool, after_s: float) -> Load:
    driver.get("about:blank")  # closes the last load's stream
    if cold:
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    network_events(driver)
    driver.get(url)
    WebDriverWait(driver, 30, poll_frequency=0.05).until(lambda d: d.execute_script(TREND_DRAWN_JS))
    time.sleep(after_s)  # what the page fetches once drawn
    numerics_ms = driver.execute_script("return window.__numericsAt")
    events = network_events(driver)
    requests = {e["params"]["requestId"] for e in events if e["method"] == "Network.requestWillBeSent"
                and not e["params"]["request"]["url"].startswith("data:")}
    wire = sum(e["params"]["encodedDataLength"] for e in events if e["method"] == "Network.loadingFinished")
    decoded = sum(e["params"]["dataLength"] for e in events if e["method"] == "Network.dataReceived")
    return Load(len(requests), int(wire), int(decoded), numerics_ms / 1000)


def measure_loads(driver: webdriver.Chrome, url: str, n: int, after_s: float) -> Loads:
    loads = Loads()
    for _ in range(n):
        loads.cold.append(load_once(driver, url, cold=True, after_s=after_s))
        loads.warm.append(load_once(driver, url, cold=False, after_s=after_s))
    return loads


def metrics(driver: webdriver.Chrome, collect: bool) -> dict[str, float]:
    if collect:
        driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    found = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    return {m["name"]: m["value"] for m in found}


def measure_busy(driver: webdriver.Chrome, span_s: float, heap_every_s: float = 0.0) -> Busy:
    """The main thread's work over `span_s` of an open page (what feeds it runs meanwhile). The heap is read
    after a forced GC at both ends; the span's work is read before the closing GC, which is the benchmark's own
    work (a full collection of the heap, a few tenths of a percent of a minute), not the page's. With
    `heap_every_s`, the heap is also read after a forced GC that often, to show whether it grows over a long
    span (those collections are counted in the span's work: a few tenths of a percent each)."""
    driver.execute_cdp_cmd("Performance.enable", {"timeDomain": "timeTicks"})
    before = metrics(driver, collect=True)
    trail: list[tuple[float, float]] = []
    end = time.monotonic() + span_s
    while (left := end - time.monotonic()) > 0:
        if not heap_every_s or left <= heap_every_s:
            time.sleep(left)
            break
        time.sleep(heap_every_s)
        sample = metrics(driver, collect=True)
        trail.append((sample["Timestamp"] - before["Timestamp"], sample["JSHeapUsedSize"] / MB))
        print(f"  heap after {trail[-1][0] / 60:.1f} min: {trail[-1][1]:.1f} MB")
    after = metrics(driver, collect=False)
    heap_after = metrics(driver, collect=True)["JSHeapUsedSize"]
    driver.execute_cdp_cmd("Performance.disable", {})
    elapsed = after["Timestamp"] - before["Timestamp"]

    def share(name: str) -> float:
        return 100 * (after[name] - before[name]) / elapsed

    return Busy(elapsed, share("TaskDuration"), share("ThreadTime"), share("ScriptDuration"), share("LayoutDuration"),
                share("RecalcStyleDuration"), (before["JSHeapUsedSize"] / MB, heap_after / MB), trail)


def open_bed_view(driver: webdriver.Chrome, url: str, settle_s: float) -> None:
    driver.get(url)
    WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: d.execute_script(TREND_DRAWN_JS))
    time.sleep(settle_s)


@contextmanager
def one_reading_per_second(store: Store, sid: int) -> Iterator[None]:
    """HR, SpO₂ and PR written each second at the time of writing, with one NIBP after 2 s, until the block ends."""
    stop = threading.Event()

    def write() -> None:
        k, t_next = 0, time.monotonic()
        while not stop.is_set():
            now = datetime.now(UTC)
            store.samples.write(sid, second_of_data(now, k) + (nibp(now, k) if k == 2 else []))
            k += 1
            t_next += 1.0
            stop.wait(max(0.0, t_next - time.monotonic()))

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def busy_one_bed(driver: webdriver.Chrome, store: Store, span_s: float, heap_every_s: float = 0.0,
                 settle_s: float = SETTLE_S, length: timedelta = HOUR) -> Busy:
    sid = new_session(store, "one bed", datetime.now(UTC), length)
    with serve(create_app(DashboardConfig(store, lambda: sid, auth=AuthSettings(required=False)))) as url, \
            one_reading_per_second(store, sid):
        open_bed_view(driver, url, settle_s)
        result = measure_busy(driver, span_s, heap_every_s)
        driver.get("about:blank")
    return result


def busy_demo(driver: webdriver.Chrome, store: Store, span_s: float, settle_s: float = SETTLE_S) -> Busy:
    recording = read_session_csv(sample_path(DEMO_SAMPLE))
    setup = BedSetup(f"demo: {DEMO_SAMPLE}", "bed-1", DEMO_SAMPLE, "iv-ketamine", load_preset(PRESET), "bench")
    runner = open_replay(store, setup, recording, DEMO_SPEED)
    app = create_app(DashboardConfig(store, lambda: runner.session_id, runner=runner,
                                     auth=AuthSettings(required=False)))
    with serve(app) as url:
        runner.start()
        try:
            open_bed_view(driver, url, settle_s)
            result = measure_busy(driver, span_s)
            driver.get("about:blank")
        finally:
            runner.stop()
    return result


def load_session(store: Store, length: timedelta) -> int:
    return new_session(store, "page load", datetime.now(UTC), length)


# -- report ---------------------------------------------------------------------------------------


def median(loads: list[Load], get: Callable[[Load], float]) -> float:
    return pct([get(x) for x in loads], 50)


def load_row(label: str, loads: list[Load]) -> str:
    return (
        f"{label:<22}{fmt(median(loads, lambda x: x.requests)):>10}"
        f"{median(loads, lambda x: x.wire_bytes) / MB:>12.2f}{median(loads, lambda x: x.decoded_bytes) / MB:>12.2f}"
        f"{median(loads, lambda x: x.numerics_s):>12.2f}{max(x.numerics_s for x in loads):>10.2f}"
    )


def busy_row(label: str, b: Busy) -> str:
    return (
        f"{label:<22}{b.task:>8.1f}{b.cpu:>8.1f}{b.script:>9.1f}{b.layout:>9.1f}{b.style:>9.1f}"
        f"{b.heap_mb[0]:>11.1f}{b.heap_mb[1]:>9.1f}{b.seconds:>8.0f}"
    )


def busy_header() -> str:
    return (f"{'main thread':<22}{'busy %':>8}{'cpu %':>8}{'script %':>9}{'layout %':>9}{'style %':>9}"
            f"{'heap MB t0':>11}{'heap MB':>9}{'span s':>8}")


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 load each, 5-min sessions, 1-s spans")
    parser.add_argument("--loads", type=int, help="page loads of each kind (default 7)")
    parser.add_argument("--span", type=float, help="seconds the main thread is measured over (default 60)")
    parser.add_argument("--one-bed", action="store_true",
                        help="only the one bed at 1 reading/s (for back-to-back comparisons of the page's work)")
    parser.add_argument("--heap-every", type=float, default=0.0, metavar="S",
                        help="with --one-bed, also read the JS heap after a forced GC every S seconds")
    args = parser.parse_args(argv)
    if args.quick:
        n_loads, span_s, settle_s, after_s, length = 1, 1.0, 0.2, 0.2, QUICK_SESSION
    else:
        n_loads, span_s, settle_s, after_s, length = 7, 60.0, SETTLE_S, AFTER_LOAD_S, HOUR
    n_loads, span_s = args.loads or n_loads, args.span or span_s
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("monitor").setLevel(logging.ERROR)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    print("Vigil page speed benchmark" + (" (--quick)" if args.quick else ""))
    print(f"env: {chromium_version()}, headless at 1920×1080, loopback, sign-in off")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        store = Store(Path(tmp) / "bench.db")
        driver = chrome()
        try:
            if args.one_bed:
                one = timed(f"one bed, {span_s:.0f} s",
                            lambda: busy_one_bed(driver, store, span_s, args.heap_every))
                print(busy_header())
                print(busy_row("busy one bed 1x", one))
                if one.heap_trail:
                    heaps = [one.heap_mb[0]] + [mb for _, mb in one.heap_trail] + [one.heap_mb[1]]
                    print(f"heap after a forced GC, start → each {args.heap_every:.0f} s → end: "
                          + " → ".join(f"{mb:.1f}" for mb in heaps) + f" MB (range {max(heaps) - min(heaps):.1f} MB)")
                return 0
            sid = timed(f"fill a session of {length_text(length)}", lambda: load_session(store, length))
            app = create_app(DashboardConfig(store, lambda: sid, auth=AuthSettings(required=False)))
            with serve(app) as url:
                loads = timed(f"{n_loads} cold + {n_loads} warm loads",
                              lambda: measure_loads(driver, url, n_loads, after_s))
            one = timed(f"one bed, {span_s:.0f} s",
                        lambda: busy_one_bed(driver, store, span_s, settle_s=settle_s, length=length))
            demo = timed(f"demo at {DEMO_SPEED}×, {span_s:.0f} s", lambda: busy_demo(driver, store, span_s, settle_s))
        finally:
            driver.quit()
            store.close()

    print()
    print(f"{'page load (median)':<22}{'requests':>10}{'MB wire':>12}{'MB decoded':>12}{'numerics s':>12}{'max s':>10}")
    print(load_row("load cold cache", loads.cold))
    print(load_row("load warm cache", loads.warm))
    print()
    print(busy_header())
    print(busy_row("busy one bed 1x", one))
    print(busy_row(f"busy demo {DEMO_SPEED}x", demo))
    print()
    cold_mb = median(loads.cold, lambda x: x.wire_bytes) / MB
    numerics_s = median(loads.cold + loads.warm, lambda x: x.numerics_s)
    print(f"{n_loads} loads each; one bed: HR+SpO2+PR each second (+1 NIBP) on a session {length_text(length)} long, "
          "window 60 min; "
          f"demo: {DEMO_SAMPLE} at {DEMO_SPEED}× from its start; heap after a forced GC.")
    if args.quick:
        print(f"targets: not judged: a quick run, {n_loads} load(s) each and {span_s:g}-s spans (run without --quick)")
        return 0
    print(
        f"targets: cold load <= {TARGET_COLD_MB:g} MB: {verdict(cold_mb <= TARGET_COLD_MB)} ({cold_mb:.2f} MB); "
        f"numerics <= {TARGET_NUMERICS_S:g} s (median): {verdict(numerics_s <= TARGET_NUMERICS_S)} "
        f"({numerics_s:.2f} s); one bed <= {TARGET_BUSY_1X:g} % busy: {verdict(one.task <= TARGET_BUSY_1X)} "
        f"({one.task:.1f} %); demo < {TARGET_BUSY_DEMO:g} %: {verdict(demo.task < TARGET_BUSY_DEMO)} "
        f"({demo.task:.1f} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
