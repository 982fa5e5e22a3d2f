"""GetClaimForm: the questions a decision needs, derived from the policy files.

For every policy × incident kind: every path of the form is a field of
``EvaluateClaimRequest`` (or an exclusions key the claim's policy accepts);
a claim that answers every question, and nothing else beyond what the
request requires, decides without a claim fact missing; and a claim that
answers none misses only facts the form asks for.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import claims_pb2
from checks.coverage import Period
from checks.model import CheckStatus, Verdict
from rules.engine import attestation_keys, load_policies
from rules.engine.form import (
    POSTURE_FAILS,
    REQUIRED_ABSENT,
    FormError,
    claim_form,
    incident_kinds,
)
from rules.engine.model import (
    INCIDENT_FIELDS,
    Decision,
    Effect,
    EvaluationContext,
    Outcome,
    PostureRecord,
)
from server.errors import InvalidArgument
from server.usecases.claim_form import form_for
from server.wire import claims as wire
from tests.claims.builders import decide
from timing import at_jst

POLICIES = load_policies().policies
FRAUD = at_jst(2026, 5, 10, 12)
NOW = FRAUD + timedelta(days=30)
KINDS = [(pid, kind) for pid, p in POLICIES.items() for kind in incident_kinds(p)]


def ts(dt: object) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)  # type: ignore[arg-type]
    return t


def envelope(policy_id: str) -> claims_pb2.EvaluateClaimRequest:
    """The claim's envelope, no incident fact: ids, the claim instant, the loss."""
    return claims_pb2.EvaluateClaimRequest(
        claim_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        policy_id=policy_id,
        customer_id="c-form",
        claimed_at=ts(FRAUD + timedelta(days=2)),
        amounts=claims_pb2.Amounts(loss_yen=10_000),
    )


def bare_request(policy_id: str, kind: str) -> claims_pb2.EvaluateClaimRequest:
    """The envelope and only what the form marks required (nothing added by hand)."""
    req = envelope(policy_id)
    for f in claim_form(POLICIES[policy_id], kind):
        if f.if_absent == REQUIRED_ABSENT:
            answer(req, f.path, f.type, list(f.allowed))
    return req


def answer(req: claims_pb2.EvaluateClaimRequest, path: str, type_: str, allowed: list[str]) -> None:
    """Answer one question (any answer will do: the point is that it is stated)."""
    if path.startswith("exclusions["):
        req.exclusions[path[len("exclusions[") : -1]] = False
        return
    msg: Message = req
    *parents, name = path.split(".")
    for part in parents:
        msg = getattr(msg, part)
    if type_ == "instant":
        if not msg.HasField(name):
            getattr(msg, name).CopyFrom(ts(FRAUD))
    elif type_ == "bool":
        # The subscriber is nobody's relative: true with the relation facts is refused.
        setattr(msg, name, name != "insured_is_subscriber")
    elif type_ == "int":
        setattr(msg, name, 1)
    elif type_ == "str":
        if not getattr(msg, name):
            setattr(msg, name, allowed[0] if allowed else "person-1")
    elif type_ == "answer":
        getattr(msg, name).kind = claims_pb2.IssuerAnswer.KIND_NOT_COMPENSATED
        getattr(msg, name).reason = "補償対象外"
    elif type_ == "payment_method":
        setattr(msg, name, claims_pb2.PAYMENT_METHOD_CREDIT_CARD)
    elif type_ == "funding":
        setattr(msg, name, 2)  # FUNDING_SOURCE_BANK_ACCOUNT
    else:
        raise AssertionError(f"no answer for {path} of type {type_}")


def context_for(policy_id: str) -> EvaluationContext:
    return EvaluationContext(coverage={policy_id: (Period(at_jst(2024, 4, 1), None, (), "test"),)})


def claim_paths(missing: tuple[str, ...]) -> list[str]:
    """The missing facts the claimant could have stated (not the store's records)."""
    return [m for m in missing if not m.startswith("context.")]


