"""The session workflow in the store and the live engines: set-up, entered events, end, export → replay."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import T0, WALL, at, audited, nibp

from adapters.files.csv_reader import read_session_csv
from adapters.files.replay import ReplaySource
from adapters.model.reading import Event, Reading
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import load_preset
from monitor.runtime.replay import ReplayRunner
from monitor.store import SessionEnded, Store
from tests.support import run_vigil


def hr_every(seconds: int, start_min: float, end_min: float) -> list[Reading]:
    n = int((end_min - start_min) * 60 // seconds)
    return [Reading(at(start_min) + timedelta(seconds=i * seconds), "hr", 70) for i in range(n + 1)]


def test_set_up_is_audited_field_by_field(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    changed = store.sessions.set_up(sid, "dr.a", WALL, at(0), session_type="esketamine", patient_label="MRN-1",
                                    bed="bed-1")
    assert changed == ["session_type", "patient_label"]
    info = store.sessions.info(sid)
    assert (info.session_type, info.patient_label, info.setup_by) == ("esketamine", "MRN-1", "dr.a")
    assert store.sessions.set_up(sid, "dr.b", WALL, at(1), session_type="esketamine", patient_label="MRN-1",
                                 bed="bed-2") == ["bed"]
    entries = [(a.who, a.action, a.target, a.old, a.new, a.session_time) for a in audited(store, sid)]
    assert entries == [("dr.a", "setup", "session_type", "other", "esketamine", at(0)),
                       ("dr.a", "setup", "patient_label", "", "MRN-1", at(0)),
                       ("dr.b", "setup", "bed", "bed-1", "bed-2", at(1))]


def test_entered_events_keep_who_and_are_audited_once(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    store.samples.write(sid, [], [Event(at(-1), "note", "from the file")])
    assert store.samples.enter_event(sid, Event(at(0), "device_1", source="entered"), "nurse.b", WALL)
    assert not store.samples.enter_event(sid, Event(at(0), "device_1", source="entered"), "nurse.b", WALL)
    stored = store.samples.events_with_authors(sid)
    assert [(s.event.kind, s.entered_by) for s in stored] == [("note", None), ("device_1", "nurse.b")]
    assert [s.event.kind for s in store.samples.events_with_authors(sid, entered_after=0)] == ["device_1"]
    assert [s.event.kind for s in store.samples.events_with_authors(sid, entered_after=stored[-1].id)] == []
    assert [(a.action, a.target, a.session_time) for a in audited(store, sid)] == [("event", "device_1", at(0))]


def test_end_session_once_with_an_audited_override(store: Store) -> None:
    sid = store.sessions.create("s", "live", session_type="esketamine")
    store.sessions.end(sid, "dr.a", WALL, at(100), override="patient insists, escorted", ready_min=90)
    info = store.sessions.info(sid)
    assert (info.ended, info.ended_by, info.ready_min) == (at(100), "dr.a", 90)
    assert [(a.action, a.new) for a in audited(store, sid)] == [
        ("discharge_override", "patient insists, escorted"), ("session_end", "ended; would have been ready at 90 min")]
    with pytest.raises(ValueError, match="already ended"):
        store.sessions.end(sid, "dr.a", WALL, at(130))


def test_limits_of_an_ended_session_are_refused_and_the_refusal_audited(store: Store) -> None:
    sid = store.sessions.create("s", "live", session_type="iv-ketamine")
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), at(0), "dr.a")
    store.sessions.end(sid, "nurse.b", WALL, at(60))
    with pytest.raises(SessionEnded, match="has ended"):
        store.limits.save(sid, load_preset("news2").to_dict(), at(62), "dr.a")
    assert [v.version for v in store.limits.versions(sid)] == [1]
    assert store.limits.current(sid) == load_preset("iv-ketamine").to_dict()
    refusal = audited(store, sid)[-1]
    assert (refusal.who, refusal.action, refusal.new, refusal.session_time) == (
        "dr.a", "limits_refused", "the session has ended", at(62))


def test_an_older_database_file_gains_the_session_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as raw:  # the sessions and events tables as the previous release made them
        raw.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(200) NOT NULL, "
                    "kind VARCHAR(20) NOT NULL, bed VARCHAR(50) NOT NULL, origin TEXT NOT NULL, relative_time "
                    "BOOLEAN NOT NULL, created_us BIGINT NOT NULL, clock_pos_us BIGINT, clock_wall_us BIGINT, "
                    "clock_speed FLOAT, span_start_us BIGINT, span_end_us BIGINT, epoch INTEGER NOT NULL)")
        raw.execute("INSERT INTO sessions (name, kind, bed, origin, relative_time, created_us, epoch) "
                    "VALUES ('old', 'replay', 'bed-9', '', 0, 0, 0)")
        raw.execute("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL, "
                    "t_us BIGINT NOT NULL, kind VARCHAR(40) NOT NULL, text TEXT NOT NULL, source VARCHAR(100) "
                    "NOT NULL)")
    store = Store(db)
    try:
        info = store.sessions.info(1)
        assert (info.name, info.bed, info.session_type, info.patient_label, info.ended) == ("old", "bed-9", "other",
                                                                                            "", None)
        assert store.samples.enter_event(1, Event(at(0), "note", "x", "entered"), "n", WALL)
    finally:
        store.close()


# -- the live engines pick up what is entered on screen --


def test_a_device_entered_on_screen_starts_the_checkpoints(store: Store) -> None:
    sid = store.sessions.create("s", "live", session_type="esketamine")
    store.limits.save(sid, load_preset("esketamine").to_dict(), at(-20), "dr.a")
    alarms = LiveAlarms(store, sid)
    assert alarms.engine.expect_dose is True
    first = nibp(-10, 128, 80) + nibp(-5, 130, 82) + hr_every(5, -10, 0)
    store.samples.write(sid, first)
    alarms.process(first, [])
    store.samples.enter_event(sid, Event(at(0), "device_1", source="entered"), "nurse.b", WALL)
    for minute in range(1, 50):
        alarms.tick(at(minute))
    later = nibp(50, 131, 83)
    store.samples.write(sid, later)
    alarms.process(later, [])
    checkpoint = [a.episode for a in store.alarms.since(sid) if a.episode.direction == "checkpoint"]
    assert [(e.source, e.onset, e.announced, e.end) for e in checkpoint] == [("BP at 40 min", at(40), at(45),
                                                                              at(50))]


def test_a_type_set_before_the_dose_starts_its_checkpoints(store: Store) -> None:
    sid = store.sessions.create("s", "live")
    alarms = LiveAlarms(store, sid)
    first = nibp(-5, 120, 80)
    store.samples.write(sid, first)
    alarms.process(first, [])
    store.sessions.set_up(sid, "dr.a", WALL, at(-1), session_type="iv-ketamine", patient_label="", bed="bed-1")
    alarms.process([], [Event(at(0), "dose_start")])
    alarms.tick(at(33))
    assert sorted(e.source for e in checkpoint_episodes(store, sid)) == ["BP at 10 min", "BP at 20 min",
                                                                         "BP at 30 min"]


def test_a_type_changed_after_the_dose_counts_what_was_measured(store: Store) -> None:
    """Changed behind the screen's back (the screen refuses it): no false alarm for BPs taken on time."""
    sid = store.sessions.create("s", "live")
    alarms = LiveAlarms(store, sid)
    data = [r for m in (8, 18, 28, 38) for r in nibp(m, 120, 80)]
    store.samples.write(sid, data, [Event(at(0), "dose_start")])
    alarms.process(data, [Event(at(0), "dose_start")])
    alarms.tick(at(45))
    store.sessions.set_up(sid, "dr.a", WALL, at(45), session_type="iv-ketamine", patient_label="", bed="bed-1")
    alarms.tick(at(46))
    assert checkpoint_episodes(store, sid) == []


