"""What adapters emit: a `Reading` (one numeric at one instant) or an `Event` (a marker or link state).

Both are frozen so they can be shared between the acquisition thread, the store and tests without
copying. Times are always timezone-aware UTC; anything naive is a bug upstream and is refused here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.model.vitals import VITALS


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


_NO_FLAGS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reading:
    """One vital-sign value. `measured_at` is the device's measurement time (NIBP) when it differs."""

    time: datetime
    vital: str
    value: float
    source: str = "replay"
    device_time: datetime | None = None
    measured_at: datetime | None = None
    flags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _require_aware("time", self.time)
        _require_aware("device_time", self.device_time)
        _require_aware("measured_at", self.measured_at)
        if self.vital not in VITALS:
            raise ValueError(f"unknown vital {self.vital!r}")
        if not math.isfinite(self.value):
            raise ValueError(f"{self.vital} value must be finite, got {self.value!r}")
        object.__setattr__(self, "time", self.time.astimezone(UTC))
        object.__setattr__(self, "flags", frozenset(self.flags))

    @classmethod
    def checked(cls, time: datetime, vital: str, value: float, source: str) -> Reading:
        """A reading whose time is aware UTC, vital known and value finite, as a reader that checked them in bulk
        has them: it skips `__post_init__`, most of building one (a day's recording holds 170 000 readings)."""
        reading = object.__new__(cls)
        object.__setattr__(reading, "__dict__", {"time": time, "vital": vital, "value": value, "source": source,
                                                 "device_time": None, "measured_at": None, "flags": _NO_FLAGS})
        return reading


@dataclass(frozen=True)
class Event:
    """A marker on the session time line: `dose_start`, `device_1`, `note`, `link_lost`, …

    `kind` is the machine-readable type, `text` free text (the note body, a link-loss reason).
    """

    time: datetime
    kind: str
    text: str = ""
    source: str = "replay"

    def __post_init__(self) -> None:
        _require_aware("time", self.time)
        if not self.kind:
            raise ValueError("event kind must not be empty")
        object.__setattr__(self, "time", self.time.astimezone(UTC))


EVENT_KINDS: tuple[str, ...] = ("dose_start", "dose_end", "device_1", "device_2", "device_3", "note")
# What a serial link reports about itself: the connection to the monitor dropped / came back.
LINK_LOST = "link_lost"
LINK_RESTORED = "link_restored"
# Events that start the drug's clock: an IV infusion's start, or the first esketamine device.
DOSE_KINDS: tuple[str, ...] = ("dose_start", "device_1")


def parse_event_marker(text: str) -> tuple[str, str]:
    """Split a CSV/long-form marker into (kind, text): ``note: x`` → (note, x); known kinds as is.

    Anything else is kept as a note so that no marker a user wrote is ever dropped.
    """
    marker = text.strip()
    head, sep, rest = marker.partition(":")
    if sep and head.strip().lower() == "note":
        return "note", rest.strip()
    if marker.lower() in EVENT_KINDS:
        return marker.lower(), ""
    return "note", marker


def split_items(items: Sequence[Reading | Event]) -> tuple[list[Reading], list[Event]]:
    """A batch as a source delivers it (readings and events mixed), as the store and alarms take it."""
    return [i for i in items if isinstance(i, Reading)], [i for i in items if isinstance(i, Event)]
