"""What passes through the store's ports: frozen records, built by the
services and returned by the backends alike.

Instants are integer microseconds since the Unix epoch (UTC): exact, cheap to
compare, and the same in SQLite and PostgreSQL (BIGINT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# A verdict-log row as stored, in ``VERDICT_COLUMNS`` order (seq, the chain's
# columns, prev_hash, entry_hash; server/store/sql/verdicts.py): the service
# maps it to the wire without decoding its JSON columns.
Row = tuple[Any, ...]

# A clause id as the policies spell it. Validated before it is put into a LIKE
# pattern, so it can contain neither % nor _ nor a quote.
CLAUSE_ID = re.compile(r"^[A-Z]{2,4}-[A-Z0-9]+$")


# --------------------------------------------------------------------------- the verdict log


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """One verdict-log entry as stored. ``inputs``/``result`` are JSON bytes."""

    id: str
    kind: str
    customer_id: str
    device_id: str | None
    subject_us: int
    recorded_us: int
    rules_digest: str
    rules: bytes
    outcome: str
    clause_ids: tuple[str, ...]
    inputs: bytes
    result: bytes
    request_id: str
    caller: str
    policy_id: str | None = None
    # Resolutions: the id of the entry resolved.
    refers_to: str | None = None
    # Assigned by the store when appended (see server/store/chain.py).
    seq: int | None = None
    prev_hash: str = ""
    entry_hash: str = ""


@dataclass(frozen=True, slots=True)
class VerdictFilter:
    """Every given filter must hold. Ranges are half-open ``[from, until)``, in µs."""

    customer_id: str | None = None
    policy_id: str | None = None
    kind: str | None = None
    outcome: str | None = None
    clause_id: str | None = None
    subject_from_us: int | None = None
    subject_until_us: int | None = None
    recorded_from_us: int | None = None
    recorded_until_us: int | None = None
    oldest_first: bool = False

    def key(self) -> tuple[Any, ...]:
        """What a page token is bound to (filters and order)."""
        return (
            self.customer_id,
            self.policy_id,
            self.kind,
            self.outcome,
            self.clause_id,
            self.subject_from_us,
            self.subject_until_us,
            self.recorded_from_us,
            self.recorded_until_us,
            self.oldest_first,
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed checkpoint of the log at ``seq`` entries, as exported (JSON lines).

    Since schema 7 a checkpoint is a C2SP tlog-checkpoint signed note
    (``note``: origin, tree size, base64 Merkle root, signature line) over the
    RFC 9162 root of entries 1..seq (``root_hash``); ``signature`` is then
    empty. Before, it was an Ed25519 ``signature`` over seq, the last entry's
    hash and ``created_us`` (``chain.checkpoint_message``), and ``note`` and
    ``root_hash`` are empty: both are still verified, each by its own rule."""

    seq: int
    entry_hash: str
    created_us: int
    key_id: str
    signature: str
    root_hash: bytes = b""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "created_us": self.created_us,
            "key_id": self.key_id,
            "signature": self.signature,
        }
        if self.note:
            doc["root_hash"] = self.root_hash.hex()
            doc["note"] = self.note
        return doc

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Checkpoint:
        return cls(
            int(d["seq"]),
            str(d["entry_hash"]),
            int(d["created_us"]),
            str(d["key_id"]),
            str(d.get("signature", "")),
            bytes.fromhex(str(d.get("root_hash", ""))),
            str(d.get("note", "")),
        )


@dataclass(frozen=True, slots=True)
class LogHead:
    """The log's signed head: its last entry when it was last appended to.

    Since schema 7 (``root_hash`` non-empty) the signature also covers the
    Merkle root and the seq of the latest checkpoint (``chain.head_message_v2``)."""

    seq: int
    entry_hash: str
    signed_us: int
    key_id: str
    signature: str
    root_hash: bytes = b""
    checkpoint_seq: int = 0


@dataclass(frozen=True, slots=True)
class LogProblem:
    """What the store found wrong with its log when it opened: the first entry
    concerned (as far as the start-up check can tell) and why."""

    seq: int
    entry_id: str | None
    reason: str


# (seq, id, stored prev_hash, stored entry_hash, the hash computed from the
# stored content, stored entry_mac): one entry as ``anshin log verify`` checks it.
ChainRow = tuple[int, str, str, str, str, str]

# (seq, id, customer_id, policy_id, recorded_us, outcome, clause_ids JSON,
# inputs JSON, the logged payable amount or None): one claim entry as replay
# re-decides it.
ClaimRow = tuple[Any, ...]


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class EventRow:
    client_event_id: str
    kind: str
    customer_id: str
    subject: str
    event_us: int
    recorded_us: int
    fingerprint: str
    payload: bytes  # canonical JSON of the redacted event
    reply_head: bytes  # EventAck fields 1 and 3 (event id, recorded_at) in wire form
    judgements: bytes  # EventAck field 4 (judgements) in wire form
    request_id: str
    caller: str

    @property
    def reply(self) -> bytes:
        """The serialized EventAck given the first time."""
        return self.reply_head + self.judgements


# --------------------------------------------------------------------------- claims and ledger


@dataclass(frozen=True, slots=True)
class Usage:
    amount_yen: int
    count: int
    persons: frozenset[str]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    scope_key: str
    amount_yen: int
    count: int
    insured_person_ref: str


@dataclass(frozen=True, slots=True)
class ClaimWrite:
    """What to store for one decision (built by ``decide``)."""

    verdict: VerdictRecord
    reply: bytes
    fingerprint: str
    entries: tuple[LedgerEntry, ...]
    # What the claims row keeps of the reply: None, the reply; b"", nothing —
    # the reply is rebuilt from the entry's ``result`` on a retry and checked
    # against the SHA-256 the entry binds (server/log/coverage.py).
    stored_reply: bytes | None = None


@dataclass(frozen=True, slots=True)
class StoredClaim:
    fingerprint: str
    decision_id: str
    reply: bytes


@dataclass(frozen=True, slots=True)
class ResolutionWrite:
    """What to store for one resolution of a REVIEW decision (built by ``resolve``)."""

    verdict: VerdictRecord
    entries: tuple[LedgerEntry, ...]
