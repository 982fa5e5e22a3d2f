"""Replay: re-make the logged claim decisions under a candidate rules directory.

Every claim entry of the verdict log (kind ``claim``) records the request and
what the decision read (``inputs.facts``: posture verdicts, raw events,
ledger usage, the decision instant; see ``server/usecases/claim_facts.py``). Replay
decides each claim again from exactly those facts under the candidate
``RuleSet`` and compares outcome, payable amount and the clauses that fired
(pushed DENY or REVIEW) with what was logged.

* Read-only: the log is read through ``server.store.open_log_reader``
  (SQLite opened with ``mode=ro``, PostgreSQL sessions read-only); nothing
  is written.
* Events are replayed raw, so coverage periods and the security-standard
  judgements are re-derived under the candidate's ``events.toml``.
* Ledger: a claim is replayed on the usage recorded when it was decided. When
  the candidate policy reads a cap scope that was not recorded (a changed
  year anchor, a new cap), that scope's usage is read from the ledger table
  as it was before the decision: the entries of decisions earlier in the log
  (``seq`` below this one). Counted as ``ledger_reads``.
* No cascade: a claim whose payout changes would change the usage that later
  claims of the same cap scope saw; replay reports each claim against the
  usage actually recorded (first-order effect), and says so.
* Never silent: an entry that cannot be replayed (logged before facts were
  recorded, a policy the candidate does not have, a claim the candidate
  refuses) is counted under ``not_replayable`` with its reason.

``replay`` runs in this process, or over a pool of processes (``workers``),
each with its own read-only reader and its own chunks of the log.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from rules import engine as eng
from rules.load import RuleSet, load_rules
from server.clock import from_us
from server.errors import InvalidArgument
from server.store import open_log_reader
from server.store.ports import ClaimHistory
from server.usecases.claim_facts import FactsSnapshot, context_from_facts
from server.wire import claims as conv
from server.wire.claim_json import parse_request

NO_FACTS = "logged before facts were recorded (no inputs.facts)"
CHUNK = 1000  # claims per fetch / per task of a worker process
AUTO_PARALLEL = 20_000  # workers=0: below this many claims, no worker processes


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Change:
    """One claim whose replayed decision differs from the logged one."""

    seq: int
    decision_id: str
    claim_id: str
    customer_id: str
    policy_id: str
    recorded_us: int
    old_outcome: str
    new_outcome: str
    old_payable: int
    new_payable: int
    old_fired: tuple[str, ...]
    new_fired: tuple[str, ...]

    @property
    def outcome_changed(self) -> bool:
        return self.old_outcome != self.new_outcome

    @property
    def amount_changed(self) -> bool:
        return self.old_payable != self.new_payable

    @property
    def newly_fired(self) -> tuple[str, ...]:
        return tuple(c for c in self.new_fired if c not in self.old_fired)

    @property
    def no_longer_fired(self) -> tuple[str, ...]:
        return tuple(c for c in self.old_fired if c not in self.new_fired)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "decision_id": self.decision_id,
            "claim_id": self.claim_id,
            "customer_id": self.customer_id,
            "policy_id": self.policy_id,
            "recorded_us": self.recorded_us,
            "outcome": {"old": self.old_outcome, "new": self.new_outcome},
            "payable_yen": {
                "old": self.old_payable,
                "new": self.new_payable,
                "delta": self.new_payable - self.old_payable,
            },
            "fired": {"old": list(self.old_fired), "new": list(self.new_fired)},
            "newly_fired": list(self.newly_fired),
            "no_longer_fired": list(self.no_longer_fired),
        }


@dataclass(slots=True)
class PolicyTally:
    replayed: int = 0
    changed: int = 0
    outcome_changed: int = 0
    amount_changed: int = 0
    amount_delta_yen: int = 0

    def add(self, other: PolicyTally) -> None:
        self.replayed += other.replayed
        self.changed += other.changed
        self.outcome_changed += other.outcome_changed
        self.amount_changed += other.amount_changed
        self.amount_delta_yen += other.amount_delta_yen


@dataclass(slots=True)
class Tally:
    """What a replay found; tallies of chunks merge with ``add`` (in log order)."""

    replayed: int = 0
    unchanged: int = 0
    not_replayable: Counter[str] = field(default_factory=Counter)
    not_replayable_ids: dict[str, list[str]] = field(default_factory=dict)  # a few per reason
    outcome_changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    amount_changed: int = 0
    amount_delta_yen: int = 0
    by_policy: dict[str, PolicyTally] = field(default_factory=dict)
    newly_fired: Counter[str] = field(default_factory=Counter)
    no_longer_fired: Counter[str] = field(default_factory=Counter)
    ledger_reads: int = 0
    changes: list[Change] = field(default_factory=list)
    cpu_s: float = 0.0  # CPU time spent replaying, summed over processes (not in to_json)

    @property
    def changed(self) -> int:
        return len(self.changes)

    def add(self, other: Tally) -> None:
        self.replayed += other.replayed
        self.unchanged += other.unchanged
        self.not_replayable.update(other.not_replayable)
        for reason, ids in other.not_replayable_ids.items():
            mine = self.not_replayable_ids.setdefault(reason, [])
            mine.extend(ids[: max(0, 5 - len(mine))])
        self.outcome_changes.update(other.outcome_changes)
        self.amount_changed += other.amount_changed
        self.amount_delta_yen += other.amount_delta_yen
        for pid, t in other.by_policy.items():
            self.by_policy.setdefault(pid, PolicyTally()).add(t)
        self.newly_fired.update(other.newly_fired)
        self.no_longer_fired.update(other.no_longer_fired)
        self.ledger_reads += other.ledger_reads
        self.changes.extend(other.changes)
        self.cpu_s += other.cpu_s

    def refuse(self, reason: str, decision_id: str) -> None:
        self.not_replayable[reason] += 1
        ids = self.not_replayable_ids.setdefault(reason, [])
        if len(ids) < 5:
            ids.append(decision_id)

    def record(self, change: Change | None, policy_id: str) -> None:
        self.replayed += 1
        pt = self.by_policy.get(policy_id)
        if pt is None:
            pt = self.by_policy[policy_id] = PolicyTally()
        pt.replayed += 1
        if change is None:
            self.unchanged += 1
            return
        self.changes.append(change)
        pt.changed += 1
        if change.outcome_changed:
            self.outcome_changes[(change.old_outcome, change.new_outcome)] += 1
            pt.outcome_changed += 1
        if change.amount_changed:
            delta = change.new_payable - change.old_payable
            self.amount_changed += 1
            self.amount_delta_yen += delta
            pt.amount_changed += 1
            pt.amount_delta_yen += delta
        self.newly_fired.update(change.newly_fired)
        self.no_longer_fired.update(change.no_longer_fired)

    def to_json(self) -> dict[str, Any]:
        return {
            "replayed": self.replayed,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "not_replayable": {
                "total": sum(self.not_replayable.values()),
                "reasons": [
                    {"reason": r, "count": n, "examples": self.not_replayable_ids.get(r, [])}
                    for r, n in sorted(self.not_replayable.items())
                ],
            },
            "outcome_changes": [
                {"from": a, "to": b, "count": n}
                for (a, b), n in sorted(self.outcome_changes.items())
            ],
            "amount": {"changed": self.amount_changed, "delta_yen": self.amount_delta_yen},
            "by_policy": {
                pid: {
                    "replayed": t.replayed,
                    "changed": t.changed,
                    "outcome_changed": t.outcome_changed,
                    "amount_changed": t.amount_changed,
                    "amount_delta_yen": t.amount_delta_yen,
                }
                for pid, t in sorted(self.by_policy.items())
            },
            "by_clause": {
                c: {"newly_fired": self.newly_fired[c], "no_longer_fired": self.no_longer_fired[c]}
                for c in sorted(set(self.newly_fired) | set(self.no_longer_fired))
            },
            "ledger_reads": self.ledger_reads,
            "changes": [c.to_json() for c in self.changes],
        }


# --------------------------------------------------------------------------- reading


def ledger_before(
    reader: ClaimHistory, seq: int, scopes: Sequence[str]
) -> dict[str, eng.LedgerUsage]:
    """Usage of ``scopes`` from the ledger entries of decisions logged before ``seq``."""
    return {
        s: eng.LedgerUsage(u.amount_yen, u.count, u.persons)
        for s, u in reader.ledger_before(seq, scopes).items()
    }


# --------------------------------------------------------------------------- replaying


class Replayer:
    """Re-makes logged claim decisions under one candidate ``RuleSet``."""

    def __init__(self, reader: ClaimHistory, rules: RuleSet) -> None:
        self.reader = reader
        self.rules = rules
        self.policy_ids = frozenset(rules.policies.policies)

    def chunk(
        self, seqs: Sequence[int], since_us: int | None = None, until_us: int | None = None
    ) -> Tally:
        start = time.process_time()
        tally = Tally()
        for row in self.reader.claim_rows(seqs):
            recorded_us = int(row[4])
            if (since_us is not None and recorded_us < since_us) or (
                until_us is not None and recorded_us >= until_us
            ):
                continue  # outside the window (the seq range is only its hull)
            self.one(row, tally)
        tally.cpu_s = time.process_time() - start
        return tally

    def one(self, row: Sequence[Any], tally: Tally) -> None:
        seq, decision_id, customer_id, policy_id, recorded_us, outcome, clause_ids = row[:7]
        inputs = orjson.loads(row[7])
        facts = inputs.get("facts") if isinstance(inputs, dict) else None
        if facts is None:
            tally.refuse(NO_FACTS, decision_id)
            return
        try:
            snapshot = FactsSnapshot.from_json(facts)
        except (ValueError, KeyError, TypeError) as exc:
            tally.refuse(f"unreadable facts: {exc}", decision_id)
            return
        request = parse_request(inputs["request"])
        try:
            claim = conv.claim_facts(request, from_us(snapshot.now_us), self.policy_ids)
        except InvalidArgument as exc:
            tally.refuse(f"refused under the candidate rules: {exc}", decision_id)
            return
        policy = self.rules.policies.get(claim.policy_id)
        ctx = context_from_facts(snapshot, claim, policy, self.rules)
        try:
            scopes = eng.ledger_scopes(policy, claim, ctx)
        except eng.ClaimError as exc:
            tally.refuse(f"refused under the candidate rules: {exc}", decision_id)
            return
        missing = [s for s in scopes if s not in ctx.ledger]
        if missing:
            tally.ledger_reads += 1
            ctx = replace(ctx, ledger={**ctx.ledger, **ledger_before(self.reader, seq, missing)})
        decision = eng.outline(policy, claim, ctx)
        old_fired = () if outcome == "APPROVE" else tuple(orjson.loads(clause_ids))
        new_fired = decision.fired
        old_payable = int(row[8] or 0)
        new_outcome = decision.outcome.value
        change = None
        if (
            new_outcome != outcome
            or decision.payable_yen != old_payable
            or set(new_fired) != set(old_fired)
        ):
            change = Change(
                seq=seq,
                decision_id=decision_id,
                claim_id=claim.claim_id,
                customer_id=customer_id,
                policy_id=policy_id or claim.policy_id,
                recorded_us=recorded_us,
                old_outcome=outcome,
                new_outcome=new_outcome,
                old_payable=old_payable,
                new_payable=decision.payable_yen,
                old_fired=old_fired,
                new_fired=new_fired,
            )
        tally.record(change, policy_id or claim.policy_id)


# --------------------------------------------------------------------------- driving


def _chunks(seqs: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(seqs), size):
        yield seqs[i : i + size]


_WORKER: Replayer | None = None


def _init_worker(db_url: str, rules_dir: str, digest: str) -> None:
    global _WORKER
    rules = load_rules(rules_dir)
    if rules.digest != digest:
        raise RuntimeError(f"{rules_dir} changed during the replay (digest {rules.digest})")
    _WORKER = Replayer(open_log_reader(db_url), rules)


def _work(task: tuple[Sequence[int], int | None, int | None]) -> Tally:
    assert _WORKER is not None
    return _WORKER.chunk(*task)


def replay(
    db_url: str,
    rules: RuleSet,
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    policy: str | None = None,
    workers: int = 1,
    chunk: int = CHUNK,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Tally:
    """Replay the claim entries of the log at ``db_url`` under ``rules``; nothing is written.

    ``workers`` > 1 spreads chunks over that many processes (each loads the
    rules directory again and checks its digest); 0 chooses: one process per
    CPU (at most 4) from ``AUTO_PARALLEL`` claims on, else this process. ``on_total`` gets the
    number of entries to replay, ``on_progress`` each chunk's size.
    """
    reader = open_log_reader(db_url)
    try:
        seqs = reader.claim_seqs(since_us=since_us, until_us=until_us, policy=policy)
        if on_total is not None:
            on_total(len(seqs))
        if workers == 0:
            workers = min(os.cpu_count() or 1, 4) if len(seqs) >= AUTO_PARALLEL else 1
        tasks = [(c, since_us, until_us) for c in _chunks(seqs, chunk)]
        total = Tally()
        if workers <= 1 or len(tasks) < 2:
            replayer = Replayer(reader, rules)
            _merge(total, (replayer.chunk(*t) for t in tasks), tasks, on_progress)
            return total
    finally:
        reader.close()
    import multiprocessing

    # Not forked from this process, which may run threads (a server, a store).
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        ctx.set_forkserver_preload(["server.usecases.replay"])
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(db_url, str(rules.directory), rules.digest),
    ) as pool:
        _merge(total, pool.map(_work, tasks), tasks, on_progress)
    return total


def _merge(
    total: Tally,
    results: Iterable[Tally],
    tasks: Sequence[tuple[Sequence[int], int | None, int | None]],
    on_progress: Callable[[int], None] | None,
) -> None:
    for task, tally in zip(tasks, results, strict=True):
        total.add(tally)
        if on_progress is not None:
            on_progress(len(task[0]))
