"""The claim engine: ``evaluate(policy, claim, context) -> Decision``.

Pure and deterministic. Every clause of the policy is evaluated (none is
skipped because an earlier one already denied), so the decision lists every
clause that fired:

1. clauses whose ``applies_to`` does not match the incident are NOT_APPLICABLE;
2. condition clauses run in file order; in an ``any_of`` group (the insured
   events DCM-E1..E3, JPE-E1..E3) one PASS makes the others NOT_APPLICABLE,
   and while a member is UNKNOWN the non-matching members push nowhere;
3. amount clauses run in stage order (recovered → points → percentage →
   caps in file order) from the loss, each recording a computation step;
4. outcome: DENY if any clause pushes DENY, else REVIEW if any pushes REVIEW,
   else APPROVE — unless nothing is left to pay, which is a DENY;
5. an APPROVE lists the reservations the store must make atomically.

Effects: a FAIL of a ``DENY`` or ``gate`` clause pushes DENY, of a ``REVIEW``
clause REVIEW; an UNKNOWN (a fact missing) always pushes REVIEW; a PASS of a
``gate`` condition pushes APPROVE; everything else pushes nowhere (NONE).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from checks.model import CheckStatus, Compared
from rules.engine.kinds import KINDS, AmountFinding, Finding, ReservationSpec
from rules.engine.kinds.base import NeedsFn, ScopeFn
from rules.engine.kinds.events import CONTRADICTIONS
from rules.engine.model import (
    ClaimFacts,
    ClauseResult,
    Decision,
    Effect,
    EvaluationContext,
    LedgerUsage,
    Outcome,
    Reservation,
)
from rules.engine.needs import CoverEvents, Need
from rules.engine.policy import Clause, ClauseEffect, Policy, PolicySet
from timing.computation import Computation
from timing.money import format_yen
from timing.trace import Step

__all__ = [
    "ClaimError",
    "Outline",
    "claim_marks",
    "empty_ledger",
    "evaluate",
    "evaluate_in",
    "held_back",
    "ledger_scopes",
    "outline",
    "refusal_marks",
    "reservations_for",
]

PASS = CheckStatus.PASS
FAIL = CheckStatus.FAIL
UNKNOWN = CheckStatus.UNKNOWN
NOT_APPLICABLE = CheckStatus.NOT_APPLICABLE


class ClaimError(ValueError):
    """The claim cannot be evaluated under this policy (maps to INVALID_ARGUMENT).

    ``field`` names the request field at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message  # without the field: a violation names it apart
        super().__init__(f"{field}: {message}")


def _applies(clause: Clause, claim: ClaimFacts) -> bool:
    if not clause.applies_to:
        return True
    for item in clause.applies_to:
        incident, _, sub = item.partition(":")
        if incident == claim.incident_type and (not sub or sub == claim.incident.subkind):
            return True
    return False


def _check_claim(policy: Policy, claim: ClaimFacts) -> None:
    if claim.policy_id.strip().upper() != policy.id:
        raise ClaimError("policy_id", f"claim is for {claim.policy_id!r}, not {policy.id}")
    if claim.incident_type not in policy.incidents:
        raise ClaimError(
            "incident",
            f"{policy.id} does not cover {claim.incident_type} claims "
            f"(expected one of {', '.join(policy.incidents)})",
        )


def _check_against_record(policy: Policy, claim: ClaimFacts, context: EvaluationContext) -> None:
    """A claim whose stated facts contradict each other on the record (an attestation
    and the instant it stands in for: ISA-X22, KDN-Y3) is refused, naming both,
    never decided on one of them while the other is accepted and ignored."""
    for clause in policy.clauses:
        check = CONTRADICTIONS.get(clause.kind)
        if check is not None and _applies(clause, claim):
            found = check(clause, claim, context)
            if found is not None:
                raise ClaimError(*found)


def ledger_scopes(policy: Policy, claim: ClaimFacts, context: EvaluationContext) -> tuple[str, ...]:
    """Every ledger scope key the evaluation of ``claim`` will read.

    The store computes ``LedgerUsage`` for each (zero when nothing was paid)
    and passes them in ``EvaluationContext.ledger``. Only ``context.coverage``
    is consulted (ISA-I1 scopes are per coverage period).
    """
    _check_claim(policy, claim)
    _check_against_record(policy, claim, context)
    keys: dict[str, None] = {}
    for clause, scopes in _plan(policy, claim).scopes:
        for key in scopes(clause, claim, context):
            keys.setdefault(key)
    return tuple(keys)


