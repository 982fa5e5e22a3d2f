"""EvaluateClaim: protobuf request ⇄ ClaimFacts, and Decision → reply / log."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import claims_pb2, common_pb2
from checks.event_model import FundingSource
from checks.security_standard import PaymentMethod
from rules import engine as eng
from rules.engine.form import FormField
from server.errors import Violations
from server.wire import validate
from server.wire import verdicts as verdict_wire
from server.wire.common import CHECK_STATUS, compared_pb
from server.wire.events import pan_violations

MAX_YEN = 10**12  # a trillion yen: anything larger is a typo, not a claim
_EFFECT = {
    eng.Effect.APPROVE: common_pb2.OUTCOME_APPROVE,
    eng.Effect.DENY: common_pb2.OUTCOME_DENY,
    eng.Effect.REVIEW: common_pb2.OUTCOME_REVIEW,
    eng.Effect.NONE: common_pb2.OUTCOME_NONE,
}
OUTCOME = {
    eng.Outcome.APPROVE: common_pb2.OUTCOME_APPROVE,
    eng.Outcome.DENY: common_pb2.OUTCOME_DENY,
    eng.Outcome.REVIEW: common_pb2.OUTCOME_REVIEW,
}
_PAYMENT_METHOD = {
    claims_pb2.PAYMENT_METHOD_QR_CODE_PAYMENT: PaymentMethod.QR_CODE_PAYMENT,
    claims_pb2.PAYMENT_METHOD_CREDIT_CARD: PaymentMethod.CREDIT_CARD,
    claims_pb2.PAYMENT_METHOD_DEBIT_CARD: PaymentMethod.DEBIT_CARD,
    claims_pb2.PAYMENT_METHOD_POSTPAID_EMONEY: PaymentMethod.POSTPAID_EMONEY,
    claims_pb2.PAYMENT_METHOD_PREPAID_CARD: PaymentMethod.PREPAID_CARD,
    claims_pb2.PAYMENT_METHOD_PREPAID_IC_EMONEY: PaymentMethod.PREPAID_IC_EMONEY,
}
_INCIDENT_KINDS = {
    "skimming_phishing": ("phishing", "skimming", "malicious_signup"),
    "legal_cost": ("consultation", "lawyer_fees"),
    "liability": ("business_interruption", "information_leak", "other"),
}


# Instants of an incident that cannot come before it (reports, notices).
_REPORTED_AFTER_INCIDENT = frozenset(
    {
        "notified_bank_at",
        "police_consulted_at",
        "reported_to_issuer_at",
        "police_reported_at",
        "notified_at",
        "third_party_claim_at",
        # An issuer's / operator's answer is about the fraud: it cannot precede it.
        "answered_at",
    }
)
# A typed instant and the boolean saying whether it happened at all: an instant
# stated with the boolean false is a contradiction, refused for every policy alike
# (each clause would otherwise pick one of the two).
_INSTANT_AND_FACT = (
    ("police_reported_at", "police_reported"),
    ("police_consulted_at", "police_consulted"),
)
# Answers given after a report to the one who answers: not before that report.
_ANSWERED_AFTER = (("issuer_answer", "reported_to_issuer_at"),)
# A UUID already in canonical form (lower-case hex, hyphenated): uuid.UUID
# accepts it and str() gives it back unchanged. Other spellings take uuid.UUID.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Exclusion keys found to be clause ids (a pure check of the key; clause ids are
# few, so the set stays small; bounded against a stream of distinct keys).
_CLAUSE_KEYS: set[str] = set()
_CLAUSE_KEYS_MAX = 4096


def _is_clause_key(key: str) -> bool:
    """A clause id such as ``HNB-X10`` (letters, digits, hyphens, dots; 32 at most)."""
    if len(key) > 32 or not key.replace("-", "").replace(".", "").isalnum():
        return False
    if len(_CLAUSE_KEYS) < _CLAUSE_KEYS_MAX:
        _CLAUSE_KEYS.add(key)
    return True


class _Reader:
    """Field readers that record violations under the request's field paths."""

    def __init__(self, v: Violations, now: datetime) -> None:
        self.v = v
        self.now = now
        self.instants: dict[str, datetime] = {}

    def instant(
        self, msg: Message, name: str, path: str, *, required: bool = False
    ) -> datetime | None:
        if not msg.HasField(name):  # what validate.instant says of an absent field
            if required:
                self.v.add(path, "required")
            return None
        value = validate.instant(
            self.v, path, getattr(msg, name), True, required=required, now=self.now
        )
        if value is not None:
            self.instants[path] = value
        return value

    def ident(self, msg: Message, name: str, path: str, *, required: bool = False) -> str:
        """An identifier field in its NFKC form (``validate.identifier``): the form the
        events store, so a claim's token, service or person compares as they do."""
        return validate.identifier(self.v, path, getattr(msg, name), required=required) or ""

    @staticmethod
    def opt_bool(msg: Message, name: str) -> bool | None:
        return getattr(msg, name) if msg.HasField(name) else None

    def text(
        self, msg: Message, name: str, path: str, *, required: bool = False, max_bytes: int = 128
    ) -> str:
        return (
            validate.text(self.v, path, getattr(msg, name), required=required, max_bytes=max_bytes)
            or ""
        )

    def choice(
        self, msg: Message, name: str, path: str, allowed: tuple[str, ...], *, required: bool = True
    ) -> str:
        value = getattr(msg, name)
        if not value and not required:
            return ""
        if value not in allowed:
            self.v.add(path, f"one of {', '.join(allowed)}")
        return str(value)

    def issuer(self, msg: Message, name: str, path: str) -> eng.IssuerAnswer | None:
        if not msg.HasField(name):
            return None
        a = getattr(msg, name)
        try:
            kind = eng.IssuerAnswerKind(a.kind)
        except ValueError:
            self.v.add(f"{path}.kind", f"unknown enum value {a.kind}")
            return None
        reason = (
            validate.text(self.v, f"{path}.reason", a.reason, required=False, max_bytes=1024) or ""
        )
        at = self.instant(a, "answered_at", f"{path}.answered_at")
        return eng.IssuerAnswer(kind, reason, at)

    def funding(self, msg: Message, path: str) -> FundingSource | None:
        value = msg.funding  # type: ignore[attr-defined]
        if value == 0:
            return None
        try:
            return FundingSource(value)
        except ValueError:
            self.v.add(path, f"unknown enum value {value}")
            return None


