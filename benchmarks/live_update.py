"""Live-update cost of the bed view: ours (SSE push of what is new) against the conventional Dash way.

Run as `python benchmarks/live_update.py [--quick]`. It prints figures and never asserts timings:
numbers from a shared CI box are for ranking approaches and spotting growth, not pass/fail.

What is measured (the README's Benchmarks; docs/architecture.md, "The dashboard: built once, then pushed"):
- bytes and server time per live update (one new second of HR + SpO2 + PR, one `store.write`) with
  the session at 0 min and at 2 h of stored data — they must stay flat for ours. Ours drives
  `stream_updates` directly (bytes = the SSE message text, time = the `next()` after the commit);
  the conventional app (a `dcc.Interval(1000)` callback that rereads the window and returns the whole
  figure plus the HR numeric) is called through Flask's test client (bytes = response body,
  time = the request). Both are measured on the same store state, update by update.
- reading-to-screen latency in headless Chromium at 1 reading/s: from `time.time()` right after
  `store.write` returns (commit) to the frame in which `#num-hr` shows that value (a MutationObserver
  plus `requestAnimationFrame` in the page; same machine, so both clocks are the system clock).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `monitor`, `adapters` and `tests` importable
    sys.path.insert(0, str(ROOT))

import dash  # noqa: E402
import plotly  # noqa: E402
from dash import Dash, Input, Output, dcc, html  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from werkzeug.serving import BaseWSGIServer, make_server  # noqa: E402

from adapters.model.reading import Event, Reading  # noqa: E402
from monitor.limits.model import load_preset  # noqa: E402
from monitor.session.limit_lines import stored_limit_lines  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.web.app import DashboardConfig, create_app  # noqa: E402
from monitor.web.auth import AuthSettings  # noqa: E402
from monitor.web.bed import figures  # noqa: E402
from monitor.web.stream import stream_updates  # noqa: E402
from tests.conftest import pytest_setup_options  # noqa: E402  (one definition of the browser flags)

PRESET = "iv-ketamine"
WINDOW = DashboardConfig.window  # the bed view's default visible window (1 h): same for both apps
SOURCE = "bench"
LONG = timedelta(hours=2)
QUICK_LATENCY_SESSION = timedelta(minutes=5)  # `--quick`'s latency session: a shorter page to load
NIBP_EVERY_S = 300
WARMUP = 3  # first updates/readings dropped: connection set-up, caches, Flask's first request (`--quick`: none)
SETTLE_S = 1.0  # an opened page left to settle (first figure drawn, first interval ticks) before the first reading
TAIL_S = 2.5  # after the last reading: the conventional app may show it only after its next poll
CHROMEDRIVER = Path("/usr/bin/chromedriver")
KB = 1024
TARGET_BYTES = 1 * KB
TARGET_P95_MS = 100.0

ROW_BYTES_0 = "bytes/update @0 min"
ROW_BYTES_2H = "bytes/update @2 h"
ROW_SERVER_0 = "server ms/update @0 min"
ROW_SERVER_2H = "server ms/update @2 h"
ROW_LATENCY = "latency ms @1 reading/s"

# Conventional app ids: the numeric and its tile carry the same ids as ours so one observer fits both.
CONV_OUTPUTS = (("trend", "figure"), ("num-hr", "children"))
CONV_INPUT = ("tick", "n_intervals")

# Wraps EventSource before the page's scripts run, to time each SSE message's arrival in the page.
SSE_SPY_JS = """
(() => {
  window.__sse = [];
  const Native = window.EventSource;
  function Spied(url, init) {
    const es = new Native(url, init);
    es.addEventListener("message", (e) => window.__sse.push([performance.timeOrigin + performance.now(), e.data]));
    return es;
  }
  Spied.prototype = Native.prototype;
  window.EventSource = Spied;
})();
"""

# Records each new #num-hr text: when the DOM changed and the frame that paints it (rAF callback).
OBSERVER_JS = """
window.__paints = [];
let last = document.getElementById("num-hr").textContent;
new MutationObserver(() => {
  const text = document.getElementById("num-hr").textContent;
  if (text === last) return;
  last = text;
  const dom = performance.timeOrigin + performance.now();
  requestAnimationFrame(() => window.__paints.push([text, dom, performance.timeOrigin + performance.now()]));
}).observe(document.getElementById("tile-hr"), {childList: true, characterData: true, subtree: true});
window.__plotly = [];  // synchronous time of each Plotly redraw: where the main thread goes
for (const name of ["extendTraces", "react"]) {
  const fn = window.Plotly && window.Plotly[name];
  if (!fn) continue;
  window.Plotly[name] = function (...args) {
    const t0 = performance.now();
    try { return fn.apply(this, args); } finally { window.__plotly.push([name, performance.now() - t0]); }
  };
}
"""


# -- statistics ---------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no data, so tables still print."""
    if not values:
        return math.nan
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass
class Series:
    """Samples of one measure for ours and for the conventional app."""

    ours: list[float] = field(default_factory=list)
    conv: list[float] = field(default_factory=list)


