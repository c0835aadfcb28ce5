"""One received HL7 message, read as far as answering and routing it needs: its header, its type, who sent
it, and its acknowledgement. Pure functions over text; nothing here raises on what a sender wrote.

Who sent a message (`SenderIds`) is what a site matches a bed's `hl7_id` against, in this order — the most
specific first, since a gateway or central station sends for many devices under one MSH-3/MSH-4:

1. OBX-18, the equipment instance identifier of each OBX (IHE PCD: the device's EUI-64), in message order;
2. PV1-3, the assigned patient location (the bed as the monitor or its gateway knows it);
3. MSH-3, the sending application (a monitor in client mode names itself here);
4. MSH-4, the sending facility.

An identifier matches when `hl7_id` equals, ignoring case and surrounding blanks, the field as sent (trailing
empty components dropped) or one of its identifier components: an OBX-18's entity identifier or universal
id (EI.1, EI.3), an MSH-3/4's namespace id or universal id (HD.1, HD.2). Type components (`EUI-64`) never
match on their own. PV1-3 matches only whole (`Recovery^Bay^2`): its single components (a bed "2") are not
unique.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.protocols.hl7_mllp.message import CR, EB, SB, is_segment, nth, read_header, split_segments, wants_ack

MAX_IDENTIFIERS = 8  # distinct OBX-18 values kept per message: a sender cannot grow a message's id list
MAX_ID_CHARS = 120  # of one identifier, as kept, logged and shown
ACCEPTED = {("ORU", "R01"), ("ORU", "R40")}  # IHE PCD-01 observations and PCD-04 alarms
_UNPRINTABLE = re.compile(r"[^ -~]")


@dataclass(frozen=True)
class SenderIds:
    """What a message says about its sender, each as sent (printable, at most MAX_ID_CHARS)."""

    equipment: tuple[str, ...] = ()  # OBX-18 values, distinct, in message order
    location: str = ""  # PV1-3
    application: str = ""  # MSH-3
    facility: str = ""  # MSH-4
    cs: str = "^"  # the component separator they are written with

    def candidates(self) -> list[str]:
        """Every text an `hl7_id` may equal, in match order, case-folded."""
        out: list[str] = []
        for value in self.equipment:
            out += _forms(value, self.cs, (0, 2))
        out += _forms(self.location, self.cs, ())
        out += _forms(self.application, self.cs, (0, 1))
        out += _forms(self.facility, self.cs, (0, 1))
        return out

    def describe(self) -> str:
        """One line naming every identifier sent, as an admin copies it into site.toml."""
        parts = [f"OBX-18 {v}" for v in self.equipment]
        parts += [f"{name} {v}" for name, v in (("PV1-3", self.location), ("MSH-3", self.application),
                                                 ("MSH-4", self.facility)) if v]
        return ", ".join(parts) or "no identifiers (MSH-3, MSH-4, PV1-3 and OBX-18 are all empty)"

    def key(self) -> tuple[str, ...]:
        """What tells one unknown sender from another."""
        return (*self.equipment, self.location, self.application, self.facility)


def _forms(value: str, cs: str, components: tuple[int, ...]) -> list[str]:
    whole = value.rstrip(cs + " ").strip()
    if not whole:
        return []
    parts = whole.split(cs)
    picked = [parts[i].strip() for i in components if i < len(parts) and parts[i].strip()]
    return list(dict.fromkeys(p.casefold() for p in [whole, *picked]))


@dataclass(frozen=True)
class Received:
    """A framed message with a readable MSH: what it is and how it asked to be acknowledged.

    `outcome` is what the message itself allows: "A" (an accepted type, every segment readable), "E" (a
    segment that does not read as `XXX|…`), "R" (a type Vigil does not take)."""

    fs: str
    msh: list[str]  # MSH fields by HL7 number: msh[9] is MSH-9
    segments: list[str]  # the segments after MSH
    code: str  # MSH-9.1, e.g. ORU
    trigger: str  # MSH-9.2, e.g. R01
    outcome: str

    @property
    def cs(self) -> str:
        return self.msh[2][0]

    @property
    def control_id(self) -> str:
        return self.msh[10].strip()

    def sender(self) -> SenderIds:
        fs, cs = self.fs, self.cs
        equipment: dict[str, None] = {}
        location = ""
        for segment in self.segments:
            if segment.startswith("OBX" + fs) and len(equipment) < MAX_IDENTIFIERS:
                for value in nth(segment.split(fs), 18).split(self.msh[2][1:2] or "~"):
                    if value.strip(cs + " "):
                        equipment[_printable(value)] = None
            elif segment.startswith("PV1" + fs) and not location:
                location = _printable(nth(segment.split(fs), 3))
        return SenderIds(tuple(equipment)[:MAX_IDENTIFIERS], location, _printable(self.msh[3]),
                         _printable(self.msh[4]), cs)

    def ack_codes(self, outcome: str) -> list[str]:
        """The MSA-1 codes due for `outcome`, whether or not the message can be answered (a control id)."""
        if self.code == "ACK":  # acknowledgements are never acknowledged
            return []
        accept, application = self.msh[15].strip().upper(), self.msh[16].strip().upper()
        if not accept and not application:
            return ["A" + outcome]
        return [kind + outcome for kind, rule in (("C", accept), ("A", application)) if wants_ack(rule, outcome)]

    def ack(self, outcome: str, text: str = "", error: str = "") -> bytes:
        """The MLLP-framed acknowledgements this message asked for, with `outcome` (A, E or R): original mode
        (MSH-15/16 empty) always an application ACK; enhanced mode a commit ACK per MSH-15 and an application
        ACK per MSH-16 (AL, NE, ER, SU). `text` (MSA-3, and ERR-8 with `error` as ERR-3, an HL7 table 0357
        `code^name`) says why a message was not accepted. Empty when no ACK is due or it has no control id."""
        msh, fs = self.msh, self.fs
        codes = self.ack_codes(outcome)
        if not codes or not self.control_id:
            return b""
        cs = self.cs
        kind = cs.join(["ACK", self.trigger, "ACK"]) if self.trigger else "ACK"
        header = fs.join(["MSH", msh[2], msh[5], msh[6], msh[3], msh[4], msh[7], "", kind, msh[10], msh[11] or "P",
                          msh[12] or "2.6"])
        note = escape(text, fs, msh[2]) if text else ""
        out = bytearray()
        for code in codes:
            segments = [header, fs.join(["MSA", code, msh[10], note]) if note else fs.join(["MSA", code, msh[10]])]
            if error and note:
                segments.append(fs.join(["ERR", "", "", error.replace("^", cs), "E", "", "", "", note]))
            out += bytes([SB]) + "\r".join([*segments, ""]).encode("latin-1", "replace") + bytes([EB, CR])
        return bytes(out)


def read_message(frame: bytes) -> Received | None:
    """The message in one MLLP frame's bytes, or None when it has no readable MSH (nothing to answer).

    Latin-1 never fails, and fields echoed into an ACK go back byte for byte whatever charset MSH-18 names."""
    segments = split_segments(frame.decode("latin-1"))
    header = read_header(segments[0]) if segments else None
    if header is None:
        return None
    fs, msh = header
    kind = msh[9].split(msh[2][0])
    code, trigger = kind[0].strip(), (kind[1].strip() if len(kind) > 1 else "")
    if not all(is_segment(s, fs) for s in segments[1:]):
        outcome = "E"
    elif (code, trigger) not in ACCEPTED:
        outcome = "R"
    else:
        outcome = "A"
    return Received(fs, msh, segments[1:], code, trigger, outcome)


def escape(text: str, fs: str, encoding: str) -> str:
    """`text` as an HL7 field value: delimiters as the escape sequences \\F\\ \\S\\ \\R\\ \\E\\ \\T\\, line
    breaks as spaces (a CR would end the segment)."""
    padded = encoding + "    "
    cs, rs, esc, ss = padded[0], padded[1], padded[2], padded[3]
    names = {esc: "E", fs: "F", cs: "S", rs: "R", ss: "T"}
    out = []
    for c in text.replace("\r", " ").replace("\n", " "):
        out.append(f"{esc}{names[c]}{esc}" if c in names and c != " " else c)
    return "".join(out)


def _printable(value: str) -> str:
    return _UNPRINTABLE.sub("?", value.strip())[:MAX_ID_CHARS]
