"""`vigil check` end to end, as a subprocess, against the episodes sample_data/README.md lists (docs/limits.md).

The expected episodes below are copied from the README's "Expected episodes" sections, not from the engine.
Bad input must be one line on stderr, exit 2, and never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import ROOT

SAMPLES = ROOT / "sample_data"
KEYS = ["vital", "direction", "kind", "priority", "onset", "announced", "end", "peak", "limit"]


def vigil_check(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@functools.cache
def check_sample(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`vigil check` on a sample file; cached, since the same run backs several tests."""
    return vigil_check(SAMPLES / f"{name}.csv", *args)


def episode(
    vital: str, kind: str, direction: str, priority: str, onset: str, announced: str, end: str | None,
    peak: float, limit: float,
) -> dict[str, Any]:
    """One --json object; times are the clock time of 2026-11-20 in UTC."""
    day = "2026-11-20T"
    return {
        "vital": vital,
        "direction": direction,
        "kind": kind,
        "priority": priority,
        "onset": f"{day}{onset}Z",
        "announced": f"{day}{announced}Z",
        "end": None if end is None else f"{day}{end}Z",
        "peak": float(peak),
        "limit": float(limit),
    }


PRESET = {"iv_ketamine": "iv-ketamine", "esketamine": "esketamine", "hypertensive": "iv-ketamine",
          "artefacts": "iv-ketamine"}

README_EPISODES: dict[str, list[dict[str, Any]]] = {
    "iv_ketamine": [],  # "Expected episodes: none."
    "esketamine": [],  # "Expected episodes: none."
    "hypertensive": [
        episode("sbp", "limit", "high", "medium", "09:40:00", "09:40:00", "10:00:00", 197, 179),
        episode("sbp", "rise", "high", "low", "09:40:00", "09:40:00", "10:05:00", 197, 168.75),
        episode("dbp", "limit", "high", "medium", "09:45:00", "09:45:00", "09:55:00", 114, 109),
        episode("dbp", "rise", "high", "low", "09:45:00", "09:45:00", "09:55:00", 114, 109.75),
        episode("hr", "limit", "high", "medium", "09:47:23", "09:47:33", "09:48:38", 126, 110),
        episode("pr", "limit", "high", "medium", "09:47:23", "09:47:33", "09:48:38", 127, 110),
    ],
    "artefacts": [
        episode("sbp", "limit", "high", "medium", "10:10:00", "10:10:00", "10:25:00", 204, 179),
        episode("sbp", "rise", "high", "low", "10:10:00", "10:10:00", "10:25:00", 204, 163.75),
        episode("signal", "technical", "loss", "medium", "10:20:15", "10:20:25", "10:20:45", 30, 10),
    ],
}
SAMPLE_NAMES = list(README_EPISODES)


