"""The live alarm engine in acquisition (ARCHITECTURE §5) against a real SQLite store, no mocks.

Live alarms must be exactly what `vigil check` gives for the same recording; ticks turn silences into
technical alarms; a limits version saved mid-session applies from its effective time; a rewind
re-derives the alarms as of the target and keeps acknowledgements; the store acknowledges like a
bedside monitor and the SSE stream carries alarm changes (`a`) and the limits to draw (`L`).
Time is `max` speed or a fake monotonic clock the test moves by hand.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import ROOT, FakeClock, audited, wait_until

from adapters.files.csv_reader import RecordedSession, read_session_csv
from adapters.files.replay import ReplaySource
from adapters.model.reading import Reading
from monitor.alarms.engine import Episode, evaluate, sort_key
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import load_preset
from monitor.runtime.replay import ReplayRunner
from monitor.store import Cursor, Store, StoredAlarm
from monitor.web.bed.figures import display_ms
from monitor.web.stream import stream_updates

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # every sample session starts here
PRESET = "iv-ketamine"
CURSOR_ID = re.compile(r"\d+-\d+-\d+")



REPLAY_TIMEOUT = 60.0  # a whole recording at max speed: an upper bound for a loaded machine, not a timing test

def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def hms(h: int, m: int, s: int = 0) -> datetime:
    return datetime(2026, 11, 20, h, m, s, tzinfo=UTC)




def kick(runner: ReplayRunner) -> None:
    """Wake the runner's loop after moving the fake clock (resume is a no-op control that wakes it)."""
    runner.resume()


def comparable(episodes: Iterable[Episode]) -> list[Episode]:
    """Episodes without `value` (the latest value of the run, not part of `vigil check`), in check order."""
    return sorted((replace(e, value=0.0) for e in episodes), key=sort_key)


def stored(store: Store, sid: int) -> list[Episode]:
    return comparable(a.episode for a in store.alarms.since(sid))


def by_vital_kind(store: Store, sid: int) -> dict[tuple[str, str], StoredAlarm]:
    return {(a.episode.vital, a.episode.kind): a for a in store.alarms.since(sid)}


def recording(sample_data: Path, name: str) -> RecordedSession:
    return read_session_csv(sample_data / f"{name}.csv")


def expected(rec: RecordedSession, upto: datetime | None = None) -> list[Episode]:
    """What `vigil check` gives, for the whole recording or for its part up to `upto`."""
    readings = [r for r in rec.readings if upto is None or r.time <= upto]
    events = [e for e in rec.events if upto is None or e.time <= upto]
    return comparable(evaluate(readings, events, load_preset(PRESET)))


@pytest.fixture
def replay(store: Store) -> Iterator[Callable[..., ReplayRunner]]:
    """Build a runner with the preset saved at the recording start and the live engine attached."""
    runners: list[ReplayRunner] = []

    def make(
        rec: RecordedSession, speed: float | str, clock: Callable[[], float] = time.monotonic, expect_dose: bool = True
    ) -> ReplayRunner:
        sid = store.sessions.create(f"live {len(runners)}", "replay")
        source = ReplaySource([*rec.readings, *rec.events], speed, now=clock())  # type: ignore[arg-type]
        store.limits.save(sid, load_preset(PRESET).to_dict(), source.start, who="test")
        runner = ReplayRunner(store, sid, source, monotonic=clock,
                              alarms=LiveAlarms(store, sid, expect_dose=expect_dose))
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


# -- 1. live == vigil check --


@pytest.mark.parametrize(("name", "count"), [("hypertensive", 6), ("artefacts", 3)])
def test_max_speed_replay_stores_exactly_the_check_episodes(
    store: Store, replay: Callable[..., ReplayRunner], sample_data: Path, name: str, count: int
) -> None:
    rec = recording(sample_data, name)
    runner = replay(rec, "max")
    runner.start()
    assert runner.wait(REPLAY_TIMEOUT)
    assert runner.error is None
    want = expected(rec)
    assert len(want) == count
    assert stored(store, runner.session_id) == want
    # stored state is final: nothing open, no alarm acknowledged by anyone
    assert all(a.episode.end is not None and a.acked_at is None for a in store.alarms.since(runner.session_id))


