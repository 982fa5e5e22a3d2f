"""Schema migrations: one ordered list, the single source of truth.

Each migration is portable SQL (SQLite and PostgreSQL); a backend may supply
a dialect-specific override where the two truly differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from server.store.chain import CHAIN_COLUMNS, GENESIS_HASH, entry_hash


@dataclass(frozen=True)
class Migration:
    """Applied in one transaction, in this order: ``sql``, ``sqlite_only``
    (SQLite) or ``postgres_only`` (PostgreSQL), ``python(conn)`` (a data step
    in portable qmark SQL), then ``sqlite_after`` (SQLite) or
    ``postgres_after`` (PostgreSQL).

    ``postgres_sql`` replaces single statements of ``sql`` on PostgreSQL
    (by index) where the dialects truly differ; see ``postgres_statements``."""

    version: int
    name: str
    sql: tuple[str, ...]
    sqlite_only: tuple[str, ...] = field(default_factory=tuple)
    postgres_only: tuple[str, ...] = field(default_factory=tuple)
    python: Callable[[Any], None] | None = None
    sqlite_after: tuple[str, ...] = field(default_factory=tuple)
    postgres_sql: Mapping[int, str] = field(default_factory=dict)
    postgres_after: tuple[str, ...] = field(default_factory=tuple)


# SQLite's BLOB is PostgreSQL's BYTEA; every other type in the portable SQL
# (TEXT, INTEGER, BIGINT) means the same in both.
_PG_TYPES = ((re.compile(r"\bBLOB\b"), "BYTEA"),)


def postgres_statements(m: Migration) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The migration's statements for PostgreSQL: (before, after) its python step."""
    before = []
    for i, stmt in enumerate(m.sql):
        stmt = m.postgres_sql.get(i, stmt)
        for pattern, replacement in _PG_TYPES:
            stmt = pattern.sub(replacement, stmt)
        before.append(stmt)
    return (*before, *m.postgres_only), m.postgres_after


def _pg_append_only(table: str, name: str) -> tuple[str, ...]:
    """Row triggers refusing UPDATE and DELETE, and a statement trigger refusing
    TRUNCATE: what the SQLite triggers do (SQLite has no TRUNCATE)."""
    return (
        f"CREATE TRIGGER {name}_no_update BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION anshin_append_only()",
        f"CREATE TRIGGER {name}_no_delete BEFORE DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION anshin_append_only()",
        f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION anshin_append_only()",
    )


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
        # seq is assigned by the log's chain (server/store/chain.py), never by
        # the database: a plain BIGINT key on PostgreSQL.
        postgres_sql={
            0: """
            CREATE TABLE verdicts (
                seq          BIGINT  PRIMARY KEY,
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
            """
        },
        postgres_only=(
            # The message names the table, as SQLite's triggers do.
            """
            CREATE FUNCTION anshin_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """,
            *_pg_append_only("verdicts", "verdicts"),
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
        # events.seq is only an arrival order (SQLite: the rowid), assigned by
        # the database: an identity column on PostgreSQL.
        postgres_sql={
            1: """
            CREATE TABLE events (
                seq             BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                client_event_id TEXT    NOT NULL UNIQUE,
                kind            TEXT    NOT NULL,
                customer_id     TEXT    NOT NULL,
                subject         TEXT    NOT NULL,
                event_us        BIGINT  NOT NULL,
                recorded_us     BIGINT  NOT NULL,
                fingerprint     TEXT    NOT NULL,
                payload         TEXT    NOT NULL,
                reply_head      BYTEA   NOT NULL,
                judgements_ref  TEXT    NOT NULL REFERENCES judgement_sets (ref),
                request_id      TEXT    NOT NULL,
                caller          TEXT    NOT NULL
            )
            """
        },
        postgres_only=_pg_append_only("events", "events"),
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
        postgres_only=_pg_append_only("ledger", "ledger"),
    ),
)


def _chain_existing_verdicts(conn: Any) -> None:
    """Hash-chain the entries written before the chain existed, in log order.

    The head is left unsigned: only the operator signs it, with the key, by
    ``anshin db migrate --log-key-file`` (``chain.bind_log_key``'s adoption).
    """
    cols = ", ".join(CHAIN_COLUMNS)
    prev, seq = GENESIS_HASH, 0
    rows = conn.execute(f"SELECT seq, {cols} FROM verdicts ORDER BY seq").fetchall()
    for row in rows:
        seq += 1
        if int(row[0]) != seq:
            raise RuntimeError(f"verdict log has a gap before seq {row[0]}: cannot chain it")
        h = entry_hash(seq, row[1:], prev)
        conn.execute(
            "UPDATE verdicts SET prev_hash = ?, entry_hash = ? WHERE seq = ?", (prev, h, seq)
        )
        prev = h
    conn.execute(
        "INSERT INTO log_head (id, seq, entry_hash, signed_us, key_id, signature, "
        "checkpoint_seq, checkpoint_us) VALUES (1, ?, ?, 0, '', '', 0, 0)",
        (seq, prev),
    )


MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        4,
        "tamper-evident verdict log and review queue",
        (
            "ALTER TABLE verdicts ADD COLUMN policy_id TEXT",
            "ALTER TABLE verdicts ADD COLUMN refers_to TEXT",
            "ALTER TABLE verdicts ADD COLUMN prev_hash TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE verdicts ADD COLUMN entry_hash TEXT NOT NULL DEFAULT ''",
            # The chain's head: the last entry's seq and hash, signed. One row,
            # rewritten (and locked on PostgreSQL) by every appending transaction.
            """
            CREATE TABLE log_head (
                id             INTEGER PRIMARY KEY CHECK (id = 1),
                seq            BIGINT  NOT NULL,
                entry_hash     TEXT    NOT NULL,
                signed_us      BIGINT  NOT NULL,
                key_id         TEXT    NOT NULL,
                signature      TEXT    NOT NULL,
                checkpoint_seq BIGINT  NOT NULL,
                checkpoint_us  BIGINT  NOT NULL
            )
            """,
            """
            CREATE TABLE log_checkpoints (
                seq        BIGINT PRIMARY KEY,
                entry_hash TEXT   NOT NULL,
                created_us BIGINT NOT NULL,
                key_id     TEXT   NOT NULL,
                signature  TEXT   NOT NULL
            )
            """,
            # A REVIEW decision is resolved at most once: the key says so.
            """
            CREATE TABLE review_resolutions (
                verdict_id    TEXT   PRIMARY KEY,
                resolution_id TEXT   NOT NULL UNIQUE,
                recorded_us   BIGINT NOT NULL
            )
            """,
            "CREATE INDEX verdicts_policy_seq ON verdicts (policy_id, seq)",
            "CREATE INDEX verdicts_kind_outcome_seq ON verdicts (kind, outcome, seq)",
        ),
        sqlite_only=("DROP TRIGGER verdicts_no_update",),
        python=_chain_existing_verdicts,
        sqlite_after=(
            """
            CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts
            BEGIN SELECT RAISE(ABORT, 'verdicts is append-only'); END
            """,
            """
            CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON log_checkpoints
            BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only'); END
            """,
            """
            CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON log_checkpoints
            BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only'); END
            """,
            """
            CREATE TRIGGER resolutions_no_change BEFORE UPDATE ON review_resolutions
            BEGIN SELECT RAISE(ABORT, 'review_resolutions is append-only'); END
            """,
            """
            CREATE TRIGGER resolutions_no_delete BEFORE DELETE ON review_resolutions
            BEGIN SELECT RAISE(ABORT, 'review_resolutions is append-only'); END
            """,
        ),
        # As on SQLite: the data step rewrites verdicts (chaining old entries),
        # so the update guard is lifted for this one transaction.
        postgres_only=("DROP TRIGGER verdicts_no_update ON verdicts",),
        postgres_after=(
            "CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts "
            "FOR EACH ROW EXECUTE FUNCTION anshin_append_only()",
            *_pg_append_only("log_checkpoints", "checkpoints"),
            *_pg_append_only("review_resolutions", "resolutions"),
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        5,
        "verdict-log queries",
        (
            # A customer's entries in log order: QueryVerdicts by customer pages
            # through them without sorting them all (a heavy customer has
            # thousands); with a subject range the (customer_id, subject_us)
            # index is the narrower one.
            "CREATE INDEX verdicts_customer_seq ON verdicts (customer_id, seq)",
        ),
    ),
)


MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        6,
        "key bindings",
        (
            # Which key each secret kept outside the database had when this
            # database first used it (by id: a digest, never the key). A server
            # given another key, or none where one was bound, is refused at
            # start-up (chain.bind_secrets): phone numbers hashed with another
            # key would silently stop matching earlier events.
            """
            CREATE TABLE key_bindings (
                name     TEXT    PRIMARY KEY,
                key_id   TEXT    NOT NULL,
                bound_us BIGINT  NOT NULL
            )
            """,
        ),
        # Append-only like the log: a binding is never moved to another key.
        sqlite_only=(
            """
            CREATE TRIGGER key_bindings_no_update BEFORE UPDATE ON key_bindings
            BEGIN SELECT RAISE(ABORT, 'key_bindings is append-only'); END
            """,
            """
            CREATE TRIGGER key_bindings_no_delete BEFORE DELETE ON key_bindings
            BEGIN SELECT RAISE(ABORT, 'key_bindings is append-only'); END
            """,
        ),
        postgres_only=_pg_append_only("key_bindings", "key_bindings"),
    ),
)

