"""The alarm engine against ARCHITECTURE.md §5, rule by rule, on small hand-built sessions.

Every reading is placed at `t` seconds from a fixed UTC start (`at`). Each test is named for the §5 rule it
checks; the property tests at the end feed the engine arbitrary sessions and check the invariants §5 implies.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.model.reading import DOSE_KINDS, EVENT_KINDS, LINK_LOST, Event, Reading
from adapters.model.vitals import VITAL_CODES, VITALS
from monitor.alarms.engine import PRIORITIES, AlarmEngine, Episode, chronological, evaluate
from monitor.limits.model import Limits, load_preset, parse_limits

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MIN = 60


# -- helpers --


def at(t: float) -> datetime:
    """The instant `t` seconds after the session start."""
    return T0 + timedelta(seconds=t)


def iso(t: float) -> str:
    return at(t).isoformat().replace("+00:00", "Z")


def r(vital: str, t: float, value: float, source: str = "bed-1") -> Reading:
    return Reading(at(t), vital, float(value), source)


def series(vital: str, start: float, values: Sequence[float], step: float = 1, source: str = "bed-1") -> list[Reading]:
    """Readings of one vital at start, start + step, … with the given values."""
    return [r(vital, start + i * step, v, source) for i, v in enumerate(values)]


def steady(
    vital: str, start: float, stop: float, value: float, step: float = 1, source: str = "bed-1"
) -> list[Reading]:
    """The same value every `step` seconds from start to stop inclusive."""
    n = round((stop - start) / step) + 1
    return series(vital, start, [value] * n, step, source)


def ev(t: float, kind: str = "dose_start") -> Event:
    return Event(at(t), kind)


def lim(
    vitals: dict[str, dict[str, float]] | None = None,
    *,
    technical: dict[str, float] | None = None,
    baseline: dict[str, float] | None = None,
) -> Limits:
    """A limit set built through the same validation as a TOML file."""
    data: dict[str, Any] = {"vitals": vitals or {}}
    if technical:
        data["technical"] = technical
    if baseline:
        data["baseline"] = baseline
    return parse_limits(data)


SBP = {"sbp": {"critical_low": 80, "low": 90, "high": 180, "critical_high": 220}}
HR = {"hr": {"critical_low": 40, "low": 50, "high": 110, "critical_high": 130}}
QUIET = {"signal_loss_s": 86400}  # keeps signal-loss episodes out of tests about other rules


def run(readings: Iterable[Reading], limits: Limits, events: Iterable[Event] = ()) -> list[Episode]:
    return evaluate(list(readings), list(events), limits)


def pick(episodes: list[Episode], vital: str, kind: str = "limit", direction: str = "high") -> list[Episode]:
    return [e for e in episodes if (e.vital, e.kind, e.direction) == (vital, kind, direction)]


def one(episodes: list[Episode], vital: str, kind: str = "limit", direction: str = "high") -> Episode:
    found = pick(episodes, vital, kind, direction)
    assert len(found) == 1, f"expected one {vital}/{kind}/{direction} episode, got {found}"
    return found[0]


def summary(e: Episode) -> dict[str, Any]:
    return e.to_json()


def expect(
    vital: str,
    kind: str,
    direction: str,
    priority: str,
    onset: float,
    announced: float,
    end: float | None,
    peak: float,
    limit: float,
) -> dict[str, Any]:
    """The --json object §5 defines, with times as seconds from the start."""
    return {
        "vital": vital,
        "direction": direction,
        "kind": kind,
        "priority": priority,
        "onset": iso(onset),
        "announced": iso(announced),
        "end": None if end is None else iso(end),
        "peak": float(peak),
        "limit": float(limit),
    }


# -- the allowed range is inclusive --


@pytest.mark.parametrize("vital", ["sbp", "hr"])
def test_inclusive_range_value_equal_to_high_limit_is_no_alarm(vital: str) -> None:
    limits = lim({vital: {"high": 110, "delay_s": 0}}, technical=QUIET)
    assert run(steady(vital, 0, 30, 110), limits) == []


@pytest.mark.parametrize("vital", ["sbp", "hr"])
def test_inclusive_range_value_just_above_high_limit_alarms(vital: str) -> None:
    limits = lim({vital: {"high": 110, "delay_s": 0}}, technical=QUIET)
    episodes = run([*steady(vital, 0, 5, 110.1), r(vital, 6, 110)], limits)
    assert [summary(e) for e in episodes] == [expect(vital, "limit", "high", "medium", 0, 0, 6, 110.1, 110)]


def test_inclusive_range_value_equal_to_low_limit_is_no_alarm_and_just_below_alarms() -> None:
    limits = lim(SBP)
    assert run([r("sbp", 0, 90), r("sbp", 300, 90)], limits) == []
    episodes = run([r("sbp", 0, 90), r("sbp", 300, 89.9), r("sbp", 600, 90)], limits)
    assert [summary(e) for e in episodes] == [expect("sbp", "limit", "low", "medium", 300, 300, 600, 89.9, 90)]


def test_inclusive_range_value_equal_to_critical_limit_is_not_critical() -> None:
    limits = lim(SBP)
    high = one(run([r("sbp", 0, 220), r("sbp", 300, 120)], limits), "sbp")
    assert (high.priority, high.limit) == ("medium", 180)
    low = one(run([r("sbp", 0, 80), r("sbp", 300, 120)], limits), "sbp", direction="low")
    assert (low.priority, low.limit) == ("medium", 90)
    high = one(run([r("sbp", 0, 220.5), r("sbp", 300, 120)], limits), "sbp")
    assert (high.priority, high.limit) == ("high", 220)


def test_inclusive_range_rise_equal_to_threshold_is_no_alarm() -> None:
    limits = lim({"sbp": {"rise": 40}}, baseline={"sbp": 120})
    assert run([r("sbp", 0, 160), r("sbp", 300, 160)], limits) == []
    episode = one(run([r("sbp", 0, 160), r("sbp", 300, 160.5)], limits), "sbp", "rise")
    assert summary(episode) == expect("sbp", "rise", "high", "low", 300, 300, None, 160.5, 160)


# -- NIBP: announced at onset, no delay --


@pytest.mark.parametrize("vital", ["sbp", "dbp", "map"])
def test_nibp_is_announced_at_onset_with_no_delay(vital: str) -> None:
    limits = lim({vital: {"high": 150}})
    episodes = run([r(vital, 0, 120), r(vital, 300, 160), r(vital, 600, 120)], limits)
    assert [summary(e) for e in episodes] == [expect(vital, "limit", "high", "medium", 300, 300, 600, 160, 150)]


def test_nibp_ignores_a_configured_delay_s() -> None:
    limits = lim({"sbp": {"high": 150, "delay_s": 120}})
    episodes = run([r("sbp", 0, 160), r("sbp", 1, 120)], limits)
    assert [summary(e) for e in episodes] == [expect("sbp", "limit", "high", "medium", 0, 0, 1, 160, 150)]


# -- continuous vitals: delay --


def test_continuous_excursion_shorter_than_delay_gives_no_episode() -> None:
    limits = lim(HR)  # no delay_s: default 10 s
    readings = [*steady("hr", 0, 99, 80), *steady("hr", 100, 109, 125), *steady("hr", 110, 130, 80)]
    assert run(readings, limits) == []  # outside 100…109: the last outside reading is at onset + 9


def test_continuous_excursion_reaching_delay_is_announced_at_exactly_onset_plus_delay() -> None:
    limits = lim(HR)
    readings = [*steady("hr", 0, 99, 80), *steady("hr", 100, 110, 125), *steady("hr", 111, 130, 80)]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("hr", "limit", "high", "medium", 100, 110, 111, 125, 110)]


def test_continuous_announced_is_onset_plus_delay_even_between_readings() -> None:
    limits = lim(HR, technical=QUIET)
    readings = [r("hr", 0, 80), *series("hr", 3, [120, 121, 122, 119], step=4), r("hr", 19, 80)]  # 3, 7, 11, 15
    episode = one(run(readings, limits), "hr")
    assert (episode.onset, episode.announced, episode.end, episode.peak) == (at(3), at(13), at(19), 122)


@pytest.mark.parametrize("delay", [0, 2.5, 5, 25, 60])
def test_continuous_custom_delay_s(delay: float) -> None:
    limits = lim({"hr": {"high": 110, "delay_s": delay}}, technical=QUIET)
    if delay > 0:  # outside at 0 and delay/2, back in range at `delay`: the run ends before onset + delay
        assert run([r("hr", 0, 120), r("hr", delay / 2, 125), r("hr", delay, 80)], limits) == []
    longer = [r("hr", 0, 120), r("hr", delay, 121), r("hr", delay + 1, 80)]
    episode = one(run(longer, limits), "hr")
    assert (episode.onset, episode.announced, episode.end) == (at(0), at(delay), at(delay + 1))


@pytest.mark.parametrize("vital", ["hr", "pr", "rr"])
def test_continuous_default_delay_is_10_s(vital: str) -> None:
    limits = lim({vital: {"high": 25}}, technical=QUIET)
    assert run([*steady(vital, 0, 9.5, 30, step=0.5), r(vital, 10, 20)], limits) == []
    episode = one(run([*steady(vital, 0, 10, 30), r(vital, 11, 20)], limits), vital)
    assert (episode.announced, episode.end) == (at(10), at(11))


def test_spo2_default_delay_is_15_s() -> None:
    limits = lim({"spo2": {"low": 94}}, technical=QUIET)
    assert run([*steady("spo2", 0, 14, 90), r("spo2", 15, 97)], limits) == []
    episodes = run([*steady("spo2", 0, 15, 90), r("spo2", 16, 97)], limits)
    assert [summary(e) for e in episodes] == [expect("spo2", "limit", "low", "medium", 0, 15, 16, 90, 94)]


def test_continuous_run_never_announced_before_data_end_gives_no_episode() -> None:
    limits = lim(HR)
    assert run([*steady("hr", 0, 20, 80), *steady("hr", 21, 25, 125)], limits) == []


# -- runs --


def test_gap_in_the_data_does_not_end_a_run_nibp() -> None:
    limits = lim(SBP)
    readings = [r("sbp", 0, 190), r("sbp", 1800, 195), r("sbp", 3600, 120)]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("sbp", "limit", "high", "medium", 0, 0, 3600, 195, 180)]


def test_gap_in_the_data_does_not_end_a_run_continuous() -> None:
    limits = lim(HR)
    readings = [*steady("hr", 0, 4, 120), *steady("hr", 40, 45, 125), r("hr", 46, 80)]
    episode = one(run(readings, limits), "hr")
    assert summary(episode) == expect("hr", "limit", "high", "medium", 0, 10, 46, 125, 110)


def test_reading_outside_on_the_other_side_ends_the_run_and_starts_the_other_directions_run() -> None:
    limits = lim(SBP)
    episodes = run([r("sbp", 0, 190), r("sbp", 300, 85), r("sbp", 600, 120)], limits)
    assert [summary(e) for e in episodes] == [
        expect("sbp", "limit", "high", "medium", 0, 0, 300, 190, 180),
        expect("sbp", "limit", "low", "medium", 300, 300, 600, 85, 90),
    ]


def test_other_side_run_of_a_continuous_vital_starts_at_the_ending_reading() -> None:
    limits = lim(HR, technical=QUIET)
    readings = [*steady("hr", 0, 20, 120), *steady("hr", 21, 40, 45), r("hr", 41, 70)]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [
        expect("hr", "limit", "high", "medium", 0, 10, 21, 120, 110),
        expect("hr", "limit", "low", "medium", 21, 31, 41, 45, 50),
    ]


def test_high_then_critical_in_one_run_is_one_episode_with_priority_high() -> None:
    limits = lim(SBP)
    values = [190, 230, 240, 200, 120]
    episodes = run(series("sbp", 0, values, step=300), limits)
    assert [summary(e) for e in episodes] == [expect("sbp", "limit", "high", "high", 0, 0, 1200, 240, 220)]


def test_critical_then_high_in_one_run_keeps_priority_high() -> None:
    limits = lim(SBP)
    episodes = run(series("sbp", 0, [230, 190, 185, 150], step=300), limits)
    assert [summary(e) for e in episodes] == [expect("sbp", "limit", "high", "high", 0, 0, 900, 230, 220)]


def test_continuous_priority_counts_every_reading_of_the_run_including_before_announcement() -> None:
    limits = lim(HR, technical=QUIET)
    readings = [*steady("hr", 0, 2, 135), *steady("hr", 3, 14, 115), r("hr", 15, 80)]
    episode = one(run(readings, limits), "hr")
    assert summary(episode) == expect("hr", "limit", "high", "high", 0, 10, 15, 135, 130)


def test_low_direction_peak_is_the_minimum() -> None:
    limits = lim(SBP)
    episodes = run(series("sbp", 0, [88, 85, 87, 100], step=300), limits)
    assert [summary(e) for e in episodes] == [expect("sbp", "limit", "low", "medium", 0, 0, 900, 85, 90)]


def test_low_then_critical_low_in_one_run_is_priority_high_with_critical_limit() -> None:
    limits = lim({"spo2": {"low": 94, "critical_low": 90}}, technical=QUIET)
    readings = [*steady("spo2", 0, 5, 93), *steady("spo2", 6, 8, 86), *steady("spo2", 9, 20, 92), r("spo2", 21, 97)]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("spo2", "limit", "low", "high", 0, 15, 21, 86, 90)]


def test_run_starts_at_the_lowest_configured_threshold_of_the_direction() -> None:
    limits = lim({"sbp": {"critical_high": 219}})  # as news2: no `high`
    assert run([r("sbp", 0, 210), r("sbp", 300, 219)], limits) == []
    episodes = run([r("sbp", 0, 210), r("sbp", 300, 225), r("sbp", 600, 120)], limits)
    assert [summary(e) for e in episodes] == [expect("sbp", "limit", "high", "high", 300, 300, 600, 225, 219)]


def test_only_the_first_reading_of_a_vital_at_one_instant_is_evaluated() -> None:
    # The store keeps one reading per source, vital and time; the engine evaluates one per vital and
    # instant, so two runs can never share an onset (an episode's identity). The rest are counted.
    limits = lim(SBP)
    readings = [r("sbp", 0, 200), r("sbp", 0, 120), r("sbp", 0, 195), r("sbp", 300, 120)]
    engine = AlarmEngine(limits)
    final = {e.key: e for e in engine.feed(readings)}
    assert [summary(e) for e in final.values()] == [expect("sbp", "limit", "high", "medium", 0, 0, 300, 200, 180)]
    assert engine.repeats == 2


def test_episode_still_open_at_the_end_of_the_data_has_end_none() -> None:
    limits = lim({**SBP, **HR}, technical=QUIET)
    episodes = run([r("sbp", 0, 120), r("sbp", 300, 195), *steady("hr", 0, 30, 120)], limits)
    assert [summary(e) for e in episodes] == [
        expect("hr", "limit", "high", "medium", 0, 10, None, 120, 110),
        expect("sbp", "limit", "high", "medium", 300, 300, None, 195, 180),
    ]
    assert all(json.loads(json.dumps(e.to_json()))["end"] is None for e in episodes)


def test_episodes_are_independent_per_vital_kind_and_direction() -> None:
    limits = lim(
        {"sbp": {"high": 180, "rise": 30}, "dbp": {"high": 110}, "hr": {"high": 110}, "pr": {"high": 110}},
        baseline={"sbp": 140},
        technical=QUIET,
    )
    readings = [
        *series("sbp", 0, [175, 185, 172, 160], step=300),
        *series("dbp", 0, [100, 115, 100], step=300),
        *steady("hr", 0, 30, 120),
        *steady("pr", 5, 30, 120),
    ]
    episodes = run(readings, limits)
    assert sorted((e.vital, e.kind) for e in episodes) == [
        ("dbp", "limit"), ("hr", "limit"), ("pr", "limit"), ("sbp", "limit"), ("sbp", "rise")
    ]
    assert summary(one(episodes, "sbp", "rise")) == expect("sbp", "rise", "high", "low", 0, 0, 900, 185, 170)
    assert summary(one(episodes, "sbp")) == expect("sbp", "limit", "high", "medium", 300, 300, 600, 185, 180)
    assert one(episodes, "pr").onset == at(5)


# -- baseline-relative rise --


def test_rise_against_a_fixed_baseline_is_evaluated_from_the_first_reading() -> None:
    limits = lim({"sbp": {"rise": 39}}, baseline={"sbp": 125})
    episodes = run(series("sbp", 0, [170, 175, 150, 180], step=300), limits)
    assert [summary(e) for e in episodes] == [
        expect("sbp", "rise", "high", "low", 0, 0, 600, 175, 164),
        expect("sbp", "rise", "high", "low", 900, 900, None, 180, 164),
    ]


def test_rise_fixed_baseline_wins_over_the_dose_window() -> None:
    limits = lim({"sbp": {"rise": 20}}, baseline={"sbp": 100})
    readings = series("sbp", 0, [150, 150, 150, 150, 110], step=300)
    episodes = run(readings, limits, [ev(600)])
    assert [summary(e) for e in episodes] == [expect("sbp", "rise", "high", "low", 0, 0, 1200, 150, 120)]


def test_rise_baseline_is_the_mean_of_the_15_min_before_the_first_dose_start() -> None:
    limits = lim({"sbp": {"rise": 20}})
    t_dose = 30 * MIN
    readings = [
        r("sbp", t_dose - 16 * MIN, 300),  # before the window: excluded
        r("sbp", t_dose - 15 * MIN, 100),  # window start: included
        r("sbp", t_dose - 5 * MIN, 120),
        r("sbp", t_dose, 110),  # the dose moment itself: included
        r("sbp", t_dose + 5 * MIN, 130),  # = baseline 110 + 20: in range
        r("sbp", t_dose + 10 * MIN, 131),
        r("sbp", t_dose + 15 * MIN, 135),
        r("sbp", t_dose + 20 * MIN, 125),
    ]
    events = [ev(t_dose), ev(t_dose + 12 * MIN)]  # a second dose_start does not move the baseline
    episodes = run(readings, limits, events)
    assert [summary(e) for e in episodes] == [
        expect("sbp", "rise", "high", "low", t_dose + 10 * MIN, t_dose + 10 * MIN, t_dose + 20 * MIN, 135, 130)
    ]


def test_rise_baseline_from_the_dose_window_for_a_continuous_vital() -> None:
    limits = lim({"hr": {"rise": 15}}, technical=QUIET)
    t_dose = 20 * MIN
    readings = [
        *steady("hr", 0, t_dose - 15 * MIN - 1, 120),  # before the window
        *steady("hr", t_dose - 15 * MIN, t_dose, 70),
        *steady("hr", t_dose + 1, t_dose + 100, 85),  # +15: in range
        *steady("hr", t_dose + 101, t_dose + 120, 86),
        r("hr", t_dose + 121, 80),
    ]
    episodes = run(readings, limits, [ev(t_dose)])
    assert [summary(e) for e in episodes] == [
        expect("hr", "rise", "high", "low", t_dose + 101, t_dose + 111, t_dose + 121, 86, 85)
    ]


@pytest.mark.parametrize("minutes", [20, 31, 47, 200])
def test_rise_a_dose_event_that_arrives_after_later_readings_takes_the_window_the_engine_still_holds(
    minutes: int,
) -> None:
    """A dose event timed 3 min before readings already judged (as a live dose entered late): the engine holds
    the 15 min up to its newest reading, so the window runs from there to the dose, however long the session was
    before (the engine drops older readings in batches, and the window must not show when it last did)."""
    limits = lim({"hr": {"rise": 5, "delay_s": 0}}, technical=QUIET)
    newest, dose = minutes * MIN, (minutes - 3) * MIN
    engine = AlarmEngine(limits, expect_dose=True)
    for t in range(newest + 1):
        engine.reading(r("hr", t, t // MIN))  # each minute's readings at the minute's number
    engine.event(ev(dose))
    window = [t // MIN for t in range(newest - 15 * MIN, dose + 1)]
    baseline = sum(window) / len(window)
    [episode] = engine.reading(r("hr", newest + 1, baseline + 50))
    assert (episode.kind, episode.baseline) == ("rise", baseline)


def test_rise_device_1_starts_the_baseline_window_like_dose_start() -> None:
    limits = lim({"sbp": {"rise": 20}})
    readings = series("sbp", 0, [100, 100, 100, 100, 125, 100], step=5 * MIN)
    episodes = run(readings, limits, [ev(15 * MIN, "device_1")])
    assert [summary(e) for e in episodes] == [expect("sbp", "rise", "high", "low", 1200, 1200, 1500, 125, 120)]


def test_rise_is_evaluated_only_from_the_dose_time_on() -> None:
    limits = lim({"sbp": {"rise": 39}})
    readings = [*series("sbp", 0, [100, 100, 100, 170, 100], step=2 * MIN), r("sbp", 20 * MIN, 140)]
    # baseline = mean(100, 100, 100, 170, 100) = 114; 170 at 6:00 is 56 above it, but before the dose at 8:00
    episodes = run(readings, limits, [ev(8 * MIN)])
    assert episodes == []


def test_rise_reading_exactly_at_the_dose_time_is_evaluated() -> None:
    limits = lim({"sbp": {"rise": 10}})
    readings = [r("sbp", 0, 100), r("sbp", 300, 100), r("sbp", 600, 130), r("sbp", 900, 100)]
    # baseline at the dose (600) = mean(100, 100, 130) = 110; 130 is 20 above it, at T itself
    episodes = run(readings, limits, [ev(600)])
    assert [summary(e) for e in episodes] == [expect("sbp", "rise", "high", "low", 600, 600, 900, 130, 120)]


def test_rise_dose_start_without_readings_in_the_window_gives_no_rise_alarms() -> None:
    limits = lim({"sbp": {"rise": 20}, "hr": {"rise": 10}}, technical=QUIET)
    t_dose = 40 * MIN
    readings = [
        *series("sbp", 0, [100, 100, 100], step=5 * MIN),  # 0…10 min: all before the 25…40 min window
        *series("sbp", t_dose + 60, [200, 220, 210], step=5 * MIN),
        *steady("hr", 0, 120, 60),
        *steady("hr", t_dose + 1, t_dose + 200, 120),
    ]
    assert run(readings, limits, [ev(t_dose)]) == []


def test_rise_fallback_baseline_is_the_mean_of_the_first_two_nibp_readings() -> None:
    limits = lim({"sbp": {"rise": 39}})
    readings = series("sbp", 0, [120, 130, 164, 170, 150, 165], step=5 * MIN)
    episodes = run(readings, limits)  # baseline 125: limit 164
    assert [summary(e) for e in episodes] == [
        expect("sbp", "rise", "high", "low", 900, 900, 1200, 170, 164),
        expect("sbp", "rise", "high", "low", 1500, 1500, None, 165, 164),
    ]


def test_rise_fallback_nibp_baseline_exists_from_the_second_reading_which_is_evaluated() -> None:
    limits = lim({"sbp": {"rise": 39}})
    episodes = run(series("sbp", 0, [100, 200, 120], step=5 * MIN), limits)  # baseline 150: 200 is +50
    assert [summary(e) for e in episodes] == [expect("sbp", "rise", "high", "low", 300, 300, 600, 200, 189)]


def test_rise_fallback_nibp_first_reading_is_never_evaluated() -> None:
    limits = lim({"sbp": {"rise": 20}}, baseline={})
    assert run(series("sbp", 0, [300, 100], step=5 * MIN), limits) == []  # no baseline yet at the first reading


def test_rise_fallback_baseline_is_the_mean_of_the_first_60_s_of_a_continuous_vital() -> None:
    limits = lim({"hr": {"rise": 20}}, technical=QUIET)
    readings = [
        *steady("hr", 0, 29, 60),
        *steady("hr", 30, 59, 80),  # baseline 70; +10, and not evaluated yet anyway
        *steady("hr", 61, 120, 85),  # +15 (no reading at exactly 1:00)
        *steady("hr", 121, 140, 95),  # +25
        r("hr", 141, 80),
    ]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("hr", "rise", "high", "low", 121, 131, 141, 95, 90)]


def test_rise_continuous_fallback_is_evaluated_only_from_first_plus_60_s() -> None:
    limits = lim({"hr": {"rise": 5}}, technical=QUIET)
    readings = [*steady("hr", 0, 29, 60), *steady("hr", 30, 59, 80), *steady("hr", 61, 90, 80), r("hr", 91, 70)]
    episodes = run(readings, limits)  # 80 is +10 over 70 from 0:30 on, but the baseline exists only from 1:00
    assert [summary(e) for e in episodes] == [expect("hr", "rise", "high", "low", 61, 71, 91, 80, 75)]


def test_rise_episode_is_kind_rise_direction_high_priority_low_with_limit_baseline_plus_rise() -> None:
    limits = lim({"dbp": {"high": 120, "rise": 24}}, baseline={"dbp": 80.5})
    episodes = run(series("dbp", 0, [100, 106, 110, 90], step=300), limits)
    assert [summary(e) for e in episodes] == [expect("dbp", "rise", "high", "low", 300, 300, 900, 110, 104.5)]


# -- technical: signal loss --


def test_signal_loss_onset_announced_end_peak_limit() -> None:
    limits = lim()
    readings = [*steady("hr", 0, 20, 70), *steady("spo2", 0, 20, 98), *steady("hr", 50, 60, 70)]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("signal", "technical", "loss", "medium", 20, 30, 50, 30, 10)]
    assert episodes[0].source == "bed-1"


def test_signal_loss_custom_threshold() -> None:
    limits = lim(technical={"signal_loss_s": 5})
    episodes = run([*steady("spo2", 0, 20, 98), *steady("spo2", 26, 30, 98)], limits)
    assert [summary(e) for e in episodes] == [expect("signal", "technical", "loss", "medium", 20, 25, 26, 6, 5)]


def test_signal_loss_silence_exactly_equal_to_threshold_is_no_alarm() -> None:
    limits = lim()
    assert run([*steady("hr", 0, 20, 70), *steady("hr", 30, 40, 70)], limits) == []
    episodes = run([*steady("hr", 0, 20, 70), *steady("hr", 30.5, 40.5, 70)], limits)
    assert [summary(e) for e in episodes] == [expect("signal", "technical", "loss", "medium", 20, 30, 30.5, 10.5, 10)]


def test_signal_loss_never_raised_by_an_nibp_only_source() -> None:
    limits = lim(technical={"signal_loss_s": 5})
    readings = [r(v, t, 100) for t in range(0, 3600, 300) for v in ("sbp", "dbp", "map")]
    assert run(readings, limits) == []


def test_signal_loss_counted_from_the_sources_first_continuous_reading() -> None:
    limits = lim()
    readings = [r("sbp", 0, 120), *steady("hr", 100, 120, 70)]  # silent 0…100, but no continuous reading yet
    assert run(readings, limits) == []


def test_signal_loss_any_continuous_vital_of_the_source_keeps_it_alive() -> None:
    limits = lim()
    assert run([*steady("hr", 0, 10, 70), *steady("spo2", 0, 60, 98), *steady("hr", 50, 60, 70)], limits) == []


def test_signal_loss_is_per_source() -> None:
    limits = lim()
    readings = [*steady("hr", 0, 60, 70, source="ecg"), *steady("spo2", 0, 20, 98, source="oxi"),
                *steady("spo2", 45, 60, 98, source="oxi")]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("signal", "technical", "loss", "medium", 20, 30, 45, 25, 10)]
    assert episodes[0].source == "oxi"


def test_signal_loss_open_at_the_end_of_the_data_has_end_none() -> None:
    limits = lim()
    readings = [*steady("hr", 0, 20, 70), r("sbp", 100, 120, source="cuff")]
    episode = one(run(readings, limits), "signal", "technical", "loss")
    assert (episode.onset, episode.announced, episode.end, episode.limit) == (at(20), at(30), None, 10)
    assert episode.peak == 80  # the silence so far, up to the last data


def test_signal_loss_live_tick_announces_before_the_next_reading_and_the_reading_ends_it() -> None:
    engine = AlarmEngine(lim())
    for reading in steady("hr", 0, 5, 70):
        assert engine.reading(reading) == []
    for t in range(6, 16):  # silence up to exactly 10 s: nothing
        assert engine.tick(at(t)) == []
    announced = engine.tick(at(16))
    assert [summary(e) for e in announced] == [expect("signal", "technical", "loss", "medium", 5, 15, None, 11, 10)]
    for t in range(17, 20):
        (still,) = engine.tick(at(t))
        assert (still.onset, still.announced, still.end) == (at(5), at(15), None)
    # the reading's snapshots, last one per episode key (as a store upserts them)
    ended = list({e.key: e for e in engine.reading(r("hr", 20, 70)) if e.kind == "technical"}.values())
    assert [summary(e) for e in ended] == [expect("signal", "technical", "loss", "medium", 5, 15, 20, 15, 10)]
    assert engine.tick(at(21)) == []


def test_signal_loss_announced_at_once_when_the_link_reports_lost() -> None:
    engine = AlarmEngine(lim())
    engine.feed(steady("hr", 0, 5, 70))
    (lost,) = engine.event(Event(at(7), LINK_LOST, "no bytes for 2 s", source="bed-1"))
    assert [summary(lost)] == [expect("signal", "technical", "loss", "medium", 5, 7, None, 2, 10)]
    assert lost.source == "bed-1"
    (same,) = engine.event(Event(at(8), LINK_LOST, "again", source="bed-1"))  # one episode per outage
    assert (same.key, same.announced, same.peak) == (lost.key, at(7), 3)
    (still,) = engine.tick(at(30))
    assert (still.onset, still.announced, still.peak) == (at(5), at(7), 25)
    ended = list({e.key: e for e in engine.reading(r("hr", 40, 70)) if e.kind == "technical"}.values())
    assert [summary(e) for e in ended] == [expect("signal", "technical", "loss", "medium", 5, 7, 40, 35, 10)]


def test_link_lost_during_a_silence_keeps_the_episode_already_announced() -> None:
    engine = AlarmEngine(lim())
    engine.feed(steady("hr", 0, 5, 70))
    (first,) = engine.tick(at(20))
    assert engine.event(Event(at(21), LINK_LOST, source="bed-1")) == [replace(first, peak=16, value=16)]


def test_link_lost_of_a_source_without_continuous_vitals_raises_nothing() -> None:
    engine = AlarmEngine(lim())
    assert engine.event(Event(at(3), LINK_LOST, source="mon")) == []
    engine.reading(r("sbp", 5, 120, source="cuff"))
    assert engine.event(Event(at(6), LINK_LOST, source="cuff")) == []
    assert engine.tick(at(600)) == []


def test_link_lost_of_another_source_leaves_this_one_alone() -> None:
    engine = AlarmEngine(lim())
    engine.feed([*steady("hr", 0, 5, 70), *steady("spo2", 0, 5, 98, source="other")])
    (lost,) = engine.event(Event(at(6), LINK_LOST, source="other"))
    assert lost.source == "other"
    assert engine.reading(r("hr", 7, 70)) == [replace(lost, peak=2, value=2)]  # bed-1 still heard: no end


# -- technical: NIBP overdue --


def test_nibp_overdue_is_off_unless_nibp_overdue_s_is_set() -> None:
    assert Limits().technical.nibp_overdue_s is None
    readings = [*series("sbp", 0, [120, 120], step=4 * 3600), *steady("hr", 0, 4 * 3600, 70, step=5)]
    assert run(readings, lim()) == []


def test_nibp_overdue_counted_from_the_first_data_row() -> None:
    limits = lim(technical={"nibp_overdue_s": 60})
    readings = [*steady("hr", 0, 200, 70), r("sbp", 100, 120), r("sbp", 150, 120)]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("nibp", "technical", "overdue", "medium", 0, 60, 100, 100, 60)]


def test_nibp_overdue_after_the_last_sbp_ended_only_by_the_next_sbp_reading() -> None:
    limits = lim(technical={"nibp_overdue_s": 600})
    readings = [
        *[r(v, 0, 100) for v in ("sbp", "dbp", "map")],
        r("dbp", 700, 80),  # dbp and map alone are not a new NIBP
        r("map", 700, 90),
        *[r(v, 1000, 100) for v in ("sbp", "dbp", "map")],
        r("sbp", 1500, 110),  # 500 s later: not overdue
    ]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("nibp", "technical", "overdue", "medium", 0, 600, 1000, 1000, 600)]


def test_nibp_overdue_interval_exactly_equal_to_threshold_is_no_alarm() -> None:
    limits = lim(technical={"nibp_overdue_s": 900})
    readings = [*series("sbp", 0, [120, 120, 120], step=900), *steady("hr", 0, 1800, 70, step=5)]
    assert run(readings, limits) == []


def test_nibp_overdue_open_at_the_end_of_the_data_has_end_none() -> None:
    limits = lim(technical={"nibp_overdue_s": 60})
    readings = [r("sbp", 0, 120), *steady("hr", 0, 100, 70)]
    episodes = run(readings, limits)
    assert [summary(e) for e in episodes] == [expect("nibp", "technical", "overdue", "medium", 0, 60, None, 100, 60)]


def test_nibp_overdue_from_the_preset() -> None:
    limits = load_preset("iv-ketamine")
    assert limits.technical.nibp_overdue_s == 1020
    readings = [*series("sbp", 0, [120, 120], step=1100), *steady("hr", 0, 1100, 70)]
    episode = one(run(readings, limits), "nibp", "technical", "overdue")
    assert summary(episode) == expect("nibp", "technical", "overdue", "medium", 0, 1020, 1100, 1100, 1020)


# -- live feeding, tick order and limit changes --


def live(items: Sequence[Reading | Event], limits: Limits, *, expect_dose: bool, tick_s: float = 1) -> list[Episode]:
    """Feed one item at a time, with a clock tick every `tick_s` seconds in between, as acquisition does."""
    engine = AlarmEngine(limits, expect_dose=expect_dose)
    final: dict[tuple, Episode] = {}
    clock = items[0].time if items else T0
    for item in items:
        while clock < item.time:
            for e in engine.tick(clock):
                final[e.key] = e
            clock += timedelta(seconds=tick_s)
        for e in engine.reading(item) if isinstance(item, Reading) else engine.event(item):
            final[e.key] = e
    return sorted(final.values(), key=lambda e: (e.onset, e.vital, e.kind, e.direction, e.source))


def canonical(episodes: list[Episode]) -> list[Episode]:
    return sorted(episodes, key=lambda e: (e.onset, e.vital, e.kind, e.direction, e.source))


def mixed_session() -> tuple[list[Reading], list[Event]]:
    """Every kind of episode in one session: limit, critical, rise, delay, gap, signal loss, NIBP overdue."""
    nibp = [130, 128, 132, 131, 150, 185, 225, 190, 150, 130, 128]
    nibp_times = [0, 300, 600, 900, 1500, 1800, 2100, 2400, 3000, 4200, 4300]
    readings = [r("sbp", t, v) for t, v in zip(nibp_times, nibp, strict=True)]
    readings += [r("dbp", t, v * 0.6) for t, v in zip(nibp_times, nibp, strict=True)]
    hr = [75.0] * 4400
    hr[1000:1030] = [125.0] * 30  # announced
    hr[2000:2005] = [140.0] * 5  # shorter than the delay
    hr[2500:2600] = [45.0] * 100  # low side
    readings += [r("hr", t, v) for t, v in enumerate(hr) if not 3000 < t < 3040]  # a 40 s gap
    readings += [r("spo2", t, 90.0 if 3500 <= t < 3530 else 97.0) for t in range(0, 4400, 2) if not 3000 < t < 3040]
    return readings, [ev(900), ev(3300, "dose_end"), Event(at(3010), "note", "probe off")]


MIXED_LIMITS = lim(
    {**SBP, "sbp": {**SBP["sbp"], "rise": 39}, "dbp": {"high": 110, "rise": 24}, **HR, "spo2": {"low": 94}},
    technical={"signal_loss_s": 10, "nibp_overdue_s": 1020},
)


def test_live_feeding_with_ticks_every_second_gives_the_same_episodes_as_evaluate() -> None:
    readings, events = mixed_session()
    batch = evaluate(readings, events, MIXED_LIMITS)
    kinds = {(e.vital, e.kind, e.direction) for e in batch}
    assert {("sbp", "limit", "high"), ("sbp", "rise", "high"), ("hr", "limit", "high"), ("hr", "limit", "low"),
            ("signal", "technical", "loss"), ("nibp", "technical", "overdue"), ("spo2", "limit", "low")} <= kinds
    items = list(chronological(readings, events))
    assert canonical(live(items, MIXED_LIMITS, expect_dose=True)) == canonical(batch)
    assert canonical(live(items, MIXED_LIMITS, expect_dose=True, tick_s=0.25)) == canonical(batch)


@pytest.mark.parametrize("name", ["hypertensive", "artefacts"])
def test_live_feeding_of_a_sample_session_gives_the_same_episodes_as_evaluate(sample_data, name: str) -> None:
    from adapters.files.csv_reader import read_session_csv

    recording = read_session_csv(sample_data / f"{name}.csv")
    limits = load_preset("iv-ketamine")
    batch = evaluate(recording.readings, recording.events, limits)
    assert batch  # both files have episodes
    items = list(chronological(recording.readings, recording.events))
    assert canonical(live(items, limits, expect_dose=True)) == canonical(batch)


def test_set_limits_mid_session_applies_from_the_change_time_only() -> None:
    engine = AlarmEngine(lim({"sbp": {"high": 160}}))
    out = engine.reading(r("sbp", 0, 150))
    out += engine.reading(r("sbp", 300, 170))  # alarm under the old limit
    out += engine.set_limits(lim({"sbp": {"high": 180}}), at(400))
    out += engine.reading(r("sbp", 600, 175))  # in range under the new limit: ends the open run
    out += engine.set_limits(lim({"sbp": {"high": 140}}), at(700))
    out += engine.reading(r("sbp", 900, 150))  # alarms only under the newest limit
    final = {e.key: e for e in out}
    assert [summary(e) for e in canonical(list(final.values()))] == [
        expect("sbp", "limit", "high", "medium", 300, 300, 600, 170, 160),
        expect("sbp", "limit", "high", "medium", 900, 900, None, 150, 140),
    ]


def test_set_limits_does_not_reevaluate_earlier_readings() -> None:
    engine = AlarmEngine(lim({"hr": {"high": 130}}, technical=QUIET))
    out: list[Episode] = []
    for reading in steady("hr", 0, 30, 120):
        out += engine.reading(reading)
    out += engine.set_limits(lim({"hr": {"high": 110}}, technical=QUIET), at(30.5))
    for reading in steady("hr", 31, 50, 120):
        out += engine.reading(reading)
    final = {e.key: e for e in out}
    assert [summary(e) for e in final.values()] == [expect("hr", "limit", "high", "medium", 31, 41, None, 120, 110)]


def test_set_limits_technical_thresholds_apply_from_the_change_time_only() -> None:
    # NIBP overdue switched on at 1000 s, 1000 s after the last sbp: nothing can have been announced before 1000 s
    engine = AlarmEngine(lim())
    out = engine.reading(r("sbp", 0, 120, source="cuff"))
    out += engine.set_limits(lim(technical={"nibp_overdue_s": 600}), at(1000))
    out += engine.reading(r("sbp", 1100, 120, source="cuff"))
    assert [(e.vital, summary(e)["announced"]) for e in out if e.announced < at(1000)] == []
    # signal loss shortened from 100 s to 5 s at 50 s, during a silence that began at 0 s
    engine = AlarmEngine(lim(technical={"signal_loss_s": 100}))
    out = engine.reading(r("hr", 0, 70))
    out += engine.set_limits(lim(technical={"signal_loss_s": 5}), at(50))
    out += engine.reading(r("hr", 60, 70))
    assert [(e.vital, summary(e)["announced"]) for e in out if e.announced < at(50)] == []


def test_episodes_are_ordered_by_onset() -> None:
    readings, events = mixed_session()
    episodes = evaluate(list(reversed(readings)), events, MIXED_LIMITS)
    assert len(episodes) >= 7
    assert [e.onset for e in episodes] == sorted(e.onset for e in episodes)


def test_chronological_puts_events_before_readings_at_the_same_time() -> None:
    items = list(chronological([r("sbp", 10, 120), r("hr", 5, 70)], [ev(10), ev(0, "note")]))
    assert [(type(i).__name__, i.time) for i in items] == [
        ("Event", at(0)), ("Reading", at(5)), ("Event", at(10)), ("Reading", at(10))
    ]


# -- Episode.to_json --


def test_episode_to_json_key_order_and_iso_z_times_exactly_as_documented() -> None:
    plus_two = timezone(timedelta(hours=2))
    readings = [Reading(datetime(2026, 11, 20, 11, 40, tzinfo=plus_two), "sbp", 186, "bed-1"),
                Reading(datetime(2026, 11, 20, 11, 45, tzinfo=plus_two), "sbp", 150, "bed-1")]
    (episode,) = evaluate(readings, [], lim({"sbp": {"high": 180}}))
    data = episode.to_json()
    assert list(data) == ["vital", "direction", "kind", "priority", "onset", "announced", "end", "peak", "limit"]
    assert json.dumps(data) == (
        '{"vital": "sbp", "direction": "high", "kind": "limit", "priority": "medium", '
        '"onset": "2026-11-20T09:40:00Z", "announced": "2026-11-20T09:40:00Z", "end": "2026-11-20T09:45:00Z", '
        '"peak": 186.0, "limit": 180.0}'
    )


def test_episode_to_json_open_end_is_null_and_numbers_are_floats() -> None:
    episode = Episode("hr", "high", "limit", "high", at(0), at(10), None, 131, 130, 131)
    data = episode.to_json()
    assert data["end"] is None and json.dumps(data).endswith('"end": null, "peak": 131.0, "limit": 130.0}')
    assert isinstance(data["peak"], float) and isinstance(data["limit"], float)


# -- properties (hypothesis) --

INTERESTING = {
    "sbp": (60, 240), "dbp": (30, 140), "map": (40, 160),
    "hr": (30, 160), "pr": (30, 160), "spo2": (80, 100), "rr": (4, 35),
}
STEPS = [0, 0, 0.5, 1, 1, 1, 2, 3, 7, 10, 11, 16, 45, 300, 1100]

PROPERTY_LIMITS = [
    load_preset("iv-ketamine"),
    load_preset("esketamine"),
    load_preset("news2"),
    lim(
        {"sbp": {"high": 160, "critical_high": 200, "low": 90, "rise": 20, "delay_s": 5},
         "hr": {"high": 100, "low": 50, "rise": 10, "delay_s": 0},
         "spo2": {"low": 94, "critical_low": 90, "delay_s": 3},
         "rr": {"high": 20, "rise": 5, "delay_s": 2.5},
         "map": {"low": 65, "critical_low": 55}},
        technical={"signal_loss_s": 3, "nibp_overdue_s": 120},
        baseline={"hr": 70, "rr": 14},
    ),
    Limits(),
]



def plausible_value(vital: str, k: int) -> float:
    """k in 0…1000: an integer in the vital's clinically interesting band; 1001…1100: its whole plausible range."""
    lo, hi = INTERESTING[vital]
    if k <= 1000:
        return float(round(lo + (hi - lo) * k / 1000))
    v = VITALS[vital]
    return v.low + (v.high - v.low) * (k - 1001) / 99


