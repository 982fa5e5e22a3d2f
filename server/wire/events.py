"""EventService: protobuf requests ⇄ domain events, canonical payloads, acks.

Validation collects every violation. Every string field of every request is
scanned for card numbers first (PANs are refused, whatever the field), and
phone numbers are replaced by keyed hashes here, at the edge, so nothing
downstream — store, log, reply — ever holds one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, events_pb2
from checks import event_model as em
from checks.coverage import Coverage, MonitoringState, undecided_fact
from checks.model import CheckStatus
from server.errors import Violations
from server.pii import PhoneHasher, fingerprint
from server.wire import card_guard, strict_decode, validate
from server.wire.common import CHECK_STATUS, compared_pb

_LAST4 = re.compile(r"^\d{4}$")
_3DS_VERSION = re.compile(r"^\d{1,2}\.\d{1,2}(\.\d{1,2})?$")
_ECI = re.compile(r"^\d{2}$")
TRANS_STATUSES = frozenset("YNUACDRI")
# An enrolment may be reported ahead of its start (a contract signed today
# starting next month); a year ahead is the limit of plausibility.
ENROLMENT_FUTURE = timedelta(days=366)

Event = em.Registration | em.PaymentLogin | em.Activation | em.MonitoringEvent | em.Enrolment


@dataclass(frozen=True, slots=True)
class ConvertedEvent:
    kind: str  # registration | payment_login | activation | monitoring | enrolment
    event: Event
    payload: dict[str, Any]  # canonical, redacted: what is stored
    fingerprint: str  # of the canonical payload: idempotency comparison
    subject: str  # the instrument / service / card / policy the event is about


# --------------------------------------------------------------------------- PAN scan


def pan_violations(msg: Message, v: Violations, prefix: str = "") -> None:
    """Refuse any value, at any depth, that carries a card number: the edge's
    guard (server/wire/card_guard.py), which IngestEvents' undecoded stream
    messages reach only here, event by event, in the bulk workers."""
    if prefix:
        card_guard.card_violations(msg, v, prefix)
    else:
        card_guard.request_violations(msg, msg.SerializeToString(), v)


# --------------------------------------------------------------------------- pieces

_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def canonical_uuid(value: str) -> str | None:
    """The canonical (lower-case, hyphenated) form of a UUID, or None."""
    if _CANONICAL_UUID.fullmatch(value):  # not match: "$" also matches before a final newline
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _enum(v: Violations, field: str, value: int, cls: type[Any]) -> Any:
    if value == 0:
        v.add(field, "required (must not be _UNSPECIFIED)")
        return None
    try:
        return cls(value)
    except ValueError:
        v.add(field, f"unknown enum value {value}")
        return None


def _header(
    v: Violations, h: events_pb2.EventHeader, present: bool, now: datetime
) -> tuple[str, str, datetime] | None:
    if not present:
        v.add("header", "required")
        return None
    event_id = None
    if not h.client_event_id:
        v.add("header.client_event_id", "required")
    else:
        event_id = canonical_uuid(h.client_event_id)
        if event_id is None:
            v.add("header.client_event_id", "not a UUID")
    at = validate.instant(
        v, "header.event_time", h.event_time, h.HasField("event_time"), required=True, now=now
    )
    customer = validate.identifier(v, "header.customer_id", h.customer_id)
    if event_id is None or at is None or customer is None:
        return None
    return event_id, customer, at


def _phone(v: Violations, field: str, number: str, hasher: PhoneHasher) -> str:
    if not number:
        return ""
    if len(number) > 32:
        v.add(field, "too long for a phone number")
        return ""
    e164 = PhoneHasher.normalise(number)
    if e164 is None:
        v.add(field, "not a valid phone number")
        return ""
    return hasher.hash(e164)


def _instrument(
    v: Violations, field: str, inst: events_pb2.Instrument, present: bool, *, need_kind: bool
) -> em.Instrument | None:
    if not present:
        v.add(field, "required")
        return None
    token = validate.identifier(v, f"{field}.token", inst.token)
    if not _LAST4.match(inst.last4):
        v.add(f"{field}.last4", "exactly four digits required")
    kind = funding = None
    if need_kind:
        kind = _enum(v, f"{field}.kind", inst.kind, em.InstrumentKind)
        funding = _enum(v, f"{field}.funding", inst.funding, em.FundingSource)
    else:
        kind = (
            em.InstrumentKind(inst.kind)
            if inst.kind in em.InstrumentKind._value2member_map_
            else None
        )
        funding = (
            em.FundingSource(inst.funding)
            if inst.funding in em.FundingSource._value2member_map_
            else None
        )
        if inst.kind and kind is None:
            v.add(f"{field}.kind", f"unknown enum value {inst.kind}")
        if inst.funding and funding is None:
            v.add(f"{field}.funding", f"unknown enum value {inst.funding}")
    if token is None:
        return None
    issued = inst.issued_in_japan if inst.HasField("issued_in_japan") else None
    return (
        em.Instrument(
            token=token,
            last4=inst.last4,
            kind=kind or em.InstrumentKind.CREDIT_CARD,
            funding=funding or em.FundingSource.NONE,
            issued_in_japan=issued,
        )
        if (kind is not None and funding is not None) or not need_kind
        else None
    )


def _otp(
    v: Violations, field: str, otp: events_pb2.OtpEvidence, hasher: PhoneHasher
) -> em.Otp | None:
    channel = _enum(v, f"{field}.channel", otp.channel, em.OtpChannel)
    sent = otp.sent_to_qr_registered_phone if otp.HasField("sent_to_qr_registered_phone") else None
    phone = _phone(v, f"{field}.phone_number", otp.phone_number, hasher)
    return (
        None
        if channel is None
        else em.Otp(channel=channel, sent_to_qr_registered_phone=sent, phone_ref=phone)
    )


def _authentication(
    v: Violations, auth: events_pb2.AuthenticationEvidence, present: bool, hasher: PhoneHasher
) -> em.Authentication | None:
    which = auth.WhichOneof("method") if present else None
    if which is None:
        v.add(
            "authentication",
            "required: one of three_d_secure, otp, carrier_line, password_only, none",
        )
        return None
    if which == "three_d_secure":
        t = auth.three_d_secure
        ok = True
        if not _3DS_VERSION.match(t.protocol_version):
            v.add("authentication.three_d_secure.protocol_version", "required, e.g. 2.2.0")
            ok = False
        if t.trans_status not in TRANS_STATUSES or len(t.trans_status) != 1:
            v.add("authentication.three_d_secure.trans_status", "one of Y, N, U, A, C, D, R, I")
            ok = False
        if t.eci and not _ECI.match(t.eci):
            v.add("authentication.three_d_secure.eci", "two digits, e.g. 05")
            ok = False
        return em.ThreeDSecure(t.protocol_version, t.trans_status, t.eci) if ok else None
    if which == "otp":
        return _otp(v, "authentication.otp", auth.otp, hasher)
    if which == "carrier_line":
        carrier = validate.text(
            v,
            "authentication.carrier_line.carrier",
            auth.carrier_line.carrier,
            required=False,
            max_bytes=64,
        )
        return em.CarrierLine(carrier or "")
    if which == "password_only":
        return em.PasswordOnly()
    return em.NoAuthentication()


# --------------------------------------------------------------------------- payloads


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def _instrument_payload(i: em.Instrument) -> dict[str, Any]:
    return {
        "token": i.token,
        "last4": i.last4,
        "kind": i.kind.name,
        "funding": i.funding.name,
        "issued_in_japan": i.issued_in_japan,
    }


def _auth_payload(a: em.Authentication | None) -> dict[str, Any] | None:
    if a is None:
        return None
    if isinstance(a, em.ThreeDSecure):
        return {
            "three_d_secure": {
                "protocol_version": a.protocol_version,
                "trans_status": a.trans_status,
                "eci": a.eci,
            }
        }
    if isinstance(a, em.Otp):
        return {"otp": _otp_payload(a)}
    if isinstance(a, em.CarrierLine):
        return {"carrier_line": {"carrier": a.carrier}}
    if isinstance(a, em.PasswordOnly):
        return {"password_only": {}}
    return {"none": {}}


def _otp_payload(o: em.Otp) -> dict[str, Any]:
    return {
        "channel": o.channel.name,
        "sent_to_qr_registered_phone": o.sent_to_qr_registered_phone,
        "phone_ref": o.phone_ref,
    }


def payload_of(kind: str, e: Event) -> dict[str, Any]:
    base = {
        "client_event_id": e.client_event_id,
        "customer_id": e.customer_id,
        "event_time": e.event_time.isoformat(),
    }
    if isinstance(e, em.Registration):
        return {
            **base,
            "payment_service_id": e.payment_service_id,
            "instrument": _instrument_payload(e.instrument),
            "authentication": _auth_payload(e.authentication),
        }
    if isinstance(e, em.PaymentLogin):
        return {
            **base,
            "payment_service_id": e.payment_service_id,
            "method": e.method.name,
            "otp": None if e.otp is None else _otp_payload(e.otp),
            "device_id": e.device_id,
        }
    if isinstance(e, em.Activation):
        return {
            **base,
            "app": e.app.name,
            "action": e.action.name,
            "device_id": e.device_id,
            "channel": e.channel,
            "phone_ref": e.phone_ref,
        }
    if isinstance(e, em.MonitoringEvent):
        return {**base, "kind": e.kind.name, "card_token": e.card_token}
    return {
        **base,
        "policy_id": e.policy_id,
        "action": e.action.name,
        "plan": e.plan,
        "insured_person_ref": e.insured_person_ref,
        "relation": e.relation,
        "starts_at": _iso(e.starts_at),
        "ends_at": _iso(e.ends_at),
    }


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def _instrument_from(d: dict[str, Any]) -> em.Instrument:
    return em.Instrument(
        d["token"],
        d["last4"],
        em.InstrumentKind[d["kind"]],
        em.FundingSource[d["funding"]],
        d["issued_in_japan"],
    )


def _otp_from(d: dict[str, Any]) -> em.Otp:
    return em.Otp(em.OtpChannel[d["channel"]], d["sent_to_qr_registered_phone"], d["phone_ref"])


def event_from_payload(kind: str, d: dict[str, Any]) -> Event:
    """The inverse of :func:`payload_of`: stored events back to domain values."""
    head = (d["client_event_id"], d["customer_id"], datetime.fromisoformat(d["event_time"]))
    if kind == "registration":
        a = d["authentication"]
        auth: em.Authentication | None = None
        if a is not None:
            ((name, body),) = a.items()
            builders: dict[str, Any] = {
                "three_d_secure": lambda: em.ThreeDSecure(
                    body["protocol_version"], body["trans_status"], body["eci"]
                ),
                "otp": lambda: _otp_from(body),
                "carrier_line": lambda: em.CarrierLine(body["carrier"]),
                "password_only": em.PasswordOnly,
                "none": em.NoAuthentication,
            }
            auth = builders[name]()
        return em.Registration(
            *head, d["payment_service_id"], _instrument_from(d["instrument"]), auth
        )
    if kind == "payment_login":
        return em.PaymentLogin(
            *head,
            d["payment_service_id"],
            em.PaymentLoginMethod[d["method"]],
            None if d["otp"] is None else _otp_from(d["otp"]),
            d["device_id"],
        )
    if kind == "activation":
        return em.Activation(
            *head,
            em.SecurityApp[d["app"]],
            em.ActivationAction[d["action"]],
            d["device_id"],
            d["channel"],
            d["phone_ref"],
        )
    if kind == "monitoring":
        return em.MonitoringEvent(*head, em.MonitoringEventKind[d["kind"]], d["card_token"])
    return em.Enrolment(
        *head,
        d["policy_id"],
        em.EnrolmentAction[d["action"]],
        d["plan"],
        d["insured_person_ref"],
        d["relation"],
        _dt(d["starts_at"]),
        _dt(d["ends_at"]),
    )


def _converted(kind: str, event: Event, subject: str) -> ConvertedEvent:
    payload = payload_of(kind, event)
    return ConvertedEvent(
        kind,
        event,
        payload,
        fingerprint(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)),
        subject,
    )


# --------------------------------------------------------------------------- requests


def registration(
    req: events_pb2.ReportRegistrationRequest, now: datetime, hasher: PhoneHasher
) -> ConvertedEvent:
    v = Violations()
    pan_violations(req, v)
    head = _header(v, req.header, req.HasField("header"), now)
    service = validate.identifier(v, "payment_service_id", req.payment_service_id)
    inst = _instrument(v, "instrument", req.instrument, req.HasField("instrument"), need_kind=True)
    auth = _authentication(v, req.authentication, req.HasField("authentication"), hasher)
    v.raise_if_any()
    assert head and service and inst and auth
    event = em.Registration(*head, service, inst, auth)
    return _converted("registration", event, f"{service}/{inst.token}")


def payment_login(
    req: events_pb2.ReportPaymentLoginRequest, now: datetime, hasher: PhoneHasher
) -> ConvertedEvent:
    v = Violations()
    pan_violations(req, v)
    head = _header(v, req.header, req.HasField("header"), now)
    service = validate.identifier(v, "payment_service_id", req.payment_service_id)
    method = _enum(v, "method", req.method, em.PaymentLoginMethod)
    otp = _otp(v, "otp", req.otp, hasher) if req.HasField("otp") else None
    device = validate.identifier(v, "device_id", req.device_id, required=False) or ""
    v.raise_if_any()
    assert head and service and method
    event = em.PaymentLogin(*head, service, method, otp, device)
    return _converted("payment_login", event, f"{service}/")


def activation(
    req: events_pb2.ReportActivationRequest, now: datetime, hasher: PhoneHasher
) -> ConvertedEvent:
    v = Violations()
    pan_violations(req, v)
    head = _header(v, req.header, req.HasField("header"), now)
    app = _enum(v, "app", req.app, em.SecurityApp)
    action = _enum(v, "action", req.action, em.ActivationAction)
    device = validate.identifier(v, "device_id", req.device_id, required=False) or ""
    channel = validate.text(v, "channel", req.channel, required=False, max_bytes=64) or ""
    phone = _phone(v, "phone_number", req.phone_number, hasher)
    v.raise_if_any()
    assert head and app and action
    event = em.Activation(*head, app, action, device, channel, phone)
    return _converted("activation", event, app.name)


def monitoring(
    req: events_pb2.ReportMonitoringEventRequest, now: datetime, hasher: PhoneHasher
) -> ConvertedEvent:
    v = Violations()
    pan_violations(req, v)
    head = _header(v, req.header, req.HasField("header"), now)
    kind = _enum(v, "kind", req.kind, em.MonitoringEventKind)
    card = _instrument(v, "card", req.card, req.HasField("card"), need_kind=False)
    v.raise_if_any()
    assert head and kind and card
    event = em.MonitoringEvent(*head, kind, card.token)
    return _converted("monitoring", event, card.token)


def enrolment(
    req: events_pb2.ReportEnrolmentRequest,
    now: datetime,
    hasher: PhoneHasher,
    policy_ids: Collection[str] = (),
) -> ConvertedEvent:
    """``policy_ids``: the policies of the rules in force (an enrolment in another is refused)."""
    v = Violations()
    pan_violations(req, v)
    head = _header(v, req.header, req.HasField("header"), now)
    policy = req.policy_id
    if policy not in policy_ids:
        v.add("policy_id", f"one of {', '.join(sorted(policy_ids))}")
    action = _enum(v, "action", req.action, em.EnrolmentAction)
    plan = validate.text(v, "plan", req.plan, required=False, max_bytes=64) or ""
    person = (
        validate.identifier(v, "insured_person_ref", req.insured_person_ref, required=False) or ""
    )
    relation = validate.text(v, "relation", req.relation, required=False, max_bytes=32) or ""
    starts = validate.instant(
        v,
        "starts_at",
        req.starts_at,
        req.HasField("starts_at"),
        required=False,
        now=now,
        allow_future=ENROLMENT_FUTURE,
    )
    ends = validate.instant(
        v,
        "ends_at",
        req.ends_at,
        req.HasField("ends_at"),
        required=False,
        now=now,
        allow_future=ENROLMENT_FUTURE,
    )
    if starts and ends and ends <= starts:
        v.add("ends_at", "must be after starts_at")
    v.raise_if_any()
    assert head and action
    event = em.Enrolment(*head, policy, action, plan, person, relation, starts, ends)
    return _converted("enrolment", event, policy)


# --------------------------------------------------------------------------- acks

# What a judgement would do to a claim that depends on it.
_EFFECT = {
    CheckStatus.PASS: common_pb2.OUTCOME_NONE,
    CheckStatus.WARN: common_pb2.OUTCOME_NONE,
    CheckStatus.FAIL: common_pb2.OUTCOME_DENY,
    CheckStatus.UNKNOWN: common_pb2.OUTCOME_REVIEW,
    CheckStatus.NOT_APPLICABLE: common_pb2.OUTCOME_NONE,
}


def clause_result(j: em.Judgement) -> common_pb2.ClauseResult:
    # The clause's own text is static (docs, claim answers); an event ack carries
    # the judgement and its reason, which keeps stored replies small.
    return common_pb2.ClauseResult(
        clause_id=j.clause_id,
        status=CHECK_STATUS[j.status],
        effect=_EFFECT[j.status],
        explanation_ja=j.explanation_ja,
        compared=compared_pb(j.compared),
    )


class AckEncoder:
    """An EventAck in wire form, from its head (id, time) and its judgements.

    Protobuf fields concatenate: ``head(...) + judgements(...)`` is exactly the
    serialization of the whole EventAck. Judging is memoised
    (``checks.event_acks``), so identical facts return the very same tuple;
    its serialized form is kept by identity, so each distinct result is
    encoded once.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._cache: dict[int, tuple[tuple[em.Judgement, ...], bytes]] = {}

    @staticmethod
    def head(event_id: str, recorded_us: int) -> bytes:
        ts = Timestamp()
        ts.FromMicroseconds(recorded_us)
        head: bytes = events_pb2.EventAck(event_id=event_id, recorded_at=ts).SerializeToString(
            deterministic=True
        )
        return head

    def judgements(self, judgements: tuple[em.Judgement, ...]) -> bytes:
        """Field 4 (judgements) of EventAck, in wire form."""
        hit = self._cache.get(id(judgements))
        if hit is not None and hit[0] is judgements:
            return hit[1]
        wire: bytes = events_pb2.EventAck(
            judgements=[clause_result(j) for j in judgements]
        ).SerializeToString(deterministic=True)
        if len(self._cache) >= self._size:
            self._cache.clear()
        self._cache[id(judgements)] = (judgements, wire)
        return wire


