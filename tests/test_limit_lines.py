"""Limit lines over time: each limits version drawn only where it was in force (issue 14, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.model.reading import Event, Reading
from monitor.limits.model import parse_limits
from monitor.session.limit_lines import LimitLine, limit_lines, stored_limit_lines
from monitor.store import LimitsVersion, Store

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def version(number: int, minutes: float, vitals: dict, baseline: dict | None = None) -> LimitsVersion:
    data = parse_limits({"vitals": vitals, "baseline": baseline or {}}).to_dict()
    return LimitsVersion(number, at(minutes), "dr.a", data)


def of(lines: list[LimitLine], vital: str, key: str) -> list[tuple[float, datetime, datetime, int, bool]]:
    return [(line.value, line.start, line.end, line.version, line.open) for line in lines
            if (line.vital, line.key) == (vital, key)]


def test_two_versions_the_old_lines_end_where_the_new_start() -> None:
    versions = [
        # The first version's effective time is before the data: it applies from the session's start.
        version(1, -30, {"sbp": {"high": 140, "critical_high": 160}, "hr": {"high": 110}}),
        version(2, 50, {"sbp": {"high": 150, "critical_high": 170}}),
    ]
    lines = limit_lines(versions, at(0), at(120), {})

    assert of(lines, "sbp", "high") == [(140, at(0), at(50), 1, False), (150, at(50), at(120), 2, True)]
    assert of(lines, "sbp", "critical_high") == [(160, at(0), at(50), 1, False), (170, at(50), at(120), 2, True)]
    assert of(lines, "hr", "high") == [(110, at(0), at(50), 1, False)], "a limit version 2 cleared ends with v1"


def test_a_version_superseded_before_the_data_draws_nothing_and_one_ahead_of_them_starts_at_its_time() -> None:
    versions = [version(1, -30, {"sbp": {"high": 140}}), version(2, -10, {"sbp": {"high": 145}}),
                version(3, 125, {"sbp": {"high": 150}})]
    lines = limit_lines(versions, at(0), at(120), {})
    # v2 replaced v1 before the first reading; v3 was made 5 min ahead of the newest data (a clock ahead of
    # them): v2 is drawn up to it, and v3 starts at its own time with no length until data reach it.
    assert of(lines, "sbp", "high") == [(145, at(0), at(125), 2, False), (150, at(125), at(125), 3, True)]


def test_a_rise_limit_is_drawn_only_from_when_its_baseline_is_known() -> None:
    versions = [version(1, 0, {"sbp": {"rise": 40}, "dbp": {"rise": 25}}),
                version(2, 60, {"sbp": {"rise": 30}, "dbp": {"rise": 25}}, baseline={"dbp": 85})]
    # The pre-dose SBP baseline 150 became known at the dose, 20 min in; DBP's computed one (90) too.
    lines = limit_lines(versions, at(0), at(120), {"sbp": (at(20), 150.0), "dbp": (at(20), 90.0)})

    assert of(lines, "sbp", "rise") == [(190, at(20), at(60), 1, False), (180, at(60), at(120), 2, True)]
    # Version 2's own [baseline] value replaces the computed one from its start.
    assert of(lines, "dbp", "rise") == [(115, at(20), at(60), 1, False), (110, at(60), at(120), 2, True)]
    assert of(limit_lines(versions, at(0), at(120), {}), "sbp", "rise") == [], "no baseline: no rise line"


def test_stored_lines_span_the_sessions_data_with_the_dose_baseline(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("s", "live")
    assert stored_limit_lines(store, sid) == [], "no data: nothing to draw"
    store.limits.save(sid, parse_limits({"vitals": {"sbp": {"high": 170, "rise": 40}}}).to_dict(), at(-60), "dr.a")
    nibp = [Reading(at(m), "sbp", v) for m, v in ((0, 140), (10, 150), (30, 185))]
    store.samples.write(sid, [*nibp, Reading(at(40), "hr", 80)], [Event(at(15), "dose_start")])
    store.limits.save(sid, parse_limits({"vitals": {"sbp": {"high": 160, "rise": 40}}}).to_dict(), at(25), "dr.a")

    lines = stored_limit_lines(store, sid)
    assert of(lines, "sbp", "high") == [(170, at(0), at(25), 1, False), (160, at(25), at(40), 2, True)]
    # Baseline: the mean of the NIBP in the 15 min up to the dose (140, 150), known from the dose on.
    assert of(lines, "sbp", "rise") == [(185, at(15), at(25), 1, False), (185, at(25), at(40), 2, True)]
    store.close()