# -- data -----------------------------------------------------------------------------------------


def second_of_data(t: datetime, k: int, source: str = SOURCE) -> list[Reading]:
    """One second of continuous vitals, plausible and integer like a monitor's (2-3 digit values)."""
    hr = 74 + round(6 * math.sin(k / 90))
    return [
        Reading(t, "hr", float(hr), source),
        Reading(t, "spo2", float(97 + (k // 40) % 3 - 1), source),
        Reading(t, "pr", float(hr + k % 2), source),
    ]


def nibp(t: datetime, k: int, source: str = SOURCE) -> list[Reading]:
    sbp, dbp = 124 + k % 9, 79 + k % 5
    return [
        Reading(t, "sbp", float(sbp), source),
        Reading(t, "dbp", float(dbp), source),
        Reading(t, "map", float(round((sbp + 2 * dbp) / 3)), source),
    ]


def new_session(store: Store, name: str, end: datetime, length: timedelta) -> int:
    """A session holding `length` of data ending just before `end` (1 Hz vitals, NIBP every 5 min)."""
    sid = store.sessions.create(name, "live", bed="bed-1")
    store.limits.save(sid, load_preset(PRESET).to_dict(), end - length, "benchmark")
    fill_session(store, sid, end, length)
    return sid


def fill_session(store: Store, sid: int, end: datetime, length: timedelta, source: str = SOURCE) -> None:
    """Write `length` of data ending just before `end` into session `sid`: a dose at its start, 1 Hz vitals,
    NIBP every 5 min, all from `source` (a live bed's own source name, or its alarm engine misses that source)."""
    start = end - length
    store.samples.write(sid, [], [Event(start, "dose_start", source=source)])
    seconds = int(length.total_seconds())
    chunk = 600
    for first in range(0, seconds, chunk):
        batch: list[Reading] = []
        for k in range(first, min(first + chunk, seconds)):
            t = start + timedelta(seconds=k)
            batch += second_of_data(t, k, source)
            if k % NIBP_EVERY_S == 0:
                batch += nibp(t, k, source)
        store.samples.write(sid, batch)


# -- the conventional app -------------------------------------------------------------------------


def conventional_app(store: Store, sid: int) -> Dash:
    """The same bed trend done the documented Dash way: poll every second, reread, return everything."""
    app = Dash(__name__, title="Vigil (conventional)", update_title=None, serve_locally=True)
    app.layout = html.Div([
        html.Div(id="tile-hr", children=[html.Span("HR"), html.Span("--", id="num-hr")]),
        dcc.Graph(id="trend", config={"displaylogo": False}),
        dcc.Interval(id="tick", interval=1000),
    ])

    @app.callback(*(Output(i, p) for i, p in CONV_OUTPUTS), Input(*CONV_INPUT))
    def refresh(_n: int | None) -> tuple[Any, str]:
        latest = store.samples.latest(sid)
        newest = max((r.time for r in latest.values()), default=None)
        start = None if newest is None else newest - WINDOW
        window = store.samples.readings(sid, start, None)
        fig = figures.trend_figure(window, store.samples.events(sid), stored_limit_lines(store, sid), UTC)
        hr = latest.get("hr")
        return fig, "--" if hr is None else f"{hr.value:g}"

    return app


def conventional_request() -> dict:
    """The body Dash's renderer posts to `/_dash-update-component` when the Interval fires."""
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in CONV_OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in CONV_OUTPUTS],
        "inputs": [{"id": CONV_INPUT[0], "property": CONV_INPUT[1], "value": 1}],
        "changedPropIds": [".".join(CONV_INPUT)],
        "state": [],
    }


# -- bytes and server time per update -------------------------------------------------------------


def measure_updates(store: Store, sid: int, t_first: datetime, n: int, warmup: int) -> tuple[Series, Series]:
    """(bytes, server ms) per update: after each commit, ours' next SSE message and one conventional poll; the
    first `warmup` updates are not counted."""
    client = conventional_app(store, sid).server.test_client()
    body = conventional_request()
    gen = stream_updates(store, sid, store.samples.cursor(sid), UTC)
    next(gen)  # "retry:" preamble
    next(gen)  # first message: the session clock
    sizes, times = Series(), Series()
    try:
        for i in range(warmup + n):
            store.samples.write(sid, second_of_data(t_first + timedelta(seconds=i), 10_000 + i))
            t0 = time.perf_counter()
            message = next(gen)
            ours_ms = (time.perf_counter() - t0) * 1000
            if '"hr"' not in message:
                raise RuntimeError(f"expected a data message after a commit, got {message!r}")
            t0 = time.perf_counter()
            response = client.post("/_dash-update-component", json=body)
            conv_ms = (time.perf_counter() - t0) * 1000
            if response.status_code != 200 or b'"figure"' not in response.data:
                raise RuntimeError(f"conventional callback failed: {response.status_code} {response.data[:300]!r}")
            if i >= warmup:
                sizes.ours.append(len(message.encode()))
                sizes.conv.append(len(response.data))
                times.ours.append(ours_ms)
                times.conv.append(conv_ms)
    finally:
        gen.close()
    return sizes, times


# -- reading-to-screen latency in Chromium --------------------------------------------------------


@contextmanager
def serve(app: Dash) -> Iterator[str]:
    """The app on a loopback port with werkzeug's threaded server (one thread per request/stream)."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def chrome() -> webdriver.Chrome:
    service = Service(str(CHROMEDRIVER)) if CHROMEDRIVER.exists() else Service()
    return webdriver.Chrome(service=service, options=pytest_setup_options())


@dataclass
class LatencyRun:
    latency_ms: list[float]  # commit -> frame showing the value
    to_dom_ms: list[float]  # commit -> DOM text changed
    to_message_ms: list[float]  # commit -> SSE message received in the page (ours only)
    missed: int  # readings never shown (e.g. overwritten between two polls)
    counted: int
    plotly_ms: dict[str, list[float]]  # synchronous Plotly.extendTraces / Plotly.react time per call


def run_latency(
    driver: webdriver.Chrome, url: str, ready_js: str, store: Store, sid: int, values: Iterator[int], n: int,
    warmup: int, settle_s: float, tail_s: float,
) -> LatencyRun:
    """Write one HR reading per second and match each commit to the frame that shows it, by value; the first
    `warmup` readings are not counted."""
    driver.get(url)
    WebDriverWait(driver, 90, poll_frequency=0.1).until(lambda d: d.execute_script(ready_js))
    time.sleep(settle_s)
    driver.execute_script(OBSERVER_JS)
    commits: list[tuple[int, float]] = []
    t_next = time.monotonic()
    for _ in range(warmup + n):
        t_next += 1.0
        time.sleep(max(0.0, t_next - time.monotonic()))
        value = next(values)
        store.samples.write(sid, [Reading(datetime.now(UTC), "hr", float(value), SOURCE)])
        commits.append((value, time.time() * 1000))
    time.sleep(tail_s)
    paints: dict[str, tuple[float, float]] = {}
    for text, dom, frame in driver.execute_script("return window.__paints"):
        paints.setdefault(text, (dom, frame))
    arrivals: dict[int, float] = {}
    for t, data in driver.execute_script("return window.__sse || []"):
        for _t, vital, value in json.loads(data).get("r", []):
            if vital == "hr":
                arrivals.setdefault(int(value), t)
    run = LatencyRun([], [], [], 0, 0, {})
    for name, ms in driver.execute_script("return window.__plotly"):
        run.plotly_ms.setdefault(name, []).append(ms)
    for value, commit in commits[warmup:]:
        run.counted += 1
        shown = paints.get(str(value))
        if shown is None:
            run.missed += 1
            continue
        run.to_dom_ms.append(shown[0] - commit)
        run.latency_ms.append(shown[1] - commit)
        if value in arrivals:
            run.to_message_ms.append(arrivals[value] - commit)
    driver.get("about:blank")  # closes ours' EventSource before its server goes away
    return run


def clock_offset_ms(driver: webdriver.Chrome) -> float:
    """Browser high-resolution wall clock minus Python's, to show the latency clocks agree."""
    t0 = time.time() * 1000
    browser = driver.execute_script("return performance.timeOrigin + performance.now()")
    t1 = time.time() * 1000
    return browser - (t0 + t1) / 2


# -- report ---------------------------------------------------------------------------------------


def fmt(v: float) -> str:
    if math.isnan(v):
        return "n/a"
    if v >= 100:
        return f"{v:,.0f}".replace(",", " ")
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def ratio(a: float, b: float) -> str:
    return "n/a" if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.3g}"


