"""`vigil import` knows a recording by what it holds, not by its file name: the same recording ends up once,
a different one is never merged into another's session, and the output says which happened."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, run_vigil

from adapters.files.csv_reader import read_session_csv
from monitor.session.importing import import_recording, recording_id
from monitor.store import Store

SAMPLE = ROOT / "sample_data" / "iv_ketamine.csv"


@pytest.fixture
def store_at(tmp_path: Path):
    stores: list[Store] = []

    def open_at(db: Path) -> Store:
        stores.append(Store(db))
        return stores[-1]

    yield open_at
    for store in stores:
        store.close()


def different_recording_named_alike(tmp_path: Path) -> Path:
    """Another session's recording saved under the sample's file name: the same start, other values."""
    other = tmp_path / "other" / SAMPLE.name
    other.parent.mkdir()
    lines = SAMPLE.read_text().splitlines()
    changed = [lines[0]] + [line.replace(",98,", ",97,") for line in lines[1:-15]]
    other.write_text("\n".join(changed) + "\n")
    return other


def test_a_different_recording_with_the_same_file_name_gets_its_own_complete_session(
    tmp_path: Path, store_at
) -> None:
    db = tmp_path / "vigil.db"
    other = different_recording_named_alike(tmp_path)
    first = run_vigil("import", SAMPLE, "--db", db)
    second = run_vigil("import", other, "--db", db)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    expected = read_session_csv(other)
    assert second.stdout == (f"session 2: {len(expected.readings)} readings, {len(expected.events)} events — "
                             "imported as a new session\n")
    store = store_at(db)
    assert store.samples.counts(1) == (len(read_session_csv(SAMPLE).readings), 2)
    assert store.samples.counts(2) == (len(expected.readings), len(expected.events))
    assert [r.value for r in store.samples.readings_of(2, ["spo2"])] == [r.value for r in expected.readings
                                                                         if r.vital == "spo2"]


def test_the_same_recording_renamed_is_recognised_and_an_interrupted_import_completed(
    tmp_path: Path, store_at
) -> None:
    db = tmp_path / "vigil.db"
    recording = read_session_csv(SAMPLE)
    store = store_at(db)
    # An import that stopped part-way (a crash after its first chunks) ...
    sid, _ = store.sessions.for_recording(
        recording_id(recording), "iv", origin="x", relative_time=False,
        who="test")
    store.samples.write(sid, recording.readings[:5000])
    renamed = tmp_path / "renamed.csv"
    shutil.copy(SAMPLE, renamed)
    # ... is completed by importing the same recording again, under any file name.
    result = run_vigil("import", renamed, "--db", db)
    assert result.stdout == (f"session 1: {len(recording.readings)} readings, 2 events — this recording was partly "
                             f"imported before; added {len(recording.readings) - 5000} readings and 2 events\n")
    again = import_recording(store, recording, "whatever", "y", "test")
    assert (again.session_id, again.new_session, again.added_readings, again.added_events) == (1, False, 0, 0)
    assert [s.id for s in store.sessions.listing()] == [1]


def test_concurrent_imports_of_one_recording_end_up_once(tmp_path: Path, store_at) -> None:
    expected = read_session_csv(SAMPLE)
    for trial in range(3):
        db = tmp_path / f"trial{trial}.db"
        Store(db).close()  # the tables exist: the imports race on the session, not on creating the file
        imports = [subprocess.Popen([sys.executable, "-m", "monitor.cli", "import", str(SAMPLE), "--db", str(db)],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(3)]
        outputs = [p.communicate(timeout=120) for p in imports]
        assert [p.returncode for p in imports] == [0, 0, 0], outputs
        assert sum("imported as a new session" in out for out, _ in outputs) == 1, outputs
        store = store_at(db)
        assert [s.id for s in store.sessions.listing()] == [1]
        assert store.samples.counts(1) == (len(expected.readings), len(expected.events))
