"""Opening a bed: the one place a session is created with its limits, its live alarm engine and the runner
that feeds it, for a replayed recording or a monitor's link.

The CLI opens beds only through here (as will a server of many beds), with plain values: nothing here
knows a command line. The caller starts the runner it gets back (alone, or beside a dashboard).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.files.csv_reader import RecordedSession
from adapters.files.replay import ReplaySource, parse_speed
from adapters.model.reading import DOSE_KINDS
from adapters.transport.serial_link import SerialLink
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import Limits
from monitor.runtime.live import LiveRunner
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store


@dataclass(frozen=True)
class BedSetup:
    """What a new session is: stored with it, and its limits saved and audited as set by `operator`."""

    name: str
    bed: str
    origin: str  # where its data comes from: a recording's path, a port
    session_type: str
    limits: Limits
    operator: str
    patient_label: str = ""


def open_replay(store: Store, setup: BedSetup, recording: RecordedSession, speed: str | float) -> ReplayRunner:
    """A replay session of `recording` at `speed` (see `parse_speed`), its limits in force from its start."""
    source = ReplaySource([*recording.readings, *recording.events], parse_speed(speed), time.monotonic())
    session_id = _open_session(store, setup, "replay", source.start, recording.relative_time)
    # A file that holds its dose takes the baseline before it, whatever the type says.
    has_dose = any(e.kind in DOSE_KINDS for e in recording.events) or None
    return ReplayRunner(store, session_id, source, alarms=LiveAlarms(store, session_id, expect_dose=has_dose))


def open_live(store: Store, setup: BedSetup, link: SerialLink, *, device_clock: bool) -> LiveRunner:
    """A live session fed by `link` (opened), its readings timed by the device's clock or this computer's."""
    # On the device's clock the session's first time is not known yet: the limits apply from the start.
    effective = datetime.fromtimestamp(0, UTC) if device_clock else datetime.now(UTC)
    session_id = _open_session(store, setup, "live", effective, relative_time=False)
    return LiveRunner(store, session_id, link, LiveAlarms(store, session_id), device_clock=device_clock)


def _open_session(store: Store, setup: BedSetup, kind: str, limits_from: datetime, relative_time: bool) -> int:
    session_id = store.sessions.create(
        setup.name, kind, bed=setup.bed, origin=setup.origin, relative_time=relative_time,
        session_type=setup.session_type, patient_label=setup.patient_label, who=setup.operator,
    )
    store.limits.save(session_id, setup.limits.to_dict(), limits_from, who=setup.operator)
    return session_id