@pytest.mark.parametrize(("policy_id", "kind"), KINDS, ids=[f"{p}-{k}" for p, k in KINDS])
def test_every_question_names_a_request_field_or_an_accepted_attestation(
    policy_id: str, kind: str
) -> None:
    policy = POLICIES[policy_id]
    form = claim_form(policy, kind)
    assert form, kind
    incident = kind.partition(":")[0]
    for f in form:
        # A field the request requires may be read by no clause (the card's token).
        assert (f.clause_ids or f.if_absent == REQUIRED_ABSENT) and f.question_ja, f
        assert all(cid in policy.clause_ids for cid in f.clause_ids), f
        if f.path.startswith("exclusions["):
            assert f.path[len("exclusions[") : -1] in attestation_keys(policy), f
            continue
        head, _, name = f.path.rpartition(".")
        if head:
            assert head == incident and name in INCIDENT_FIELDS[incident], f
            descriptor = getattr(claims_pb2.EvaluateClaimRequest(), incident).DESCRIPTOR
            assert name in descriptor.fields_by_name, f"{f.path}: not in the proto"
        else:
            assert name in claims_pb2.EvaluateClaimRequest.DESCRIPTOR.fields_by_name, f


@pytest.mark.parametrize(("policy_id", "kind"), KINDS, ids=[f"{p}-{k}" for p, k in KINDS])
def test_a_claim_built_from_the_form_misses_no_claim_fact(policy_id: str, kind: str) -> None:
    form = claim_form(POLICIES[policy_id], kind)
    req = envelope(policy_id)  # the form alone: no incident field added by hand
    for f in form:
        answer(req, f.path, f.type, list(f.allowed))
    facts = wire.claim_request(req, NOW, POLICIES).facts
    d = decide(facts, context_for(policy_id))
    assert claim_paths(d.missing_facts) == [], d.trace()


@pytest.mark.parametrize(("policy_id", "kind"), KINDS, ids=[f"{p}-{k}" for p, k in KINDS])
def test_an_unanswered_claim_misses_only_what_the_form_asks(policy_id: str, kind: str) -> None:
    form = claim_form(POLICIES[policy_id], kind)
    asked = {f.path for f in form}
    facts = wire.claim_request(bare_request(policy_id, kind), NOW, POLICIES).facts
    d = decide(facts, context_for(policy_id))
    # The engine names an attestation facts.exclusions[KEY]; the request field is exclusions.
    missing = [m.removeprefix("facts.") for m in claim_paths(d.missing_facts)]
    assert missing, d.trace()  # nothing answered: something must be missing
    assert set(missing) <= asked, sorted(set(missing) - asked)


def test_the_form_follows_the_sub_kind() -> None:
    e1 = {f.path for f in claim_form(POLICIES["DCM"], "qr_payment:DCM-E1")}
    card = {f.path for f in claim_form(POLICIES["DCM"], "card_fraud")}
    assert "qr_payment.event_kind" in e1 and "exclusions[DCM-X13]" in e1
    assert "exclusions[DCM-X13]" not in card  # X13 applies to QR claims only
    isa = {f.path: f for f in claim_form(POLICIES["ISA"], "legal_cost:lawyer_fees")}
    assert isa["legal_cost.relative_degree"].type == "int"
    assert isa["legal_cost.relative_degree"].clause_ids == ("ISA-I1",)
    jpe = {f.path: f for f in claim_form(POLICIES["JPE"], "skimming_phishing")}
    assert jpe["skimming_phishing.guessable_pin"].clause_ids == ("JPE-N1", "JPE-N2")
    assert "skimming_phishing.negligence" not in jpe  # the legacy codes are not asked


@pytest.mark.parametrize("kind", ["legal_cost:consultation", "legal_cost:lawyer_fees"])
def test_isa_p1_trouble_through_the_internet_is_asked(kind: str) -> None:
    """ISA-P1 (trouble) 「インターネットを通じて生じた」: a typed fact, asked for both
    kinds, whose absence is REVIEW under ISA-P1; no other policy asks it."""
    isa = {f.path: f for f in claim_form(POLICIES["ISA"], kind)}
    field = isa["legal_cost.through_internet"]
    assert (field.type, field.clause_ids) == ("bool", ("ISA-P1",))
    assert "インターネットを通じて生じた" in field.question_ja
    assert field.if_absent.startswith("REVIEW") and "ISA-P1" in field.if_absent
    others = [f.path for pid, k in KINDS if pid != "ISA" for f in claim_form(POLICIES[pid], k)]
    assert not [p for p in others if p.endswith("through_internet")]


