"""EventService through a real in-process server: judgements, idempotency,
bad input, PII handling, coverage queries and the bulk stream."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, events_pb2, events_pb2_grpc
from tests.conftest import TEST_NOW, RunningServer, db_rows
from tests.service.test_check_login_service import violations

AT = TEST_NOW - timedelta(days=1)
PAN = "4111111111111111"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


def header(
    at: datetime = AT, customer: str = "m-1", eid: str | None = None
) -> events_pb2.EventHeader:
    return events_pb2.EventHeader(
        client_event_id=eid or str(uuid.uuid4()), event_time=ts(at), customer_id=customer
    )


def card(
    token: str = "tok-card-1",
    kind: int = events_pb2.INSTRUMENT_KIND_CREDIT_CARD,
    funding: int = events_pb2.FUNDING_SOURCE_NONE,
) -> events_pb2.Instrument:
    return events_pb2.Instrument(
        token=token, last4="1111", kind=kind, funding=funding, issued_in_japan=True
    )


def three_ds(
    status: str = "Y", eci: str = "05", version: str = "2.2.0"
) -> events_pb2.AuthenticationEvidence:
    return events_pb2.AuthenticationEvidence(
        three_d_secure=events_pb2.ThreeDSecureEvidence(
            protocol_version=version, trans_status=status, eci=eci
        )
    )


def registration(**kw: object) -> events_pb2.ReportRegistrationRequest:
    req = events_pb2.ReportRegistrationRequest(
        header=header(), payment_service_id="paypay", instrument=card(), authentication=three_ds()
    )
    for k, v in kw.items():
        getattr(req, k).CopyFrom(v) if hasattr(v, "DESCRIPTOR") else setattr(req, k, v)
    return req


def judged(ack: events_pb2.EventAck) -> dict[str, str]:
    return {
        j.clause_id: common_pb2.CheckStatus.Name(j.status).removeprefix("CHECK_STATUS_")
        for j in ack.judgements
    }


def stub(server: RunningServer) -> events_pb2_grpc.EventServiceStub:
    return events_pb2_grpc.EventServiceStub(server.channel)


def stored(server: RunningServer) -> list[tuple[str, str]]:
    return db_rows(server.db_url, "SELECT client_event_id, payload FROM events ORDER BY seq")


# --------------------------------------------------------------------------- judgements


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (three_ds("Y", "05"), {"DCM-S1": "PASS", "KDN-X1": "PASS"}),
        (three_ds("N", "07"), {"DCM-S1": "FAIL", "KDN-X1": "FAIL"}),
        (three_ds("A", "06"), {"DCM-S1": "FAIL", "KDN-X1": "FAIL"}),
        (three_ds("Y", "05", "1.0.2"), {"DCM-S1": "FAIL"}),  # after 3DS 1 retirement
        (
            events_pb2.AuthenticationEvidence(password_only=events_pb2.PasswordOnlyEvidence()),
            {"DCM-S1": "FAIL", "KDN-X1": "FAIL"},
        ),
    ],
    ids=["3ds-Y", "3ds-N", "3ds-attempt", "3ds-1.0-retired", "password-only"],
)
async def test_dcm_s1_card_registration_judged_at_once(
    server: RunningServer, auth: events_pb2.AuthenticationEvidence, expected: dict[str, str]
) -> None:
    ack = await stub(server).ReportRegistration(registration(authentication=auth))
    got = judged(ack)
    assert {k: got[k] for k in expected} == expected
    assert ack.event_id and not ack.replayed


@pytest.mark.parametrize(
    ("otp", "expected"),
    [
        (
            events_pb2.OtpEvidence(
                channel=events_pb2.OTP_CHANNEL_SMS, sent_to_qr_registered_phone=True
            ),
            "FAIL",
        ),
        (
            events_pb2.OtpEvidence(
                channel=events_pb2.OTP_CHANNEL_SMS, sent_to_qr_registered_phone=False
            ),
            "PASS",
        ),
        (events_pb2.OtpEvidence(channel=events_pb2.OTP_CHANNEL_APP), "PASS"),
        (events_pb2.OtpEvidence(channel=events_pb2.OTP_CHANNEL_SMS), "UNKNOWN"),
    ],
    ids=["sms-to-qr-phone", "sms-to-other-phone", "app-otp", "sms-destination-unknown"],
)
async def test_dcm_s2_bank_account_registration_otp(
    server: RunningServer, otp: events_pb2.OtpEvidence, expected: str
) -> None:
    req = registration(
        instrument=events_pb2.Instrument(
            token="tok-acct",
            last4="0001",
            kind=events_pb2.INSTRUMENT_KIND_BANK_ACCOUNT,
            funding=events_pb2.FUNDING_SOURCE_BANK_ACCOUNT,
            issued_in_japan=True,
        ),
        authentication=events_pb2.AuthenticationEvidence(otp=otp),
    )
    assert judged(await stub(server).ReportRegistration(req))["DCM-S2"] == expected


@pytest.mark.parametrize(
    ("method", "s3", "kdn_x1"),
    [
        (events_pb2.PAYMENT_LOGIN_METHOD_OTP_TWO_STEP, "PASS", "PASS"),
        (events_pb2.PAYMENT_LOGIN_METHOD_CARRIER_LINE, "PASS", "FAIL"),
        (events_pb2.PAYMENT_LOGIN_METHOD_PASSWORD_ONLY, "FAIL", "FAIL"),
        (events_pb2.PAYMENT_LOGIN_METHOD_BIOMETRIC_REGISTERED_DEVICE, "FAIL", "FAIL"),
    ],
    ids=["otp", "carrier-line", "password-only", "biometric"],
)
async def test_dcm_s3_and_kdn_x1_payment_login(
    server: RunningServer, method: int, s3: str, kdn_x1: str
) -> None:
    req = events_pb2.ReportPaymentLoginRequest(
        header=header(), payment_service_id="paypay", method=method
    )
    if method == events_pb2.PAYMENT_LOGIN_METHOD_OTP_TWO_STEP:
        req.otp.channel = events_pb2.OTP_CHANNEL_APP
    got = judged(await stub(server).ReportPaymentLogin(req))
    assert (got["DCM-S3"], got["KDN-X1"]) == (s3, kdn_x1)


# --------------------------------------------------------------------------- idempotency


async def test_retry_returns_first_reply_and_stores_once(server: RunningServer) -> None:
    req = registration()
    first = await stub(server).ReportRegistration(req)
    server.clock.now += timedelta(seconds=30)
    again = await stub(server).ReportRegistration(req)
    assert again.replayed and again.event_id == first.event_id
    assert again.recorded_at == first.recorded_at
    assert len(stored(server)) == 1


async def test_conflicting_retry_is_already_exists_naming_the_id(server: RunningServer) -> None:
    req = registration()
    await stub(server).ReportRegistration(req)
    req.authentication.three_d_secure.trans_status = "N"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub(server).ReportRegistration(req)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert req.header.client_event_id in (info.value.details() or "")
    assert len(stored(server)) == 1


async def test_same_id_for_another_event_kind_conflicts(server: RunningServer) -> None:
    req = registration()
    await stub(server).ReportRegistration(req)
    login = events_pb2.ReportPaymentLoginRequest(
        header=req.header,
        payment_service_id="paypay",
        method=events_pb2.PAYMENT_LOGIN_METHOD_PASSWORD_ONLY,
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub(server).ReportPaymentLogin(login)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_concurrent_retries_store_one_event(server: RunningServer) -> None:
    req = registration()
    acks = await asyncio.gather(*(stub(server).ReportRegistration(req) for _ in range(25)))
    assert len({a.event_id for a in acks}) == 1
    assert sum(not a.replayed for a in acks) == 1
    assert len(stored(server)) == 1


async def test_concurrent_conflicting_retries_store_one_and_refuse_the_rest(
    server: RunningServer,
) -> None:
    base = registration()
    variants = []
    for status in "YNUARIYN":
        r = events_pb2.ReportRegistrationRequest()
        r.CopyFrom(base)
        r.authentication.three_d_secure.trans_status = status
        variants.append(r)
    results = await asyncio.gather(
        *(stub(server).ReportRegistration(r) for r in variants), return_exceptions=True
    )
    ok = [r for r in results if isinstance(r, events_pb2.EventAck)]
    errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert all(e.code() == grpc.StatusCode.ALREADY_EXISTS for e in errors)
    assert len({a.event_id for a in ok}) == 1 and len(stored(server)) == 1


# --------------------------------------------------------------------------- bad input


def _bad(**changes: object) -> events_pb2.ReportRegistrationRequest:
    req = registration()
    for path, value in changes.items():
        target = req
        *parents, leaf = path.split("__")
        for p in parents:
            target = getattr(target, p)
        if value is None:
            target.ClearField(leaf)
        elif hasattr(value, "DESCRIPTOR"):
            getattr(target, leaf).CopyFrom(value)
        else:
            setattr(target, leaf, value)
    return req


BAD = [
    ("missing-header", _bad(header=None), "header"),
    ("bad-uuid", _bad(header__client_event_id="not-a-uuid"), "header.client_event_id"),
    ("missing-time", _bad(header__event_time=None), "header.event_time"),
    ("far-future", _bad(header__event_time=ts(TEST_NOW + timedelta(days=30))), "header.event_time"),
    ("negative-time", _bad(header__event_time=Timestamp(seconds=-86400)), "header.event_time"),
    ("missing-customer", _bad(header__customer_id=""), "header.customer_id"),
    ("oversized-customer", _bad(header__customer_id="c" * 500), "header.customer_id"),
    ("missing-service", _bad(payment_service_id=""), "payment_service_id"),
    ("missing-instrument", _bad(instrument=None), "instrument"),
    ("bad-last4", _bad(instrument__last4="12a4"), "instrument.last4"),
    ("unknown-kind", _bad(instrument__kind=42), "instrument.kind"),
    ("unspecified-funding", _bad(instrument__funding=0), "instrument.funding"),
    ("missing-auth", _bad(authentication=None), "authentication"),
    (
        "bad-trans-status",
        _bad(authentication__three_d_secure__trans_status="Q"),
        "authentication.three_d_secure.trans_status",
    ),
    ("bad-eci", _bad(authentication__three_d_secure__eci="5"), "authentication.three_d_secure.eci"),
    ("pan-as-token", _bad(instrument__token=PAN), "instrument.token"),
    (
        "pan-in-service",
        _bad(payment_service_id=f"svc {PAN[:4]} {PAN[4:8]} {PAN[8:12]} {PAN[12:]}"),
        "payment_service_id",
    ),
    ("pan-in-customer", _bad(header__customer_id=f"cust-{PAN}"), "header.customer_id"),
    (
        "pan-in-full-width-digits",
        _bad(payment_service_id="svc " + PAN.translate(FULL_WIDTH)),
        "payment_service_id",
    ),
    (
        "event-id-with-a-final-newline",
        _bad(header__client_event_id="0192f0c4-7d1e-7a3b-9c2d-5e6f7a8b9c0d\n"),
        "header.client_event_id",
    ),
]


@pytest.mark.parametrize(("req", "field"), [(r, f) for _, r, f in BAD], ids=[i for i, _, _ in BAD])
async def test_bad_registration_is_invalid_argument_and_stores_nothing(
    server: RunningServer,
    req: events_pb2.ReportRegistrationRequest,
    field: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub(server).ReportRegistration(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(info.value)
    assert stored(server) == []
    assert PAN not in (info.value.details() or "")
    assert PAN not in capsys.readouterr().out


async def test_unknown_enums_and_bad_phone_in_other_events(server: RunningServer) -> None:
    s = stub(server)
    cases = [
        (
            s.ReportActivation(
                events_pb2.ReportActivationRequest(header=header(), app=99, action=1)
            ),
            "app",
        ),
        (
            s.ReportActivation(
                events_pb2.ReportActivationRequest(
                    header=header(), app=1, action=1, phone_number="12"
                )
            ),
            "phone_number",
        ),
        (
            s.ReportMonitoringEvent(
                events_pb2.ReportMonitoringEventRequest(header=header(), kind=1)
            ),
            "card",
        ),
        (
            s.ReportEnrolment(
                events_pb2.ReportEnrolmentRequest(header=header(), policy_id="XYZ", action=1)
            ),
            "policy_id",
        ),
        (
            s.ReportEnrolment(
                events_pb2.ReportEnrolmentRequest(
                    header=header(),
                    policy_id="JPE",
                    action=1,
                    starts_at=ts(AT),
                    ends_at=ts(AT - timedelta(days=1)),
                )
            ),
            "ends_at",
        ),
        (
            s.ReportPaymentLogin(
                events_pb2.ReportPaymentLoginRequest(
                    header=header(), payment_service_id="paypay", method=0
                )
            ),
            "method",
        ),
    ]
    for call, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in violations(info.value), field
    assert stored(server) == []


async def test_phone_numbers_are_stored_only_as_keyed_hashes(server: RunningServer) -> None:
    s = stub(server)
    for number in ("090-1234-5678", "+819012345678"):
        await s.ReportActivation(
            events_pb2.ReportActivationRequest(
                header=header(),
                app=events_pb2.SECURITY_APP_NORTON_360,
                action=events_pb2.ACTIVATION_ACTION_ACTIVATED,
                channel="carrier_shop",
                phone_number=number,
            )
        )
    rows = stored(server)
    assert len(rows) == 2
    refs = [__import__("json").loads(p)["phone_ref"] for _, p in rows]
    assert refs[0] == refs[1] and refs[0].startswith("ph1:")
    assert all("1234" not in p for _, p in rows)


# --------------------------------------------------------------------------- coverage queries


def activation(app: int, action: int, at: datetime) -> events_pb2.ReportActivationRequest:
    return events_pb2.ReportActivationRequest(
        header=header(at),
        app=app,
        action=action,
        device_id="phone-1",
        channel="carrier_shop",
        phone_number="090-1234-5678",
    )


async def test_kdn_coverage_starts_when_both_apps_are_active_whatever_the_arrival_order(
    server: RunningServer,
) -> None:
    s = stub(server)
    t0 = AT - timedelta(days=20)
    # The later activation (Norton Monitor) arrives first.
    await s.ReportActivation(
        activation(
            events_pb2.SECURITY_APP_NORTON_MONITOR,
            events_pb2.ACTIVATION_ACTION_ACTIVATED,
            t0 + timedelta(days=2),
        )
    )
    await s.ReportActivation(
        activation(events_pb2.SECURITY_APP_NORTON_360, events_pb2.ACTIVATION_ACTION_ACTIVATED, t0)
    )
    await s.ReportActivation(
        activation(
            events_pb2.SECURITY_APP_NORTON_MONITOR,
            events_pb2.ACTIVATION_ACTION_DEACTIVATED,
            t0 + timedelta(days=10),
        )
    )
    resp = await s.GetCoverage(events_pb2.GetCoverageRequest(customer_id="m-1", policy_id="KDN"))
    assert len(resp.periods) == 1
    p = resp.periods[0]
    assert p.starts_at.ToDatetime(UTC) == t0 + timedelta(days=2)
    assert p.ends_at.ToDatetime(UTC) == t0 + timedelta(days=10)
    # As of before the deactivation, the period is still open.
    mid = await s.GetCoverage(
        events_pb2.GetCoverageRequest(
            customer_id="m-1", policy_id="KDN", as_of=ts(t0 + timedelta(days=5))
        )
    )
    assert not mid.periods[0].HasField("ends_at")


async def test_jpe_cover_begins_two_calendar_months_after_service_start(
    server: RunningServer,
) -> None:
    s = stub(server)
    start = datetime(2025, 1, 31, tzinfo=UTC) - timedelta(hours=9)  # 2025-01-31 00:00 JST
    ack = await s.ReportEnrolment(
        events_pb2.ReportEnrolmentRequest(
            header=header(AT - timedelta(days=60)),
            policy_id="JPE",
            action=events_pb2.ENROLMENT_ACTION_JOINED,
            starts_at=ts(start),
        )
    )
    assert judged(ack)["JPE-P1"] == "PASS"
    resp = await s.GetCoverage(events_pb2.GetCoverageRequest(customer_id="m-1", policy_id="JPE"))
    # 2025-01-31 + 2 months has no 31st of March? It does: cover from 2025-03-31 00:00 JST.
    assert resp.periods[0].starts_at.ToDatetime(UTC) == datetime(2025, 3, 30, 15, tzinfo=UTC)


async def test_alerts_and_security_standard_queries(server: RunningServer) -> None:
    s = stub(server)
    c = card("tok-mon")
    await s.ReportMonitoringEvent(
        events_pb2.ReportMonitoringEventRequest(
            header=header(AT - timedelta(days=5)),
            kind=events_pb2.MONITORING_EVENT_KIND_CARD_REGISTERED,
            card=c,
        )
    )
    alert = await s.ReportMonitoringEvent(
        events_pb2.ReportMonitoringEventRequest(
            header=header(AT - timedelta(days=1)),
            kind=events_pb2.MONITORING_EVENT_KIND_LEAK_ALERT_DELIVERED,
            card=c,
        )
    )
    assert judged(alert)["KDN-C2"] == "PASS"
    alerts = await s.GetAlerts(events_pb2.GetAlertsRequest(customer_id="m-1", card_token="tok-mon"))
    assert alerts.registered_at.ToDatetime(UTC) == AT - timedelta(days=5)
    assert [a.ToDatetime(UTC) for a in alerts.alerts_delivered_at] == [AT - timedelta(days=1)]
    await s.ReportRegistration(registration())
    std = await s.GetSecurityStandard(
        events_pb2.GetSecurityStandardRequest(
            customer_id="m-1", payment_service_id="paypay", instrument_token="tok-card-1"
        )
    )
    assert len(std.registrations) == 1 and judged(std.registrations[0])["DCM-S1"] == "PASS"
    before = await s.GetSecurityStandard(
        events_pb2.GetSecurityStandardRequest(
            customer_id="m-1", payment_service_id="paypay", before=ts(AT)
        )
    )
    assert len(before.registrations) == 0  # registered exactly at AT: not before AT


# --------------------------------------------------------------------------- bulk


async def test_bulk_stream_applies_same_checks_and_idempotency(server: RunningServer) -> None:
    envs = [events_pb2.EventEnvelope(registration=registration()) for _ in range(2500)]
    envs[10].registration.instrument.token = PAN
    envs[20].registration.header.client_event_id = "nope"
    envs.append(events_pb2.EventEnvelope(registration=envs[5].registration))  # a retry
    conflict = events_pb2.EventEnvelope()
    conflict.CopyFrom(envs[6])
    conflict.registration.authentication.three_d_secure.trans_status = "N"
    envs.append(conflict)
    envs.append(events_pb2.EventEnvelope())  # empty
    batches = [
        events_pb2.IngestEventsRequest(events=envs[i : i + 300]) for i in range(0, len(envs), 300)
    ]
    resp = await stub(server).IngestEvents(iter(batches))
    assert (resp.accepted, resp.replayed) == (2498, 1), resp.rejected
    codes = {r.index: r.code for r in resp.rejected}
    assert codes == {
        10: "INVALID_ARGUMENT",
        20: "INVALID_ARGUMENT",
        2501: "ALREADY_EXISTS",
        2502: "INVALID_ARGUMENT",
    }
    assert all(PAN not in r.message and PAN not in r.client_event_id for r in resp.rejected)
    assert len(stored(server)) == 2498