def ack(reply: bytes, *, replayed: bool) -> events_pb2.EventAck:
    """The reply to a report: the stored ack, marked when it is a replay."""
    out = events_pb2.EventAck.FromString(reply)
    out.replayed = replayed
    return out


# --------------------------------------------------------------------------- bulk

# One converter per oneof field of EventEnvelope (the enrolment's takes the
# policy ids of the rules in force as well).
CONVERTERS = {
    "registration": registration,
    "payment_login": payment_login,
    "activation": activation,
    "monitoring": monitoring,
    "enrolment": enrolment,
}
NO_EVENT = (
    "event: one of registration, payment_login, activation, monitoring, enrolment is required"
)


def decode_ingest(raw: bytes) -> events_pb2.IngestEventsRequest:
    """One IngestEvents stream message, received undecoded (api/events.py),
    decoded as strictly as every other request (a known field with the wrong
    wire type is refused, not dropped as unknown): InvalidArgument naming the
    field, which ends the stream."""
    return strict_decode.parse(events_pb2.IngestEventsRequest, raw, root="events")


def ingest_response(
    accepted: int,
    replayed: int,
    rejected: list[tuple[int, str, str, str]],
    rejected_total: int,
    beyond: list[tuple[str, str, int, int]],
) -> events_pb2.IngestEventsResponse:
    """``rejected`` in full; ``beyond`` as (code, field, count, first index)
    (usecases/rejections.py keeps the reply bounded)."""
    resp = events_pb2.IngestEventsResponse(
        accepted=accepted, replayed=replayed, rejected_total=rejected_total
    )
    for index, event_id, code, message in rejected:
        resp.rejected.add(index=index, client_event_id=event_id, code=code, message=message)
    for code, field, count, first_index in beyond:
        resp.rejected_beyond.add(code=code, field=field, count=count, first_index=first_index)
    return resp