_NEGLIGENCE_FACTS = (
    "pin_told_to_others",
    "pin_written_on_card",
    "card_handed_to_others",
    "other_gross_negligence",
    "guessable_pin",
    "kept_with_pin_revealing_document",
    "pin_memo_kept_with_card",
    "pin_reused_elsewhere",
    "card_left_exposed",
    "card_easily_taken_while_incapacitated",
    "other_negligence",
)


def _incident(
    r: _Reader, req: claims_pb2.EvaluateClaimRequest, policy: eng.Policy | None
) -> eng.Incident | None:
    which = req.WhichOneof("incident")
    if which is None:
        r.v.add(
            "incident",
            "required: one of ib_transfer, card_fraud, qr_payment, liability, "
            "skimming_phishing, legal_cost",
        )
        return None
    m = getattr(req, which)
    p = which
    if which == "ib_transfer":
        fraud = r.instant(m, "fraud_at", f"{p}.fraud_at", required=True)
        return (
            None
            if fraud is None
            else eng.IbTransferFraud(
                fraud_at=fraud,
                notified_bank_at=r.instant(m, "notified_bank_at", f"{p}.notified_bank_at"),
                police_consulted_at=r.instant(m, "police_consulted_at", f"{p}.police_consulted_at"),
                alternative_measures_asserted=r.opt_bool(m, "alternative_measures_asserted"),
                alternative_measures_note=r.text(
                    m, "alternative_measures_note", f"{p}.alternative_measures_note", max_bytes=4096
                ),
                used_in_japan=r.opt_bool(m, "used_in_japan"),
                police_consulted=r.opt_bool(m, "police_consulted"),
                token_compromised=r.opt_bool(m, "token_compromised"),
                token_compromise_reported=r.opt_bool(m, "token_compromise_reported"),
            )
        )
    if which == "card_fraud":
        token = r.ident(m, "card_token", f"{p}.card_token", required=True)
        fraud = r.instant(m, "fraud_at", f"{p}.fraud_at", required=True)
        method = None
        if m.payment_method:
            method = _PAYMENT_METHOD.get(m.payment_method)
            if method is None:
                r.v.add(f"{p}.payment_method", f"unknown enum value {m.payment_method}")
        return (
            None
            if fraud is None
            else eng.CardFraud(
                card_token=token,
                fraud_at=fraud,
                reported_to_issuer_at=r.instant(
                    m, "reported_to_issuer_at", f"{p}.reported_to_issuer_at"
                ),
                police_reported_at=r.instant(m, "police_reported_at", f"{p}.police_reported_at"),
                issuer_answer=r.issuer(m, "issuer_answer", f"{p}.issuer_answer"),
                card_in_hand=r.opt_bool(m, "card_in_hand"),
                used_in_japan=r.opt_bool(m, "used_in_japan"),
                notified_at=r.instant(m, "notified_at", f"{p}.notified_at"),
                issued_in_japan=r.opt_bool(m, "issued_in_japan"),
                payment_method=method,
                funding=r.funding(m, f"{p}.funding"),
                payment_service_id=r.ident(m, "payment_service_id", f"{p}.payment_service_id"),
                police_reported=r.opt_bool(m, "police_reported"),
                issuer_report_date_confirmable=r.opt_bool(m, "issuer_report_date_confirmable"),
            )
        )
    if which == "qr_payment":
        service = r.ident(m, "payment_service_id", f"{p}.payment_service_id", required=True)
        token = r.ident(m, "instrument_token", f"{p}.instrument_token", required=True)
        fraud = r.instant(m, "fraud_at", f"{p}.fraud_at", required=True)
        kind = r.choice(m, "event_kind", f"{p}.event_kind", ("DCM-E1", "DCM-E2"), required=False)
        return (
            None
            if fraud is None
            else eng.QrPaymentFraud(
                payment_service_id=service,
                instrument_token=token,
                fraud_at=fraud,
                notified_at=r.instant(m, "notified_at", f"{p}.notified_at"),
                police_reported_at=r.instant(m, "police_reported_at", f"{p}.police_reported_at"),
                operator_answer=r.issuer(m, "operator_answer", f"{p}.operator_answer"),
                used_in_japan=r.opt_bool(m, "used_in_japan"),
                event_kind=kind,
                funding=r.funding(m, f"{p}.funding"),
                issued_in_japan=r.opt_bool(m, "issued_in_japan"),
                police_reported=r.opt_bool(m, "police_reported"),
            )
        )
    if which == "liability":
        at = r.instant(m, "incident_at", f"{p}.incident_at", required=True)
        kind = r.choice(
            m, "claim_kind", f"{p}.claim_kind", _INCIDENT_KINDS["liability"], required=False
        )
        return (
            None
            if at is None
            else eng.LiabilityClaim(
                incident_at=at,
                third_party_claim_at=r.instant(
                    m, "third_party_claim_at", f"{p}.third_party_claim_at"
                ),
                written_claim=r.opt_bool(m, "written_claim"),
                claim_kind=kind,
                cause_known_at=r.instant(m, "cause_known_at", f"{p}.cause_known_at"),
                notified_at=r.instant(m, "notified_at", f"{p}.notified_at"),
                smartphone_accessed=r.opt_bool(m, "smartphone_accessed"),
                claim_names_insured_smartphone=r.opt_bool(m, "claim_names_insured_smartphone"),
            )
        )
    if which == "skimming_phishing":
        token = r.ident(m, "card_token", f"{p}.card_token", required=True)
        fraud = r.instant(m, "fraud_at", f"{p}.fraud_at", required=True)
        kind = r.choice(m, "kind", f"{p}.kind", _INCIDENT_KINDS["skimming_phishing"])
        codes = [c for c in m.negligence]
        # The codes a policy file classifies negligence into (its clauses reading them).
        known = eng.codes_read(policy, "negligence") if policy is not None else None
        for i, code in enumerate(codes):
            if known is not None and code not in known:
                r.v.add(f"{p}.negligence[{i}]", f"one of {', '.join(known)}")
        if codes and not m.negligence_assessed:
            r.v.add(f"{p}.negligence_assessed", "must be true when negligence codes are given")
        facts = {name: r.opt_bool(m, name) for name in _NEGLIGENCE_FACTS}
        if m.negligence_assessed and any(v is not None for v in facts.values()):
            r.v.add(
                f"{p}.negligence_assessed",
                "send the negligence facts or the pre-classified codes, not both",
            )
        return (
            None
            if fraud is None
            else eng.SkimmingPhishingLoss(
                card_token=token,
                fraud_at=fraud,
                kind=kind,
                negligence=frozenset(codes) if m.negligence_assessed else None,
                **facts,
            )
        )
    # legal_cost
    at = r.instant(m, "incurred_at", f"{p}.incurred_at", required=True)
    kind = r.choice(m, "kind", f"{p}.kind", _INCIDENT_KINDS["legal_cost"])
    return (
        None
        if at is None
        else eng.LegalCost(
            kind=kind,
            incurred_at=at,
            cause_at=r.instant(m, "cause_at", f"{p}.cause_at"),
            insured_person_ref=r.ident(m, "insured_person_ref", f"{p}.insured_person_ref"),
            success_prospect_found=r.opt_bool(m, "success_prospect_found"),
            insured_is_subscriber=r.opt_bool(m, "insured_is_subscriber"),
            relative_degree=_degree(r, m, f"{p}.relative_degree"),
            lives_with_subscriber=r.opt_bool(m, "lives_with_subscriber"),
            shares_livelihood=r.opt_bool(m, "shares_livelihood"),
            is_child=r.opt_bool(m, "is_child"),
            unmarried=r.opt_bool(m, "unmarried"),
            clearly_no_prospect=r.opt_bool(m, "clearly_no_prospect"),
            through_internet=r.opt_bool(m, "through_internet"),
        )
    )


