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

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        values: dict[str, object] = {
            "listen": os.environ.get("ANSHIN_LISTEN", DEFAULT_LISTEN),
            "db": os.environ.get("ANSHIN_DB", DEFAULT_DB),
            "rules": Path(os.environ["ANSHIN_RULES"]) if os.environ.get("ANSHIN_RULES") else None,
            "log_level": os.environ.get("ANSHIN_LOG_LEVEL", "info"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
