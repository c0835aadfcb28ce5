"""GE S/5 Datex-Ohmeda records: the 40-byte header, the transmission request, and PHDB subrecords.

Layouts from GE's "S/5 Computer Interface Specification" (M1017617, cited as GE-CI) and "Datex-Ohmeda
Record Specification" (8005313, GE-DRI), offsets verified on the captures in tests/data/ge_s5.
Everything is little-endian and byte-packed. Both directions live here because the decoder parses what
the emulator builds: one table of offsets serves both, so they cannot drift apart.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.protocols.ge_s5.framing import HEADER_LEN

# r_maintype (GE-DRI §2.2)
MT_PHDB = 0
MT_WAVE = 1
MT_ALARM = 4
MT_NETWORK = 5
MT_FO = 8

# Physiological-database subrecord types; 0 in a request is the transmission request itself.
SR_REQUEST = 0
PH_DISPL = 1
PH_10S_TREND = 2
PH_60S_TREND = 3
EOL_SUBR_LIST = 0xFF

# phdb_class_bf of a request (GE-DRI Table 3-3); basic is sent unless denied.
CLASS_DENY_BASIC = 0x0001
CLASS_REQ_EXT1 = 0x0002
CLASS_REQ_EXT2 = 0x0004
CLASS_REQ_EXT3 = 0x0008
CLASS_BASIC, CLASS_EXT1, CLASS_EXT2, CLASS_EXT3 = 0, 1, 2, 3

# Group status bits (GE-DRI Table 3-8) and NIBP label bits (Table 3-18).
STATUS_EXISTS = 0x1
STATUS_ACTIVE = 0x2
# ECG status bits 3-6: where the displayed heart rate comes from (GE-DRI Table 3-11). Only these are
# an ECG heart rate; the others (an arterial line, the pleth) are pulse rates.
HR_SOURCE_SHIFT, HR_SOURCE_MASK = 3, 0xF
HR_SOURCES_ECG = frozenset({0, 1, 9})  # unknown (older monitors leave it 0), ECG, ECG Mortara
NIBP_AUTO = 1 << 3
NIBP_MEASURING = 1 << 5
NIBP_OLDER_THAN_60S = 1 << 8

# Special values (GE-DRI Table 3-9): the smallest valid value is -32000.
DATA_INVALID = -32767
INVALID_LIMIT = -32001

HEADER = struct.Struct("<hBBHIBBHh")  # r_len … r_maintype: 16 bytes, then 8 subrecord descriptors
SR_DESC = struct.Struct("<hB")
N_SR_DESC = 8
REQUEST = struct.Struct("<BhIh")  # phdb_rcrd_type, tx_ival, phdb_class_bf, reserved
PHDB_LEN = 278  # time u32 + 270 bytes of class data + marker + reserved + cl_drilvl_subt
PHYSDATA_LEN = 270
GROUP_HEADER = struct.Struct("<IH")  # status, label
I16 = struct.Struct("<h")


@dataclass(frozen=True)
class Field:
    """One numeric of the basic class: its group's offset in physdata, its own offset, its unit divisor."""

    group: str
    group_offset: int
    offset: int  # from the group start, past the 6-byte group header
    divisor: int  # wire value / divisor = value in Vigil's unit (1/100 mmHg, 1/100 %); dividing keeps 95.71 exact


