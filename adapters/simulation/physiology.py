"""Seeded physiological model of ketamine / esketamine sessions: the sample CSVs and the emulators' source.

No openly licensed recordings of such sessions exist, so the sample sessions are synthesised from the
published time courses (sample_data/README.md names the studies). Everything is a pure
function of a `Scenario` and its seed: no global randomness, no wall clock. So the committed sample files
regenerate byte for byte, tests can pin exact episodes, and every emulator built on this model replays the
same physiology.

Model, per vital, at t seconds from session start::

    value(t) = baseline + sum of bumps(t) + noise(t)

- A `Bump` rises as a raised cosine from `start_s` to its full amplitude at `peak_s` and falls as a raised
  cosine to exactly zero at `end_s`. The drug effect is one bump; a scripted surge adds more.
- HR, PR and SpO2 every second. Their noise is AR(1) (an Ornstein-Uhlenbeck process sampled at 1 Hz),
  because a monitor's averaged heart rate drifts over tens of seconds rather than jumping independently
  every second. ECG HR adds a little white beat-to-beat noise; the oximeter's PR follows the same heart
  with its own small AR(1) deviation (it averages differently); SpO2 is kept to 96-99 % (room air, healthy).
- NIBP at the scenario's schedule. A slow AR(1) shared by SBP and DBP (τ 15 min) models real BP drift
  between cuff cycles, plus independent measurement error; MAP = DBP + (SBP - DBP) / 3. Values are
  integers, as monitors report them.
- Scripted artefacts overwrite continuous values second by second, an NIBP outlier replaces a scheduled
  measurement, and a signal gap removes every HR/SpO2/PR reading for a while. The noise streams are drawn
  regardless, so adding an episode changes nothing else in the session.

`python -m adapters.simulation.physiology [DIR]` rewrites the sample files (default: the repository's sample_data/).
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from adapters.files.csv_writer import write_session_csv
from adapters.model.reading import EVENT_KINDS, Event, Reading
from adapters.model.vitals import VITAL_CODES, VITALS

SessionKind = Literal["iv-ketamine", "esketamine"]
SOURCE = "sim"
DEFAULT_START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"

# Noise: standard deviations in the vital's unit, time constants in seconds.
HR_DRIFT_SD, HR_DRIFT_TAU_S = 2.0, 20.0  # monitor HR averages several beats: slow wander
HR_BEAT_SD = 0.6  # residual beat-to-beat jitter of the ECG HR
PR_DEVIATION_SD, PR_DEVIATION_TAU_S = 0.8, 5.0  # oximeter PR vs ECG HR
SPO2_DRIFT_SD, SPO2_DRIFT_TAU_S = 0.6, 45.0
SPO2_RANGE = (96, 99)  # healthy adult on room air
NIBP_DRIFT_TAU_S = 900.0  # BP wanders over minutes between cuff cycles
SBP_DRIFT_SD, SBP_MEASUREMENT_SD = 3.0, 3.0
DBP_DRIFT_SD, DBP_MEASUREMENT_SD = 2.0, 2.0

CONTINUOUS = ("hr", "spo2", "pr")
_VITAL_ORDER = {code: i for i, code in enumerate(VITAL_CODES)}


@dataclass(frozen=True)
class Baseline:
    """Resting values before any drug: what a session baseline should come out near."""

    sbp: float
    dbp: float
    hr: float
    spo2: float


@dataclass(frozen=True)
class Bump:
    """Transient change: raised-cosine rise from `start_s` to full size at `peak_s`, back to 0 at `end_s`.

    Smooth at both ends (a circulation does not step) and exactly zero outside, so "back at baseline" has a
    precise time. Amplitudes in mmHg (sbp, dbp) and bpm (hr).
    """

    start_s: int
    peak_s: int
    end_s: int
    sbp: float = 0.0
    dbp: float = 0.0
    hr: float = 0.0

    def __post_init__(self) -> None:
        if not self.start_s < self.peak_s < self.end_s:
            raise ValueError(f"bump needs start < peak < end, got {(self.start_s, self.peak_s, self.end_s)}")

    def fraction(self, t: float) -> float:
        """Share of the full amplitude present at t, 0..1."""
        if t <= self.start_s or t >= self.end_s:
            return 0.0
        if t <= self.peak_s:
            return (1 - math.cos(math.pi * (t - self.start_s) / (self.peak_s - self.start_s))) / 2
        return (1 + math.cos(math.pi * (t - self.peak_s) / (self.end_s - self.peak_s))) / 2


@dataclass(frozen=True)
class Artefact:
    """What a continuous vital shows instead of the physiology, one value per second from `start_s`.

    Motion and electrode noise give isolated HR spikes and brief SpO2 dropouts that an alarm delay must
    swallow.
    """

    vital: str
    start_s: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class NibpOutlier:
    """A scheduled cuff measurement spoilt by movement: these values replace the model's."""

    at_s: int
    sbp: int
    dbp: int


