"""Philips IntelliVue Data Export session PDUs (all big-endian): the requests the client sends, the event and
results the monitor sends, and the numerics inside them.

Layouts from the research notes on the Data Export protocol (VSCaptureMP `Class2.cs`/`Class3.cs`, LNhealth
`ivueparser`, checked on a real capture). A session PDU's first byte says what it is: CN (association
request), AC (accepted), RF (refused), FN/DN (release), AB (abort), or data, `E1 00 00 02`, carrying a ROSE
apdu: ROIV (invocation), RORS (result), ROER (error) or RORLS (one part of a linked result).

Parsers raise ValueError on anything truncated or inconsistent; the decoder counts it. Encoders build what
the emulator and the decoder send, and the tests pin them to the published bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

# Session SPDU identifiers
CN_SPDU, AC_SPDU, RF_SPDU, FN_SPDU, DN_SPDU, AB_SPDU = 0x0D, 0x0E, 0x0C, 0x09, 0x0A, 0x19
DATA_PREFIX = b"\xe1\x00\x00\x02"
# ROSE apdu types and commands
ROIV, RORS, ROER, RORLS = 1, 2, 3, 5
RORLS_FIRST, RORLS_NOT_FIRST_NOT_LAST, RORLS_LAST = 1, 2, 3
CMD_CONFIRMED_EVENT_REPORT, CMD_CONFIRMED_ACTION = 1, 7
NOM_NOTI_MDS_CREAT = 0x0D06
NOM_ACT_POLL_MDIB_DATA_EXT = 0xF13B
NOM_MOC_VMSMDS_OBJECT = 0x0021
NOM_PART_OBJ, NOM_MOC_VMO_METRIC_NU = 1, 0x0006
# Attribute ids
NOM_ATTR_NU_CMPD_VAL_OBS = 0x094B
NOM_ATTR_NU_VAL_OBS = 0x0950
NOM_ATTR_TIME_ABS = 0x0987
NOM_ATTR_TIME_REL = 0x098F
NOM_ATTR_TIME_STAMP_ABS = 0x0990
NOM_ATTR_TIME_PD_POLL = 0xF13E
TICKS_PER_S = 8000  # RelativeTime: 1/8 ms
NO_TIME = b"\xff" * 8  # an AbsoluteTime the monitor does not fill in (most poll replies)

# The association request: numerics-only poll profile (VSCaptureMP `aarq_msg_ext_poll2`, 238 bytes). The
# monitor checks its protocol version and option fields; the decoder sends it unchanged.
AARQ = bytes.fromhex(
    "0d ec 05 08 13 01 00 16 01 02 80 00 14 02 00 02 c1 dc 31 80 a0 80 80 01 01 00 00 a2 80 a0 03 00"
    "00 01 a4 80 30 80 02 01 01 06 04 52 01 00 01 30 80 06 02 51 01 00 00 00 00 30 80 02 01 02 06 0c"
    "2a 86 48 ce 14 02 01 00 00 00 01 01 30 80 06 0c 2a 86 48 ce 14 02 01 00 00 00 02 01 00 00 00 00"
    "00 00 61 80 30 80 02 01 01 a0 80 60 80 a1 80 06 0c 2a 86 48 ce 14 02 01 00 00 00 03 01 00 00 be"
    "80 28 80 06 0c 2a 86 48 ce 14 02 01 00 00 00 01 01 02 01 02 81 48 80 00 00 00 40 00 00 00 00 00"
    "00 00 80 00 00 00 20 00 00 00 00 00 00 00 00 01 00 2c 00 01 00 28 80 00 00 00 00 00 03 e8 00 00"
    "09 c4 00 00 03 e8 ff ff ff ff 60 00 00 00 00 01 00 0c f0 01 00 08 8c 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00"
)
# Release request (FN) and its answer (DN), and an abort (AB).
RLRQ = bytes.fromhex("09 18 c1 16 61 80 30 80 02 01 01 a0 80 62 80 80 01 00 00 00 00 00 00 00 00 00")
RLRS = bytes.fromhex("0a 18 c1 16 61 80 30 80 02 01 01 a0 80 63 80 80 01 00 00 00 00 00 00 00 00 00")
ABRT = bytes.fromhex(
    "19 2e 11 01 03 c1 29 a0 80 a0 80 30 80 02 01 01 06 02 51 01 00 00 00 00 61 80 30 80 02 01 01 a0"
    "80 64 80 80 01 01 00 00 00 00 00 00 00 00 00 00"
)

# FLOAT-Type special mantissas (the exponent does not matter for these)
FLOAT_SPECIAL = {0x7FFFFF: "nan", 0x800000: "nres", 0x7FFFFE: "+inf", 0x800002: "-inf", 0x800001: "reserved"}
# MeasurementState bits that make a value not a measurement
MSMT_INVALID, MSMT_QUESTIONABLE, MSMT_UNAVAILABLE = 0x8000, 0x4000, 0x2000
MSMT_CALIBRATION_ONGOING, MSMT_TEST_DATA, MSMT_DEMO_DATA = 0x1000, 0x0800, 0x0400
NOT_A_MEASUREMENT = MSMT_INVALID | MSMT_QUESTIONABLE | MSMT_UNAVAILABLE | MSMT_CALIBRATION_ONGOING | MSMT_TEST_DATA


class _Reader:
    """Big-endian reads over a byte string that raise ValueError past its end."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise ValueError(f"truncated: {n} bytes wanted at {self.pos}, {self.end - self.pos} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def sub(self, length: int) -> _Reader:
        """A reader over the next `length` bytes, which this one skips."""
        start = self.pos
        self.take(length)
        return _Reader(self.data, start, start + length)


