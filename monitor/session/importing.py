"""Import a recorded session into the store: once per recording, whatever the file is called.

A recording is identified by what it holds — a fingerprint of its readings and events as they will be
stored — not by its file name or the session name: importing the same recording again (even renamed,
even while another import of it runs) adds only what is missing, and a different recording never
merges into an existing session. The store's unique index on the fingerprint decides between
concurrent imports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from adapters.files.csv_reader import RecordedSession
from monitor.store import Store
from monitor.timeutil import to_us

CHUNK = 5000  # readings per transaction: an interrupted import keeps what it committed, and a re-run completes it


@dataclass(frozen=True)
class ImportResult:
    session_id: int
    new_session: bool  # False: this recording was imported before, into `session_id`
    added_readings: int
    added_events: int
    readings: int  # what the session holds now
    events: int


def recording_id(recording: RecordedSession) -> str:
    """SHA-256 of the recording's readings and events, in file order, as the store keeps them."""
    digest = hashlib.sha256(b"vigil recording 1\n")
    for r in recording.readings:
        digest.update(f"r {to_us(r.time)} {r.vital} {r.value!r} {r.source}\n".encode())
    for e in recording.events:
        digest.update(f"e {to_us(e.time)} {e.kind} {e.source} {e.text!r}\n".encode())
    return digest.hexdigest()


def import_recording(store: Store, recording: RecordedSession, name: str, origin: str, who: str) -> ImportResult:
    fingerprint = recording_id(recording)
    session_id, new = store.sessions.for_recording(
        fingerprint, name, origin=origin, relative_time=recording.relative_time, who=who)
    before = (0, 0) if new else store.samples.counts(session_id)
    for i in range(0, max(len(recording.readings), len(recording.events)), CHUNK):
        store.samples.write(session_id, recording.readings[i : i + CHUNK], recording.events[i : i + CHUNK])
    n_readings, n_events = store.samples.counts(session_id)
    return ImportResult(session_id, new, n_readings - before[0], n_events - before[1], n_readings, n_events)
