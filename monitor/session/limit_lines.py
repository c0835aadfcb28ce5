"""The alarm limits as drawn on a trend: each version's lines over the time it was in force, never across hours
when other limits applied.

`limit_lines` is the one place that turns a session's limits versions into line segments; the live bed view, the
history page's review and the PDF/HTML record all draw what it returns. A version applies from its effective time
until the next version's (the first from the session's start, as the alarm engine applies it); a `rise` limit is a
line at baseline + rise only from the moment that baseline is known (a `[baseline]` value from its version's
start, otherwise the pre-dose baseline from the dose on, as `monitor.session.baseline` defines it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters.model.vitals import NIBP_CODES
from monitor.limits.model import THRESHOLD_KEYS, limits_from_stored
from monitor.session.baseline import Baseline, baseline, nibp_measurements
from monitor.session.timeline import anchor_time
from monitor.store import LimitsVersion, Store

LINE_KEYS = (*THRESHOLD_KEYS, "rise")

KnownBaseline = tuple[datetime, float]  # (known from, value)


@dataclass(frozen=True)
class LimitLine:
    """One limit of one vital at one value, from `start` to `end`; `open` while its version is still in force
    (live, it runs on to "now")."""

    vital: str
    key: str  # one of LINE_KEYS
    value: float
    start: datetime
    end: datetime
    version: int
    open: bool


def limit_lines(versions: Sequence[LimitsVersion], start: datetime, end: datetime,
                baselines: Mapping[str, KnownBaseline]) -> list[LimitLine]:
    """The lines of every version over [start, end], oldest version first.

    Each version is in force from its effective time (the first from `start`) to the next one's, so an old line
    ends exactly where the new one starts (even if the data stopped a moment before), and the newest (`open`) to
    `end` — or, made later than the data (a clock ahead of them), from its own time, to be stretched on as data
    arrive. A version superseded before `start` draws nothing. `baselines` are the computed baselines
    per vital with the time each became known; a version's own `[baseline]` value takes precedence.
    """
    lines: list[LimitLine] = []
    for i, version in enumerate(versions):
        since = start if i == 0 else max(version.effective, start)
        following = versions[i + 1].effective if i + 1 < len(versions) else None
        is_open = following is None
        until = max(end, since) if following is None else max(following, since)
        if until <= since and not is_open:
            continue
        limits = limits_from_stored(version.data)
        for vital, lim in limits.vitals.items():
            for key in THRESHOLD_KEYS:
                value = getattr(lim, key)
                if value is not None:
                    lines.append(LimitLine(vital, key, value, since, until, version.version, is_open))
            fixed = limits.baseline.get(vital)
            known = (since, fixed) if fixed is not None else baselines.get(vital)
            if lim.rise is None or known is None:
                continue
            rise_from = max(known[0], since)
            if rise_from < until or (is_open and rise_from <= until):
                lines.append(LimitLine(vital, "rise", known[1] + lim.rise, rise_from, until, version.version,
                                       is_open))
    return lines


def dose_baselines(anchor: datetime | None, base: Baseline) -> dict[str, KnownBaseline]:
    """The SBP and DBP baselines the rise alarms compare against, known from the dose (`anchor`) on."""
    if anchor is None or not base.fixed:
        return {}
    return {vital: (anchor, value) for vital, value in (("sbp", base.sbp), ("dbp", base.dbp)) if value is not None}


def stored_limit_lines(store: Store, session_id: int) -> list[LimitLine]:
    """The session's limit lines from its first to its newest stored reading or event (none without data)."""
    extent = store.samples.extent(session_id)
    if extent is None:
        return []
    anchor = anchor_time(store.samples.events(session_id))
    measurements = [] if anchor is None else nibp_measurements(store.samples.readings_of(session_id, NIBP_CODES))
    return limit_lines(store.limits.versions(session_id), *extent,
                       dose_baselines(anchor, baseline(measurements, anchor, anchor)))
