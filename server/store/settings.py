"""Backend knobs beside the ``--db`` URL: how long a call waits for a lock, and
how often the verdict log signs a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

# How long a write (or read) may wait for a lock that another holder has on
# the database before its call fails with StoreError (UNAVAILABLE: nothing
# was recorded, retry): SQLite's busy timeout, PostgreSQL's lock_timeout.
# Five seconds is far above any lock the service takes itself (one commit or
# one claim holds the write lock or the log head for milliseconds), with room
# for processes of `serve --workers N` taking turns on one SQLite file under
# heavy load: SQLite's busy handler polls, backing off to every 100 ms (it is
# not woken when the lock is released), so a much shorter timeout turns
# healthy contention into spurious UNAVAILABLE. Yet it is short
# enough that a caller with the CLI's 10 s deadline learns UNAVAILABLE rather
# than timing out not knowing whether anything was written (the former 30 s
# outlasted every deadline). Callers with shorter deadlines see
# DEADLINE_EXCEEDED first: lower it for them (docs/operations.md). It also
# bounds the queue: every write waiting behind a blocked one waits as long.
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000
DEFAULT_PG_LOCK_TIMEOUT_MS = 5_000
# A signed checkpoint at least this often while the log is written (and once
# more after it goes quiet), and every this many entries: a receipt or a
# witness never waits longer for one covering a new entry, and the start-up
# check walks at most that much of the log (server/store/chain.py).
DEFAULT_CHECKPOINT_INTERVAL_MS = 1_000
DEFAULT_CHECKPOINT_EVERY = 1_000


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Backend knobs beside the ``--db`` URL (``Config.store_settings()``)."""

    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS
    # 0: no lock_timeout is set (wait as long as the database lets a lock
    # wait; also for PostgreSQL-compatible databases without the setting).
    pg_lock_timeout_ms: int = DEFAULT_PG_LOCK_TIMEOUT_MS
    checkpoint_interval_ms: int = DEFAULT_CHECKPOINT_INTERVAL_MS
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    # The checkpoints' origin line (the log's name, C2SP tlog-checkpoint);
    # None: ``anshin/<key id>``. Witnesses and receipts pin it.
    log_origin: str | None = None

    def __post_init__(self) -> None:
        for name in ("sqlite_busy_timeout_ms", "pg_lock_timeout_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be whole milliseconds >= 0, not {value!r}")
        for name in ("checkpoint_interval_ms", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
        if self.checkpoint_interval_ms > 60_000:
            # At worst a checkpoint a minute: an entry older than that is
            # provable and can be witnessed.
            raise ValueError(
                f"checkpoint_interval_ms must be at most 60000, not {self.checkpoint_interval_ms}"
            )
        origin = self.log_origin
        if origin is not None and (
            not origin.strip()
            or origin != origin.strip()
            or not origin.isprintable()
            or len(origin) > 200
        ):
            raise ValueError(f"log_origin must be one line of printable text, not {origin!r}")