@pytest.mark.parametrize(("policy_id", "kind"), KINDS)
def test_clause_ids_are_empty_only_for_a_field_the_request_requires(
    policy_id: str, kind: str
) -> None:
    """As claims.proto says of ClaimFormField.clause_ids."""
    for f in claim_form(POLICIES[policy_id], kind):
        assert f.clause_ids or f.if_absent == REQUIRED_ABSENT, f


def test_a_required_field_names_the_clauses_that_read_it() -> None:
    dcm = {f.path: f for f in claim_form(POLICIES["DCM"], "card_fraud")}
    kdn = {f.path: f for f in claim_form(POLICIES["KDN"], "card_fraud")}
    # DCM reads the card only as the incident DCM-A1 counts (the card misused at fraud_at).
    assert dcm["card_fraud.card_token"].clause_ids == ("DCM-A1",)
    assert dcm["card_fraud.card_token"].if_absent == REQUIRED_ABSENT
    assert kdn["card_fraud.card_token"].clause_ids  # KDN reads the card's monitoring


@pytest.mark.parametrize(("policy_id", "kind"), KINDS)
def test_series_id_is_asked_where_a_series_cap_reads_it_and_says_what_absence_means(
    policy_id: str, kind: str
) -> None:
    """DCM-A1 一連の事故, JPE-A1 (claims stated to be one 被害): absent, the claim's
    series is its own incident, which a re-claim under another claim id meets."""
    form = {f.path: f for f in claim_form(POLICIES[policy_id], kind)}
    if policy_id not in ("DCM", "JPE"):
        assert "series_id" not in form
        return
    series = form["series_id"]
    assert series.clause_ids == (f"{policy_id}-A1",)
    assert series.type == "str"
    assert "一連の事故" in series.question_ja
    if policy_id == "DCM":  # missing_series = review: the series decides the cap
        assert series.if_absent.startswith("REVIEW: DCM-A1")
        return
    assert "請求IDが違っても同じ限度額" in series.if_absent
    assert not series.if_absent.startswith("REVIEW")


def test_a_proviso_key_is_optional_and_says_so() -> None:
    dcm = {f.path: f for f in claim_form(POLICIES["DCM"], "card_fraud")}
    assert "但し書き" in dcm["exclusions[DCM-X6.unrelated]"].if_absent
    assert dcm["exclusions[DCM-X6]"].if_absent.startswith("REVIEW")


def test_alternatives_say_what_stands_in() -> None:
    kdn = {f.path: f for f in claim_form(POLICIES["KDN"], "card_fraud")}
    assert "card_fraud.police_reported" in kdn["card_fraud.police_reported_at"].if_absent


@pytest.mark.parametrize(
    ("policy_id", "incident", "field"),
    [
        ("XYZ", "card_fraud", "policy_id"),
        ("HNB", "card_fraud", "incident"),
        ("DCM", "qr_payment:DCM-E9", "incident"),
    ],
)
def test_a_bad_policy_or_incident_kind_is_invalid_argument(
    policy_id: str, incident: str, field: str
) -> None:
    from rules.load import load_rules

    with pytest.raises(InvalidArgument) as exc:
        form_for(load_rules(), policy_id, incident)
    assert [v.field for v in exc.value.violations] == [field]


def test_form_error_names_the_incident() -> None:
    with pytest.raises(FormError) as exc:
        claim_form(POLICIES["HNB"], "legal_cost")
    assert exc.value.field == "incident"


