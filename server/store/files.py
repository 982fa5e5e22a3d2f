"""Files the store keeps outside the database, and how they are created.

A SQLite database and the log's signing key hold customers' data and the
log's trust anchor: each is created 0600 in a 0700 directory, never with
whatever the umask allows (``server/state.py`` says where they live).
"""

from __future__ import annotations

import os
from pathlib import Path

# The verdict log's signing key, by this name in the state directory (or
# beside a SQLite database when no state directory is given).
LOG_KEY_NAME = "log-signing.key"


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700; an existing one is kept as is."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file, failing if it exists (so nothing is overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
