"""Throughput of `vigil check` on a 24-hour recording: can a whole day be checked in one second?

Run as `python benchmarks/check_24h.py [--quick]`. It prints figures and never asserts timings:
numbers from a shared CI box are for ranking approaches and spotting growth, not pass/fail.

What is measured (the README's Benchmarks):
- the data: a synthetic 24-hour session (1 h with --quick) written as the wide CSV of docs/csv-format.md — HR and SpO2
  every second as seeded mean-reverting random walks, NIBP (sbp, dbp, map) every 5 minutes, a
  `dose_start` 15 min in, and scripted excursions (HR surges, SpO2 dips, hypertensive cuff readings)
  so that the engine has episodes to find.
- `vigil check FILE --limits iv-ketamine --json` as a real subprocess (`python -m monitor.cli`), wall
  time best and median of several runs; this includes interpreter start-up and imports, so the bare
  `import monitor.cli.main` time is shown beside it, and with the reader's modules (pandas) added. It runs
  from two temporary copies of Vigil's packages, taking turns: one compiled ahead, as an installed program
  is (the target is judged on it), and one that compiles Vigil's modules in every run.
- in process, the same work split in two: CSV parse (`read_session_csv`, with the garbage collector on, which
  `vigil check` turns off) and engine (`monitor.alarms.engine.evaluate` with the `iv-ketamine` preset), each
  best of the runs, with rows/s.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `monitor` and `adapters` importable
    sys.path.insert(0, str(ROOT))

from adapters.files.csv_reader import read_session_csv  # noqa: E402
from adapters.files.csv_writer import write_session_csv  # noqa: E402
from adapters.model.reading import Event, Reading  # noqa: E402
from monitor.alarms.engine import evaluate  # noqa: E402
from monitor.limits.model import load_preset  # noqa: E402

PRESET = "iv-ketamine"
SOURCE = "bench"
SEED = 20261120
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NIBP_EVERY_S = 300
DOSE_AT_S = 15 * 60
REPEATS = 5
TARGET_S = 1.0

ROW_ROWS = "rows"
ROW_EPISODES = "episodes"
ROW_PARSE = "parse s"
ROW_ENGINE = "engine s"
ROW_CHECK_BEST = "vigil check s (best)"
ROW_CHECK_MEDIAN = "vigil check s (median)"
ROW_COMPILING_BEST = "  compiling modules (best)"

# Excursions, placed at offsets within each hour so that even the 1-hour --quick run has all three.
HR_SURGE_AT_S, HR_SURGE_S, HR_SURGE_BPM = 1200, 60, 45  # every 2nd hour: ~120 bpm for a minute (> high 110)
SPO2_DIP_AT_S, SPO2_DIP_S, SPO2_DIP_TO = 2400, 30, 91  # every 3rd hour: 91 % for 30 s (< critical_low 92)
BP_HIGH_AT_S, BP_HIGH = 3000, (186, 112)  # every 4th hour: one hypertensive cuff reading (> 179/109)


# -- data -----------------------------------------------------------------------------------------


def synthesise(seconds: int, seed: int = SEED) -> tuple[list[Reading], list[Event]]:
    """HR + SpO2 each second, NIBP every 5 min, a dose at 15 min; plausible integer values like a monitor's."""
    rng = random.Random(seed)
    hr, spo2, sbp, dbp = 74.0, 97.5, 124.0, 78.0
    readings: list[Reading] = []
    for k in range(seconds + 1):
        t = START + timedelta(seconds=k)
        hour, into = divmod(k, 3600)
        hr += 0.05 * (74 - hr) + rng.gauss(0, 0.8)  # mean-reverting walk: drifts over tens of seconds
        spo2 += 0.03 * (97.5 - spo2) + rng.gauss(0, 0.15)
        shown_hr = hr
        if hour % 2 == 0 and HR_SURGE_AT_S <= into < HR_SURGE_AT_S + HR_SURGE_S:
            shown_hr += HR_SURGE_BPM * math.sin(math.pi * (into - HR_SURGE_AT_S + 1) / (HR_SURGE_S + 1)) ** 0.3
        shown_spo2 = min(99, max(95, round(spo2)))
        if hour % 3 == 0 and SPO2_DIP_AT_S <= into < SPO2_DIP_AT_S + SPO2_DIP_S:
            shown_spo2 = SPO2_DIP_TO
        readings.append(Reading(t, "hr", float(round(shown_hr)), SOURCE))
        readings.append(Reading(t, "spo2", float(shown_spo2), SOURCE))
        if k % NIBP_EVERY_S == 0:
            sbp += 0.2 * (124 - sbp) + rng.gauss(0, 3)
            dbp += 0.2 * (78 - dbp) + rng.gauss(0, 2)
            s, d = round(sbp), round(dbp)
            if hour % 4 == 0 and into == BP_HIGH_AT_S:
                s, d = BP_HIGH
            readings += [
                Reading(t, "sbp", float(s), SOURCE),
                Reading(t, "dbp", float(d), SOURCE),
                Reading(t, "map", float(round(d + (s - d) / 3)), SOURCE),
            ]
    events = [Event(START + timedelta(seconds=DOSE_AT_S), "dose_start", source=SOURCE)]
    return readings, events


