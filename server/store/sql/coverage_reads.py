"""What ``anshin log verify`` reads to check the tables the log covers
(``ports.CoverageReader``): the entries that bind them, and the ledger,
claims and events rows as stored. Mixed into the read-only log reader
(``sql/log_reader.py``), whose ``conn`` it reads through.

Each read streams in pages or in one pass ordered by an index, so checking a
large database keeps bounded memory except for what the check itself keeps
(the expected ledger and claims rows, one entry's events at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from server.store.records import EventRow

_PAGE = 5000


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes | bytearray | memoryview) else value


class CoverageReads:
    """``ports.CoverageReader`` over the reader's read-only ``conn``."""

    conn: Any  # provided by SqlLogReader

    def _paged(self, sql: str, key_index: int = 0) -> Iterator[Any]:
        """Rows of ``sql`` (with ``{after}`` where ``seq > ?`` goes and ``LIMIT ?``
        at its end), page after page by the integer key at ``key_index``."""
        after = -(2**63)
        while True:
            rows = self.conn.execute(sql, (after, _PAGE)).fetchall()
            yield from rows
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][key_index])

    def binding_entries(self) -> Iterator[tuple[int, str, str, str]]:
        """(seq, id, kind, inputs) of every claim and review-resolution entry, in seq order."""
        for r in self._paged(
            "SELECT seq, id, kind, inputs FROM verdicts WHERE kind IN ('claim', "
            "'review_resolution') AND seq > ? ORDER BY seq LIMIT ?"
        ):
            yield int(r[0]), _text(r[1]), _text(r[2]), _text(r[3])

    def events_entries(self) -> Iterator[tuple[int, str, str]]:
        """(seq, id, inputs) of every ``events`` entry, in seq order."""
        for r in self._paged(
            "SELECT seq, id, inputs FROM verdicts WHERE kind = 'events' AND seq > ? "
            "ORDER BY seq LIMIT ?"
        ):
            yield int(r[0]), _text(r[1]), _text(r[2])

    def ledger_rows(self) -> Iterator[tuple[str, str, int, int, str]]:
        """(scope_key, decision_id, amount_yen, count, insured_person_ref) of every row."""
        for r in self.conn.execute(
            "SELECT scope_key, decision_id, amount_yen, count, insured_person_ref FROM ledger"
        ).fetchall():
            yield _text(r[0]), _text(r[1]), int(r[2]), int(r[3]), _text(r[4])

    def claims_rows(self) -> Iterator[tuple[str, str, str, bytes]]:
        """(claim_id, fingerprint, decision_id, reply) of every claims row."""
        for r in self.conn.execute(
            "SELECT claim_id, fingerprint, decision_id, reply FROM claims"
        ).fetchall():
            yield _text(r[0]), _text(r[1]), _text(r[2]), bytes(r[3])

    def bound_event_rows(self) -> Iterator[tuple[int | None, int, EventRow]]:
        """(log_seq, events.seq, row) of every stored event: those with no log_seq
        (stored before events were bound) first, by arrival; then by log_seq and
        arrival. Keyset pages, so a large table is never held at once."""
        after = -(2**63)
        while True:
            rows = self.conn.execute(
                f"{_EVENT_SELECT} WHERE e.log_seq IS NULL AND e.seq > ? ORDER BY e.seq LIMIT ?",
                (after, _PAGE),
            ).fetchall()
            yield from map(_event, rows)
            if len(rows) < _PAGE:
                break
            after = int(rows[-1][1])
        log_seq, after = -(2**63), -(2**63)
        while True:
            rows = self.conn.execute(
                f"{_EVENT_SELECT} WHERE e.log_seq IS NOT NULL AND (e.log_seq > ? OR "
                "(e.log_seq = ? AND e.seq > ?)) ORDER BY e.log_seq, e.seq LIMIT ?",
                (log_seq, log_seq, after, _PAGE),
            ).fetchall()
            yield from map(_event, rows)
            if len(rows) < _PAGE:
                return
            log_seq, after = int(rows[-1][0]), int(rows[-1][1])


_EVENT_SELECT = (
    "SELECT e.log_seq, e.seq, e.client_event_id, e.kind, e.customer_id, e.subject, "
    "e.event_us, e.recorded_us, e.fingerprint, e.payload, e.reply_head, j.wire, "
    "e.request_id, e.caller FROM events e LEFT JOIN judgement_sets j ON j.ref = e.judgements_ref"
)


def _event(t: Any) -> tuple[int | None, int, EventRow]:
    return (
        None if t[0] is None else int(t[0]),
        int(t[1]),
        EventRow(
            _text(t[2]),
            _text(t[3]),
            _text(t[4]),
            _text(t[5]),
            int(t[6]),
            int(t[7]),
            _text(t[8]),
            _text(t[9]).encode(),
            bytes(t[10]),
            b"" if t[11] is None else bytes(t[11]),
            _text(t[12]),
            _text(t[13]),
        ),
    )
