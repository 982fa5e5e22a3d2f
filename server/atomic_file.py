"""Replace a file so that readers see the old bytes or the new, never a mix.

Write a temporary file in the same directory, ``fsync`` it, ``os.replace``
it over the target (atomic on POSIX within one file system), then ``fsync``
the directory so the rename itself survives a crash. A reader (the server
reloading its rules) therefore never sees a half-written release file, and
after a power cut the file is either the old one or the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Atomically replace ``path`` with ``data`` (text is UTF-8).

    ``mode`` defaults to the existing file's permissions, else 0644 (release
    data is read by the service, which may run as another user).
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Some file systems refuse fsync on a directory; the data itself is synced.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