def claim_marks(
    policy: Policy, claim: ClaimFacts, outcome: Outcome | None = None
) -> tuple[str, ...]:
    """The ledger keys a *recorded* decision of ``claim`` counts in (count 1, no
    amount): what a later claim of the same incident, or of one near it, must be
    compared with — that it was claimed, in which series, and whether the payment
    was held back (``outcome`` DENY: pass ``Outcome.DENY`` when ``held_back``). A
    dry run counts nothing."""
    _check_claim(policy, claim)
    keys: dict[str, None] = {}
    for clause in policy.clauses:
        marks = KINDS[clause.kind].marks
        if marks is None or not _applies(clause, claim):
            continue
        for key in marks(clause, claim, outcome is Outcome.DENY):
            keys.setdefault(key)
    return tuple(keys)


def held_back(decision: Decision) -> bool:
    """The payment held back on what was stated: a DENY, or a REVIEW that some clause
    judged (not only facts missing). Its incident is marked refused (``claim_marks``):
    the same incident told again with other facts goes to a human."""
    if decision.outcome is Outcome.DENY:
        return True
    # Judged: a clause pushing REVIEW that names no missing fact (a FAIL, or an answer
    # the clause does not provide for) — not one waiting for a fact to be stated.
    return decision.outcome is Outcome.REVIEW and any(
        c.effect is Effect.REVIEW and not c.missing_facts for c in decision.clauses
    )


def refusal_marks(policy: Policy, claim: ClaimFacts) -> tuple[str, ...]:
    """What a DENY marks beyond any recorded decision (``claim_marks``): written by
    an analyst's DENY of a REVIEW, whose decision already counted the rest."""
    marked = set(claim_marks(policy, claim))
    return tuple(k for k in claim_marks(policy, claim, Outcome.DENY) if k not in marked)


def claim_needs(policy: Policy, claim: ClaimFacts) -> tuple[Need, ...]:
    """The questions about recorded events that evaluating ``claim`` reads
    (rules/engine/needs.py), each once: the events the policy's ``[cover]``
    builds periods from, then what each clause that applies asks of them.
    The store answers them (``EventLog.claim_events``); nothing else is read."""
    _check_claim(policy, claim)
    asked: dict[Need, None] = {}
    if policy.cover is not None:
        for kind, subject in policy.cover.reads:
            asked.setdefault(CoverEvents(kind, subject, claim.claimed_at))
    for clause, fn in _plan(policy, claim).needs:
        for need in fn(clause, claim):
            asked.setdefault(need)
    return tuple(asked)


def empty_ledger(
    policy: Policy, claim: ClaimFacts, context: EvaluationContext
) -> Mapping[str, LedgerUsage]:
    """A zero usage for every scope of ``ledger_scopes`` (nothing paid yet)."""
    return {key: LedgerUsage() for key in ledger_scopes(policy, claim, context)}


def _effect(category: str, clause: Clause, finding: Finding) -> Effect:
    status = finding.status
    if finding.effect is not None and status in (FAIL, UNKNOWN):
        return finding.effect
    if status is FAIL:
        return Effect.REVIEW if clause.effect is ClauseEffect.REVIEW else Effect.DENY
    if status is UNKNOWN:
        return Effect.REVIEW
    if status is PASS and category == "condition" and clause.effect is ClauseEffect.GATE:
        return Effect.APPROVE
    return Effect.NONE


def _result(
    clause: Clause, finding: Finding, amounts: tuple[int, int] | None = None
) -> ClauseResult:
    spec = KINDS[clause.kind]
    return ClauseResult(
        clause.id,
        clause.part,
        clause.kind,
        finding.status,
        _effect(spec.category, clause, finding),
        finding.compared,
        clause.text_ja,
        finding.explanation_ja,
        finding.missing_facts,
        None if amounts is None else amounts[0],
        None if amounts is None else amounts[1],
    )