def test_the_reply_carries_every_field_and_the_rules() -> None:
    from rules.load import load_rules

    rules = load_rules()
    form = form_for(rules, "kdn", "card_fraud")
    resp = wire.claim_form_response(form.policy, form.incident, form.fields, form.digest)
    assert resp.policy_id == "KDN" and resp.incident == "card_fraud"
    assert len(resp.fields) == len(form.fields)
    assert resp.rules.digest == rules.digest and resp.rules.policies[0].startswith("KDN@")
    assert replace(form, fields=()).fields == ()


# --------------------------------------------------------------------------- conditional absence
# A fact that matters only sometimes (HNB alternative_measures_asserted: only when the
# posture fails; JPE card_left_exposed: only when a PIN fact is true) says so in
# if_absent; the decision agrees on both sides of every stated condition.

CONDITIONAL = [
    (pid, kind, f.path)
    for pid, kind in KINDS
    for f in claim_form(POLICIES[pid], kind)
    if f.review_when
]


def neutral(policy_id: str, kind: str) -> claims_pb2.EvaluateClaimRequest:
    """Every question answered; the incident's yes/no facts false and a degree of 3,
    so that no formula term holds (a fact that an instant stands in for keeps the
    answer: false with the instant would be refused)."""
    req = envelope(policy_id)
    incident = kind.partition(":")[0]
    for f in claim_form(POLICIES[policy_id], kind):
        answer(req, f.path, f.type, list(f.allowed))
        inside = f.path.startswith(incident + ".")
        if inside and f.type in ("bool", "int") and "もなければ" not in f.if_absent:
            setattr(
                getattr(req, incident), f.path.partition(".")[2], 3 if f.type == "int" else False
            )
    return req


def posture_context(policy_id: str, verdict: Verdict) -> EvaluationContext:
    record = PostureRecord("pc-1", FRAUD - timedelta(days=1), verdict, "v-pc-1")
    return replace(context_for(policy_id), postures=(record,))


def set_fact(req: claims_pb2.EvaluateClaimRequest, incident: str, name: str, value: str) -> None:
    msg = getattr(req, incident)
    setattr(msg, name, int(value[2:]) if value.startswith("<=") else value == "true")


def reviewed_for(d: Decision, path: str) -> bool:
    """A clause names ``path`` missing and pushes REVIEW."""
    return any(path in r.missing_facts and r.effect is Effect.REVIEW for r in d.clauses)


def test_conditional_facts_are_found() -> None:
    paths = {(pid, p) for pid, _, p in CONDITIONAL}
    assert ("HNB", "ib_transfer.alternative_measures_asserted") in paths
    assert ("JPE", "skimming_phishing.card_left_exposed") in paths
    assert ("ISA", "legal_cost.lives_with_subscriber") in paths


@pytest.mark.parametrize(("policy_id", "kind", "path"), CONDITIONAL)
def test_a_conditional_fact_absent_gives_review_exactly_under_its_condition(
    policy_id: str, kind: str, path: str
) -> None:
    field = {f.path: f for f in claim_form(POLICIES[policy_id], kind)}[path]
    incident, _, name = path.partition(".")
    assert field.if_absent.endswith("のときだけREVIEW: " + field.if_absent.split("REVIEW: ")[1])
    assert "それ以外は不要です" in field.if_absent
    req = neutral(policy_id, kind)
    # Each of its conditions fails: one fact of it says the opposite.
    fixed: dict[str, str] = {}
    for condition in field.review_when:
        facts_of = [(f, v) for f, v in condition if not f.startswith("context.")]
        if not facts_of or any(fixed.get(f, v) != v for f, v in facts_of):
            continue
        fact, value = next(((f, v) for f, v in facts_of if f not in fixed), facts_of[0])
        fixed[fact] = {"true": "false", "false": "true"}.get(value, "<=99")
        set_fact(req, incident, fact, fixed[fact] if fixed[fact] != "<=99" else "<=3")
    getattr(req, incident).ClearField(name)
    facts = wire.claim_request(req, NOW, POLICIES).facts
    # Otherwise (no condition holds; a posture on record that passes): not needed.
    passing = posture_context(policy_id, Verdict.COMPLIANT)
    d = decide(facts, passing)
    assert path not in d.missing_facts, d.trace()
    for condition in field.review_when:
        ctx = passing
        cond_req = claims_pb2.EvaluateClaimRequest()
        cond_req.CopyFrom(req)
        for fact, value in condition:
            if (fact, value) == POSTURE_FAILS:
                ctx = posture_context(policy_id, Verdict.NON_COMPLIANT)
            else:
                set_fact(cond_req, incident, fact, value)
        if incident == "legal_cost" and cond_req.legal_cost.is_child:
            cond_req.legal_cost.relative_degree = 1  # a child is of the first degree
        stated = wire.claim_request(cond_req, NOW, POLICIES)
        d = decide(stated.facts, ctx)
        assert reviewed_for(d, path), f"{condition}\n{d.trace()}"
        assert d.outcome is not Outcome.APPROVE, d.trace()


