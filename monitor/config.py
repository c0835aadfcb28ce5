"""Where Vigil keeps its data and finds its bundled samples."""

from __future__ import annotations

import getpass
import os
from importlib import resources
from pathlib import Path

from platformdirs import user_data_dir

DEMO_SAMPLE = "iv_ketamine.csv"


def default_db() -> str:
    """`VIGIL_DB` (a file or a database URL), else vigil.db in the per-user data directory."""
    return os.environ.get("VIGIL_DB") or str(Path(user_data_dir("vigil", appauthor=False)) / "vigil.db")


def sample_path(name: str) -> Path:
    """A bundled sample session (installed with the package as `sample_data`)."""
    path = Path(str(resources.files("sample_data").joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"bundled sample {name} is missing; reinstall Vigil")
    return path


def operator_name() -> str:
    """Who the audit trail names for what is done without a sign-in (a `--no-auth` or demo dashboard, the
    command line).

    `VIGIL_OPERATOR`, else the login name of the account running Vigil.
    """
    name = os.environ.get("VIGIL_OPERATOR", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "operator"
