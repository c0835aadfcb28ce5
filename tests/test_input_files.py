"""Every command that reads a file says, in one line, why it cannot: the path does not exist, it is a
directory, or it cannot be read. Real subprocesses, real files and permissions."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest
from support import run_vigil

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "hypertensive.csv"

# (what the error calls the path, the command with {path} where the file goes)
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "check": ("file", ("check", "{path}", "--limits", "iv-ketamine")),
    "check --limits": ("limits file", ("check", str(SAMPLE), "--limits", "{path}")),
    "import": ("file", ("import", "{path}", "--db", "{db}")),
    "replay": ("file", ("replay", "{path}", "--headless", "--db", "{db}")),
    "decode": ("file", ("decode", "{path}", "--protocol", "ge-s5")),
    "simulate --scenario": ("scenario file", ("simulate", "--protocol", "ge-s5", "--scenario", "{path}")),
}

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it (no dlopen after fork)


def _without_permission_override() -> None:
    """In the child: give up root's power to read any file, so that file modes apply to it as to a user.
    (Dropped from the bounding set, the capabilities are gone after exec.)"""
    if os.geteuid() != 0:
        return
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if _PRCTL(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _path(tmp_path: Path, kind: str) -> Path:
    if kind == "directory":
        (tmp_path / "recordings").mkdir()
        return tmp_path / "recordings"
    if kind == "unreadable":
        path = tmp_path / "locked.csv"
        path.write_text(SAMPLE.read_text())
        path.chmod(0)
        return path
    return tmp_path / "missing.csv"


@pytest.mark.parametrize("kind", ["directory", "missing", "unreadable"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_path_that_cannot_be_read_is_one_line_saying_why(tmp_path: Path, command: str, kind: str) -> None:
    what, template = COMMANDS[command]
    path, db = _path(tmp_path, kind), tmp_path / "vigil.db"
    args = [a.format(path=path, db=db) for a in template]
    result = run_vigil(*args, env={"VIGIL_DB": str(db)}, preexec_fn=_without_permission_override)
    expected = {
        "directory": f"{path} is a directory, not a {what}",
        "missing": f"no such {what}: {path}",
        "unreadable": f"cannot read {what} {path}: Permission denied",
    }[kind]
    if (command, kind) == ("check", "directory"):  # check reads a folder's recordings (docs/limits.md): none here
        expected = f"no recordings (*.csv, *.vital) in {path}"
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"vigil {template[0]}: error: ") and expected in lines[0], result.stderr
    assert not db.exists(), "a refused input must not create the database"