def test_leaving_a_type_or_ending_the_session_closes_its_checkpoint_alarms(store: Store) -> None:
    sid = store.sessions.create("s", "live", session_type="esketamine")
    alarms = LiveAlarms(store, sid)
    store.samples.write(sid, [], [Event(at(0), "device_1")])
    alarms.process([], [Event(at(0), "device_1")])
    alarms.tick(at(46))
    assert [e.end for e in checkpoint_episodes(store, sid)] == [None]
    store.sessions.set_up(sid, "dr.a", WALL, at(47), session_type="other", patient_label="", bed="bed-1")
    alarms.tick(at(48))
    assert [e.end for e in checkpoint_episodes(store, sid)] == [at(46)]  # the engine's clock at the change

    ended = store.sessions.create("e", "live", session_type="esketamine")
    alarms = LiveAlarms(store, ended)
    store.samples.write(ended, [], [Event(at(0), "device_1")])
    alarms.process([], [Event(at(0), "device_1")])
    alarms.tick(at(46))
    store.sessions.end(ended, "dr.a", WALL, at(46.5), override="transfer")
    alarms.tick(at(60))
    alarms.process(nibp(70, 200, 120), [])  # after the end: not evaluated
    assert [e.end for e in checkpoint_episodes(store, ended)] == [at(46.5)]
    assert [a.episode.vital for a in store.alarms.since(ended)] == ["nibp"]


