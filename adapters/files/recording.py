"""Read a recorded session from a file of either form Vigil takes: the CSV of docs/csv-format.md or a
VitalRecorder `.vital` file. The content decides, not the name: a `.vital` file is gzip-compressed (a CSV
never is), so a renamed file is still read as what it is."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from adapters.files.csv_reader import RecordedSession, read_session_csv
from adapters.files.vital_reader import GZIP_MAGIC, VitalError, read_vital


def _head(path: Path) -> bytes:
    with open(path, "rb") as file:
        return file.read(len(GZIP_MAGIC))


def read_recording(
    path: Path | str,
    *,
    skip_bad_rows: bool = False,
    tz: str | None = None,
    start: datetime | None = None,
    source_name: str = "replay",
) -> RecordedSession:
    """The session in a CSV or `.vital` file (a gzip-compressed file is taken as `.vital`); raises CsvError
    (VitalError for `.vital`) when it is refused. `tz` and `start` place a CSV's times; a `.vital` file's
    times are UTC instants, so there they are unused (said in a warning)."""
    path = Path(path)
    head = _head(path)
    if head != GZIP_MAGIC:
        if path.suffix.lower() == ".vital":  # named so, but not one: say what is wrong with it as one
            if GZIP_MAGIC.startswith(head):
                raise VitalError("truncated: the file ends after its first byte" if head else "empty file")
            raise VitalError("not a VitalRecorder file: a .vital file is gzip-compressed, this one is not")
        return read_session_csv(path, skip_bad_rows=skip_bad_rows, tz=tz, start=start, source_name=source_name)
    recording = read_vital(path, skip_bad_rows=skip_bad_rows, source_name=source_name)
    unused = [name for name, given in (("tz", tz), ("start", start)) if given is not None]
    if unused:
        recording.warnings.append(f"{' and '.join(unused)} not used: a .vital file's times are UTC instants")
    return recording
