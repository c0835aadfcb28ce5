"""The bed view's component ids, named: the layout and the callbacks both take them from here, so grep finds
every use of a component and a renamed id cannot leave a callback pointing at nothing.

The browser scripts get the few ids they use themselves (`set_props`, a query selector, which button was
clicked) from the page's config (`browser_ids`); they hold no id of their own.
"""

from __future__ import annotations

from typing import Any

# Header
ELAPSED = "elapsed"
CLOCK_TEXT = "clock-text"
LINK_STATUS = "link-status"
NO_LOGIN_BADGE = "no-login-badge"
SIGNED_IN_AS = "signed-in-as"
SIGN_OUT = "sign-out"

# Numerics: one tile per key, each with its value, its age and its alarm limits; the NIBP tile also shows the MAP
# and when the cuff measured and cycles next.
TILE_KEYS = ("bp", "hr", "spo2", "pr", "rr")
NUM_MAP = "num-map"
NIBP_CYCLE = "nibp-cycle"


def tile(key: str) -> str:
    return f"tile-{key}"


def number(key: str) -> str:
    return f"num-{key}"


def age(key: str) -> str:
    return f"age-{key}"


def limits(key: str) -> str:
    return f"limits-{key}"


# Trend and replay
TREND = "trend"
TREND_VIEW = "trend-view"  # the live window, or the whole session (looking back)
TREND_SESSION = "trend-session"  # the whole session's figure, from the server
REPLAY_BAR = "replay-bar"
REPLAY_PLAY = "replay-play"
REPLAY_SPEED = "replay-speed"
REPLAY_SEEK = "replay-seek"
REPLAY_POSITION = "replay-position"
SEEK_REQUEST = "seek-request"

# Alarm bar
ALARM_BAR = "alarm-bar"
ALARM_BANNER = "alarm-banner"
ACK_BUTTON = "ack-button"
AUDIO_PAUSE = "audio-pause"
SOUND_TOGGLE = "sound-toggle"

# Panels (tabs) and their grids
PANELS = "panels"
ALARM_HISTORY = "alarm-history"
AUDIT_GRID = "audit-grid"
VITALS_TABLE = "vitals-table"  # one row per NIBP cycle, with the HR and SpO2 at its time

# Session strip
SESSION_STRIP = "session-strip"
SESSION_TYPE = "session-type"
SESSION_PATIENT = "session-patient"
NEXT_CHECKPOINT = "next-checkpoint"
OBSERVATION = "observation"
END_BUTTON = "end-button"
DOSE_HINT = "dose-hint"  # why a dose button is not available yet
SESSION_MESSAGE = "session-message"
DOSE_BUTTON = "dose-btn"  # the pattern-matching type of the dose buttons, one per kind


def dose_button(kind: Any) -> dict:
    """A dose button's id; `kind` ALL matches them all."""
    return {"type": DOSE_BUTTON, "kind": kind}


# Session tab
SETUP_TYPE = "setup-type"
SETUP_PATIENT = "setup-patient"
SETUP_BED = "setup-bed"
SETUP_PRESET = "setup-preset"
SETUP_SAVE = "setup-save"
SETUP_MESSAGE = "setup-message"
BASELINE_BOX = "baseline-box"
CHECKPOINT_LIST = "checkpoint-list"
NOTE_TEXT = "note-text"
NOTE_ADD = "note-add"
AMEND_EVENT = "amend-event"  # correcting or withdrawing an entered event
AMEND_TIME = "amend-time"
AMEND_REASON = "amend-reason"
AMEND_CORRECT = "amend-correct"
AMEND_WITHDRAW = "amend-withdraw"
AMEND_MESSAGE = "amend-message"

# Gate dialog (the advisory pre-dose BP gate)
GATE_MODAL = "gate-modal"
GATE_FINDINGS = "gate-findings"
GATE_REASON = "gate-reason"
GATE_PROCEED = "gate-proceed"
GATE_MESSAGE = "gate-message"
GATE_KIND = "gate-kind"

# End dialog
END_MODAL = "end-modal"
READINESS = "readiness"
OVERRIDE_REASON = "override-reason"
READY_MIN = "ready-min"
END_CONFIRM = "end-confirm"
END_MESSAGE = "end-message"

# Limits tab
LIMITS_PRESET = "limits-preset"
LIMITS_VERSION = "limits-version"
LIMITS_APPLY = "limits-apply"
LIMITS_READ_ONLY = "limits-read-only"
LIMITS_MESSAGE = "limits-message"
LIMITS_NOTICE = "limits-notice"  # says whose new version replaced a user's unapplied edits
LIMITS_SHOWN = "limits-shown"  # the limits version the fields were filled from
LIMITS_IN_FORCE = "limits-in-force"  # the limits version in force, as the stream last told it
LIMIT_FIELD = "limit-field"  # the pattern-matching type of the limits editor's fields


def limit_field(group: Any, key: Any) -> dict:
    """A limits-editor field's id: `group` a vital code or "technical"; ALL for both matches them all."""
    return {"type": LIMIT_FIELD, "group": group, "key": key}


# Stores: what the page holds and what drives the clientside callbacks
SHOWN_SESSION = "shown-session"  # the session this page shows: the one its server callbacks act on
STREAM_CONFIG = "stream-config"
LATEST = "latest"
ALARMS_INITIAL = "alarms-initial"
ALARM_TICK = "alarm-tick"
SESSION_STATE = "session-state"


def browser_ids() -> dict[str, Any]:
    """The ids the bed view's scripts use themselves, by the names they use them under; `tiles` by tile key.

    The scripts write the elements of the numerics, the clocks, the session strip's countdowns and the alarm
    banner themselves (assets/vigil_dom.js): no callback outputs to them."""
    return {
        "linkStatus": LINK_STATUS, "sessionState": SESSION_STATE, "alarmTick": ALARM_TICK,
        "trend": TREND, "trendSession": TREND_SESSION, "latest": LATEST,
        "audioPause": AUDIO_PAUSE, "soundToggle": SOUND_TOGGLE, "limitsInForce": LIMITS_IN_FORCE,
        "tiles": {key: {"tile": tile(key), "number": number(key), "age": age(key), "limits": limits(key)}
                  for key in TILE_KEYS},
        "map": NUM_MAP, "cycle": NIBP_CYCLE, "elapsed": ELAPSED, "clock": CLOCK_TEXT,
        "next": NEXT_CHECKPOINT, "observation": OBSERVATION, "checkpoints": CHECKPOINT_LIST,
        "alarmBar": ALARM_BAR, "alarmBanner": ALARM_BANNER, "replayPosition": REPLAY_POSITION,
    }