def checkpoint_episodes(store: Store, sid: int) -> list:
    return [a.episode for a in store.alarms.since(sid) if a.episode.direction == "checkpoint"]


# -- replay at any speed gives the same checkpoint alarms, timed by the data --


def esketamine_csv(path: Path, bp_minutes: list[float]) -> Path:
    lines = ["time,sbp,dbp,hr,event"]
    for s in range(-15 * 60, 60 * 60 + 1, 30):
        t = at(s / 60)
        bp = f"{125 + s % 7},{80}" if s / 60 in bp_minutes else ","
        event = "device_1" if s == 0 else ""
        lines.append(f"{t.isoformat().replace('+00:00', 'Z')},{bp},72,{event}")
    path.write_text("\n".join(lines) + "\n")
    return path


def checkpoint_alarms(store: Store, sid: int) -> list[tuple]:
    return sorted((a.episode.source, a.episode.onset, a.episode.announced, a.episode.end)
                  for a in store.alarms.since(sid) if a.episode.direction == "checkpoint")


def test_replay_at_max_and_at_1000x_raise_the_40_min_checkpoint_alike(tmp_path: Path) -> None:
    csv = esketamine_csv(tmp_path / "esk.csv", [-10, -5, 20, 50])
    db = tmp_path / "max.db"
    result = run_vigil("replay", csv, "--headless", "--speed", "max", "--type", "esketamine", "--db", db)
    assert result.returncode == 0, result.stderr
    expected = [("BP at 40 min", at(40), at(45), at(50))]
    fast = Store(db)
    try:
        assert checkpoint_alarms(fast, 1) == expected
    finally:
        fast.close()
    recording = read_session_csv(csv)
    store = Store(tmp_path / "x1000.db")
    try:
        sid = store.sessions.create("x1000", "replay", session_type="esketamine")
        store.limits.save(sid, load_preset("esketamine").to_dict(), recording.readings[0].time, "t")
        runner = ReplayRunner(store, sid, ReplaySource([*recording.readings, *recording.events], 1000,
                                                       time.monotonic()), alarms=LiveAlarms(store, sid))
        runner.start()
        assert runner.wait(60)
        runner.stop()
        assert runner.error is None
        assert checkpoint_alarms(store, sid) == expected
    finally:
        store.close()


def test_replay_infers_the_type_from_the_files_dose_events(tmp_path: Path) -> None:
    csv = esketamine_csv(tmp_path / "esk.csv", [-10, -5, 38])
    db = tmp_path / "v.db"
    assert run_vigil("replay", csv, "--headless", "--speed", "max", "--db", db).returncode == 0
    store = Store(db)
    try:
        assert store.sessions.info(1).session_type == "esketamine"
        assert store.limits.current(1) == load_preset("esketamine").to_dict()
        assert checkpoint_alarms(store, 1) == []
    finally:
        store.close()


# -- export: a stored session as CSV that replays exactly --