def test_hnb_alternative_measures_says_it_matters_only_when_the_posture_fails() -> None:
    hnb = {f.path: f for f in claim_form(POLICIES["HNB"], "ib_transfer")}
    text = hnb["ib_transfer.alternative_measures_asserted"].if_absent
    assert text.startswith("不正利用前のログイン時の確認記録で対策が講じられていない")
    assert "それ以外は不要です" in text


def test_jpe_card_left_exposed_says_it_matters_only_with_a_pin_fact() -> None:
    jpe = {f.path: f for f in claim_form(POLICIES["JPE"], "skimming_phishing")}
    text = jpe["skimming_phishing.card_left_exposed"].if_absent
    assert "skimming_phishing.guessable_pinがtrue" in text
    assert "skimming_phishing.pin_reused_elsewhereがtrue" in text


def test_a_fact_read_unconditionally_somewhere_is_always_review() -> None:
    jpe = {f.path: f for f in claim_form(POLICIES["JPE"], "skimming_phishing")}
    assert jpe["skimming_phishing.pin_memo_kept_with_card"].if_absent.startswith("REVIEW")
    assert jpe["skimming_phishing.pin_memo_kept_with_card"].review_when == ()


# --------------------------------------------------------------------------- KDN-C0, KDN-L1, DCM-T


@pytest.mark.parametrize(("kind", "clause"), [("card_fraud", "KDN-C0"), ("liability", "KDN-L1")])
def test_kdn_c0_kdn_l1_the_form_asks_the_insureds_residence(kind: str, clause: str) -> None:
    """Seed 001 §1 「日本に居住されている個人」 (both covers): asked, REVIEW when absent."""
    kdn = {f.path: f for f in claim_form(POLICIES["KDN"], kind)}
    field = kdn["resident_in_japan"]
    assert (field.type, field.clause_ids) == ("bool", (clause,))
    assert field.if_absent.startswith("REVIEW") and clause in field.if_absent


def test_kdn_c0_the_form_asks_the_cards_issuer_for_card_fraud_only() -> None:
    """Seed 001 §1 「日本国内のクレジットカード会社が発行したクレジットカード」."""
    card = {f.path: f for f in claim_form(POLICIES["KDN"], "card_fraud")}
    field = card["card_fraud.issued_in_japan"]
    assert (field.type, field.clause_ids) == ("bool", ("KDN-C0",))
    assert field.if_absent.startswith("REVIEW") and "KDN-C0" in field.if_absent
    liability = {f.path for f in claim_form(POLICIES["KDN"], "liability")}
    assert not [p for p in liability if p.endswith("issued_in_japan")]


ENUM_FIELDS = [
    (pid, kind, f.path, f.type)
    for pid, kind in KINDS
    for f in claim_form(POLICIES[pid], kind)
    if f.type in ("funding", "payment_method")
]


def test_dcm_t_reads_the_enum_fields() -> None:
    assert {(pid, path) for pid, _, path, _ in ENUM_FIELDS} >= {
        ("DCM", "card_fraud.funding"),
        ("DCM", "card_fraud.payment_method"),
        ("DCM", "qr_payment.funding"),
    }