@dataclass(frozen=True)
class SignalGap:
    """Probe off / comms loss: no HR, SpO2 or PR after the reading at `last_s` until `last_s + silence_s`."""

    last_s: int
    silence_s: int


@dataclass(frozen=True)
class Marker:
    """A session event at `at_s`: dose_start, dose_end, device_1..3, or a note with `text`."""

    at_s: int
    kind: str
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One scripted session. Times are whole seconds from session start; the session spans 0..duration_s.

    `nibp_schedule` holds (from_s, interval_s) phases: the cuff cycles at interval_s from from_s until the
    next phase starts, as a nurse switches the cycle time at dose start and end.
    """

    name: str
    description: str
    kind: SessionKind
    duration_s: int
    nibp_schedule: tuple[tuple[int, int], ...]
    baseline: Baseline
    effect: Bump
    markers: tuple[Marker, ...]
    surges: tuple[Bump, ...] = ()
    artefacts: tuple[Artefact, ...] = ()
    nibp_outliers: tuple[NibpOutlier, ...] = ()
    gaps: tuple[SignalGap, ...] = ()
    seed: int

    def __post_init__(self) -> None:
        if self.kind not in ("iv-ketamine", "esketamine"):
            raise ValueError(f"unknown session kind {self.kind!r}")
        starts = [start for start, _ in self.nibp_schedule]
        if not starts or starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError("nibp_schedule phases must start at 0 and increase")
        if unknown := [m.kind for m in self.markers if m.kind not in EVENT_KINDS]:
            raise ValueError(f"unknown event kinds {unknown}")
        if stray := [a.vital for a in self.artefacts if a.vital not in CONTINUOUS]:
            raise ValueError(f"artefacts apply to continuous vitals only, got {stray}")
        if unscheduled := {o.at_s for o in self.nibp_outliers} - set(self.nibp_times()):
            raise ValueError(f"NIBP outliers at unscheduled times {sorted(unscheduled)}")

    @property
    def file_name(self) -> str:
        """Sample file name: iv-ketamine → iv_ketamine.csv."""
        return self.name.replace("-", "_") + ".csv"

    def nibp_times(self) -> list[int]:
        """Seconds at which an NIBP measurement completes."""
        ends = [start for start, _ in self.nibp_schedule[1:]] + [self.duration_s + 1]
        phases = zip(self.nibp_schedule, ends, strict=True)
        return [t for (start, step), end in phases for t in range(start, end, step)]

    def shift(self, vital: str, t: float) -> float:
        """Drug effect plus surges at t for `vital` (sbp, dbp or hr), in its unit."""
        return sum(getattr(b, vital) * b.fraction(t) for b in (self.effect, *self.surges))


class _AR1:
    """AR(1) noise with stationary SD `sd` and time constant `tau_s`, sampled at any increasing times.

    Sampling an Ornstein-Uhlenbeck process exactly (phi = exp(-dt / tau)) keeps the correlation right for
    the irregular NIBP schedule as well as for 1 Hz vitals.
    """

    def __init__(self, rng: random.Random, sd: float, tau_s: float) -> None:
        self._rng, self._sd, self._tau_s = rng, sd, tau_s
        self._t: float | None = None
        self._value = rng.gauss(0.0, sd)

    def at(self, t: float) -> float:
        if self._t is not None:
            phi = math.exp(-(t - self._t) / self._tau_s)
            self._value = phi * self._value + self._sd * math.sqrt(1 - phi * phi) * self._rng.gauss(0.0, 1.0)
        self._t = t
        return self._value


def _continuous(s: Scenario) -> Iterator[tuple[int, str, float]]:
    rng = {vital: random.Random(f"{s.seed}/{vital}") for vital in CONTINUOUS}
    hr_drift = _AR1(rng["hr"], HR_DRIFT_SD, HR_DRIFT_TAU_S)
    pr_deviation = _AR1(rng["pr"], PR_DEVIATION_SD, PR_DEVIATION_TAU_S)
    spo2_drift = _AR1(rng["spo2"], SPO2_DRIFT_SD, SPO2_DRIFT_TAU_S)
    overrides = {(a.vital, a.start_s + i): v for a in s.artefacts for i, v in enumerate(a.values)}
    silent = {t for g in s.gaps for t in range(g.last_s + 1, g.last_s + g.silence_s)}
    low, high = SPO2_RANGE
    for t in range(s.duration_s + 1):
        heart = s.baseline.hr + s.shift("hr", t) + hr_drift.at(t)
        values = {
            "hr": round(heart + rng["hr"].gauss(0.0, HR_BEAT_SD)),
            "spo2": min(high, max(low, round(s.baseline.spo2 + spo2_drift.at(t)))),
            "pr": round(heart + pr_deviation.at(t)),
        }
        if t not in silent:
            for vital, value in values.items():
                yield t, vital, float(overrides.get((vital, t), value))


def _nibp(s: Scenario) -> Iterator[tuple[int, str, float]]:
    rng = random.Random(f"{s.seed}/nibp")
    drift = _AR1(rng, 1.0, NIBP_DRIFT_TAU_S)
    outliers = {o.at_s: o for o in s.nibp_outliers}
    for t in s.nibp_times():
        z = drift.at(t)
        sbp = round(s.baseline.sbp + s.shift("sbp", t) + SBP_DRIFT_SD * z + rng.gauss(0, SBP_MEASUREMENT_SD))
        dbp = round(s.baseline.dbp + s.shift("dbp", t) + DBP_DRIFT_SD * z + rng.gauss(0, DBP_MEASUREMENT_SD))
        if t in outliers:
            sbp, dbp = outliers[t].sbp, outliers[t].dbp
        yield t, "sbp", float(sbp)
        yield t, "dbp", float(dbp)
        yield t, "map", float(round(dbp + (sbp - dbp) / 3))


def generate(scenario: Scenario, start: datetime) -> tuple[list[Reading], list[Event]]:
    """The scenario's readings (by time, then vital) and events (by time), with session start at `start`."""
    values = sorted([*_continuous(scenario), *_nibp(scenario)], key=lambda x: (x[0], _VITAL_ORDER[x[1]]))
    readings = []
    for t, vital, value in values:
        if not VITALS[vital].plausible(value):
            raise ValueError(f"{scenario.name}: {vital} {value} at {t} s is outside the plausible range")
        readings.append(Reading(start + timedelta(seconds=t), vital, value, source=SOURCE))
    markers = sorted(scenario.markers, key=lambda m: m.at_s)
    events = [Event(start + timedelta(seconds=m.at_s), m.kind, m.text, source=SOURCE) for m in markers]
    return readings, events