# The basic-class numerics Vigil's vital table knows (GE-DRI `basic_phdb`). Respiration rate has three
# possible sources; the decoder takes the first that is measuring, in this order.
BASIC_FIELDS: dict[str, tuple[Field, ...]] = {
    "hr": (Field("ecg", 0, 6, 1),),
    "sbp": (Field("nibp", 72, 6, 100),),
    "dbp": (Field("nibp", 72, 8, 100),),
    "map": (Field("nibp", 72, 10, 100),),
    "spo2": (Field("spo2", 118, 6, 100),),
    "pr": (Field("spo2", 118, 8, 1),),
    "rr": (Field("co2", 132, 10, 1), Field("flow_vol", 178, 6, 1), Field("ecg", 0, 14, 1)),
}
NIBP_GROUP_OFFSET = 72
# Every group of `basic_phdb` as (offset, length): all start with the 6-byte status/label header except
# `ecg_extra`; bytes 268-269 are reserved. An encoder needs them all to mark absent modules correctly.
BASIC_GROUPS: tuple[tuple[int, int], ...] = (
    (0, 16), (16, 14), (30, 14), (44, 14), (58, 14), (72, 14), (86, 8), (94, 8), (102, 8), (110, 8),
    (118, 14), (132, 14), (146, 10), (156, 10), (166, 12), (178, 22), (200, 14), (214, 12), (232, 8),
    (240, 14), (254, 14),
)
ECG_EXTRA = (226, 6)


@dataclass(frozen=True)
class Header:
    r_len: int
    r_nbr: int
    dri_level: int
    plug_id: int
    r_time: int
    maintype: int
    subrecords: tuple[tuple[int, int], ...]  # (offset from the data area, type), up to the end-of-list


def strip_stray_zeros(record: bytes) -> bytes:
    """A record preceded by stray 0x00 bytes inside its frame (seen in the db01 capture: the sum still
    verifies, as zeros add nothing) is the record without them, when its length field then fits."""
    rest = record.lstrip(b"\x00")
    if 0 < len(record) - len(rest) < 4 and int.from_bytes(rest[:2], "little") == len(rest) >= HEADER_LEN:
        return rest
    return record


def parse_header(record: bytes) -> Header:
    """The header of a checksum-verified record; raises ValueError if it cannot describe this record."""
    if len(record) < HEADER_LEN:
        raise ValueError("shorter than a record header")
    r_len, r_nbr, level, plug_id, r_time, _, _, _, maintype = HEADER.unpack_from(record)
    if r_len != len(record):
        raise ValueError(f"r_len {r_len} but {len(record)} bytes")
    subrecords = []
    for i in range(N_SR_DESC):
        offset, kind = SR_DESC.unpack_from(record, HEADER.size + i * SR_DESC.size)
        if kind == EOL_SUBR_LIST:
            break
        subrecords.append((offset, kind))
    return Header(r_len, r_nbr, level, plug_id, r_time, maintype, tuple(subrecords))


def _header(r_len: int, r_nbr: int, dri_level: int, r_time: int, maintype: int,
            subrecords: list[tuple[int, int]]) -> bytes:
    descriptors = [*subrecords, (0, EOL_SUBR_LIST)]
    descriptors += [(0, 0)] * (N_SR_DESC - len(descriptors))
    return HEADER.pack(r_len, r_nbr, dri_level, 0, r_time, 0, 0, 0, maintype) + b"".join(
        SR_DESC.pack(offset, kind) for offset, kind in descriptors
    )


def encode_request(subtype: int = PH_DISPL, interval_s: int = 5, classes: int = 0, dri_level: int = 0) -> bytes:
    """A physiological-data transmission request record (GE-CI §3): 49 bytes, unframed.

    `interval_s`: -1 one record, 0 stop, ≥ 1 periodic (GE-CI asks ≥ 5 for displayed values; the
    CARESCAPE monitors in the captures answer every second when asked for 1).
    """
    body = REQUEST.pack(subtype, interval_s, classes, 0)
    return _header(HEADER_LEN + len(body), 0, dri_level, 0, MT_PHDB, [(0, SR_REQUEST)]) + body


@dataclass(frozen=True)
class Request:
    subtype: int
    interval_s: int
    classes: int


def parse_request(record: bytes) -> Request | None:
    """The transmission request a record carries, or None if it is not one (cheap for any other record:
    the decoder asks this of every record it receives)."""
    if len(record) != HEADER_LEN + REQUEST.size:
        return None
    try:
        header = parse_header(record)
    except ValueError:
        return None
    if header.maintype != MT_PHDB or header.subrecords[:1] != ((0, SR_REQUEST),):
        return None
    subtype, interval, classes, _ = REQUEST.unpack_from(record, HEADER_LEN)
    return Request(subtype, interval, classes)