def _consistent(
    v: Violations, req: claims_pb2.EvaluateClaimRequest, instants: Mapping[str, datetime]
) -> None:
    """Facts of one incident that cannot all be true: refused, naming each field."""
    which = req.WhichOneof("incident")
    m = getattr(req, which)
    for at_name, fact_name in _INSTANT_AND_FACT:
        if (
            at_name in m.DESCRIPTOR.fields_by_name
            and fact_name in m.DESCRIPTOR.fields_by_name
            and m.HasField(at_name)
            and m.HasField(fact_name)
            and not getattr(m, fact_name)
        ):
            v.add(
                f"{which}.{fact_name}",
                f"false contradicts {which}.{at_name} (an instant says it was done): "
                "send one of the two",
            )
    for answer, report in _ANSWERED_AFTER:
        answered = instants.get(f"{which}.{answer}.answered_at")
        reported = instants.get(f"{which}.{report}")
        if answered is not None and reported is not None and answered < reported:
            v.add(f"{which}.{answer}.answered_at", f"before {which}.{report}")
    # 子 is the first degree of kinship (民法726条): any other degree contradicts it.
    if (
        which == "legal_cost"
        and m.HasField("is_child")
        and m.is_child
        and m.HasField("relative_degree")
        and m.relative_degree != 1
    ):
        v.add(
            "legal_cost.relative_degree",
            f"{m.relative_degree} contradicts legal_cost.is_child (a child is of the "
            "first degree, 1親等)",
        )
    if which == "legal_cost":
        _subscriber_consistent(v, m)


