"""Read a VitalRecorder `.vital` recording into the same RecordedSession the CSV reader gives.

The `vitaldb` package (the VitalDB team's reader) parses the format; this module decides what Vigil keeps
(docs/vital-files.md):

- Track names go through the CSV reader's alias table (`Intellivue/PLETH_SAT_O2` → spo2). Where two numeric
  tracks give one vital, the one named after where it is measured wins (`ECG_HR` over `HR`: IntelliVue's `HR`
  follows the monitor's HR source, which may be the pleth), then the one with more records, then the first in
  the file; the choice is said in a warning. Waveforms are skipped and unknown tracks named, each in one warning.
- The `EVENT` text track becomes events as the CSV's event column does (`note: …`, `dose_start`, else a note).
- VitalRecorder logs the last NIBP result again with every record, so NIBP values are stored when one of them
  differs from its track's previous record, or when that record is over NIBP_REPEAT_S old (a recorder that
  logs NIBP once per measurement): once per measurement, at the first record that shows it.
- Values go through the same plausibility check as CSV cells; bad records refuse the file unless skipped.
- vitaldb stops quietly at a truncated or damaged file and returns what came before, so the whole file is
  first read through once here, frame by frame (`_check_whole`): such a file is refused, never half-read.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.files.csv_reader import CsvError, CsvProblem, RecordedSession, column_meaning, describe_bad_rows
from adapters.model.reading import Event, Reading, parse_event_marker
from adapters.model.vitals import NIBP_CODES, VITAL_CODES, VITALS

GZIP_MAGIC = b"\x1f\x8b"
SIGNATURE = b"VITA"  # the first bytes of the uncompressed body
NIBP_REPEAT_S = 60.0  # an equal NIBP value later than this after the track's previous record is a new measurement
_WAVE, _NUMBER, _TEXT = 1, 2, 5  # vitaldb's track types
_SOURCE_WORDS = frozenset({"ecg", "nibp", "nbp", "pleth", "spo2"})  # a track name naming where it is measured
_LISTED_TRACKS = 12


class VitalError(CsvError):
    """A `.vital` file is refused. A CsvError, so every caller that refuses a recording refuses this too."""


@dataclass(frozen=True)
class VitalProblem(CsvProblem):
    """A bad record: `line` is its number within its track (1-based)."""

    track: str
    time: datetime | None

    def __str__(self) -> str:
        when = f" at {self.time.isoformat().replace('+00:00', 'Z')}" if self.time else ""
        return f"{self.track} record {self.line}{when}: {self.reason}"


def _check_whole(path: Path) -> None:
    """Read the file through once as VitalRecorder frames it (signature, header, then packets of a type byte
    and a 4-byte length): a file cut short, or one whose compressed data is damaged, raises VitalError."""
    try:
        with gzip.open(path, "rb") as body:
            if body.read(4) != SIGNATURE:
                raise VitalError("gzip-compressed, but not a VitalRecorder file (no 'VITA' signature)")
            head = body.read(6)  # format version (4 bytes), header length (2)
            if len(head) < 6 or _skip(body, int.from_bytes(head[4:], "little")):
                raise VitalError("truncated: the file ends inside its header")
            while frame := body.read(5):
                start = body.tell() - len(frame)
                if len(frame) < 5 or _skip(body, int.from_bytes(frame[1:], "little")):
                    raise VitalError(f"truncated: the record at byte {start} of the uncompressed data is cut short")
    except EOFError:
        raise VitalError("truncated: the compressed data ends before its end marker") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise VitalError(f"damaged compressed data ({exc})") from None


def _skip(body: gzip.GzipFile, length: int) -> bool:
    """Skip `length` bytes; True when the data ended first."""
    target = body.tell() + length
    return body.seek(length, io.SEEK_CUR) < target


def _load(path: Path) -> dict[str, Any]:
    """vitaldb's tracks by name, in file order. vitaldb prints its own read errors and carries on; what it
    prints is caught here and becomes the refusal (stdout is the process's: files are read before any thread
    that prints starts). Imported here: vitaldb loads in seconds, which CSV users need not wait for."""
    import vitaldb

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            vital_file = vitaldb.VitalFile()  # empty; load_vital reads by content, whatever the file is named
            loaded = vital_file.load_vital(str(path.resolve()))
    except Exception as exc:  # whatever vitaldb raises on a file it cannot read
        raise VitalError(f"vitaldb cannot read it: {type(exc).__name__}: {exc}") from None
    said = printed.getvalue().strip()
    if said or not loaded:
        raise VitalError(f"vitaldb cannot read it: {said.splitlines()[-1] if said else 'no VITA signature'}")
    return dict(vital_file.trks)


def _names(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(map(repr, names[:_LISTED_TRACKS]))
    return shown + (f" and {len(names) - _LISTED_TRACKS} more" if len(names) > _LISTED_TRACKS else "")


def _source_named(track_name: str, vital: str) -> bool:
    words = set(re.split(r"[^a-z0-9]+", track_name.lower().rpartition("/")[2]))
    return bool((words - {vital}) & _SOURCE_WORDS)


def _choose(vital: str, tracks: list[Any]) -> tuple[Any, str | None]:
    """The track used for `vital`, and a warning saying so when there was a choice."""
    def rank(track: Any) -> tuple[bool, int]:
        return _source_named(track.dtname, vital), len(track.recs)

    used = max(tracks, key=rank)  # max keeps the first of equals: the first in the file
    if len(tracks) == 1:
        return used, None
    others = [t for t in tracks if t is not used]
    second = max(others, key=rank)
    if rank(used)[0] != rank(second)[0]:
        why = "the track named after where it is measured is used first"
    elif rank(used)[1] != rank(second)[1]:
        why = f"the one with more records ({len(used.recs)} against {len(second.recs)})"
    else:
        why = "equal tracks: the first in the file"
    return used, f"{vital} from {used.dtname!r}, not {_names(t.dtname for t in others)}: {why}"


class _Collector:
    """Turns the chosen tracks' records into readings, keeping NIBP once per measurement."""

    def __init__(self, source_name: str) -> None:
        self.source_name = source_name
        self.readings: list[Reading] = []
        self.events: list[Event] = []
        self.bad: list[CsvProblem] = []
        self.nibp: dict[float, dict[str, tuple[datetime, float]]] = {}  # NIBP values by recorder time

    def time(self, track: str, number: int, dt: object) -> datetime | None:
        try:
            if isinstance(dt, int | float) and math.isfinite(dt):
                return datetime.fromtimestamp(dt, UTC)
        except (OverflowError, OSError, ValueError):
            pass
        self.bad.append(VitalProblem(number, f"time {dt!r} is not a valid time", track, None))
        return None

    def track(self, vital: str, track: Any) -> None:
        spec, float32 = VITALS[vital], track.fmt == 1
        for number, rec in enumerate(track.recs, 1):
            when, value = self.time(track.dtname, number, rec["dt"]), rec["val"]
            if float32 and math.isfinite(value):
                value = float(f"{value:.7g}")  # a float32 as written (36.6, not 36.59999847): exports as written
            if not math.isfinite(value) or not spec.plausible(value):
                reason = "is not finite" if not math.isfinite(value) else (
                    f"is outside the plausible range {spec.low:g} to {spec.high:g}")
                self.bad.append(VitalProblem(number, f"{vital} value {value:g} {reason}", track.dtname, when))
            elif when is not None and vital in NIBP_CODES:
                self.nibp.setdefault(rec["dt"], {})[vital] = (when, value)
            elif when is not None:
                self.readings.append(Reading(when, vital, value, self.source_name))

    def notes(self, track: Any) -> None:
        """Text records as the CSV's event column reads them: `dose_start` etc. by name, anything else a note."""
        for number, rec in enumerate(track.recs, 1):
            text = str(rec["val"]).strip()
            when = self.time(track.dtname, number, rec["dt"])
            if text and when is not None:
                self.events.append(Event(when, *parse_event_marker(text), source=self.source_name))

    def measurements(self) -> None:
        """NIBP once per measurement. The values recorded at one instant are a new measurement when any of them
        differs from its track's previous record, or that record is over NIBP_REPEAT_S old; then all of them
        are stored (a new 130/80 after 120/80 keeps its 80)."""
        last: dict[str, tuple[float, float]] = {}  # per NIBP vital: (time, value) of its previous record
        for dt in sorted(self.nibp):
            group = self.nibp[dt]
            new = any(v not in last or last[v][1] != x or dt - last[v][0] > NIBP_REPEAT_S
                      for v, (_, x) in group.items())
            last.update({v: (dt, x) for v, (_, x) in group.items()})
            if new:
                self.readings += [Reading(when, v, x, self.source_name) for v, (when, x) in group.items()]


