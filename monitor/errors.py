"""Turning exceptions into the one line a user sees."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """An error's headline: database errors append SQL and links on further lines."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
