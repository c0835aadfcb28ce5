"""site.toml: a good file becomes its beds; each kind of bad file is refused in one line naming the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.site.config import Hl7Bed, ReplayBed, SerialBed, SiteError, load_site

GOOD = """\
name = "Riverside clinic"

[[beds]]
id = "chair-1"
label = "Chair 1"
port = "/dev/ttyUSB0"
protocol = "ge-s5"
baud = 9600
type = "iv-ketamine"

[[beds]]
id = "chair-2"
port = "socket://10.0.0.7:4001"
protocol = "hl7-mllp"
limits = "esketamine"

[[beds]]
id = "training"
replay = "rec.csv"
speed = "60x"
"""


def write_site(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rec.csv").write_text("time,hr\n0,70\n")
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(SiteError) as caught:
        load_site(write_site(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(tmp_path / "site.toml"), "site.toml")


def test_a_good_site_file_gives_its_beds_with_their_settings(tmp_path: Path) -> None:
    site = load_site(write_site(tmp_path, GOOD))
    assert site.name == "Riverside clinic" and site.db is None
    first, second, third = site.beds
    assert isinstance(first, SerialBed) and isinstance(second, SerialBed) and isinstance(third, ReplayBed)
    assert (first.id, first.label, first.port, first.protocol.name) == ("chair-1", "Chair 1", "/dev/ttyUSB0", "ge-s5")
    assert first.line == {"baudrate": 9600} and first.session_type == "iv-ketamine"
    assert first.limits.preset == "iv-ketamine"  # the type's preset
    assert (second.label, second.session_type, second.limits.preset) == ("chair-2", "other", "esketamine")
    assert (third.replay, third.speed, third.session_type, third.limits) == (tmp_path / "rec.csv", "60x", None, None)
    assert [(r.vital, r.value) for r in third.recording.readings] == [("hr", 70)]


@pytest.mark.parametrize(("change", "expected"), [
    (("baud = 9600", "baud_rate = 9600"),
     "site.toml, line 8: beds[1].baud_rate: unknown key; a bed takes "),
    (('name = "Riverside clinic"', 'title = "Riverside clinic"'),
     "site.toml, line 1: title: unknown key; a site file takes beds, db, hl7, name"),
    (('port = "socket://10.0.0.7:4001"', 'port = "/dev/ttyUSB0"'),
     "site.toml, line 13: beds[2].port: '/dev/ttyUSB0' is already the port of chair-1 (line 6)"),
    (('id = "chair-2"', 'id = "chair-1"'),
     "site.toml, line 12: beds[2].id: 'chair-1' is already the id of beds[1] (line 4)"),
    (('port = "socket://10.0.0.7:4001"', 'port = "sockt://10.0.0.7:4001"'),
     "site.toml, line 13: beds[2].port: 'sockt://10.0.0.7:4001' is not a serial port or pyserial URL"),
    (('port = "socket://10.0.0.7:4001"', 'port = "socket://10.0.0.7"'),
     "site.toml, line 13: beds[2].port: 'socket://10.0.0.7' is not a serial port or pyserial URL"),
    (('name = "Riverside clinic"', 'name = "Riverside clinic"\ndb = "postgres//central/vigil"'),
     None),  # a path, not a URL: allowed (a SQLite file of that name)
    (('name = "Riverside clinic"', 'name = "R"\ndb = "mysql://central/vigil"'),
     "site.toml, line 2: db: 'mysql://central/vigil' is not a database URL (sqlite:///FILE or postgresql://...)"),
    (('replay = "rec.csv"', 'replay = "missing.csv"'),
     "site.toml, line 19: beds[3].replay: no such recording "),
    (('replay = "rec.csv"', 'replay = "site.toml"'), "site.toml, line 19: beds[3].replay: "),
    (("baud = 9600", "interval = 10"),
     "site.toml, line 8: beds[1].interval: must be less than the 10 s after which a silent link counts as lost"),
    (('id = "chair-2"', 'id = "chair 2"'),
     "site.toml, line 12: beds[2].id: a bed id is 1 to 50 letters, digits and '-', not 'chair 2'"),
    (('protocol = "ge-s5"', 'protocol = "ge-s6"'),
     "site.toml, line 7: beds[1].protocol: unknown protocol 'ge-s6': choose one of "),
    (("baud = 9600", 'baud = "9600"'), "site.toml, line 8: beds[1].baud: must be a whole number, not '9600'"),
    (("baud = 9600", 'clock = "monitor"'), 'site.toml, line 8: beds[1].clock: must be "host" or "device"'),
    (("baud = 9600", 'parity = "X"'), "site.toml, line 8: beds[1].parity: must be one of N, E, O, M, S, not 'X'"),
    (('type = "iv-ketamine"', 'type = "ketamine"'),
     "site.toml, line 9: beds[1].type: unknown session type 'ketamine': choose one of "),
    (('limits = "esketamine"', 'limits = "nolimits.toml"'), "site.toml, line 15: beds[2].limits: no such limits file "),
    (('speed = "60x"', 'speed = "fast"'),
     "site.toml, line 20: beds[3].speed: speed must be a number from 1 to 1000 or 'max', got 'fast'"),
    (('replay = "rec.csv"', 'replay = "rec.csv"\nport = "/dev/ttyUSB3"'),
     "site.toml, line 20: beds[3].port: a bed is fed by only one of port, replay or hl7_id"),
    (('id = "training"\nreplay = "rec.csv"', 'id = "training"'), "site.toml, line 17: beds[3]: a bed is fed by one of"),
    (('protocol = "ge-s5"\n', ""), "site.toml, line 6: beds[1].port: a serial bed needs a protocol: "),
    (('port = "socket://10.0.0.7:4001"', 'hl7_id = "MINDRAY-0012A4B5"'),
     "site.toml, line 13: beds[2].hl7_id: an HL7 bed needs the site's listener: add [hl7] with listen = "),
    (('port = "socket://10.0.0.7:4001"', 'hl7_id = "M-1"\nbaud = 9600'),
     "site.toml, line 14: beds[2].baud: an HL7 bed connects over the network: it has no baud"),
    (('port = "socket://10.0.0.7:4001"\nprotocol = "hl7-mllp"', 'hl7_id = "M-1"\nprotocol = "ge-s5"'),
     "site.toml, line 14: beds[2].protocol: an HL7 bed's protocol is hl7-mllp (or leave it out)"),
    (('name = "Riverside clinic"', 'name = "R"\n[hl7]\nlisten = "0.0.0.0"'),
     "site.toml, line 3: hl7.listen: expected HOST:PORT (e.g. 0.0.0.0:2575), got '0.0.0.0'"),
    (('name = "Riverside clinic"', 'name = "R"\n[hl7]\nport = 2575'),
     "site.toml, line 3: hl7.port: unknown key; [hl7] takes listen"),
    (('name = "Riverside clinic"', 'name = ['), "site.toml: not valid TOML: "),
])
def test_a_bad_site_file_is_refused_in_one_line_naming_the_key_and_its_line(
        tmp_path: Path, change: tuple[str, str], expected: str | None) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    if expected is None:
        load_site(write_site(tmp_path, text))
    else:
        assert refusal(tmp_path, text).startswith(expected)


def test_one_device_under_two_names_is_one_port(tmp_path: Path) -> None:
    device = tmp_path / "ttyUSB0"
    device.touch()
    (tmp_path / "by-id").symlink_to(device)
    text = GOOD.replace("/dev/ttyUSB0", str(device)).replace("socket://10.0.0.7:4001", str(tmp_path / "by-id"))
    assert refusal(tmp_path, text).startswith(f"site.toml, line 13: beds[2].port: '{tmp_path / 'by-id'}' is already")


def test_a_serial_hl7_bed_is_fine_and_a_site_needs_a_bed(tmp_path: Path) -> None:
    assert load_site(write_site(tmp_path, GOOD)).beds[1].protocol.name == "hl7-mllp"
    assert refusal(tmp_path, 'name = "empty"\n') == "site.toml, line 1: beds: no [[beds]]: a site has at least one bed"


HL7_SITE = """\
[hl7]
listen = "0.0.0.0:2575"

