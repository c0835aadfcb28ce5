"""Text → records: the cells of each record, the physical line it starts on and how many cells it had.

A file without a quote character (what monitors and `vigil record` write) is split by pandas' C tokenizer:
there every record is one physical line, so line numbers and cell counts come from the lines themselves.
pandas reads with dtype=object and na_filter off, so `NaN`, `NA` or `--` stay text for the contract's rules
(csv_cells) to judge: its defaults would turn them into "not measured". A file with quotes (a note with a
comma) may hold records that span lines, which only the csv module numbers as an editor does, so it is split
by csv; so is one with a line longer than csv's field limit (such a cell makes a bad row) or whose pandas split
does not line up with its lines. Both give the same `Records`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

Ints = npt.NDArray[np.int64]


@dataclass
class Records:
    """The records from the header on. `cells` holds the header's width of columns, stripped, "" where a
    record had fewer cells; `errors` maps a record to why the csv module gave up on it."""

    header: list[str]
    lines: npt.NDArray[np.int64]
    widths: npt.NDArray[np.int64]
    blank: npt.NDArray[np.bool_]  # every cell empty or white space: carries nothing, skipped
    cells: pd.DataFrame
    errors: dict[int, str]


class HeaderError(Exception):
    """The csv module gave up before any header: (line, reason)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def _blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def split(text: str) -> Records | None:
    """The records of `text` from its first non-blank record (the header) on; None if there is none."""
    if '"' not in text and "\x00" not in text:
        records = _split_lines(text)
        if not isinstance(records, bool):
            return records
    return _split_csv(text)


_SPACE = re.compile(r"[^\S\r\n]")  # white space inside a line: only then are cells stripped
_ASCII_SPACE = [9, 11, 12, 28, 29, 30, 31, 32]  # what str.strip() removes, below 128 (line ends aside)
_MOST_CELLS = 1000  # more cells in a line than this: split by csv, rather than make a frame that wide


def _line_bounds(data: npt.NDArray[np.uint8]) -> tuple[Ints, Ints]:
    """Each physical line's first byte and the byte after its last, ends excluded: \n, \r\n or \r."""
    following = np.append(data[1:], 0)
    ends = np.flatnonzero((data == 10) | ((data == 13) & (following != 10)))
    stops = ends - ((data[ends] == 10) & (np.append(0, data[:-1])[ends] == 13))
    starts = np.concatenate(([0], ends + 1))
    if starts[-1] == len(data):
        starts = starts[:-1]  # the text ended with a line end: no further line
    else:
        stops = np.append(stops, len(data))
    return starts, stops


def _per_line(flags: npt.NDArray[np.bool_], starts: Ints, stops: Ints) -> Ints:
    """How many bytes of each line are flagged."""
    total = np.concatenate(([0], np.cumsum(flags, dtype=np.int32)))
    return total[stops] - total[starts]


def _split_lines(text: str) -> Records | bool | None:
    """pandas' split of a quote-free text; False if csv must split it (see the module's note)."""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)  # , \r \n never occur inside a character
    starts, stops = _line_bounds(data)
    if not len(starts):
        return None
    if (stops - starts).max() > csv.field_size_limit():
        return False  # a cell may pass the csv module's limit, which makes its row bad: csv must judge
    widths = np.where(stops > starts, _per_line(data == 44, starts, stops) + 1, 0)
    if widths.max() > _MOST_CELLS:
        return False
    content = _per_line(~np.isin(data, [44, *_ASCII_SPACE]), starts, stops)
    blank = content == 0
    for i in np.flatnonzero(~blank & (_per_line(data >= 128, starts, stops) == content)).tolist():
        # nothing but non-ASCII: perhaps Unicode white space
        blank[i] = not bytes(data[starts[i]:stops[i]]).decode("utf-8", "surrogatepass").replace(",", "").strip()
    first = int(np.argmin(blank))
    if blank[first]:
        return None
    cells = pd.read_csv(
        io.StringIO(text), header=None, names=range(int(widths.max())), dtype=object, na_filter=False,
        keep_default_na=False, skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c", index_col=False,
    )
    if len(cells) != len(starts):
        return False
    header = cells.iloc[first, : widths[first]].tolist()
    body = cells.iloc[first + 1 :, : len(header)].reset_index(drop=True)
    if _SPACE.search(text):
        body = body.apply(_strip)
    lines = np.arange(first + 2, len(starts) + 1, dtype=np.int64)
    return Records(header, lines, widths[first + 1 :], blank[first + 1 :], body, {})


def _strip(column: pd.Series) -> pd.Series:
    """Each cell without surrounding white space, stripping each distinct text once."""
    codes, uniques = pd.factorize(column)
    stripped = np.array([u.strip() for u in uniques] + [""], dtype=object)
    return pd.Series(stripped[codes], index=column.index, dtype=object)


def _csv_records(text: str) -> Iterator[tuple[int, list[str] | str]]:
    """Yield (first physical line, cells), or (line, reason) where the csv module gives up on a record.

    csv's `line_num` counts physical lines read so far, so a record starts one after the previous
    record ended, however many quoted newlines either contained.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        line = reader.line_num + 1
        try:
            yield line, next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield line, str(err)


def _split_csv(text: str) -> Records | None:
    header: list[str] | None = None
    lines: list[int] = []
    widths: list[int] = []
    blank: list[bool] = []
    rows: list[list[str]] = []
    errors: dict[int, str] = {}
    for line, cells in _csv_records(text):
        if header is None:
            if isinstance(cells, str):
                raise HeaderError(line, cells)
            if not _blank(cells):
                header = cells
            continue
        if isinstance(cells, str):
            errors[len(rows)] = cells
            blank.append(False)
            cells = []
        else:
            blank.append(_blank(cells))
        lines.append(line)
        widths.append(len(cells))
        rows.append([c.strip() for c in cells[: len(header)]] + [""] * (len(header) - len(cells)))
    if header is None:
        return None
    frame = pd.DataFrame(rows, columns=range(len(header)), dtype=object)
    return Records(header, np.array(lines, np.int64), np.array(widths, np.int64), np.array(blank, bool), frame,
                   errors)