def decode_float(word: int) -> float | None:
    """FLOAT-Type: signed 8-bit exponent, signed 24-bit mantissa; None for the special values (NaN, NRes, ±INF)."""
    mantissa = word & 0xFFFFFF
    if mantissa in FLOAT_SPECIAL:
        return None
    exponent = (word >> 24) - 256 if word >> 31 else word >> 24
    signed = mantissa - (1 << 24) if mantissa & 0x800000 else mantissa
    return signed * 10**exponent if exponent >= 0 else signed / 10**-exponent


def encode_float(value: float) -> int:
    """The FLOAT-Type word with the largest exponent ≤ 0 (or 0) that holds `value` to 3 decimals."""
    for exponent in (0, -1, -2, -3):
        scaled = value * 10**-exponent
        mantissa = round(scaled)
        if abs(scaled - mantissa) < 1e-6 or exponent == -3:
            if not -0x7FFFFD <= mantissa <= 0x7FFFFD:
                raise ValueError(f"{value} does not fit a FLOAT-Type")
            return ((exponent & 0xFF) << 24) | (mantissa & 0xFFFFFF)
    raise AssertionError("unreachable")


def decode_abs_time(raw: bytes) -> datetime | None:
    """AbsoluteTime (BCD century, year, month, day, hour, minute, second, 1/100 s) as a naive local time;
    None for the all-FF 'not supported' value or an impossible date."""
    if raw == NO_TIME:
        return None
    try:
        c, y, mo, d, h, mi, s, frac = (int(f"{b:02x}") for b in raw)
        return datetime(c * 100 + y, mo, d, h, mi, s, frac * 10_000)
    except ValueError:  # not BCD, or not a date
        return None