def test_export_then_replay_reproduces_readings_and_events(tmp_path: Path, sample_data: Path, db: str) -> None:
    assert run_vigil("replay", sample_data / "esketamine.csv", "--headless", "--speed", "max", "--db", db,
                     "--patient", "MRN-0042").returncode == 0
    store = Store(db)
    try:
        # what a nurse enters on screen rides along, awkward characters and all
        store.samples.enter_event(1, Event(at(47.5), "note", 'said "dizzy", then, fine\r\nok', "entered"), "nurse.b",
                                  WALL)
        store.samples.enter_event(1, Event(at(48), "dose_end", source="entered"), "nurse.b", WALL)
        store.sessions.end(1, "dr.a", WALL, datetime(2026, 11, 20, 11, 0, tzinfo=UTC))
        before_r = [(r.time, r.vital, r.value) for r in store.samples.readings(1, None, store.sessions.info(1).ended)]
        before_e = [(e.time, e.kind, e.text) for e in store.samples.events(1) if e.time <= store.sessions.info(1).ended]
    finally:
        store.close()
    out = tmp_path / "export.csv"
    result = run_vigil("export", "1", "--out", out, "--db", db)
    assert result.returncode == 0, result.stderr
    assert f"to {out}" in result.stdout
    again = tmp_path / "again.db"
    assert run_vigil("replay", out, "--headless", "--speed", "max", "--db", again).returncode == 0
    store = Store(again)
    try:
        after_r = [(r.time, r.vital, r.value) for r in store.samples.readings(1)]
        after_e = [(e.time, e.kind, e.text) for e in store.samples.events(1)]
    finally:
        store.close()
    assert after_r == before_r and len(after_r) > 7000
    assert after_e == before_e
    assert max(t for t, *_ in after_r) <= datetime(2026, 11, 20, 11, 0, tzinfo=UTC)  # stops at the end


def test_export_and_report_name_a_missing_session_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    Store(db).close()
    for args in (("export", "7", "--out", tmp_path / "x.csv"), ("report", "nope")):
        result = run_vigil(*args, "--db", db)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result
        assert "no session" in result.stderr
    store = Store(db)
    store.sessions.create("s", "live")
    store.close()
    for args in (("export", "1", "--out", tmp_path / "missing" / "x.csv"),
                 ("report", "s", "--out", tmp_path / "missing" / "x.pdf")):
        result = run_vigil(*args, "--db", db)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result
        assert "no such directory" in result.stderr


def test_report_writes_pdf_and_html_from_the_command_line(tmp_path: Path, sample_data: Path) -> None:
    from pypdf import PdfReader

    db = tmp_path / "v.db"
    assert run_vigil("replay", sample_data / "esketamine.csv", "--headless", "--speed", "max", "--db", db,
                     "--patient", "MRN-0042").returncode == 0
    pdf, page = tmp_path / "r.pdf", tmp_path / "r.html"
    for out in (pdf, page):
        result = run_vigil("report", "1", "--out", out, "--tz", "Europe/Berlin", "--db", db)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"session 1: record written to {out}\n"
    text = "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
    for content in (text, page.read_text(encoding="utf-8")):
        assert "MRN-0042" in content and "REMS patient monitoring form" in content
        assert "122/77" in content  # the BP at the first device (09:15), from the sample
        assert "137/87" in content  # the BP 40 min after it (09:55)


def test_an_older_database_opened_by_several_processes_at_once_is_upgraded_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL, "
                    "t_us BIGINT NOT NULL, kind VARCHAR(40) NOT NULL, text TEXT NOT NULL, source VARCHAR(100) "
                    "NOT NULL)")

    def open_store(_: int) -> list[str]:
        store = Store(db)  # one engine each, as separate processes would have
        try:
            return [c["name"] for c in sa_columns(store)]
        finally:
            store.close()

    with ThreadPoolExecutor(6) as pool:
        columns = list(pool.map(open_store, range(6)))
    assert all("entered_by" in c for c in columns)
    with sqlite3.connect(db) as raw:
        names = [row[1] for row in raw.execute("PRAGMA table_info(events)")]
    assert names.count("entered_by") == 1


