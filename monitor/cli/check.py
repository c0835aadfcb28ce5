"""`vigil check`: recordings through the alarm engine, headless (docs/limits.md).

One file prints its episodes as it always has. Several files, or a folder (its `*.csv` and `*.vital`, not its
subfolders), print for each file a summary line, then that file's episodes; a file that cannot be checked is named
with the reason and the others are still checked. Exit status: 2 if any file could not be checked, else 1 if an
episode reached `--fail-on`, else 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from adapters.files.csv_reader import CsvError, RecordedSession
from monitor.alarms.engine import PRIORITIES, RANK, Episode, evaluate
from monitor.alarms.table import episode_table
from monitor.cli.options import UsageError, resolve_limits
from monitor.limits.model import Limits

RECORDINGS = ("*.csv", "*.vital")

Reader = Callable[[argparse.Namespace, Path, str], RecordedSession]


def recordings(paths: list[Path]) -> list[Path]:
    """The files named, a folder's recordings in name order in its place."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for pattern in RECORDINGS for p in path.glob(pattern) if p.is_file())
            if not found:
                raise UsageError(f"no recordings ({', '.join(RECORDINGS)}) in {path}")
            out += found
        else:
            out.append(path)
    return out


def _episodes(args: argparse.Namespace, path: Path, limits: Limits, read: Reader, label: str) -> list[Episode]:
    gc.disable()  # a batch run builds no reference cycles; collections would walk every reading repeatedly
    try:
        recording = read(args, path, label)
        return evaluate(recording.readings, recording.events, limits)
    finally:
        gc.enable()


def _reached(episodes: list[Episode], fail_on: str | None) -> bool:
    return fail_on is not None and any(RANK[e.priority] >= RANK[fail_on] for e in episodes)


def cmd_check(args: argparse.Namespace, read: Reader) -> int:
    """The episodes of each recording; then the objects left are frozen out of the garbage collector, as the
    process ends next: the interpreter's last collection would walk all that pandas and NumPy made (0.1–0.2 s)."""
    try:
        return _check(args, read)
    finally:
        gc.freeze()


def _check(args: argparse.Namespace, read: Reader) -> int:
    limits = resolve_limits(args.limits)
    if len(args.file) == 1 and not args.file[0].is_dir():
        episodes = _episodes(args, args.file[0], limits, read, "")
        if args.json:
            for episode in episodes:
                print(json.dumps(episode.to_json()))
        else:
            print(episode_table(episodes))
        return 1 if _reached(episodes, args.fail_on) else 0
    return _check_many(args, recordings(args.file), limits, read)


def _summary(episodes: list[Episode]) -> str:
    counts = Counter(e.priority for e in episodes)
    noun = "episode" if len(episodes) == 1 else "episodes"
    by = ", ".join(f"{counts[p]} {p}" for p in reversed(PRIORITIES) if counts[p])
    return f"{len(episodes)} {noun}" + (f" ({by})" if by else "")


def _check_many(args: argparse.Namespace, paths: list[Path], limits: Limits, read: Reader) -> int:
    refused = reached = 0
    for n, path in enumerate(paths):
        gap = "\n" if n else ""  # a blank line between files in the table form
        try:
            episodes = _episodes(args, path, limits, read, f"{path}: ")
        except (UsageError, CsvError, OSError) as exc:
            refused += 1
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"vigil check: error: {path}: {reason}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(path), "checked": False, "error": reason}))
            else:
                print(f"{gap}{path}: not checked: {reason}")
            continue
        reached += _reached(episodes, args.fail_on)
        if args.json:
            print(json.dumps({"file": str(path), "checked": True, "episodes": len(episodes),
                              **Counter(e.priority for e in episodes)}))
            for episode in episodes:
                print(json.dumps({"file": str(path), **episode.to_json()}))
        else:
            print(f"{gap}{path}: {_summary(episodes)}")
            if episodes:
                print(episode_table(episodes).rpartition("\n")[0])  # the table without its summary line
    return 2 if refused else 1 if reached else 0