# -- timing ---------------------------------------------------------------------------------------


def wall(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def program_copy(folder: Path, *, compiled: bool) -> Path:
    """Vigil's packages copied to `folder`, their modules compiled ahead or not. Compiled is how a program normally
    starts: `pip install` compiles an installed package, and Python caches each module it compiles unless told not
    to (PYTHONDONTWRITEBYTECODE, as some sandboxes set it). Uncompiled, every run compiles Vigil's own modules."""
    for package in ("monitor", "adapters"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    if compiled and not compileall.compile_dir(folder, quiet=1):
        raise RuntimeError(f"could not compile the copy in {folder}")
    return folder


def _run(cmd: list[str], tree: Path, timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`cmd` with `tree`'s packages first on the path, writing no compiled module anywhere."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    return wall(lambda: subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env, timeout=timeout))


def run_check(path: Path, tree: Path) -> tuple[float, int]:
    """One `vigil check --json` as a subprocess, from `tree`: (wall seconds, episodes printed)."""
    cmd = [sys.executable, "-m", "monitor.cli", "check", str(path), "--limits", PRESET, "--json"]
    seconds, result = _run(cmd, tree, 600)
    if result.returncode != 0:
        raise RuntimeError(f"vigil check exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    episodes = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return seconds, len(episodes)


READER = "adapters.files.csv_rows"  # the CSV reader's modules, pandas among them: loaded when a file is read


def run_import(tree: Path, modules: str = "monitor.cli.main") -> float:
    """Interpreter start-up plus importing `modules`: the floor under any `vigil` command (or under `check`)."""
    seconds, result = _run([sys.executable, "-c", f"import {modules}; assert monitor.__file__.startswith("
                                              f"{str(tree)!r}), monitor.__file__"], tree, 120)
    if result.returncode != 0:
        raise RuntimeError(f"import {modules} failed: {result.stderr.strip()[-2000:]}")
    return seconds


# -- report ---------------------------------------------------------------------------------------


def fmt_s(v: float) -> str:
    return f"{v:.3f}"


def fmt_rate(v: float) -> str:
    return f"{v:,.0f}".replace(",", " ")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 hour of data, one repetition")
    args = parser.parse_args(argv)
    hours, repeats = (1, 1) if args.quick else (24, REPEATS)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # keeps order with stderr progress

    print(f"Vigil check benchmark: {hours} h recording" + (" (--quick)" if args.quick else ""))
    print(f"env: {os.cpu_count()} CPUs, Python {platform.python_version()} on {platform.platform()}, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    limits = load_preset(PRESET)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        path = Path(tmp) / f"session_{hours}h.csv"
        log(f"synthesising {hours} h ...")
        gen_s, (readings, events) = wall(lambda: synthesise(hours * 3600))
        write_s, rows = wall(lambda r=readings, e=events: write_session_csv(path, r, e))
        size = path.stat().st_size
        log(f"  {len(readings)} readings, {rows} rows, {size / 1e6:.1f} MB (made in {gen_s:.1f} s, written in "
            f"{write_s:.1f} s)")
        readings = []  # free the memory before timing

        log(f"in process: parse + engine, {repeats} run(s)")
        parse_times: list[float] = []
        engine_times: list[float] = []
        in_process_episodes = n_readings = -1
        for _ in range(repeats):
            parse_s, recording = wall(lambda: read_session_csv(path))
            engine_s, found = wall(lambda r=recording: evaluate(r.readings, r.events, limits))
            parse_times.append(parse_s)
            engine_times.append(engine_s)
            in_process_episodes = len(found)
            n_readings = len(recording.readings)
            del recording, found

        log(f"subprocess: vigil check, {repeats} run(s) each with Vigil's modules compiled ahead and not")
        compiled = program_copy(Path(tmp) / "compiled", compiled=True)
        uncompiled = program_copy(Path(tmp) / "uncompiled", compiled=False)
        import_times = [run_import(compiled) for _ in range(repeats)]
        reader_import_times = [run_import(compiled, f"monitor.cli.main, {READER}") for _ in range(repeats)]
        check_times: list[float] = []
        compiling_times: list[float] = []
        check_episodes = -1
        for _ in range(repeats):  # the two take turns, so that a slower spell of a shared machine hits both
            for tree, times in ((compiled, check_times), (uncompiled, compiling_times)):
                seconds, check_episodes = run_check(path, tree)
                times.append(seconds)
                if check_episodes != in_process_episodes:
                    raise RuntimeError(f"vigil check found {check_episodes} episodes, evaluate() "
                                       f"{in_process_episodes}")

    parse_s, engine_s = min(parse_times), min(engine_times)
    best, median = min(check_times), statistics.median(check_times)
    print()
    print(f"{'':<28}{'value':>12}{'rows/s':>14}")
    print(f"{ROW_ROWS:<28}{rows:>12}{'':>14}")
    print(f"{'readings':<28}{n_readings:>12}{'':>14}")
    print(f"{ROW_EPISODES:<28}{check_episodes:>12}{'':>14}")
    print(f"{ROW_PARSE:<28}{fmt_s(parse_s):>12}{fmt_rate(rows / parse_s):>14}")
    print(f"{ROW_ENGINE:<28}{fmt_s(engine_s):>12}{fmt_rate(rows / engine_s):>14}")
    print(f"{'parse + engine s':<28}{fmt_s(parse_s + engine_s):>12}{fmt_rate(rows / (parse_s + engine_s)):>14}")
    print(f"{'import monitor.cli.main s':<28}{fmt_s(min(import_times)):>12}{'':>14}")
    print(f"{'  + the reader (pandas) s':<28}{fmt_s(min(reader_import_times)):>12}{'':>14}")
    print(f"{ROW_CHECK_BEST:<28}{fmt_s(best):>12}{fmt_rate(rows / best):>14}")
    print(f"{ROW_CHECK_MEDIAN:<28}{fmt_s(median):>12}{fmt_rate(rows / median):>14}")
    print(f"{ROW_COMPILING_BEST:<28}{fmt_s(min(compiling_times)):>12}{fmt_rate(rows / min(compiling_times)):>14}")
    print()
    print(
        f"{hours} h at 1 Hz (HR, SpO2) + NIBP every {NIBP_EVERY_S // 60} min: {rows} rows, {n_readings} readings, "
        f"{size / 1e6:.1f} MB CSV; in-process figures are the best of {repeats} run(s); vigil check is "
        f"`python -m monitor.cli check FILE --limits {PRESET} --json`, wall time incl. interpreter start-up "
        f"(import monitor.cli.main alone: best {fmt_s(min(import_times))} s), with Vigil's modules compiled "
        f"ahead as an installed program has them; '{ROW_COMPILING_BEST.strip()}' compiles them in every run."
    )
    if hours == 24:
        verdict = f"{'met' if best <= TARGET_S else 'NOT met'} (best {fmt_s(best)} s, modules compiled ahead)"
    else:
        verdict = f"not judged: only {hours} h measured (run without --quick)"
    print(f"target: vigil check on 24 h ≤ {TARGET_S:g} s: {verdict}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end (2 or more on 2 cores: figures are inflated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