ROW = st.tuples(st.sampled_from(STEPS), st.sampled_from(VITAL_CODES), st.integers(0, 1100), st.sampled_from("aab"))


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[Reading], list[Event], Limits]:
    """Up to 80 readings (random vitals, plausible values, non-decreasing times, two sources) and 0–3 events."""
    n = draw(st.integers(0, 80))
    t = draw(st.sampled_from([0.0, 0.5, 3.25]))
    readings = []
    for step, vital, k, source in draw(st.lists(ROW, min_size=n, max_size=n)):
        t += step
        readings.append(r(vital, t, plausible_value(vital, k), source))
    end = max(t, 1.0)
    marks = draw(st.lists(st.tuples(st.floats(0, 1), st.sampled_from(EVENT_KINDS)), max_size=3))
    events = sorted((Event(at(f * end), kind) for f, kind in marks), key=lambda e: e.time)
    return readings, events, draw(st.sampled_from(PROPERTY_LIMITS))


def check_invariants(episodes: list[Episode]) -> None:
    groups: dict[tuple[str, str, str, str], list[Episode]] = defaultdict(list)
    for e in episodes:
        assert e.priority in PRIORITIES
        assert e.onset <= e.announced
        assert e.end is None or e.announced <= e.end
        assert (e.kind, e.direction) in {("limit", "high"), ("limit", "low"), ("rise", "high"),
                                         ("technical", "loss"), ("technical", "overdue")}
        groups[(e.vital, e.kind, e.direction, e.source)].append(e)
    for group in groups.values():
        group.sort(key=lambda e: e.onset)
        for before, after in pairwise(group):
            assert before.end is not None, f"an open episode is followed by another: {before} then {after}"
            assert before.end <= after.onset, f"overlapping episodes: {before} and {after}"
    assert [e.onset for e in episodes] == sorted(e.onset for e in episodes)


