"""Check the tables that decide money against the verdict log: the ledger,
the claims rows and the events (issue 17; the forms are server/log/coverage.py).

``verify_coverage(reader)`` is run by ``anshin log verify`` after the chain
itself checked out (``verify_log.verify``), so the entries read here are the
signed log's. It names every difference, each as a ``Problem`` (the entry it
concerns and why), in this order:

* **ledger** — rebuilt from the reservations the claim and review-resolution
  entries bind; a row missing, a row no entry reserved ("extra") and a row
  whose amount, count or insured person differs from its entry's are named by
  decision id and scope. Then each claim decision's recorded ledger usage (its
  facts) is compared with what the log had reserved before it: a decision
  taken on a short-counted ledger (rows deleted before it, say, resetting a
  cap) is named too — that is the decision that may have overpaid.
* **claims rows** — each must point at the claim entry that binds its claim
  id, with that entry's fingerprint and (when it keeps one) a reply of the
  bound SHA-256; a row for a bound claim that is missing is named.
* **events** — each ``events`` entry lists its events' ids and row hashes; a
  listed event that is missing (deleted), one whose row no longer hashes to
  the listed hash (edited), and a row that claims an entry not listing it
  (inserted) are named. Events stored before schema 8 are bound to no entry:
  counted in a note; one stored after the first bound event with no entry is
  a problem (inserted behind the service's back).

Entries written before the binding existed (no ``bound`` member) cannot be
checked: their ledger and claims rows are taken as stored, and counted in a
note.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import orjson

from server.log import coverage
from server.store.ports import CoverageReader
from server.store.records import EventRow
from server.usecases.log_problem import Problem

# Problems listed at most (each kind): a wholesale rewrite is named, not printed a million times.
MAX_PROBLEMS = 200


@dataclass
class CoverageReport:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ledger_rows: int = 0
    claims_rows: int = 0
    events: int = 0

    def summary(self) -> list[str]:
        """Notes for the log's report: what was checked, what could not be, and
        every problem after the first (the report's own ``problem``)."""
        checked = (
            f"checked against the log: {self.ledger_rows} ledger rows, {self.claims_rows} "
            f"claims rows, {self.events} events"
        )
        also = [f"also: seq {p.seq} ({p.entry_id or '-'}): {p.reason}" for p in self.problems[1:]]
        return [checked, *self.notes, *also]

    def add(self, seq: int, entry_id: str | None, reason: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(seq, entry_id, reason))


def _yen(n: int) -> str:
    return f"¥{n:,}"


# --------------------------------------------------------------------------- the ledger


@dataclass(frozen=True, slots=True)
class _Decision:
    seq: int
    id: str
    kind: str
    bound: coverage.Bound | None
    # The ledger usage the decision read, per scope: amount, count.
    read: Mapping[str, tuple[int, int]]


def _decisions(reader: CoverageReader) -> list[_Decision]:
    out = []
    for seq, entry_id, kind, inputs_text in reader.binding_entries():
        bound = coverage.bound_of(inputs_text)
        out.append(_Decision(seq, entry_id, kind, bound, bound.read if bound else {}))
    return out


def check_ledger(
    decisions: list[_Decision],
    rows: Iterable[tuple[str, str, int, int, str]],
    report: CoverageReport,
) -> None:
    by_id = {d.id: d for d in decisions}
    stored: dict[tuple[str, str], tuple[int, int, str]] = {}
    of_decision: dict[str, list[coverage.Reservation]] = defaultdict(list)
    for scope, decision_id, amount, count, person in rows:
        stored[(decision_id, scope)] = (amount, count, person)
        of_decision[decision_id].append(coverage.Reservation(scope, amount, count, person))
    report.ledger_rows = len(stored)
    # What each decision reserved: bound in its entry, or (legacy) as stored.
    reserved: dict[str, list[coverage.Reservation]] = {}
    legacy = 0
    for d in decisions:
        if d.bound is None:
            legacy += 1
            reserved[d.id] = of_decision.get(d.id, [])
        else:
            reserved[d.id] = list(d.bound.ledger)
    if legacy:
        report.notes.append(
            f"{legacy} claim/resolution entries predate ledger binding: their ledger rows "
            "are taken as stored"
        )
    expected = {(i, r.scope_key): r for i, rs in reserved.items() for r in rs}
    for (decision_id, scope), r in expected.items():
        d = by_id[decision_id]
        row = stored.get((decision_id, scope))
        if row is None:
            report.add(
                d.seq,
                d.id,
                f"ledger row of decision {d.id} in scope {scope} is missing: the entry "
                f"reserved {_yen(r.amount_yen)} (count {r.count}, person {r.insured_person_ref!r})",
            )
        elif row != (r.amount_yen, r.count, r.insured_person_ref):
            report.add(
                d.seq,
                d.id,
                f"ledger row of decision {d.id} in scope {scope} was changed: it holds "
                f"{_yen(row[0])} (count {row[1]}, person {row[2]!r}), the entry reserved "
                f"{_yen(r.amount_yen)} (count {r.count}, person {r.insured_person_ref!r})",
            )
    for (decision_id, scope), row in stored.items():
        if (decision_id, scope) in expected:
            continue
        owner = by_id.get(decision_id)
        report.add(
            owner.seq if owner else 0,
            decision_id,
            f"ledger row of decision {decision_id} in scope {scope} ({_yen(row[0])}, count "
            f"{row[1]}) was reserved by no entry of the log (inserted behind the service's back)",
        )
    # Each claim decision read its scopes' usage: it must be what the log had reserved before it.
    used: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in decisions:
        for scope, (amount, count) in d.read.items():
            want = used[scope]
            if (amount, count) != (want[0], want[1]):
                report.add(
                    d.seq,
                    d.id,
                    f"{d.kind} {d.id} was decided on a ledger that disagrees with the log: "
                    f"scope {scope} read {_yen(amount)} used over {count} claims, but the "
                    f"decisions before it reserved {_yen(want[0])} over {want[1]}",
                )
        for r in reserved[d.id]:
            u = used[r.scope_key]
            u[0] += r.amount_yen
            u[1] += r.count


# --------------------------------------------------------------------------- claims rows


def check_claims(
    decisions: list[_Decision],
    rows: Iterable[tuple[str, str, str, bytes]],
    report: CoverageReport,
) -> None:
    claims = {d.id: d for d in decisions if d.kind == "claim"}
    by_claim: dict[str, list[_Decision]] = defaultdict(list)
    for d in claims.values():
        if d.bound is not None and d.bound.claim is not None:
            by_claim[d.bound.claim.claim_id].append(d)
    seen: set[str] = set()
    count = 0
    for claim_id, fingerprint, decision_id, reply in rows:
        count += 1
        seen.add(claim_id)
        found = claims.get(decision_id)
        if found is None:
            report.add(
                0,
                decision_id,
                f"claims row of claim_id {claim_id} points at {decision_id}, which is no "
                "claim decision of the log",
            )
            continue
        d = found
        if d.bound is None or d.bound.claim is None:
            continue  # a decision from before claims rows were bound
        b = d.bound.claim
        if b.claim_id != claim_id:
            report.add(
                d.seq,
                d.id,
                f"claims row of claim_id {claim_id} points at decision {d.id}, which decided "
                f"claim_id {b.claim_id}",
            )
        elif b.fingerprint != fingerprint:
            report.add(
                d.seq,
                d.id,
                f"claims row of claim_id {claim_id} carries another request fingerprint "
                f"than decision {d.id} bound",
            )
        elif reply and coverage.reply_digest(reply) != b.reply_sha256:
            report.add(
                d.seq,
                d.id,
                f"claims row of claim_id {claim_id} holds a reply that is not the one "
                f"decision {d.id} recorded (its SHA-256 differs)",
            )
    report.claims_rows = count
    for claim_id, ds in by_claim.items():
        if claim_id not in seen:
            d = ds[-1]
            report.add(
                d.seq, d.id, f"claims row of claim_id {claim_id} (decision {d.id}) is missing"
            )
        for d in ds[:-1]:
            report.add(
                d.seq,
                d.id,
                f"claim_id {claim_id} was decided more than once (decision {d.id}, then "
                f"{ds[-1].id}): its claims row had disappeared in between",
            )


# --------------------------------------------------------------------------- events


def _row_hash(r: EventRow) -> str:
    return coverage.event_row_hash(
        r.client_event_id,
        r.kind,
        r.customer_id,
        r.subject,
        r.event_us,
        r.recorded_us,
        r.fingerprint,
        r.payload,
        r.reply_head,
        r.judgements,
        r.request_id,
        r.caller,
    )


def _check_entry_events(
    seq: int, entry_id: str, inputs_text: str, rows: list[EventRow], report: CoverageReport
) -> None:
    listed = coverage.listed_events(orjson.loads(inputs_text))
    have = {r.client_event_id: r for r in rows}
    wanted = dict(listed)
    for event_id, h in listed:
        row = have.get(event_id)
        if row is None:
            report.add(seq, entry_id, f"event {event_id} listed by entry {entry_id} is missing")
        elif _row_hash(row) != h:
            report.add(
                seq,
                entry_id,
                f"event {event_id} was changed after it was stored (its row no longer "
                f"hashes to what entry {entry_id} lists)",
            )
    for r in rows:
        if r.client_event_id not in wanted:
            report.add(
                seq,
                entry_id,
                f"event {r.client_event_id} names entry {entry_id}, which does not list it "
                "(inserted behind the service's back)",
            )


def _groups(
    rows: Iterable[tuple[int | None, int, EventRow]],
    unbound: list[tuple[int, EventRow]],
) -> Iterator[tuple[int, list[EventRow], int]]:
    """(log_seq, its rows, lowest events.seq among them) in log_seq order; rows
    bound to no entry are put in ``unbound`` (they come first)."""
    group: list[EventRow] = []
    group_seq, low = 0, 0
    for log_seq, event_seq, row in rows:
        if log_seq is None:
            unbound.append((event_seq, row))
            continue
        if group and log_seq != group_seq:
            yield group_seq, group, low
            group = []
        if not group:
            group_seq, low = log_seq, event_seq
        group.append(row)
        low = min(low, event_seq)
    if group:
        yield group_seq, group, low


def check_events(reader: CoverageReader, report: CoverageReport) -> None:
    entries = iter(reader.events_entries())
    entry = next(entries, None)
    unbound: list[tuple[int, EventRow]] = []
    first_bound: int | None = None  # the lowest events.seq of a bound row
    count = 0
    for log_seq, rows, low in _groups(reader.bound_event_rows(), unbound):
        count += len(rows)
        first_bound = low if first_bound is None else min(first_bound, low)
        while entry is not None and entry[0] < log_seq:  # entries whose rows are all gone
            _check_entry_events(*entry, [], report)
            entry = next(entries, None)
        if entry is not None and entry[0] == log_seq:
            _check_entry_events(*entry, rows, report)
            entry = next(entries, None)
            continue
        for r in rows:
            report.add(
                log_seq,
                None,
                f"event {r.client_event_id} names log entry {log_seq}, which is no events "
                "entry (inserted behind the service's back)",
            )
    while entry is not None:
        _check_entry_events(*entry, [], report)
        entry = next(entries, None)
    legacy = 0
    for event_seq, row in unbound:
        if first_bound is not None and event_seq > first_bound:
            report.add(
                0,
                None,
                f"event {row.client_event_id} is bound to no log entry but was stored after "
                "events were bound (inserted behind the service's back)",
            )
        else:
            legacy += 1
    report.events = count + len(unbound)
    if legacy:
        report.notes.append(
            f"{legacy} events were stored before events were bound to the log: not checked"
        )


# --------------------------------------------------------------------------- all


def verify_coverage(reader: CoverageReader) -> CoverageReport:
    """Check the ledger, the claims rows and the events against the log."""
    report = CoverageReport()
    try:
        decisions = _decisions(reader)
        check_ledger(decisions, reader.ledger_rows(), report)
        check_claims(decisions, reader.claims_rows(), report)
        check_events(reader, report)
    except Exception as exc:  # any database error: these tables are not as migrated
        # The store's migrations made these tables; a column or table that is
        # gone (e.g. events.log_seq dropped, its schema version deleted, to
        # hide an edited event) is a change to the schema, reported as such
        # rather than a crash (second outside attack on issue 17).
        report.problems.append(
            Problem(
                0,
                None,
                "the ledger, claims or events tables cannot be read as this build's schema "
                f"defines them ({str(exc).splitlines()[0] if str(exc) else 'unreadable'}): "
                "their schema was altered outside the service",
            )
        )
    # Earliest entry first (what the report names as the first bad one); unplaced ones last.
    report.problems.sort(key=lambda p: (p.seq == 0, p.seq))
    return report