# --- the scenarios --------------------------------------------------------------------------------------

MIN = 60
BASELINE_S = 15 * MIN  # pre-dose baseline at the start of every sample session
INFUSION_S = 40 * MIN  # 0.5 mg/kg over 40 min
DOSE_END_S = BASELINE_S + INFUSION_S
IV_DURATION_S = DOSE_END_S + 95 * MIN  # runs past the expected return to baseline 90 min after the infusion
# q5 min at baseline, q10 min during the infusion, q15 min after (Riva-Posse 2018).
IV_NIBP = ((0, 5 * MIN), (BASELINE_S, 10 * MIN), (DOSE_END_S, 15 * MIN))
IV_MARKERS = (Marker(BASELINE_S, "dose_start"), Marker(DOSE_END_S, "dose_end"))
# Yale 2024: mean SBP/DBP +16.0/+11.0 at the 30-40 min peak; pulse +1.9 (741-infusion study): HR +4.
# Peak 35 min after infusion start (Riva-Posse 30, Yale 40); back at baseline 90 min after the infusion
# ends (Szarmach 2020: within 1.5 h).
IV_EFFECT = Bump(BASELINE_S, BASELINE_S + 35 * MIN, DOSE_END_S + 90 * MIN, sbp=16.0, dbp=11.0, hr=4.0)

ESK_DURATION_S = BASELINE_S + 120 * MIN  # 2 h observation after the first device (label, REMS)
# q5 min at baseline, q10 min for the first hour (includes the mandatory 40-min reading), then q15 min.
ESK_NIBP = ((0, 5 * MIN), (BASELINE_S, 10 * MIN), (BASELINE_S + 60 * MIN, 15 * MIN))

# The surge: a first infusion in a patient with high-normal BP. The nurse shortens the cuff cycle to
# 5 min at 35 min (BP rising fast) and goes back to q15 min once the surge has settled.
SURGE_NIBP = ((0, 5 * MIN), (BASELINE_S, 10 * MIN), (35 * MIN, 5 * MIN), (75 * MIN, 15 * MIN))
GAP_LAST_S = 80 * MIN + 15  # artefacts: last HR/SpO2/PR reading before the 30 s signal gap

