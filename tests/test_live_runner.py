"""The live runner on real parts: a pseudo-terminal played as an HL7 monitor, the real serial link and
decoder, the real alarm engine and a real SQLite store. The bed is opened as the CLI opens it
(`monitor/runtime/bed.py`), except where the test watches the alarm engine."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from support import Pty, wait_for, wait_until

from adapters.model.reading import LINK_LOST, Event, Reading
from adapters.protocols.base import Item
from adapters.protocols.hl7_mllp.decoder import LINE_SETTINGS, Hl7MllpDecoder
from adapters.protocols.hl7_mllp.message import encode_oru
from adapters.transport.serial_link import LinkConfig, SerialLink
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import load_preset
from monitor.runtime.bed import LiveBed, open_live
from monitor.runtime.live import LiveRunner
from monitor.session import service
from monitor.store import Store

SOURCE = "bed-1"  # the decoder's and the link's: signal loss is per source
START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def message(seconds: int, control_id: str, **values: float) -> bytes:
    """One ORU^R01 as the monitor pushes it, `seconds` after START."""
    t = START + timedelta(seconds=seconds)
    return encode_oru([Reading(t, vital, value) for vital, value in values.items()], control_id=control_id)


def link_to(p: Pty, *, watchdog_s: float = 30.0, decoder: Hl7MllpDecoder | None = None,
            clock: Literal["host", "device"] = "host") -> SerialLink:
    """An opened link; the watchdog far off unless the test is about it."""
    config = LinkConfig(p.path, LINE_SETTINGS, SOURCE, watchdog_s=watchdog_s, clock=clock,
                        setup_hint="the HL7 export menu")
    link = SerialLink(config, decoder or Hl7MllpDecoder(SOURCE), backoff=(0.05, 0.2))
    link.open()
    return link


def bed(store: Store, link: SerialLink) -> LiveRunner:
    setup = LiveBed("bed-1", link.config.url, "other", load_preset("iv-ketamine"), "tester", "hl7 on a pty")
    return open_live(store, setup, link, device_clock=False)


@pytest.fixture
def running() -> Iterator[Callable[[LiveRunner], LiveRunner]]:
    """Starts runners, and stops every one after the test whatever happened."""
    started: list[LiveRunner] = []

    def start(runner: LiveRunner) -> LiveRunner:
        started.append(runner)
        runner.start()
        return runner

    yield start
    for runner in started:
        runner.stop()


def runner_threads(runner: LiveRunner) -> list[threading.Thread]:
    names = {f"link-{runner.session_id}", f"alarm-tick-{runner.session_id}"}
    return [t for t in threading.enumerate() if t.name in names]


class WatchedAlarms(LiveAlarms):
    """The real engine, noting for each batch it is given whether the store already held all of it."""

    def __init__(self, store: Store, session_id: int) -> None:
        super().__init__(store, session_id)
        self.batches: list[tuple[int, bool]] = []  # (readings in the batch, all of them stored before)

    def process(self, readings: list[Reading], events: list[Event]) -> None:
        stored = {(r.time, r.vital, r.value) for r in self.store.samples.readings(self.session_id)}
        self.batches.append((len(readings), all((r.time, r.vital, r.value) in stored for r in readings)))
        super().process(readings, events)


def test_every_batch_is_committed_before_the_alarm_engine_sees_it(
    store: Store, pty: Callable[[], Pty], running: Callable[[LiveRunner], LiveRunner]
) -> None:
    p = pty()
    link = link_to(p)
    session = store.sessions.create("watched", "live")
    alarms = WatchedAlarms(store, session)
    runner = running(LiveRunner(store, session, link, alarms))
    for n in range(3):
        p.send(message(n, f"m{n}", hr=72.0 + n, spo2=98.0))
        wait_until(lambda n=n: runner.readings == 2 * (n + 1), f"message {n} to be stored")
    wait_until(lambda: sum(size for size, _ in alarms.batches) == 6, "the engine to see every reading")
    assert all(stored_first for _, stored_first in alarms.batches), alarms.batches
    assert len(store.samples.readings(session)) == 6 and runner.error is None


def test_a_lost_link_is_stored_as_an_event_and_raises_signal_loss(
    store: Store, pty: Callable[[], Pty], running: Callable[[LiveRunner], LiveRunner]
) -> None:
    p = pty()
    runner = running(bed(store, link_to(p, watchdog_s=0.5)))
    p.send(message(0, "m0", hr=72.0, spo2=98.0))
    wait_until(lambda: runner.readings == 2, "the readings to be stored")
    # the monitor falls silent: the watchdog declares the link lost
    wait_until(lambda: any(e.kind == LINK_LOST for e in store.samples.events(runner.session_id)), "a link_lost event")
    lost = [e for e in store.samples.events(runner.session_id) if e.kind == LINK_LOST]
    assert len(lost) == 1 and lost[0].source == SOURCE

    def signal_loss() -> list:
        return [a.episode for a in store.alarms.since(runner.session_id)
                if (a.episode.vital, a.episode.direction) == ("signal", "loss")]

    wait_until(lambda: bool(signal_loss()), "a signal-loss alarm")
    episode = signal_loss()[0]
    assert episode.source == SOURCE and episode.announced == lost[0].time  # announced with the loss, not later
    assert runner.error is None


@pytest.mark.parametrize("state", ["reading", "reconnecting"])
def test_stop_ends_both_threads_and_releases_the_port(
    store: Store, pty: Callable[[], Pty], running: Callable[[LiveRunner], LiveRunner], state: str
) -> None:
    p = pty()
    runner = running(bed(store, link_to(p, watchdog_s=0.3 if state == "reconnecting" else 30.0)))
    p.send(message(0, "m0", hr=72.0))
    wait_until(lambda: runner.readings == 1, "a reading to be stored")
    if state == "reconnecting":
        wait_until(lambda: runner.link.stats["link_lost"] == 1, "the link to be lost")
    assert len(runner_threads(runner)) == 2
    runner.stop()
    assert runner_threads(runner) == []
    assert not runner.link.connected
    link_to(p).close()  # the port is free again: opening it exclusively succeeds


class PlantedBug(Hl7MllpDecoder):
    """The real decoder with a bug planted: a chunk holding a message with control id POISON raises."""

    def feed(self, data: bytes) -> list[Item]:
        if b"|POISON|" in data:
            raise ValueError("planted bug")
        return super().feed(data)


def test_a_decoder_error_costs_its_chunk_and_acquisition_goes_on(
    store: Store, pty: Callable[[], Pty], running: Callable[[LiveRunner], LiveRunner]
) -> None:
    p = pty()
    link = link_to(p, decoder=PlantedBug(SOURCE))
    runner = running(bed(store, link))
    sent = 0
    for n, data in enumerate([message(0, "m0", hr=72.0), message(1, "POISON", hr=73.0), message(2, "m2", hr=74.0)]):
        p.send(data)
        sent += len(data)
        wait_until(lambda sent=sent: link.stats["bytes"] == sent, f"the link to read message {n}")
    wait_until(lambda: runner.readings == 2, "the message after the bad chunk to be stored")
    assert [r.value for r in store.samples.readings(runner.session_id)] == [72.0, 74.0]
    assert link.decoder.stats["decoder_errors"] == 1 and runner.error is None
    assert store.samples.events(runner.session_id) == []  # not taken for a link loss either
    assert len(runner_threads(runner)) == 2


def record_of(store: Store, session_id: int) -> tuple:
    """Everything a session holds: what must not change once it has ended."""
    return (store.sessions.info(session_id), store.samples.readings(session_id),
            store.samples.events_with_authors(session_id), store.limits.versions(session_id),
            store.alarms.since(session_id), store.audit.entries(session_id=session_id))


def test_after_end_session_the_next_reading_opens_the_beds_next_session_in_the_same_process(
    store: Store, pty: Callable[[], Pty], running: Callable[[LiveRunner], LiveRunner]
) -> None:
    p = pty()
    bed = LiveBed("chair-1", p.path, "iv-ketamine", load_preset("iv-ketamine"), "tester", "hl7 on a pty")
    runner = running(open_live(store, bed, link_to(p, clock="device"), device_clock=True,
                               patient_label="MRN-1"))
    first = runner.session_id
    sent = threading.Event()
    seconds: list[int] = []

    def monitor() -> None:
        """Pushes one message per device second, HR high from 20 s on, until told to stop (and takes the
        acknowledgements, as a monitor does)."""
        s = 0
        while not sent.is_set():
            p.send(message(s, f"m{s}", hr=150.0 if s >= 20 else 72.0))
            while select.select([p.master], [], [], 0)[0]:
                os.read(p.master, 1 << 16)
            seconds.append(s)
            s += 1
            sent.wait(0.02)

    pusher = threading.Thread(target=monitor)
    pusher.start()
    try:
        wait_until(lambda: any(a.episode.vital == "hr" for a in store.alarms.since(first)), "an HR alarm")
        wall = datetime.now(UTC)
        service.set_up(store, first, "nurse.a", wall, type_name="other", patient_label="MRN-1", bed="Chair 1",
                       preset="news2")
        service.enter_note(store, first, "nurse.a", wall, "restless")
        service.end_session(store, first, "nurse.a", wall, override_reason="the next patient is waiting")
        at_end = record_of(store, first)
        wait_until(lambda: runner.session_id != first, "the next reading to open the next session")
        ended = record_of(store, first)  # its engine has closed what the end closes
        assert ended[:4] == at_end[:4]  # the session, its readings, events and limits as they were at the end
        second = runner.session_id
        wait_until(lambda: any(a.episode.vital == "hr" for a in store.alarms.since(second)),
                   "the HR alarm, raised in the new session by its own engine")
    finally:
        sent.set()
        pusher.join()
    wait_until(lambda: runner.readings == len(seconds), "every message sent to be stored")
    assert record_of(store, first) == ended  # the ended session's record is closed
    info = store.sessions.info(second)
    assert (info.bed_id, info.session_type, info.patient_label, info.ended) == ("chair-1", "iv-ketamine", "", None)
    assert store.limits.current(second) == load_preset("iv-ketamine").to_dict()  # the bed's, not the last set
    assert store.beds.open_session("chair-1") == second
    # Every message in exactly one session: those before the end in the first, the rest in the second.
    times = [[r.time for r in store.samples.readings(sid)] for sid in (first, second)]
    assert sorted(times[0] + times[1]) == [START + timedelta(seconds=s) for s in seconds]
    assert max(times[0]) < min(times[1])


def test_a_link_lost_between_patients_opens_no_session_the_next_reading_does(
    store: Store, pty: Callable[[], Pty], running: Callable[[LiveRunner], LiveRunner], caplog: pytest.LogCaptureFixture
) -> None:
    """The patient has gone and the monitor is switched off: its link loss, after "end session", once opened a
    session of its own — an empty chair with a signal-loss alarm. Only a reading opens the next session."""
    p = pty()
    runner = running(bed(store, link_to(p, watchdog_s=0.5)))
    first = runner.session_id
    p.send(message(0, "1", hr=72.0))
    wait_until(lambda: runner.readings == 1, "the first reading")
    service.end_session(store, first, "nurse.a", datetime.now(UTC), override_reason="the patient has gone")
    ended = record_of(store, first)
    wait_until(lambda: "has no open session: link_lost (no bytes" in caplog.text, "the loss, logged, not stored")
    assert store.beds.open_session("bed-1") is None and runner.session_id == first
    assert [e.kind for e in store.samples.events(first)] == []  # nothing after its end either

    def next_patient() -> bool:
        """The next patient's monitor sends (again, until the link has reopened: a reopen drops what waited)."""
        p.send(message(5, "2", hr=75.0))
        return store.beds.open_session("bed-1") is not None

    wait_for(next_patient, 10, "the next reading to open the next session", interval=0.1)
    second = store.beds.open_session("bed-1")
    assert second == runner.session_id != first
    wait_until(lambda: store.samples.readings(second), "the reading that opened it")
    assert {r.value for r in store.samples.readings(second)} == {75.0}
    assert record_of(store, first) == ended