@dataclass(slots=True)
class _Merged:
    cap_ids: list[str]
    limit_yen: int | None
    max_count: int | None
    person: str


def _reservations(
    specs: list[tuple[str, ReservationSpec]], payable: int
) -> tuple[Reservation, ...]:
    merged: dict[str, _Merged] = {}
    specs = [(cap_id, s) for cap_id, spec in specs for s in (spec, *spec.also)]
    for cap_id, spec in specs:
        m = merged.get(spec.scope_key)
        if m is None:
            merged[spec.scope_key] = _Merged(
                [cap_id], spec.limit_yen, spec.max_count, spec.insured_person_ref
            )
            continue
        if cap_id not in m.cap_ids:
            m.cap_ids.append(cap_id)
        if spec.limit_yen is not None:
            m.limit_yen = (
                spec.limit_yen if m.limit_yen is None else min(m.limit_yen, spec.limit_yen)
            )
        if spec.max_count is not None:
            m.max_count = (
                spec.max_count if m.max_count is None else min(m.max_count, spec.max_count)
            )
        m.person = m.person or spec.insured_person_ref
    return tuple(
        Reservation(key, tuple(m.cap_ids), payable, 1, m.limit_yen, m.max_count, m.person)
        for key, m in merged.items()
    )


def reservations_for(
    policy: Policy, claim: ClaimFacts, context: EvaluationContext, payable: int
) -> tuple[Reservation, ...]:
    """What an APPROVE of ``claim`` paying ``payable`` reserves (a human's
    approval of a REVIEW decision): the same findings ``evaluate`` collects its
    reservations from — the clauses with ledger scopes — and the same merge."""
    specs: list[tuple[str, ReservationSpec]] = []
    loss = claim.amounts.loss_yen
    for clause in policy.clauses:
        kind = KINDS[clause.kind]
        if kind.scopes is None or not _applies(clause, claim):
            continue
        if kind.amount is not None:
            finding = kind.amount(clause, claim, context, loss).finding
        elif kind.check is not None:
            finding = kind.check(clause, claim, context)
        else:
            continue
        if finding.reservation is not None:
            specs.append((clause.id, finding.reservation))
    return _reservations(specs, payable)


def _summary(
    policy: Policy, outcome: Outcome, payable: int, results: list[ClauseResult], computed: int
) -> str:
    if outcome is Outcome.APPROVE:
        return f"支払可: {format_yen(payable)}（{policy.name}）。"
    deny = [r.label for r in results if r.effect is Effect.DENY]
    review = [r.label for r in results if r.effect is Effect.REVIEW]
    missing: dict[str, None] = {}
    for r in results:
        for m in r.missing_facts:
            missing.setdefault(m)
    if outcome is Outcome.DENY:
        if not deny:
            return f"支払対象外: 支払う額がありません（計算結果{format_yen(computed)}）。"
        text = f"支払対象外: {', '.join(deny)}により保険金・補償金をお支払いしません。"
        if review:
            text += f" ほかに要確認: {', '.join(review)}。"
        return text
    text = f"要審査: {', '.join(review)}について人による判断が必要です。"
    if missing:
        text += f" 不足している事実: {', '.join(missing)}。"
    return text


class _Entry(NamedTuple):
    """One clause that applies, as a plan runs it: where it is in the policy
    (``position``), the kind's function, and where its findings push (``_effect``,
    resolved once for the clause: only the finding's status and override vary)."""

    position: int
    clause: Clause
    fn: Callable[..., Any]  # CheckFn of a condition, AmountFn of an amount clause
    memoised: bool  # conditions: the kind returns the same Finding for the same inputs
    on_fail: Effect  # a FAIL without an override: DENY, or REVIEW for a REVIEW clause
    on_pass: Effect  # APPROVE for a gate condition, else NONE


def _entry(position: int, clause: Clause, fn: Callable[..., Any], memoised: bool = False) -> _Entry:
    category = KINDS[clause.kind].category
    return _Entry(
        position,
        clause,
        fn,
        memoised,
        Effect.REVIEW if clause.effect is ClauseEffect.REVIEW else Effect.DENY,
        (
            Effect.APPROVE
            if category == "condition" and clause.effect is ClauseEffect.GATE
            else Effect.NONE
        ),
    )


