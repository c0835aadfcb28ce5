"""What an IntelliVue monitor sends, built from the layouts `pdu` parses: the association answer, the MDS
Create Event Report and extended poll results (whole, or split into linked results). Used by the emulator
and by the tests, so monitor and decoder share one definition of every layout.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime

from adapters.protocols.philips_mib.pdu import (
    AARQ,
    AC_SPDU,
    CMD_CONFIRMED_ACTION,
    CMD_CONFIRMED_EVENT_REPORT,
    MDS_OBJECT,
    NOM_ACT_POLL_MDIB_DATA_EXT,
    NOM_ATTR_NU_CMPD_VAL_OBS,
    NOM_ATTR_NU_VAL_OBS,
    NOM_ATTR_TIME_ABS,
    NOM_ATTR_TIME_REL,
    NOM_ATTR_TIME_STAMP_ABS,
    NOM_MOC_VMO_METRIC_NU,
    NOM_NOTI_MDS_CREAT,
    NOM_PART_OBJ,
    RORLS,
    RORLS_FIRST,
    RORLS_LAST,
    RORLS_NOT_FIRST_NOT_LAST,
    RORS,
    encode_abs_time,
    encode_float,
    rose,
)

NOM_ATTR_ID_LABEL = 0x0924
# The answer to the AARQ: the decoder reads only its SPDU id (as VSCaptureMP does); the rest mirrors the request.
AARE = bytes((AC_SPDU,)) + AARQ[1:]


def attribute_list(avas: Sequence[tuple[int, bytes]]) -> bytes:
    body = b"".join(struct.pack(">HH", attr, len(value)) + value for attr, value in avas)
    return struct.pack(">HH", len(avas), len(body)) + body


def nu_value(physio_id: int, state: int, unit_code: int, value: float | int | None) -> bytes:
    """A NuObsValue; `value` None is NaN, an int above 0xFFFFFF a raw FLOAT-Type word (special values)."""
    if value is None:
        word = 0x007FFFFF
    elif isinstance(value, int) and value > 0xFFFFFF:
        word = value
    else:
        word = encode_float(value)
    return struct.pack(">HHHI", physio_id, state, unit_code, word)


def observation(handle: int, label: int, numeric: bytes | None = None, compound: Sequence[bytes] = (),
                stamp: datetime | None = None) -> bytes:
    """An ObservationPoll: its label, a NU_VAL_OBS or a NU_CMPD_VAL_OBS, and the measurement's time if given."""
    avas = [(NOM_ATTR_ID_LABEL, struct.pack(">I", 0x20000 | label))]
    if numeric is not None:
        avas.append((NOM_ATTR_NU_VAL_OBS, numeric))
    if compound:
        body = b"".join(compound)
        avas.append((NOM_ATTR_NU_CMPD_VAL_OBS, struct.pack(">HH", len(compound), len(body)) + body))
    if stamp is not None:
        avas.append((NOM_ATTR_TIME_STAMP_ABS, encode_abs_time(stamp)))
    return struct.pack(">H", handle) + attribute_list(avas)


def mds_create_event(invoke_id: int, event_time: int, abs_time: datetime | None, rel_time: int) -> bytes:
    attrs = attribute_list([(NOM_ATTR_TIME_ABS, encode_abs_time(abs_time)),
                            (NOM_ATTR_TIME_REL, struct.pack(">I", rel_time))])
    info = MDS_OBJECT + attrs
    body = MDS_OBJECT + struct.pack(">IHH", event_time, NOM_NOTI_MDS_CREAT, len(info)) + info
    return rose(1, invoke_id, CMD_CONFIRMED_EVENT_REPORT, body)


def poll_result(invoke_id: int, poll_number: int, rel_time: int, observations: Sequence[bytes],
                linked: tuple[int, int] | None = None, sequence: int = 0, abs_time: datetime | None = None) -> bytes:
    """One extended poll result: a RORS, or with `linked` (state, count) one RORLS part."""
    polls = b"".join(observations)
    context = struct.pack(">HHH", 0, len(observations), len(polls)) + polls
    info = struct.pack(">HH", 1, len(context)) + context
    reply = (struct.pack(">HHI", poll_number, sequence, rel_time) + encode_abs_time(abs_time)
             + struct.pack(">HHH", NOM_PART_OBJ, NOM_MOC_VMO_METRIC_NU, 0) + info)
    body = MDS_OBJECT + struct.pack(">HH", NOM_ACT_POLL_MDIB_DATA_EXT, len(reply)) + reply
    return rose(RORLS if linked else RORS, invoke_id, CMD_CONFIRMED_ACTION, body, linked)


def poll_results(invoke_id: int, poll_number: int, rel_time: int, observations: Sequence[bytes],
                 max_bytes: int, abs_time: datetime | None = None) -> list[bytes]:
    """The result as the monitor sends it: one RORS if it fits in `max_bytes` of observations, otherwise
    RORLS parts (first, middle…, last), each with whole observations, and a closing empty RORS."""
    parts: list[list[bytes]] = [[]]
    for obs in observations:
        if parts[-1] and sum(map(len, parts[-1])) + len(obs) > max_bytes:
            parts.append([])
        parts[-1].append(obs)
    if len(parts) == 1:
        return [poll_result(invoke_id, poll_number, rel_time, parts[0], abs_time=abs_time)]
    out = []
    for i, part in enumerate(parts, 1):
        state = RORLS_FIRST if i == 1 else RORLS_LAST if i == len(parts) else RORLS_NOT_FIRST_NOT_LAST
        out.append(poll_result(invoke_id, poll_number, rel_time, part, (state, i), abs_time=abs_time))
    return [*out, poll_result(invoke_id, poll_number, rel_time, [], abs_time=abs_time)]
