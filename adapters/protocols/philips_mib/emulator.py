"""The monitor side of IntelliVue Data Export on the MIB port: associates, reports its MDS, answers polls.

Sans-I/O: the host's bytes go in through `receive`, framed PDUs come out of `frames_due(now)` on the
scenario clock, which is also the monitor's clock: its absolute time is the scenario time in `zone` (local
time, no offset, as a monitor keeps it) and its relative time counts 1/8 ms ticks from an arbitrary start
that wraps within the first minute, as a long-running monitor's does. It waits for an AARQ, answers
it, sends its MDS Create Event Report, and answers an extended numerics poll about once a second for the
poll's period (once if it names none), splitting a large result into linked results. NIBP is the compound
sys/dia/mean of the last measurement with its own measurement time (unavailable before the first). An
association it hears nothing on for SILENT_DROP is aborted, as monitors do. PDUs are built only with the
encoders the decoder's tests pin.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from datetime import UTC, datetime, timedelta, tzinfo

from adapters.protocols.philips_mib.encode import AARE, mds_create_event, nu_value, observation, poll_results
from adapters.protocols.philips_mib.framing import BOF, EOF, ESC, Deframer, frame
from adapters.protocols.philips_mib.pdu import (
    ABRT,
    CN_SPDU,
    DATA_PREFIX,
    FN_SPDU,
    MSMT_UNAVAILABLE,
    NOM_MOC_VMO_METRIC_NU,
    RLRS,
    TICKS_PER_S,
    PollRequest,
    parse_data,
)
from adapters.simulation.scenario import Scenario

RESULT_PERIOD = timedelta(seconds=1)
SILENT_DROP = timedelta(seconds=120)  # "the monitor will shut down after a few minutes" without keep-alives
MAX_RESULT_BYTES = 128  # observations per frame before the result is split into linked results
REL_START = (1 << 32) - 30 * TICKS_PER_S  # the relative clock wraps 30 s into the session
# vital → (physio id, unit code) of the numeric the monitor reports it as
NUMERICS = {"hr": (0x4182, 0x0AA0), "spo2": (0x4BB8, 0x0220), "pr": (0x4822, 0x0AA0), "rr": (0x500A, 0x0AE0)}
NIBP_IDS = {"sbp": 0x4A05, "dbp": 0x4A06, "map": 0x4A07}
NIBP_LABEL, MMHG = 0x4A04, 0x0F20


class PhilipsMibMonitor:
    """An IntelliVue exporting a scenario's numerics to whoever associates."""

    framing_bytes = bytes((BOF, EOF, ESC))  # corruption must not create or destroy delimiters and escapes

    def __init__(self, scenario: Scenario, zone: tzinfo = UTC) -> None:
        self.scenario = scenario
        self.zone = zone
        self.stats: Counter[str] = Counter()
        self._deframer = Deframer(self.stats)
        self._clock = scenario.start
        self._heard = scenario.start
        self._associated = False
        self._queue: list[bytes] = []  # frames to send at once (answers)
        self._poll: PollRequest | None = None
        self._next: datetime | None = None
        self._until: datetime | None = None
        self._nibp_times = [t for t, _ in scenario.nibp_measurements]

    def receive(self, data: bytes, now: datetime | None = None) -> int:
        """Consume the host's bytes; returns how many numerics polls were accepted. An association is not
        counted: data flows only once polled, so a host whose poll comes late has missed nothing."""
        if now is not None:
            self._clock = max(self._clock, now)
        accepted = 0
        for user in self._deframer.feed(data):
            self._heard = self._clock
            if self._clock > self.scenario.end:
                self.stats["after_end"] += 1  # the session is over: the monitor is off, as the others fall silent
            elif user[:1] == bytes((CN_SPDU,)):
                self._associate()
            elif user[:1] == bytes((FN_SPDU,)):
                self._queue.append(frame(RLRS))
                self._release("releases")
            elif user[:4] == DATA_PREFIX and self._associated:
                accepted += self._data(user)
            else:
                self.stats["ignored_pdus"] += 1
        return accepted

    def _associate(self) -> None:
        self.stats["associations"] += 1
        self._associated, self._poll, self._next = True, None, None
        self._queue += [frame(AARE), frame(mds_create_event(1, self._rel(self._clock) & 0xFFFFFFFF,
                                                             self._local(self._clock), self._rel(self._clock)))]

    def _release(self, why: str) -> None:
        self.stats[why] += 1
        self._associated, self._poll, self._next = False, None, None

    def _data(self, user: bytes) -> int:
        try:
            pdu = parse_data(user)
        except ValueError:
            self.stats["malformed_pdus"] += 1
            return 0
        if not isinstance(pdu, PollRequest):
            self.stats["keep_alives"] += 1  # the MDS create result, again: the host is there
            return 0
        if pdu.obj_code != NOM_MOC_VMO_METRIC_NU:
            self.stats["unsupported_polls"] += 1
            return 0
        self.stats["polls"] += 1
        self._poll = pdu
        if self._next is None:  # a renewal keeps the running cadence: no second result for one instant
            # The monitor's numerics update on whole seconds: the first result is the current second's.
            self._next = datetime.fromtimestamp(int(self._clock.timestamp()), UTC)
        period = pdu.period_ticks or 0
        self._until = self._clock + timedelta(seconds=period / TICKS_PER_S)
        return 1

    def next_due(self) -> datetime | None:
        """Scenario time of the next frame, or None when none will come."""
        if self._queue:
            return self._clock
        if self._silent():
            return self._clock
        if self._next is None or self._next > self.scenario.end:
            return None
        return self._next

    def _silent(self) -> bool:
        """An association the host has not spoken on for SILENT_DROP, while the monitor is on."""
        return self._associated and self._clock - self._heard > SILENT_DROP and self._clock <= self.scenario.end

    def frames_due(self, now: datetime) -> list[bytes]:
        self._clock = max(self._clock, now)
        frames, self._queue = self._queue, []
        if self._silent():
            frames.append(frame(ABRT))
            self._release("silent_drops")
        while self._poll is not None and (t := self.next_due()) is not None and t <= now:
            frames += [frame(f) for f in self._result(self._poll, t)]
            assert self._until is not None
            self._next = t + RESULT_PERIOD if t + RESULT_PERIOD <= self._until else None
        return frames

    def _result(self, poll: PollRequest, t: datetime) -> list[bytes]:
        self.stats["results"] += 1
        shown = self.scenario.continuous_at(t, RESULT_PERIOD.total_seconds())
        observations = [observation(handle, physio, nu_value(physio, 0, unit, shown[vital]))
                        for handle, (vital, (physio, unit)) in enumerate(NUMERICS.items(), 1) if vital in shown]
        observations.append(self._nibp(t))
        return poll_results(poll.invoke_id, poll.poll_number, self._rel(t), observations, MAX_RESULT_BYTES)

    def _nibp(self, t: datetime) -> bytes:
        i = bisect_right(self._nibp_times, t)
        if not i:
            values = [nu_value(p, MSMT_UNAVAILABLE, MMHG, None) for p in NIBP_IDS.values()]
            return observation(10, NIBP_LABEL, compound=values)
        measured, shown = self.scenario.nibp_measurements[i - 1]
        values = [nu_value(p, 0 if code in shown else MSMT_UNAVAILABLE, MMHG, shown.get(code))
                  for code, p in NIBP_IDS.items()]
        return observation(10, NIBP_LABEL, compound=values, stamp=self._local(measured))

    def _rel(self, t: datetime) -> int:
        return (REL_START + round((t - self.scenario.start).total_seconds() * TICKS_PER_S)) % (1 << 32)

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.zone).replace(tzinfo=None)
