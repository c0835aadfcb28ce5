"""A chair whose database is out of reach: its spool (a real SQLite file), the runner delivering a spool a crash
left, the must-show outage of a chair computer (`vigil acquire --config site.toml --bed chair-1`) on a PostgreSQL
server stopped for a minute, and a chair whose bed another chair took while its network was out."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from browser_support import TREND_TEXT
from postgres import Cluster
from support import (
    NO_SIGN_IN,
    T0,
    DrivenMonitor,
    Processes,
    Pty,
    Relay,
    free_port,
    start_chair,
    stored,
    wait_for,
    wait_until,
)
from test_live_runner import START, link_to, message

from adapters.files.csv_reader import read_session_csv
from adapters.model.reading import Event, Reading
from monitor.alarms.engine import Episode
from monitor.alarms.live import LiveAlarms
from monitor.cli.options import resolve_limits
from monitor.limits.model import load_preset
from monitor.runtime.bed import LiveBed, open_live
from monitor.runtime.spool import DB_LOST, DB_REACHED, Spool, unreachable
from monitor.site.config import load_site
from monitor.store import Bed, Store
from monitor.store.holders import LEASE_TTL_S
from monitor.store.schema import beds
from monitor.web.app import DashboardConfig, create_app
from monitor.web.bed.figures import display_ms
from monitor.web.bed.session_view import session_payload
from monitor.web.site.remote import RemoteBeds

OUTAGE_S = 60  # the must-show: the database stopped for a minute


def batch(second: int, hr: float) -> list[Reading]:
    t = START + timedelta(seconds=second)
    return [Reading(t, "hr", hr, "bed-1"), Reading(t, "spo2", 97.0, "bed-1", flags=frozenset({"artifact"}))]


def test_the_spool_keeps_every_entry_in_order_on_the_disk_and_belongs_to_one_bed(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path, "chair-1")
    lost = Event(T0, DB_LOST, "not reaching the database since 09:00:00 UTC", "vigil")
    episode = Episode("hr", "high", "limit", "medium", T0, T0, None, 120.0, 110.0, 120.0, reached=T0)
    spool.add(batch(0, 120.0), [lost])
    spool.add_episodes([episode])
    spool.add_episodes([])  # nothing changed: no entry
    spool.add(batch(1, 80.0), [])
    spool.remember_readings("nibp", [Reading(T0, "sbp", 120.0, "bed-1", measured_at=T0)])
    spool.close()

    again = Spool(path, "chair-1")  # as a restarted process finds it
    entries = again.entries()
    assert [(e.readings, e.events, e.episodes) for e in entries] == [
        (batch(0, 120.0), [lost], []), ([], [], [episode]), (batch(1, 80.0), [], [])]
    assert again.first() == entries[0]
    again.delivered(entries[0].seq)
    assert len(again) == 2 and again.first() == entries[1]
    assert again.recall_readings("nibp") == [Reading(T0, "sbp", 120.0, "bed-1", measured_at=T0)]
    again.close()
    with pytest.raises(ValueError, match="spool of bed chair-1, not of chair-2"):
        Spool(path, "chair-2")


def test_only_a_lost_connection_to_a_server_counts_as_out_of_reach(store: Store) -> None:
    """A data error is the program's to fix and is raised; a server that does not answer is waited for. An SQLite
    file is on this computer: nothing it raises is an outage."""
    store.beds.declare(Bed("chair-1", "Chair 1"), "tester")
    with pytest.raises(sa.exc.IntegrityError) as data_error, store.engine.begin() as conn:
        conn.execute(beds.insert().values(**conn.execute(sa.select(beds)).one()._mapping))  # the bed again
    nobody = sa.create_engine(f"postgresql+psycopg://vigil@127.0.0.1:{free_port()}/vigil", poolclass=sa.NullPool)
    with pytest.raises(sa.exc.OperationalError) as lost:
        nobody.connect()
    assert not unreachable(data_error.value, store.engine.dialect.name)
    assert unreachable(lost.value, "postgresql") and not unreachable(lost.value, "sqlite")


def test_a_spool_a_crash_left_mid_delivery_is_delivered_first_once_and_in_order(
    store: Store, tmp_path: Path, pty: Callable[[], Pty]
) -> None:
    """Killed after the database committed the first entries but before they left the spool: the next run
    delivers the spool again — nothing twice — and only then what the monitor sends now."""
    p = pty()
    link = link_to(p, clock="device")
    p.send(message(20, "m20", hr=75.0))  # arrives while the spool is delivered: it goes after it
    spool = Spool(tmp_path / "spool.sqlite", "bed-1")
    for second in range(10):
        spool.add(batch(second, 120.0 + second), [])
    episode = Episode("hr", "high", "limit", "medium", START, START, None, 129.0, 110.0, 129.0, reached=START)
    spool.add_episodes([episode])
    setup = LiveBed("bed-1", link.config.url, "other", load_preset("iv-ketamine"), "tester", "hl7 on a pty")
    runner = open_live(store, setup, link, device_clock=True, spool=spool)
    for entry in spool.entries()[:4]:  # what the crashed run had delivered
        store.samples.write(runner.session_id, entry.readings, entry.events)
    runner.start()
    try:
        wait_until(lambda: len(spool) == 0 and not runner.offline, "the spool to be delivered")
        wait_until(lambda: runner.readings == 1, "the new message to be stored")
    finally:
        runner.stop()
    by_id = store.samples.readings_since(runner.session_id, 0)
    assert [(r.reading.time, r.reading.vital) for r in by_id] == [
        *((START + timedelta(seconds=s), v) for s in range(10) for v in ("hr", "spo2")),
        (START + timedelta(seconds=20), "hr")]
    assert [a.episode for a in store.alarms.since(runner.session_id) if a.episode.onset == START] == [episode]
    assert not [e for e in store.samples.events(runner.session_id) if e.kind in (DB_LOST, DB_REACHED)]


def _spooled(path: Path) -> tuple[set, list[Episode]]:
    """(the scenario times of the readings in the spool, its alarm episodes), read as the chair keeps them."""
    spool = Spool(path, "chair-1")
    try:
        entries = spool.entries()
    finally:
        spool.close()
    return {r.time for e in entries for r in e.readings}, [ep for e in entries for ep in e.episodes]


CHAIR_SITE = """\
db = "{db}"

