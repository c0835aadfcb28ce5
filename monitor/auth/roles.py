"""Roles and what each may do. The server checks these on every request; the screen only mirrors them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    NURSE = "nurse"
    CLINICIAN = "clinician"
    TESTER = "tester"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW = "view"  # the bed view, the stream, history and records
    ACKNOWLEDGE = "acknowledge"
    EVENTS = "events"  # dose events on the session strip
    NOTES = "notes"
    END = "end"  # end a session that the discharge guard allows
    OVERRIDE = "override"  # proceed past the BP gate, end despite the discharge guard
    # Correct the time of an entered dose event, or withdraw it: it moves the session's time zero, and with it
    # every checkpoint, the baseline and the discharge time, so it is a clinician's call, like an override.
    AMEND = "amend"
    LIMITS = "limits"
    SETUP = "setup"  # session type, patient label, bed, preset
    REPLAY = "replay"  # pause, speed, seek
    AUDIT = "audit"  # the audit page across sessions and users
    USERS = "users"


_NURSE = {Permission.VIEW, Permission.ACKNOWLEDGE, Permission.EVENTS, Permission.NOTES, Permission.END}
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.NURSE: frozenset(_NURSE),
    Role.CLINICIAN: frozenset(_NURSE | {Permission.OVERRIDE, Permission.AMEND, Permission.LIMITS, Permission.SETUP,
                                           Permission.AUDIT}),
    Role.TESTER: frozenset({Permission.VIEW, Permission.REPLAY}),
    Role.ADMIN: frozenset({Permission.VIEW, Permission.USERS, Permission.AUDIT}),
}
EVERYTHING = frozenset(Permission)  # a local demo without sign-in


def permissions(role: str) -> frozenset[Permission]:
    """What `role` may do; an unknown role (a hand-edited database) may do nothing."""
    try:
        return PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()
