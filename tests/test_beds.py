"""Beds in the store: each bed has at most one open session, decided by the database, and an older database
file gains beds without losing anything."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.model.reading import Reading
from monitor.limits.model import load_preset
from monitor.store import Bed, Store
from monitor.store.schema import sessions

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WALL = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PRESET = load_preset("esketamine").to_dict()


def open_session(store: Store, bed_id: str, who: str = "nurse.a") -> tuple[int, bool]:
    return store.beds.session(bed_id, name=f"{bed_id} session", who=who, limits=PRESET, limits_from=T0)


def race(store: Store, start: threading.Barrier, results: list[tuple[int, bool]]) -> None:
    start.wait()
    results.append(open_session(store, "chair-1"))


def test_processes_racing_to_open_a_beds_session_all_get_the_same_one(db_path: Path) -> None:
    Store(db_path).close()
    openers = 4
    stores = [Store(db_path) for _ in range(openers)]  # one engine each, as separate processes have
    try:
        stores[0].beds.declare(Bed("chair-1", "Chair 1"), "admin")
        for round_ in range(6):
            if round_:  # the next patient: each round races to open the bed's next session
                sid = stores[0].beds.open_session("chair-1")
                assert sid is not None
                stores[0].sessions.end(sid, "nurse.a", WALL, T0)
            start = threading.Barrier(openers)
            results: list[tuple[int, bool]] = []
            threads = [threading.Thread(target=race, args=(s, start, results)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len({sid for sid, _ in results}) == 1, results
            assert sorted(opened for _, opened in results) == [False] * (openers - 1) + [True]
        with stores[0].engine.connect() as conn:
            rows = conn.execute(sa.select(sessions.c.id, sessions.c.ended_us).order_by(sessions.c.id)).all()
        assert len(rows) == 6 and [r.ended_us is None for r in rows] == [False] * 5 + [True]
        for sid, _ in rows:  # each opened once: one limits version, one start in its audit trail
            assert [v.version for v in stores[0].limits.versions(sid)] == [1]
            assert [e.action for e in stores[0].audit.entries(session_id=sid)].count("session_start") == 1
    finally:
        for s in stores:
            s.close()


def test_the_database_itself_refuses_a_second_open_session_on_a_bed(store: Store) -> None:
    store.beds.declare(Bed("chair-2", "Chair 2"), "admin")
    first, opened = open_session(store, "chair-2")
    assert opened
    row = {"name": "x", "kind": "live", "bed": "Chair 2", "origin": "", "relative_time": False, "created_us": 0,
           "epoch": 0, "bed_id": "chair-2"}
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sessions.insert().values(row))
    store.sessions.end(first, "nurse.a", WALL, T0)
    with store.engine.begin() as conn:  # ended, the bed may have a new one
        conn.execute(sessions.insert().values(row))


def test_after_end_session_the_bed_opens_a_fresh_session_with_its_defaults(store: Store) -> None:
    store.beds.declare(Bed("chair-3", "Chair 3", "esketamine", limits_preset="esketamine", origin="/dev/ttyUSB0"),
                       "admin")
    first, opened = open_session(store, "chair-3", who="dr.a")
    assert opened and open_session(store, "chair-3") == (first, False)
    store.sessions.set_clock(first, T0, WALL, 1.0)
    store.sessions.set_up(first, "nurse.b", WALL, T0, session_type="iv-ketamine", patient_label="MRN-1",
                          bed="Chair 3")
    store.sessions.end(first, "nurse.b", WALL, T0 + timedelta(minutes=90))

    second, opened = open_session(store, "chair-3", who="dr.a")
    assert opened and second != first
    info = store.sessions.info(second)
    assert (info.bed_id, info.bed, info.origin, info.session_type, info.patient_label, info.ended) == (
        "chair-3", "Chair 3", "/dev/ttyUSB0", "esketamine", "", None)
    assert store.limits.current(second) == PRESET
    assert [(e.who, e.action) for e in store.audit.entries(session_id=second)] == [
        ("dr.a", "session_start"), ("dr.a", "limits")]
    assert store.sessions.info(first).patient_label == "MRN-1"  # the ended one is as it was


def test_a_bed_declared_again_has_its_changes_audited_and_a_bad_id_is_refused(store: Store) -> None:
    store.beds.declare(Bed("chair-4", "Chair 4", origin="/dev/ttyUSB0"), "admin")
    store.beds.declare(Bed("chair-4", "Chair 4", origin="/dev/ttyUSB0"), "admin")  # unchanged: nothing written
    store.beds.declare(Bed("chair-4", "Chair 4", "esketamine", limits={"vitals": {}}, origin="/dev/ttyUSB1"), "tech")
    assert store.beds.get("chair-4") == Bed("chair-4", "Chair 4", "esketamine", None, {"vitals": {}}, "/dev/ttyUSB1")
    changes = [(e.who, e.action, e.target, e.old, e.new) for e in store.audit.entries() if e.action.startswith("bed")]
    assert changes == [
        ("admin", "bed_added", "chair-4", "", "Chair 4"),
        ("tech", "bed", "chair-4.limits", "", '{"vitals": {}}'),
        ("tech", "bed", "chair-4.origin", "/dev/ttyUSB0", "/dev/ttyUSB1"),
        ("tech", "bed", "chair-4.session_type", "other", "esketamine"),
    ]
    for bad in ("", "chair 4", "chair_4", "x" * 51, "chäir"):
        with pytest.raises(ValueError, match="a bed id is"):
            store.beds.declare(Bed(bad, "x"), "admin")
    assert [b.id for b in store.beds.listing()] == ["chair-4"]


def test_the_last_nibp_of_a_bed_is_its_newest_measurement_from_that_source(store: Store) -> None:
    store.beds.declare(Bed("chair-5", "Chair 5"), "admin")
    assert store.beds.last_nibp("chair-5", "ge-s5") == []
    first, _ = open_session(store, "chair-5")

    def measurement(minute: int, sbp: float, source: str = "ge-s5") -> list[Reading]:
        t = T0 + timedelta(minutes=minute)
        return [Reading(t, code, value, source, device_time=t, measured_at=t)
                for code, value in (("sbp", sbp), ("dbp", 80), ("map", 95))]

    store.samples.write(first, [*measurement(0, 120), *measurement(5, 125), *measurement(7, 99, "other-monitor"),
                                Reading(T0, "hr", 70, "ge-s5", device_time=T0)])
    store.sessions.end(first, "nurse.a", WALL, T0 + timedelta(minutes=8))
    second, _ = open_session(store, "chair-5")  # the next session, no NIBP yet: the monitor shows the last one
    last = store.beds.last_nibp("chair-5", "ge-s5")
    assert sorted((r.vital, r.value, r.measured_at) for r in last) == sorted(
        (r.vital, r.value, r.measured_at) for r in measurement(5, 125))
    store.samples.write(second, measurement(10, 130))
    assert {r.value for r in store.beds.last_nibp("chair-5", "ge-s5") if r.vital == "sbp"} == {130}


# The sessions, readings and limits tables as the release before beds made them.
OLD_TABLES = [
    "CREATE TABLE sessions (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, name VARCHAR(200) NOT NULL, "
    "kind VARCHAR(20) NOT NULL, bed VARCHAR(50) NOT NULL, origin TEXT NOT NULL, relative_time BOOLEAN NOT NULL, "
    "created_us BIGINT NOT NULL, clock_pos_us BIGINT, clock_wall_us BIGINT, clock_speed FLOAT, span_start_us BIGINT, "
    "span_end_us BIGINT, epoch INTEGER NOT NULL, session_type VARCHAR(20) DEFAULT 'other' NOT NULL, "
    "patient_label VARCHAR(100) DEFAULT '' NOT NULL, setup_by VARCHAR(100), ended_us BIGINT, ended_by VARCHAR(100), "
    "ready_min FLOAT, recording VARCHAR(64))",
    "CREATE UNIQUE INDEX uq_session_recording ON sessions (recording)",
    "CREATE TABLE readings (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL, "
    "t_us BIGINT NOT NULL, vital VARCHAR(8) NOT NULL, value FLOAT NOT NULL, source VARCHAR(100) NOT NULL, "
    "device_us BIGINT, measured_us BIGINT, flags VARCHAR(200) NOT NULL, "
    "CONSTRAINT uq_reading UNIQUE (session_id, source, vital, t_us), FOREIGN KEY(session_id) REFERENCES sessions (id))",
    "CREATE TABLE limits (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL, "
    "version INTEGER NOT NULL, effective_us BIGINT NOT NULL, who VARCHAR(100) NOT NULL, data TEXT NOT NULL, "
    "CONSTRAINT uq_limits_version UNIQUE (session_id, version), FOREIGN KEY(session_id) REFERENCES sessions (id))",
]


def test_an_older_database_file_gains_beds_and_its_sessions_still_open_and_show(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    t0 = int(T0.timestamp() * 1e6)
    with sqlite3.connect(db) as raw:
        for ddl in OLD_TABLES:
            raw.execute(ddl)
        # Two live sessions of the old kind on one bed label, both open: one per restart, as before beds.
        for name in ("ge-s5 on /dev/ttyUSB0", "ge-s5 on /dev/ttyUSB0"):
            raw.execute("INSERT INTO sessions (name, kind, bed, origin, relative_time, created_us, epoch, "
                        "clock_pos_us, clock_wall_us, clock_speed) "
                        "VALUES (?, 'live', 'bed-1', '/dev/ttyUSB0', 0, 0, 0, ?, ?, 1.0)",
                        (name, t0, int(WALL.timestamp() * 1e6)))
        raw.execute("INSERT INTO readings (session_id, t_us, vital, value, source, flags) "
                    "VALUES (1, ?, 'hr', 72, 'ge-s5', '')", (t0,))
        raw.execute("INSERT INTO limits (session_id, version, effective_us, who, data) VALUES (1, 1, 0, 'x', '{}')")
    store = Store(db)
    try:
        assert [(s.id, s.bed, s.readings, s.ended) for s in store.sessions.listing()] == [
            (2, "bed-1", 0, None), (1, "bed-1", 1, None)]
        assert store.sessions.info(1).bed_id is None
        assert [r.value for r in store.samples.readings(1)] == [72]
        # The bed of that name is new: its first session is a new one; the old ones stay as they were.
        store.beds.declare(Bed("bed-1", "bed-1", origin="/dev/ttyUSB0"), "admin")
        sid, opened = open_session(store, "bed-1")
        assert (sid, opened) == (3, True)
        assert store.sessions.info(1).clock_now(WALL) == T0  # an old session still shows, and can still end
        store.sessions.end(1, "nurse.a", WALL, T0)
        Store(db).close()  # upgraded once: opening it again changes nothing
    finally:
        store.close()
    with sqlite3.connect(db) as raw:
        indexes = {row[1] for row in raw.execute("PRAGMA index_list(sessions)")}
    assert "uq_open_session_per_bed" in indexes
