"""What an emulated monitor shows: a scenario's readings, indexed by time for the emulators' questions.

A scenario is a built-in physiological model (`adapters.simulation.physiology.SCENARIOS`, generated at
`DEFAULT_START`) or a recorded session (CSV or VitalRecorder `.vital`). Emulators ask "what does the screen
show at T?" once per record, and a 2 h session holds ~27k readings, so every lookup is a bisection, never a scan.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from adapters.files.csv_reader import CsvError
from adapters.files.recording import read_recording
from adapters.model.reading import Event, Reading
from adapters.model.vitals import NIBP_CODES, VITALS
from adapters.simulation.physiology import DEFAULT_START, SCENARIOS, generate

CONTINUOUS = tuple(code for code, vital in VITALS.items() if vital.continuous)


class Scenario:
    """Readings and events of one session; `start`/`end` span the first to the last of them."""

    def __init__(self, readings: list[Reading], events: list[Event], start: datetime | None = None) -> None:
        if not readings:
            raise ValueError("the scenario has no readings")
        self.readings = sorted(readings, key=lambda r: r.time)  # stable: file order within an instant
        self.events = sorted(events, key=lambda e: e.time)
        self.start = min(start or self.readings[0].time, self.readings[0].time)
        self.end = max([self.readings[-1].time, *(e.time for e in self.events[-1:])])
        self._times = [r.time for r in self.readings]
        self._instants = sorted(set(self._times))
        series: dict[str, list[Reading]] = defaultdict(list)
        nibp: dict[datetime, dict[str, float]] = defaultdict(dict)
        for r in self.readings:
            if r.vital in NIBP_CODES:
                nibp[r.time][r.vital] = r.value
            elif r.vital in CONTINUOUS:
                series[r.vital].append(r)
        self._series = {vital: ([r.time for r in rs], [r.value for r in rs]) for vital, rs in series.items()}
        self.nibp_measurements: list[tuple[datetime, dict[str, float]]] = sorted(nibp.items())

    def continuous_at(self, t: datetime, window_s: float) -> dict[str, float]:
        """The latest value of each continuous vital in (t - window, t]: what the monitor displays at t."""
        out: dict[str, float] = {}
        for vital, (times, values) in self._series.items():
            i = bisect_right(times, t) - 1
            if i >= 0 and (t - times[i]).total_seconds() < window_s:
                out[vital] = values[i]
        return out

    def next_instant(self, after: datetime) -> datetime | None:
        """The first reading time after `after`, if any."""
        i = bisect_right(self._instants, after)
        return self._instants[i] if i < len(self._instants) else None

    def instants_between(self, t0: datetime, t1: datetime) -> list[tuple[datetime, list[Reading]]]:
        """Each distinct reading time in (t0, t1] with the readings at that time, in order."""
        out = []
        for t in self._instants[bisect_right(self._instants, t0):bisect_right(self._instants, t1)]:
            out.append((t, self.readings[bisect_left(self._times, t):bisect_right(self._times, t)]))
        return out


def load_scenario(spec: str) -> Scenario:
    """A built-in scenario by name, or a recorded session (CSV or `.vital`) by path; ValueError says what is wrong."""
    if spec in SCENARIOS:
        readings, events = generate(SCENARIOS[spec], DEFAULT_START)
        return Scenario(readings, events, DEFAULT_START)
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(SCENARIOS)
        raise ValueError(f"scenario {spec!r} is neither a built-in scenario ({names}) nor a recording (CSV or .vital)")
    try:
        session = read_recording(path, source_name="sim")
    except CsvError as e:
        raise ValueError(f"{path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read: {e}") from None
    try:
        return Scenario(session.readings, session.events, session.start)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