# --- v7: the Merkle log, entry MACs and checkpoint roots (issue 17, log core) ---

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        7,
        "merkle log, entry MACs, signed-note checkpoints",
        (
            # HMAC of the entry hash under a key derived from the log key
            # (chain.LogSigner.entry_mac): '' for entries written before this
            # migration, until the store that holds the key opens the log and
            # fills them in (server/store/log_open.py: a migration has no key).
            "ALTER TABLE verdicts ADD COLUMN entry_mac TEXT NOT NULL DEFAULT ''",
            # The Merkle tree's frontier (merkle.Frontier.encode) and root (hex);
            # '' = a head from before this migration (a v1 signature).
            "ALTER TABLE log_head ADD COLUMN frontier TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE log_head ADD COLUMN root_hash TEXT NOT NULL DEFAULT ''",
            # A checkpoint's C2SP signed note, its root, and the frontier at its
            # size (unsigned, but it must hash to the signed root: where the
            # start-up check resumes the tree). '' for a v1 checkpoint.
            "ALTER TABLE log_checkpoints ADD COLUMN root_hash TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE log_checkpoints ADD COLUMN note TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE log_checkpoints ADD COLUMN frontier TEXT NOT NULL DEFAULT ''",
            # Every complete subtree of 256**k leaves (levels 8, 16, …; idx is
            # its position among the subtrees of its level): one row per 256
            # entries, from which any aligned subtree hash of a proof is read.
            """
            CREATE TABLE log_tree_nodes (
                level INTEGER NOT NULL,
                idx   BIGINT  NOT NULL,
                hash  BLOB    NOT NULL,
                PRIMARY KEY (level, idx)
            )
            """,
        ),
        sqlite_only=(
            """
            CREATE TRIGGER log_tree_nodes_no_update BEFORE UPDATE ON log_tree_nodes
            BEGIN SELECT RAISE(ABORT, 'log_tree_nodes is append-only'); END
            """,
            """
            CREATE TRIGGER log_tree_nodes_no_delete BEFORE DELETE ON log_tree_nodes
            BEGIN SELECT RAISE(ABORT, 'log_tree_nodes is append-only'); END
            """,
        ),
        postgres_only=_pg_append_only("log_tree_nodes", "log_tree_nodes"),
    ),
)

# The append-only guard on verdicts, lifted for the one transaction that
# fills in the MACs of a log from before v7 (server/store/log_open.py).
# (A guard someone dropped is put back.)
SQLITE_VERDICTS_UPDATE_GUARD = (
    ("DROP TRIGGER IF EXISTS verdicts_no_update",),
    (
        """
        CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts
        BEGIN SELECT RAISE(ABORT, 'verdicts is append-only'); END
        """,
    ),
)
POSTGRES_VERDICTS_UPDATE_GUARD = (
    ("DROP TRIGGER IF EXISTS verdicts_no_update ON verdicts",),
    (
        "CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts "
        "FOR EACH ROW EXECUTE FUNCTION anshin_append_only()",
    ),
)

# --- v8: events, ledger and claims bound to the log; compact facts (issue 17, coverage) ---

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        8,
        "events bound to the log",
        (
            # The seq of the ``events`` log entry that lists this event (its id
            # and row hash: server/log/coverage.py). NULL: stored before this
            # version, bound to no entry (``anshin log verify`` counts them).
            "ALTER TABLE events ADD COLUMN log_seq BIGINT",
            "CREATE INDEX events_log_seq ON events (log_seq)",
        ),
    ),
)

# --- v9: compact entries: content-addressed, compressed log blobs (issue 17, item 5) ---

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        9,
        "compact entries: log blobs",
        (
            # Content-addressed, compressed column texts of verdict entries
            # (server/log/compact.py): ``digest`` is 'sha256:<hex>' of the
            # content, ``codec`` how ``body`` encodes it ('zlib', or
            # 'zlib-dict:<digest>' naming the dictionary blob). An entry's
            # column holds {"$blob":"<digest>"}: the chain hash covers the
            # reference, verify checks the blob decodes to its digest.
            """
            CREATE TABLE log_blobs (
                digest TEXT PRIMARY KEY,
                codec  TEXT NOT NULL,
                body   BLOB NOT NULL
            )
            """,
        ),
        sqlite_only=(
            """
            CREATE TRIGGER log_blobs_no_update BEFORE UPDATE ON log_blobs
            BEGIN SELECT RAISE(ABORT, 'log_blobs is append-only'); END
            """,
            """
            CREATE TRIGGER log_blobs_no_delete BEFORE DELETE ON log_blobs
            BEGIN SELECT RAISE(ABORT, 'log_blobs is append-only'); END
            """,
        ),
        postgres_only=_pg_append_only("log_blobs", "log_blobs"),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
