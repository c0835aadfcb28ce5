"""Write a file whole or not at all, so that no failing command damages a file that was there before.

The content goes to a temporary file beside the target, is flushed to the disk, and only then renamed
over the target (an atomic step on POSIX and Windows). A failure at any point — a full disk, a refused
input, Ctrl+C — removes the temporary file and leaves the target exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once, at import: a temporary file is made private; the result gets the usual mode


@contextlib.contextmanager
def replacing(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """An open file whose content replaces `path` when the block ends without an exception."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_args) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
        sync_directory(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def sync_directory(path: Path) -> None:
    """Make a rename or a new file in `path`'s directory durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
