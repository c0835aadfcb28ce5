"""The readable form of `vigil check`: one aligned row per episode, then a one-line summary."""

from __future__ import annotations

from collections import Counter

from monitor.alarms.engine import PRIORITIES, Episode
from monitor.alarms.text import rise_limit_text

COLUMNS = ("vital", "kind", "direction", "priority", "onset", "announced", "end", "peak", "limit")


def _cell(episode: Episode, column: str) -> str:
    if column == "limit" and episode.kind == "rise" and episode.baseline is not None:
        # A rise limit is the baseline plus the rise: "168.75" alone names neither (docs/limits.md).
        return rise_limit_text(episode)
    value = episode.to_json()[column]
    if value is None:
        return "(open)"  # the data ended inside the run
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def episode_table(episodes: list[Episode]) -> str:
    if not episodes:
        return "no alarm episodes"
    rows = [COLUMNS, *([_cell(e, c) for c in COLUMNS] for e in episodes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    counts = Counter(e.priority for e in episodes)
    summary = ", ".join(f"{counts[p]} {p}" for p in reversed(PRIORITIES) if counts[p])
    noun = "episode" if len(episodes) == 1 else "episodes"
    return "\n".join([*lines, f"{len(episodes)} {noun} ({summary})"])