@dataclass(frozen=True)
class Subrecord:
    """One `dri_phdb`: its time, class and the 270 bytes of class data."""

    kind: int
    time: int
    cls: int
    physdata: bytes


def parse_phdb(record: bytes, header: Header) -> list[Subrecord]:
    """The physiological subrecords of a PHDB record; the class comes from `cl_drilvl_subt` bits 8–11,
    never from the position (a monitor that denies basic sends extended classes first)."""
    out = []
    for offset, kind in header.subrecords:
        start = HEADER_LEN + offset
        if offset < 0 or start + PHDB_LEN > len(record):
            raise ValueError(f"subrecord at {offset} runs past the record")
        (time,) = struct.unpack_from("<I", record, start)
        (cl_drilvl_subt,) = struct.unpack_from("<H", record, start + 276)
        out.append(Subrecord(kind, time, (cl_drilvl_subt >> 8) & 0x0F, record[start + 4:start + 4 + PHYSDATA_LEN]))
    return out


def group_status(physdata: bytes, group_offset: int) -> tuple[int, int]:
    """(status, label) of the group at this offset."""
    status, label = GROUP_HEADER.unpack_from(physdata, group_offset)
    return status, label


def raw_value(physdata: bytes, f: Field) -> int:
    (value,) = I16.unpack_from(physdata, f.group_offset + f.offset)
    return value


# -- building records (the emulator's side) --


def encode_basic(values: Mapping[str, float | None], nibp_label: int = 0) -> bytes:
    """270 bytes of basic-class data: every group Vigil knows marked exists+active when it has a value,
    each numeric scaled to the wire unit; everything else DATA_INVALID with status 0."""
    data = bytearray(PHYSDATA_LEN)
    for offset, length in (*BASIC_GROUPS, ECG_EXTRA):
        first = offset if (offset, length) == ECG_EXTRA else offset + GROUP_HEADER.size
        for i in range(first, offset + length, 2):
            I16.pack_into(data, i, DATA_INVALID)
    for vital, fields in BASIC_FIELDS.items():
        value = values.get(vital)
        if value is None:
            continue
        f = fields[0]
        I16.pack_into(data, f.group_offset + f.offset, round(value * f.divisor))
        GROUP_HEADER.pack_into(data, f.group_offset, STATUS_EXISTS | STATUS_ACTIVE,
                               nibp_label if f.group == "nibp" else 0)
    if nibp_label & NIBP_MEASURING:  # the cuff is inflating: the group is active without new values
        status, _ = GROUP_HEADER.unpack_from(data, NIBP_GROUP_OFFSET)
        GROUP_HEADER.pack_into(data, NIBP_GROUP_OFFSET, status | STATUS_EXISTS | STATUS_ACTIVE, nibp_label)
    return bytes(data)


def encode_subrecord(time: int, cls: int, physdata: bytes, dri_level: int) -> bytes:
    """One `dri_phdb`: time, class data, marker 0, and `cl_drilvl_subt` as the captures carry it
    (class in bits 8–11, DRI level in bits 4–7, subtype DISPL in bits 0–3)."""
    if len(physdata) != PHYSDATA_LEN:
        raise ValueError("physdata must be 270 bytes")
    return struct.pack("<I", time) + physdata + b"\x00\x00" + struct.pack(
        "<H", (cls << 8) | ((dri_level & 0x0F) << 4) | PH_DISPL
    )


def encode_phdb(r_nbr: int, r_time: int, subrecords: list[bytes], dri_level: int) -> bytes:
    """A PHDB record of DISPL subrecords, unframed."""
    offsets = [(i * PHDB_LEN, PH_DISPL) for i in range(len(subrecords))]
    data = b"".join(subrecords)
    return _header(HEADER_LEN + len(data), r_nbr & 0xFF, dri_level, r_time, MT_PHDB, offsets) + data