def canonical(episodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order-insensitive comparison (ties at equal onset may come in any order)."""
    return sorted(episodes, key=lambda e: json.dumps(e, sort_keys=True))


def parse_json_lines(stdout: str) -> list[dict[str, Any]]:
    lines = stdout.splitlines()
    objects = [json.loads(line, object_pairs_hook=lambda pairs: pairs) for line in lines]
    for pairs in objects:
        assert [k for k, _ in pairs] == KEYS  # the documented key order
    return [dict(pairs) for pairs in objects]


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# -- the README's episodes --


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_check_json_gives_exactly_the_readme_episodes_with_a_preset_name(name: str) -> None:
    result = check_sample(name, "--limits", PRESET[name], "--json")
    assert result.returncode == 0, result.stderr
    episodes = parse_json_lines(result.stdout)
    assert canonical(episodes) == canonical(README_EPISODES[name])
    assert [e["onset"] for e in episodes] == sorted(e["onset"] for e in episodes)  # ordered by onset


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_check_json_gives_exactly_the_readme_episodes_with_a_toml_file(name: str, tmp_path: Path) -> None:
    toml = tmp_path / "limits.toml"
    toml.write_text(f'preset = "{PRESET[name]}"\n', encoding="utf-8")
    result = vigil_check(SAMPLES / f"{name}.csv", "--limits", toml, "--json")
    assert result.returncode == 0, result.stderr
    assert canonical(parse_json_lines(result.stdout)) == canonical(README_EPISODES[name])


def test_check_toml_overrides_the_preset(tmp_path: Path) -> None:
    toml = tmp_path / "limits.toml"
    toml.write_text('preset = "iv-ketamine"\n[vitals.hr]\nhigh = 126\n', encoding="utf-8")  # HR peak is 126
    result = vigil_check(SAMPLES / "hypertensive.csv", "--limits", toml, "--json")
    assert result.returncode == 0, result.stderr
    expected = [e for e in README_EPISODES["hypertensive"] if e["vital"] != "hr"]
    assert canonical(parse_json_lines(result.stdout)) == canonical(expected)


def rise_or_limit(kind: str, cell: str) -> float:
    """A limit cell as a number: a rise's cell names the rise and its baseline ("+39 over 129.8", never the sum
    alone), which add up to the limit of the --json form (the baseline as shown is rounded to 0.1)."""
    if kind != "rise":
        return float(cell)
    match = re.fullmatch(r"\+([\d.]+) over ([\d.]+)", cell)
    assert match, cell
    total = float(match[1]) + float(match[2])
    return round(total * 4) / 4  # the samples' baselines are quarter-units: 129.75 is shown as 129.8


@pytest.mark.parametrize("name", ["hypertensive", "artefacts"])
def test_check_table_lists_the_episodes_and_ends_with_a_summary_line(name: str) -> None:
    result = check_sample(name, "--limits", PRESET[name])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    expected = README_EPISODES[name]
    header, rows, summary = lines[0], lines[1:-1], lines[-1]
    assert header.split() == ["vital", "kind", "direction", "priority", "onset", "announced", "end", "peak", "limit"]
    assert len(rows) == len(expected)
    listed = []
    for row in rows:
        vital, kind, direction, priority, onset, announced, end, peak, limit = re.split(r"\s{2,}", row)
        listed.append({"vital": vital, "direction": direction, "kind": kind, "priority": priority, "onset": onset,
                       "announced": announced, "end": end, "peak": float(peak), "limit": rise_or_limit(kind, limit)})
    assert canonical(listed) == canonical(expected)
    n = len(expected)
    assert summary.startswith(f"{n} episodes"), summary
    for priority in ("high", "medium", "low"):
        count = sum(e["priority"] == priority for e in expected)
        assert (f"{count} {priority}" in summary) == (count > 0), summary


@pytest.mark.parametrize("name", ["iv_ketamine", "esketamine"])
def test_check_table_without_episodes_says_so_in_one_line(name: str) -> None:
    result = check_sample(name, "--limits", PRESET[name])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == ["no alarm episodes"]


# -- --fail-on --


def test_check_fail_on_medium_exits_1_on_hypertensive() -> None:
    assert check_sample("hypertensive", "--limits", "iv-ketamine", "--fail-on", "medium").returncode == 1


def test_check_fail_on_medium_exits_0_on_iv_ketamine() -> None:
    assert check_sample("iv_ketamine", "--limits", "iv-ketamine", "--fail-on", "medium").returncode == 0


def test_check_fail_on_high_exits_0_on_hypertensive() -> None:
    assert check_sample("hypertensive", "--limits", "iv-ketamine", "--fail-on", "high").returncode == 0


def test_check_fail_on_low_exits_1_on_hypertensive_and_still_prints_the_episodes() -> None:
    result = check_sample("hypertensive", "--limits", "iv-ketamine", "--fail-on", "low", "--json")
    assert result.returncode == 1
    assert canonical(parse_json_lines(result.stdout)) == canonical(README_EPISODES["hypertensive"])


# -- bad input: exit 2, one line on stderr --


def test_check_csv_with_a_bad_row_exits_2_naming_the_line(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "time,sbp,dbp,map,hr,spo2,pr,rr,event\n"
        "2026-11-20T09:00:00Z,120,80,93,72,98,,,\n"
        "2026-11-20T09:00:01Z,,,,73,98,,,\n"
        "2026-11-20T09:00:02Z,,,,NaN,98,,,\n"
        "2026-11-20T09:00:03Z,,,,74,97,,,\n",
        encoding="utf-8",
    )
    assert_one_line_error(vigil_check(csv, "--limits", "iv-ketamine"), "line 4")


def rows_with_bad_hr(tmp_path: Path, total: int, bad: set[int]) -> Path:
    """A relative-time CSV of `total` data rows (lines 2 onwards); the rows on the `bad` lines have HR 'x'."""
    csv = tmp_path / "rows.csv"
    rows = [f"{n},{'x' if n + 2 in bad else 70},98" for n in range(total)]
    csv.write_text("time,hr,spo2\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return csv


@pytest.mark.parametrize(("total", "bad", "named", "more"), [
    (30, {10, 21}, [10, 21], ""),
    (40, set(range(2, 27)), list(range(2, 22)), "; and 5 more"),
])
def test_check_names_every_bad_row_refused_or_skipped(tmp_path: Path, total: int, bad: set[int], named: list[int],
                                                      more: str) -> None:
    csv = rows_with_bad_hr(tmp_path, total, bad)
    listed = "; ".join(f"line {n}: hr value 'x' is not a number" for n in named) + more
    assert_one_line_error(vigil_check(csv, "--limits", "iv-ketamine"), f"error: {len(bad)} bad rows: {listed}")
    skipped = vigil_check(csv, "--limits", "iv-ketamine", "--skip-bad-rows")
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stderr == f"vigil: skipped {len(bad)} bad rows: {listed}\n"


BAD_TOML = {
    "syntax error": ("[vitals.sbp\nhigh = 180\n", ["TOML"]),
    "unknown key": ("[vitals.sbp]\nhihg = 180\n", ["hihg"]),
    "critical_high below high": ("[vitals.sbp]\nhigh = 180\ncritical_high = 170\n", ["sbp", "critical_high"]),
    "string for a number": ('[vitals.hr]\nhigh = "110"\n', ["vitals.hr.high", "number"]),
}


@pytest.mark.parametrize("case", list(BAD_TOML))
def test_check_bad_limits_toml_exits_2_with_the_reason(case: str, tmp_path: Path) -> None:
    text, fragments = BAD_TOML[case]
    toml = tmp_path / "limits.toml"
    toml.write_text(text, encoding="utf-8")
    assert_one_line_error(vigil_check(SAMPLES / "hypertensive.csv", "--limits", toml, "--json"), *fragments)


def test_check_missing_limits_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert_one_line_error(vigil_check(SAMPLES / "hypertensive.csv", "--limits", missing), "nope.toml")


def test_check_unknown_preset_name_exits_2() -> None:
    assert_one_line_error(vigil_check(SAMPLES / "hypertensive.csv", "--limits", "no-such-preset"), "no-such-preset")


def test_check_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """`vigil check … | head -1`: the reader goes away; no error line, the exit status a broken pipe gives.
    Two thousand HR episodes print far more than a pipe holds, so the reader leaves while vigil still writes."""
    rows = ["time,hr"] + [f"{s},{150 if s % 20 < 15 else 70}" for s in range(40_000)]
    recording = tmp_path / "many.csv"
    recording.write_text("\n".join(rows) + "\n")
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "check", str(recording), "--limits", "news2",
                                "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().startswith('{"vital": "hr"')
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (141, "")


def test_check_loads_no_store_no_web_and_no_device_packages() -> None:
    """`vigil check` is a batch command run over folders of recordings: the store (SQLAlchemy, Alembic, psycopg)
    and the web (Dash, Plotly, Flask) cost most of a second to import, the protocols and emulators the device
    commands' options name about 45 ms, and they serve it nothing."""
    script = (
        "import sys; from monitor.cli.main import main\n"
        f"code = main(['check', {str(SAMPLES / 'hypertensive.csv')!r}, '--limits', 'iv-ketamine', '--json'])\n"
        "heavy = {'sqlalchemy', 'alembic', 'psycopg', 'dash', 'plotly', 'flask', 'reportlab', 'adapters.protocols',\n"
        "         'adapters.simulation', 'monitor.cli.devices'}\n"
        "print(code, sorted(h for h in heavy if any(m == h or m.startswith(h + '.') for m in sys.modules)),\n"
        "      file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stderr.splitlines()[-1] == "0 []"


@pytest.mark.parametrize(("given", "used"), [(None, "1"), ("4", "4")])
def test_vigil_asks_openblas_for_one_thread_unless_the_user_chose(given: str | None, used: str) -> None:
    """NumPy's OpenBLAS would start a thread per core at import, for nothing: Vigil does no linear algebra."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    script = "import os, monitor.cli.main; print(os.environ['OPENBLAS_NUM_THREADS'])"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == used, result.stderr


def folder_of_recordings(tmp_path: Path) -> Path:
    """Two samples and a file with a bad row, which must be reported without stopping the others."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("hypertensive", "artefacts"):
        (folder / f"{name}.csv").write_bytes((SAMPLES / f"{name}.csv").read_bytes())
    (folder / "broken.csv").write_text("time,hr\n0,70\n1,NaN\n")
    (folder / "notes.txt").write_text("not a recording\n")
    return folder


def test_check_a_folder_gives_a_summary_line_per_file_then_its_episodes(tmp_path: Path) -> None:
    folder = folder_of_recordings(tmp_path)
    result = vigil_check(folder, "--limits", "iv-ketamine")
    reason = "1 bad row: line 3: hr value 'NaN' is not a number"
    assert result.returncode == 2
    assert result.stderr == f"vigil check: error: {folder / 'broken.csv'}: {reason}\n"
    blocks = result.stdout.rstrip("\n").split("\n\n")  # in name order; notes.txt is no recording
    assert blocks[1] == f"{folder / 'broken.csv'}: not checked: {reason}"
    for block, name in zip(blocks[::2], ("artefacts", "hypertensive"), strict=True):
        alone = check_sample(name, "--limits", "iv-ketamine").stdout.rstrip("\n").split("\n")
        table, total = alone[:-1], alone[-1]  # the single-file table ends with "N episodes (…)"
        assert block.split("\n") == [f"{folder / f'{name}.csv'}: {total}", *table]


def test_check_several_files_as_json_name_the_file_in_every_object(tmp_path: Path) -> None:
    folder = folder_of_recordings(tmp_path)
    files = [folder / "hypertensive.csv", folder / "broken.csv"]
    result = vigil_check(*files, "--limits", "iv-ketamine", "--json", "--fail-on", "medium")
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    alone = [json.loads(line) for line in check_sample("hypertensive", "--limits", "iv-ketamine", "--json")
             .stdout.splitlines()]
    counts = {p: sum(e["priority"] == p for e in alone) for p in ("high", "medium", "low")}
    assert objects[0] == {"file": str(files[0]), "checked": True, "episodes": len(alone),
                          **{p: n for p, n in counts.items() if n}}
    assert objects[1 : 1 + len(alone)] == [{"file": str(files[0]), **e} for e in alone]
    assert objects[1 + len(alone) :] == [{"file": str(files[1]), "checked": False,
                                          "error": "1 bad row: line 3: hr value 'NaN' is not a number"}]
    assert result.returncode == 2  # a file not checked outranks --fail-on


def test_check_several_files_exit_1_when_any_reaches_fail_on(tmp_path: Path) -> None:
    result = vigil_check(SAMPLES / "esketamine.csv", SAMPLES / "hypertensive.csv", "--limits", "iv-ketamine",
                         "--fail-on", "medium")
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.startswith(f"{SAMPLES / 'esketamine.csv'}: ")


def test_check_a_folder_without_recordings_exits_2(tmp_path: Path) -> None:
    assert_one_line_error(vigil_check(tmp_path, "--limits", "iv-ketamine"),
                          f"no recordings (*.csv, *.vital) in {tmp_path}")
