"""A claim decided on an empty history: what ``anshin claim --local`` shows.

Nothing on record — no posture verdict, no enrolment or other event, no
earlier payout — and nothing recorded: the decision a server with an empty
database would give a dry run of the same request, made with the same
conversion, context and engine as ``DecideClaim``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from anshin.v1 import claims_pb2
from rules import engine as eng
from rules.load import RuleSet
from server.clock import to_us
from server.usecases.claim_facts import FactsSnapshot, context_from_facts, ledger_scopes
from server.wire import claims as wire


def evaluate_on_empty_history(
    request: claims_pb2.EvaluateClaimRequest, rules: RuleSet, now: datetime
) -> claims_pb2.EvaluateClaimResponse:
    """The dry-run reply to ``request`` under ``rules`` at ``now``, as if
    nothing had ever been recorded (every cap scope unused).

    Raises ``InvalidArgument`` for a claim a server refuses with INVALID_ARGUMENT.
    """
    facts = wire.claim_request(request, now, rules.policies.policies).facts
    policy = rules.policies.get(facts.policy_id)
    ctx = context_from_facts(FactsSnapshot(to_us(now)), facts, policy, rules)
    scopes = ledger_scopes(policy, facts, ctx)
    ledger = {scope: eng.LedgerUsage(0, 0, frozenset()) for scope in scopes}
    decision = eng.evaluate(policy, facts, replace(ctx, ledger=ledger))
    return wire.response(decision, wire.rules_version(rules.digest, policy), dry_run=True)