# Seeds: among the first few dozen, the ones whose noise leaves each session looking like its mean curve
# (e.g. iv-ketamine: +17/+10 mmHg over baseline in the 30-40 min window, model +16/+11).
SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="iv-ketamine",
            description="IV racemic ketamine 0.5 mg/kg over 40 min, typical response: BP peaks about "
            "+16/+11 mmHg 35 min after the infusion starts and is back at baseline 90 min after it ends.",
            kind="iv-ketamine",
            duration_s=IV_DURATION_S,
            nibp_schedule=IV_NIBP,
            baseline=Baseline(sbp=125, dbp=80, hr=75, spo2=97.6),
            effect=IV_EFFECT,
            markers=IV_MARKERS,
            seed=11,
        ),
        Scenario(
            name="esketamine",
            description="Intranasal esketamine 84 mg (three devices 5 min apart), typical response: BP peaks "
            "about +13/+9 mmHg 40 min after the first device, back in range by 90 min; 2 h observation.",
            kind="esketamine",
            duration_s=ESK_DURATION_S,
            nibp_schedule=ESK_NIBP,
            baseline=Baseline(sbp=122, dbp=78, hr=72, spo2=97.8),
            # Doherty 2020: max mean rise 13.3/8.7 mmHg at ~40 min, back in the pre-dose range by ~1.5 h.
            effect=Bump(BASELINE_S, BASELINE_S + 40 * MIN, BASELINE_S + 90 * MIN, sbp=13.0, dbp=9.0, hr=3.0),
            markers=(
                Marker(BASELINE_S, "device_1"),
                Marker(BASELINE_S + 5 * MIN, "device_2"),
                Marker(BASELINE_S + 10 * MIN, "device_3"),
                Marker(BASELINE_S + 20 * MIN, "note", "patient reports dissociation"),
            ),
            seed=26,
        ),
        Scenario(
            name="hypertensive",
            description="IV ketamine, first infusion: a hypertensive surge above 180 mmHg systolic during "
            "the infusion with a brief tachycardia above 110 bpm, settling after the infusion ends.",
            kind="iv-ketamine",
            duration_s=IV_DURATION_S,
            nibp_schedule=SURGE_NIBP,
            baseline=Baseline(sbp=134, dbp=84, hr=78, spo2=97.4),
            effect=IV_EFFECT,
            markers=IV_MARKERS,
            surges=(
                Bump(20 * MIN, 48 * MIN, 80 * MIN, sbp=48.0, dbp=19.0),
                Bump(46 * MIN + 30, 48 * MIN, 49 * MIN + 30, hr=44.0),
            ),
            seed=3,
        ),
        Scenario(
            name="artefacts",
            description="IV ketamine with a typical response and the artefacts a real recording has: single-"
            "second HR spikes, brief SpO2 dropouts from motion, one NIBP outlier and a 30 s signal gap.",
            kind="iv-ketamine",
            duration_s=IV_DURATION_S,
            nibp_schedule=IV_NIBP,
            baseline=Baseline(sbp=121, dbp=77, hr=70, spo2=97.7),
            effect=IV_EFFECT,
            markers=(
                *IV_MARKERS,
                Marker(GAP_LAST_S + 1, "note", "patient repositioned, ECG leads and SpO2 probe off"),
            ),
            artefacts=(
                Artefact("hr", 21 * MIN + 37, (196,)),
                Artefact("spo2", 33 * MIN + 20, (72, 69, 71)),
                Artefact("hr", 48 * MIN + 12, (214,)),
                Artefact("spo2", 65 * MIN + 40, (74, 70, 68, 70, 75)),
                Artefact("hr", 92 * MIN + 5, (183,)),
                Artefact("spo2", 111 * MIN + 10, (71, 73)),
            ),
            nibp_outliers=(NibpOutlier(70 * MIN, sbp=204, dbp=61),),
            gaps=(SignalGap(last_s=GAP_LAST_S, silence_s=30),),
            seed=6,
        ),
    )
}


def write_samples(directory: Path, start: datetime = DEFAULT_START) -> list[Path]:
    """Write every scenario as `<name>.csv` (dashes as underscores) into `directory`; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for scenario in SCENARIOS.values():
        path = directory / scenario.file_name
        write_session_csv(path, *generate(scenario, start))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.simulation.physiology", description="Regenerate the synthetic sample sessions."
    )
    parser.add_argument("directory", nargs="?", type=Path, default=SAMPLE_DATA, help="default: %(default)s")
    for path in write_samples(parser.parse_args(argv).directory):
        print(path)


if __name__ == "__main__":
    main()
