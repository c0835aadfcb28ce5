"""The live runner on real parts: a pseudo-terminal played as an HL7 monitor, the real serial link and
decoder, the real alarm engine and a real SQLite store. The bed is opened as the CLI opens it
(`monitor/runtime/bed.py`), except where the test watches the alarm engine."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support import Pty, wait_until

from adapters.model.reading import LINK_LOST, Event, Reading
from adapters.protocols.base import Item
from adapters.protocols.hl7_mllp.decoder import LINE_SETTINGS, Hl7MllpDecoder
from adapters.protocols.hl7_mllp.message import encode_oru
from adapters.transport.serial_link import LinkConfig, SerialLink
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import load_preset
from monitor.runtime.bed import LiveBed, open_live
from monitor.runtime.live import LiveRunner
from monitor.store import Store

SOURCE = "bed-1"  # the decoder's and the link's: signal loss is per source
START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def message(seconds: int, control_id: str, **values: float) -> bytes:
    """One ORU^R01 as the monitor pushes it, `seconds` after START."""
    t = START + timedelta(seconds=seconds)
    return encode_oru([Reading(t, vital, value) for vital, value in values.items()], control_id=control_id)


def link_to(p: Pty, *, watchdog_s: float = 30.0, decoder: Hl7MllpDecoder | None = None) -> SerialLink:
    """An opened link; the watchdog far off unless the test is about it."""
    config = LinkConfig(p.path, LINE_SETTINGS, SOURCE, watchdog_s=watchdog_s, setup_hint="the HL7 export menu")
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
