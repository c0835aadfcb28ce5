"""site.toml: the beds one `vigil serve` runs, read and checked whole before anything starts.

A site file is refused on its first problem, in one line naming the key and the line it is on
(`site.toml, line 12: beds[2].port: …`; beds are counted from 1 as they appear), so nothing is opened,
started or written for a file that would run only half a site. tomllib reads the values; it keeps no
positions, so the lines come from scanning the text for the tables and keys as site files write them
(`_key_lines`): a key it cannot place is named with its table's line. Checking reads the files a bed names
(its limits, its recording's presence) and nothing else: no store, no port, no thread.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from adapters.files.csv_reader import CsvError, RecordedSession
from adapters.files.recording import read_recording
from adapters.files.replay import parse_speed
from adapters.protocols import PROTOCOLS, ProtocolSpec, protocol
from adapters.transport.mllp_listener import parse_address
from adapters.transport.serial_link import LinkConfig
from monitor.errors import first_line
from monitor.limits.model import DEFAULT_PRESET, PRESETS, Limits, LimitsError, load_limits, load_preset
from monitor.session.types import SESSION_TYPES, session_type
from monitor.store.beds import check_bed_id

LINE_KEYS = {"baud": "baudrate", "parity": "parity", "bytesize": "bytesize", "stopbits": "stopbits", "rtscts": "rtscts"}
BED_KEYS = ("id", "label", "port", "protocol", *LINE_KEYS, "clock", "type", "limits", "hl7_id", "replay", "speed")
OPTION_KEYS = {o.name for spec in PROTOCOLS.values() for o in spec.options}  # each protocol's own, e.g. interval
SITE_KEYS = ("name", "db", "hl7", "beds")
log = logging.getLogger(__name__)
SERIAL_SCHEMES = ("loop", "socket", "rfc2217", "spy", "hwgrep", "alt", "cp2110")  # pyserial's URL handlers
NETWORK_SCHEMES = ("socket", "rfc2217")  # host:port after the scheme
DB_SCHEMES = re.compile(r"(sqlite|postgresql)(\+\w+)?")
LINE_CHOICES = {"parity": ("N", "E", "O", "M", "S"), "bytesize": (5, 6, 7, 8), "stopbits": (1, 1.5, 2)}
HL7 = "hl7-mllp"


def _serial_url(url: str) -> bool:
    """Whether `url` can name a port: a device path, or a URL of one of pyserial's handlers (with host:port
    for the network ones)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return bool(url.strip())
    if scheme in NETWORK_SCHEMES:
        return re.fullmatch(r"[^:/\s]+:\d{1,5}([/?].*)?", rest) is not None
    return scheme in SERIAL_SCHEMES


class SiteError(ValueError):
    """A site file that must not run; the message is one line naming the file, the line and the key."""


@dataclass(frozen=True)
class SerialBed:
    """A bed fed by a monitor on a serial port (any pyserial URL)."""

    id: str
    label: str
    port: str
    protocol: ProtocolSpec
    line: dict[str, Any]  # line settings overriding the protocol's, by pyserial's names
    options: dict[str, Any]  # the protocol's own options as given (the rest take their defaults)
    session_type: str
    limits: Limits
    clock: Literal["host", "device"] = "host"  # readings timed by this computer's clock or the monitor's own


@dataclass(frozen=True)
class ReplayBed:
    """A bed showing a recorded session (a CSV), replayed at `speed`."""

    id: str
    label: str
    replay: Path
    recording: RecordedSession  # read when the file is checked: a bad recording is refused before anything starts
    speed: str | float
    session_type: str | None  # None: what the recording's own dose events imply
    limits: Limits | None  # None: the type's preset
    # `vigil demo` staggers and repeats its chairs; a site file has no key for these.
    begin_at: timedelta = timedelta(0)  # played from this far into the recording
    repeat: bool = False  # from its start again once it has played to the end


@dataclass(frozen=True)
class Hl7Bed:
    """A bed fed by an HL7 monitor that connects to the site's listener, found by its `hl7_id` (matched as
    `adapters/protocols/hl7_mllp/received.py` says: OBX-18, PV1-3, MSH-3, MSH-4)."""

    id: str
    label: str
    hl7_id: str
    protocol: ProtocolSpec
    options: dict[str, Any]  # the protocol's own options as given (its tz)
    session_type: str
    limits: Limits


Bed = SerialBed | ReplayBed | Hl7Bed


