"""HL7 v2 ORU^R01 (IHE PCD-01) over MLLP: a sans-I/O decoder, and the encoder the device emulator uses.

MLLP frames a message as `0x0B message 0x1C 0x0D`, with no length and no checksum, so framing is the only
thing that resynchronises a corrupted stream: bytes outside a frame are noise, a new 0x0B restarts a frame,
and a frame is capped in size. Inside a frame each OBX carrying a number is mapped by its MDC code (or a
Philips MDIL partition/code pair, which is the same number) through `BY_MDC`; everything the decoder cannot
use is counted in `stats` under the name of the reason, never raised.

Decisions worth knowing:
* Frames are decoded as Latin-1: it never fails, and fields echoed into an ACK go back byte for byte
  whatever charset MSH-18 names. Codes, units, numbers and times are ASCII in every charset HL7 allows here.
* A message that cannot be read (a segment that is not `XXX|…`) or is not ORU^R01 yields no readings.
* OBX-11 statuses other than final/preliminary/corrected/unverified (e.g. `W` = wrong, `D` = deleted) are
  refused: a value the device itself withdrew must never reach the bed view.
* Times without a UTC offset are never guessed: with `tz=None` (the default) such an OBX is skipped and
  counted as `no_offset_times` (not also `bad_time`: each skipped OBX is counted once, under one reason;
  a malformed or impossible time is `bad_time` whether or not it has an offset). Given a `tz`, offset-less
  times are read as wall-clock time there.
* NIBP is emitted once per measurement, not once per message: some monitors and gateways repeat the last
  cuff result in every ORU push. For each of sbp/dbp/map the last emitted (time, value) is kept, and an
  NIBP OBX is skipped and counted as `nibp_repeats` when its time came from OBX-14 or OBR-7 and equals the
  last emitted time of that vital (a same-time result with another value is skipped too: the first value
  stands), or when its only time is MSH-7 (which says when the message was sent, not when the cuff
  measured) and its value equals the last emitted value of that vital. The MSH-7 rule is per vital, so a
  new measurement that repeats, say, the previous diastolic loses that one value: the price of telling a
  repeat from a measurement without a measurement time. This memory survives `start()`: a reconnect does
  not make an old cuff result new. Continuous vitals are never suppressed.
* `stats["valid_frames"]` grows with every well-terminated MLLP frame (0x1C 0x0D) that holds an HL7
  message (a readable MSH header), of whatever type or content beyond that: it proves the line settings
  right, and the serial link resets its watchdog on it. Frames of bytes that are not HL7 (e.g. line noise
  at a wrong baud rate that happens to contain 0x0B…0x1C 0x0D) count only in `frames`.
* The decoder has no clock, so an ACK's MSH-7 repeats the received MSH-7 and its MSH-10 repeats the received
  control id (unique per sender, hence per link).
* Nothing it keeps grows with its input: an OBX whose code maps to no vital counts as `unmapped`, and the
  first UNMAPPED_SAMPLE distinct codes are also counted each under `unmapped:<code>` (what `vigil decode`
  shows, to tell which codes a monitor sends); ACKs queued beyond MAX_FRAME bytes that nobody collected
  (`vigil decode` sends none) count as `unsent_acks`. An MDC code is a 32-bit number (partition << 16 |
  code): a longer digit string is no MDC code, and is never handed to int() whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from adapters.model.reading import Reading
from adapters.model.vitals import BY_MDC, NIBP_CODES, VITALS, Vital
from adapters.protocols.base import EARLIEST_TIME, LATEST_TIME, Item, LineSettings

# HL7 over RS-232 has no standard line settings: these must match the monitor's HL7 export menu, and the
# link configuration overrides them.
LINE_SETTINGS = LineSettings(9600)

SB, EB, CR = 0x0B, 0x1C, 0x0D
MAX_FRAME = 1 << 20  # bytes; larger "frames" are garbage that must not grow memory forever
UNMAPPED_SAMPLE = 32  # distinct unmapped codes counted by name; the rest only in the total
_MDC_MAX = (1 << 32) - 1
_FRAME_MARK = re.compile(rb"[\x0b\x1c]")
_SEGMENTS = re.compile(r"\r\n|[\r\n]")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_MDC_CODE = re.compile(r"0*([0-9]{1,10})")  # at most 10 significant digits: 2**32 - 1 has 10
_UNPRINTABLE = re.compile(r"[^ -~]")  # in a code named in stats: `vigil decode` prints them to a terminal
_MDIL = re.compile(r"([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})")  # Philips partition-code, both hex
_NM = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")  # HL7 NM: sign, digits, optional point
_DTM = re.compile(
    r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})(?:([0-9]{2})(?:\.([0-9]{1,6}))?)?"
    r"(?:([+-])([0-9]{2})([0-9]{2}))?"
)

# OBX-11 statuses whose value stands (HL7 table 0085): corrected, final, preliminary, results entered,
# partial, changed to final. `X` (cannot be obtained) counts as no value; the rest are refused.
_USABLE_STATUS = frozenset({"", "C", "F", "P", "R", "S", "U"})

# Units: what each one may measure and the factor to the vital's own unit. MDC unit codes are those of the
# IHE PCD-01 sample messages (MDC_DIM_MMHG, _BEAT_PER_MIN, _PERCENT; see tests/test_hl7_mllp.py) plus
# MDC_DIM_RESP_PER_MIN = (4 << 16) + 0x0AE0, as public IEEE 11073-10101 code tables give it.
_MMHG_PER_KPA = 1000 / 133.322387415  # mmHg is defined as 133.322387415 Pa
_MMHG = dict.fromkeys(NIBP_CODES, 1.0)
_BEATS = {"hr": 1.0, "pr": 1.0}
_BREATHS = {"rr": 1.0}
_PERCENT = {"spo2": 1.0}
_MDC_UNITS: dict[int, dict[str, float]] = {266016: _MMHG, 264864: _BEATS, 262688: _PERCENT, 264928: _BREATHS}
_UCUM_UNITS: dict[str, dict[str, float]] = {
    "mm[Hg]": _MMHG,
    "mmHg": _MMHG,
    "kPa": dict.fromkeys(NIBP_CODES, _MMHG_PER_KPA),
    "/min": _BEATS | _BREATHS,
    "{beat}/min": _BEATS,
    "{beats}/min": _BEATS,
    "{breath}/min": _BREATHS,
    "{breaths}/min": _BREATHS,
    "%": _PERCENT,
}


class Hl7MllpDecoder:
    """Decodes ORU^R01 messages from an MLLP byte stream and queues the acknowledgements they ask for."""

    def __init__(self, source: str = "hl7-mllp", tz: tzinfo | None = None) -> None:
        self.source = source
        self.tz = tz  # for HL7 times without an offset; None: such times are unusable, never guessed
        self.stats: Counter[str] = Counter()
        self._last_nibp: dict[str, tuple[datetime, float]] = {}  # per NIBP vital, the last emitted reading
        self._unmapped_named = 0  # distinct `unmapped:<code>` keys in stats, at most UNMAPPED_SAMPLE
        self._frame: bytearray | None = None  # None: outside a frame
        self._end_pending = False  # the frame's 0x1C was the last byte seen; its 0x0D is still due
        self._out = bytearray()

    def start(self) -> None:
        """The link (re)opened: a partial frame and unsent ACKs belong to the old connection.

        The last emitted NIBP readings are kept: the device may well repeat its last cuff result."""
        if self._frame is not None:
            self.stats["truncated_frames"] += 1
        self._frame = None
        self._end_pending = False
        self._out.clear()

    def pending_output(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def feed(self, data: bytes) -> list[Item]:
        items: list[Item] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._frame is None:
                start = data.find(SB, pos)
                skipped = (end if start < 0 else start) - pos
                if skipped:
                    self.stats["noise_bytes"] += skipped
                if start < 0:
                    break
                self._frame = bytearray()
                pos = start + 1
            elif self._end_pending:
                self._end_pending = False
                frame, self._frame = self._frame, None
                if data[pos] == CR:
                    pos += 1
                    items.extend(self._message(bytes(frame)))
                else:  # 0x1C without 0x0D: not a frame end we trust; rescan this byte outside a frame
                    self.stats["bad_frames"] += 1
            else:
                mark = _FRAME_MARK.search(data, pos)
                stop = end if mark is None else mark.start()
                if len(self._frame) + stop - pos > MAX_FRAME:
                    self.stats["oversized_frames"] += 1
                    self._frame = None
                    pos = stop
                    continue
                self._frame += data[pos:stop]
                if mark is None:
                    break
                if data[stop] == SB:
                    self.stats["truncated_frames"] += 1
                    self._frame = bytearray()
                else:
                    self._end_pending = True
                pos = stop + 1
        return items

    def _message(self, frame: bytes) -> list[Item]:
        """One framed message: its readings, and its ACK queued when asked for."""
        self.stats["frames"] += 1
        segments = [s for s in _SEGMENTS.split(frame.decode("latin-1")) if s]
        header = _header(segments[0]) if segments else None
        if header is None:  # no separators, no control id: nothing to read and nobody to answer
            self.stats["bad_messages"] += 1
            return []
        self.stats["valid_frames"] += 1  # an HL7 message, whatever its type: the line settings are right
        fs, msh = header
        cs = msh[2][0]
        kind = msh[9].split(cs)
        code, trigger = kind[0].strip(), (kind[1].strip() if len(kind) > 1 else "")
        items: list[Item] = []
        if not all(_SEGMENT_ID.fullmatch(s[:3]) and (len(s) == 3 or s[3] == fs) for s in segments[1:]):
            outcome = "E"
        elif (code, trigger) != ("ORU", "R01"):
            outcome = "R"
        else:
            outcome = "A"
            self.stats["messages"] += 1
            items.extend(self._observations(segments[1:], fs, cs, msh[7]))
        if outcome != "A":
            self.stats["bad_messages"] += 1
        if code != "ACK":  # acknowledgements are never acknowledged
            self._acknowledge(fs, msh, trigger, outcome)
        return items

    def _observations(self, segments: list[str], fs: str, cs: str, msh_time: str) -> list[Item]:
        readings: list[Item] = []
        seen: set[tuple[str, datetime]] = set()
        group_time, group_measured = msh_time, False  # measured: the time is OBR-7's, not MSH-7's
        for segment in segments:
            fields = segment.split(fs)
            if fields[0] == "OBR":
                obr_time = _get(fields, 7).strip()
                group_time, group_measured = obr_time or msh_time, bool(obr_time)
            elif fields[0] == "OBX":
                reading = self._observation(fields, cs, group_time)
                if reading is None:
                    continue
                if (reading.vital, reading.time) in seen:
                    self.stats["duplicates"] += 1
                    continue
                seen.add((reading.vital, reading.time))
                if reading.vital in NIBP_CODES:
                    measured = group_measured or bool(_get(fields, 14).strip())
                    if self._nibp_repeat(reading, measured):
                        self.stats["nibp_repeats"] += 1
                        continue
                    self._last_nibp[reading.vital] = (reading.time, reading.value)
                self.stats["readings"] += 1
                readings.append(reading)
        return readings

    def _nibp_repeat(self, reading: Reading, measured: bool) -> bool:
        """Whether an NIBP reading repeats the last one emitted for its vital: the same measurement time
        when the message gives one (OBX-14, OBR-7), else (MSH-7 only) the same value."""
        last = self._last_nibp.get(reading.vital)
        if last is None:
            return False
        return reading.time == last[0] if measured else reading.value == last[1]

    def _observation(self, obx: list[str], cs: str, group_time: str) -> Reading | None:
        """One OBX as a Reading, or None with the reason counted."""
        text, status = _get(obx, 5).strip(), _get(obx, 11).strip().upper()
        if status == "X" or not text:
            self.stats["no_value"] += 1
            return None
        if status not in _USABLE_STATUS:
            self.stats["bad_status"] += 1
            return None
        if _get(obx, 2).strip().upper() not in ("", "NM"):
            self.stats["non_numeric"] += 1
            return None
        vital, key = _vital(_get(obx, 3), cs)
        if vital is None:
            self._unmapped(key)
            return None
        factor = _unit_factor(_get(obx, 6), cs, vital)
        if factor is None:
            self.stats["unit_mismatch"] += 1
            return None
        value = float(text) * factor if _NM.fullmatch(text) else math.nan
        if not (math.isfinite(value) and vital.plausible(value)):
            self.stats["implausible"] += 1
            return None
        t = _parse_dtm(_get(obx, 14).strip() or group_time, self.tz)
        if isinstance(t, str):
            self.stats[t] += 1
            return None
        measured = t if vital.code in NIBP_CODES else None
        return Reading(t, vital.code, value, source=self.source, device_time=t, measured_at=measured)

    def _unmapped(self, key: str) -> None:
        """Count an OBX of no known vital; by its code too while fewer than UNMAPPED_SAMPLE codes are named."""
        self.stats["unmapped"] += 1
        name = f"unmapped:{key}"
        if name not in self.stats:
            if self._unmapped_named >= UNMAPPED_SAMPLE:
                return
            self._unmapped_named += 1
        self.stats[name] += 1

    def _acknowledge(self, fs: str, msh: list[str], trigger: str, outcome: str) -> None:
        """Queue ACKs per HL7: original mode (MSH-15/16 empty) always gets an application ACK; enhanced
        mode gets a commit ACK per MSH-15 and an application ACK per MSH-16 (AL, NE, ER, SU)."""
        accept, application = msh[15].strip().upper(), msh[16].strip().upper()
        if not accept and not application:
            codes = ["A" + outcome]
        else:
            codes = [kind + outcome for kind, rule in (("C", accept), ("A", application)) if _wants(rule, outcome)]
        if not codes:
            return
        control_id = msh[10]
        if not control_id.strip():
            self.stats["unacknowledgeable"] += 1
            return
        cs = msh[2][0]
        kind = cs.join(["ACK", trigger, "ACK"]) if trigger else "ACK"
        header = fs.join(
            [
                "MSH",
                msh[2],
                msh[5],
                msh[6],
                msh[3],
                msh[4],
                msh[7],
                "",
                kind,
                control_id,
                msh[11] or "P",
                msh[12] or "2.6",
            ]
        )
        for code in codes:
            if len(self._out) > MAX_FRAME:
                self.stats["unsent_acks"] += 1
                continue
            body = f"{header}\r{fs.join(['MSA', code, control_id])}\r"
            self._out += bytes([SB]) + body.encode("latin-1") + bytes([EB, CR])
            self.stats["acks"] += 1


def _wants(rule: str, outcome: str) -> bool:
    """Whether an enhanced-mode condition (HL7 table 0155) asks for an ACK; unknown values mean never."""
    return rule == "AL" or (rule == "ER" and outcome != "A") or (rule == "SU" and outcome == "A")


def _header(segment: str) -> tuple[str, list[str]] | None:
    """The field separator and MSH fields indexed by HL7 number (`msh[9]` = MSH-9), or None if unusable."""
    if not segment.startswith("MSH") or len(segment) < 8:
        return None
    fs = segment[3]
    fields = segment.split(fs)
    enc = fields[1]
    delimiters = fs + enc
    if not 4 <= len(enc) <= 5 or len(set(delimiters)) != len(delimiters):
        return None
    if any(c.isalnum() or c.isspace() or not c.isprintable() for c in delimiters):
        return None
    msh = ["MSH", fs, *fields[1:]]
    return fs, msh + [""] * (22 - len(msh))


def _get(fields: list[str], n: int) -> str:
    return fields[n] if n < len(fields) else ""


def _mdc_number(ident: str, system: str) -> int | None:
    """An MDC code from `<code>^…^MDC` or Philips `<partition>-<code>^…^MDIL` (= partition << 16 | code)."""
    if system == "MDC" and (m := _MDC_CODE.fullmatch(ident)) and (number := int(m[1])) <= _MDC_MAX:
        return number
    if system == "MDIL" and (m := _MDIL.fullmatch(ident)):
        return (int(m[1], 16) << 16) + int(m[2], 16)
    return None


def _vital(field: str, cs: str) -> tuple[Vital | None, str]:
    """The vital an OBX-3 identifier (or its alternate identifier) names, and the key to count it by."""
    parts = [p.strip() for p in field.split(cs)] + [""] * 6
    numbers = [
        n for n in (_mdc_number(parts[0], parts[2].upper()), _mdc_number(parts[3], parts[5].upper())) if n is not None
    ]
    for number in numbers:
        if number in BY_MDC:
            return BY_MDC[number], ""
    return None, str(numbers[0]) if numbers else _UNPRINTABLE.sub("?", field.strip()[:40]) or "none"


def _unit_factor(field: str, cs: str, vital: Vital) -> float | None:
    """Factor from the OBX-6 unit to the vital's unit; None when the unit is unknown or measures another thing.

    An empty unit is accepted: several devices leave it out, and the code already fixes the quantity.
    """
    parts = [p.strip() for p in field.split(cs)] + [""] * 3
    ident, system = parts[0], parts[2].upper()
    if not ident and not system:
        return 1.0
    number = _mdc_number(ident, system)
    if number is not None:
        units = _MDC_UNITS.get(number, {})
    elif system in ("", "UCUM"):
        units = _UCUM_UNITS.get(ident, {})
    else:
        units = {}
    return units.get(vital.code)


def _parse_dtm(text: str, tz: tzinfo | None) -> datetime | str:
    """HL7 DTM `YYYYMMDDHHMM[SS[.S…]][+/-ZZZZ]` as an aware UTC datetime, or the stats key saying why not:
    `bad_time` (malformed, impossible, offset out of range, outside EARLIEST_TIME–LATEST_TIME) or
    `no_offset_times` (valid, no offset, and no `tz` to read it in: never guessed).

    Up to 6 fractional digits (HL7 allows 4) so the emulator's microseconds survive a round trip.
    """
    m = _DTM.fullmatch(text)
    if m is None:
        return "bad_time"
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = m.groups()
    try:
        zone = tz if tz is not None else UTC  # with no tz, UTC only validates the date; refused below
        if sign:
            if int(off_m) >= 60:
                return "bad_time"
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            zone = timezone(-offset if sign == "-" else offset)
        t = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "").ljust(6, "0")),
            tzinfo=zone,
        )
        t = t.astimezone(UTC)
    except (ValueError, OverflowError):
        return "bad_time"
    if not EARLIEST_TIME <= t < LATEST_TIME:
        return "bad_time"
    return t if sign or tz is not None else "no_offset_times"


# Encoder: IHE PCD-01 reference ids for each vital's primary MDC code, and MDC units by the vital's unit.
_REF_IDS = {
    "sbp": "MDC_PRESS_BLD_NONINV_SYS",
    "dbp": "MDC_PRESS_BLD_NONINV_DIA",
    "map": "MDC_PRESS_BLD_NONINV_MEAN",
    "hr": "MDC_ECG_HEART_RATE",
    "pr": "MDC_PULS_OXIM_PULS_RATE",
    "spo2": "MDC_PULS_OXIM_SAT_O2",
    "rr": "MDC_RESP_RATE",
}
_UNIT_FIELDS = {
    "mmHg": "266016^MDC_DIM_MMHG^MDC",
    "bpm": "264864^MDC_DIM_BEAT_PER_MIN^MDC",
    "%": "262688^MDC_DIM_PERCENT^MDC",
    "breaths/min": "264928^MDC_DIM_RESP_PER_MIN^MDC",
}
_PROFILE = "IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"


def encode_oru(readings: Sequence[Reading], *, control_id: str, sender: str = "VIGIL_SIM") -> bytes:
    """One MLLP-framed PCD-01 ORU^R01 carrying `readings` as OBXs, byte-exact for the same input.

    Values and times are written so that decoding gives back exactly the same floats and instants. No
    patient identifiers are sent (the PID segment is empty). Raises ValueError on the caller's bugs: no
    readings, a vital twice, or delimiters in `control_id` / `sender`.
    """
    if not readings:
        raise ValueError("an ORU^R01 needs at least one reading")
    for name, text in (("control_id", control_id), ("sender", sender)):
        if not text or any(not " " <= c <= "~" or c in "|^~\\&" for c in text):
            raise ValueError(f"{name} must be printable ASCII without HL7 delimiters, got {text!r}")
    vitals = [r.vital for r in readings]
    if len(set(vitals)) != len(vitals):
        raise ValueError(f"each vital at most once per message, got {vitals}")
    first = _format_dtm(min(r.time for r in readings))
    segments = [
        f"MSH|^~\\&|{sender}||||{first}||ORU^R01^ORU_R01|{control_id}|P|2.6|||NE|AL|||||{_PROFILE}",
        "PID",
        f"OBR|1|{control_id}^{sender}|{control_id}^{sender}|182777000^monitoring of patient^SNOMED-CT|||{first}",
    ]
    for i, r in enumerate(readings, start=1):
        vital = VITALS[r.vital]
        code = f"{vital.mdc}^{_REF_IDS[r.vital]}^MDC"
        segments.append(
            f"OBX|{i}|NM|{code}|1.0.0.{i}|{_format_value(r.value)}|{_UNIT_FIELDS[vital.unit]}"
            f"|||||R|||{_format_dtm(r.time)}"
        )
    return bytes([SB]) + "\r".join([*segments, ""]).encode("ascii") + bytes([EB, CR])


def _format_value(value: float) -> str:
    """Exact HL7 NM text: `120`, `96.5`, `0.00001` (never an exponent, which NM does not allow)."""
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def _format_dtm(t: datetime) -> str:
    """`YYYYMMDDHHMMSS[.ffffff without trailing zeros]+0000` in UTC."""
    t = t.astimezone(UTC)
    text = f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"
    if t.microsecond:
        text += "." + f"{t.microsecond:06d}".rstrip("0")
    return text + "+0000"
