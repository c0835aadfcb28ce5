"""`vigil decode` and the one-line errors of the device commands, as real subprocesses."""

from __future__ import annotations

import os
import socket
import tty
from collections import Counter
from pathlib import Path

import pytest
from support import run_vigil

from adapters.files.csv_reader import read_session_csv
from adapters.protocols.ge_s5.decoder import GeS5Decoder
from monitor.store import Store


def one_line_error(result, command: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 + (command == "decode" and "decoded " in lines[0]), result.stderr  # decode's counts
    assert lines[-1].startswith(f"vigil {command}: error: "), result.stderr
    return lines[-1]


def test_decode_writes_the_captures_readings_as_a_csv_that_reads_back(ge_captures: Path, tmp_path: Path) -> None:
    capture = ge_captures / "pycollect_db02.raw"
    out = tmp_path / "db02.csv"
    result = run_vigil("decode", capture, "--protocol", "ge-s5", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "frames 213" in result.stderr and "phdb records 107" in result.stderr
    decoded = GeS5Decoder().feed(capture.read_bytes())
    recording = read_session_csv(out)
    key = lambda r: (r.time, r.vital, r.value)  # noqa: E731
    assert sorted(map(key, recording.readings)) == sorted(map(key, decoded))
    assert Counter(r.vital for r in recording.readings)["sbp"] == 1


def test_decode_to_standard_output_counts_checksum_failures(ge_captures: Path) -> None:
    result = run_vigil("decode", ge_captures / "pycollect_db01.raw", "--protocol", "ge-s5")
    assert result.returncode == 0, result.stderr
    assert "checksum failures 308" in result.stderr and "frames 2446" in result.stderr
    assert result.stdout.startswith("time,sbp,dbp,map,hr,spo2,pr,rr,event\n")


def test_decode_with_the_wrong_protocol_says_so(ge_captures: Path) -> None:
    result = run_vigil("decode", ge_captures / "pycollect_notebooks_raw.raw", "--protocol", "hl7-mllp")
    assert "no hl7-mllp readings" in one_line_error(result, "decode")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("decode", "{tmp}/x.raw", "--protocol", "philips"),
         "unknown protocol 'philips': choose one of ge-s5, hl7-mllp, philips-mib"),
        (("record", "--port", "/dev/ttyVIGIL9", "--protocol", "ge-s5", "--out", "{tmp}/x.csv"),
         "cannot open /dev/ttyVIGIL9: no such device — check the port name"),
        (("decode", "{tmp}/x.raw", "--protocol", "philips-mib"),
         "philips-mib device clocks carry no UTC offset: vigil decode needs --tz ZONE"),
        (("record", "--port", "/dev/ttyVIGIL9", "--protocol", "philips-mib", "--clock", "device",
          "--out", "{tmp}/x.csv"),
         "philips-mib device clocks carry no UTC offset: --clock device needs --tz ZONE"),
        (("acquire", "--port", "/dev/ttyVIGIL9", "--protocol", "ge-s5"), "cannot open /dev/ttyVIGIL9: no such device"),
        (("monitor", "--port", "/", "--protocol", "hl7-mllp", "--no-auth"), "cannot open /: not a serial port"),
        (("monitor", "--port", "nope://x", "--protocol", "ge-s5", "--no-auth"), "invalid URL"),
        (("acquire", "--port", "loop://", "--protocol", "ge-s5", "--interval", "10"),
         "--watchdog 10 must be longer than --interval 10"),
        (("simulate", "--protocol", "ge-s5", "--scenario", "no-such"), "no-such"),
        (("simulate", "--protocol", "ge-s5", "--faults", "explode=1"), "explode"),
        (("record", "--port", "loop://", "--protocol", "ge-s5", "--out", "/no/such/dir/x.csv"),
         "cannot write /no/such/dir/x.csv: no such directory /no/such/dir"),
        (("decode", "README.md", "--protocol", "ge-s5", "--out", "/no/such/dir/x.csv"),
         "cannot write /no/such/dir/x.csv: no such directory /no/such/dir"),
        (("monitor", "--port", "rfc2217://", "--protocol", "ge-s5", "--http-port", "0", "--no-auth"),
         "cannot open rfc2217://"),
    ],
)
def test_device_commands_fail_in_one_line_saying_what_to_check(args: tuple[str, ...], expected: str,
                                                                tmp_path: Path) -> None:
    """Every path is under tmp_path (`{tmp}`), the database too: a failing test writes nothing elsewhere."""
    argv = [a.format(tmp=tmp_path) for a in args]
    result = run_vigil(*argv, env={"VIGIL_DB": str(tmp_path / "v.db")})
    assert expected in one_line_error(result, args[0])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--interval", "0"), "argument --interval: must be 1 to 32767 seconds, got 0"),
        (("--interval", "40000"), "argument --interval: must be 1 to 32767 seconds, got 40000"),
        (("--tz", "Mars/Olympus"), "argument --tz: unknown time zone 'Mars/Olympus'"),
        (("--bed", "Chair 3"), "argument --bed: a bed id is 1 to 50 letters, digits and '-', not 'Chair 3'"),
    ],
)
def test_bad_link_options_are_refused_by_the_parser(args: tuple[str, ...], expected: str) -> None:
    result = run_vigil("acquire", "--port", "loop://", "--protocol", "ge-s5", *args)
    assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr


def test_acquire_that_never_receives_anything_says_what_to_check(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        result = run_vigil("acquire", "--port", os.ttyname(slave), "--protocol", "hl7-mllp", "--db", tmp_path / "v.db",
                           "--duration", "1.5")
    finally:
        os.close(master)
        os.close(slave)
    assert "session 1: 0 readings" in result.stdout
    error = one_line_error(result, "acquire")  # 1.5 s: the watchdog's warning (10 s) has not come yet
    assert error.startswith("vigil acquire: error: no data from /dev/pts/")
    assert "the line settings (9600 8N1), --protocol, and the monitor's HL7 / data export menu" in error


def test_dashboard_without_any_session_says_so(tmp_path: Path) -> None:
    Store(tmp_path / "empty.db").close()
    result = run_vigil("dashboard", "--db", tmp_path / "empty.db")
    assert "the store holds no session yet" in one_line_error(result, "dashboard")
    run_vigil("import", Path(__file__).parents[1] / "sample_data" / "hypertensive.csv", "--db", tmp_path / "one.db")
    result = run_vigil("dashboard", "--db", tmp_path / "one.db", "--session", "7")
    assert "no session 7 in the store" in one_line_error(result, "dashboard")


def test_monitor_on_a_busy_http_port_fails_before_touching_the_monitor(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_vigil("monitor", "--port", "/dev/ttyVIGIL9", "--protocol", "ge-s5", "--no-auth",
                           "--http-port", port, "--db", tmp_path / "v.db")
    error = one_line_error(result, "monitor")
    assert f"cannot serve on 127.0.0.1:{port}" in error and error.endswith("choose another with --http-port")