def _pushes(entry: _Entry, finding: Finding) -> Effect:
    """``_effect`` of a finding of the clause of ``entry``."""
    status = finding.status
    if status is FAIL:
        return entry.on_fail if finding.effect is None else finding.effect
    if status is UNKNOWN:
        return Effect.REVIEW if finding.effect is None else finding.effect
    if status is PASS:
        return entry.on_pass
    return Effect.NONE


def _result_of(
    entry: _Entry, finding: Finding, amount_in: int | None = None, amount_out: int | None = None
) -> ClauseResult:
    """``_result``, with the effect resolved from the plan's entry."""
    clause = entry.clause
    return ClauseResult(
        clause.id,
        clause.part,
        clause.kind,
        finding.status,
        _pushes(entry, finding),
        finding.compared,
        clause.text_ja,
        finding.explanation_ja,
        finding.missing_facts,
        amount_in,
        amount_out,
    )


@dataclass(slots=True)
class _Plan:
    """What ``evaluate`` does for one policy and one incident type (and sub-kind).

    Built once from the policy (which is immutable) and kept by it
    (``Policy.plans``): the condition clauses that apply with their check
    functions, the amount clauses in stage order, and the results of the
    clauses that do not apply, which never depend on the claim. ``memo``
    reuses the ``ClauseResult`` built from a finding that a memoised kind
    returned before (the same object; the entry holds it, so its id is not
    reused while there): the result is a pure function of the clause and the
    finding.
    """

    policy: Policy
    conditions: tuple[_Entry, ...]
    amounts: tuple[_Entry, ...]
    fixed: tuple[tuple[int, Finding, ClauseResult], ...]
    # The any_of groups' members, as positions in ``conditions``.
    groups: tuple[tuple[int, ...], ...]
    scopes: tuple[tuple[Clause, ScopeFn], ...]  # the clauses that apply and read the ledger
    needs: tuple[tuple[Clause, NeedsFn], ...]  # the clauses that apply and read recorded events
    memo: dict[tuple[int, int], tuple[Finding, ClauseResult]] = field(default_factory=dict)


_MEMO_LIMIT = 4096


def _plan(policy: Policy, claim: ClaimFacts) -> _Plan:
    key = (claim.incident_type, claim.incident.subkind)
    plan: _Plan | None = policy.plans.get(key)
    if plan is None:
        plan = policy.plans[key] = _compile(policy, claim)
    return plan


def _compile(policy: Policy, claim: ClaimFacts) -> _Plan:
    conditions: list[_Entry] = []
    amounts: list[_Entry] = []
    fixed: list[tuple[int, Finding, ClauseResult]] = []
    scopes: list[tuple[Clause, ScopeFn]] = []
    needs: list[tuple[Clause, NeedsFn]] = []
    for i, clause in enumerate(policy.clauses):
        spec = KINDS[clause.kind]
        if spec.scopes is not None and _applies(clause, claim):
            scopes.append((clause, spec.scopes))
        if spec.needs is not None and _applies(clause, claim):
            needs.append((clause, spec.needs))
        if not _applies(clause, claim):
            finding = Finding(
                NOT_APPLICABLE,
                f"この条項は{'・'.join(clause.applies_to)}の請求にだけ適用されます。",
            )
            fixed.append((i, finding, _result(clause, finding)))
        elif spec.amount is not None:
            amounts.append(_entry(i, clause, spec.amount))
        else:
            assert spec.check is not None
            conditions.append(_entry(i, clause, spec.check, spec.memoised))
    amounts.sort(key=lambda a: (KINDS[a.clause.kind].stage, a.position))
    return _Plan(
        policy,
        tuple(conditions),
        tuple(amounts),
        tuple(fixed),
        _groups(conditions),
        tuple(scopes),
        tuple(needs),
    )


def _outcome(deny: bool, review: bool, amount: int) -> Outcome:
    """DENY if a clause pushes DENY, else REVIEW if one pushes REVIEW, else APPROVE,
    unless nothing is left to pay (DENY)."""
    if deny:
        return Outcome.DENY
    if review:
        return Outcome.REVIEW
    if amount == 0:
        return Outcome.DENY
    return Outcome.APPROVE