def read_vital(path: Path | str, *, skip_bad_rows: bool = False, source_name: str = "replay") -> RecordedSession:
    """Read a `.vital` file; raises VitalError when it is refused. Times are the recorder's (UTC)."""
    path = Path(path)
    _check_whole(path)
    tracks = _load(path)
    by_vital: dict[str, list[Any]] = {}
    waves, unknown, texts = [], [], []
    for name, track in tracks.items():
        meaning = column_meaning(name)
        if track.type == _WAVE:
            waves.append(name)
        elif track.type == _NUMBER and meaning in VITALS:
            by_vital.setdefault(meaning, []).append(track)
        elif track.type == _TEXT and meaning == "event":
            texts.append(track)
        else:
            unknown.append(name)
    warnings = []
    collector = _Collector(source_name)
    for vital in sorted(by_vital, key=VITAL_CODES.index):
        used, choice = _choose(vital, by_vital[vital])
        warnings += [choice] if choice else []
        collector.track(vital, used)
    if unknown:
        warnings.append(f"unknown tracks ignored: {_names(unknown)}")
    if waves:
        warnings.append(f"waveform tracks skipped (Vigil keeps numerics): {_names(waves)}")
    collector.measurements()
    for track in texts:
        collector.notes(track)
    if not collector.readings and not collector.bad:
        raise VitalError(f"no usable numeric track (none maps to a vital sign) among {_names(tracks) or 'no tracks'}")
    if collector.bad and not skip_bad_rows:
        raise VitalError(describe_bad_rows(collector.bad), collector.bad)
    readings = sorted(collector.readings, key=lambda r: (r.time, VITAL_CODES.index(r.vital)))
    events = sorted(collector.events, key=lambda e: e.time)
    start = min([r.time for r in readings] + [e.time for e in events], default=None)  # None: all skipped
    return RecordedSession(readings, events, warnings, collector.bad, relative_time=False, start=start)
