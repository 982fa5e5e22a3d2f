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

# The store's own (it creates its database and key files, and refuses a
# mislaid key, with no import of the server around it); the same here.
from server.store.chain import SecretFile
from server.store.errors import StateError
from server.store.files import LOG_KEY_NAME, create_private_file, make_private_dir

__all__ = [
    "LOG_KEY_NAME",
    "PHONE_KEY_NAME",
    "StateError",
    "create_private_file",
    "default_key_dir",
    "make_private_dir",
    "phone_key_secret",
    "require_database",
    "require_private",
    "require_unswappable_dir",
]

PHONE_KEY_NAME = "phone-hash.key"


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
    from server.store.url import is_postgres, schema_version, sqlite_path

    if not is_postgres(db_url) and sqlite_path(db_url).is_file():
        # The customers' data is as private as the keys (a copy restored with
        # the usual umask is 0644; SQLite would give its WAL the same mode).
        require_private(sqlite_path(db_url), "the database")
    if not schema_version(db_url):
        raise StateError(
            f"no Anshin database at {db_url.split('@')[-1]}; create it deliberately with "
            "`anshin db migrate --create` and the same --db (serve never creates one, "
            "so that a mistyped --db cannot start a new, empty verdict log)"
        )


def require_private(path: Path, what: str) -> None:
    """Refuse a secret that someone else could read, write or swap: it must be
    a regular file owned by this user with no group/other permissions, in a
    directory no one else can write (else the file could be replaced)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return  # created 0600 on first use, or refused by the log's key check
    if stat.S_ISLNK(st.st_mode):
        st = path.stat()  # a link is judged by what it points to
    if not stat.S_ISREG(st.st_mode):
        raise StateError(f"{what} {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise StateError(
            f"{what} {path} is accessible to other users (mode {mode:04o}); run `chmod 600 {path}`"
        )
    if st.st_uid != os.geteuid():
        raise StateError(
            f"{what} {path} belongs to uid {st.st_uid}, not to this user (uid "
            f"{os.geteuid()}): `chown` it to the user that runs anshin"
        )
    require_unswappable_dir(path.resolve().parent, what)


def require_unswappable_dir(directory: Path, what: str) -> None:
    """Refuse a directory others may write into: they could replace what is in it."""
    st = directory.stat()
    if st.st_uid not in (os.geteuid(), 0):
        raise StateError(
            f"the directory {directory} of {what} belongs to uid {st.st_uid}, who could "
            f"replace what is in it: `chown` it to the user that runs anshin (or root)"
        )
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise StateError(
            f"the directory {directory} of {what} is writable by other users "
            f"(mode {stat.S_IMODE(st.st_mode):04o}): run `chmod go-w {directory}`"
        )


def phone_key_secret(path: Path) -> SecretFile:
    """The phone-hash key as a secret bound to the database it hashes for
    (``server.store.chain.bind_secrets``): a server given a new or another key
    where one was used before is refused at start-up."""
    from server.pii import PhoneHasher

    return SecretFile("phone-hash", path, PhoneHasher.create_key_file, PhoneHasher.read_key)