def test_artefacts_signal_loss_is_stored_as_in_the_sample_readme(
    store: Store, replay: Callable[..., ReplayRunner], sample_data: Path
) -> None:
    runner = replay(recording(sample_data, "artefacts"), "max")
    runner.start()
    assert runner.wait(REPLAY_TIMEOUT)
    loss = [a.episode for a in store.alarms.since(runner.session_id) if a.episode.kind == "technical"]
    assert [(e.vital, e.direction, e.priority, e.onset, e.announced, e.end, e.peak, e.limit) for e in loss] == [
        ("signal", "loss", "medium", hms(10, 20, 15), hms(10, 20, 25), hms(10, 20, 45), 30.0, 10.0)
    ]


def test_real_time_replay_with_ticks_matches_check(
    store: Store, replay: Callable[..., ReplayRunner], sample_data: Path
) -> None:
    """At 1000x on the real clock the engine is ticked between batches: still exactly the check result."""
    full = recording(sample_data, "artefacts")
    start, end = hms(10, 19), hms(10, 22)  # three minutes around the signal gap (no NIBP, no dose event)
    piece = RecordedSession(readings=[r for r in full.readings if start <= r.time <= end],
                            events=[e for e in full.events if start <= e.time <= end])
    runner = replay(piece, 1000, expect_dose=False)
    runner.start()
    assert runner.wait(REPLAY_TIMEOUT)
    assert runner.error is None
    want = comparable(evaluate(piece.readings, piece.events, load_preset(PRESET)))
    assert [(e.vital, e.onset, e.end) for e in want] == [("signal", hms(10, 20, 15), hms(10, 20, 45))]
    assert stored(store, runner.session_id) == want