@settings(max_examples=150, deadline=None)
@given(sessions())
def test_property_engine_never_raises_and_episodes_never_overlap(session) -> None:
    readings, events, limits = session
    episodes = evaluate(readings, events, limits)
    check_invariants(episodes)


@settings(max_examples=150, deadline=None)
@given(sessions())
def test_property_same_readings_twice_with_fresh_engines_give_identical_episodes(session) -> None:
    readings, events, limits = session
    assert evaluate(readings, events, limits) == evaluate(list(readings), list(events), limits)
    first = AlarmEngine(limits).feed(chronological(readings, events))
    second = AlarmEngine(limits).feed(chronological(readings, events))
    assert first == second


@settings(max_examples=150, deadline=None)
@given(sessions(), st.randoms(use_true_random=False))
def test_property_out_of_order_readings_never_raise(session, rnd: random.Random) -> None:
    readings, events, limits = session
    items: list[Reading | Event] = [*readings, *events]
    rnd.shuffle(items)
    engine = AlarmEngine(limits, expect_dose=rnd.random() < 0.5)
    for item in items:
        engine.reading(item) if isinstance(item, Reading) else engine.event(item)
        if rnd.random() < 0.2:
            engine.tick(item.time + timedelta(seconds=rnd.choice([-5, 0, 3, 30])))
    check_invariants(evaluate([i for i in items if isinstance(i, Reading)],
                              [i for i in items if isinstance(i, Event)], limits))