def _subscriber_consistent(v: Violations, m: Message) -> None:
    """ISA-I1: the subscriber (本人) is no relative of themselves: a degree of
    kinship or 子 stated with insured_is_subscriber true contradicts it."""
    if not (m.HasField("insured_is_subscriber") and m.insured_is_subscriber):  # type: ignore[attr-defined]
        return
    if m.HasField("relative_degree"):
        v.add(
            "legal_cost.relative_degree",
            f"{m.relative_degree} contradicts legal_cost.insured_is_subscriber true "  # type: ignore[attr-defined]
            "(the subscriber is not their own relative): send one of the two",
        )
    if m.HasField("is_child") and m.is_child:  # type: ignore[attr-defined]
        v.add(
            "legal_cost.is_child",
            "true contradicts legal_cost.insured_is_subscriber true "
            "(the subscriber is not their own child): send one of the two",
        )


def _degree(r: _Reader, m: Message, path: str) -> int | None:
    """親等: 0 (a spouse) to 6 (the widest 親族 of the Civil Code, 民法725条)."""
    if not m.HasField("relative_degree"):
        return None
    value = int(m.relative_degree)  # type: ignore[attr-defined]
    if not 0 <= value <= 6:
        r.v.add(path, "a degree of kinship from 0 (spouse) to 6")
        return None
    return value


