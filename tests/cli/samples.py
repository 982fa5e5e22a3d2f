"""Replies as a server sends them, fixed, for the output tests: Japanese text,
long ids, amounts in the millions."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, events_pb2, operator_pb2, posture_pb2, verdicts_pb2

GUIDANCE_JA = (
    "ウイルス対策ソフトの状態を確認できませんでした。"
    "市販のウイルス対策ソフトを導入し、最新の状態にしてください。"
)
ENTRY_ID = "01a24faa-56df-74a8-8175-be999babc464"


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(datetime(year, month, day, hour, minute, tzinfo=UTC))
    return t


def entries() -> list[verdicts_pb2.VerdictEntry]:
    approve = verdicts_pb2.VerdictEntry(
        id=ENTRY_ID,
        seq=4,
        kind="claim",
        customer_id="hnb-contract-0001",
        policy_id="HNB",
        subject_time=ts(2025, 4, 12, 1),
        recorded_at=ts(2025, 4, 20, 6, 30),
        outcome="APPROVE",
        clause_ids=["HNB-A1", "HNB-L1", "HNB-P1", "HNB-P2", "HNB-P3", "HNB-P4"],
        payable_yen=12_000_000,
        request_id="01a24faa-5000-7000-8000-000000000001",
        entry_hash="9" * 64,
    )
    approve.caller.identity = "ib-server"
    posture = verdicts_pb2.VerdictEntry(
        id="01a24faa-56df-74a8-8175-be999babc465",
        seq=5,
        kind="login_posture",
        customer_id="hnb-contract-0001",
        device_id="mac-1",
        subject_time=ts(2025, 4, 10, 1),
        recorded_at=ts(2025, 4, 20, 6, 31),
        outcome="NON_COMPLIANT",
        clause_ids=["HNB-P2"],
    )
    return [approve, posture]


def reviews() -> list[verdicts_pb2.ReviewItem]:
    item = verdicts_pb2.ReviewItem(
        decision=entries()[0],
        missing_facts=["ib_transfer.alternative_measures_asserted", "代替的な対策の説明"],
        review_clause_ids=["HNB-R1"],
        claimed_yen=1_500_000,
        computed_yen=1_200_000,
    )
    return [item]


def check(status: int, message_ja: str = "") -> common_pb2.CheckResult:
    c = posture_pb2.CheckResult(
        check_id="antivirus",
        status=status,
        clause_ids=["HNB-P2", "HNB-P4"],
        reason="antivirus_not_reported",
        message_ja=message_ja,
    )
    x = c.compared.add()
    x.name, x.observed, x.expected = "antivirus", "(not reported)", "reported"
    return c


def login_reply() -> posture_pb2.CheckLoginResponse:
    resp = posture_pb2.CheckLoginResponse(
        verdict=posture_pb2.POSTURE_VERDICT_UNKNOWN, verdict_id=ENTRY_ID
    )
    resp.client.browser, resp.client.browser_version = "chrome", "135"
    resp.client.os, resp.client.os_version = "windows", "11"
    resp.rules.digest = "bb8680152e9098f6"
    resp.checks.append(check(common_pb2.CHECK_STATUS_PASS))
    resp.checks.append(check(common_pb2.CHECK_STATUS_UNKNOWN, GUIDANCE_JA))
    return resp


def devices() -> posture_pb2.GetPostureResponse:
    resp = posture_pb2.GetPostureResponse()
    d = resp.devices.add(
        device_id="mac-1",
        verdict_id=ENTRY_ID,
        login_time=ts(2025, 4, 10, 1),
        verdict=posture_pb2.POSTURE_VERDICT_NON_COMPLIANT,
    )
    d.checks.append(check(common_pb2.CHECK_STATUS_FAIL, GUIDANCE_JA))
    return resp


def coverage() -> events_pb2.GetCoverageResponse:
    resp = events_pb2.GetCoverageResponse()
    resp.periods.add(starts_at=ts(2025, 1, 1), clause_ids=["DCM-S1"], basis="会員登録 enrolment")
    return resp


def status() -> operator_pb2.GetStatusResponse:
    return operator_pb2.GetStatusResponse(
        rules_digest="bb8680152e9098f6",
        rules_loaded_at=ts(2025, 4, 20),
        release_data=["chrome=2026-11-12", "phishwall=2000-01-01"],
        stale_products=["phishwall"],
        pid=4242,
        server_version="0.1.0",
    )