def table_row(label: str, s: Series) -> str:
    o50, o95, c50, c95 = pct(s.ours, 50), pct(s.ours, 95), pct(s.conv, 50), pct(s.conv, 95)
    return (
        f"{label:<26}{fmt(o50):>10}{fmt(o95):>10}{fmt(c50):>12}{fmt(c95):>10}"
        f"{ratio(o50, c50):>10}{ratio(o95, c95):>10}"
    )


def length_text(length: timedelta) -> str:
    """A session's length as the reports give it: "2 h", "5 min"."""
    minutes = length.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"


def chromium_version() -> str:
    for binary in ("chromium", "/usr/bin/chromium"):
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.strip():
            return out.strip()
    return "unknown"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(what: str, fn: Callable[[], Any]) -> Any:
    t0 = time.monotonic()
    result = fn()
    log(f"  {what}: {time.monotonic() - t0:.1f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 updates and 1 reading, no warm-up, shorter waits around the reading, "
                        "a 5-min latency session")
    args = parser.parse_args(argv)
    if args.quick:
        n_updates, n_readings, warmup, settle_s, latency_length = 2, 1, 0, 0.0, QUICK_LATENCY_SESSION
        # the second before the reading settles the page; ours shows it within ms, conventional at its next poll
        ours_tail_s, conv_tail_s = 0.3, 1.5
    else:
        n_updates, n_readings, warmup, settle_s, latency_length = 50, 30, WARMUP, SETTLE_S, LONG
        ours_tail_s = conv_tail_s = TAIL_S
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access-log line per poll
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # keeps order with stderr progress

    print("Vigil live-update benchmark" + (" (--quick)" if args.quick else ""))
    print(
        f"env: {os.cpu_count()} CPUs, Python {platform.python_version()} on {platform.platform()}, "
        f"{chromium_version()}, dash {dash.__version__}, plotly {plotly.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        store = Store(Path(tmp) / "bench.db")
        try:
            log("bytes and server time per update (ours: stream_updates; conventional: test client)")
            now = datetime.now(UTC).replace(microsecond=0)
            sizes: dict[str, Series] = {}
            times: dict[str, Series] = {}
            for label, length in (("0 min", timedelta(0)), ("2 h", LONG)):
                sid = timed(f"fill session @{label}", lambda n=label, d=length: new_session(store, n, now, d))
                sizes[label], times[label] = timed(
                    f"{warmup + n_updates} updates @{label}",
                    lambda s=sid: measure_updates(store, s, now, n_updates, warmup),
                )

            log("reading-to-screen latency in headless Chromium, 1 reading/s, "
                f"session at {length_text(latency_length)}")
            sid = timed("fill latency session",
                        lambda: new_session(store, "latency", datetime.now(UTC), latency_length))
            values = (60 + k % 120 for k in range(10**6))  # distinct consecutive HR values to match paints
            driver = chrome()
            try:
                driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SSE_SPY_JS})
                ours_app = create_app(DashboardConfig(store, lambda: sid, auth=AuthSettings(required=False)))
                with serve(ours_app) as url:
                    ours = timed("ours", lambda: run_latency(
                        driver, url, "return document.getElementById('link-status')?.textContent === 'Live'",
                        store, sid, values, n_readings, warmup, settle_s, ours_tail_s,
                    ))
                with serve(conventional_app(store, sid)) as url:
                    conv = timed("conventional", lambda: run_latency(
                        driver, url,
                        "const e = document.getElementById('num-hr'); return e && e.textContent !== '--'"
                        " && document.querySelector('#trend .main-svg') !== null",
                        store, sid, values, n_readings, warmup, settle_s, conv_tail_s,
                    ))
                offset = clock_offset_ms(driver)
            finally:
                driver.quit()
        finally:
            store.close()

    print()
    print(f"{'':<26}{'ours':^20}{'conventional':^22}{'ours/conventional':^20}")
    print(f"{'':<26}{'median':>10}{'p95':>10}{'median':>12}{'p95':>10}{'median':>10}{'p95':>10}")
    print(table_row(ROW_BYTES_0, sizes["0 min"]))
    print(table_row(ROW_BYTES_2H, sizes["2 h"]))
    print(table_row(ROW_SERVER_0, times["0 min"]))
    print(table_row(ROW_SERVER_2H, times["2 h"]))
    print(table_row(ROW_LATENCY, Series(ours.latency_ms, conv.latency_ms)))
    print()
    print(
        f"{n_updates} updates per session length (+{warmup} warm-up), each = HR+SpO2+PR for one second, one commit; "
        f"ours bytes = SSE message text, conventional = response body (both without HTTP headers/chunk framing; "
        f"the conventional app also sends a {len(json.dumps(conventional_request()))}-byte request per poll)."
    )
    print(
        f"latency: {ours.counted} readings each (+{warmup} warm-up), session at {length_text(latency_length)}, "
        f"window {WINDOW}; "
        f"never shown: ours {ours.missed}/{ours.counted}, conventional {conv.missed}/{conv.counted}; "
        f"browser-python clock offset {offset:+.1f} ms"
    )
    print(
        "latency breakdown ours, median/p95 ms: commit->SSE message in page "
        f"{fmt(pct(ours.to_message_ms, 50))}/{fmt(pct(ours.to_message_ms, 95))}, commit->DOM "
        f"{fmt(pct(ours.to_dom_ms, 50))}/{fmt(pct(ours.to_dom_ms, 95))}, commit->frame "
        f"{fmt(pct(ours.latency_ms, 50))}/{fmt(pct(ours.latency_ms, 95))}; conventional commit->DOM "
        f"{fmt(pct(conv.to_dom_ms, 50))}/{fmt(pct(conv.to_dom_ms, 95))}"
    )
    redraws = [
        f"{who} Plotly.{name} {fmt(pct(ms, 50))}/{fmt(pct(ms, 95))} ms x{len(ms)}"
        for who, run in (("ours", ours), ("conventional", conv))
        for name, ms in sorted(run.plotly_ms.items())
    ]
    print("main-thread redraws during the latency runs, median/p95 (synchronous part): " + "; ".join(redraws))
    max_bytes = max(sizes["0 min"].ours + sizes["2 h"].ours)
    p95 = pct(ours.latency_ms, 95)
    bytes_ok = max_bytes <= TARGET_BYTES
    latency_ok = not math.isnan(p95) and p95 <= TARGET_P95_MS and ours.missed == 0
    if args.quick:
        print(f"targets: not judged: a quick run, {n_updates} updates and {n_readings} readings (run without --quick)")
        return 0
    print(
        f"targets: <= 1 KB/update at any session length: {'MET' if bytes_ok else 'NOT MET'} "
        f"(largest {max_bytes} B); latency p95 <= {TARGET_P95_MS:.0f} ms on loopback: "
        f"{'MET' if latency_ok else 'NOT MET'} (p95 {fmt(p95)} ms, {ours.missed} not shown)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
