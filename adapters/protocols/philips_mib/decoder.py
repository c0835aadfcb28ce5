"""Sans-I/O decoder for Philips IntelliVue Data Export over the MIB/RS-232 port (`philips-mib`).

The session, driven by what arrives (no clock inside, as for every decoder):
- `start` queues the association request (AARQ). An accepted association (AARE) is followed by the
  monitor's MDS Create Event Report; the decoder answers it (echoing its invoke id and time), takes the
  monitor's clock from it and asks for all numerics with a periodic extended poll.
- The monitor then answers about once a second for the poll's period. Each result carries the monitor's
  relative time (1/8 ms ticks, wrapping at 2³²), and that device clock drives the rest: the poll is renewed
  every RENEW_S of device time, before its period ends, and a keep-alive (the MDS create result again) is
  sent every KEEPALIVE_S in between — an IntelliVue drops an association it hears nothing on for minutes.
- A refused, aborted or released association, like silence, stops valid frames: the link's watchdog
  reports a link loss and reopens with backoff, and `start` associates again — which also picks up a
  monitor switched off and on. Results that arrive before an association's MDS create cannot be timed
  and are counted, not guessed.

Times: poll results rarely carry an absolute time (all FF), so a result's time is the MDS create's absolute
time plus the relative time elapsed since it. That clock is the monitor's local time with no offset: `tz`
names its zone. Without it the times are placed as if UTC (counted in `stats` as `device_zone_unknown`),
which only the link's host clock may use: it keeps their spacing and drops the zone.

Numerics: every NU_VAL_OBS and NU_CMPD_VAL_OBS whose physio id maps through its MDC code (partition 2:
2¹⁶ + id) to a vital, in that vital's unit, and that is a measurement (no invalid/questionable/unavailable/
calibrating/test-data bit, not a FLOAT special value). NIBP is emitted once per measurement, at its own
TIME_STAMP_ABS when the monitor sends one: a result repeats the last measurement until the next cuff cycle.
A measurement already older than NIBP_FRESH_S when first seen is not emitted (it predates the session).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from adapters.model.reading import Reading
from adapters.model.vitals import BY_MDC, NIBP_CODES
from adapters.protocols.base import EARLIEST_TIME, LATEST_TIME, Item, LineSettings
from adapters.protocols.philips_mib.framing import Deframer, frame
from adapters.protocols.philips_mib.pdu import (
    AARQ,
    AB_SPDU,
    AC_SPDU,
    CN_SPDU,
    DATA_PREFIX,
    DN_SPDU,
    FN_SPDU,
    RF_SPDU,
    RLRS,
    TICKS_PER_S,
    MdsCreate,
    NumericValue,
    Observation,
    PollResult,
    ext_poll_request,
    mds_create_result,
    parse_data,
)

LINE_SETTINGS = LineSettings(115200, 8, "N", 1)  # the MIB port's Data Export, fixed at 115200 in the monitor
POLL_PERIOD_S = 30  # NOM_ATTR_TIME_PD_POLL of the extended poll: the monitor answers periodically this long
RENEW_S = 10  # device seconds between poll renewals: well inside the period, so no second goes unpolled
KEEPALIVE_S = 5  # device seconds of silence from us before a keep-alive (VSCaptureMP: 6 s)
NIBP_FRESH_S = 60
POLL_INVOKE_ID = 1
UNITS = {"bpm": 0x0AA0, "%": 0x0220, "mmHg": 0x0F20, "breaths/min": 0x0AE0}  # NOM_DIM_* of each vital's unit
_MDC_PARTITION = 2 << 16
_WRAP = 1 << 32
_SESSION_END = {RF_SPDU: "associations_refused", AB_SPDU: "associations_aborted", DN_SPDU: "releases",
                FN_SPDU: "releases"}


class PhilipsMibDecoder:
    """Associates, answers the MDS create, keeps a numerics poll running and decodes its results."""

    def __init__(self, source: str = "philips-mib", tz: tzinfo | None = None) -> None:
        self.source = source
        self.tz = tz
        self.stats: Counter[str] = Counter()
        self._deframer = Deframer(self.stats)
        self._out = bytearray()
        self._associated = False
        self._anchor: tuple[int, datetime] | None = None  # (relative time, absolute time) of the MDS create
        self._mds: MdsCreate | None = None
        self._polled_at = 0  # relative time of our last poll request
        self._sent_at = 0  # relative time of anything we last sent
        self._poll_number = 0
        self._nibp_last: object = None  # the key of the last NIBP measurement emitted (its time, or its values)
        self._resumed_at: datetime | None = None

    def resume(self, nibp: Sequence[Reading]) -> None:
        if nibp:
            self._resumed_at = min(r.measured_at or r.time for r in nibp)
            self._nibp_last = self._resumed_at

    def start(self) -> None:
        self._deframer.reset()
        self._associated, self._anchor, self._mds = False, None, None
        self._out += frame(AARQ)

    def pending_output(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def feed(self, data: bytes) -> list[Item]:
        items: list[Item] = []
        for user in self._deframer.feed(data):
            items += self._pdu(user)
        return items

    def _pdu(self, user: bytes) -> list[Item]:
        kind = user[0] if user else -1
        if kind == AC_SPDU:
            self.stats["valid_frames"] += 1
            self.stats["associations"] += 1
            self._associated = True
        elif kind in _SESSION_END:
            self.stats[_SESSION_END[kind]] += 1  # not a live link: the watchdog re-associates
            self._associated, self._anchor = False, None
            if kind == FN_SPDU:
                self._out += frame(RLRS)  # the monitor asks to release: agree
        elif kind == CN_SPDU:
            self.stats["echoed_requests"] += 1  # our own AARQ looped back: a loopback plug or a wrong cable
        elif user[:4] == DATA_PREFIX:
            return self._data(user)
        else:
            self.stats["unknown_spdus"] += 1
        return []

    def _data(self, user: bytes) -> list[Item]:
        try:
            pdu = parse_data(user)
        except ValueError:
            self.stats["malformed_pdus"] += 1
            return []
        if isinstance(pdu, MdsCreate):
            self._mds_create(pdu)
            return []
        if not isinstance(pdu, PollResult):
            self.stats["other_pdus"] += 1
            return []
        if self._anchor is None:
            self.stats["results_before_mds_create"] += 1  # cannot be timed: never guessed
            return []
        self.stats["valid_frames"] += 1
        self.stats["poll_results"] += 1
        self._keep_alive(pdu.rel_time)
        t = self._device_time(pdu.rel_time)
        if t is None:
            self.stats["bad_times"] += 1
            return []
        items = self._readings(pdu.observations, t)
        self.stats["readings"] += len(items)
        return items

    def _mds_create(self, mds: MdsCreate) -> None:
        self.stats["valid_frames"] += 1
        self.stats["mds_creates"] += 1
        self._out += frame(mds_create_result(mds.invoke_id, mds.event_time))
        if mds.abs_time is None or mds.rel_time is None:
            self.stats["mds_without_clock"] += 1
            return
        if self.tz is None:
            self.stats["device_zone_unknown"] += 1
        aware = mds.abs_time.replace(tzinfo=self.tz or UTC).astimezone(UTC)
        self._anchor, self._mds = (mds.rel_time, aware), mds
        self._poll(mds.rel_time)

    def _poll(self, rel_time: int) -> None:
        self._poll_number = self._poll_number % 0xFFFF + 1
        self._out += frame(ext_poll_request(POLL_INVOKE_ID, self._poll_number, POLL_PERIOD_S * TICKS_PER_S))
        self._polled_at = self._sent_at = rel_time
        self.stats["polls_sent"] += 1

    def _keep_alive(self, rel_time: int) -> None:
        """Renew the poll or send a keep-alive when enough device time has passed since we last did."""
        if (rel_time - self._polled_at) % _WRAP >= RENEW_S * TICKS_PER_S:
            self._poll(rel_time)
        elif (rel_time - self._sent_at) % _WRAP >= KEEPALIVE_S * TICKS_PER_S and self._mds is not None:
            self._out += frame(mds_create_result(self._mds.invoke_id, self._mds.event_time))
            self._sent_at = rel_time
            self.stats["keep_alives_sent"] += 1

    def _device_time(self, rel_time: int) -> datetime | None:
        assert self._anchor is not None
        rel0, t0 = self._anchor
        t = t0 + timedelta(microseconds=((rel_time - rel0) % _WRAP) * 125)
        return t if EARLIEST_TIME <= t <= LATEST_TIME else None

    def _local(self, naive: datetime) -> datetime:
        return naive.replace(tzinfo=self.tz or UTC).astimezone(UTC)

    def _readings(self, observations: Sequence[Observation], t: datetime) -> list[Item]:
        items: list[Item] = []
        seen: set[str] = set()
        for obs in observations:
            values = self._usable(obs.values + obs.compound)
            if any(code in NIBP_CODES for code in values):
                items += self._nibp(obs, values, t)
                continue
            for code, value in values.items():
                if code not in seen:  # a vital from two sources (pleth and SpO2 pulse): the first one
                    seen.add(code)
                    items.append(Reading(t, code, value, source=self.source, device_time=t))
        return items

    def _usable(self, values: Sequence[NumericValue]) -> dict[str, float]:
        out: dict[str, float] = {}
        for v in values:
            vital = BY_MDC.get(_MDC_PARTITION + v.physio_id)
            if vital is None:
                self.stats["unmapped_numerics"] += 1
            elif not v.measured or v.value is None:
                self.stats["not_measured"] += 1  # a special value, or a state bit says it is no measurement
            elif v.unit_code != UNITS[vital.unit]:
                self.stats["unexpected_units"] += 1
            elif not vital.plausible(v.value):
                self.stats["implausible"] += 1
            else:
                out.setdefault(vital.code, v.value)
        return out

    def _nibp(self, obs: Observation, values: dict[str, float], t: datetime) -> list[Item]:
        """Once per measurement: a new TIME_STAMP_ABS (or, without one, new values), fresh when first seen."""
        measured = self._local(obs.stamp) if obs.stamp is not None else t
        key: object = measured if obs.stamp is not None else tuple(sorted(values.items()))
        first, last = self._nibp_last is None, self._nibp_last
        self._nibp_last = key
        if key == last:
            return []
        if (first or obs.stamp is not None) and t - measured > timedelta(seconds=NIBP_FRESH_S):
            self.stats["nibp_stale"] += 1  # taken before we listened (or an unknown time): not this session's
            return []
        if measured > t + timedelta(seconds=NIBP_FRESH_S) or measured < EARLIEST_TIME:
            self.stats["bad_times"] += 1
            return []
        self.stats["nibp_measurements"] += 1
        return [Reading(measured, code, value, source=self.source, device_time=t, measured_at=measured)
                for code, value in values.items() if code in NIBP_CODES]