def vigil(*args: str | Path, db: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_DB=str(db))  # never the user's own database
    return subprocess.run([sys.executable, "-m", "monitor.cli", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_headless_replay_stores_the_alarms_vigil_check_prints(tmp_path: Path, sample_data: Path) -> None:
    db = tmp_path / "cli.db"
    path = sample_data / "hypertensive.csv"
    rec = read_session_csv(path)
    result = vigil("replay", path, "--headless", "--speed", "max", "--db", db, db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"session 1: {len(rec.readings)} readings, {len(rec.events)} events, 6 alarms\n"

    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT count(*) FROM alarms WHERE session_id = 1").fetchone() == (6,)
    check = vigil("check", path, "--limits", PRESET, "--json", db=db)
    assert check.returncode == 0, check.stderr
    printed = [json.loads(line) for line in check.stdout.splitlines()]
    s = Store(db)
    try:
        live = sorted((a.episode for a in s.alarms.since(1)), key=sort_key)
        assert [e.to_json() for e in live] == printed  # live == vigil check, field by field
        versions = s.limits.versions(1)
        assert len(versions) == 1 and versions[0].effective == rec.readings[0].time
        assert versions[0].data == load_preset(PRESET).to_dict()
    finally:
        s.close()


def test_cli_headless_replay_uses_and_stores_the_limits_file(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    csv = tmp_path / "bp.csv"
    csv.write_text("time,sbp,dbp,map\n2026-11-20T09:00:00Z,150,80,103\n2026-11-20T09:05:00Z,175,85,115\n"
                   "2026-11-20T09:10:00Z,150,80,103\n", encoding="utf-8")
    limits = tmp_path / "limits.toml"
    limits.write_text('preset = "esketamine"\n[vitals.sbp]\nhigh = 170\n', encoding="utf-8")
    preset_run = vigil("replay", csv, "--headless", "--speed", "max", "--db", db, db=db)
    assert preset_run.stdout == "session 1: 9 readings, 0 events, 0 alarms\n", preset_run.stderr  # 175 <= 179
    result = vigil("replay", csv, "--headless", "--speed", "max", "--limits", limits, "--operator", "dr-jones",
                   "--db", db, db=db)
    assert result.stdout == "session 2: 9 readings, 0 events, 1 alarms\n", result.stderr
    s = Store(db)
    try:
        [alarm] = s.alarms.since(2)
        assert (alarm.episode.vital, alarm.episode.onset, alarm.episode.end, alarm.episode.limit) == (
            "sbp", hms(9, 5), hms(9, 10), 170.0)
        [version] = s.limits.versions(2)
        assert (version.who, version.effective, version.data["preset"]) == ("dr-jones", hms(9, 0), "esketamine")
        assert version.data["vitals"]["sbp"]["high"] == 170.0
        assert [(a.action, a.who) for a in s.audit.entries(session_id=2)] == [("session_start", "dr-jones"),
                                                                              ("limits", "dr-jones")]
    finally:
        s.close()


# -- 2. ticks: a silence becomes a signal-loss alarm before the next reading arrives --

GAP_READINGS = [Reading(at(i), "hr", 70.0, "mon") for i in [*range(6), *range(30, 36)]]  # silent 5 s → 30 s


def test_runner_ticks_raise_signal_loss_during_the_silence_and_the_next_reading_ends_it(
    store: Store, replay: Callable[..., ReplayRunner]
) -> None:
    clock = FakeClock()
    runner = replay(RecordedSession(readings=GAP_READINGS, events=[]), 1, clock)
    sid = runner.session_id
    runner.start()
    wait_until(lambda: store.samples.counts(sid)[0] >= 1, "the first reading")
    clock.advance(5)
    kick(runner)
    wait_until(lambda: store.samples.counts(sid)[0] >= 6, "readings up to 5 s")

    clock.advance(10)  # 10 s of silence: exactly the threshold, no alarm (inclusive)
    kick(runner)
    time.sleep(0.2)
    assert store.alarms.since(sid) == []

    clock.advance(1.5)  # 11.5 s of silence and still no reading: the tick must raise it
    kick(runner)
    wait_until(lambda: store.alarms.since(sid) != [], "the signal-loss alarm")
    [alarm] = store.alarms.since(sid)
    e = alarm.episode
    assert (e.vital, e.direction, e.kind, e.priority, e.source) == ("signal", "loss", "technical", "medium", "mon")
    assert (e.onset, e.announced, e.end, e.limit) == (at(5), at(15), None, 10.0)
    assert e.peak == 11.5
    assert store.samples.counts(sid)[0] == 6  # raised by the clock, not by data

    clock.advance(3.5)  # the silence grows while it lasts
    kick(runner)
    wait_until(lambda: store.alarms.since(sid, alarm.rev) != [], "the alarm to follow the clock")
    assert store.alarms.since(sid)[-1].episode.peak == 15.0
    assert store.alarms.since(sid)[-1].episode.end is None

    clock.advance(10)  # 30 s: the next reading ends it
    kick(runner)
    wait_until(lambda: store.alarms.since(sid)[-1].episode.end is not None, "the end of the signal loss")
    [ended] = store.alarms.since(sid)  # one row for the whole episode
    assert (ended.id, ended.episode.end, ended.episode.peak, ended.episode.announced) == (
        alarm.id, at(30), 25.0, at(15))


def test_live_alarms_tick_directly(store: Store) -> None:
    sid = store.sessions.create("ticks", "replay")
    store.limits.save(sid, load_preset(PRESET).to_dict(), at(0), who="test")
    live = LiveAlarms(store, sid, expect_dose=False)
    first, rest = GAP_READINGS[:6], GAP_READINGS[6:]
    store.samples.write(sid, first)
    live.process(first, [])
    live.tick(at(15))
    assert store.alarms.since(sid) == []
    live.tick(at(16))
    [alarm] = store.alarms.since(sid)
    assert (alarm.episode.vital, alarm.episode.announced, alarm.episode.end, alarm.episode.peak) == (
        "signal", at(15), None, 11.0)
    live.tick(at(16))  # nothing changed: nothing written
    assert store.alarms.since(sid, alarm.rev) == []
    store.samples.write(sid, rest)
    live.process(rest, [])
    [ended] = store.alarms.since(sid)
    assert (ended.id, ended.episode.end, ended.episode.peak) == (alarm.id, at(30), 25.0)
    assert ended.rev > alarm.rev


# -- 3. a limits change saved mid-session --


def sbp(seconds: float, value: float) -> Reading:
    return Reading(at(seconds), "sbp", value, "cuff")


def with_sbp_high(value: float = 179.0) -> dict:
    """The preset as stored, with SBP `high` set and without SBP `rise` (so only the limit alarms here)."""
    data = load_preset(PRESET).to_dict()
    data["vitals"]["sbp"]["high"] = value
    del data["vitals"]["sbp"]["rise"]
    return data


def test_limits_change_applies_from_its_effective_time_and_is_audited(store: Store) -> None:
    sid = store.sessions.create("limits", "replay")
    assert store.limits.save(sid, with_sbp_high(), at(0), who="setup") == 1
    live = LiveAlarms(store, sid, expect_dose=False)
    before = [sbp(0, 130), sbp(300, 130), sbp(600, 170), sbp(900, 175)]  # 170, 175: in range below 179
    store.samples.write(sid, before)
    live.process(before, [])
    assert store.alarms.since(sid) == []

    assert store.limits.save(sid, with_sbp_high(160.0), at(1000), who="dr-jones") == 2
    after = [sbp(1200, 170), sbp(1500, 150), sbp(1800, 165)]
    store.samples.write(sid, after)
    live.process(after, [])
    alarms = stored(store, sid)
    # 170/175 before the change stay unalarmed; from 1000 s on the new limit 160 applies
    assert [(e.vital, e.kind, e.priority, e.onset, e.announced, e.end, e.peak, e.limit) for e in alarms] == [
        ("sbp", "limit", "medium", at(1200), at(1200), at(1500), 170.0, 160.0),
        ("sbp", "limit", "medium", at(1800), at(1800), None, 165.0, 160.0),
    ]

    versions = store.limits.versions(sid)
    assert [(v.version, v.effective, v.who) for v in versions] == [(1, at(0), "setup"), (2, at(1000), "dr-jones")]
    assert store.limits.version(sid) == 2
    log = audited(store, sid)
    assert [(a.action, a.target, a.who) for a in log] == [("limits", "limits", "setup"),
                                                          ("limits", "vitals.sbp.high", "dr-jones")]
    assert log[0].old == "" and "vitals.sbp.high=179" in log[0].new
    assert (log[1].old, log[1].new, log[1].session_time) == ("179", "160", at(1000))

    # a rebuild (what a rewind runs) applies the versions at their effective times: the same alarms
    live.rebuild(at(1800))
    assert stored(store, sid) == alarms


def test_raised_limit_ends_an_open_run_from_its_effective_time(store: Store) -> None:
    sid = store.sessions.create("raise", "replay")
    store.limits.save(sid, with_sbp_high(160.0), at(0), who="setup")
    live = LiveAlarms(store, sid, expect_dose=False)
    first = [sbp(0, 130), sbp(300, 170)]
    store.samples.write(sid, first)
    live.process(first, [])
    store.limits.save(sid, with_sbp_high(), at(400), who="dr-jones")
    live.tick(at(450))  # the engine follows the new version on a tick as well
    assert store.alarms.since(sid)[-1].episode.end is None
    second = [sbp(600, 175)]  # in range under 179: ends the run
    store.samples.write(sid, second)
    live.process(second, [])
    [e] = stored(store, sid)
    assert (e.onset, e.end, e.peak, e.limit) == (at(300), at(600), 170.0, 160.0)
    assert [(a.target, a.old, a.new) for a in audited(store, sid)][1:] == [("vitals.sbp.high", "160", "179")]


def test_limits_change_does_not_apply_to_readings_before_it_in_the_same_batch(store: Store) -> None:
    sid = store.sessions.create("straddle", "replay")
    store.limits.save(sid, with_sbp_high(), at(0), who="setup")
    live = LiveAlarms(store, sid, expect_dose=False)
    first = [sbp(0, 130), sbp(300, 130)]
    store.samples.write(sid, first)
    live.process(first, [])
    # Saved at session time 400 s (the dashboard's clock), while the runner had committed only up to
    # 300 s: the next batch holds a reading before the change (350 s) and one after it (600 s).
    store.limits.save(sid, with_sbp_high(160.0), at(400), who="dr-jones")
    batch = [sbp(350, 170), sbp(600, 150)]
    store.samples.write(sid, batch)
    live.process(batch, [])
    assert stored(store, sid) == []  # 170 at 350 s is in range under the limit then in force (179)
    later = [sbp(900, 165)]  # above the new limit: alarmed by it
    store.samples.write(sid, later)
    live.process(later, [])
    assert [(e.onset, e.limit) for e in stored(store, sid)] == [(at(900), 160.0)]


def test_rebuild_drops_stored_alarms_it_no_longer_derives(store: Store) -> None:
    sid = store.sessions.create("rebuild", "replay")
    store.limits.save(sid, with_sbp_high(), at(0), who="setup")
    live = LiveAlarms(store, sid, expect_dose=False)
    readings = [sbp(0, 130), sbp(300, 190), sbp(600, 130)]
    store.samples.write(sid, readings)
    live.process(readings, [])
    [real] = stored(store, sid)
    ghost = replace(real, vital="dbp", onset=at(100), announced=at(100))  # e.g. left by an older engine
    store.alarms.save(sid, [ghost])
    live.rebuild(at(600))
    assert stored(store, sid) == [real]


def test_an_engine_taking_over_after_a_restart_goes_on_with_the_open_episode_and_its_acknowledgement(
    store: Store
) -> None:
    """Acquisition killed during an alarm and started again: the same episode goes on, acknowledged as it was,
    and ends when the vital does — not a second episode beside one left open for good."""
    sid = store.sessions.create("restarted", "live")
    store.limits.save(sid, with_sbp_high(), at(0), who="setup")
    before = [sbp(0, 130), sbp(300, 190)]
    store.samples.write(sid, before)
    LiveAlarms(store, sid, expect_dose=False).process(before, [])
    [alarm] = store.alarms.since(sid)
    store.alarms.acknowledge(sid, "nurse.a", datetime.now(UTC), at(310))
    restarted = LiveAlarms(store, sid, expect_dose=False)  # the new process's engine
    restarted.resume()
    after = [sbp(600, 195), sbp(900, 130)]
    store.samples.write(sid, after)
    restarted.process(after, [])
    [episode] = store.alarms.since(sid)
    assert (episode.id, episode.acked_by) == (alarm.id, "nurse.a")
    assert (episode.episode.onset, episode.episode.end, episode.episode.peak) == (at(300), at(900), 195.0)


# -- 4. rewind --


def test_rewind_truncates_rebuilds_and_replays_to_the_same_episodes_keeping_acks(
    store: Store, replay: Callable[..., ReplayRunner], sample_data: Path
) -> None:
    rec = recording(sample_data, "hypertensive")
    clock = FakeClock()
    runner = replay(rec, 1, clock)
    sid = runner.session_id
    runner.start()
    runner.seek(hms(9, 44))  # catch up to 44:00: SBP has been high (limit and rise) since 40:00
    wait_until(lambda: len(store.alarms.since(sid)) == 2, "the two SBP alarms")
    acked = store.alarms.acknowledge(sid, "nurse-kim", datetime.now(UTC), hms(9, 44))
    assert sorted(acked) == sorted(a.id for a in store.alarms.since(sid))

    runner.seek(rec.readings[-1].time)  # forward to the end
    assert runner.wait(REPLAY_TIMEOUT)
    assert runner.error is None
    before = stored(store, sid)
    assert before == expected(rec)

    target = hms(9, 46)
    runner.seek(target)  # applied (truncate + rebuild) before seek() returns
    assert store.sessions.info(sid).epoch == 1
    now = by_vital_kind(store, sid)
    # hr/pr were announced at 47:33, after the target: gone; SBP (40:00) and DBP (45:00) are open again
    assert sorted(now) == [("dbp", "limit"), ("dbp", "rise"), ("sbp", "limit"), ("sbp", "rise")]
    assert all(a.episode.end is None for a in now.values())
    assert stored(store, sid) == expected(rec, upto=target)
    assert now["sbp", "limit"].episode.peak == 195.0  # as of 46:00 (the 197 at 50:00 is not replayed yet)
    # the acknowledgement of the surviving SBP alarms is kept, the DBP ones were never acknowledged
    assert sorted(a.id for a in now.values() if a.acked_by == "nurse-kim") == sorted(acked)
    assert all(a.acked_at is None for key, a in now.items() if key[0] == "dbp")

    runner.seek(rec.readings[-1].time)
    assert runner.wait(REPLAY_TIMEOUT)
    assert runner.error is None
    assert stored(store, sid) == before == expected(rec)
    final = by_vital_kind(store, sid)
    assert {k for k, a in final.items() if a.acked_by == "nurse-kim"} == {("sbp", "limit"), ("sbp", "rise")}


def test_rewind_into_a_signal_gap_reopens_the_signal_loss_at_max_speed(
    store: Store, replay: Callable[..., ReplayRunner], sample_data: Path
) -> None:
    rec = recording(sample_data, "artefacts")
    runner = replay(rec, "max")
    sid = runner.session_id
    runner.start()
    assert runner.wait(REPLAY_TIMEOUT)
    before = stored(store, sid)

    runner.pause()
    runner.seek(hms(10, 20, 30))  # inside the 30 s gap, after the loss was announced (10:20:25)
    loss = by_vital_kind(store, sid)["signal", "technical"].episode
    assert (loss.onset, loss.announced, loss.end, loss.peak) == (hms(10, 20, 15), hms(10, 20, 25), None, 15.0)
    assert by_vital_kind(store, sid)["sbp", "limit"].episode.end is None  # 10:10 run ends only at 10:25

    runner.seek(hms(10, 20, 20))  # before the announcement: the signal loss is not an alarm yet
    assert ("signal", "technical") not in by_vital_kind(store, sid)
    runner.resume()
    assert runner.wait(REPLAY_TIMEOUT)
    assert runner.error is None
    assert stored(store, sid) == before == expected(rec)


# -- 5. acknowledge --


def episode(vital: str, priority: str, onset_s: float, end_s: float | None, kind: str = "limit") -> Episode:
    return Episode(vital=vital, direction="high", kind=kind, priority=priority, onset=at(onset_s),
                   announced=at(onset_s), end=None if end_s is None else at(end_s), peak=200.0, limit=180.0,
                   value=190.0)


def test_acknowledge_takes_active_and_latched_high_alarms_once_each(store: Store) -> None:
    sid = store.sessions.create("ack", "replay")
    other = store.sessions.create("other bed", "replay")
    store.alarms.save(sid, [
        episode("sbp", "medium", 0, None),  # active medium: acknowledged
        episode("dbp", "high", 10, 20),  # ended high: latched until acknowledged
        episode("hr", "medium", 30, 40),  # ended medium: gone from the banner, nothing to acknowledge
        episode("pr", "low", 50, 60, kind="rise"),  # ended low: likewise
        episode("map", "low", 70, None, kind="rise"),  # active low: acknowledged
    ])
    store.alarms.save(other, [episode("sbp", "high", 0, None)])
    ids = {a.episode.vital: a.id for a in store.alarms.since(sid)}
    rev = store.samples.cursor(sid).alarm
    wall = datetime(2026, 11, 20, 9, 5, tzinfo=UTC)

    acked = store.alarms.acknowledge(sid, "nurse-kim", wall, at(75))
    assert sorted(acked) == sorted([ids["sbp"], ids["dbp"], ids["map"]])
    changed = store.alarms.since(sid, rev)  # their revision moved on, so every stream sees the change
    assert sorted(a.id for a in changed) == sorted(acked)
    assert all(a.rev > rev and a.acked_at == wall and a.acked_by == "nurse-kim" for a in changed)
    untouched = [a for a in store.alarms.since(sid) if a.id not in acked]
    assert sorted(a.episode.vital for a in untouched) == ["hr", "pr"]
    assert all(a.acked_at is None and a.rev <= rev for a in untouched)
    assert store.alarms.since(other)[0].acked_at is None  # one bed's press acknowledges only that bed

    log = audited(store, sid)
    assert [(a.action, a.who, a.old, a.new, a.at, a.session_time) for a in log] == [
        ("acknowledge", "nurse-kim", "unacknowledged", "acknowledged", wall, at(75))
    ] * 3
    assert sorted(a.target for a in log) == ["dbp limit high (high)", "map rise high (low)",
                                             "sbp limit high (medium)"]

    rev = store.samples.cursor(sid).alarm
    assert store.alarms.acknowledge(sid, "nurse-lee", wall + timedelta(seconds=5), at(80)) == []  # second press
    assert len(audited(store, sid)) == 3
    assert store.alarms.since(sid, rev) == []

    # the engine updating an acknowledged alarm keeps its acknowledgement
    store.alarms.save(sid, [replace(episode("sbp", "medium", 0, None), end=at(90), peak=210.0)])
    [update] = store.alarms.since(sid, rev)
    assert (update.id, update.episode.end, update.acked_by, update.acked_at) == (ids["sbp"], at(90), "nurse-kim", wall)


# -- 6. the stream --


def next_message(stream: Iterator[str]) -> tuple[str | None, dict]:
    """The next data message of `stream_updates`: (SSE id, data); comments and `retry:` are skipped."""
    while True:
        text = next(stream)
        if "data: " not in text:
            continue
        event_id = None
        for line in text.splitlines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        return event_id, data


def shape(data: dict, name: str) -> dict:
    """The shape `name` of the limits in force (an older version's stays drawn over its own time)."""
    shapes = data["L"]["shapes"]
    [found] = [shapes[i] for i in data["L"]["open"] if shapes[i].get("name") == name]
    return found


def test_stream_carries_alarms_and_limits_and_resumes_without_resending(store: Store) -> None:
    sid = store.sessions.create("stream", "replay")
    store.limits.save(sid, load_preset(PRESET).to_dict(), at(0), who="setup")
    store.samples.write(sid, [sbp(0, 130), Reading(at(0), "hr", 72.0, "mon")])
    stream = stream_updates(store, sid, Cursor(), UTC)
    try:
        event_id, data = next_message(stream)  # on connect: the data so far and the limits to draw
        assert CURSOR_ID.fullmatch(event_id or "")
        assert event_id == str(store.samples.cursor(sid))
        assert len(data["r"]) == 2 and "a" not in data
        assert data["L"]["version"] == 1 and data["L"]["preset"] == PRESET
        assert shape(data, "sbp-high")["y0"] == 179.0

        store.alarms.save(sid, [
            Episode("sbp", "high", "limit", "medium", at(300), at(300), None, 186.0, 179.0, 186.0),
            Episode("signal", "loss", "technical", "medium", at(5), at(15), None, 12.0, 10.0, 12.0, "mon"),
        ])
        event_id, data = next_message(stream)
        ids = {a.episode.vital: a.id for a in store.alarms.since(sid)}
        assert [(a["id"], a["pri"], a["text"], a["acked"]) for a in data["a"]] == [
            (ids["sbp"], "medium", "SYS peak 186 mmHg > high 179", False),
            (ids["signal"], "medium", "Signal loss (mon): no HR/SpO₂ for 12 s", False),
        ]
        assert "L" not in data and data["r"] == []
        assert event_id == str(store.samples.cursor(sid))
        assert Cursor.parse(event_id).alarm == store.samples.cursor(sid).alarm

        store.limits.save(sid, with_sbp_high(160.0), at(400), who="dr-jones")
        _, data = next_message(stream)
        assert data["L"]["version"] == 2 and shape(data, "sbp-high")["y0"] == 160.0
        change = display_ms(at(400), UTC)
        assert next((s["y0"], s["x1"]) for s in data["L"]["shapes"] if s["name"] == "sbp-high") == (179.0, change)
        assert "a" not in data

        store.alarms.acknowledge(sid, "nurse-kim", datetime.now(UTC), at(400))
        event_id, data = next_message(stream)
        assert sorted((a["id"], a["acked"], a["ackBy"]) for a in data["a"]) == sorted(
            [(ids["sbp"], True, "nurse-kim"), (ids["signal"], True, "nurse-kim")])
        last_id = event_id
    finally:
        stream.close()

    # The browser reconnects with that id: the limits are drawn again, the alarms are not resent.
    resumed = stream_updates(store, sid, Cursor.parse(last_id), UTC)
    try:
        event_id, data = next_message(resumed)
        assert event_id == last_id
        assert "a" not in data and data["r"] == []
        assert data["L"]["version"] == 2
        store.alarms.save(sid, [Episode("dbp", "high", "limit", "high", at(500), at(500), None, 125.0, 119.0,
                                        125.0)])
        _, data = next_message(resumed)
        assert [(a["pri"], a["text"], a["acked"]) for a in data["a"]] == [
            ("high", "DIA peak 125 mmHg > critical high 119", False)]
    finally:
        resumed.close()


def test_cursor_has_three_parts_and_old_or_malformed_ones_mean_from_the_start() -> None:
    assert str(Cursor(3, 4, 5)) == "3-4-5"
    assert Cursor.parse("3-4-5") == Cursor(3, 4, 5)
    assert Cursor.parse("3-4") == Cursor()  # a two-part id from before alarms: start over
    assert Cursor.parse("x-1-2") == Cursor()
    assert Cursor.parse(None) == Cursor()
