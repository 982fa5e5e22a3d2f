"""What the verdict log says about the rows that decide money: events, the
ledger and the claims table (issue 17, "everything that decides money is
covered"). Pure code: the store writes these forms, ``anshin log verify``
reads them back (``server/usecases/verify_coverage.py``).

The threat is someone who can write to the database but holds no key. Each
of the three tables is made checkable against the log, whose entries the
chain, the entry MACs and the signed head/checkpoints protect:

* **events** are *bound into the log's hashes*: every transaction that
  stores events appends one entry of kind ``events`` whose hashed content
  lists, in order, each stored event's client id and the SHA-256 of its
  canonical row (``event_row_hash``: every column, and the judgements' wire
  bytes) and, in ``result``, their count and RFC 9162 Merkle root (so a
  receipt can later prove one event with a path instead of the list). Each
  events row records that entry's seq (``events.log_seq``). An edited event
  no longer hashes to its listed hash; a deleted one is listed but absent;
  an inserted one is listed nowhere. Events are not rebuilt from the log
  (the log keeps hashes, not payloads): they stay the record the payment
  apps sent, and the log proves which ones were stored, when, and unaltered.
* **the ledger** is a *projection of the log*: each claim decision and each
  review resolution entry carries the reservations it made (``bound.ledger``:
  scope key, amount, count, insured-person ref), so the expected ledger is
  rebuilt from the log and compared with the table row by row, named by
  decision id and scope. The ledger table stays as the index a decision
  reads its cap usage from (one indexed read instead of a log scan).
* **claims rows** (the idempotency record of a claim id) are *bound to their
  decision entry*: the entry holds the claim id, the request fingerprint and
  the SHA-256 of the reply (``bound.claim``). A claims row that points to
  another entry, carries another fingerprint or a reply of another hash, a
  missing row and an extra row are all named.

Every decision entry also records the ledger usage it read (its facts), so
verify can name the *decisions* taken on a short-counted ledger (rows
deleted before them), not only the deleted rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from server.log import merkle

EVENTS_KIND = "events"
EVENTS_OUTCOME = "RECORDED"
# Bound in a claim or resolution entry's ``inputs`` under this key.
BOUND_KEY = "bound"
_EVENT_TAG = b"anshin.event.v1\n"


# --------------------------------------------------------------------------- events


def _field(h: Any, value: str | bytes | int) -> None:
    """Length-prefixed (``<len>:<bytes>``) or ``#<int>;``, as the log's canonical form,
    so no column's content can pass for another's."""
    if isinstance(value, int):
        h.update(b"#%d;" % value)
        return
    raw = value.encode() if isinstance(value, str) else bytes(value)
    h.update(b"%d:" % len(raw))
    h.update(raw)


def event_row_hash(
    client_event_id: str,
    kind: str,
    customer_id: str,
    subject: str,
    event_us: int,
    recorded_us: int,
    fingerprint: str,
    payload: str | bytes,
    reply_head: bytes,
    judgements: bytes,
    request_id: str,
    caller: str,
) -> str:
    """Hex SHA-256 of one stored event's canonical form: every column as
    stored, and the judgements' wire bytes (not their ref: editing the shared
    ``judgement_sets`` row shows in every event that uses it)."""
    h = hashlib.sha256(_EVENT_TAG)
    for value in (
        client_event_id,
        kind,
        customer_id,
        subject,
        event_us,
        recorded_us,
        fingerprint,
        payload,
        reply_head,
        judgements,
        request_id,
        caller,
    ):
        _field(h, value)
    return h.hexdigest()


def events_root(hashes: Sequence[str]) -> str:
    """The RFC 9162 Merkle root (hex) over the listed event hashes, in order."""
    return merkle.root_of([merkle.leaf_hash(bytes.fromhex(h)) for h in hashes]).hex()


def events_inputs(listed: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """An ``events`` entry's ``inputs``: [[client_event_id, row hash], …] in insert order."""
    return {"events": [[i, h] for i, h in listed]}


def events_result(listed: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"count": len(listed), "root": events_root([h for _, h in listed])}


def listed_events(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (client_event_id, row hash) pairs an ``events`` entry lists."""
    return [(str(i), str(h)) for i, h in inputs.get("events", [])]


# --------------------------------------------------------------------------- claims and ledger


@dataclass(frozen=True, slots=True)
class Reservation:
    scope_key: str
    amount_yen: int
    count: int
    insured_person_ref: str

    def to_json(self) -> list[Any]:
        return [self.scope_key, self.amount_yen, self.count, self.insured_person_ref]

    @classmethod
    def from_json(cls, v: Sequence[Any]) -> Reservation:
        return cls(str(v[0]), int(v[1]), int(v[2]), str(v[3]))


@dataclass(frozen=True, slots=True)
class ClaimBinding:
    """What a claim decision entry says its claims row must hold."""

    claim_id: str
    fingerprint: str
    reply_sha256: str

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.claim_id,
            "fingerprint": self.fingerprint,
            "reply_sha256": self.reply_sha256,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ClaimBinding:
        return cls(str(d["id"]), str(d["fingerprint"]), str(d["reply_sha256"]))


def reply_digest(reply: bytes) -> str:
    return hashlib.sha256(reply).hexdigest()


def bound_json(
    reservations: Iterable[Reservation],
    claim: ClaimBinding | None = None,
    read: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The ``bound`` member of a claim (``claim`` given) or resolution entry's
    inputs; ``read``: the ledger usage (amount, count) of each scope the
    decision read, as the ledger table gave it."""
    out: dict[str, Any] = {"ledger": [r.to_json() for r in reservations]}
    if claim is not None:
        out["claim"] = claim.to_json()
    if read is not None:
        out["read"] = {k: [a, c] for k, (a, c) in read.items()}
    return out


@dataclass(frozen=True, slots=True)
class Bound:
    """The ``bound`` member as read back; ``None``: an entry from before it existed."""

    ledger: tuple[Reservation, ...]
    claim: ClaimBinding | None
    read: Mapping[str, tuple[int, int]]


def read_bound(inputs: Mapping[str, Any]) -> Bound | None:
    b = inputs.get(BOUND_KEY)
    if not isinstance(b, Mapping):
        return None
    claim = b.get("claim")
    return Bound(
        tuple(Reservation.from_json(r) for r in b.get("ledger", [])),
        ClaimBinding.from_json(claim) if isinstance(claim, Mapping) else None,
        {str(k): (int(v[0]), int(v[1])) for k, v in (b.get("read") or {}).items()},
    )


_BOUND_TAIL = b',"' + BOUND_KEY.encode() + b'":'


def bound_of(inputs: str | bytes) -> Bound | None:
    """``read_bound`` of a stored entry's ``inputs`` text, without decoding the
    whole of it: the store always writes ``bound`` as the object's last member
    (``sql/claims.bind``), so only that tail is parsed; anything else (an entry
    from before binding) is decoded in full."""
    raw = inputs.encode() if isinstance(inputs, str) else inputs
    if b'"' + BOUND_KEY.encode() + b'":' not in raw:
        return None  # an entry from before binding: nothing to decode
    i = raw.rfind(_BOUND_TAIL)
    if i >= 0 and raw.endswith(b"}"):
        try:
            tail = orjson.loads(raw[i + len(_BOUND_TAIL) : -1])
        except orjson.JSONDecodeError:
            tail = None
        if isinstance(tail, Mapping):
            return read_bound({BOUND_KEY: tail})
    d = orjson.loads(raw)
    return read_bound(d) if isinstance(d, Mapping) else None