def sa_columns(store: Store) -> list[dict]:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return sa.inspect(conn).get_columns("events")


# -- the user's actions, as the dashboard calls them --

def clocked_session(store: Store, stype: str, position_min: float, readings: list[Reading]) -> int:
    sid = store.sessions.create("s", "live", session_type=stype)
    store.limits.save(sid, load_preset(stype if stype != "other" else "news2").to_dict(), at(-30), "dr.a")
    store.samples.write(sid, readings)
    store.sessions.set_clock(sid, at(position_min), WALL, 0.0)  # a paused clock: "now" stays put
    return sid


def move_clock(store: Store, sid: int, minutes: float) -> None:
    store.sessions.set_clock(sid, at(minutes), WALL, 0.0)


def test_dose_needs_proceed_with_a_reason_when_the_gate_flags(store: Store) -> None:
    from monitor.session import service

    sid = clocked_session(store, "esketamine", 0, nibp(-10, 150, 95) + nibp(-5, 148, 92))
    with pytest.raises(service.GateAdvisory, match="above 140/90"):
        service.enter_dose(store, sid, "nurse.b", WALL, "device_1")
    assert store.samples.events(sid) == [] and [a.action for a in audited(store, sid)] == ["limits"]
    with pytest.raises(service.Refused, match="enter Device 1 first"):
        service.enter_dose(store, sid, "nurse.b", WALL, "device_2")
    with pytest.raises(service.Refused, match="not an event"):
        service.enter_dose(store, sid, "nurse.b", WALL, "dose_start")
    with pytest.raises(service.OverrideRefused, match="an override needs a clinician"):  # a nurse's role
        service.enter_dose(store, sid, "nurse.b", WALL, "device_1", proceed_reason="looks fine", may_override=False)
    assert store.samples.events(sid) == []
    event = service.enter_dose(store, sid, "dr.a", WALL, "device_1", proceed_reason="  repeat 138/88 by hand ")
    assert (event.time, event.kind) == (at(0), "device_1")
    assert [(a.who, a.action, a.new) for a in audited(store, sid)][1:] == [
        ("dr.a", "gate_proceed", "repeat 138/88 by hand"), ("dr.a", "event", "")]
    with pytest.raises(service.Refused, match="already entered"):
        service.enter_dose(store, sid, "nurse.b", WALL, "device_1")
    with pytest.raises(service.Refused, match="cannot change after the first dose"):
        service.set_up(store, sid, "dr.a", WALL, type_name="iv-ketamine", patient_label="", bed="bed-1", preset=None)


def test_two_clicks_at_once_enter_a_dose_once(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from monitor.session import service

    sid = clocked_session(store, "iv-ketamine", 0, nibp(-10, 128, 80) + nibp(-5, 130, 82))

    def click() -> str:
        try:
            service.enter_dose(store, sid, "nurse.b", WALL, "dose_start")
        except service.Refused as exc:
            return str(exc)
        return "entered"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: click(), range(8)))
    assert results.count("entered") == 1, results
    assert [e.kind for e in store.samples.events(sid)] == ["dose_start"]
    assert [a.action for a in audited(store, sid)].count("event") == 1


def test_notes_and_set_up_are_validated_and_change_nothing_when_refused(store: Store) -> None:
    from monitor.session import service

    sid = clocked_session(store, "other", 3, nibp(-5, 120, 80))
    for bad in ("", "   ", "x" * 2001, "血" * 700):  # the bound is in UTF-8 bytes
        with pytest.raises(service.Refused):
            service.enter_note(store, sid, "nurse.b", WALL, bad)
    with pytest.raises(service.Refused, match="patient label"):
        service.set_up(store, sid, "dr.a", WALL, type_name="esketamine", patient_label="x" * 101, bed="b",
                       preset=None)
    with pytest.raises(service.Refused, match="preset"):
        service.set_up(store, sid, "dr.a", WALL, type_name="esketamine", patient_label="", bed="b", preset="nope")
    assert audited(store, sid) == [a for a in audited(store, sid) if a.action == "limits"]
    assert store.sessions.info(sid).session_type == "other"
    changed = service.set_up(store, sid, "dr.a", WALL, type_name="esketamine", patient_label=" MRN-7 ",
                             bed="bed-2", preset="esketamine")
    assert changed == ["session_type", "patient_label", "bed", "limits"]
    assert store.limits.current(sid) == load_preset("esketamine").to_dict()
    assert store.limits.versions(sid)[-1].effective == at(3)
    assert service.enter_note(store, sid, "nurse.b", WALL, " drowsy ").text == "drowsy"


