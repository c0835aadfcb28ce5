"""`vigil serve` end to end: a site of beds fed by `vigil simulate` over real ptys, plus a bed whose port does not
exist and a replayed recording, in one process as a clinic would run it."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from browser_support import text_of
from support import ROOT, json_strings, run_vigil, wait_for
from test_device_e2e import Processes, processes, scenario, simulate  # noqa: F401  (fixtures)

from adapters.files.csv_reader import read_session_csv
from adapters.model.reading import LINK_LOST
from monitor.store import Store
from monitor.web import urls

RECORDING = ROOT / "sample_data" / "iv_ketamine.csv"
SITE = """\
name = "Riverside clinic"

[[beds]]
id = "chair-1"
label = "Chair 1"
port = "{one}"
protocol = "hl7-mllp"

[[beds]]
id = "chair-2"
port = "{two}"
protocol = "hl7-mllp"
type = "iv-ketamine"

[[beds]]
id = "chair-3"
port = "{missing}"
protocol = "ge-s5"

[[beds]]
id = "training"
replay = "{recording}"
speed = "max"
"""


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return response.read()


def test_serve_runs_every_bed_of_the_site_and_a_missing_port_takes_only_its_own_bed_offline(
    scenario: Path, tmp_path: Path, processes: Processes  # noqa: F811
) -> None:
    one, two, missing = tmp_path / "monitor-1", tmp_path / "monitor-2", tmp_path / "no-such-tty"
    simulate(processes, "hl7-mllp", scenario, one, speed=5)
    simulate(processes, "hl7-mllp", scenario, two, speed=5)
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text(SITE.format(one=one, two=two, missing=missing, recording=RECORDING))
    server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert server.stdout is not None
    lines = [server.stdout.readline() for _ in range(5)]
    assert lines[:2] == ["bed chair-1: session 1\n", "bed chair-2: session 2\n"], lines
    assert lines[2].startswith(f"bed chair-3: offline: cannot open {missing}") and "retrying" in lines[2], lines
    assert lines[3] == "bed training: session 4\n"
    base = lines[4].split()[2].rstrip("/")
    store = Store(db)
    try:
        sessions = {bed: store.beds.open_session(bed) for bed in ("chair-1", "chair-2", "chair-3")}
        assert sessions == {"chair-1": 1, "chair-2": 2, "chair-3": 3}
        for bed in ("chair-1", "chair-2"):
            wait_for(lambda bed=bed: len(store.samples.readings(sessions[bed])) >= 30, 15, f"readings of {bed}")
            assert store.sessions.info(sessions[bed]).bed_id == bed
        assert store.sessions.info(2).session_type == "iv-ketamine"
        lost = wait_for(lambda: [e for e in store.samples.events(3) if e.kind == LINK_LOST], 10, "chair-3 offline")
        assert "no such device" in lost[0].text
        assert store.samples.readings(3) == []
        wait_for(lambda: store.samples.counts(4)[0] > 1000, 10, "the replayed recording")
        assert store.sessions.info(4).session_type == "iv-ketamine"  # as its dose events imply
        for bed, label in (("chair-1", "Chair 1"), ("chair-2", "chair-2"), ("chair-3", "chair-3"),
                           ("training", "training")):
            get(base + urls.site_bed(bed))  # each bed's view, on the one server
            assert label in json_strings(get(base + urls.site_bed(bed) + "_dash-layout"))
        central = json_strings(get(base + urls.SITE + "_dash-layout"))  # the central view: a tile opening each bed
        assert all(urls.site_bed(bed) in central for bed in [*sessions, "training"]) and "Riverside clinic" in central
    finally:
        store.close()
    _, err = processes.stop(server)  # SIGTERM stops every bed and the server
    assert server.returncode == 0, err
    assert "Traceback" not in err and "bed chair-3 is offline" in err


def test_a_bad_site_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text(SITE.format(one="/dev/ttyUSB0", two="/dev/ttyUSB0", missing="/dev/ttyUSB2", recording=RECORDING))
    result = run_vigil("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert result.returncode == 2
    assert result.stderr == (f"vigil serve: error: {site}, line 11: beds[2].port: '/dev/ttyUSB0' is already the port "
                             "of chair-1 (line 6)\n")
    assert not db.exists()


def test_each_beds_view_in_the_browser_shows_its_own_bed(dash_duo, tmp_path: Path, processes: Processes  # noqa: F811
                                                         ) -> None:
    recordings = {"chair-a": ROOT / "sample_data" / "hypertensive.csv",
                  "chair-b": ROOT / "sample_data" / "esketamine.csv"}
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text("".join(f'[[beds]]\nid = "{bed}"\nreplay = "{path}"\nspeed = "max"\n\n'
                            for bed, path in recordings.items()))
    server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert server.stdout is not None
    base = [server.stdout.readline() for _ in range(3)][2].split()[2].rstrip("/")
    for bed, path in recordings.items():
        last = {r.vital: r.value for r in read_session_csv(path).readings}
        dash_duo.driver.get(base + urls.site_bed(bed))
        # its stream, under the bed's prefix (a short recording may be over by the time the page is up)
        wait_for(lambda: text_of(dash_duo, "link-status") in ("Live", "Replay ended"), 10, "the bed's stream")
        dash_duo.wait_for_text_to_equal("#num-hr", f"{last['hr']:g}", timeout=15)
        dash_duo.wait_for_text_to_equal("#num-bp", f"{last['sbp']:g}/{last['dbp']:g}", timeout=5)
