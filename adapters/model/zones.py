"""Time zones by name: where device or file times that carry no UTC offset are read (never guessed)."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo


def parse_zone(text: str) -> tzinfo:
    """The IANA zone `text` names; a ValueError saying what is expected otherwise."""
    try:
        return ZoneInfo(text)
    except (KeyError, ValueError, OSError):
        raise ValueError(f"unknown time zone {text!r} (an IANA name such as Europe/Berlin)") from None
