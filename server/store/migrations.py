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

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        2,
        "events",
        (
            # The judgements of many events are identical (same facts, same
            # rules): each distinct set is stored once and events refer to it.
            """
            CREATE TABLE judgement_sets (
                ref  TEXT PRIMARY KEY,
                wire BLOB NOT NULL
            )
            """,
            """
            CREATE TABLE events (
                seq             INTEGER PRIMARY KEY,
                client_event_id TEXT    NOT NULL UNIQUE,
                kind            TEXT    NOT NULL,
                customer_id     TEXT    NOT NULL,
                subject         TEXT    NOT NULL,
                event_us        BIGINT  NOT NULL,
                recorded_us     BIGINT  NOT NULL,
                fingerprint     TEXT    NOT NULL,
                payload         TEXT    NOT NULL,
                reply_head      BLOB    NOT NULL,
                judgements_ref  TEXT    NOT NULL REFERENCES judgement_sets (ref),
                request_id      TEXT    NOT NULL,
                caller          TEXT    NOT NULL
            )
            """,
            "CREATE INDEX events_customer_kind_time ON events (customer_id, kind, event_us)",
        ),
        sqlite_only=(
            """
            CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events is append-only'); END
            """,
            """
            CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events is append-only'); END
            """,
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        3,
        "claims and ledger",
        (
            # One row per claim id: the idempotency record and the stored reply.
            """
            CREATE TABLE claims (
                claim_id    TEXT   PRIMARY KEY,
                fingerprint TEXT   NOT NULL,
                decision_id TEXT   NOT NULL,
                reply       BLOB   NOT NULL,
                recorded_us BIGINT NOT NULL
            )
            """,
            # What approved decisions reserved against each cap scope. Written in
            # the same transaction as the decision, never updated.
            """
            CREATE TABLE ledger (
                scope_key          TEXT    NOT NULL,
                decision_id        TEXT    NOT NULL,
                amount_yen         BIGINT  NOT NULL,
                count              INTEGER NOT NULL,
                insured_person_ref TEXT    NOT NULL,
                recorded_us        BIGINT  NOT NULL,
                PRIMARY KEY (scope_key, decision_id)
            )
            """,
        ),
        sqlite_only=(
            """
            CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
            BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END
            """,
            """
            CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
            BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END
            """,
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
