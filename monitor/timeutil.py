"""Conversions between aware datetimes and the integer microseconds the store keeps.

Integers keep time exact and comparisons cheap in SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(t: datetime) -> int:
    return (t - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def local_zone() -> tzinfo:
    """The machine's local zone, for wall-clock times of real (not relative-time) sessions."""
    return datetime.now().astimezone().tzinfo or UTC
