"""Correcting or withdrawing an entered dose event: struck, never deleted, audited with a reason, and everything
that counts from the dose (baseline, checkpoints, readiness, the live alarms, the stream, the record) follows."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from support import WALL, at, audited, nibp

from adapters.model.reading import Event, Reading
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import load_preset
from monitor.report.content import report_content
from monitor.report.html import render_html
from monitor.report.pdf import pdf_bytes
from monitor.session import amend, service
from monitor.session.record import session_record
from monitor.store import Cursor, Store
from monitor.web.stream import stream_updates


def session_at(store: Store, stype: str, minutes: float, readings: list[Reading]) -> int:
    """A session of `stype` with these readings, its clock paused at `minutes`."""
    sid = store.sessions.create("s", "live", session_type=stype)
    store.limits.save(sid, load_preset(stype).to_dict(), at(-40), "dr.a")
    store.samples.write(sid, readings)
    move_clock(store, sid, minutes)
    return sid


def move_clock(store: Store, sid: int, minutes: float) -> None:
    store.sessions.set_clock(sid, at(minutes), WALL, 0.0)


# NIBP: 150/95 at -20 min, 128/80 and 130/82 in the 15 min before the dose at 0, then on the q10 schedule.
IV_READINGS = nibp(-20, 150, 95) + nibp(-10, 128, 80) + nibp(-5, 130, 82) + nibp(8, 132, 84) + nibp(18, 134, 85)


def enter_dose_start(store: Store, sid: int) -> int:
    service.enter_dose(store, sid, "nurse.b", WALL, "dose_start")
    [entered] = store.samples.events_with_authors(sid)
    return entered.id


def test_a_corrected_dose_start_is_struck_audited_and_everything_counts_from_the_new_time(store: Store) -> None:
    sid = session_at(store, "iv-ketamine", 0, IV_READINGS)
    original = enter_dose_start(store, sid)
    assert session_record(store, sid).baseline.text == "129/81"
    move_clock(store, sid, 12)

    correction = amend.correct_event(store, sid, original, "dr.a", WALL, "08:54", " clicked late; started 08:54 ",
                                     tz=UTC)
    assert (correction.event.time, correction.corrects, correction.entered_by) == (at(-6), original, "dr.a")
    assert store.samples.events(sid) == [correction.event]  # what everything reads: only the one in force
    [struck] = [s for s in store.samples.events_with_authors(sid, struck=True) if s.struck is not None]
    assert (struck.id, struck.event.time, struck.struck.by, struck.struck.reason) == (
        original, at(0), "dr.a", "clicked late; started 08:54")
    assert [(a.who, a.action, a.target, a.old, a.new, a.reason, a.session_time) for a in audited(store, sid)][-1] \
        == ("dr.a", "event_corrected", "dose_start", at(0).isoformat(), at(-6).isoformat(),
            "clicked late; started 08:54", at(12))

    # The baseline is the 15 min before 08:54 (150/95 and 128/80), the checkpoints count from it.
    record = session_record(store, sid)
    assert (record.anchor, record.baseline.text) == (at(-6), "139/88")
    bp10 = next(s for s in record.checkpoints if s.checkpoint.key == "bp-10")
    assert (bp10.due, bp10.done_at, bp10.status) == (at(4), at(8), "late")  # "done" from 09:00
    assert service.discharge_readiness(store, sid, WALL).elapsed_min == pytest.approx(18)
    assert store.sessions.info(sid).amendments == 1

    with pytest.raises(ValueError, match="corrected or withdrawn a moment ago"):
        store.samples.amend_event(sid, original, "dr.b", WALL, at(12), "again", at(-7))  # a second screen, late
    with pytest.raises(service.Refused, match="choose a dose event entered on screen and still in force"):
        amend.correct_event(store, sid, original, "dr.b", WALL, "08:53", "again", tz=UTC)


def test_withdrawing_a_dose_start_leaves_no_time_zero_and_it_can_be_entered_again(store: Store) -> None:
    sid = session_at(store, "iv-ketamine", 0, IV_READINGS)
    original = enter_dose_start(store, sid)
    move_clock(store, sid, 3)
    withdrawn = amend.withdraw_event(store, sid, original, "dr.a", WALL, "wrong bed's button")
    assert withdrawn.event.time == at(0)
    assert store.samples.events(sid) == []
    record = session_record(store, sid)
    assert (record.anchor, record.baseline.fixed, record.checkpoints) == (None, False, [])
    assert [(a.action, a.target, a.old, a.new, a.reason) for a in audited(store, sid)][-1] == (
        "event_withdrawn", "dose_start", at(0).isoformat(), "withdrawn", "wrong bed's button")
    again = service.enter_dose(store, sid, "nurse.b", WALL, "dose_start")
    assert again.time == at(3) and session_record(store, sid).anchor == at(3)


def test_refusals_say_why_and_change_nothing(store: Store) -> None:
    sid = session_at(store, "iv-ketamine", 0, IV_READINGS)
    start = enter_dose_start(store, sid)
    move_clock(store, sid, 20)
    service.enter_dose(store, sid, "nurse.b", WALL, "dose_end")
    move_clock(store, sid, 25)
    end = next(s.id for s in store.samples.events_with_authors(sid) if s.event.kind == "dose_end")
    note = service.enter_note(store, sid, "nurse.b", WALL, "drowsy")
    note_id = next(s.id for s in store.samples.events_with_authors(sid) if s.event.kind == "note")
    before = (store.samples.events_with_authors(sid, struck=True), audited(store, sid))
    refusals = [
        (lambda: amend.correct_event(store, sid, start, "nurse.b", WALL, "08:55", "late", tz=UTC, may_amend=False),
         "needs a clinician"),
        (lambda: amend.withdraw_event(store, sid, start, "nurse.b", WALL, "wrong", may_amend=False),
         "needs a clinician"),
        (lambda: amend.correct_event(store, sid, start, "dr.a", WALL, "08:55", "   ", tz=UTC), "a reason is required"),
        (lambda: amend.correct_event(store, sid, start, "dr.a", WALL, "09:26", "x", tz=UTC),
         "09:26:00 is in the future: the session clock is at 09:25:00"),
        (lambda: amend.correct_event(store, sid, start, "dr.a", WALL, "08:30", "x", tz=UTC),
         r"08:30:00 is before the session started \(08:40:00\)"),
        (lambda: amend.correct_event(store, sid, start, "dr.a", WALL, "09:00:00", "x", tz=UTC),
         "Dose start is already at 09:00:00"),
        (lambda: amend.correct_event(store, sid, start, "dr.a", WALL, "09:20", "x", tz=UTC),
         r"Dose start must be before Dose end \(09:20:00\): correct Dose end first"),
        (lambda: amend.correct_event(store, sid, end, "dr.a", WALL, "08:59", "x", tz=UTC),
         r"Dose end must be after Dose start \(09:00:00\)"),
        (lambda: amend.withdraw_event(store, sid, start, "dr.a", WALL, "x"), "withdraw Dose end first"),
        (lambda: amend.correct_event(store, sid, start, "dr.a", WALL, "nine", "x", tz=UTC), "is not a time"),
        (lambda: amend.correct_event(store, sid, start, "dr.a", WALL, "25:00", "x", tz=UTC), "is not a time"),
        (lambda: amend.withdraw_event(store, sid, note_id, "dr.a", WALL, "x"), "choose a dose event"),
    ]
    for attempt, message in refusals:
        with pytest.raises(service.Refused, match=message):
            attempt()
    with pytest.raises(amend.AmendRefused):
        amend.withdraw_event(store, sid, start, "nurse.b", WALL, "", may_amend=False)  # the role is told first
    assert (store.samples.events_with_authors(sid, struck=True), audited(store, sid)) == before
    assert note.text == "drowsy"


def test_clock_time_is_taken_nearest_the_recorded_time_across_midnight() -> None:
    late = datetime(2026, 11, 20, 23, 58, tzinfo=UTC)
    assert amend.clock_time("00:02:30", late, UTC) == datetime(2026, 11, 21, 0, 2, 30, tzinfo=UTC)
    assert amend.clock_time("23:50", late, UTC) == datetime(2026, 11, 20, 23, 50, tzinfo=UTC)


# -- the live alarm engines follow a correction from then on --


def checkpoint_alarms(store: Store, sid: int) -> list[tuple]:
    return [(a.episode.onset, a.episode.announced, a.episode.end) for a in store.alarms.since(sid)
            if a.episode.direction == "checkpoint"]


def feed(store: Store, alarms: LiveAlarms, sid: int, readings: list[Reading]) -> None:
    store.samples.write(sid, readings)
    alarms.process(readings, [])


def test_a_dose_entered_too_early_stops_alarming_once_corrected(store: Store) -> None:
    """Device 1 clicked at 0, given at 10: the false "BP at 40 min" alarm ends at the correction, and the true
    one (due 50, overdue 55) comes in its time."""
    sid = session_at(store, "esketamine", 0, [])
    alarms = LiveAlarms(store, sid)
    feed(store, alarms, sid, nibp(-10, 128, 80) + nibp(-5, 130, 82))
    service.enter_dose(store, sid, "nurse.b", WALL, "device_1")
    for minute in range(1, 48):
        alarms.tick(at(minute))
    assert checkpoint_alarms(store, sid) == [(at(40), at(45), None)]
    move_clock(store, sid, 47)
    device_1 = store.samples.events_with_authors(sid)[0].id
    amend.correct_event(store, sid, device_1, "dr.a", WALL, at(10), "given at 09:10 per the chart", tz=UTC)
    for minute in range(48, 57):
        alarms.tick(at(minute))
    feed(store, alarms, sid, nibp(57, 131, 83))
    assert checkpoint_alarms(store, sid) == [(at(40), at(45), at(47)), (at(50), at(55), at(57))]


def test_a_dose_entered_too_late_alarms_when_corrected_not_in_the_past(store: Store) -> None:
    sid = session_at(store, "esketamine", 10, [])
    alarms = LiveAlarms(store, sid)
    feed(store, alarms, sid, nibp(-5, 128, 80) + nibp(5, 130, 82))
    service.enter_dose(store, sid, "nurse.b", WALL, "device_1")  # at 10; given at 0
    for minute in range(11, 48):
        alarms.tick(at(minute))
    assert checkpoint_alarms(store, sid) == []  # due at 50 by the wrong time
    move_clock(store, sid, 47)
    device_1 = store.samples.events_with_authors(sid)[0].id
    amend.correct_event(store, sid, device_1, "dr.a", WALL, "09:00", "given at 09:00", tz=UTC)
    alarms.tick(at(48))
    assert checkpoint_alarms(store, sid) == [(at(40), at(47), None)]  # overdue since 45: announced on learning it


def test_the_rise_alarm_compares_with_the_corrected_baseline(store: Store) -> None:
    """A dose start entered 18 min early takes a baseline of 105 mmHg, and 145 would be a rise of 40; from the
    corrected dose at 0 the baseline is 140, and 145 is no rise."""
    def run(correct: bool) -> list[str]:
        sid = session_at(store, "iv-ketamine", -18, [])
        alarms = LiveAlarms(store, sid)
        feed(store, alarms, sid, nibp(-25, 105, 70) + nibp(-20, 105, 70))
        store.samples.enter_event(sid, Event(at(-18), "dose_start", source="entered"), "nurse.b", WALL)
        feed(store, alarms, sid, nibp(-10, 140, 80) + nibp(-5, 140, 80))
        move_clock(store, sid, 1)
        if correct:
            entered = store.samples.events_with_authors(sid)[0].id
            amend.correct_event(store, sid, entered, "dr.a", WALL, at(0), "started at 09:00", tz=UTC)
        feed(store, alarms, sid, nibp(5, 145, 82))
        return [a.episode.kind for a in store.alarms.since(sid) if a.episode.vital == "sbp"]

    assert run(correct=False) == ["rise"]
    assert run(correct=True) == []


# -- the stream and the record --


def data_messages(stream) -> dict:
    import json

    while True:
        text = next(stream)
        if "data: " in text:
            return json.loads(text.split("data: ", 1)[1])


def test_the_stream_redraws_the_events_after_a_withdrawal(store: Store) -> None:
    sid = session_at(store, "iv-ketamine", 0, IV_READINGS)
    original = enter_dose_start(store, sid)
    stream = stream_updates(store, sid, Cursor(), UTC)
    try:
        first = data_messages(stream)
        assert [e[1] for e in first["S"]["events"]] == ["dose_start"] and first["S"]["anchor"] is not None
        assert [o["value"] for o in first["S"]["amendable"]] == [str(original)]
        amend.withdraw_event(store, sid, original, "dr.a", WALL, "wrong patient")
        after = data_messages(stream)  # no new event row: the session's amendment count says it changed
        assert (after["S"]["events"], after["S"]["anchor"], after["S"]["amendable"]) == ([], None, [])
    finally:
        stream.close()


def test_the_record_shows_the_struck_entry_and_the_correction_with_its_reason(store: Store) -> None:
    sid = session_at(store, "iv-ketamine", 0, IV_READINGS)
    original = enter_dose_start(store, sid)
    move_clock(store, sid, 12)
    amend.correct_event(store, sid, original, "dr.a", WALL, "08:54:00", "clicked late", tz=UTC)
    content = report_content(session_record(store, sid), UTC, WALL)
    events = next(s for s in content.sections if s.title == "Events and notes")
    table, changes = events.blocks
    assert [(row[0], row[2], row[4], row[5]) for row in table.rows] == [
        ("2026-11-20 08:54:00", "dose_start", "dr.a", "correction"),
        ("2026-11-20 09:00:00", "dose_start", "nurse.b", "struck: corrected")]
    assert changes.rows == (("2026-11-21 12:00:00", "dr.a", "dose_start",
                             "2026-11-20 09:00:00 → 2026-11-20 08:54:00", "clicked late"),)
    page = render_html(session_record(store, sid), UTC)
    assert "Corrected or withdrawn" in page and "struck: corrected" in page and "clicked late" in page
    pdf = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes(session_record(store, sid), UTC))).pages)
    assert "Corrected or withdrawn" in pdf and "struck: corrected" in pdf and "clicked late" in pdf


def test_an_older_database_gains_the_columns_and_its_dose_index_counts_only_events_in_force(tmp_path: Path
                                                                                           ) -> None:
    db = tmp_path / "old.db"
    store = Store(db)
    sid = store.sessions.create("s", "live", session_type="iv-ketamine")
    store.close()
    with sqlite3.connect(db) as raw:  # as an older version left it: the old index, none of the new columns,
        raw.execute("DROP TABLE alembic_version")  # and no schema version
        raw.execute("DROP TABLE bed_holders")  # (newer than that version)
        raw.execute("DROP INDEX uq_dose_in_force")
        for table, column in (("events", "struck_us"), ("events", "struck_by"), ("events", "struck_reason"),
                              ("events", "corrects"), ("sessions", "amendments")):
            raw.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        raw.execute("CREATE UNIQUE INDEX uq_entered_dose ON events (session_id, kind) WHERE entered_by IS NOT NULL "
                    "AND kind IN ('dose_start', 'dose_end', 'device_1', 'device_2', 'device_3')")
    store = Store(db)
    try:
        assert store.samples.enter_event(sid, Event(at(0), "dose_start", source="entered"), "nurse.b", WALL)
        move_clock(store, sid, 5)
        [entered] = store.samples.events_with_authors(sid)
        amend.correct_event(store, sid, entered.id, "dr.a", WALL, at(1), "started at 09:01", tz=UTC)
        assert [e.time for e in store.samples.events(sid)] == [at(1)]
        assert not store.samples.enter_event(sid, Event(at(2), "dose_start", source="entered"), "nurse.b", WALL)
    finally:
        store.close()
    with sqlite3.connect(db) as raw:
        indexes = {row[1] for row in raw.execute("PRAGMA index_list(events)")}
    assert "uq_dose_in_force" in indexes and "uq_entered_dose" not in indexes