def encode_abs_time(t: datetime | None) -> bytes:
    if t is None:
        return NO_TIME
    fields = (t.year // 100, t.year % 100, t.month, t.day, t.hour, t.minute, t.second, t.microsecond // 10_000)
    return bytes(int(str(f), 16) for f in fields)


@dataclass(frozen=True)
class NumericValue:
    """One NuObsValue: `value` None for a FLOAT special value."""

    physio_id: int
    state: int
    unit_code: int
    value: float | None

    @property
    def measured(self) -> bool:
        """A real measurement: a number, and no state bit says invalid, questionable, unavailable,
        calibrating or test data (demo data is what a demo monitor measures)."""
        return self.value is not None and not self.state & NOT_A_MEASUREMENT


@dataclass(frozen=True)
class Observation:
    """One ObservationPoll's numerics: plain values, one compound value (NIBP sys/dia/mean), and the
    measurement's own absolute time when the monitor sends one (NIBP)."""

    handle: int
    values: tuple[NumericValue, ...]
    compound: tuple[NumericValue, ...]
    stamp: datetime | None


@dataclass(frozen=True)
class MdsCreate:
    """The monitor's MDS Create Event Report: its clock now, as absolute and relative time."""

    invoke_id: int
    event_time: int
    abs_time: datetime | None
    rel_time: int | None


@dataclass(frozen=True)
class PollResult:
    """One extended poll result frame: a whole RORS, or one part of a linked result (`linked` 1/2/3, 0 for RORS)."""

    invoke_id: int
    linked: int
    poll_number: int
    rel_time: int
    abs_time: datetime | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True)
class PollRequest:
    """The client's extended poll (what the emulated monitor answers): periodic for `period_ticks` if given."""

    invoke_id: int
    poll_number: int
    obj_code: int
    period_ticks: int | None


@dataclass(frozen=True)
class OtherData:
    """A data PDU the decoder does not use (an error, a single poll, another event): what it was."""

    ro_type: int
    command: int


def _nu_value(r: _Reader) -> NumericValue:
    physio, state, unit = r.u16(), r.u16(), r.u16()
    return NumericValue(physio, state, unit, decode_float(r.u32()))


def _attributes(r: _Reader) -> dict[int, _Reader]:
    """An AttributeList {count, length, AVA…} as attribute id → reader over its value (last one wins)."""
    count, body = r.u16(), r.sub(r.u16())
    out: dict[int, _Reader] = {}
    for _ in range(count):
        attr = body.u16()
        out[attr] = body.sub(body.u16())
    return out


def _observation(r: _Reader) -> Observation:
    handle = r.u16()
    attrs = _attributes(r)
    values: tuple[NumericValue, ...] = ()
    compound: tuple[NumericValue, ...] = ()
    if (v := attrs.get(NOM_ATTR_NU_VAL_OBS)) is not None:
        values = (_nu_value(v),)
    if (c := attrs.get(NOM_ATTR_NU_CMPD_VAL_OBS)) is not None:
        n, cr = c.u16(), c.sub(c.u16())
        compound = tuple(_nu_value(cr) for _ in range(n))
    stamp = decode_abs_time(s.take(8)) if (s := attrs.get(NOM_ATTR_TIME_STAMP_ABS)) is not None else None
    return Observation(handle, values, compound, stamp)


def parse_observation(data: bytes) -> Observation:
    """One ObservationPoll on its own (handle, attribute list)."""
    return _observation(_Reader(data))


def _poll_info(r: _Reader) -> tuple[Observation, ...]:
    """PollInfoList {count, length, SingleContextPoll{context, count, length, ObservationPoll…}…}."""
    observations: list[Observation] = []
    contexts, body = r.u16(), r.sub(r.u16())
    for _ in range(contexts):
        body.u16()  # context id
        n, polls = body.u16(), body.sub(body.u16())
        observations += (_observation(polls) for _ in range(n))
    return tuple(observations)


