"""Session types and their timelines of checkpoints.

The numbers are design defaults resting on the SPRAVATO (esketamine) prescribing information and REMS
and on published blood-pressure studies of IV ketamine, each named where it is used.

Times are minutes from the session's anchor: the first dose event (`dose_start` for an IV infusion,
`device_1` for intranasal esketamine). A checkpoint opens before it is due, so a measurement a few
minutes early counts; an NIBP checkpoint with `overdue_min` becomes a technical alarm when nothing
was measured by then. Event checkpoints (a dose end, the next device) are prompts, never alarms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from adapters.model.reading import Event


@dataclass(frozen=True)
class Checkpoint:
    key: str  # stable identity, e.g. "bp-40"
    label: str  # what the nurse reads, e.g. "BP at 40 min"
    at_min: float  # due, minutes from the anchor
    opens_min: float  # a measurement from here on satisfies it
    overdue_min: float | None = None  # none by then: overdue (a technical alarm); None: a prompt only
    event_kind: str | None = None  # satisfied by this event instead of an NIBP reading
    optional: bool = False  # shown, but never "the next checkpoint" (e.g. device 3 is only for 84 mg)
    rems: bool = False  # a field of the SPRAVATO REMS patient monitoring form

    @property
    def is_nibp(self) -> bool:
        return self.event_kind is None


@dataclass(frozen=True)
class SessionType:
    name: str
    label: str
    anchor_label: str  # what the anchor event is called on screen
    dose_buttons: tuple[str, ...]  # the event kinds a nurse enters with one click, in order
    checkpoints: tuple[Checkpoint, ...]
    expect_dose: bool  # the rise baseline comes from the 15 min before the anchor (alarm engine)
    preset: str | None  # the limits preset offered at set-up
    peak_window_min: tuple[float, float] | None = None  # the expected BP peak, shaded on the trend
    min_observation_min: float | None = None  # "end session" refused before this without an override
    planned_observation_min: float | None = None  # shown as the observation countdown when no minimum
    gate_advisory: tuple[float, float] | None = None  # pre-dose BP above (SBP, DBP): advisory
    gate_severe: tuple[float, float] | None = None  # at or above (SBP, DBP): strong advisory

    @property
    def observation_min(self) -> float | None:
        return self.min_observation_min or self.planned_observation_min


def _nibp(at: float, lead: float, grace: float | None, *, rems: bool = False) -> Checkpoint:
    return Checkpoint(f"bp-{at:g}", f"BP at {at:g} min", at, at - lead, None if grace is None else at + grace,
                      rems=rems)


# IV racemic ketamine, 0.5 mg/kg over ~40 min: NIBP q10 min during the infusion, overdue at interval
# + 2 min, and q15 min after it (the schedule of Riva-Posse et al., J Affect Disord 2018) until the
# discharge assessment ~90 min after its end. A reading up to half an interval early counts. The q15
# checkpoints are prompts: the cuff cycle after the infusion drifts from the infusion's start, and the
# preset's NIBP-overdue alarm (interval + 2 min) already guards it — alarming on the fixed grid too
# would alarm on a sound cycle.
IV_KETAMINE = SessionType(
    name="iv-ketamine",
    label="IV ketamine",
    anchor_label="infusion start",
    dose_buttons=("dose_start", "dose_end"),
    checkpoints=(
        *(_nibp(t, 5, 2) for t in (10, 20, 30)),
        Checkpoint("dose-end", "Infusion end", 40, 40, event_kind="dose_end"),
        _nibp(40, 5, 2),
        *(_nibp(t, 7.5, None) for t in (55, 70, 85, 100, 115, 130)),
    ),
    expect_dose=True,
    preset="iv-ketamine",
    peak_window_min=(30, 40),  # peak at 30 min (Riva-Posse 2018), 40 (Yale, 2024), 30-40 (741 infusions, ~2019)
    planned_observation_min=130,  # BP back toward baseline within ~90 min of the infusion's end (Szarmach 2020)
    gate_advisory=(140, 90),  # pre-start gate: a design default, esketamine's general guide
    gate_severe=(180, 110),
)

# Intranasal esketamine (SPRAVATO prescribing information and REMS): devices 5 min apart (device 3
# only for 84 mg); BP at 40 min is mandatory and a technical alarm if none by 45 min; BP again before
# discharge, which is not before 120 min after the first device.
ESKETAMINE = SessionType(
    name="esketamine",
    label="Esketamine (intranasal)",
    anchor_label="first device",
    dose_buttons=("device_1", "device_2", "device_3"),
    checkpoints=(
        Checkpoint("device-2", "Device 2", 5, 5, event_kind="device_2"),
        Checkpoint("device-3", "Device 3 (84 mg)", 10, 10, event_kind="device_3", optional=True),
        _nibp(40, 5, 5, rems=True),
        Checkpoint("bp-discharge", "BP before discharge", 120, 105, rems=True),
    ),
    expect_dose=True,
    preset="esketamine",
    peak_window_min=(30, 45),  # BP peak ~40 min (prescribing information); sedation peak 30-45 min (J&J)
    min_observation_min=120,  # prescribing information / REMS: at least 2 h
    gate_advisory=(140, 90),  # the label's general guide for pre-dose BP
    gate_severe=(180, 110),
)

OTHER = SessionType(
    name="other",
    label="Other",
    anchor_label="dose",
    dose_buttons=("dose_start", "dose_end"),
    checkpoints=(),
    expect_dose=False,
    preset=None,
)

SESSION_TYPES: dict[str, SessionType] = {t.name: t for t in (IV_KETAMINE, ESKETAMINE, OTHER)}


def session_type(name: str | None) -> SessionType:
    """The type by name; an unknown or missing name is `other` (a session is never refused a view)."""
    return SESSION_TYPES.get(name or "other", OTHER)


def recorded_type(events: Iterable[Event]) -> str:
    """The session type a recording's own dose events imply, when none is named."""
    kinds = {e.kind for e in events}
    if "device_1" in kinds:
        return "esketamine"
    return "iv-ketamine" if "dose_start" in kinds else "other"
