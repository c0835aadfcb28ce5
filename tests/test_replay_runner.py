"""The replay runner: a real thread writing a `ReplaySource` into a real SQLite store.

Time is either `max` speed or a fake monotonic clock the test moves by hand, so nothing here depends
on how fast the machine is; the tests only wait (with a generous timeout) for conditions to become true.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import TIMEOUT, FakeClock, refuse_inserts, sqlite_only, wait_until

from adapters.files.replay import ReplaySource
from adapters.model.reading import Event, Reading
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
N = 60  # one HR reading per second, 0..59 s


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


READINGS = [Reading(at(i), "hr", 60.0 + i) for i in range(N)]
EVENTS = [Event(at(10), "dose_start"), Event(at(40), "dose_end")]
ITEMS: list[Reading | Event] = [*READINGS, *EVENTS]




def key(r: Reading) -> tuple[datetime, str, float]:
    return (r.time, r.vital, r.value)


def thread_alive(session_id: int) -> bool:
    return any(t.name == f"replay-{session_id}" and t.is_alive() for t in threading.enumerate())


@pytest.fixture
def make_runner(store: Store) -> Iterator[Callable[..., ReplayRunner]]:
    runners: list[ReplayRunner] = []

    def make(speed: float | str, clock: Callable[[], float] = time.monotonic, batch_size: int = 500,
             repeat: bool = False) -> ReplayRunner:
        sid = store.sessions.create(f"replay {len(runners)}", "replay")
        source = ReplaySource(ITEMS, speed, now=clock(), batch_size=batch_size)  # type: ignore[arg-type]
        runner = ReplayRunner(store, sid, source, monotonic=clock, repeat=repeat)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


def kick(runner: ReplayRunner) -> None:
    """Wake the loop after moving the fake clock (a control call wakes it at once; resume is a no-op here)."""
    assert not runner.source.paused
    runner.resume()


def readings_stored(store: Store, runner: ReplayRunner, n: int) -> Callable[[], bool]:
    return lambda: store.samples.counts(runner.session_id)[0] >= n


def advance_until_stored(
    clock: FakeClock, seconds: float, store: Store, runner: ReplayRunner, n: int, what: str
) -> None:
    """Move the replay clock on, wake the runner, and wait until `n` readings are stored."""
    clock.advance(seconds)
    kick(runner)
    wait_until(readings_stored(store, runner, n), what)


# -- as fast as possible --


def test_max_speed_stores_everything_then_sets_done(store: Store, make_runner: Callable[..., ReplayRunner]) -> None:
    runner = make_runner("max", batch_size=7)
    sid = runner.session_id
    info = store.sessions.info(sid)
    assert (info.span_start, info.span_end) == (at(0), at(N - 1))  # set on construction
    runner.start()
    assert runner.wait(TIMEOUT)
    assert runner.error is None
    assert store.samples.counts(sid) == (N, 2)
    assert [key(r) for r in store.samples.readings(sid)] == [key(r) for r in READINGS]
    assert store.samples.events(sid) == EVENTS
    info = store.sessions.info(sid)
    assert info.clock_pos == at(N - 1)
    assert info.clock_speed == 0.0  # finished: the clock no longer moves
    ids = [s.id for s in store.samples.readings_since(sid, 0)]
    assert ids == sorted(set(ids))
    runner.stop()
    assert not thread_alive(sid)


def test_max_speed_sample_session(store: Store, make_runner: Callable[..., ReplayRunner], sample_data: Path) -> None:
    from adapters.files.csv_reader import read_session_csv

    recording = read_session_csv(sample_data / "artefacts.csv")
    sid = store.sessions.create("artefacts", "replay")
    source = ReplaySource([*recording.readings, *recording.events], "max", time.monotonic())  # type: ignore[arg-type]
    runner = ReplayRunner(store, sid, source)
    runner.start()
    try:
        assert runner.wait(TIMEOUT)
    finally:
        runner.stop()
    assert runner.error is None
    assert store.samples.counts(sid) == (len(recording.readings), len(recording.events))
    assert sorted(map(key, store.samples.readings(sid))) == sorted(map(key, recording.readings))


# -- real-time speeds on a fake clock --


def test_speed_one_follows_the_clock(store: Store, make_runner: Callable[..., ReplayRunner]) -> None:
    clock = FakeClock()
    runner = make_runner(1, clock)
    sid = runner.session_id
    runner.start()
    wait_until(readings_stored(store, runner, 1), "the first reading")
    assert store.samples.counts(sid) == (1, 0)
    info = store.sessions.info(sid)
    assert (info.clock_pos, info.clock_speed) == (at(0), 1.0)

    clock.advance(5.5)
    kick(runner)
    wait_until(readings_stored(store, runner, 6), "readings up to 5 s")
    assert store.samples.counts(sid) == (6, 0)
    clock.advance(5.0)
    kick(runner)
    wait_until(readings_stored(store, runner, 11), "readings up to 10.5 s")
    assert store.samples.counts(sid) == (11, 1)  # the dose_start at 10 s came with them
    assert not runner.done.is_set()

    clock.advance(1000)
    kick(runner)
    assert runner.wait(TIMEOUT)
    assert runner.error is None
    assert store.samples.counts(sid) == (N, 2)
    info = store.sessions.info(sid)
    assert (info.clock_pos, info.clock_speed) == (at(N - 1), 0.0)


def test_a_repeating_replay_starts_again_from_its_start_at_the_end(
    store: Store, make_runner: Callable[..., ReplayRunner]
) -> None:
    """`vigil demo`'s chairs play over and over: at the end the session goes back to the recording's start."""
    clock = FakeClock()
    runner = make_runner(1, clock, repeat=True)
    sid = runner.session_id
    runner.start()
    wait_until(readings_stored(store, runner, 1), "the first reading")
    clock.advance(N - 1.5)
    kick(runner)
    wait_until(readings_stored(store, runner, N - 1), "all but the last reading")
    assert store.samples.counts(sid) == (N - 1, 2)
    clock.advance(1.0)  # the end: played, and back to the start
    kick(runner)
    wait_until(lambda: store.sessions.info(sid).clock_pos == at(0), "the replay back at its start")
    assert store.samples.counts(sid) == (1, 0) and not runner.done.is_set()
    clock.advance(5.5)
    kick(runner)
    wait_until(readings_stored(store, runner, 6), "the second time through")
    assert list(map(key, store.samples.readings(sid))) == list(map(key, READINGS[:6]))  # each once
    assert runner.error is None


def test_pause_freezes_and_resume_continues(store: Store, make_runner: Callable[..., ReplayRunner]) -> None:
    clock = FakeClock()
    runner = make_runner(1, clock)
    sid = runner.session_id
    runner.start()
    advance_until_stored(clock, 3, store, runner, 4, "readings up to 3 s")

    runner.pause()
    assert runner.source.paused
    info = store.sessions.info(sid)
    assert (info.clock_pos, info.clock_speed) == (at(3), 0.0)
    clock.advance(30)  # time passes while paused: nothing may become due
    runner.resume()
    info = store.sessions.info(sid)
    assert (info.clock_pos, info.clock_speed) == (at(3), 1.0)
    advance_until_stored(clock, 2, store, runner, 6, "readings up to 5 s")
    assert store.samples.counts(sid) == (6, 0)  # 3 s + 2 s, not 3 s + 32 s


def test_set_speed(store: Store, make_runner: Callable[..., ReplayRunner]) -> None:
    clock = FakeClock()
    runner = make_runner(1, clock)
    sid = runner.session_id
    runner.start()
    advance_until_stored(clock, 2, store, runner, 3, "readings up to 2 s")

    runner.set_speed(10)
    assert store.sessions.info(sid).clock_speed == 10.0
    advance_until_stored(clock, 1, store, runner, 13, "readings up to 12 s")
    assert store.samples.counts(sid) == (13, 1)

    with pytest.raises(ValueError):
        runner.set_speed(5000)
    assert runner.source.speed == 10.0

    runner.set_speed("max")
    assert runner.wait(TIMEOUT)
    assert store.samples.counts(sid) == (N, 2)
    assert store.sessions.info(sid).clock_speed == 0.0


def test_seek_forward_catches_up(store: Store, make_runner: Callable[..., ReplayRunner]) -> None:
    clock = FakeClock()
    runner = make_runner(1, clock)
    sid = runner.session_id
    runner.start()
    wait_until(readings_stored(store, runner, 1), "the first reading")
    runner.seek(at(30))
    assert store.sessions.info(sid).clock_pos == at(30)
    wait_until(readings_stored(store, runner, 31), "catch-up to 30 s")
    assert store.samples.counts(sid) == (31, 1)
    assert store.sessions.info(sid).epoch == 0  # forward: nothing dropped
    assert not runner.done.is_set()
    advance_until_stored(clock, 1, store, runner, 32, "the reading at 31 s")
    assert store.samples.counts(sid) == (32, 1)


def test_seek_backward_truncates_and_redelivers_without_duplicates(
    store: Store, make_runner: Callable[..., ReplayRunner]
) -> None:
    clock = FakeClock()
    runner = make_runner(1, clock)
    sid = runner.session_id
    runner.start()
    runner.seek(at(N))  # clamped to the end: everything falls due
    assert runner.wait(TIMEOUT)
    assert store.samples.counts(sid) == (N, 2)
    old = store.samples.cursor(sid)

    runner.pause()
    runner.seek(at(25))
    # the rewind is applied before seek() returns: data after the target is gone, the epoch moved
    assert store.samples.counts(sid) == (26, 1)
    assert store.samples.readings(sid, start=at(25.5)) == []
    assert [e.kind for e in store.samples.events(sid)] == ["dose_start"]
    info = store.sessions.info(sid)
    assert info.epoch == 1
    assert info.clock_pos == at(25)
    assert not runner.done.is_set()

    runner.resume()
    clock.advance(1000)
    kick(runner)
    assert runner.wait(TIMEOUT)
    assert runner.error is None
    assert store.samples.counts(sid) == (N, 2)
    assert [key(r) for r in store.samples.readings(sid)] == [key(r) for r in READINGS]
    # re-delivered readings have new ids past every old cursor, so a dashboard sees them as new
    assert [s.reading.value for s in store.samples.readings_since(sid, old.reading)] == [60.0 + i for i in range(26, N)]
    assert [s.event.kind for s in store.samples.events_since(sid, old.event)] == ["dose_end"]


def test_seek_backward_at_max_speed(store: Store, make_runner: Callable[..., ReplayRunner]) -> None:
    runner = make_runner("max", batch_size=5)
    sid = runner.session_id
    runner.start()
    assert runner.wait(TIMEOUT)
    runner.seek(at(12))
    assert runner.wait(TIMEOUT)
    assert runner.error is None
    assert store.sessions.info(sid).epoch == 1
    assert store.samples.counts(sid) == (N, 2)
    assert [key(r) for r in store.samples.readings(sid)] == [key(r) for r in READINGS]
    assert store.samples.events(sid) == EVENTS


def test_play_after_the_end_plays_again_from_the_start(store: Store,
                                                        make_runner: Callable[..., ReplayRunner]) -> None:
    runner = make_runner("max", batch_size=5)
    sid = runner.session_id
    runner.start()
    assert runner.wait(TIMEOUT)
    runner.pause()  # a paused replay that has ended plays again from the start too
    runner.play()
    assert not runner.source.paused
    assert runner.wait(TIMEOUT)
    assert runner.error is None
    assert store.sessions.info(sid).epoch == 1  # rewound: every open page rebuilds from the store
    assert [key(r) for r in store.samples.readings(sid)] == [key(r) for r in READINGS]  # each once
    assert store.samples.events(sid) == EVENTS


def test_seek_forward_then_back_while_paused_loses_nothing(
    store: Store, make_runner: Callable[..., ReplayRunner]
) -> None:
    """Regression: the second (backward) seek used to skip readings the first one had made due."""
    clock = FakeClock()
    runner = make_runner(1, clock)
    sid = runner.session_id
    runner.start()
    advance_until_stored(clock, 5, store, runner, 6, "readings up to 5 s")
    runner.pause()
    runner.seek(at(40))  # the user drags the position bar forward …
    runner.seek(at(20))  # … and back a little, still paused
    runner.resume()
    clock.advance(1000)
    kick(runner)
    assert runner.wait(TIMEOUT)
    stored = {r.time for r in store.samples.readings(sid)}
    missing = sorted(int((r.time - T0).total_seconds()) for r in READINGS if r.time not in stored)
    assert missing == [], f"readings never stored: {missing}"


def test_stop_ends_the_thread_without_finishing(store: Store, make_runner: Callable[..., ReplayRunner]) -> None:
    clock = FakeClock()
    runner = make_runner(1, clock)
    runner.start()
    wait_until(readings_stored(store, runner, 1), "the first reading")
    assert thread_alive(runner.session_id)
    runner.stop()
    assert not thread_alive(runner.session_id)
    assert runner.error is None
    assert not runner.done.is_set()
    assert runner.wait(0.01) is False


# -- failures are reported, not swallowed --


@sqlite_only  # a table dropped under a running replay: the message is SQLite's
def test_store_failure_mid_replay_is_reported(
    store: Store, make_runner: Callable[..., ReplayRunner], db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    runner = make_runner(1, clock)
    runner.start()
    wait_until(readings_stored(store, runner, 1), "the first reading")
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP TABLE readings")
    with caplog.at_level(logging.ERROR, logger="monitor.runtime.replay"):
        clock.advance(5)
        kick(runner)
        assert runner.wait(TIMEOUT)  # done is set so a waiting caller is released …
        wait_until(lambda: not thread_alive(runner.session_id), "the thread to end")
    assert isinstance(runner.error, sa.exc.OperationalError)  # … and the cause is there to report
    assert "readings" in str(runner.error)
    assert any(r.levelno == logging.ERROR and "no such table: readings" in r.getMessage() for r in caplog.records)


def test_store_refusing_writes_at_max_speed_is_reported(
    store: Store, make_runner: Callable[..., ReplayRunner]
) -> None:
    runner = make_runner("max")
    refuse_inserts(store, "readings", "disk says no")
    runner.start()
    assert runner.wait(TIMEOUT)
    wait_until(lambda: not thread_alive(runner.session_id), "the thread to end")
    assert isinstance(runner.error, sa.exc.DBAPIError)
    assert "disk says no" in str(runner.error)
    assert store.samples.counts(runner.session_id) == (0, 0)
