"""Where Anshin's state lives, and the guards that keep it from being mislaid.

State is the database plus two secrets kept outside it: the verdict log's
Ed25519 signing key and the phone-number hashing key. Losing track of either
half is silent damage — a server that starts on a typo'd ``--db`` path begins
an empty log; a server that starts with a new signing key writes entries no
earlier checkpoint will verify against — so both are refused at start-up:

- keys live in the **state directory** (``--state-dir`` / ``ANSHIN_STATE_DIR``,
  as ``log-signing.key`` and ``phone-hash.key``), or where
  ``--log-key-file`` / ``--phone-key-file`` say. With neither, a SQLite store
  keeps them beside its database file; a PostgreSQL store has no such place
  and refuses to start. Never the working directory.
- a database is created only on request (``anshin db migrate --create``, which
  ``make run`` runs on its first start); ``serve`` refuses a missing one.
- a log signed by another key refuses to open, naming both key ids
  (``server/store/chain.py: signer_for_log``).
- every file created here is 0600 in a 0700 directory; ``serve`` refuses a key
  that others can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

LOG_KEY_NAME = "log-signing.key"
PHONE_KEY_NAME = "phone-hash.key"


class StateError(RuntimeError):
    """Anshin's state is missing, mislaid or exposed; the message says how to fix it."""


def default_key_dir(db_url: str, state_dir: Path | None) -> Path:
    """The directory holding the keys when no key file is named explicitly."""
    if state_dir is not None:
        return state_dir
    from server.store.url import is_postgres, sqlite_path

    if is_postgres(db_url):
        raise StateError(
            "a PostgreSQL store needs to be told where its keys live: "
            "--state-dir DIR (env ANSHIN_STATE_DIR) holding log-signing.key and "
            "phone-hash.key, or --log-key-file and --phone-key-file "
            "(env ANSHIN_LOG_KEY_FILE, ANSHIN_PHONE_KEY_FILE); "
            "every process serving one database must use the same keys"
        )
    return sqlite_path(db_url).parent


def require_database(db_url: str) -> None:
    """Refuse to serve a database that was never created: a missing SQLite
    file, or a PostgreSQL database (or ``search_path`` schema) without Anshin's
    tables. A mistyped ``--db`` would otherwise start a new, empty log."""
    from server.store.url import schema_version

    if not schema_version(db_url):
        raise StateError(
            f"no Anshin database at {db_url.split('@')[-1]}; create it deliberately with "
            "`anshin db migrate --create` and the same --db (serve never creates one, "
            "so that a mistyped --db cannot start a new, empty verdict log)"
        )


def require_private(path: Path, what: str) -> None:
    """Refuse a secret that users other than its owner can read or write."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return  # created 0600 on first use, or refused by the log's key check
    if mode & 0o077:
        raise StateError(
            f"{what} {path} is accessible to other users (mode {mode:04o}); "
            f"run `chmod 600 {path}`"
        )


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700; an existing one is kept as is."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file, failing if it exists (so nothing is overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