[[beds]]
id = "chair-1"
port = "{port}"
protocol = "ge-s5"
interval = 1
clock = "device"
{more}
"""


def chair_site(folder: Path, db: str, port: str, more: str = "") -> Path:
    """The site file of a chair computer acquiring an emulated GE S/5 on `port` as bed chair-1, on its clock."""
    site = folder / "site.toml"
    site.write_text(CHAIR_SITE.format(db=db, port=port, more=more), encoding="utf-8")
    return site


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def test_a_chair_that_loses_its_database_for_a_minute_and_is_killed_meanwhile_delivers_everything_once(
    scenario: Path, tmp_path: Path, processes: Processes, dash_duo
) -> None:
    """The must-show outage: a chair computer (`vigil acquire --config site.toml --bed chair-1`) on PostgreSQL, the
    server stopped for OUTAGE_S, the chair's process SIGKILLed and restarted (with the server still down) in the
    middle of it. Afterwards every reading the monitor sent is stored once and in the order sent, the alarms raised
    during the outage are stored, the bed's record says when the chair was not reaching the database, and the
    restarted chair holds its bed (the killed one's lease, taken over at once: same computer, process gone)."""
    cluster = Cluster()  # a server of its own: stopping it touches no other test's database
    monitor = DrivenMonitor(scenario)
    limits = tmp_path / "limits.toml"  # HR above 75 alarms at once: alarms fall inside the outage
    limits.write_text('preset = "iv-ketamine"\n[vitals.hr]\nhigh = 75\ndelay_s = 0\n', encoding="utf-8")
    spool = tmp_path / "chair-1.spool"
    db = cluster.url(cluster.new_database())
    site = chair_site(tmp_path, db, monitor.pty.path, f'limits = "{limits}"')

    def acquire(first: int) -> subprocess.Popen[str]:
        process = processes.start("acquire", "--config", site, "--bed", "chair-1", "--spool", spool)
        monitor.take_request(first)
        return process

    second = 0
    try:
        chair = acquire(0)
        for second in range(0, 10):
            monitor.send(second)
            wait_until(lambda s=second: stored(db, s), f"the record of second {second} to be stored")
        cluster.halt()
        halted = time.monotonic()
        outage = []  # the scenario seconds sent while the database was out of reach
        while time.monotonic() - halted < OUTAGE_S:
            second += 1
            if len(outage) == OUTAGE_S // 3:  # a third of the way: the chair's process killed, started again
                chair.kill()
                chair.communicate()
                chair = acquire(second)
                assert chair.stdout is not None and chair.stdout.readline().startswith("cannot reach the database")
            monitor.send(second)
            outage.append(second)
            wait_until(lambda s=second: at(s) in _spooled(spool)[0], f"the record of second {second} to be spooled")
            time.sleep(max(0.0, halted + len(outage) - time.monotonic()))  # a record a second, as a monitor
        raised = _spooled(spool)[1]  # raised on the chair while its database was out of reach
        assert any(e.vital == "hr" and at(outage[0]) <= e.onset <= at(outage[-1]) for e in raised), raised
        cluster.resume()
        for after in range(second + 1, second + 11):  # delivered while the monitor goes on
            monitor.send(after)
            wait_until(lambda s=after: stored(db, s), f"the record of second {after} to be stored", timeout=30)
        wait_until(lambda: not spool.exists() or not _spooled(spool)[0], "the spool to be emptied")
        store = Store(db)
        try:
            holder = store.holders.current(["chair-1"])["chair-1"]  # the killed process's lease, taken over
            assert (holder.host, holder.pid, holder.stale, holder.released) == (socket.gethostname(), chair.pid,
                                                                                False, None)
        finally:
            store.close()
        _, err = processes.stop(chair)
        assert chair.returncode == 0 and "Traceback" not in err, err

        store = Store(db)
        try:
            (only,) = store.sessions.listing()
            sent = {at(s) for s in monitor.sent}
            expected = [(r.time, r.vital, r.value) for r in read_session_csv(scenario).readings if r.time in sent]
            by_id = [s.reading for s in store.samples.readings_since(only.id, 0, limit=100_000)]
            assert sorted((r.time, r.vital, r.value) for r in by_id) == sorted(expected)  # each exactly once
            continuous = [r.time for r in by_id if r.vital == "hr"]
            assert continuous == sorted(continuous) and len(continuous) == len(monitor.sent)  # in the order sent
            # The alarms raised during the outage are stored: those an engine given the same readings raises.
            judge = LiveAlarms.detached(resolve_limits(str(limits)), "other")
            reference = judge.process_offline([r for r in read_session_csv(scenario).readings if r.time in sent], [])
            window = lambda e: e.kind == "limit" and at(outage[0]) <= e.onset <= at(outage[-1])  # noqa: E731
            assert {e.key for e in reference if window(e)} == {
                a.episode.key for a in store.alarms.since(only.id) if window(a.episode)} != set()
            # The bed's record (its timeline and the bed view's trend) says the chair was not reaching the database.
            marks = [e for e in store.samples.events(only.id) if e.kind in (DB_LOST, DB_REACHED)]
            assert [(e.kind, e.time) for e in marks][:1] == [(DB_LOST, at(outage[0]))]
            assert [e.kind for e in marks] == [DB_LOST, DB_REACHED] and marks[1].time > at(outage[-1])
            assert marks[0].text == f"not reaching the database since {at(outage[0]):%H:%M:%S} UTC"
            shown = session_payload(store, only.id, UTC)["events"]  # what the bed view's trend marks
            assert [(t, label) for t, kind, label in shown if kind in (DB_LOST, DB_REACHED)] == [
                (display_ms(marks[0].time, UTC), "Not reaching the database"),
                (display_ms(marks[1].time, UTC), "Database reached again")]
            assert store.holders.current(["chair-1"])["chair-1"].released is not None  # stopped: the bed is free
            # ... and the bed view's trend, in the browser, says so at those times.
            dash_duo.start_server(create_app(DashboardConfig(store, lambda: only.id, auth=NO_SIGN_IN)))
            labels = lambda: (dash_duo.driver.execute_script(TREND_TEXT, "#trend") or {}).get("labels")  # noqa: E731
            wait_for(lambda: {"Not reaching the database", "Database reached again"} <= set(labels() or []), 15,
                     "the outage marked on the trend")
        finally:
            store.close()
    finally:
        monitor.pty.hang_up()
        processes.kill_all()
        cluster.stop()


def test_a_chair_whose_bed_was_taken_while_it_could_not_reach_the_database_stops_and_keeps_its_spool(
    scenario: Path, tmp_path: Path, processes: Processes, postgresql_db: str
) -> None:
    """The chair's network to the database is cut (the server runs on): the central view says the chair computer
    is not heard from, and another chair computer takes the bed. When the network is back the chair does not
    deliver into a bed another process writes: it stops, in one line naming the holder and its spool, which keeps
    everything acquired meanwhile."""
    relay = Relay(sa.engine.make_url(postgresql_db).port or 5432)
    relayed = sa.engine.make_url(postgresql_db).set(port=relay.port).render_as_string(hide_password=False)
    monitor = DrivenMonitor(scenario)
    spool = tmp_path / "chair-1.spool"
    site = chair_site(tmp_path, relayed, monitor.pty.path)
    store = Store(postgresql_db)  # the central computer's view of the database
    try:
        pid = start_chair(processes, site, "chair-1", "--spool", spool)
        chair = next(p for p in processes.running if p.pid == pid)
        monitor.take_request(0)
        for second in range(3):
            monitor.send(second)
        wait_until(lambda: stored(postgresql_db, 2), "the first records to be stored")
        relay.cut()
        for second in range(3, 6):
            monitor.send(second)
            wait_until(lambda s=second: at(s) in _spooled(spool)[0], f"the record of second {second} to be spooled")
        remote = RemoteBeds(store, load_site(site).beds)  # what the bed's tile on the central view says
        wait_until(lambda: (remote.offline(UTC)["chair-1"] or "").startswith(
            f"chair computer {socket.gethostname()} not heard from since "), "the chair's lease gone stale",
            timeout=LEASE_TTL_S + 15)
        assert store.holders.take("chair-1", uuid.uuid4().hex, "chair-pc-9", 9) is None  # another chair computer
        holder = store.holders.current(["chair-1"])["chair-1"]
        relay.mend()
        _, err = chair.communicate(timeout=30)
        assert chair.returncode == 2 and "Traceback" not in err, err
        assert err.splitlines()[-1] == (
            f"vigil acquire: error: bed chair-1 was taken over by {holder.describe()} while this process was not heard "
            f"from: acquisition stopped; what it acquired meanwhile is kept in {spool}, not delivered")
        assert {at(s) for s in range(3, 6)} <= _spooled(spool)[0]  # kept, and not delivered:
        readings = store.samples.readings(store.beds.open_session("chair-1") or 0, at(0), at(10))
        assert {r.time for r in readings} == {at(0), at(1), at(2)}
        assert store.holders.current(["chair-1"])["chair-1"] == holder  # the new holder's, untouched
    finally:
        store.close()
        relay.cut()
        monitor.pty.hang_up()
