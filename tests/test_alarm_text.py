"""How an alarm episode reads (banner, history, record): its peak, the limit of its priority, when it reached that
priority, and for a rise its baseline; and that the store keeps what that text needs, in old database files too."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.model.reading import Reading
from monitor.alarms.engine import Episode, evaluate
from monitor.alarms.live import LiveAlarms
from monitor.alarms.text import alarm_text, peak_text, priority_reached
from monitor.limits.model import parse_limits
from monitor.store import Store

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
# The issue's limits: SBP high 140, critical 160; a rise of 30 over the first two readings' mean.
LIMITS = parse_limits({"vitals": {"sbp": {"high": 140, "critical_high": 160, "rise": 30}}})
# Minutes: SBP 144 at 09:25 (high), critical from 09:40 (165), peak 197 at 09:45, still high (141) at 09:55, in
# range at 10:00. No dose: the rise baseline is the mean of the first two, 121.5, so the rise starts at 158.
SBP = {0: 120, 5: 123, 25: 144, 30: 150, 35: 158, 40: 165, 45: 197, 50: 187, 55: 141, 60: 130}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def episodes() -> dict[str, Episode]:
    readings = [Reading(at(m), "sbp", v) for m, v in SBP.items()]
    return {e.kind: e for e in evaluate(readings, [], LIMITS)}


def test_an_episode_that_became_critical_reads_by_its_peak_and_critical_limit_not_its_last_value() -> None:
    limit = episodes()["limit"]
    assert (limit.priority, limit.onset, limit.reached, limit.end) == ("high", at(25), at(40), at(60))
    assert (limit.peak, limit.limit, limit.value) == (197, 160, 141)
    assert alarm_text(limit) == "SYS peak 197 mmHg > critical high 160"  # never "SYS 141 > 160"
    assert priority_reached(limit) == at(40)
    assert peak_text(limit) == "197 mmHg"


def test_a_rise_names_its_baseline_and_the_rise_configured() -> None:
    rise = episodes()["rise"]
    assert (rise.onset, rise.reached, rise.baseline, rise.limit) == (at(35), at(35), 121.5, 151.5)
    assert alarm_text(rise) == "SYS peak 197 mmHg: +75.5 over baseline 121.5 (limit +30)"
    assert priority_reached(rise) is None  # a rise has its one priority from its first reading


def test_a_low_alarm_reads_by_its_lowest_value_and_a_medium_one_by_its_high_limit() -> None:
    limits = parse_limits({"vitals": {"sbp": {"low": 90, "high": 180}}})
    readings = [Reading(at(m), "sbp", v) for m, v in {0: 88, 5: 84, 10: 89, 15: 120, 20: 185, 25: 182}.items()]
    found = {e.direction: e for e in evaluate(readings, [], limits)}
    assert alarm_text(found["low"]) == "SYS lowest 84 mmHg < low 90"
    assert alarm_text(found["high"]) == "SYS peak 185 mmHg > high 180"
    assert priority_reached(found["high"]) is None


def test_the_rise_is_counted_from_the_baseline_as_shown() -> None:
    rise = Episode("hr", "high", "rise", "low", at(0), at(0), None, 120, 111.25, 120, reached=at(0), baseline=81.25)
    assert alarm_text(rise) == "HR peak 120 bpm: +38.8 over baseline 81.2 (limit +30)"


def test_the_store_keeps_the_time_a_priority_was_reached_and_the_baseline(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    try:
        sid = store.sessions.create("s", "live")
        store.alarms.save(sid, episodes().values())
        stored = {a.episode.kind: a.episode for a in store.alarms.since(sid)}
        assert stored == episodes()
        assert alarm_text(stored["limit"]) == "SYS peak 197 mmHg > critical high 160"
    finally:
        store.close()


OLD_ALARMS = (  # the alarms table as the previous release made it: no reached_us, no baseline
    "CREATE TABLE alarms (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL, vital VARCHAR(8) NOT NULL,"
    " kind VARCHAR(12) NOT NULL, direction VARCHAR(10) NOT NULL, source VARCHAR(100) NOT NULL, onset_us BIGINT NOT "
    "NULL, announced_us BIGINT NOT NULL, end_us BIGINT, priority VARCHAR(8) NOT NULL, peak FLOAT NOT NULL, "
    "limit_value FLOAT NOT NULL, value FLOAT NOT NULL, acked_us BIGINT, acked_by VARCHAR(100), rev INTEGER NOT NULL, "
    "CONSTRAINT uq_alarm UNIQUE (session_id, vital, kind, direction, source, onset_us))"
)


def test_an_older_database_keeps_its_alarms_and_describes_them_without_what_it_never_stored(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store(db).close()
    with sqlite3.connect(db) as raw:  # as an older version left it: no schema version, the alarms table of then
        raw.execute("DROP TABLE alembic_version")
        raw.execute("DROP TABLE bed_holders")  # newer than that version
        raw.execute("DROP TABLE alarms")
        raw.execute(OLD_ALARMS)
        raw.execute("INSERT INTO sessions (name, kind, bed, origin, relative_time, created_us, epoch) "
                    "VALUES ('old', 'replay', 'bed-1', '', 0, 0, 0)")
        us = int(at(25).timestamp() * 1e6)
        raw.executemany("INSERT INTO alarms (session_id, vital, kind, direction, source, onset_us, announced_us, "
                        "priority, peak, limit_value, value, rev) VALUES (1, 'sbp', ?, 'high', '', ?, ?, ?, 197, ?, "
                        "141, ?)", [("limit", us, us, "high", 160, 1), ("rise", us, us, "low", 151.5, 2)])
    store = Store(db)
    try:
        old = {a.episode.kind: a.episode for a in store.alarms.since(1)}
        assert (old["limit"].reached, old["rise"].baseline) == (None, None)
        assert alarm_text(old["limit"]) == "SYS peak 197 mmHg > critical high 160"
        assert priority_reached(old["limit"]) is None  # not known: not guessed
        assert alarm_text(old["rise"]) == "SYS peak 197 mmHg: rise over baseline, alarm above 151.5"
        # The upgraded file takes new episodes with everything.
        new = episodes()
        store.alarms.save(1, [new["limit"]])
        assert {a.episode.kind: a.episode for a in store.alarms.since(1)}["limit"] == new["limit"]
    finally:
        store.close()


def test_the_live_path_stores_the_same_episode_vigil_check_derives(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    try:
        sid = store.sessions.create("s", "live")
        store.limits.save(sid, {"vitals": {"sbp": {"high": 140, "critical_high": 160, "rise": 30}}}, T0, "dr.a")
        live = LiveAlarms(store, sid, expect_dose=False)
        for m, v in SBP.items():
            batch = [Reading(at(m), "sbp", v)]
            store.samples.write(sid, batch, [])
            live.process(batch, [])
        assert {a.episode.kind: a.episode for a in store.alarms.since(sid)} == episodes()
    finally:
        store.close()

