"""Sans-I/O decoder for the GE Datex-Ohmeda S/5 / CARESCAPE Computer Interface (`ge-s5`).

Bytes from the monitor go in; readings come out for every basic-class numeric the vital table knows
(HR, NIBP, SpO2, pulse rate, respiration rate). What it must get right, and why (GE-CI, GE-DRI: see `records`):

- Framing and checksum (`framing`): corrupt frames are counted and skipped, the next flag
  resynchronises; nothing in a bad frame is trusted.
- A group counts only when its module exists and is measuring (status bits 0 and 1); a value at or
  below -32001 is a special value (invalid, not updated, out of range…), never a number.
- The class of a subrecord is read from its `cl_drilvl_subt` field, not inferred from its position.
- NIBP is repeated in every record until the next cuff cycle. A reading is emitted once per new
  measurement: when the "measuring" bit falls after a cycle that produced values, or when new values
  appear that are not flagged "older than 60 s". Its time (`measured_at`, and the reading's time) is
  the first record that shows the new values — monitors show them a record or two before clearing
  the bit — so it is late by at most one record interval. Values already older than 60 s when first
  seen are not emitted: their measurement time is unknown, and the monitor's value would look new.
  A cycle that ends with the old values within 60 s of them cannot be told from a new measurement
  with equal values; it is taken as one. A restarted acquisition tells a new decoder the measurement it
  recorded last (`resume`): shown again, fresh, it is that one, not a new one timed when it was first seen.
- The ECG heart rate is taken only when the monitor says it comes from the ECG (status bits 3-6);
  a rate derived from a pressure line or the pleth is not an ECG heart rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from adapters.model.reading import Reading
from adapters.model.vitals import NIBP_CODES, VITALS
from adapters.protocols.base import Item, LineSettings
from adapters.protocols.ge_s5.framing import Deframer, frame
from adapters.protocols.ge_s5.records import (
    BASIC_FIELDS,
    CLASS_BASIC,
    HR_SOURCE_MASK,
    HR_SOURCE_SHIFT,
    HR_SOURCES_ECG,
    INVALID_LIMIT,
    MT_PHDB,
    MT_WAVE,
    NIBP_GROUP_OFFSET,
    NIBP_MEASURING,
    NIBP_OLDER_THAN_60S,
    PH_DISPL,
    STATUS_ACTIVE,
    STATUS_EXISTS,
    Subrecord,
    encode_request,
    group_status,
    parse_header,
    parse_phdb,
    parse_request,
    raw_value,
    strip_stray_zeros,
)

# GE-CI §2: "line parameters cannot be changed" (CARESCAPE SW ≥ 3 also offers 115200).
LINE_SETTINGS = LineSettings(19200, 8, "E", 1, rtscts=True)
DEFAULT_INTERVAL_S = 5  # GE-CI: displayed values at ≥ 5 s; monitors in the captures also honour 1 s
NIBP_FRESH_S = 60  # after this the monitor flags its NIBP values "older than 60 s"
_LIVE = STATUS_EXISTS | STATUS_ACTIVE
_CONTINUOUS = tuple(code for code in BASIC_FIELDS if code not in NIBP_CODES)


class GeS5Decoder:
    """Decodes PHDB records of displayed values; asks for them at `interval_s` when the link opens."""

    def __init__(self, source: str = "ge-s5", interval_s: int = DEFAULT_INTERVAL_S) -> None:
        self.source = source
        self.interval_s = interval_s
        self.stats: Counter[str] = Counter()
        self._deframer = Deframer(self.stats)
        self._out = bytearray()
        self._nibp_shown: tuple[float | None, ...] | None = None  # values on the monitor's NIBP display
        self._nibp_measuring = False
        self._nibp_before: tuple[float | None, ...] | None = None  # shown when the cuff cycle began
        self._nibp_changed_at: datetime | None = None
        self._nibp_recorded_at: datetime | None = None  # `resume`: when the values shown were measured

    def resume(self, nibp: Sequence[Reading]) -> None:
        """The last measurement recorded: while the monitor shows it (until it is older than 60 s) it is not new."""
        if nibp:
            values = {r.vital: r.value for r in nibp}
            self._nibp_shown = tuple(values.get(code) for code in NIBP_CODES)
            self._nibp_recorded_at = min(r.measured_at or r.time for r in nibp)

    def start(self) -> None:
        self._deframer.reset()
        self._out += frame(encode_request(PH_DISPL, self.interval_s))

    def pending_output(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def feed(self, data: bytes) -> list[Item]:
        items: list[Item] = []
        for record in self._deframer.feed(data):
            items += self._record(record)
        return items

    def _record(self, record: bytes) -> list[Item]:
        if parse_request(record) is not None:
            self.stats["echoed_requests"] += 1  # our own request, looped back by a loopback plug or a wrong cable
            return []
        self.stats["valid_frames"] += 1  # a monitor's record: the line is alive even if no module measures
        unpadded = strip_stray_zeros(record)
        if unpadded is not record:
            self.stats["recovered_records"] += 1
            record = unpadded
        try:
            header = parse_header(record)
            subrecords = parse_phdb(record, header) if header.maintype == MT_PHDB else []
        except ValueError:
            self.stats["malformed_records"] += 1
            return []
        if header.maintype != MT_PHDB:
            self.stats["wave_records" if header.maintype == MT_WAVE else "other_records"] += 1
            return []
        self.stats["phdb_records"] += 1
        items: list[Item] = []
        for sub in subrecords:
            if sub.kind != PH_DISPL:
                self.stats["trend_subrecords"] += 1  # trends repeat displayed values Vigil already has
            elif sub.cls == CLASS_BASIC:
                items += self._basic(sub, sub.time or header.r_time)
        return items

    def _basic(self, sub: Subrecord, seconds: int) -> list[Item]:
        t = datetime.fromtimestamp(seconds, UTC)
        items: list[Item] = []
        for vital in _CONTINUOUS:
            value = self._first_value(sub.physdata, vital)
            if value is not None:
                items.append(Reading(t, vital, value, source=self.source, device_time=t))
        items += self._nibp(sub.physdata, t)
        self.stats["readings"] += len(items)
        return items

    def _first_value(self, physdata: bytes, vital: str) -> float | None:
        """The vital's value from the first of its fields whose group is live, if valid and plausible."""
        for f in BASIC_FIELDS[vital]:
            status, _ = group_status(physdata, f.group_offset)
            raw = raw_value(physdata, f)
            if status & _LIVE != _LIVE or raw <= INVALID_LIMIT:
                continue
            if vital == "hr" and (status >> HR_SOURCE_SHIFT) & HR_SOURCE_MASK not in HR_SOURCES_ECG:
                self.stats["hr_not_from_ecg"] += 1  # a pulse rate from a pressure line or the pleth
                continue
            value = raw / f.divisor
            if VITALS[vital].plausible(value):
                return value
            self.stats["implausible"] += 1
        return None

    def _nibp(self, physdata: bytes, t: datetime) -> list[Item]:
        status, label = group_status(physdata, NIBP_GROUP_OFFSET)
        if status & _LIVE != _LIVE:
            self._nibp_measuring = False
            return []
        values = tuple(self._first_value(physdata, code) for code in NIBP_CODES)
        shown = values if any(v is not None for v in values) else None
        if label & NIBP_MEASURING:
            if not self._nibp_measuring:
                self._nibp_measuring, self._nibp_before, self._nibp_changed_at = True, shown, None
            if shown != self._nibp_before and self._nibp_changed_at is None:
                self._nibp_changed_at = t  # results shown while the bit is still set: the cuff is done
            return []
        # Only the first live record after `resume` may show the recorded values anew.
        recorded_at, self._nibp_recorded_at = self._nibp_recorded_at, None
        ended, self._nibp_measuring = self._nibp_measuring, False
        if ended:
            # An aborted cycle leaves the old values, already flagged older than 60 s.
            new = shown != self._nibp_before or not label & NIBP_OLDER_THAN_60S
            measured = self._nibp_changed_at or t
        else:
            new = shown != self._nibp_shown and not label & NIBP_OLDER_THAN_60S
            if shown == self._nibp_shown and recorded_at is not None and not label & NIBP_OLDER_THAN_60S:
                # The recorded values, called fresh although recorded over 60 s ago: a new measurement that
                # happened to repeat them while no one listened. (The margin: the monitor's flag may lag a record.)
                new = t - recorded_at > timedelta(seconds=NIBP_FRESH_S + self.interval_s)
            measured = t
            if shown != self._nibp_shown and label & NIBP_OLDER_THAN_60S:
                self.stats["nibp_older_than_60s"] += 1
        self._nibp_shown = shown
        if shown is None or not new:
            return []  # the same measurement, repeated in every record until the next cuff cycle
        self.stats["nibp_measurements"] += 1
        return [
            Reading(measured, code, value, source=self.source, device_time=t, measured_at=measured)
            for code, value in zip(NIBP_CODES, shown, strict=True)
            if value is not None
        ]