@dataclass(slots=True)
class _Pass:
    """One pass of a plan over a claim, by clause index (file order): each finding
    and where it pushes; with ``explain``, the clause results and the steps too."""

    findings: list[Finding | None]
    effects: list[Effect]
    results: list[ClauseResult | None]
    steps: list[Step]
    binding: str | None
    amount: int

    @property
    def outcome(self) -> Outcome:
        effects = self.effects
        return _outcome(Effect.DENY in effects, Effect.REVIEW in effects, self.amount)


def _run(plan: _Plan, claim: ClaimFacts, context: EvaluationContext, explain: bool) -> _Pass:
    """The loop ``evaluate`` and ``outline`` share: conditions (groups resolved), the
    clauses that do not apply, then the amount chain from the loss in stage order.

    Without ``explain`` only what decides is computed: a FAIL or an UNKNOWN is
    the only finding that pushes DENY or REVIEW (``_effect``), so no other is
    mapped, and no ``ClauseResult`` or entry is built.
    """
    n = len(plan.policy.clauses)
    findings: list[Finding | None] = [None] * n
    effects: list[Effect] = [Effect.NONE] * n
    results: list[ClauseResult | None] = [None] * n if explain else []
    memo = plan.memo
    if explain and len(memo) > _MEMO_LIMIT:
        memo.clear()
    conditions = plan.conditions
    checked: list[Finding] = [entry.fn(entry.clause, claim, context) for entry in conditions]
    # In an any_of group another member's finding may stand in for a member's: a
    # new finding, so not memoised (``resolved[k] is not checked[k]``).
    resolved = _resolve_groups(conditions, checked, plan.groups) if plan.groups else checked
    for k, entry in enumerate(conditions):
        finding = resolved[k]
        i = entry.position
        findings[i] = finding
        if explain:
            if entry.memoised and finding is checked[k]:
                hit = memo.get((i, id(finding)))
                if hit is not None and hit[0] is finding:
                    result = hit[1]
                else:
                    result = _result_of(entry, finding)
                    memo[(i, id(finding))] = (finding, result)  # holds it: its id stays unique
            else:
                result = _result_of(entry, finding)
            results[i] = result
            effects[i] = result.effect
        else:
            status = finding.status
            if status is FAIL or status is UNKNOWN:
                effects[i] = _pushes(entry, finding)
    for i, finding, result in plan.fixed:
        findings[i] = finding
        effects[i] = result.effect
        if explain:
            results[i] = result
    amount = claim.amounts.loss_yen
    steps: list[Step] = [Step("loss", "", amount, amount)] if explain else []
    binding: str | None = None
    for entry in plan.amounts:
        answer: AmountFinding = entry.fn(entry.clause, claim, context, amount)
        finding = answer.finding
        i = entry.position
        findings[i] = finding
        if explain:
            steps.extend(answer.steps)
            if answer.binding:
                binding = entry.clause.id
            result = _result_of(entry, finding, amount, answer.output)
            results[i] = result
            effects[i] = result.effect
        else:
            status = finding.status
            if status is FAIL or status is UNKNOWN:
                effects[i] = _pushes(entry, finding)
        amount = answer.output
    return _Pass(findings, effects, results, steps, binding, amount)


def evaluate(policy: Policy, claim: ClaimFacts, context: EvaluationContext) -> Decision:
    """Decide ``claim`` under ``policy`` from what Anshin recorded (``context``).

    Raises ``ClaimError`` when the claim is not for this policy or its
    incident type is not one the policy covers.
    """
    _check_claim(policy, claim)
    run = _run(_plan(policy, claim), claim, context, explain=True)
    clauses = policy.clauses
    done = [r for r in run.results if r is not None]
    assert len(done) == len(clauses)
    amount = run.amount
    outcome = run.outcome
    payable = amount if outcome is Outcome.APPROVE else 0
    reservations: tuple[Reservation, ...] = ()
    if outcome is Outcome.APPROVE:
        specs = [
            (clauses[i].id, f.reservation)
            for i, f in enumerate(run.findings)
            if f is not None and f.reservation is not None
        ]
        reservations = _reservations(specs, payable)
    return Decision(
        claim_id=claim.claim_id,
        policy_id=policy.id,
        policy_version=policy.version,
        outcome=outcome,
        payable_yen=payable,
        computation=Computation(claim.amounts.loss_yen, amount, tuple(run.steps), run.binding),
        clauses=tuple(done),
        reservations=reservations,
        summary_ja=_summary(policy, outcome, payable, done, amount),
    )


