"""The physiological model behind the sample sessions: determinism, calibrated time course, scripted episodes.

Files are read back with the stdlib csv module (not the project's CSV reader) so that these tests check
the files themselves, independently of the code that will consume them.
"""

from __future__ import annotations

import csv
import dataclasses
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from support import ROOT

from adapters.files.csv_writer import WIDE_COLUMNS
from adapters.model.vitals import VITALS
from adapters.simulation.physiology import (
    DEFAULT_START,
    SCENARIOS,
    Bump,
    NibpOutlier,
    generate,
    write_samples,
)

NIBP = ("sbp", "dbp", "map")
CONTINUOUS = ("hr", "spo2", "pr")
FILES = {name: scenario.file_name for name, scenario in SCENARIOS.items()}


@dataclass
class Session:
    """A sample file as elapsed seconds: per vital [(t, value)], events [(t, marker)]."""

    header: list[str]
    series: dict[str, list[tuple[float, float]]]
    events: list[tuple[float, str]]
    start: datetime

    def event(self, marker: str) -> float:
        return next(t for t, m in self.events if m == marker)

    def values(self, vital: str, lo: float, hi: float) -> list[float]:
        return [v for t, v in self.series[vital] if lo <= t <= hi]


def load(path: Path) -> Session:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    start = datetime.fromisoformat(rows[0]["time"])
    series: dict[str, list[tuple[float, float]]] = {vital: [] for vital in WIDE_COLUMNS[1:-1]}
    events = []
    for row in rows:
        t = (datetime.fromisoformat(row["time"]) - start).total_seconds()
        for vital, cells in series.items():
            if row[vital]:
                cells.append((t, float(row[vital])))
        if row["event"]:
            events.append((t, row["event"]))
    return Session(list(reader.fieldnames or ()), series, events, start)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Session]:
    directory = tmp_path_factory.mktemp("samples")
    write_samples(directory)
    return {name: load(directory / file) for name, file in FILES.items()}


def baseline(session: Session, vital: str, dose: str) -> float:
    """Mean over dose − 15 min … dose, as the alarm engine computes it (ARCHITECTURE §5)."""
    t = session.event(dose)
    return statistics.mean(session.values(vital, t - 900, t))


def runs(
    series: list[tuple[float, float]], outside: Callable[[float], bool]
) -> list[list[tuple[float, float]]]:
    """Maximal sequences of consecutive readings for which `outside(value)` holds."""
    found: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for point in series:
        if outside(point[1]):
            current.append(point)
        elif current:
            found.append(current)
            current = []
    return [*found, current] if current else found


# --- determinism -------------------------------------------------------------------------------------


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    first = write_samples(tmp_path / "a")
    second = write_samples(tmp_path / "b")
    assert [p.name for p in first] == list(FILES.values())
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_committed_samples_equal_the_model_output(tmp_path: Path) -> None:
    for path in write_samples(tmp_path):
        committed = ROOT / "sample_data" / path.name
        assert committed.is_file(), f"{committed} missing: run python -m adapters.simulation.physiology"
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} drifted from the model"


def test_command_line_regenerates_into_a_directory(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "adapters.simulation.physiology", str(tmp_path)], cwd=ROOT, check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES.values())


def test_seed_drives_the_noise() -> None:
    scenario = SCENARIOS["iv-ketamine"]
    same, _ = generate(scenario, DEFAULT_START)
    other, _ = generate(dataclasses.replace(scenario, seed=scenario.seed + 1), DEFAULT_START)
    assert same == generate(scenario, DEFAULT_START)[0]
    assert [r.value for r in same] != [r.value for r in other]


def test_start_only_shifts_the_time_line() -> None:
    scenario = SCENARIOS["esketamine"]
    readings, events = generate(scenario, DEFAULT_START)
    later, later_events = generate(scenario, DEFAULT_START + timedelta(days=3))
    assert [(r.vital, r.value) for r in readings] == [(r.vital, r.value) for r in later]
    assert all(b.time - a.time == timedelta(days=3) for a, b in zip(readings, later, strict=True))
    assert [e.time + timedelta(days=3) for e in events] == [e.time for e in later_events]