@pytest.mark.parametrize(("policy_id", "kind", "path", "type_"), ENUM_FIELDS)
def test_dcm_t_enum_fields_list_every_value_the_request_accepts(
    policy_id: str, kind: str, path: str, type_: str
) -> None:
    """A client building the claim from the form alone can name the funding and the
    payment method (A19c: `allowed` was empty): the enum's value names as the request's
    JSON takes them, every one but UNSPECIFIED (which is "not stated")."""
    field = {f.path: f for f in claim_form(POLICIES[policy_id], kind)}[path]
    incident, _, name = path.partition(".")
    descriptor = getattr(claims_pb2.EvaluateClaimRequest(), incident).DESCRIPTOR
    enum = descriptor.fields_by_name[name].enum_type
    accepted = [v.name for v in enum.values if v.number != 0]
    assert list(field.allowed) == accepted, field
    req = envelope(policy_id)
    for f in claim_form(POLICIES[policy_id], kind):
        answer(req, f.path, f.type, list(f.allowed))
    for value in field.allowed:  # and each is one the request accepts
        setattr(getattr(req, incident), name, enum.values_by_name[value].number)
        wire.claim_request(req, NOW, POLICIES)


@pytest.mark.parametrize(
    ("policy_id", "kind", "path"),
    [
        ("KDN", "card_fraud", "card_fraud.issuer_answer"),
        ("DCM", "qr_payment", "qr_payment.operator_answer"),
    ],
)
def test_an_answer_field_lists_every_kind_the_request_accepts(
    policy_id: str, kind: str, path: str
) -> None:
    """KDN-X3 / DCM-C1 read the card company's or operator's answer: the form lists the
    values of its ``kind`` as the request's JSON spells them, and each one decides
    (none is refused as a value)."""
    field = {f.path: f for f in claim_form(POLICIES[policy_id], kind)}[path]
    enum = claims_pb2.IssuerAnswer.DESCRIPTOR.fields_by_name["kind"].enum_type
    assert list(field.allowed) == [v.name for v in enum.values if v.number != 0], field
    incident, _, name = path.partition(".")
    for value in field.allowed:
        req = envelope(policy_id)
        for f in claim_form(POLICIES[policy_id], kind):
            answer(req, f.path, f.type, list(f.allowed))
        getattr(getattr(req, incident), name).kind = enum.values_by_name[value].number
        wire.claim_request(req, NOW, POLICIES)


# --------------------------------------------------------------------------- KDN-X1, ISA-X22


def test_kdn_x1_payment_service_is_asked_only_when_one_was_involved() -> None:
    kdn = {f.path: f for f in claim_form(POLICIES["KDN"], "card_fraud")}
    text = kdn["card_fraud.payment_service_id"].if_absent
    assert text.startswith("決済サービスを経た不正利用でなければ不要です")
    req = envelope("KDN")
    for f in kdn.values():
        answer(req, f.path, f.type, list(f.allowed))
    req.card_fraud.ClearField("payment_service_id")
    absent = decide(wire.claim_request(req, NOW, POLICIES).facts, context_for("KDN"))
    assert absent.clause("KDN-X1").status is CheckStatus.NOT_APPLICABLE, absent.trace()
    req.card_fraud.payment_service_id = "merpay"
    stated = decide(wire.claim_request(req, NOW, POLICIES).facts, context_for("KDN"))
    x1 = stated.clause("KDN-X1")
    assert x1.effect is Effect.REVIEW and "context.registrations[merpay]" in x1.missing_facts


@pytest.mark.parametrize(
    ("policy_id", "kind", "field", "key"),
    [
        ("ISA", "legal_cost", "legal_cost.cause_at", "ISA-X22"),
        ("KDN", "liability", "liability.cause_known_at", "KDN-Y3"),
    ],
)
def test_an_attestation_standing_in_for_an_instant_says_so(
    policy_id: str, kind: str, field: str, key: str
) -> None:
    form = {f.path: f for f in claim_form(POLICIES[policy_id], kind)}
    assert form[field].if_absent.startswith(f"exclusions[{key}]もなければREVIEW")
    attest = form[f"exclusions[{key}]"].if_absent
    assert attest.startswith(f"{field}がわからない場合にだけ答えます")
    assert "INVALID_ARGUMENT" in attest