def test_end_session_guard_override_and_ready_minute(store: Store) -> None:
    from monitor.session import service

    sid = clocked_session(store, "esketamine", 0, nibp(-10, 128, 80) + nibp(-5, 130, 82) + nibp(41, 135, 85))
    service.enter_dose(store, sid, "nurse.b", WALL, "device_1")
    move_clock(store, sid, 100)
    with pytest.raises(service.Refused, match="20 min to go"):
        service.end_session(store, sid, "dr.a", WALL)
    assert store.sessions.info(sid).ended is None
    with pytest.raises(service.Refused, match="ready to leave"):
        service.end_session(store, sid, "dr.a", WALL, override_reason="transport waiting", ready_min=101)
    with pytest.raises(service.OverrideRefused, match=r"20 min to go.*an override needs a clinician"):
        service.end_session(store, sid, "nurse.b", WALL, override_reason="transport waiting", may_override=False)
    assert store.sessions.info(sid).ended is None
    ready = service.end_session(store, sid, "dr.a", WALL, override_reason="transport waiting", ready_min=90)
    assert ready.needs_override
    info = store.sessions.info(sid)
    assert (info.ended, info.ready_min) == (at(100), 90)
    assert [a.new for a in audited(store, sid) if a.action == "discharge_override"] == ["transport waiting"]
    with pytest.raises(service.Refused, match="has ended"):
        service.enter_note(store, sid, "nurse.b", WALL, "late note")


def test_end_session_after_120_min_needs_no_override(store: Store) -> None:
    from monitor.session import service

    sid = clocked_session(store, "esketamine", 0, nibp(-10, 128, 80) + nibp(-5, 130, 82) + nibp(115, 131, 80))
    service.enter_dose(store, sid, "nurse.b", WALL, "device_1")
    move_clock(store, sid, 121)
    service.end_session(store, sid, "dr.a", WALL, override_reason="not needed")
    assert [a.action for a in audited(store, sid)] == ["limits", "event", "session_end"]


@pytest.mark.parametrize("relative", [False, True])
def test_export_keeps_microseconds_and_relative_time(tmp_path: Path, relative: bool) -> None:
    origin = datetime(1970, 1, 1, tzinfo=UTC) if relative else T0
    times = [origin + timedelta(seconds=s, microseconds=us) for s, us in ((0, 0), (1, 123456), (2, 999999),
                                                                          (86_401, 1))]
    db = tmp_path / "v.db"
    store = Store(db)
    try:
        sid = store.sessions.create("s", "live", relative_time=relative)
        store.samples.write(sid, [Reading(t, "hr", 70 + i) for i, t in enumerate(times)])
        store.samples.enter_event(sid, Event(times[1] + timedelta(microseconds=1277), "note", "n", "entered"), "n",
                                  WALL)
        before = ([(r.time, r.value) for r in store.samples.readings(sid)], [(e.time, e.text) for e in
                                                                            store.samples.events(sid)])
    finally:
        store.close()
    out = tmp_path / "x.csv"
    assert run_vigil("export", "1", "--out", out, "--db", db).returncode == 0
    again = tmp_path / "again.db"
    result = run_vigil("replay", out, "--headless", "--speed", "max", "--db", again)
    assert result.returncode == 0, result.stderr
    store = Store(again)
    try:
        after = ([(r.time, r.value) for r in store.samples.readings(1)], [(e.time, e.text) for e in
                                                                         store.samples.events(1)])
        assert after == before
        assert store.sessions.info(1).relative_time is relative
    finally:
        store.close()
