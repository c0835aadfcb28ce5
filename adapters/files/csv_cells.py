"""The recorded-session CSV's rules for one cell (docs/csv-format.md): the final word on any text.

The vectorised reader (`csv_frame`) applies these to each distinct cell text, not to each row: a day's
recording holds 170 000 values but only a few hundred distinct ones. Its fast path for the common ISO time form
must agree with `place_time`; anything it is unsure of comes here.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from adapters.model.vitals import VITALS

# ASCII only: float() would also take "nan", "1_000" or Arabic-Indic digits, none of which a monitor writes.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)


class Bad(ValueError):
    """One bad cell; its message becomes (part of) the row's reason."""


def show(text: str) -> str:
    """Quote cell text for a one-line message, shortened so a runaway cell cannot flood it."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def value_of(vital: str, text: str) -> float:
    """A non-empty value cell as a number, or Bad: only plain decimal numbers in the plausible range."""
    if not NUMBER.fullmatch(text):
        raise Bad(f"{vital} value {show(text)} is not a number")
    value = float(text)
    spec = VITALS[vital]
    if not math.isfinite(value):
        raise Bad(f"{vital} value {show(text)} is not finite")
    if not spec.plausible(value):
        limits = f"{spec.low:g} to {spec.high:g}"
        raise Bad(f"{vital} value {show(text)} is outside the plausible range {limits}")
    return value


def time_form(text: str) -> re.Match[str] | bool:
    """An ISO time's match, True for seconds from start; Bad if the cell is neither (or empty)."""
    if not text:
        raise Bad("time is empty")
    iso = ISO.fullmatch(text)
    if iso is None and not NUMBER.fullmatch(text):
        raise Bad(f"time {show(text)} is neither ISO 8601 nor seconds from start")
    return iso or True


def mixed_form(text: str, file_relative: bool) -> str:
    """Why a time of the other form than the file's is a bad row."""
    found, used = ("an ISO time", "seconds") if file_relative else ("seconds", "ISO times")
    return f"time {show(text)} is {found} but the file uses {used}"


Local = tuple[datetime, datetime]  # a local wall-clock time: its earlier and later reading (differ in a DST fold)


def place_time(text: str, form: re.Match[str] | bool, zone: tzinfo | None, origin: datetime) -> datetime | Local:
    """The UTC instant of a time cell of the file's form, or both candidates of a local time; Bad if invalid."""
    try:
        if form is True:
            seconds = float(text)
            if not math.isfinite(seconds):
                raise OverflowError(text)
            return origin + timedelta(seconds=seconds)
        assert isinstance(form, re.Match)
        return _absolute(form, text, zone)
    except (OverflowError, ValueError) as exc:  # out-of-range dates, Feb 30, offset +25:00
        if isinstance(exc, Bad):
            raise
        raise Bad(f"time {show(text)} is not a valid time") from None


def _absolute(m: re.Match[str], text: str, zone: tzinfo | None) -> datetime | Local:
    year, month, day, hour, minute, second = (int(g or 0) for g in m.group(1, 2, 3, 4, 5, 6))
    micro = int((m[7] or "").ljust(6, "0")[:6])
    naive = datetime(year, month, day, hour, minute, second, micro)
    if m[8]:
        return naive.replace(tzinfo=UTC)
    if m[9]:
        offset = timedelta(hours=int(m[10]), minutes=int(m[11] or 0))
        return naive.replace(tzinfo=timezone(-offset if m[9] == "-" else offset)).astimezone(UTC)
    if zone is None:
        raise Bad(f"time {show(text)} has no UTC offset (name the zone with tz to read local times)")
    earlier, later = (naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    if earlier.astimezone(zone).replace(tzinfo=None) != naive:
        raise Bad(f"time {show(text)} does not exist in {zone} (clock change)")
    return earlier, later


def local_choice(local: Local, previous: datetime | None) -> datetime:
    """In the repeated hour after a DST change, file order decides: the later reading if the earlier goes back."""
    earlier, later = local
    return later if previous is not None and earlier < previous <= later else earlier


def earlier_than(text: str, before: str, line: int) -> str:
    return f"time {show(text)} is earlier than {show(before)} on line {line}"
