"""The store on a real SQLite file and a real PostgreSQL server: sessions, idempotent writes, cursors, reads,
rewinds, limits, change waits."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import commit_from_another_process, refuse_inserts, settled, sqlite_only

from adapters.model.reading import Event, Reading
from monitor.alarms.engine import Episode
from monitor.store import BadDatabaseURL, Cursor, Store, database_url

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def hr(seconds: float, value: float, source: str = "replay") -> Reading:
    return Reading(at(seconds), "hr", value, source)


def key(r: Reading) -> tuple[datetime, str, float, str]:
    return (r.time, r.vital, r.value, r.source)


# -- the database file --


@sqlite_only
def test_real_sqlite_file_with_wal_and_full_sync(store: Store, db_path: Path) -> None:
    assert db_path.is_file()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with sqlite3.connect(db_path) as raw:  # WAL is persistent in the file itself
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "readings", "events", "limits"} <= tables


@sqlite_only
def test_every_pooled_connection_gets_the_pragmas(store: Store) -> None:
    conns = [store.engine.connect() for _ in range(3)]
    try:
        for conn in conns:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite's driver begins no transaction for reads
def test_a_read_on_postgresql_is_no_transaction_of_its_own(store: Store) -> None:
    """Reads run outside BEGIN … ROLLBACK on PostgreSQL (two round trips fewer each; a live stream's wake makes five
    reads): each statement is a transaction of its own, so the second one's now() is later than the first's."""
    with store.database.read() as conn:
        first, second = (conn.execute(sa.select(sa.func.now())).scalar_one() for _ in range(2))
    assert second > first


def test_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "vigil.db"
    s = Store(path)
    try:
        assert path.is_file()
    finally:
        s.close()


def test_database_url() -> None:
    assert database_url("postgresql://u@h:5999/db") == "postgresql+psycopg://u@h:5999/db"  # psycopg 3
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgres+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert database_url("./odd:name.db").endswith("/odd:name.db")  # a file whose name has a colon
    url = database_url(Path("some/rel.db"))
    assert url.startswith("sqlite:///") and url.endswith("/some/rel.db")
    assert Path(url.removeprefix("sqlite:///")).is_absolute()


@pytest.mark.parametrize("text", [
    "postgresql:/vigil@127.0.0.1:5999/vigil",  # what Path() makes of a URL: never a file name
    "postgresql://", "mysql://u@h/db", "postgresql:vigil", "sqlite:x.db"])
def test_what_looks_like_a_url_but_is_not_one_vigil_uses_is_refused(text: str) -> None:
    with pytest.raises(BadDatabaseURL, match="is not a database Vigil can use"):
        database_url(text)


def test_data_survives_reopening_and_is_visible_to_a_second_store(db_path: Path) -> None:
    first = Store(db_path)
    sid = first.sessions.create("s", "import")
    first.samples.write(sid, [hr(0, 70)], [Event(at(0), "dose_start")])
    second = Store(db_path)
    try:
        assert second.samples.counts(sid) == (1, 1)
        first.samples.write(sid, [hr(1, 71)])
        assert [r.value for r in second.samples.readings(sid)] == [70, 71]
    finally:
        first.close()
        second.close()
    reopened = Store(db_path)
    try:
        assert reopened.samples.counts(sid) == (2, 1)
    finally:
        reopened.close()


# -- sessions --


def test_create_find_and_describe_sessions(store: Store) -> None:
    a = store.sessions.create("ward A", "replay", bed="bed-3", origin="/x/a.csv", relative_time=True)
    b = store.sessions.create("ward B", "import")
    assert a != b
    info = store.sessions.info(a)
    assert (info.id, info.name, info.kind, info.bed, info.origin) == (a, "ward A", "replay", "bed-3", "/x/a.csv")
    assert info.relative_time is True
    assert info.epoch == 0
    assert info.clock_pos is None and info.clock_speed is None and info.clock_wall_us is None
    assert info.span_start is None and info.span_end is None
    other = store.sessions.info(b)
    assert (other.bed, other.origin, other.relative_time) == ("bed-1", "", False)
    assert store.sessions.find("ward B") == b
    assert store.sessions.find("nobody") is None


def test_find_session_returns_the_newest_of_a_name(store: Store) -> None:
    store.sessions.create("same", "replay")
    newer = store.sessions.create("same", "replay")
    assert store.sessions.find("same") == newer


def test_unknown_session_is_a_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.sessions.info(999)


def test_set_clock_and_span(store: Store) -> None:
    sid = store.sessions.create("s", "replay")
    wall = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    store.sessions.set_clock(sid, at(12.5), wall, 20.0)
    store.sessions.set_span(sid, at(0), at(3600))
    info = store.sessions.info(sid)
    assert info.clock_pos == at(12.5)
    assert info.clock_pos.tzinfo is not None
    assert info.clock_speed == 20.0
    assert info.clock_wall_us == (wall - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert info.clock_wall_us % 1_000_000 == 123456
    assert (info.span_start, info.span_end) == (at(0), at(3600))
    store.sessions.set_clock(sid, at(13), wall, 0.0)  # paused
    assert store.sessions.info(sid).clock_speed == 0.0
    store.sessions.set_span(sid, None, None)
    assert (store.sessions.info(sid).span_start, store.sessions.info(sid).span_end) == (None, None)


def test_session_updates_touch_only_their_session(store: Store) -> None:
    a = store.sessions.create("a", "replay")
    b = store.sessions.create("b", "replay")
    store.sessions.set_span(a, at(0), at(10))
    store.sessions.set_clock(a, at(5), T0, 1.0)
    assert store.sessions.info(b).span_start is None
    assert store.sessions.info(b).clock_pos is None


# -- writes --


def test_write_round_trips_every_field(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    berlin = timezone(timedelta(hours=1))
    reading = Reading(
        time=datetime(2026, 11, 20, 10, 0, 0, 250000, tzinfo=berlin),
        vital="sbp",
        value=128.5,
        source="monitor-7",
        device_time=at(1.5),
        measured_at=at(-30),
        flags=frozenset({"stale", "artifact"}),
    )
    event = Event(at(2), "note", "patient, asleep: ok", source="nurse")
    store.samples.write(sid, [reading], [event])
    (got,) = store.samples.readings(sid)
    assert got == reading
    assert got.time == at(0.25) and got.time.utcoffset() == timedelta(0)
    assert store.samples.events(sid) == [event]


def test_writes_are_idempotent(store: Store) -> None:
    sid = store.sessions.create("s", "import")
    rs = [hr(i, 60 + i) for i in range(5)]
    es = [Event(at(1), "dose_start"), Event(at(2), "note", "a")]
    store.samples.write(sid, rs, es)
    before = store.samples.cursor(sid)
    store.samples.write(sid, rs, es)
    store.samples.write(sid, rs[2:], es[:1])
    assert store.samples.counts(sid) == (5, 2)
    assert store.samples.cursor(sid) == before


def test_duplicate_key_is_session_source_vital_time(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    other = store.sessions.create("t", "live")
    store.samples.write(sid, [hr(0, 70)])
    store.samples.write(sid, [hr(0, 99)])  # same key, different value: the first one stays
    store.samples.write(sid, [hr(0, 71, source="bed-2"), Reading(at(0), "pr", 70)])
    store.samples.write(other, [hr(0, 70)])
    assert sorted((r.source, r.vital, r.value) for r in store.samples.readings(sid)) == [
        ("bed-2", "hr", 71), ("replay", "hr", 70), ("replay", "pr", 70)
    ]
    assert store.samples.counts(other) == (1, 0)


def test_events_differing_in_text_or_source_are_distinct(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    store.samples.write(sid, new_events=[Event(at(0), "note", "a"), Event(at(0), "note", "b"),
                                         Event(at(0), "note", "a", "x")])
    store.samples.write(sid, new_events=[Event(at(0), "note", "a")])
    assert store.samples.counts(sid) == (0, 3)


def test_empty_write_changes_nothing(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    generation = store.generation
    store.samples.write(sid)
    store.samples.write(sid, [], [])
    assert store.generation == generation
    assert store.samples.counts(sid) == (0, 0)


def test_write_accepts_generators(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    store.samples.write(sid, (hr(i, 70) for i in range(3)), (e for e in [Event(at(0), "dose_start")]))
    assert store.samples.counts(sid) == (3, 1)


def test_writing_to_an_unknown_session_is_refused(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        store.samples.write(12345, [hr(0, 70)])


def test_a_failed_batch_leaves_nothing_behind(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    store.samples.write(sid, [hr(0, 70)])
    lift = refuse_inserts(store, "events", "refused")  # the database itself refuses every event
    generation = store.generation
    with pytest.raises(sa.exc.DBAPIError, match="refused"):
        store.samples.write(sid, [hr(1, 71), hr(2, 72)], [Event(at(1), "dose_start")])
    assert store.samples.counts(sid) == (1, 0)  # the readings of the failed transaction were rolled back
    assert store.generation == generation  # nobody is told about a write that did not commit
    lift()
    store.samples.write(sid, [hr(1, 71), hr(2, 72)], [Event(at(1), "dose_start")])
    assert store.samples.counts(sid) == (3, 1)


# -- cursors and incremental reads --


def dawdle_before_commit(store: Store, table: str) -> None:
    """On PostgreSQL, make each insert into `table` take a few random milliseconds between taking its ids and
    committing: what a busy server does now and then, here every time, so that writers overlap."""
    if store.engine.dialect.name != "postgresql":
        return  # SQLite lets one writer at a time in: there is nothing to widen
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE OR REPLACE FUNCTION dawdle() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN PERFORM pg_sleep(random() * 0.01); RETURN NULL; END $$"))
        conn.execute(sa.text(f"CREATE TRIGGER dawdle_{table} AFTER INSERT ON {table} "
                             "FOR EACH STATEMENT EXECUTE FUNCTION dawdle()"))


def test_reads_since_a_cursor_skip_nothing_and_repeat_nothing_under_concurrent_writers(store: Store) -> None:
    """Many writers into one session (acquisition batches, events entered on screens, the alarm engine) and one
    reader following by cursor, as the stream and the live alarms do: each row is read exactly once."""
    sid = store.sessions.create("busy", "live")
    for table in ("readings", "events", "alarms"):
        dawdle_before_commit(store, table)
    writers, batches = 6, 15
    done = threading.Event()

    def write(w: int) -> None:
        for b in range(batches):
            t = w * 1000 + b
            store.samples.write(sid, [hr(t, 60 + b, source=f"w{w}"), hr(t + 0.5, 61 + b, source=f"w{w}")])
            store.samples.enter_event(sid, Event(at(t), "note", f"{w}/{b}", "entered"), f"nurse{w}", at(t))
            store.alarms.save(sid, [episode(w, b)])

    seen: dict[str, list[int]] = {"readings": [], "events": [], "entered": [], "alarms": []}

    def follow() -> None:
        cursor, entered = Cursor(), 0
        while True:
            finished = done.is_set()  # read once more after the writers are done: then everything is there
            new_readings = store.samples.readings_since(sid, cursor.reading)
            new_events = store.samples.events_since(sid, cursor.event)
            new_entered = store.samples.events_with_authors(sid, entered_after=entered)
            new_alarms = store.alarms.since(sid, cursor.alarm)
            seen["readings"] += [r.id for r in new_readings]
            seen["events"] += [e.id for e in new_events]
            seen["entered"] += [e.id for e in new_entered]
            seen["alarms"] += [a.rev for a in new_alarms]
            cursor = Cursor(max([cursor.reading, *seen["readings"]]), max([cursor.event, *seen["events"]]),
                            max([cursor.alarm, *seen["alarms"]]))
            entered = max([entered, *seen["entered"]])
            if finished:
                return

    reader = threading.Thread(target=follow)
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    with store.engine.connect() as conn:
        stored = {name: sorted(conn.execute(sa.text(f"SELECT {col} FROM {name} WHERE session_id = :s"),
                                            {"s": sid}).scalars())
                  for name, col in (("readings", "id"), ("events", "id"), ("alarms", "rev"))}
    assert len(stored["readings"]) == writers * batches * 2
    assert sorted(seen["readings"]) == stored["readings"]  # every one, none twice
    assert sorted(seen["events"]) == sorted(seen["entered"]) == stored["events"]
    assert sorted(seen["alarms"]) == stored["alarms"] == list(range(1, writers * batches + 1))


def episode(w: int, b: int) -> Episode:
    return Episode(vital="hr", direction="high", kind="limit", priority="medium", onset=at(w * 1000 + b),
                   announced=at(w * 1000 + b), end=None, peak=130, limit=120, value=130, source=f"w{w}")



def test_cursor_text_round_trip_and_malformed_means_start() -> None:
    assert str(Cursor(12, 3, 4)) == "12-3-4"
    assert Cursor.parse("12-3-4") == Cursor(12, 3, 4)
    assert Cursor.parse(str(Cursor(7, 0))) == Cursor(7, 0, 0)
    for bad in (None, "", "12", "12-3", "a-b-c", "1-2-3-4", "-1-2", "1.5-2-0"):
        assert Cursor.parse(bad) == Cursor(0, 0), bad
    assert Cursor() == Cursor(0, 0)


def test_readings_and_events_since_a_cursor(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    other = store.sessions.create("o", "live")
    assert store.samples.cursor(sid) == Cursor(0, 0)
    store.samples.write(sid, [hr(0, 70), hr(1, 71)], [Event(at(0), "dose_start")])
    store.samples.write(other, [hr(0, 50)], [Event(at(0), "note", "other")])
    first = store.samples.cursor(sid)
    assert first.reading > 0 and first.event > 0
    store.samples.write(sid, [hr(2, 72)], [Event(at(2), "dose_end")])
    new_r = store.samples.readings_since(sid, first.reading)
    new_e = store.samples.events_since(sid, first.event)
    assert [s.reading.value for s in new_r] == [72]
    assert [s.event.kind for s in new_e] == ["dose_end"]
    assert new_r[0].id > first.reading and new_e[0].id > first.event
    everything = store.samples.readings_since(sid, 0)
    assert [s.reading.value for s in everything] == [70, 71, 72]  # never another session's
    assert [s.id for s in everything] == sorted(s.id for s in everything)
    assert [s.event.kind for s in store.samples.events_since(sid, 0)] == ["dose_start", "dose_end"]
    last = store.samples.cursor(sid)
    assert last == Cursor(everything[-1].id, new_e[-1].id)
    assert store.samples.readings_since(sid, last.reading) == []
    assert store.samples.events_since(sid, last.event) == []


def test_since_reads_are_ordered_by_commit_not_time_and_respect_limit(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    store.samples.write(sid, [hr(10, 80)])
    store.samples.write(sid, [hr(5, 75)])  # a late reading for an earlier time gets a later id
    assert [s.reading.value for s in store.samples.readings_since(sid, 0)] == [80, 75]
    store.samples.write(sid, [hr(20 + i, 60) for i in range(10)],
                        [Event(at(20 + i), "note", str(i)) for i in range(10)])
    page = store.samples.readings_since(sid, 0, limit=4)
    assert len(page) == 4
    rest = store.samples.readings_since(sid, page[-1].id, limit=100)
    assert len(page) + len(rest) == 12
    assert len(store.samples.events_since(sid, 0, limit=3)) == 3


def test_readings_by_time_are_inclusive_ordered_and_pinned_by_max_id(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    store.samples.write(sid, [hr(i, 60 + i) for i in (0, 2, 4, 6)])
    pin = store.samples.cursor(sid).reading
    store.samples.write(sid, [hr(3, 63), hr(8, 68)])
    assert [r.value for r in store.samples.readings(sid)] == [60, 62, 63, 64, 66, 68]
    assert [r.value for r in store.samples.readings(sid, at(2), at(6))] == [62, 63, 64, 66]
    assert [r.value for r in store.samples.readings(sid, start=at(5))] == [66, 68]
    assert [r.value for r in store.samples.readings(sid, end=at(3))] == [60, 62, 63]
    assert [r.value for r in store.samples.readings(sid, max_id=pin)] == [60, 62, 64, 66]
    assert [r.value for r in store.samples.readings(sid, at(1), None, max_id=pin)] == [62, 64, 66]
    assert store.samples.readings(sid, at(2.5), at(2.9)) == []


def test_events_by_time_pinned_by_max_id(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    store.samples.write(sid, new_events=[Event(at(5), "dose_end")])
    pin = store.samples.cursor(sid).event
    store.samples.write(sid, new_events=[Event(at(1), "dose_start")])
    assert [e.kind for e in store.samples.events(sid)] == ["dose_start", "dose_end"]  # by time
    assert [e.kind for e in store.samples.events(sid, max_id=pin)] == ["dose_end"]


def test_the_cursors_and_rows_of_several_sessions_at_once_are_each_ones_own(store: Store) -> None:
    """What a site's stream asks on every change: each bed's cursor and session row, in a few queries."""
    sid, other, empty = (store.sessions.create(name, "live") for name in ("s", "o", "e"))
    store.samples.write(sid, [hr(0, 70), hr(1, 71)], [Event(at(0), "dose_start")])
    store.samples.write(other, [hr(0, 50)])
    store.sessions.set_up(other, "dr-ben", datetime.now(UTC), None, session_type="other", patient_label="A-17",
                          bed="chair-2")
    cursors = store.samples.cursors([sid, other, empty])
    assert cursors == {s: store.samples.cursor(s) for s in (sid, other, empty)}
    assert cursors[empty] == Cursor() and cursors[sid] != cursors[other]
    assert store.sessions.infos([sid, other, 999]) == {s: store.sessions.info(s) for s in (sid, other)}
    assert store.sessions.infos([other])[other].patient_label == "A-17"


def test_latest_reading_of_each_vital_up_to_a_cursor(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    other = store.sessions.create("o", "live")
    store.samples.write(sid, [hr(0, 70), Reading(at(0), "spo2", 97), hr(10, 80)])
    pin = store.samples.cursor(sid).reading
    store.samples.write(sid, [hr(5, 75), Reading(at(12), "sbp", 130), Reading(at(11), "spo2", 95)])
    store.samples.write(other, [hr(100, 120)])
    latest = store.samples.latest(sid)
    assert {k: v.value for k, v in latest.items()} == {"hr": 80, "spo2": 95, "sbp": 130}
    assert latest["hr"].time == at(10)  # newest by time, not by insertion
    pinned = store.samples.latest(sid, max_id=pin)
    assert {k: v.value for k, v in pinned.items()} == {"hr": 80, "spo2": 97}
    assert store.samples.latest(store.sessions.create("empty", "live")) == {}


def test_counts_per_session(store: Store) -> None:
    a = store.sessions.create("a", "live")
    b = store.sessions.create("b", "live")
    store.samples.write(a, [hr(i, 70) for i in range(7)], [Event(at(0), "dose_start")])
    store.samples.write(b, [hr(0, 70)])
    assert store.samples.counts(a) == (7, 1)
    assert store.samples.counts(b) == (1, 0)
    assert store.samples.counts(999) == (0, 0)


# -- rewinds --


def test_truncate_after_drops_later_data_and_bumps_epoch(store: Store) -> None:
    sid = store.sessions.create("s", "replay")
    other = store.sessions.create("o", "replay")
    rs = [hr(i, 60 + i) for i in range(10)]
    es = [Event(at(2), "dose_start"), Event(at(5), "note", "at five"), Event(at(8), "dose_end")]
    store.samples.write(sid, rs, es)
    store.samples.write(other, rs, es)
    old_cursor = store.samples.cursor(sid)
    store.samples.truncate_after(sid, at(5))
    assert [r.value for r in store.samples.readings(sid)] == [60, 61, 62, 63, 64, 65]  # t == 5 is kept
    assert [e.kind for e in store.samples.events(sid)] == ["dose_start", "note"]
    assert store.sessions.info(sid).epoch == 1
    assert store.samples.counts(other) == (10, 3)  # another session is untouched
    assert store.sessions.info(other).epoch == 0
    store.samples.truncate_after(sid, at(100))  # nothing to drop, still a new epoch
    assert store.sessions.info(sid).epoch == 2
    assert store.samples.counts(sid) == (6, 2)
    # re-delivered data is stored again without duplicates, with ids past every old cursor
    store.samples.write(sid, rs, es)
    assert store.samples.counts(sid) == (10, 3)
    again = store.samples.readings_since(sid, old_cursor.reading)
    assert [s.reading.value for s in again] == [66, 67, 68, 69]
    assert [s.event.kind for s in store.samples.events_since(sid, old_cursor.event)] == ["dose_end"]


# -- limits versions --


def test_limits_are_versioned_per_session(store: Store) -> None:
    a = store.sessions.create("a", "live")
    b = store.sessions.create("b", "live")
    assert store.limits.current(a) is None
    v1 = {"preset": "iv-ketamine", "vitals": {"sbp": {"high": 179.0}}, "technical": {}, "baseline": {}}
    v2 = {"preset": None, "vitals": {"sbp": {"high": 170.0}}, "technical": {"signal_loss_s": 10.0}, "baseline": {}}
    assert store.limits.save(a, v1, at(0), who="dr. a") == 1
    assert store.limits.current(a) == v1
    assert store.limits.save(a, v2, at(60), who="dr. b") == 2
    assert store.limits.current(a) == v2
    assert store.limits.save(b, v1, at(0), who="dr. a") == 1
    assert store.limits.current(b) == v1
    with store.engine.connect() as conn:
        query = sa.text("SELECT version, who, effective_us FROM limits WHERE session_id = :s ORDER BY version")
        rows = conn.execute(query, {"s": a}).all()
    assert [(r.version, r.who) for r in rows] == [(1, "dr. a"), (2, "dr. b")]
    assert rows[1].effective_us - rows[0].effective_us == 60_000_000


# -- change notification --


def test_every_kind_of_write_advances_the_generation(store: Store) -> None:
    g = store.generation
    sid = store.sessions.create("s", "live")
    steps = [
        lambda: store.samples.write(sid, [hr(0, 70)]),
        lambda: store.sessions.set_clock(sid, at(0), T0, 1.0),
        lambda: store.sessions.set_span(sid, at(0), at(1)),
        lambda: store.samples.truncate_after(sid, at(0)),
        lambda: store.limits.save(sid, {}, at(0), who="x"),
    ]
    seen = [g, store.generation]
    for step in steps:
        step()
        seen.append(store.generation)
    assert seen == sorted(set(seen)), seen  # strictly increasing


def test_wait_for_change_returns_at_once_when_already_changed(store: Store) -> None:
    g = store.generation
    store.sessions.create("s", "live")
    assert store.wait_for_change(g, timeout=30) == store.generation != g


def test_wait_for_change_times_out_without_a_write(store: Store) -> None:
    g = store.generation
    assert store.wait_for_change(g, timeout=0.01) == g


def test_wait_for_change_wakes_a_waiting_thread(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    g = store.generation
    result: list[int] = []
    started = threading.Event()

    def waiter() -> None:
        started.set()
        result.append(store.wait_for_change(g, timeout=30))

    thread = threading.Thread(target=waiter)
    thread.start()
    started.wait(10)
    store.samples.write(sid, [hr(0, 70)])
    thread.join(30)
    assert not thread.is_alive()
    assert result and result[0] > g


def test_a_commit_in_another_process_wakes_this_ones_readers(store: Store, db: str) -> None:
    """`vigil acquire` writing and `vigil dashboard` streaming: no waiting for the stream to look again."""
    sid = store.sessions.create("s", "live")
    store.watch_changes()
    g = settled(store)
    commit_from_another_process(db, sid)
    assert store.wait_for_change(g, timeout=60) != g  # woken, well before the timeout (it never polls)
    assert [r.reading.value for r in store.samples.readings_since(sid, 0)] == [77.0]
