"""A running site: every bed of a checked site file (`monitor/site/config.py`) in one process.

Each bed is opened through `monitor/runtime/bed.py` and gets its own runner: its own acquisition thread, alarm
engine and tick, so one bed's trouble stays its own. A serial bed whose port does not open is opened all the
same: its link reports the outage as lost (stored on the bed's session, so its view shows it) and keeps
reopening with backoff, as after an unplugged cable; the other beds never wait for it. HL7 beds are fed by
the site's one MLLP listener (`[hl7] listen`, `monitor/runtime/hl7.py`), bound when the site opens (a busy
port fails then, before anything runs) and started after the beds; `hl7` is it, with its unknown senders.

A site holds its beds (`monitor/runtime/lease.py`) before it opens any: a bed another live process acquires (a
chair computer's `vigil acquire --config … --bed …`) is refused, and nothing is opened. A chair computer runs a
site of one bed (`one_bed`). Given a spool (a chair on a database server), its serial bed acquires into the spool
while the server is out of reach, from the start if need be (`store` None): its lease is then taken when the
server is first reached, before the spool is delivered (`BedLeases.hold`, docs/outage.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from adapters.transport.serial_link import LinkConfig, SerialLink
from monitor.limits.model import DEFAULT_PRESET, load_preset
from monitor.runtime import bed as beds
from monitor.runtime.hl7 import Hl7Feed, Hl7Service, unknown_sender_notice
from monitor.runtime.lease import BedLeases
from monitor.runtime.live import LiveRunner
from monitor.runtime.replay import ReplayRunner
from monitor.runtime.spool import Spool
from monitor.session.types import recorded_type, session_type
from monitor.site.config import Bed, Hl7Bed, ReplayBed, SiteConfig
from monitor.store import Store

log = logging.getLogger(__name__)


@dataclass
class OpenBed:
    """A bed of the site with its runner; `offline`: why its port did not open at start (None if it did)."""

    config: Bed
    runner: LiveRunner | ReplayRunner
    offline: str | None = None

    def session(self) -> int:
        """The session the bed is on now (a live bed moves to its next one after 'end session')."""
        return self.runner.session_id

    @property
    def replay(self) -> ReplayRunner | None:
        """The replay runner, whose controls the bed's view shows; None for a live bed."""
        return self.runner if isinstance(self.runner, ReplayRunner) else None


class Site:
    """The beds of a site, started and stopped together; each runs and fails on its own."""

    error: BaseException | None = None  # one bed's failure is that bed's: the site as a whole never fails

    def __init__(self, store: Store | None, config: SiteConfig, operator: str, *, spool: Spool | None = None,
                 connect: Callable[[], Store] | None = None) -> None:
        """Raises BedHeld when another process acquires one of the beds, OSError when the HL7 listener cannot bind
        (both before any bed is opened). `spool`, `connect`: a chair's one serial bed on a database server
        (`monitor/runtime/bed.py` `open_live`); `store` is None while that server is out of reach."""
        self.config = config
        feeds = {bed.hl7_id: Hl7Feed.of(bed.protocol, bed.protocol.name, bed.options)
                 for bed in config.beds if isinstance(bed, Hl7Bed)}
        self.leases = BedLeases(store, [bed.id for bed in config.beds], on_lost=self._lost)
        if store is not None:
            self.leases.take()
        self.hl7: Hl7Service | None = None
        try:
            if config.hl7_listen is not None:
                self.hl7 = Hl7Service(*config.hl7_listen, feeds)
                self.hl7.open()
        except OSError:
            self.leases.stop()
            raise
        hold = None if spool is None else self.leases.hold
        self.beds = [_open(store, bed, operator, feeds, spool=spool, connect=connect, hold=hold)
                     for bed in config.beds]

    def notices(self) -> list[str]:
        """What the admin must see on the central view: each HL7 sender no bed claims (nothing of it is stored)."""
        return [] if self.hl7 is None else [unknown_sender_notice(u) for u in self.hl7.unknown_senders()]

    def start(self) -> None:
        for bed in self.beds:
            bed.runner.start()
        if self.hl7 is not None:
            self.hl7.start()
        self.leases.start()

    def stop(self, timeout: float = 5.0) -> None:
        for bed in self.beds:
            bed.runner.stop(timeout)
        if self.hl7 is not None:
            self.hl7.stop(timeout)
        self.leases.stop(timeout)  # released once nothing of the beds runs

    def _lost(self, bed_id: str) -> None:
        """Another process took the bed over (this one stalled past its lease): this one stops writing it."""
        for bed in self.beds:
            if bed.config.id == bed_id:
                bed.runner.stop()


def one_bed(config: SiteConfig, bed_id: str) -> SiteConfig | None:
    """The site as a chair computer runs it: that one bed (None if the site has no such bed), and the HL7 listener
    only for an HL7 bed — a chair's networked monitor sends to the chair computer, which accepts only its bed."""
    bed = next((bed for bed in config.beds if bed.id == bed_id), None)
    if bed is None:
        return None
    return replace(config, beds=(bed,), hl7_listen=config.hl7_listen if isinstance(bed, Hl7Bed) else None)


def _open(store: Store | None, bed: Bed, operator: str, feeds: dict[str, Hl7Feed], *, spool: Spool | None,
          connect: Callable[[], Store] | None, hold: Callable[[Store], None] | None) -> OpenBed:
    if isinstance(bed, ReplayBed):
        assert store is not None, "only a serial bed acquires into a spool"
        recording = bed.recording
        stype = bed.session_type or recorded_type(recording.events)
        limits = bed.limits or load_preset(session_type(stype).preset or DEFAULT_PRESET)
        setup = beds.BedSetup(f"{bed.label}: {bed.replay.name}", bed.label, str(bed.replay.resolve()), stype, limits,
                              operator)
        return OpenBed(bed, beds.open_replay(store, setup, recording, bed.speed, begin_at=bed.begin_at,
                                             repeat=bed.repeat))
    if isinstance(bed, Hl7Bed):  # on the monitor's clock: a resent message must land on the same readings
        assert store is not None, "only a serial bed acquires into a spool"
        live = beds.LiveBed(bed.id, f"hl7_id {bed.hl7_id}", bed.session_type, bed.limits, operator,
                            name=f"{bed.protocol.name} from {bed.hl7_id}", label=bed.label)
        return OpenBed(bed, beds.open_live(store, live, feeds[bed.hl7_id], device_clock=True))
    spec = bed.protocol
    config = LinkConfig(bed.port, replace(spec.line, **bed.line), spec.name, clock=bed.clock,
                        setup_hint=spec.setup_hint)
    link = SerialLink(config, spec.new_decoder(spec.name, bed.options))
    offline = link.open_or_report()
    if offline is not None:
        log.warning("bed %s is offline: %s (retrying)", bed.id, offline)
    live = beds.LiveBed(bed.id, bed.port, bed.session_type, bed.limits, operator, name=f"{spec.name} on {bed.port}",
                        label=bed.label)
    return OpenBed(bed, beds.open_live(store, live, link, device_clock=bed.clock == "device", spool=spool,
                                       connect=connect, hold=hold), offline)