# --------------------------------------------------------------------------- queries

# How far ahead a query's instant may lie (a claim handler asking "as of
# next month"): ten years.
QUERY_FUTURE = timedelta(days=3660)


def _customer_at(
    customer_id: str, ts: Timestamp, present: bool, field: str, now: datetime
) -> tuple[str, datetime]:
    v = Violations()
    customer = validate.identifier(v, "customer_id", customer_id)
    at = validate.instant(v, field, ts, present, required=False, now=now, allow_future=QUERY_FUTURE)
    v.raise_if_any()
    assert customer is not None
    return customer, at or now


def coverage_query(req: events_pb2.GetCoverageRequest, now: datetime) -> tuple[str, datetime]:
    """(customer, as of) of a GetCoverage request (the policy id is the use case's to check)."""
    return _customer_at(req.customer_id, req.as_of, req.HasField("as_of"), "as_of", now)


def security_standard_query(
    req: events_pb2.GetSecurityStandardRequest, now: datetime
) -> tuple[str, str, str, datetime]:
    """(customer, payment service, instrument token or "", before)."""
    customer, before = _customer_at(
        req.customer_id, req.before, req.HasField("before"), "before", now
    )
    v = Violations()
    service = validate.identifier(v, "payment_service_id", req.payment_service_id)
    token = validate.identifier(v, "instrument_token", req.instrument_token, required=False)
    v.raise_if_any()
    assert service is not None
    return customer, service, token or "", before


