"""The pure claim engine: policies as data, clause kinds, and ``evaluate``.

No gRPC, no database, no clock. The servicer loads the policies once
(``load_policies``), builds ``ClaimFacts`` from the request and an
``EvaluationContext`` from the store (coverage periods, posture verdicts,
registrations and logins, monitoring, and the ledger usage of every scope in
``ledger_scopes``), calls ``evaluate`` and, on APPROVE, reserves
``Decision.reservations`` atomically with the decision.
"""

from __future__ import annotations

from rules.engine.attestations import attestation_keys, codes_read, unknown_attestations
from rules.engine.evaluate import (
    ClaimError,
    Outline,
    claim_marks,
    claim_needs,
    empty_ledger,
    evaluate,
    evaluate_in,
    held_back,
    ledger_scopes,
    outline,
    refusal_marks,
    reservations_for,
)
from rules.engine.kinds import KINDS, KindSpec, ParamSpec
from rules.engine.load import BUILTIN_POLICIES_DIR, PolicyError, load_policies, validate_dir
from rules.engine.model import (
    INCIDENT_TYPES,
    Amounts,
    CardFraud,
    ClaimFacts,
    ClauseResult,
    Decision,
    Effect,
    EvaluationContext,
    IbTransferFraud,
    Incident,
    IssuerAnswer,
    IssuerAnswerKind,
    LedgerUsage,
    LegalCost,
    LiabilityClaim,
    LoginRecord,
    Outcome,
    PostureRecord,
    QrPaymentFraud,
    RegistrationRecord,
    Reservation,
    SkimmingPhishingLoss,
)
from rules.engine.policy import Clause, ClauseEffect, Policy, PolicySet

__all__ = [
    "BUILTIN_POLICIES_DIR",
    "INCIDENT_TYPES",
    "KINDS",
    "Amounts",
    "CardFraud",
    "ClaimError",
    "ClaimFacts",
    "Clause",
    "ClauseEffect",
    "ClauseResult",
    "Decision",
    "Effect",
    "EvaluationContext",
    "IbTransferFraud",
    "Incident",
    "IssuerAnswer",
    "IssuerAnswerKind",
    "KindSpec",
    "LedgerUsage",
    "LegalCost",
    "LiabilityClaim",
    "LoginRecord",
    "Outcome",
    "Outline",
    "ParamSpec",
    "Policy",
    "PolicyError",
    "PolicySet",
    "PostureRecord",
    "QrPaymentFraud",
    "RegistrationRecord",
    "Reservation",
    "SkimmingPhishingLoss",
    "attestation_keys",
    "claim_marks",
    "claim_needs",
    "codes_read",
    "empty_ledger",
    "evaluate",
    "evaluate_in",
    "held_back",
    "ledger_scopes",
    "load_policies",
    "outline",
    "refusal_marks",
    "reservations_for",
    "unknown_attestations",
    "validate_dir",
]
