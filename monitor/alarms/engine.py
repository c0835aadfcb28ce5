"""The alarm engine: readings, events and clock ticks in, alarm episodes out (rules: docs/limits.md).

Deterministic and sans-I/O like the decoders: it never reads the wall clock, so `vigil check` and the
live alarms (`monitor.alarms.live`), fed the same readings, raise exactly the same alarms. Feed it in
time order (`chronological` merges a recording that way); every call returns the episodes it announced
or changed, each a complete snapshot that a store can upsert by `Episode.key`.

Semantics in brief (docs/limits.md is the contract): ranges are inclusive; a run is consecutive
readings outside a direction's lowest threshold and gaps do not end it; NIBP runs are announced at
onset, continuous ones only if they last `delay_s`; one episode per run with its highest priority and
peak; `rise` is against a baseline that exists only from its defining moment on
(`monitor.session.baseline`); signal loss and NIBP overdue are technical alarms timed by the silence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

from adapters.model.reading import DOSE_KINDS, LINK_LOST, Event, Reading
from adapters.model.vitals import VITAL_CODES, VITALS
from monitor.limits.model import Limits, VitalLimits
from monitor.session.baseline import RiseBaseline

PRIORITIES = ("low", "medium", "high")
RANK = {p: i for i, p in enumerate(PRIORITIES)}
DEFAULT_DELAY_S = {"spo2": 15.0}  # every other continuous vital: 10 s (docs/limits.md)
VITAL_ORDER = {code: i for i, code in enumerate((*VITAL_CODES, "signal", "nibp"))}


@dataclass(frozen=True)
class Episode:
    """One alarm episode: a run of readings (or a silence) from onset to end, as announced."""

    vital: str
    direction: str  # high | low | loss | overdue
    kind: str  # limit | rise | technical
    priority: str  # low | medium | high
    onset: datetime
    announced: datetime
    end: datetime | None
    peak: float
    limit: float
    value: float  # the latest value of the run (the silence so far, for technical alarms)
    source: str = ""  # the silent source, for signal loss
    # When the run reached its priority (its limit was first broken): the banner says when an episode
    # became critical, not only when it began. None for technical alarms, whose priority never changes.
    reached: datetime | None = None
    baseline: float | None = None  # a rise episode's baseline, so it can say "+45 over baseline 152"

    @property
    def key(self) -> tuple[str, str, str, str, datetime]:
        """Identity across updates: the same run always has the same key."""
        return (self.vital, self.kind, self.direction, self.source, self.onset)

    def to_json(self) -> dict[str, Any]:
        """The `vigil check --json` object (docs/limits.md), in its documented key order."""
        return {
            "vital": self.vital,
            "direction": self.direction,
            "kind": self.kind,
            "priority": self.priority,
            "onset": _iso(self.onset),
            "announced": _iso(self.announced),
            "end": None if self.end is None else _iso(self.end),
            "peak": float(self.peak),
            "limit": float(self.limit),
        }


def _iso(t: datetime) -> str:
    text = t.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def sort_key(episode: Episode) -> tuple:
    return (episode.onset, VITAL_ORDER.get(episode.vital, 99), episode.kind, episode.direction, episode.source)


class _Level(NamedTuple):
    """The highest limit a reading breaks: its priority rank, the limit, and (for a rise) the baseline."""

    rank: int
    limit: float
    baseline: float | None = None


@dataclass
class _Run:
    """A run in progress; becomes an episode once announced."""

    onset: datetime
    peak: float
    last: float
    level: _Level
    reached: datetime  # when `level` was reached
    episode: Episode | None = None


@dataclass
class _Silence:
    """A technical alarm in progress: the time of the last reading before the silence."""

    since: datetime
    episode: Episode | None = None
    link_lost_at: datetime | None = None  # the link reported lost: announced then, not after the threshold


def _level(lim: VitalLimits, direction: str, value: float) -> _Level | None:
    """The highest limit the value breaks in this direction, or None."""
    if direction == "high":
        if lim.critical_high is not None and value > lim.critical_high:
            return _Level(RANK["high"], lim.critical_high)
        if lim.high is not None and value > lim.high:
            return _Level(RANK["medium"], lim.high)
    else:
        if lim.critical_low is not None and value < lim.critical_low:
            return _Level(RANK["high"], lim.critical_low)
        if lim.low is not None and value < lim.low:
            return _Level(RANK["medium"], lim.low)
    return None


class AlarmEngine:
    """Evaluates one session's readings against its limits, causally, exactly as docs/limits.md defines.

    `expect_dose` says the session has (or will have) a dose event, so the baseline for `rise`
    comes from the 15 minutes before it; `vigil check` sets it when the file holds one, a live
    session from its type. Without it, the first readings are the baseline until a dose event
    arrives, whose window then applies from its time on.
    """

    def __init__(self, limits: Limits, *, expect_dose: bool = False) -> None:
        self.limits = limits
        self.expect_dose = expect_dose
        self.now: datetime | None = None
        self.first_row: datetime | None = None
        self.late = 0  # readings older than the vital's previous one: not evaluated
        self.repeats = 0  # further readings of a vital at the same instant: not evaluated
        self._runs: dict[tuple[str, str, str], _Run] = {}
        self._baselines = {code: RiseBaseline(code) for code in VITAL_CODES}
        # each vital's run keys, (limit high, limit low, rise): made once, not twice per reading
        self._keys = {code: ((code, "limit", "high"), (code, "limit", "low"), (code, "rise", "high"))
                      for code in VITAL_CODES}
        self._last_time: dict[str, datetime] = {}
        self._dose: datetime | None = None
        self._continuous_seen: dict[str, datetime] = {}  # source -> its last continuous reading
        self._lost: dict[str, _Silence] = {}
        self._nibp: _Silence | None = None
        self._limits_since: datetime | None = None  # no technical alarm is announced before its limits applied

    # -- inputs --

    def set_limits(self, limits: Limits, at: datetime) -> list[Episode]:
        """New limits apply to readings from `at` on; open runs continue or end by the new ones."""
        out = self.tick(at)
        self.limits = limits
        self._limits_since = at
        return out

    def event(self, e: Event) -> list[Episode]:
        out = self._advance(e.time)
        if e.kind == LINK_LOST:
            out += self._link_lost(e.source, e.time)
        if e.kind in DOSE_KINDS and self._dose is None:
            self._dose = e.time
            for baseline in self._baselines.values():
                baseline.set_dose(e.time)
        return out

    def move_dose(self, dose: datetime | None, window: Iterable[Reading]) -> None:
        """The dose event was corrected to `dose`, or withdrawn (None): rise alarms compare each reading from
        now on with the baseline of the corrected window, which `window` (the stored readings of the 15 min
        up to `dose`) gives. An open rise run continues or ends by its next reading."""
        self._dose = dose
        readings = list(window)
        for vital, baseline in self._baselines.items():
            baseline.move_dose(dose, [r for r in readings if r.vital == vital], self.now)

    def tick(self, now: datetime) -> list[Episode]:
        """The clock moved without data: technical alarms may become due."""
        return self._advance(now)

    def reading(self, r: Reading) -> list[Episode]:
        t, vital = r.time, r.vital
        # `_advance` has nothing to do for a reading at the instant of the one before (a row's other vitals).
        out = self._advance(t) if self.now is None or t > self.now else []
        spec = VITALS.get(vital)
        if spec is None:
            return out
        previous = self._last_time.get(vital)
        if previous is not None and t <= previous:
            # One reading per vital per instant, as the store keeps one per source, vital and time;
            # otherwise two runs could share an onset, and with it their identity.
            if t < previous:
                self.late += 1
            else:
                self.repeats += 1
            return out
        self._last_time[vital] = t
        if spec.continuous:
            self._continuous_seen[r.source] = t
            if r.source in self._lost:
                out += self._heard(r.source, t)
        if vital == "sbp":
            out += self._nibp_measured(t)
        lim = self.limits.for_vital(vital)
        out += self._limit_runs(r, lim)
        out += self._rise_run(r, lim)
        return out

    def feed(self, items: Iterable[Reading | Event]) -> list[Episode]:
        out: list[Episode] = []
        for item in items:
            episodes = self.reading(item) if isinstance(item, Reading) else self.event(item)
            if episodes:
                out += episodes
        return out

    # -- physiological runs --

    def _delay(self, vital: str) -> timedelta:
        if not VITALS[vital].continuous:
            return timedelta(0)
        delay_s = self.limits.for_vital(vital).delay_s
        return timedelta(seconds=DEFAULT_DELAY_S.get(vital, 10.0) if delay_s is None else delay_s)

    def _limit_runs(self, r: Reading, lim: VitalLimits) -> list[Episode]:
        out: list[Episode] = []
        high, low, _ = self._keys[r.vital]
        lowest, highest = lim.in_range
        if lowest <= r.value <= highest and high not in self._runs and low not in self._runs:
            return out  # in range with no run open: `_step` has nothing to do
        level = _level(lim, "high", r.value)
        if level is not None or high in self._runs:
            out += self._step(high, r, level)
        level = _level(lim, "low", r.value)
        if level is not None or low in self._runs:
            out += self._step(low, r, level)
        return out

    def _rise_run(self, r: Reading, lim: VitalLimits) -> list[Episode]:
        baselines = self._baselines[r.vital]
        baselines.observe(r)
        key = self._keys[r.vital][2]
        rise = lim.rise
        if rise is None:  # no rise limit: only a run the limit ended is left to close
            return self._step(key, r, None) if key in self._runs else []
        fixed = self.limits.baseline.get(r.vital)
        baseline = fixed if fixed is not None else baselines.value_at(r.time, self.expect_dose)
        level = None
        if baseline is not None and r.value - baseline > rise:
            level = _Level(RANK["low"], baseline + rise, baseline)
        return self._step(key, r, level) if level is not None or key in self._runs else []

    def _step(self, key: tuple[str, str, str], r: Reading, level: _Level | None) -> list[Episode]:
        """Advance one (vital, kind, direction) run by one reading."""
        run = self._runs.get(key)
        if level is None:
            if run is None:
                return []
            del self._runs[key]
            if run.episode is None:
                return []  # ended before its delay: never announced, no episode
            return [replace(run.episode, end=r.time)]
        if run is None:
            run = self._runs[key] = _Run(onset=r.time, peak=r.value, last=r.value, level=level, reached=r.time)
        else:
            run.peak = max(run.peak, r.value) if key[2] == "high" else min(run.peak, r.value)
            if level.rank > run.level.rank:
                run.level, run.reached = level, r.time
            run.last = r.value
        if run.episode is None:
            announce_at = run.onset + self._delay(r.vital)
            if r.time < announce_at:
                return []
            run.episode = self._snapshot(key, run, announce_at)
        else:
            run.episode = self._snapshot(key, run, run.episode.announced)
        return [run.episode]

    @staticmethod
    def _snapshot(key: tuple[str, str, str], run: _Run, announced: datetime) -> Episode:
        vital, kind, direction = key
        return Episode(
            vital=vital, direction=direction, kind=kind, priority=PRIORITIES[run.level.rank], onset=run.onset,
            announced=announced, end=None, peak=run.peak, limit=run.level.limit, value=run.last,
            reached=run.reached, baseline=run.level.baseline,
        )

    # -- technical alarms --

    def _advance(self, now: datetime) -> list[Episode]:
        if self.first_row is None:
            self.first_row = now
        if self.now is not None and now <= self.now:
            return []
        self.now = now
        out: list[Episode] = []
        loss_s = self.limits.technical.signal_loss_s
        for source, last in self._continuous_seen.items():
            silence = self._lost.get(source)
            if silence is None and (now - last).total_seconds() > loss_s:
                silence = self._lost[source] = _Silence(last)
            if silence is not None:
                silence.episode = self._silence_episode(silence, "signal", "loss", loss_s, now, self._limits_since,
                                                        source)
                out.append(silence.episode)
        overdue_s = self.limits.technical.nibp_overdue_s
        if overdue_s is not None:
            since = self._nibp.since if self._nibp else self._last_time.get("sbp", self.first_row)
            if self._nibp is None and (now - since).total_seconds() > overdue_s:
                self._nibp = _Silence(since)
            if self._nibp is not None:
                self._nibp.episode = self._silence_episode(self._nibp, "nibp", "overdue", overdue_s, now,
                                                           self._limits_since)
                out.append(self._nibp.episode)
        return out

    @staticmethod
    def _silence_episode(
        silence: _Silence, vital: str, direction: str, threshold_s: float, now: datetime,
        limits_since: datetime | None, source: str = "",
    ) -> Episode:
        """The silence as an episode; announced when it outlasted the threshold, but never before the
        threshold was in force (a limit lowered mid-silence alarms from the change on)."""
        if silence.episode is not None:
            announced = silence.episode.announced
        else:
            announced = silence.link_lost_at or silence.since + timedelta(seconds=threshold_s)
            if limits_since is not None:
                announced = max(announced, limits_since)
        limit = silence.episode.limit if silence.episode else threshold_s
        length = (now - silence.since).total_seconds()
        return Episode(
            vital=vital, direction=direction, kind="technical", priority="medium", onset=silence.since,
            announced=announced, end=None, peak=length, limit=limit, value=length, source=source,
        )

    def _link_lost(self, source: str, t: datetime) -> list[Episode]:
        """A serial link reported lost: signal loss is announced now, not `signal_loss_s` after the last
        reading, since the cause is known. A source silent already keeps its episode; one that never
        delivered a continuous vital never raises it (docs/limits.md), as its next reading could not end it."""
        if source in self._lost or source not in self._continuous_seen:
            return []
        silence = self._lost[source] = _Silence(self._continuous_seen[source], link_lost_at=t)
        silence.episode = self._silence_episode(silence, "signal", "loss", self.limits.technical.signal_loss_s, t,
                                                self._limits_since, source)
        return [silence.episode]

    def _heard(self, source: str, t: datetime) -> list[Episode]:
        """A silent source was heard again (the caller noted when)."""
        silence = self._lost.pop(source)
        if silence.episode is None:
            return []
        length = (t - silence.since).total_seconds()
        return [replace(silence.episode, end=t, peak=length, value=length)]

    def _nibp_measured(self, t: datetime) -> list[Episode]:
        silence, self._nibp = self._nibp, None
        if silence is None or silence.episode is None:
            return []
        length = (t - silence.since).total_seconds()
        return [replace(silence.episode, end=t, peak=length, value=length)]


def chronological(readings: Iterable[Reading], events: Iterable[Event]) -> Iterator[Reading | Event]:
    """One time-ordered stream; at equal times events come first, so a dose at T precedes readings at T."""
    readings, events = list(readings), list(events)
    if _in_time_order(readings) and _in_time_order(events):
        return _merged(readings, events)  # a recording read from a file: no need to sort 170 000 readings a day
    tagged = [(e.time, 0, i, e) for i, e in enumerate(events)] + [(r.time, 1, i, r) for i, r in enumerate(readings)]
    tagged.sort(key=lambda item: item[:3])
    return (item for *_, item in tagged)


def _in_time_order(items: Sequence[Reading | Event]) -> bool:
    return all(a.time <= b.time for a, b in pairwise(items))


def _merged(readings: list[Reading], events: list[Event]) -> Iterator[Reading | Event]:
    """What `chronological` gives for lists already in time order: the same stable order, without a sort."""
    pending = iter(events)
    event = next(pending, None)
    for reading in readings:
        while event is not None and event.time <= reading.time:
            yield event
            event = next(pending, None)
        yield reading
    if event is not None:
        yield event
        yield from pending


def evaluate(readings: Iterable[Reading], events: Iterable[Event], limits: Limits) -> list[Episode]:
    """Every episode of a whole recording, final state, ordered by onset (what `vigil check` prints)."""
    events = list(events)
    engine = AlarmEngine(limits, expect_dose=any(e.kind in DOSE_KINDS for e in events))
    final: dict[tuple, Episode] = {}
    for episode in engine.feed(chronological(readings, events)):
        final[episode.key] = episode
    return sorted(final.values(), key=sort_key)
