"""Schema migrations: one ordered list, the single source of truth.

Each migration is portable SQL (SQLite and PostgreSQL); a backend may supply
a dialect-specific override where the two truly differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: tuple[str, ...]
    sqlite_only: tuple[str, ...] = field(default_factory=tuple)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "verdict log",
        (
            """
            CREATE TABLE verdicts (
                seq          INTEGER PRIMARY KEY,
                id           TEXT    NOT NULL UNIQUE,
                kind         TEXT    NOT NULL,
                customer_id  TEXT    NOT NULL,
                device_id    TEXT,
                subject_us   BIGINT  NOT NULL,
                recorded_us  BIGINT  NOT NULL,
                rules_digest TEXT    NOT NULL,
                rules        TEXT    NOT NULL,
                outcome      TEXT    NOT NULL,
                clause_ids   TEXT    NOT NULL,
                inputs       TEXT    NOT NULL,
                result       TEXT    NOT NULL,
                request_id   TEXT    NOT NULL,
                caller       TEXT    NOT NULL
            )
            """,
            "CREATE INDEX verdicts_customer_subject ON verdicts (customer_id, subject_us)",
            "CREATE INDEX verdicts_kind_customer_device ON verdicts "
            "(kind, customer_id, device_id, subject_us)",
            "CREATE INDEX verdicts_recorded ON verdicts (recorded_us)",
        ),
        sqlite_only=(
            # The log is append-only: history is never rewritten through SQL.
            """
            CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts
            BEGIN SELECT RAISE(ABORT, 'verdicts is append-only'); END
            """,
            """
            CREATE TRIGGER verdicts_no_delete BEFORE DELETE ON verdicts
            BEGIN SELECT RAISE(ABORT, 'verdicts is append-only'); END
            """,
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