@settings(max_examples=100, deadline=None)
@given(sessions(), st.sampled_from([1, 2.5, 7, 60]))
def test_property_live_feeding_with_ticks_equals_evaluate(session, tick_s: float) -> None:
    readings, events, limits = session
    items = list(chronological(readings, events))
    expect_dose = any(e.kind in DOSE_KINDS for e in events)
    batch = evaluate(readings, events, limits)
    assert canonical(live(items, limits, expect_dose=expect_dose, tick_s=tick_s)) == canonical(batch)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=30), st.booleans())
def test_chronological_gives_events_first_at_equal_times_whether_or_not_it_sorts(
    items: list[tuple[int, bool]], in_order: bool
) -> None:
    """Recordings arrive in time order and are merged without a sort; any other input is sorted. Both give
    time order, events before readings at the same instant, and otherwise the order given."""
    t0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
    if in_order:
        items = sorted(items, key=lambda item: item[0])
    readings = [Reading(t0 + timedelta(seconds=s), "hr", float(i)) for i, (s, event) in enumerate(items) if not event]
    events = [Event(t0 + timedelta(seconds=s), "note", str(i)) for i, (s, event) in enumerate(items) if event]
    expected = sorted([*events, *readings], key=lambda x: (x.time, isinstance(x, Reading)))  # stable: given order
    assert list(chronological(readings, events)) == expected
