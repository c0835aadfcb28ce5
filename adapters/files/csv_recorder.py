"""Capture a live stream to a recorded-session CSV so that whatever stops the process, nothing received is lost.

Every batch is written at once to a journal beside the target (`OUT.part`), flushed and synced to the
disk before the next is read: a crash, `kill -9` or power loss leaves the capture complete up to the
last batch received. A monitor may report a reading with a time earlier than rows already written (the
GE NIBP is dated when its values first appeared, a record or two before the cuff cycle ends), so the
journal is in arrival order; `finish` sorts it into the CSV, which must not go back in time
(docs/csv-format.md), replacing `OUT` whole, and only then removes the journal. A journal left by a crash
is finished the same way (`vigil record --recover`). An existing `OUT` is never touched before that.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path

from adapters.files.atomic_file import replacing, sync_directory
from adapters.files.csv_writer import WIDE_COLUMNS, csv_line, wide_rows
from adapters.model.reading import Event, Reading


class JournalExists(FileExistsError):
    """A journal is already beside the target: another capture writes it, or one was interrupted."""


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".part")


class CsvRecorder:
    """Appends each batch to the journal of `out`; counts the rows and readings it holds."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.journal = journal_path(out)
        try:  # exclusive: two captures never share a journal, and an interrupted one is never overwritten
            fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise JournalExists(f"{self.journal} exists: another `vigil record` is writing it, or a capture "
                                f"was interrupted (finish it with `vigil record --recover --out {out}`)") from None
        self._file = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._write([csv_line(WIDE_COLUMNS)])
        sync_directory(self.journal)
        self.rows = 0
        self.readings = 0

    def add(self, items: list[Reading | Event]) -> None:
        """Write a batch to the journal and sync it to the disk."""
        readings = [i for i in items if isinstance(i, Reading)]
        lines = [csv_line(row) for row in wide_rows(readings, [i for i in items if isinstance(i, Event)])]
        if lines:
            self._write(lines)
            self.rows += len(lines)
            self.readings += len(readings)

    def _write(self, lines: list[str]) -> None:
        self._file.writelines(lines)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def finish(self) -> tuple[int, int]:
        """Close the journal and turn it into the CSV at `out`; returns its rows (and 0 rows cut short)."""
        self.close()
        return finish_journal(self.journal, self.out)

    def discard(self) -> None:
        """Close and remove the journal of a capture that received nothing: `out` stays as it was."""
        self.close()
        self.journal.unlink(missing_ok=True)


def finish_journal(journal: Path, out: Path) -> tuple[int, int]:
    """Sort a journal's rows by time (stable: same-time rows keep their order) into `out`, replacing it
    whole, then remove the journal; returns the rows written and the rows left out because a crash cut
    them short (only ever the last)."""
    with journal.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) != WIDE_COLUMNS:
        raise ValueError(f"{journal} is not a capture journal of vigil record")
    data = [row for row in rows[1:] if row]  # a crash can cut the last line short; its row is incomplete
    complete = [row for row in data if len(row) == len(WIDE_COLUMNS)]
    complete.sort(key=lambda row: datetime.fromisoformat(row[0]))
    with replacing(out, newline="", encoding="utf-8") as f:
        f.writelines(csv_line(row) for row in (WIDE_COLUMNS, *complete))
    journal.unlink()
    sync_directory(journal)
    return len(complete), len(data) - len(complete)