[[beds]]
id = "chair-1"
hl7_id = "MINDRAY-0012A4B5"
tz = "Europe/Berlin"
type = "esketamine"

[[beds]]
id = "chair-2"
hl7_id = "mindray-0012a4b5"
"""


def test_hl7_beds_are_found_by_sender_behind_the_sites_one_listener(tmp_path: Path) -> None:
    first_only = HL7_SITE.split("[[beds]]\nid = \"chair-2\"")[0]
    site = load_site(write_site(tmp_path, first_only))
    (bed,) = site.beds
    assert site.hl7_listen == ("0.0.0.0", 2575)
    assert isinstance(bed, Hl7Bed) and bed.hl7_id == "MINDRAY-0012A4B5" and bed.protocol.name == "hl7-mllp"
    assert str(bed.options["tz"]) == "Europe/Berlin" and bed.limits.preset == "esketamine"


def test_two_beds_with_one_hl7_id_are_refused_whatever_the_case(tmp_path: Path) -> None:
    assert refusal(tmp_path, HL7_SITE) == ("site.toml, line 12: beds[2].hl7_id: 'mindray-0012a4b5' is already the "
                                           "hl7_id of chair-1 (line 6)")


def test_a_philips_bed_takes_its_line_defaults_and_the_monitors_zone(tmp_path: Path) -> None:
    site = load_site(write_site(tmp_path, """\
[[beds]]
id = "chair-3"
port = "/dev/ttyUSB1"
protocol = "philips-mib"
tz = "Europe/Berlin"
clock = "device"
"""))
    (bed,) = site.beds
    assert isinstance(bed, SerialBed) and bed.protocol.name == "philips-mib"
    assert bed.protocol.line.describe() == "115200 8N1" and str(bed.options["tz"]) == "Europe/Berlin"
    assert bed.clock == "device"  # its times kept: the zone says what they are
    assert "clock: philips-mib device clocks carry no UTC offset: the bed needs tz" in refusal(tmp_path, """\
[[beds]]
id = "chair-3"
port = "/dev/ttyUSB1"
protocol = "philips-mib"
clock = "device"
""")
    assert "not an option of philips-mib" in refusal(tmp_path, """\
[[beds]]
id = "chair-3"
port = "/dev/ttyUSB1"
protocol = "philips-mib"
interval = 1
""")