def claim_facts(
    req: claims_pb2.EvaluateClaimRequest,
    now: datetime,
    policy_ids: frozenset[str],
    policies: Mapping[str, eng.Policy] | None = None,
) -> eng.ClaimFacts:
    """Validate and convert; raises ValidationError listing every bad field.

    With ``policies``, every exclusions key must be an attestation some clause
    of the claim's policy reads (``rules.engine.attestation_keys``): a key it
    does not read would be accepted and silently ignored. Replay passes ids
    only, so a logged request is re-decided as it was accepted.
    """
    v = Violations()
    pan_violations(req, v)
    r = _Reader(v, now)
    claim_id = ""
    if not req.claim_id:
        v.add("claim_id", "required")
    elif _CANONICAL_UUID.fullmatch(req.claim_id):
        claim_id = req.claim_id  # what str(uuid.UUID(...)) returns for it, parsed faster
    else:
        try:
            claim_id = str(uuid.UUID(req.claim_id))
        except ValueError:
            v.add("claim_id", "not a UUID")
    if req.policy_id not in policy_ids:
        v.add("policy_id", f"unknown policy: one of {', '.join(sorted(policy_ids))}")
    customer = validate.identifier(v, "customer_id", req.customer_id) or ""
    claimed = r.instant(req, "claimed_at", "claimed_at", required=True)
    if not req.HasField("amounts"):
        v.add("amounts", "required")
    a = req.amounts
    for name in ("loss_yen", "recovered_yen", "points_yen"):
        value = getattr(a, name)
        if value < 0:
            v.add(f"amounts.{name}", "must not be negative")
        elif value > MAX_YEN:
            v.add(f"amounts.{name}", f"more than {MAX_YEN} yen")
    if req.HasField("amounts") and a.loss_yen == 0 and req.WhichOneof("incident") != "legal_cost":
        v.add("amounts.loss_yen", "required (a positive amount)")
    exclusions = dict(req.exclusions)  # the map's order: violations listed in it as before
    for key in [k for k in exclusions if k not in _CLAUSE_KEYS and not _is_clause_key(k)]:
        v.add(f"exclusions[{key[:32]}]", "not a clause id")
        del exclusions[key]
    policy = policies.get(req.policy_id) if policies is not None else None
    if policy is not None and exclusions:
        unknown = eng.unknown_attestations(policy, list(exclusions))
        if unknown:
            valid = ", ".join(sorted(eng.attestation_keys(policy)))
            for key in unknown:
                v.add(
                    f"exclusions[{key}]",
                    f"not an attestation of {policy.id} (no clause of it reads this key): "
                    f"one of {valid}",
                )
    series = validate.identifier(v, "series_id", req.series_id, required=False) or ""
    incident = _incident(r, req, policy)
    if incident is not None:
        _consistent(v, req, r.instants)
    # Times in order: nothing after the claim, nothing reported before the incident.
    if incident is not None and claimed is not None:
        name, at = incident.OCCURRED, incident.occurred_at
        which = req.WhichOneof("incident")
        if at > claimed:
            v.add(f"{which}.{name}", "after claimed_at")
        prefix = f"{which}."
        own = f"{which}.{name}"  # said once, above
        for path, value in r.instants.items():
            if (
                value < at
                and path.startswith(prefix)
                and path.rpartition(".")[2] in _REPORTED_AFTER_INCIDENT
            ):
                v.add(path, f"before {which}.{name}")
            if value > claimed and not path.endswith("answered_at") and path != own:
                v.add(path, "after claimed_at")
    v.raise_if_any()
    assert claimed is not None and incident is not None
    return eng.ClaimFacts(
        claim_id=claim_id,
        policy_id=req.policy_id,
        customer_id=customer,
        claimed_at=claimed,
        incident=incident,
        amounts=eng.Amounts(a.loss_yen, a.recovered_yen, a.points_yen),
        exclusions=exclusions,
        resident_in_japan=req.resident_in_japan if req.HasField("resident_in_japan") else None,
        series_id=series,
    )


