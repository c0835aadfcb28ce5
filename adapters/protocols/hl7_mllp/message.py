"""HL7 v2 message text as PCD-01 uses it: reading an ORU^R01's fields and writing one. Pure functions.

The streaming decoder (`decoder.py`) reads messages with these; the emulator writes them with
`encode_oru`, so both sides share one table of codes and units. What each reading function cannot use
it returns as None (or, for times, the name of the stats key saying why), never raises.

* An OBX code is an MDC code (or a Philips MDIL partition/code pair, which is the same number) mapped
  through `BY_MDC`. An MDC code is a 32-bit number (partition << 16 | code): a longer digit string is no
  MDC code, and is never handed to int() whole.
* Units are checked against what they may measure and converted to the vital's own unit.
* Times without a UTC offset are never guessed: without a zone they are `no_offset_times`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from adapters.model.reading import Reading
from adapters.model.vitals import BY_MDC, NIBP_CODES, VITALS, Vital
from adapters.protocols.base import EARLIEST_TIME, LATEST_TIME

SB, EB, CR = 0x0B, 0x1C, 0x0D  # MLLP: a message is framed as SB message EB CR
_MDC_MAX = (1 << 32) - 1
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


def split_segments(text: str) -> list[str]:
    """A message's segments: any line break ends one (senders differ), and empty ones are dropped."""
    return [s for s in _SEGMENTS.split(text) if s]


def is_segment(segment: str, fs: str) -> bool:
    """Whether a segment after MSH reads as `XXX|…`."""
    return bool(_SEGMENT_ID.fullmatch(segment[:3])) and (len(segment) == 3 or segment[3] == fs)


def parse_number(text: str) -> float:
    """An HL7 NM value; NaN if `text` is not one (no exponent, no thousands separator)."""
    return float(text) if _NM.fullmatch(text) else math.nan


def wants_ack(rule: str, outcome: str) -> bool:
    """Whether an enhanced-mode condition (HL7 table 0155) asks for an ACK; unknown values mean never."""
    return rule == "AL" or (rule == "ER" and outcome != "A") or (rule == "SU" and outcome == "A")


def read_header(segment: str) -> tuple[str, list[str]] | None:
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


def nth(fields: list[str], n: int) -> str:
    """Field `n`, empty when the segment is shorter (trailing empty fields are often left out)."""
    return fields[n] if n < len(fields) else ""


def _mdc_number(ident: str, system: str) -> int | None:
    """An MDC code from `<code>^…^MDC` or Philips `<partition>-<code>^…^MDIL` (= partition << 16 | code)."""
    if system == "MDC" and (m := _MDC_CODE.fullmatch(ident)) and (number := int(m[1])) <= _MDC_MAX:
        return number
    if system == "MDIL" and (m := _MDIL.fullmatch(ident)):
        return (int(m[1], 16) << 16) + int(m[2], 16)
    return None


def vital_of(field: str, cs: str) -> tuple[Vital | None, str]:
    """The vital an OBX-3 identifier (or its alternate identifier) names, and the key to count it by."""
    parts = [p.strip() for p in field.split(cs)] + [""] * 6
    numbers = [
        n for n in (_mdc_number(parts[0], parts[2].upper()), _mdc_number(parts[3], parts[5].upper())) if n is not None
    ]
    for number in numbers:
        if number in BY_MDC:
            return BY_MDC[number], ""
    return None, str(numbers[0]) if numbers else _UNPRINTABLE.sub("?", field.strip()[:40]) or "none"


def unit_factor(field: str, cs: str, vital: Vital) -> float | None:
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


def parse_dtm(text: str, tz: tzinfo | None) -> datetime | str:
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
    first = format_dtm(min(r.time for r in readings))
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
            f"|||||R|||{format_dtm(r.time)}"
        )
    return bytes([SB]) + "\r".join([*segments, ""]).encode("ascii") + bytes([EB, CR])


def _format_value(value: float) -> str:
    """Exact HL7 NM text: `120`, `96.5`, `0.00001` (never an exponent, which NM does not allow)."""
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def format_dtm(t: datetime) -> str:
    """`YYYYMMDDHHMMSS[.ffffff without trailing zeros]+0000` in UTC."""
    t = t.astimezone(UTC)
    text = f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"
    if t.microsecond:
        text += "." + f"{t.microsecond:06d}".rstrip("0")
    return text + "+0000"
