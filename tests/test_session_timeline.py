"""Session types' timelines, the pre-dose baseline and gate, and the discharge guard: pure, on a given clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.model.reading import Event, Reading
from monitor.alarms.checkpoints import CheckpointAlarms
from monitor.alarms.engine import evaluate
from monitor.limits.model import load_preset
from monitor.session.baseline import NibpMeasurement, baseline, gate, nibp_measurements
from monitor.session.discharge import readiness
from monitor.session.timeline import DONE, DUE, LATE, OVERDUE, UPCOMING, checkpoint_states, countdown
from monitor.session.types import ESKETAMINE, IV_KETAMINE, OTHER, session_type

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def states_at(stype, now_min: float, nibp_min: list[float], events: list[Event] | None = None) -> dict[str, str]:
    events = events if events is not None else [Event(T0, stype.dose_buttons[0])]
    states = checkpoint_states(stype, T0, [at(m) for m in nibp_min], events, at(now_min))
    return {s.checkpoint.key: s.status for s in states}


def test_esketamine_bp_at_40_opens_at_35_and_is_overdue_only_after_45() -> None:
    assert states_at(ESKETAMINE, 34.99, [])["bp-40"] == UPCOMING
    assert states_at(ESKETAMINE, 35, [])["bp-40"] == DUE
    assert states_at(ESKETAMINE, 45, [])["bp-40"] == DUE  # "none by T+45": at 45 exactly not yet
    assert states_at(ESKETAMINE, 45 + 1 / 60, [])["bp-40"] == OVERDUE
    assert states_at(ESKETAMINE, 60, [41])["bp-40"] == DONE
    assert states_at(ESKETAMINE, 60, [50])["bp-40"] == LATE
    assert states_at(ESKETAMINE, 60, [30])["bp-40"] == OVERDUE  # a reading before the window does not count
    assert states_at(ESKETAMINE, 40, [41])["bp-40"] == DUE  # a reading after "now" is not known yet


def test_esketamine_device_prompts_are_satisfied_by_their_events() -> None:
    events = [Event(T0, "device_1"), Event(at(5.5), "device_2")]
    assert states_at(ESKETAMINE, 4, [], events)["device-2"] == UPCOMING
    assert states_at(ESKETAMINE, 5, [], events[:1])["device-2"] == DUE
    assert states_at(ESKETAMINE, 90, [], events[:1])["device-2"] == DUE  # a prompt never becomes an alarm
    assert states_at(ESKETAMINE, 6, [], events)["device-2"] == DONE


def test_iv_ketamine_q10_during_and_q15_after_the_infusion() -> None:
    keys = [cp.key for cp in IV_KETAMINE.checkpoints if cp.is_nibp]
    assert keys == ["bp-10", "bp-20", "bp-30", "bp-40", "bp-55", "bp-70", "bp-85", "bp-100", "bp-115", "bp-130"]
    s = states_at(IV_KETAMINE, 13, [9])
    assert s["bp-10"] == DONE and s["bp-20"] == UPCOMING
    assert states_at(IV_KETAMINE, 12, [])["bp-10"] == DUE
    assert states_at(IV_KETAMINE, 12.01, [])["bp-10"] == OVERDUE
    s = states_at(IV_KETAMINE, 60, [9, 19, 31, 44, 48])
    assert (s["bp-30"], s["bp-40"], s["bp-55"]) == (DONE, LATE, DONE)
    assert states_at(IV_KETAMINE, 41, [])["dose-end"] == DUE


def test_nothing_before_the_anchor_and_other_has_no_checkpoints() -> None:
    assert checkpoint_states(ESKETAMINE, None, [], [], at(50)) == []
    assert states_at(OTHER, 50, [], [Event(T0, "dose_start")]) == {}
    assert session_type("nonsense") is OTHER


def test_countdown_next_checkpoint_peak_window_and_observation() -> None:
    events = [Event(at(-1), "note", "x"), Event(T0, "device_1"), Event(at(5), "device_2")]
    c = countdown(ESKETAMINE, events, [], at(37))
    assert c.anchor == T0 and c.elapsed == timedelta(minutes=37)
    assert c.next is not None and c.next.checkpoint.key == "bp-40" and c.next.status == DUE
    assert c.remaining == timedelta(minutes=83) and c.observation_end == at(120)
    assert c.peak_window == (at(30), at(45))
    late = countdown(ESKETAMINE, events, [], at(130))
    assert late.remaining == timedelta(0)
    assert late.next is not None and late.next.checkpoint.key == "bp-40" and late.next.status == OVERDUE
    before = countdown(ESKETAMINE, events, [], at(-0.5))
    assert before.anchor is None and before.next is None and before.elapsed is None


def test_iv_observation_is_planned_not_a_minimum() -> None:
    assert IV_KETAMINE.min_observation_min is None and IV_KETAMINE.observation_min == 130
    assert ESKETAMINE.min_observation_min == 120


# -- baseline and gate --


def nibp(minutes: float, sbp: float, dbp: float, mean: float | None = None) -> list[Reading]:
    out = [Reading(at(minutes), "sbp", sbp), Reading(at(minutes), "dbp", dbp)]
    return out + ([Reading(at(minutes), "map", mean)] if mean is not None else [])


def test_baseline_is_the_mean_of_the_15_min_before_the_dose() -> None:
    readings = nibp(-30, 170, 100) + nibp(-10, 128, 80, 96) + nibp(-4, 132, 84) + nibp(5, 150, 95)
    ms = nibp_measurements([*readings, Reading(at(-4), "hr", 70)])
    assert [m.time for m in ms] == [at(-30), at(-10), at(-4), at(5)]
    assert ms[1] == NibpMeasurement(at(-10), 128, 80, 96)
    base = baseline(ms, T0, at(60))
    assert [m.time for m in base.measurements] == [at(-10), at(-4)]
    assert (base.sbp, base.dbp, base.complete, base.fixed, base.text) == (130, 82, True, True, "130/82")
    assert gate(ESKETAMINE, base).needs_proceed is False
    # before the dose the window ends now
    assert baseline(ms, None, at(-5)).measurements == (ms[1],)


def test_baseline_agrees_with_the_alarm_engines_rise_baseline() -> None:
    readings = nibp(-10, 128, 80) + nibp(-4, 132, 84) + nibp(20, 171, 90)
    episodes = evaluate(readings, [Event(T0, "device_1")], load_preset("esketamine"))
    rise = [e for e in episodes if e.kind == "rise" and e.vital == "sbp"]
    base = baseline(nibp_measurements(readings), T0, at(30))
    assert rise and rise[0].limit == base.sbp + load_preset("esketamine").for_vital("sbp").rise


@pytest.mark.parametrize(("readings", "level", "fragment"), [
    (nibp(-5, 128, 80), "advisory", "1 of 2"),
    (nibp(-10, 150, 80) + nibp(-5, 140, 80), "advisory", "above 140/90"),
    (nibp(-10, 130, 95) + nibp(-5, 130, 91), "advisory", "above 140/90"),
    (nibp(-10, 185, 100) + nibp(-5, 175, 100), "severe", "at or above 180/110"),
    (nibp(-10, 140, 90) + nibp(-5, 140, 90), "ok", None),  # the guide is "> 140/90"
])
def test_pre_dose_gate(readings: list[Reading], level: str, fragment: str | None) -> None:
    g = gate(IV_KETAMINE, baseline(nibp_measurements(readings), None, at(0)))
    assert g.level == level
    assert g.needs_proceed is (fragment is not None)
    if fragment:
        assert any(fragment in f for f in g.findings), g.findings


def test_other_sessions_have_no_gate() -> None:
    assert not gate(OTHER, baseline([], None, at(0))).needs_proceed


# -- discharge --


def test_esketamine_cannot_end_before_120_min_without_override() -> None:
    ms = nibp_measurements(nibp(-10, 128, 80) + nibp(-5, 130, 82) + nibp(110, 134, 84))
    base = baseline(ms, T0, at(119))
    early = readiness(ESKETAMINE, T0, ms, base, [], at(119))
    assert early.needs_override and "1 min to go" in early.refusal
    ready = readiness(ESKETAMINE, T0, ms, base, [], at(120))
    assert not ready.needs_override and ready.refusal == ""
    items = {i.label: i for i in ready.items}
    assert items["BP back near baseline"].ok is True
    assert items["BP within 15 min before ending"].ok is True
    assert items["Observation time"].ok is True
    in_alarm = readiness(ESKETAMINE, T0, ms, base, ["SYS 190 > 179 mmHg"], at(130))
    assert in_alarm.needs_override and "SYS 190" in in_alarm.refusal
    stale = {i.label: i for i in readiness(ESKETAMINE, T0, ms, base, [], at(140)).items}
    assert stale["BP within 15 min before ending"].ok is False


def test_near_baseline_is_within_ten_percent_or_within_140_90() -> None:
    ms = nibp_measurements(nibp(-10, 100, 60) + nibp(-5, 100, 60) + nibp(100, 111, 64))
    base = baseline(ms, T0, at(125))
    items = {i.label: i for i in readiness(ESKETAMINE, T0, ms, base, [], at(125)).items}
    assert items["BP back near baseline"].ok is True  # above +10 % but within the 140/90 guide
    ms2 = nibp_measurements(nibp(-10, 130, 80) + nibp(-5, 130, 80) + nibp(100, 150, 80))
    items2 = {i.label: i for i in readiness(ESKETAMINE, T0, ms2, baseline(ms2, T0, at(125)), [], at(125)).items}
    assert items2["BP back near baseline"].ok is False and "150/80" in items2["BP back near baseline"].detail


def test_no_dose_means_no_time_guard() -> None:
    r = readiness(ESKETAMINE, None, [], baseline([], None, at(5)), [], at(5))
    assert not r.needs_override and r.elapsed_min is None


# -- checkpoint alarms: timed by the data's clock, whatever the ticking --


def esketamine_items(bp_minutes: list[float]) -> list[Reading | Event]:
    items: list[Reading | Event] = [Event(T0, "device_1")]
    items += [r for m in bp_minutes for r in nibp(m, 130, 80)]
    return sorted(items, key=lambda i: (i.time, isinstance(i, Reading)))


@pytest.mark.parametrize("tick_s", [1, 7, 600, None])
def test_checkpoint_alarm_announced_at_overdue_and_ended_by_the_next_bp(tick_s: int | None) -> None:
    engine = CheckpointAlarms(ESKETAMINE)
    out = engine.feed(esketamine_items([15, 30]))
    t = at(30)
    while tick_s is not None and t < at(50):
        t += timedelta(seconds=tick_s)
        out += engine.tick(min(t, at(50)))
    out += engine.feed(nibp(50, 140, 85))
    final = {e.key: e for e in out}
    assert len(final) == 1
    (e,) = final.values()
    assert (e.vital, e.kind, e.direction, e.source, e.priority) == ("nibp", "technical", "checkpoint", "BP at 40 min",
                                                                   "medium")
    assert (e.onset, e.announced, e.end) == (at(40), at(45), at(50))
    assert e.value == 600 and e.limit == 300


def test_no_checkpoint_alarm_when_the_bp_comes_in_time_or_before_any_dose() -> None:
    engine = CheckpointAlarms(ESKETAMINE)
    assert engine.feed(esketamine_items([38])) == [] and engine.tick(at(200)) == []
    undosed = CheckpointAlarms(ESKETAMINE)
    assert undosed.feed(nibp(-5, 120, 80)) == [] and undosed.tick(at(500)) == []


def test_iv_checkpoints_alarm_each_missed_bp() -> None:
    engine = CheckpointAlarms(IV_KETAMINE)
    items: list[Reading | Event] = [Event(T0, "dose_start"), *nibp(9, 120, 80), *nibp(19, 121, 80)]
    out = engine.feed(items) + engine.tick(at(45)) + engine.feed(nibp(46, 150, 90))
    final = {e.key: e for e in out}
    assert sorted((e.source, e.announced, e.end) for e in final.values()) == [
        ("BP at 30 min", at(32), at(46)), ("BP at 40 min", at(42), at(46))]