@dataclass(frozen=True)
class SiteConfig:
    path: Path
    name: str
    db: str | None  # a database URL or SQLite file; None: --db, $VIGIL_DB or the default
    beds: tuple[Bed, ...] = field(default_factory=tuple)
    hl7_listen: tuple[str, int] | None = None  # [hl7] listen: where HL7 monitors connect


def load_site(path: Path) -> SiteConfig:
    """The site `path` describes, or SiteError (a file that cannot be read is one too)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_site(text, path)


def parse_site(text: str, path: Path) -> SiteConfig:
    """The site in `text` (read from `path`: files it names are found relative to its directory)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteError(f"{path}: not valid TOML: {exc}") from None
    return _Checker(path, _key_lines(text)).site(data)


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Where each table and key is: ("beds", 0, "port") → its line (the first, if written twice)."""
    header = re.compile(r"\s*(\[\[?)\s*([\w.-]+)\s*\]")
    key = re.compile(r"\s*([\w-]+)\s*=")
    found: dict[tuple[str | int, ...], int] = {}
    arrays: Counter[str] = Counter()
    table: tuple[str | int, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        if m := header.match(line):
            table = (m[2], arrays[m[2]]) if m[1] == "[[" else (m[2],)
            arrays[m[2]] += m[1] == "[["
            found.setdefault(table, number)
        elif m := key.match(line):
            found.setdefault((*table, m[1]), number)
    return found


class _Checker:
    """Checks the parsed file key by key; `refuse` names the key and its line."""

    def __init__(self, path: Path, lines: dict[tuple[str | int, ...], int]) -> None:
        self.path = path
        self.lines = lines
        self.base = path.parent

    def line(self, where: tuple[str | int, ...]) -> int:
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where, 1)

    def refuse(self, where: tuple[str | int, ...], problem: str) -> SiteError:
        name = ".".join(f"[{p + 1}]" if isinstance(p, int) else p for p in where).replace(".[", "[")
        return SiteError(f"{self.path}, line {self.line(where)}: {name}: {problem}")

    def value(self, where: tuple[str | int, ...], data: dict, kind: type, what: str) -> Any:
        value = data[where[-1]]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.refuse(where, f"must be {what}, not {value!r}")
        return value

    def known(self, where: tuple[str | int, ...], data: dict, keys: tuple[str, ...] | set[str], what: str) -> None:
        for key in data:
            if key not in keys:
                raise self.refuse((*where, key), f"unknown key; {what} takes {', '.join(sorted(keys))}")

    def site(self, data: dict) -> SiteConfig:
        self.known((), data, SITE_KEYS, "a site file")
        name = self.value(("name",), data, str, "text") if "name" in data else self.path.stem
        db = self.db(data["db"]) if "db" in data else None
        listen = self.hl7(data["hl7"]) if "hl7" in data else None
        if "beds" not in data:
            raise self.refuse(("beds",), "no [[beds]]: a site has at least one bed")
        raw = self.value(("beds",), data, list, "[[beds]] tables")
        beds = [self.bed(("beds", i), entry) for i, entry in enumerate(raw)]
        self.unique(beds)
        first_hl7 = next((i for i, bed in enumerate(beds) if isinstance(bed, Hl7Bed)), None)
        if first_hl7 is not None and listen is None:
            raise self.refuse(("beds", first_hl7, "hl7_id"), "an HL7 bed needs the site's listener: add "
                                                             '[hl7] with listen = "0.0.0.0:2575"')
        return SiteConfig(self.path, name, db, tuple(beds), listen)

    def hl7(self, data: Any) -> tuple[str, int]:
        if not isinstance(data, dict):
            raise self.refuse(("hl7",), 'must be a table: [hl7] with listen = "HOST:PORT"')
        self.known(("hl7",), data, ("listen",), "[hl7]")
        if "listen" not in data:
            raise self.refuse(("hl7",), 'needs listen = "HOST:PORT" (e.g. "0.0.0.0:2575")')
        try:
            return parse_address(self.text(("hl7",), data, "listen"))
        except ValueError as exc:
            raise self.refuse(("hl7", "listen"), str(exc)) from None

    def db(self, value: Any) -> str:
        text = self.value(("db",), {"db": value}, str, "a database URL or SQLite file")
        scheme, sep, rest = text.partition("://")
        if not sep:
            return str(self.base / text)  # a SQLite file, beside the site file unless its path is absolute
        if not (DB_SCHEMES.fullmatch(scheme) and rest):
            raise self.refuse(("db",), f"{text!r} is not a database URL (sqlite:///FILE or postgresql://...)")
        return text

    def bed(self, where: tuple[str | int, ...], data: Any) -> Bed:
        if not isinstance(data, dict):
            raise self.refuse(where, "must be a [[beds]] table")
        self.known(where, data, {*BED_KEYS, *OPTION_KEYS}, "a bed")
        if "id" not in data:
            raise self.refuse(where, "a bed needs an id (letters, digits and '-')")
        bed_id = self.text(where, data, "id")
        try:
            check_bed_id(bed_id)
        except ValueError as exc:
            raise self.refuse((*where, "id"), str(exc)) from None
        label = self.text(where, data, "label") if "label" in data else bed_id
        fed = [k for k in ("port", "replay", "hl7_id") if k in data]
        if len(fed) != 1:
            problem = "only one of" if fed else "one of"
            second = max(((*where, k) for k in fed), key=self.line, default=where)  # the one written last
            raise self.refuse(second, f"a bed is fed by {problem} port, replay or hl7_id")
        stype = self.session_type(where, data)
        if "replay" in data:
            return self.replay_bed(where, data, bed_id, label, stype)
        if "hl7_id" in data:
            return self.hl7_bed(where, data, bed_id, label, stype or "other")
        return self.serial_bed(where, data, bed_id, label, stype or "other")

    def hl7_bed(self, where: tuple[str | int, ...], data: dict, bed_id: str, label: str, stype: str) -> Hl7Bed:
        for key in ("speed", *LINE_KEYS):
            if key in data:
                raise self.refuse((*where, key), "an HL7 bed connects over the network: it has no " + key)
        hl7_id = self.text(where, data, "hl7_id").strip()
        if not hl7_id:
            raise self.refuse((*where, "hl7_id"), "must name the sender (its OBX-18, PV1-3, MSH-3 or MSH-4)")
        if "protocol" in data and self.text(where, data, "protocol") != HL7:
            raise self.refuse((*where, "protocol"), f"an HL7 bed's protocol is {HL7} (or leave it out)")
        spec = protocol(HL7)
        limits = self.limits(where, data, stype)
        assert limits is not None, "an HL7 bed's type is always known"
        return Hl7Bed(bed_id, label, hl7_id, spec, self.options(where, data, spec), stype, limits)

    def text(self, where: tuple[str | int, ...], data: dict, key: str) -> str:
        return self.value((*where, key), data, str, "text")

    def session_type(self, where: tuple[str | int, ...], data: dict) -> str | None:
        if "type" not in data:
            return None
        name = self.text(where, data, "type")
        if name not in SESSION_TYPES:
            raise self.refuse((*where, "type"),
                              f"unknown session type {name!r}: choose one of {', '.join(SESSION_TYPES)}")
        return name

    def limits(self, where: tuple[str | int, ...], data: dict, stype: str | None) -> Limits | None:
        if "limits" not in data:
            return None if stype is None else load_preset(session_type(stype).preset or DEFAULT_PRESET)
        text = self.text(where, data, "limits")
        path = self.base / text
        try:
            if text in PRESETS and not path.exists():
                return load_preset(text)
            if not path.is_file():
                raise LimitsError(f"no such limits file {path} (or name a preset: {', '.join(PRESETS)})")
            return load_limits(path)
        except (LimitsError, OSError) as exc:
            raise self.refuse((*where, "limits"), str(exc)) from None

    def replay_bed(self, where: tuple[str | int, ...], data: dict, bed_id: str, label: str,
                   stype: str | None) -> ReplayBed:
        for key in ("protocol", *LINE_KEYS, *OPTION_KEYS):
            if key in data:
                raise self.refuse((*where, key),
                                  "a replay bed has no monitor: remove it, or use port instead of replay")
        path = self.base / self.text(where, data, "replay")
        if not path.is_file():
            raise self.refuse((*where, "replay"), f"no such recording {path}")
        try:
            recording = read_recording(path)
        except (CsvError, OSError, UnicodeDecodeError) as exc:
            raise self.refuse((*where, "replay"), f"{path}: {first_line(exc)}") from None
        if not recording.readings and not recording.events:
            raise self.refuse((*where, "replay"), f"{path} holds no readings or events")
        for warning in recording.warnings:  # e.g. which of two tracks a .vital file's vital came from
            log.warning("%s: %s", path, warning)
        speed = data.get("speed", 1)
        try:
            parse_speed(speed)
        except (ValueError, TypeError) as exc:
            raise self.refuse((*where, "speed"), str(exc)) from None
        return ReplayBed(bed_id, label, path, recording, speed, stype, self.limits(where, data, stype))

    def serial_bed(self, where: tuple[str | int, ...], data: dict, bed_id: str, label: str, stype: str) -> SerialBed:
        if "speed" in data:
            raise self.refuse((*where, "speed"), "only a replay bed has a speed")
        port = self.port(where, data)
        if "protocol" not in data:
            raise self.refuse((*where, "port"), f"a serial bed needs a protocol: {', '.join(PROTOCOLS)}")
        try:
            spec = protocol(self.text(where, data, "protocol"))
        except ValueError as exc:
            raise self.refuse((*where, "protocol"), str(exc)) from None
        line = {LINE_KEYS[k]: self.line_setting((*where, k), data) for k in LINE_KEYS if k in data}
        options = self.options(where, data, spec)
        period = spec.request_period
        if period in options and options[period] >= LinkConfig.watchdog_s:
            raise self.refuse((*where, period), f"must be less than the {LinkConfig.watchdog_s:g} s after which "
                                                "a silent link counts as lost")
        given = self.text(where, data, "clock") if "clock" in data else "host"
        if given not in ("host", "device"):
            raise self.refuse((*where, "clock"), 'must be "host" or "device"')
        clock: Literal["host", "device"] = "device" if given == "device" else "host"
        if clock == "device" and spec.device_zone is not None and spec.device_zone not in options:
            raise self.refuse((*where, "clock"), f"{spec.name} device clocks carry no UTC offset: the bed needs "
                                                 f"{spec.device_zone} (the monitor's time zone, e.g. Europe/Berlin)")
        limits = self.limits(where, data, stype)
        assert limits is not None, "a serial bed's type is always known"
        return SerialBed(bed_id, label, port, spec, line, options, stype, limits, clock)

    def options(self, where: tuple[str | int, ...], data: dict, spec: ProtocolSpec) -> dict[str, Any]:
        for key in OPTION_KEYS.difference(o.name for o in spec.options).intersection(data):
            raise self.refuse((*where, key), f"not an option of {spec.name}")
        return {o.name: self.option((*where, o.name), data, o.parse) for o in spec.options if o.name in data}

    def port(self, where: tuple[str | int, ...], data: dict) -> str:
        url = self.text(where, data, "port")
        if not _serial_url(url):
            raise self.refuse((*where, "port"), f"{url!r} is not a serial port or pyserial URL (/dev/ttyUSB0, COM3, "
                                                "socket://host:port, rfc2217://host:port)")
        return url

    def line_setting(self, where: tuple[str | int, ...], data: dict) -> Any:
        key = str(where[-1])
        if key == "rtscts":
            return self.value(where, data, bool, "true or false")
        if key == "baud":
            baud = self.value(where, data, int, "a whole number")
            if baud <= 0:
                raise self.refuse(where, f"must be more than 0, not {baud}")
            return baud
        value = data[key]
        choices = LINE_CHOICES[key]
        if isinstance(value, bool) or value not in choices:
            raise self.refuse(where, f"must be one of {', '.join(map(str, choices))}, not {value!r}")
        return value

    def option(self, where: tuple[str | int, ...], data: dict, parse: Any) -> Any:
        try:
            return parse(str(data[where[-1]]))
        except ValueError as exc:
            raise self.refuse(where, str(exc)) from None

    def unique(self, beds: list[Bed]) -> None:
        """No two beds with one id, on one port (the same device under two names counts as one), or with one
        hl7_id (matched ignoring case)."""
        ids: dict[str, int] = {}
        ports: dict[str, int] = {}
        senders: dict[str, int] = {}
        for i, bed in enumerate(beds):
            if isinstance(bed, Hl7Bed) and (first := senders.setdefault(bed.hl7_id.casefold(), i)) != i:
                line = self.line(("beds", first, "hl7_id"))
                raise self.refuse(("beds", i, "hl7_id"), f"{bed.hl7_id!r} is already the hl7_id of {beds[first].id} "
                                                         f"(line {line})")
            if bed.id in ids:
                first = ids[bed.id]
                raise self.refuse(("beds", i, "id"), f"{bed.id!r} is already the id of beds[{first + 1}] "
                                                     f"(line {self.line(('beds', first, 'id'))})")
            ids[bed.id] = i
            if isinstance(bed, SerialBed):
                device = bed.port if "://" in bed.port else os.path.realpath(bed.port)
                if device in ports:
                    first = ports[device]
                    raise self.refuse(("beds", i, "port"), f"{bed.port!r} is already the port of {beds[first].id} "
                                                           f"(line {self.line(('beds', first, 'port'))})")
                ports[device] = i