def alerts_query(req: events_pb2.GetAlertsRequest, now: datetime) -> tuple[str, str, datetime]:
    """(customer, card token, before)."""
    customer, before = _customer_at(
        req.customer_id, req.before, req.HasField("before"), "before", now
    )
    v = Violations()
    token = validate.identifier(v, "card_token", req.card_token)
    v.raise_if_any()
    assert token is not None
    return customer, token, before


def coverage_response(coverage: Coverage, policy_id: str) -> events_pb2.GetCoverageResponse:
    resp = events_pb2.GetCoverageResponse()
    for p in coverage.periods:
        out = resp.periods.add(clause_ids=p.clause_ids, basis=p.basis)
        out.starts_at.FromDatetime(p.starts_at)
        if p.ends_at is not None:
            out.ends_at.FromDatetime(p.ends_at)
    for u in coverage.undecided:  # what a claim there would name as missing (REVIEW)
        j = u.judgement
        und = resp.undecided.add(
            client_event_id=u.client_event_id,
            clause_id=j.clause_id,
            reason=j.reason,
            explanation_ja=j.explanation_ja,
            missing_fact=undecided_fact(policy_id, u),
        )
        und.event_time.FromDatetime(u.event_time)
        assert u.may_cover is not None
        lo, hi = u.may_cover
        if lo is not None:
            und.may_cover_from.FromDatetime(lo)
        if hi is not None:
            und.may_cover_until.FromDatetime(hi)
    return resp


def security_standard_response(
    registrations: Iterable[bytes], logins: Iterable[bytes]
) -> events_pb2.GetSecurityStandardResponse:
    """From the stored acks, as they were sent."""
    return events_pb2.GetSecurityStandardResponse(
        registrations=[events_pb2.EventAck.FromString(r) for r in registrations],
        logins=[events_pb2.EventAck.FromString(r) for r in logins],
    )


def alerts_response(state: MonitoringState) -> events_pb2.GetAlertsResponse:
    resp = events_pb2.GetAlertsResponse()
    if state.registered_at is not None:
        resp.registered_at.FromDatetime(state.registered_at)
    for at in state.alerts_delivered_at:
        resp.alerts_delivered_at.add().FromDatetime(at)
    return resp
