"""The time column, vectorised: each data row's UTC instant, or why its time makes it a bad row.

The common form (`2026-11-20T09:00:00Z`, `…:00.5+01:00`) is read with NumPy from the characters themselves,
only where every character is as that form requires and every field in range; anything else — seconds from
start, local times, odd offsets, out-of-range dates — goes through csv_cells.place_time one cell at a time, so
the fast path never decides a case the rules would decide otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
import numpy.typing as npt

from adapters.files.csv_cells import Bad, Local, earlier_than, local_choice, mixed_form, place_time, time_form

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_MICRO = timedelta(microseconds=1)
_NEVER = np.iinfo(np.int64).min
_FIELDS = {"year": (0, 4), "month": (5, 2), "day": (8, 2), "hour": (11, 2), "minute": (14, 2), "second": (17, 2)}
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
Ints = npt.NDArray[np.int64]


@dataclass
class Times:
    """`us`: µs since the epoch where `placed`; `reasons`: the time problem of each row that has one."""

    us: Ints
    placed: npt.NDArray[np.bool_]
    reasons: dict[int, str]
    relative: bool | None


def _number(c: Ints, start: int, width: int) -> Ints:
    out = np.zeros(len(c), np.int64)
    for k in range(start, start + width):
        out = out * 10 + (c[:, k] - 48)
    return out


def _is(c: Ints, k: int, chars: str) -> npt.NDArray[np.bool_]:
    return np.isin(c[:, k], [ord(ch) for ch in chars]).astype(bool)


def _digits(c: Ints, columns: range | list[int]) -> npt.NDArray[np.bool_]:
    part = c[:, list(columns)]
    return np.asarray(((part >= 48) & (part <= 57)).all(axis=1), dtype=bool)


def _days(year: Ints, month: Ints, day: Ints) -> Ints:
    """Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _fast_group(c: Ints, suffix: int) -> tuple[npt.NDArray[np.bool_], Ints]:
    """Rows of `c` (one text length) in the form YYYY-MM-DD[Tt ]HH:MM:SS[.,digits] + a suffix of `suffix`
    characters (1: Z; 6: ±HH:MM): whether each is, and its µs since the epoch. A fraction has at least one
    digit, as csv_cells.ISO requires: the caller passes no length with a bare "." before the suffix."""
    body = c.shape[1] - suffix
    ok = _digits(c, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]) & _is(c, 4, "-") & _is(c, 7, "-")
    ok &= _is(c, 10, "Tt ") & _is(c, 13, ":") & _is(c, 16, ":")
    if body > 19:
        ok &= _is(c, 19, ".,") & _digits(c, range(20, body))
    if suffix == 6:
        ok &= _is(c, body, "+-") & _digits(c, [body + 1, body + 2, body + 4, body + 5]) & _is(c, body + 3, ":")
    d = np.where(ok[:, None], c, 48)  # rows not of the form read as zeros, so no field below overflows
    f = {name: _number(d, *at) for name, at in _FIELDS.items()}
    places = min(body - 20, 6)  # a fraction's digits past the microsecond are dropped, as csv_cells does
    micro = _number(d, 20, places) * 10 ** (6 - places) if body > 19 else np.zeros(len(c), np.int64)
    offset = np.zeros(len(c), np.int64)
    if suffix == 6:
        hours, minutes = _number(d, body + 1, 2), _number(d, body + 4, 2)
        ok &= (hours <= 23) & (minutes <= 59)
        offset = np.where(c[:, body] == ord("-"), -1, 1) * (hours * 60 + minutes)
    leap = (f["year"] % 4 == 0) & ((f["year"] % 100 != 0) | (f["year"] % 400 == 0))
    month = np.clip(f["month"], 0, 12)
    longest = _DAYS_IN_MONTH[month] + (leap & (month == 2))
    ok &= (f["year"] >= 2) & (f["year"] <= 9998) & (f["month"] >= 1) & (f["month"] <= 12)
    ok &= (f["day"] >= 1) & (f["day"] <= longest) & (f["hour"] <= 23) & (f["minute"] <= 59) & (f["second"] <= 59)
    days = _days(f["year"], np.where(ok, f["month"], 1), f["day"])
    seconds = ((days * 24 + f["hour"]) * 60 + f["minute"] - offset) * 60 + f["second"]
    return ok, seconds * _US + micro