@dataclass(frozen=True, slots=True)
class Outline:
    """What ``evaluate`` decides, without the explanation: the outcome, the payable
    amount, and the ids of the clauses that pushed DENY or REVIEW (clause order,
    each once). ``outline(p, c, x) == Outline.of(evaluate(p, c, x))``."""

    outcome: Outcome
    payable_yen: int
    fired: tuple[str, ...]

    @classmethod
    def of(cls, decision: Decision) -> Outline:
        fired: dict[str, None] = {}
        for r in decision.clauses:
            if r.effect is Effect.DENY or r.effect is Effect.REVIEW:
                fired.setdefault(r.clause_id)
        return cls(decision.outcome, decision.payable_yen, tuple(fired))


def outline(policy: Policy, claim: ClaimFacts, context: EvaluationContext) -> Outline:
    """``Outline.of(evaluate(policy, claim, context))``, without building the
    ``Decision`` (clause results, computation steps, reservations, summary):
    the same pass over the clauses, for replay, which compares only these."""
    _check_claim(policy, claim)
    run = _run(_plan(policy, claim), claim, context, explain=False)
    clauses = policy.clauses
    fired: dict[str, None] = {}
    for i, effect in enumerate(run.effects):
        if effect is Effect.DENY or effect is Effect.REVIEW:
            fired.setdefault(clauses[i].id)
    outcome = run.outcome
    return Outline(outcome, run.amount if outcome is Outcome.APPROVE else 0, tuple(fired))


def _groups(conditions: list[_Entry]) -> tuple[tuple[int, ...], ...]:
    """The members of each ``any_of`` group among the conditions that apply, in order
    (positions in ``conditions``)."""
    groups: dict[str, list[int]] = {}
    for k, entry in enumerate(conditions):
        if entry.clause.any_of:
            groups.setdefault(entry.clause.any_of, []).append(k)
    return tuple(tuple(members) for members in groups.values())


def _resolve_groups(
    conditions: tuple[_Entry, ...], checked: list[Finding], groups: tuple[tuple[int, ...], ...]
) -> list[Finding]:
    """In each ``any_of`` group one PASS suffices: the other members become NOT_APPLICABLE.
    ``checked`` (by position in ``conditions``) is left as it is; the findings that
    stand are returned."""
    findings = list(checked)
    for members in groups:
        passed = [k for k in members if findings[k].status is PASS]
        if not passed:
            undecided = [
                conditions[k].clause.label for k in members if findings[k].status is UNKNOWN
            ]
            if undecided:
                # One member may still hold: a non-matching member alone decides nothing.
                for k in members:
                    f = findings[k]
                    if f.status is FAIL:
                        findings[k] = _held(f, ", ".join(undecided))
            continue
        label = conditions[passed[0]].clause.label
        for k in members:
            f = findings[k]
            if f.status in (FAIL, UNKNOWN):
                findings[k] = _matched_other(label, f.compared)
    return findings


@lru_cache(maxsize=1024)
def _held(f: Finding, undecided: str) -> Finding:
    """A non-matching member of an undecided ``any_of`` group decides nothing."""
    return f._replace(
        explanation_ja=f"{f.explanation_ja}（{undecided}に当たるかが未確定のため、判断を保留します。）",
        effect=Effect.NONE,
    )


@lru_cache(maxsize=1024)
def _matched_other(label: str, compared: tuple[Compared, ...]) -> Finding:
    """A member of an ``any_of`` group another member of which holds."""
    return Finding(NOT_APPLICABLE, f"{label}に該当するため、この類型は判定に用いません。", compared)


def evaluate_in(policies: PolicySet, claim: ClaimFacts, context: EvaluationContext) -> Decision:
    """``evaluate`` under the claim's policy from a ``PolicySet``."""
    try:
        policy = policies.get(claim.policy_id)
    except KeyError as exc:
        raise ClaimError("policy_id", str(exc.args[0])) from None
    return evaluate(policy, claim, context)