def incident_instant(facts: eng.ClaimFacts) -> datetime:
    return facts.incident.occurred_at


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """An EvaluateClaim request, validated: the facts, and the message as the
    log records it (its fingerprint decides idempotency)."""

    facts: eng.ClaimFacts
    message: claims_pb2.EvaluateClaimRequest

    @property
    def dry_run(self) -> bool:
        return bool(self.message.dry_run)

    def fingerprint(self) -> str:
        return hashlib.sha256(fingerprint_of(self.message)).hexdigest()

    def logged(self) -> dict[str, Any]:
        """The request as JSON, for the decision's log entry."""
        return json_format.MessageToDict(self.message)


def claim_request(
    req: claims_pb2.EvaluateClaimRequest, now: datetime, policies: Collection[str]
) -> ClaimRequest:
    """Validate and convert; raises InvalidArgument listing every bad field.

    ``policies``: the loaded policies by id (exclusions keys are then checked
    against the claim's policy) or just their ids."""
    by_id = policies if isinstance(policies, Mapping) else None
    facts = claim_facts(req, now, frozenset(policies), by_id)
    if facts.claim_id != req.claim_id:
        # One claim, one id: the UUID in its canonical (lower-case) form, so that a retry
        # spelling it in capitals has the same fingerprint, and the log records that form.
        canonical = claims_pb2.EvaluateClaimRequest()
        canonical.CopyFrom(req)
        canonical.claim_id = facts.claim_id
        req = canonical
    return ClaimRequest(facts, req)


def logged_claim_request(
    inputs: str | bytes, at: datetime, policy_ids: Collection[str]
) -> ClaimRequest:
    """The claim request a decision's log entry recorded (``inputs.request``),
    validated again as of the instant it was decided."""
    msg = claims_pb2.EvaluateClaimRequest()
    json_format.ParseDict(verdict_wire.claim_request(inputs), msg, ignore_unknown_fields=True)
    return ClaimRequest(claim_facts(msg, at, frozenset(policy_ids)), msg)


# --------------------------------------------------------------------------- replies


