"""Server configuration from flags and ANSHIN_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from server.errors import ConfigError
from server.security.stream_limits import (
    DEFAULT_BUFFER_BYTES,
    DEFAULT_IDLE_SECONDS,
    DEFAULT_MAX_PER_IDENTITY,
    StreamSettings,
)
from server.state import LOG_KEY_NAME, PHONE_KEY_NAME, default_key_dir
from server.store.settings import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_INTERVAL_MS,
    DEFAULT_PG_LOCK_TIMEOUT_MS,
    DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    StoreSettings,
)

if TYPE_CHECKING:  # not at run time: keeps httpx & co. out of every CLI command's start
    from server.refresh_task import RefreshSettings

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DB = "sqlite:///var/anshin.db"


_CPUS = os.cpu_count() or 1


@dataclass(frozen=True)
class Config:
    listen: str = DEFAULT_LISTEN
    db: str = DEFAULT_DB
    rules: Path | None = None  # None: the built-in rules
    log_level: str = "info"
    drain_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    # Where the keys live (server/state.py): log-signing.key and phone-hash.key
    # in this directory unless the two files below name them. Without either, a
    # SQLite store keeps them beside its file; a PostgreSQL store refuses.
    state_dir: Path | None = None
    # Key for hashing phone numbers; kept outside the database.
    phone_key_file: Path | None = None
    # The verdict log's Ed25519 signing key; kept outside the database. Every
    # process (and host) writing one database must use the same file.
    log_key_file: Path | None = None
    # Worker processes that validate and judge bulk-ingestion batches (0 = in
    # the serving process). Judging is most of a stream's CPU (the serving
    # process only receives and writes: ~0.4 of a core at full speed), so on
    # a multi-core machine one per core, up to four: a stream keeps at most
    # three batches being judged, so a fifth would only wait. Two on two
    # cores measured 1.2x the events/s of one (bench/events.py).
    bulk_workers: int = 0 if _CPUS == 1 else min(_CPUS, 4)
    # Security (docs/security.md): TLS server certificate and key (PEM), the CA
    # that client certificates must chain to (mutual TLS), the auth config
    # (tokens, certificate identities, rate limits), and the explicit consent
    # to serve a non-loopback address without TLS or without authentication.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    auth_config: Path | None = None
    insecure: bool = False
    # Server streams (QueryVerdicts, ListReviews; server/security/stream_limits.py):
    # streams open at once per caller identity, the seconds a stream waits for
    # its reader to take data, and the read-ahead bytes all open streams share.
    max_streams_per_identity: int = DEFAULT_MAX_PER_IDENTITY
    stream_idle_seconds: float = DEFAULT_IDLE_SECONDS
    stream_buffer_bytes: int = DEFAULT_BUFFER_BYTES
    # Prometheus exposition HOST:PORT (None: not served).
    metrics_listen: str | None = None
    # The analysts' web console HOST:PORT (server/console; None: not served),
    # and the candidate rules directories its replay page may name: the
    # operator chooses them here, a browser only picks one of them.
    console_listen: str | None = None
    console_replay_rules: tuple[Path, ...] = ()
    # How long a call waits for a locked database before it is UNAVAILABLE
    # (why 5 s: server/store/settings.py). SQLite's busy timeout; PostgreSQL's
    # lock_timeout on the store's connections (0: none).
    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS
    pg_lock_timeout_ms: int = DEFAULT_PG_LOCK_TIMEOUT_MS
    # The verdict log's signed checkpoints (server/store/settings.py).
    checkpoint_interval_ms: int = DEFAULT_CHECKPOINT_INTERVAL_MS
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    log_origin: str | None = None
    # `serve --refresh-releases`: refresh the release feeds in the background
    # (server/refresh_task.py); None: off.
    release_refresh: RefreshSettings | None = None

    def __post_init__(self) -> None:
        # Refuse a bad value at start-up, naming where it is set, rather than
        # at the first call that reaches the store.
        try:
            self.stream_settings()
        except ValueError as exc:
            raise ConfigError(
                f"{exc} (flags --max-streams-per-identity / --stream-idle-seconds / "
                "--stream-buffer-bytes, env ANSHIN_MAX_STREAMS_PER_IDENTITY / "
                "ANSHIN_STREAM_IDLE_SECONDS / ANSHIN_STREAM_BUFFER_BYTES)"
            ) from None
        try:
            self.store_settings()
        except ValueError as exc:
            raise ConfigError(
                f"{exc} (flags --sqlite-busy-timeout-ms / --pg-lock-timeout-ms / "
                "--checkpoint-interval-ms / --checkpoint-every / --log-origin, env "
                "ANSHIN_SQLITE_BUSY_TIMEOUT_MS / ANSHIN_PG_LOCK_TIMEOUT_MS / "
                "ANSHIN_CHECKPOINT_INTERVAL_MS / ANSHIN_CHECKPOINT_EVERY / ANSHIN_LOG_ORIGIN)"
            ) from None

    def stream_settings(self) -> StreamSettings:
        return StreamSettings(
            max_per_identity=self.max_streams_per_identity,
            idle_seconds=self.stream_idle_seconds,
            buffer_bytes=self.stream_buffer_bytes,
        )

    def store_settings(self) -> StoreSettings:
        return StoreSettings(
            sqlite_busy_timeout_ms=self.sqlite_busy_timeout_ms,
            pg_lock_timeout_ms=self.pg_lock_timeout_ms,
            checkpoint_interval_ms=self.checkpoint_interval_ms,
            checkpoint_every=self.checkpoint_every,
            log_origin=self.log_origin,
        )

    def resolved_phone_key_file(self) -> Path:
        if self.phone_key_file is not None:
            return self.phone_key_file
        return default_key_dir(self.db, self.state_dir) / PHONE_KEY_NAME

    def resolved_log_key_file(self) -> Path:
        if self.log_key_file is not None:
            return self.log_key_file
        return default_key_dir(self.db, self.state_dir) / LOG_KEY_NAME

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        values: dict[str, object] = {
            "listen": os.environ.get("ANSHIN_LISTEN", DEFAULT_LISTEN),
            "db": os.environ.get("ANSHIN_DB", DEFAULT_DB),
            "rules": Path(os.environ["ANSHIN_RULES"]) if os.environ.get("ANSHIN_RULES") else None,
            "log_level": os.environ.get("ANSHIN_LOG_LEVEL", "info"),
            "bulk_workers": (
                int(os.environ["ANSHIN_BULK_WORKERS"])
                if os.environ.get("ANSHIN_BULK_WORKERS")
                else None
            ),
            "state_dir": (
                Path(os.environ["ANSHIN_STATE_DIR"]) if os.environ.get("ANSHIN_STATE_DIR") else None
            ),
            "phone_key_file": (
                Path(os.environ["ANSHIN_PHONE_KEY_FILE"])
                if os.environ.get("ANSHIN_PHONE_KEY_FILE")
                else None
            ),
            "log_key_file": (
                Path(os.environ["ANSHIN_LOG_KEY_FILE"])
                if os.environ.get("ANSHIN_LOG_KEY_FILE")
                else None
            ),
        }
        for key in ("tls_cert", "tls_key", "client_ca", "auth_config"):
            env = os.environ.get(f"ANSHIN_{key.upper()}")
            values[key] = Path(env) if env else None
        values["metrics_listen"] = os.environ.get("ANSHIN_METRICS_LISTEN") or None
        values["console_listen"] = os.environ.get("ANSHIN_CONSOLE_LISTEN") or None
        replay_rules = os.environ.get("ANSHIN_CONSOLE_REPLAY_RULES", "")
        if replay_rules.strip():
            values["console_replay_rules"] = tuple(
                Path(p) for p in replay_rules.split(os.pathsep) if p.strip()
            )
        values["log_origin"] = os.environ.get("ANSHIN_LOG_ORIGIN") or None
        values["insecure"] = os.environ.get("ANSHIN_INSECURE") == "1" or None
        if os.environ.get("ANSHIN_MAX_MESSAGE_BYTES"):
            values["max_message_bytes"] = int(os.environ["ANSHIN_MAX_MESSAGE_BYTES"])
        for key in (
            "sqlite_busy_timeout_ms",
            "pg_lock_timeout_ms",
            "checkpoint_interval_ms",
            "checkpoint_every",
            "max_streams_per_identity",
            "stream_buffer_bytes",
        ):
            values[key] = _env_int(f"ANSHIN_{key.upper()}")
        idle = os.environ.get("ANSHIN_STREAM_IDLE_SECONDS", "").strip()
        if idle:
            try:
                values["stream_idle_seconds"] = float(idle)
            except ValueError:
                raise ConfigError(
                    f"ANSHIN_STREAM_IDLE_SECONDS={idle!r}: expected seconds"
                ) from None
        db_given = bool(os.environ.get("ANSHIN_DB")) or overrides.get("db") is not None
        values.update({k: v for k, v in overrides.items() if v is not None})
        values = {k: v for k, v in values.items() if v is not None}
        if values.get("state_dir") is not None:
            values = _state_dir_defaults(values, Path(str(values["state_dir"])), db_given)
        return cls(**values)  # type: ignore[arg-type]


def _state_dir_defaults(
    values: dict[str, object], state_dir: Path, db_given: bool
) -> dict[str, object]:
    """What a state directory made by ``anshin init`` supplies when no flag or
    environment variable says otherwise: its TLS certificate, auth config,
    rules copy and database (server/state_init.py)."""
    from server.state_init import StateLayout

    layout = StateLayout(state_dir)
    found: dict[str, object] = {}
    if layout.server_cert.exists() or layout.server_key.exists():
        # Both or neither: a missing or unreadable half is an error at start-up,
        # never a silent fall back to plaintext.
        found["tls_cert"], found["tls_key"] = layout.server_cert, layout.server_key
    if layout.auth_config.is_file():
        found["auth_config"] = layout.auth_config
    if layout.rules.is_dir():
        found["rules"] = layout.rules
    if not db_given:
        found["db"] = layout.db_url
    merged = {**found, **values}
    if not db_given:
        merged["db"] = found["db"]
    return merged


def _env_int(name: str) -> int | None:
    """A whole-number environment variable; unset or empty is None."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
