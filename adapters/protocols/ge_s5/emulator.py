"""The monitor side of the GE S/5 Computer Interface: answers transmission requests with PHDB records.

Sans-I/O: request bytes go in through `receive`, framed records come out of `frames_due(now)` on the
scenario clock, which is also the device clock (r_time, subrecord time). Request rules follow GE-CI §3
(GE's Computer Interface Specification) except that any positive interval is honoured, as the CARESCAPE
monitors in the captures do for 1 s. Records are built only with the encoders the decoder's tests pin
(`records`, `framing`), so emulator and decoder share one table of offsets.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from datetime import UTC, datetime, timedelta

from adapters.protocols.ge_s5.framing import Deframer, frame
from adapters.protocols.ge_s5.records import (
    CLASS_BASIC,
    CLASS_DENY_BASIC,
    CLASS_EXT1,
    CLASS_EXT2,
    CLASS_EXT3,
    CLASS_REQ_EXT1,
    CLASS_REQ_EXT2,
    CLASS_REQ_EXT3,
    NIBP_AUTO,
    NIBP_MEASURING,
    NIBP_OLDER_THAN_60S,
    PH_DISPL,
    PHYSDATA_LEN,
    encode_basic,
    encode_phdb,
    encode_subrecord,
    parse_request,
)
from adapters.simulation.scenario import Scenario

REQUEST_HOLDOFF = timedelta(seconds=5)  # GE-CI §3: a request within 5 s of the last one is ignored
CUFF_CYCLE = timedelta(seconds=30)  # how long the NIBP "measuring" bit is set before the result
NIBP_FRESH = timedelta(seconds=60)  # GE-DRI Table 3-18: "older than 60 s" after this
_EXTENDED = ((CLASS_REQ_EXT1, CLASS_EXT1), (CLASS_REQ_EXT2, CLASS_EXT2), (CLASS_REQ_EXT3, CLASS_EXT3))
# Extended classes carry nothing Vigil models: all-zero class data has status 0 (no live group) whatever
# the class's layout, where DATA_INVALID fill would set the "exists" bit of some status words.
_EMPTY_CLASS = bytes(PHYSDATA_LEN)


class GeS5Monitor:
    """A monitor exporting displayed values (DISPL) of a scenario at the interval the host asks for."""

    framing_bytes = bytes((0x7E, 0x7D))  # corruption must not create or destroy flags and escapes

    def __init__(self, scenario: Scenario, dri_level: int = 10) -> None:
        self.scenario = scenario
        self.dri_level = dri_level
        self.stats: Counter[str] = Counter()
        self._deframer = Deframer(self.stats)
        self._clock = scenario.start  # latest scenario time seen: the time of requests received without one
        self._last_request: datetime | None = None
        self._next: datetime | None = None  # time of the next record, None when not transmitting
        self._interval = 0
        self._classes = 0
        self._r_nbr = 0
        self._nibp_times = [t for t, _ in scenario.nibp_measurements]

    def receive(self, data: bytes, now: datetime | None = None) -> int:
        """Consume bytes from the host; returns how many requests were accepted. Anything that is not
        a request for displayed values is counted in `stats` and ignored."""
        if now is not None:
            self._clock = max(self._clock, now)
        accepted = 0
        for record in self._deframer.feed(data):
            request = parse_request(record)
            if request is None:
                self.stats["other_records"] += 1
            elif request.subtype != PH_DISPL:
                self.stats["unsupported_requests"] += 1  # trends repeat displayed values; not emulated
            elif self._last_request is not None and self._clock - self._last_request < REQUEST_HOLDOFF:
                self.stats["ignored_requests"] += 1
            else:
                self._accept(request.interval_s, request.classes)
                accepted += 1
        return accepted

    def _accept(self, interval_s: int, classes: int) -> None:
        self.stats["requests"] += 1
        self._last_request = self._clock
        self._interval, self._classes = interval_s, classes
        # The device clock ticks in whole seconds: the first record is the one for the current second.
        whole = datetime.fromtimestamp(int(self._clock.timestamp()), UTC)
        self._next = whole if interval_s != 0 else None

    def next_due(self) -> datetime | None:
        """Scenario time of the next record, or None when none will come (stopped, or past the end)."""
        if self._next is None or self._next > self.scenario.end:
            return None
        return self._next

    def frames_due(self, now: datetime) -> list[bytes]:
        """Framed PHDB records for every record time up to `now`."""
        self._clock = max(self._clock, now)
        frames = []
        while (t := self.next_due()) is not None and t <= now:
            frames.append(frame(self._record(t)))
            self._next = t + timedelta(seconds=self._interval) if self._interval > 0 else None
        return frames

    def _record(self, t: datetime) -> bytes:
        seconds = int(t.timestamp())
        subrecords = []
        if not self._classes & CLASS_DENY_BASIC:
            subrecords.append(encode_subrecord(seconds, CLASS_BASIC, self._basic(t), self.dri_level))
        for bit, cls in _EXTENDED:
            if self._classes & bit:
                subrecords.append(encode_subrecord(seconds, cls, _EMPTY_CLASS, self.dri_level))
        record = encode_phdb(self._r_nbr, seconds, subrecords, self.dri_level)
        self._r_nbr = (self._r_nbr + 1) & 0xFF
        self.stats["records"] += 1
        return record

    def _basic(self, t: datetime) -> bytes:
        values: dict[str, float | None] = dict(self.scenario.continuous_at(t, max(self._interval, 1)))
        label, nibp = self._nibp(t)
        values.update(nibp)
        return encode_basic(values, label)

    def _nibp(self, t: datetime) -> tuple[int, dict[str, float]]:
        """(label, values) of the NIBP group at t; label 0 means the group is not live.

        The cuff is in AUTO mode and inflates for 30 s before each measurement (at most half the gap
        since the previous one); meanwhile the previous result stays on the display, as on a monitor.
        """
        i = bisect_right(self._nibp_times, t)  # measurements[:i] are done at t
        previous = self.scenario.nibp_measurements[i - 1] if i else None
        label = NIBP_AUTO
        if i < len(self._nibp_times):
            upcoming = self._nibp_times[i]
            cycle = CUFF_CYCLE if previous is None else min(CUFF_CYCLE, (upcoming - previous[0]) / 2)
            if t >= upcoming - cycle:
                label |= NIBP_MEASURING
        if previous is None:
            return (label if label & NIBP_MEASURING else 0), {}
        measured, values = previous
        if t - measured > NIBP_FRESH:
            label |= NIBP_OLDER_THAN_60S
        return label, values
