"""The monitor's own alarms: IHE PCD-04 ORU^R40 messages read into `monitor_alarm` events, and written.

A PCD-04 alarm is a group of OBX rows: the alarm itself (OBX-3 MDC_EVT_ALARM or another `MDC_EVT_…` /
`MDCX_EVT_…` code, OBX-5 naming what is alarmed, e.g. `196674^MDC_EVT_LO^MDC`), then its attributes, each
an OBX of its own: MDC_ATTR_ALERT_SOURCE (the measurement, e.g. SpO2), MDC_ATTR_EVENT_PHASE (start, end,
present, …), MDC_ATTR_ALARM_STATE or MDC_ATTR_ALERT_STATE (active, inactive, latched, …),
MDC_ATTR_ALARM_PRIORITY (PH, PM, PL, PN), MDC_ATTR_ALERT_TYPE (SP physiological, ST technical, SA advisory)
and MDC_ATTR_ALERT_TEXT. Vendors give these attributes different numeric codes (Mindray 68481 for the phase,
others 68165), so they are recognised by their reference id (OBX-3.2), which all of them write.

Each alarm becomes one event of kind MONITOR_ALARM whose text reads "SpO2 MDC_EVT_LO: start, active, high
priority" — the monitor's alarm, recorded on the bed's time line. Monitors repeat an ongoing alarm (phase
`continue` or `present`); the decoder records an alarm again only when what it says of it changed. It is
never one of Vigil's own alarms (those come from the alarm engine and the bed's limits): the engine ignores
this kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from adapters.model.reading import Event
from adapters.model.vitals import BY_MDC
from adapters.protocols.hl7_mllp.message import CR, EB, SB, format_dtm, nth, parse_dtm

MONITOR_ALARM = "monitor_alarm"
_PRIORITY = {"PH": "high priority", "PM": "medium priority", "PL": "low priority", "PN": "no priority"}
_TYPE = {"SP": "physiological", "ST": "technical", "SA": "advisory"}
_ATTRIBUTES = {
    "MDC_ATTR_ALERT_SOURCE": "source",
    "MDC_ATTR_EVENT_PHASE": "phase",
    "MDC_ATTR_ALARM_STATE": "state",
    "MDC_ATTR_ALERT_STATE": "state",
    "MDC_ATTR_ALARM_PRIORITY": "priority",
    "MDC_ATTR_ALERT_TYPE": "type",
    "MDC_ATTR_ALERT_TEXT": "text",
}
MAX_TEXT = 200  # of an event's text: a sender's free text is kept, never without bound


def alarm_events(segments: Sequence[str], fs: str, cs: str, default_time: str, tz: tzinfo | None,
                 source: str) -> tuple[list[tuple[str, Event]], list[str]]:
    """The alarms of an ORU^R40's segments as events, each with what identifies its alarm (what is alarmed,
    on which source: a monitor repeating an alarm's state says the same of the same alarm), and the stats keys
    of what was skipped (`bad_time`, `no_offset_times`, `empty_alarms`: a message with no alarm row in it)."""
    alarms: list[dict[str, str]] = []
    group_time = default_time
    for segment in segments:
        fields = segment.split(fs)
        if fields[0] == "OBR":
            group_time = nth(fields, 7).strip() or default_time
            continue
        if fields[0] != "OBX":
            continue
        ident = nth(fields, 3).split(cs)
        ref = (ident[1] if len(ident) > 1 else "").strip().upper()
        if ref.startswith(("MDC_EVT", "MDCX_EVT")):
            alarms.append({"what": _name(nth(fields, 5), cs), "flags": nth(fields, 8),
                           "time": nth(fields, 14).strip() or group_time})
        elif alarms and ref in _ATTRIBUTES:
            value = nth(fields, 5)
            alarms[-1][_ATTRIBUTES[ref]] = _name(value, cs) if _ATTRIBUTES[ref] == "source" else value.strip()
    if not alarms:
        return [], ["empty_alarms"]
    events: list[tuple[str, Event]] = []
    skipped: list[str] = []
    for alarm in alarms:
        t = parse_dtm(alarm["time"], tz)
        if isinstance(t, str):
            skipped.append(t)
            continue
        identity = f"{alarm.get('source', '')}|{alarm['what']}|{alarm.get('text', '')}"
        events.append((identity, Event(t, MONITOR_ALARM, _describe(alarm), source=source)))
    return events, skipped


def _name(value: str, cs: str) -> str:
    """A coded value as people read it: the vital's label for an MDC code Vigil knows, else the text given."""
    parts = [p.strip() for p in value.split(cs)]
    if parts[0].isdigit() and int(parts[0]) in BY_MDC:
        return BY_MDC[int(parts[0])].label
    alternate = parts[8] if len(parts) > 8 else ""  # CWE.9, original text
    return alternate or (parts[1] if len(parts) > 1 and parts[1] else parts[0])


def _describe(alarm: dict[str, str]) -> str:
    """`SpO2 MDC_EVT_LO (alarm text): start, active, high priority, physiological`, parts the sender gave."""
    flags = alarm["flags"].upper().split("~")  # OBX-8, e.g. A~PH~SP: priority and type when no attribute has them
    priority = alarm.get("priority") or next((f for f in flags if f in _PRIORITY), "")
    kind = alarm.get("type") or next((f for f in flags if f in _TYPE), "")
    head = " ".join(p for p in (alarm.get("source", ""), alarm["what"]) if p) or "alarm"
    if alarm.get("text"):
        head += f" ({alarm['text']})"
    details = [alarm.get("phase", ""), alarm.get("state", ""), _PRIORITY.get(priority.upper(), priority),
               _TYPE.get(kind.upper(), kind)]
    text = head + (": " + ", ".join(d for d in details if d) if any(details) else "")
    return text[:MAX_TEXT]


def encode_r40(t: datetime, *, control_id: str, sender: str, source_mdc: int, source_ref: str, event: str,
               phase: str, priority: str, state: str = "active") -> bytes:
    """One MLLP-framed PCD-04 ORU^R40 for a physiological alarm, e.g. `event` "196674^MDC_EVT_LO" on the
    measurement `source_mdc`/`source_ref` (150456, MDC_PULS_OXIM_SAT_O2), `phase` start or end,
    `priority` PH, PM or PL. Byte-exact for the same input."""
    when = format_dtm(t)
    sub = "1.0.0.1"
    segments = [
        f"MSH|^~\\&|{sender}||||{when}||ORU^R40^ORU_R40|{control_id}|P|2.6|||NE|AL|||||"
        "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO",
        "PID",
        f"OBR|1|{control_id}^{sender}|{control_id}^{sender}|196616^MDC_EVT_ALARM^MDC|||{when}",
        f"OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|{sub}.1|{event}^MDC|||A~{priority}~SP|||R|||{when}",
        f"OBX|2|CWE|68480^MDC_ATTR_ALERT_SOURCE^MDC|{sub}.2|{source_mdc}^{source_ref}^MDC||||||R",
        f"OBX|3|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|{sub}.3|{phase}||||||R",
        f"OBX|4|ST|68482^MDC_ATTR_ALARM_STATE^MDC|{sub}.4|{state}||||||R",
        f"OBX|5|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|{sub}.6|{priority}||||||R",
        f"OBX|6|ST|68485^MDC_ATTR_ALERT_TYPE^MDC|{sub}.7|SP||||||R",
    ]
    return bytes([SB]) + "\r".join([*segments, ""]).encode("ascii") + bytes([EB, CR])