def parse_data(user: bytes) -> MdsCreate | PollResult | PollRequest | OtherData:
    """A data SPDU (`E1 00 00 02` …): the MDS create event, an extended poll result or request, or another."""
    if user[:4] != DATA_PREFIX:
        raise ValueError("not a data SPDU")
    r = _Reader(user, 4)
    ro_type = r.u16()
    r = r.sub(r.u16())
    linked = 0
    if ro_type == RORLS:
        linked = r.u8()
        r.u8()  # count of the linked parts so far
    invoke_id, command = r.u16(), r.u16()
    r = r.sub(r.u16())
    if ro_type == ROIV and command == CMD_CONFIRMED_EVENT_REPORT:
        r.take(6)  # managed object: the MDS
        event_time, event_type = r.u32(), r.u16()
        if event_type == NOM_NOTI_MDS_CREAT:
            info = r.sub(r.u16())
            info.take(6)  # MdsCreateInfo.managed_object
            attrs = _attributes(info)
            abs_time = decode_abs_time(a.take(8)) if (a := attrs.get(NOM_ATTR_TIME_ABS)) is not None else None
            rel_time = t.u32() if (t := attrs.get(NOM_ATTR_TIME_REL)) is not None else None
            return MdsCreate(invoke_id, event_time, abs_time, rel_time)
    elif ro_type == ROIV and command == CMD_CONFIRMED_ACTION:
        r.take(10)  # managed object, scope
        if r.u16() == NOM_ACT_POLL_MDIB_DATA_EXT:
            req = r.sub(r.u16())
            poll_number, _partition, code, _group = req.u16(), req.u16(), req.u16(), req.u16()
            period = p.u32() if (p := _attributes(req).get(NOM_ATTR_TIME_PD_POLL)) is not None else None
            return PollRequest(invoke_id, poll_number, code, period)
    elif ro_type in (RORS, RORLS) and command == CMD_CONFIRMED_ACTION:
        r.take(6)
        if r.u16() == NOM_ACT_POLL_MDIB_DATA_EXT:
            reply = r.sub(r.u16())
            poll_number = reply.u16()
            reply.u16()  # sequence number
            rel_time, abs_time = reply.u32(), decode_abs_time(reply.take(8))
            reply.take(6)  # polled object type, attribute group
            return PollResult(invoke_id, linked, poll_number, rel_time, abs_time, _poll_info(reply))
    return OtherData(ro_type, command)


def rose(ro_type: int, invoke_id: int, command: int, body: bytes, linked: tuple[int, int] | None = None) -> bytes:
    """A data SPDU holding one ROSE apdu; `linked` (state, count) for a RORLS part."""
    inner = (bytes(linked) if linked else b"") + struct.pack(">HHH", invoke_id, command, len(body)) + body
    return DATA_PREFIX + struct.pack(">HH", ro_type, len(inner)) + inner


MDS_OBJECT = struct.pack(">HHH", NOM_MOC_VMSMDS_OBJECT, 0, 0)


def mds_create_result(invoke_id: int, event_time: int) -> bytes:
    """The client's answer to the MDS Create Event Report (also its keep-alive)."""
    return rose(RORS, invoke_id, CMD_CONFIRMED_EVENT_REPORT, MDS_OBJECT + struct.pack(">IHH", event_time,
                                                                                  NOM_NOTI_MDS_CREAT, 0))


def ext_poll_request(invoke_id: int, poll_number: int, period_ticks: int | None) -> bytes:
    """An extended poll for all numerics; with `period_ticks` the monitor answers periodically for that long."""
    attrs = b"" if period_ticks is None else struct.pack(">HHI", NOM_ATTR_TIME_PD_POLL, 4, period_ticks)
    attr_list = struct.pack(">HH", 1 if attrs else 0, len(attrs)) + attrs
    req = struct.pack(">HHHH", poll_number, NOM_PART_OBJ, NOM_MOC_VMO_METRIC_NU, 0) + attr_list
    body = MDS_OBJECT + struct.pack(">IHH", 0, NOM_ACT_POLL_MDIB_DATA_EXT, len(req)) + req
    return rose(ROIV, invoke_id, CMD_CONFIRMED_ACTION, body)