def test_episodes_leave_the_rest_of_the_session_unchanged() -> None:
    """Noise is drawn whether or not a second is hidden by a gap, so scripting one changes nothing else."""
    scenario = SCENARIOS["artefacts"]
    with_gap, _ = generate(scenario, DEFAULT_START)
    without, _ = generate(dataclasses.replace(scenario, gaps=()), DEFAULT_START)
    kept = {(r.time, r.vital) for r in with_gap}
    assert with_gap == [r for r in without if (r.time, r.vital) in kept]
    assert len(without) - len(with_gap) == 29 * 3


# --- generate() output -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_generate_sorted_sim_readings_and_events(name: str) -> None:
    readings, events = generate(SCENARIOS[name], DEFAULT_START)
    assert [r.time for r in readings] == sorted(r.time for r in readings)
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert {r.source for r in readings} == {e.source for e in events} == {"sim"}
    assert readings[0].time == DEFAULT_START
    assert readings[-1].time == DEFAULT_START + timedelta(seconds=SCENARIOS[name].duration_s)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(SCENARIOS["iv-ketamine"], datetime(2026, 11, 20, 9))


def test_scenario_mistakes_are_refused() -> None:
    with pytest.raises(ValueError, match="start < peak < end"):
        Bump(100, 50, 200, sbp=10)
    with pytest.raises(ValueError, match="unscheduled"):
        dataclasses.replace(SCENARIOS["iv-ketamine"], nibp_outliers=(NibpOutlier(61, sbp=200, dbp=60),))


# --- every file --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_files_follow_the_wide_contract_with_plausible_values(
    name: str, generated: dict[str, Session]
) -> None:
    session = generated[name]
    assert session.header == list(WIDE_COLUMNS)
    assert session.start == DEFAULT_START
    for vital, points in session.series.items():
        assert all(VITALS[vital].plausible(v) and v == int(v) for _, v in points), vital
    assert session.series["rr"] == []
    sbp, dbp, mean = (dict(session.series[v]) for v in NIBP)
    assert sbp.keys() == dbp.keys() == mean.keys()
    assert all(mean[t] == round(dbp[t] + (sbp[t] - dbp[t]) / 3) for t in sbp)


@pytest.mark.parametrize("name", SCENARIOS)
def test_continuous_vitals_every_second(name: str, generated: dict[str, Session]) -> None:
    session = generated[name]
    gaps = {g.last_s for g in SCENARIOS[name].gaps}
    for vital in CONTINUOUS:
        times = [t for t, _ in session.series[vital]]
        assert times[0] == 0
        steps = {b - a for a, b in pairwise(times) if a not in gaps}
        assert steps == {1}, vital


# --- iv-ketamine ---------------------------------------------------------------------------------------


def test_iv_events_mark_a_40_minute_infusion_after_15_minutes(generated: dict[str, Session]) -> None:
    session = generated["iv-ketamine"]
    assert session.events == [(900, "dose_start"), (3300, "dose_end")]
    assert session.series["hr"][-1][0] >= session.event("dose_end") + 90 * 60


def test_iv_nibp_schedule_q5_baseline_q10_infusion_q15_after(generated: dict[str, Session]) -> None:
    session = generated["iv-ketamine"]
    start, end = session.event("dose_start"), session.event("dose_end")
    times = [t for t, _ in session.series["sbp"]]
    assert times[0] == 0
    for a, b in pairwise(times):
        expected = 300 if a < start else 600 if a < end else 900
        assert b - a == expected, (a, b)
    assert start in times and end in times


def test_iv_bp_peaks_30_to_40_min_and_returns_90_min_after_infusion(generated: dict[str, Session]) -> None:
    session = generated["iv-ketamine"]
    start, end = session.event("dose_start"), session.event("dose_end")
    base_sbp, base_dbp = baseline(session, "sbp", "dose_start"), baseline(session, "dbp", "dose_start")
    assert 120 <= base_sbp <= 130 and 75 <= base_dbp <= 85
    peak_window = (start + 30 * 60, start + 40 * 60)
    assert 8 <= statistics.mean(session.values("sbp", *peak_window)) - base_sbp <= 25
    assert 4 <= statistics.mean(session.values("dbp", *peak_window)) - base_dbp <= 18
    late = session.values("sbp", end + 90 * 60, float("inf"))
    assert late and all(abs(v - base_sbp) <= 5 for v in late)
    assert max(v for _, v in session.series["sbp"]) < 170
    assert SCENARIOS["iv-ketamine"].shift("sbp", end + 90 * 60) == 0