def fast_iso(texts: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.bool_], Ints]:
    """Which texts are in the common ISO form with Z or ±HH:MM (exactly as csv_cells reads them), and their µs."""
    n = len(texts)
    done, us = np.zeros(n, bool), np.zeros(n, np.int64)
    lengths = np.fromiter(map(len, texts), np.int64, n)
    for length in np.unique(lengths[(lengths >= 20) & (lengths <= 40)]):
        rows = np.flatnonzero(lengths == length)
        text = np.array(texts[rows].tolist(), dtype=f"U{length}")
        c = text.view(np.uint32).reshape(len(rows), length).astype(np.int64)  # each character's code point
        for suffix, last in ((1, "Zz"), (6, "0123456789")):
            if length - suffix < 19 or length - suffix == 20:  # too short, or a "." with no digits after it
                continue
            pick = np.flatnonzero(_is(c, length - 1, last))
            ok, when = _fast_group(c[pick], suffix)
            done[rows[pick[ok]]] = True
            us[rows[pick[ok]]] = when[ok]
    return done, us


def _as_us(when: datetime) -> int:
    return (when - _EPOCH) // _MICRO


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def read_times(texts: npt.NDArray[np.object_], lines: Ints, others_ok: npt.NDArray[np.bool_], zone: tzinfo | None,
               origin: datetime) -> Times:
    """Place every row's time; a row whose other cells are fine (`others_ok`) and whose time does not go back
    becomes the "previous row" later times are compared with, exactly as reading row by row."""
    n = len(texts)
    done, us = fast_iso(texts)
    reasons: dict[int, str] = {}
    forms: dict[int, re.Match[str] | bool] = {}
    for i in np.flatnonzero(~done).tolist():
        try:
            forms[i] = time_form(texts[i])
        except Bad as bad:
            reasons[i] = str(bad)
    first = min([*forms, int(np.argmax(done)) if done.any() else n])
    relative = None if first == n else forms.get(first) is True
    if relative:
        for i in np.flatnonzero(done).tolist():
            reasons[i] = mixed_form(texts[i], True)
        done[:] = False
    local: dict[int, Local] = {}
    placed = done.copy()
    for i, form in forms.items():
        if (form is True) != relative:
            reasons[i] = mixed_form(texts[i], bool(relative))
            continue
        try:
            when = place_time(texts[i], form, zone, origin)
        except Bad as bad:
            reasons[i] = str(bad)
            continue
        if isinstance(when, tuple):
            local[i] = when
        else:
            us[i] = _as_us(when)
            placed[i] = True
    if local:
        _in_order_local(texts, lines, us, placed, others_ok, local, reasons)
    else:
        _in_order(texts, lines, us, placed, others_ok & placed, reasons)
    return Times(us, placed, reasons, relative)


def _in_order(texts: npt.NDArray[np.object_], lines: Ints, us: Ints, placed: npt.NDArray[np.bool_],
              ok: npt.NDArray[np.bool_], reasons: dict[int, str]) -> None:
    """Times that go back: earlier than the latest row kept so far. A row that went back is never kept and was
    earlier than that latest, so the running maximum over every row that could be kept is the same maximum."""
    latest = np.maximum.accumulate(np.where(ok, us, _NEVER))
    before = np.concatenate(([_NEVER], latest[:-1])) if len(us) else latest
    back = placed & (us < before)
    kept = np.flatnonzero(ok & ~back)
    for i in np.flatnonzero(back).tolist():
        p = int(kept[np.searchsorted(kept, i) - 1])
        reasons[i] = earlier_than(texts[i], texts[p], int(lines[p]))
    placed &= ~back


def _in_order_local(texts: npt.NDArray[np.object_], lines: Ints, us: Ints, placed: npt.NDArray[np.bool_],
                    others_ok: npt.NDArray[np.bool_], local: dict[int, Local], reasons: dict[int, str]) -> None:
    """As `_in_order`, one row at a time: in a DST fold the instant of a local time depends on the row kept
    before it."""
    previous: int | None = None  # the row kept last
    for i in range(len(us)):
        if i in local:
            us[i] = _as_us(local_choice(local[i], None if previous is None else _instant(int(us[previous]))))
            placed[i] = True
        if not placed[i]:
            continue
        if previous is not None and us[i] < us[previous]:
            reasons[i] = earlier_than(texts[i], texts[previous], int(lines[previous]))
            placed[i] = False
        elif others_ok[i]:
            previous = i
