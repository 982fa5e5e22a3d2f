"""Server configuration from flags and ANSHIN_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DB = "sqlite:///var/anshin.db"


@dataclass(frozen=True)
class Config:
    listen: str = DEFAULT_LISTEN
    db: str = DEFAULT_DB
    rules: Path | None = None  # None: the built-in rules
    log_level: str = "info"
    drain_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    # Key for hashing phone numbers; kept outside the database. Default: next
    # to the SQLite file (created on first start).
    phone_key_file: Path | None = None
    # Worker processes that validate and judge bulk-ingestion batches (0 = in
    # the serving process). Default: one when the machine has a spare core.
    bulk_workers: int = 1 if (os.cpu_count() or 1) > 1 else 0

    def resolved_log_key_file(self) -> Path:
        """The verdict log's Ed25519 signing key (see server/store/chain.py)."""
        explicit = getattr(self, "log_key_file", None)
        if explicit is not None:
            return Path(explicit)
        if os.environ.get("ANSHIN_LOG_KEY_FILE"):
            return Path(os.environ["ANSHIN_LOG_KEY_FILE"])
        if self.db.startswith("sqlite:"):
            from server.store.url import sqlite_path

            return sqlite_path(self.db).parent / "log-signing.key"
        return Path("log-signing.key")

    def resolved_phone_key_file(self) -> Path:
        if self.phone_key_file is not None:
            return self.phone_key_file
        if self.db.startswith("sqlite:"):
            from server.store.url import sqlite_path

            return sqlite_path(self.db).parent / "phone-hash.key"
        return Path("phone-hash.key")

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
            "phone_key_file": (
                Path(os.environ["ANSHIN_PHONE_KEY_FILE"])
                if os.environ.get("ANSHIN_PHONE_KEY_FILE")
                else None
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values = {k: v for k, v in values.items() if v is not None}
        return cls(**values)  # type: ignore[arg-type]