def clause_pb(c: eng.ClauseResult) -> common_pb2.ClauseResult:
    return common_pb2.ClauseResult(
        clause_id=c.clause_id,
        status=CHECK_STATUS[c.status],
        effect=_EFFECT[c.effect],
        text_ja=c.text_ja,
        explanation_ja=c.explanation_ja,
        missing_facts=c.missing_facts,
        part=c.part,
        kind=c.kind,
        compared=compared_pb(c.compared),
    )


def rules_version(digest: str, policy: eng.Policy) -> common_pb2.RulesVersion:
    """The rules a claim decision was made under: the digest and the policy's version."""
    return common_pb2.RulesVersion(digest=digest, policies=[f"{policy.id}@{policy.version}"])


def rules_version_json(digest: str, policy: eng.Policy) -> bytes:
    """``rules_version`` as the log records it."""
    return orjson.dumps({"digest": digest, "policies": [f"{policy.id}@{policy.version}"]})


def recorded_response(
    decision: eng.Decision, rules: common_pb2.RulesVersion, decision_id: str, recorded_us: int
) -> claims_pb2.EvaluateClaimResponse:
    """The reply of a recorded decision (stored, and sent again to a retry)."""
    resp = response(decision, rules, dry_run=False)
    resp.decision_id = decision_id
    ts = Timestamp()
    ts.FromMicroseconds(recorded_us)
    resp.recorded_at.CopyFrom(ts)
    return resp


def logged_response(resp: claims_pb2.EvaluateClaimResponse) -> bytes:
    """A reply as the decision's log entry records it (``result``)."""
    return orjson.dumps(json_format.MessageToDict(resp))


def stored_response(reply: bytes, *, replayed: bool) -> claims_pb2.EvaluateClaimResponse:
    resp = claims_pb2.EvaluateClaimResponse.FromString(reply)
    if replayed:
        resp.replayed = True
    return resp


def response(
    decision: eng.Decision, rules: common_pb2.RulesVersion, *, dry_run: bool
) -> claims_pb2.EvaluateClaimResponse:
    return claims_pb2.EvaluateClaimResponse(
        outcome=OUTCOME[decision.outcome],
        payable_yen=decision.payable_yen,
        computation=[
            claims_pb2.ComputationStep(
                name=s.name,
                clause_id=s.clause_id,
                input_yen=s.input,
                output_yen=s.output,
                note=s.note,
            )
            for s in decision.computation.steps
        ],
        clauses=[clause_pb(c) for c in decision.clauses],
        rules=rules,
        dry_run=dry_run,
        summary_ja=decision.summary_ja,
    )


def fired_clause_ids(decision: eng.Decision) -> tuple[str, ...]:
    """Clauses that pushed the decision (for the log's reasons and queries)."""
    seen: dict[str, None] = {}
    for c in decision.clauses:
        if c.effect in (eng.Effect.DENY, eng.Effect.REVIEW) or (
            decision.outcome is eng.Outcome.APPROVE and c.amount_out is not None
        ):
            seen.setdefault(c.clause_id)
    return tuple(seen)


def fingerprint_of(req: claims_pb2.EvaluateClaimRequest) -> bytes:
    """Canonical bytes of a claim request, for idempotency (dry_run excluded)."""
    copy = claims_pb2.EvaluateClaimRequest()
    copy.CopyFrom(req)
    copy.dry_run = False
    return orjson.dumps(copy.SerializeToString(deterministic=True).hex())


# --------------------------------------------------------------------------- claim form


def claim_form_response(
    policy: eng.Policy, incident: str, fields: Sequence[FormField], digest: str
) -> claims_pb2.GetClaimFormResponse:
    return claims_pb2.GetClaimFormResponse(
        policy_id=policy.id,
        incident=incident,
        fields=[
            claims_pb2.ClaimFormField(
                path=f.path,
                type=f.type,
                clause_ids=f.clause_ids,
                question_ja=f.question_ja,
                if_absent=f.if_absent,
                allowed=f.allowed,
            )
            for f in fields
        ],
        rules=rules_version(digest, policy),
    )