def test_iv_heart_rate_rises_a_few_bpm_and_spo2_stays_normal(generated: dict[str, Session]) -> None:
    session = generated["iv-ketamine"]
    start = session.event("dose_start")
    base = statistics.mean(session.values("hr", 0, start))
    assert 2 <= statistics.mean(session.values("hr", start + 30 * 60, start + 40 * 60)) - base <= 6
    assert {v for _, v in session.series["spo2"]} <= {96, 97, 98, 99}
    assert max(v for _, v in session.series["hr"]) <= 110


# --- esketamine ----------------------------------------------------------------------------------------


def test_esketamine_devices_5_minutes_apart_then_2_hours_observation(generated: dict[str, Session]) -> None:
    session = generated["esketamine"]
    first = session.event("device_1")
    assert first == 900
    assert [session.event(f"device_{i}") - first for i in (1, 2, 3)] == [0, 300, 600]
    assert any(m.startswith("note: ") and "dissociation" in m for _, m in session.events)
    assert session.series["hr"][-1][0] == first + 120 * 60


def test_esketamine_bp_checked_at_40_min_and_peaks_there(generated: dict[str, Session]) -> None:
    session = generated["esketamine"]
    first = session.event("device_1")
    times = [t for t, _ in session.series["sbp"]]
    assert all(b - a == 300 for a, b in pairwise(times) if b <= first)
    assert all(b - a in (600, 900) for a, b in pairwise(times) if a >= first)
    sbp = dict(session.series["sbp"])
    assert first + 40 * 60 in sbp
    rise = sbp[first + 40 * 60] - baseline(session, "sbp", "device_1")
    assert 8 <= rise <= 20
    assert sbp[first + 40 * 60] == max(sbp.values())
    assert SCENARIOS["esketamine"].shift("sbp", first + 90 * 60) == 0


# --- hypertensive ------------------------------------------------------------------------------------


def test_hypertensive_sbp_above_180_on_consecutive_readings_in_the_infusion(
    generated: dict[str, Session],
) -> None:
    session = generated["hypertensive"]
    start, end = session.event("dose_start"), session.event("dose_end")
    (surge,) = runs(session.series["sbp"], lambda v: v > 180)
    assert len([t for t, _ in surge if start < t < end]) >= 3
    assert 190 <= max(v for _, v in surge) <= 200
    assert max(session.values("dbp", surge[0][0], surge[-1][0])) >= 110
    assert session.series["sbp"][-1][1] < 150


def test_hypertensive_heart_rate_above_110_for_one_to_two_minutes(generated: dict[str, Session]) -> None:
    session = generated["hypertensive"]
    (tachycardia,) = runs(session.series["hr"], lambda v: v > 110)
    assert 60 <= tachycardia[-1][0] - tachycardia[0][0] + 1 <= 120
    assert session.event("dose_start") < tachycardia[0][0] < session.event("dose_end")
    assert max(v for _, v in tachycardia) <= 130


# --- artefacts -----------------------------------------------------------------------------------------


def test_artefacts_have_exactly_one_30_second_gap_marked_by_a_note(generated: dict[str, Session]) -> None:
    session = generated["artefacts"]
    gaps = set()
    for vital in CONTINUOUS:
        times = [t for t, _ in session.series[vital]]
        gaps |= {(a, b) for a, b in pairwise(times) if b - a > 1}
    assert len(gaps) == 1
    ((last, resumed),) = gaps
    assert resumed - last == 30
    notes = [t for t, m in session.events if m.startswith("note: ")]
    assert notes and all(last < t < resumed for t in notes)


def test_artefacts_are_brief_spikes_dropouts_and_one_nibp_outlier(generated: dict[str, Session]) -> None:
    session = generated["artefacts"]
    spikes = runs(session.series["hr"], lambda v: v >= 180)
    assert len(spikes) >= 3 and all(len(run) == 1 for run in spikes)
    assert max(v for _, v in session.series["pr"]) < 110
    dropouts = runs(session.series["spo2"], lambda v: v < 94)
    assert len(dropouts) >= 2 and all(2 <= len(run) <= 5 and min(v for _, v in run) < 80 for run in dropouts)
    sbp = [v for _, v in session.series["sbp"]]
    outliers = [
        b for a, b, c in zip(sbp, sbp[1:], sbp[2:], strict=False) if abs(b - a) > 50 and abs(b - c) > 50
    ]
    assert len(outliers) == 1
