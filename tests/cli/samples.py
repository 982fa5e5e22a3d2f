"""Replies as a server sends them, fixed, for the output tests: Japanese text,
long ids, amounts in the millions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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


# ------------------------------------------- documents of commands that read no reply


def replay_doc() -> dict[str, Any]:
    """``anshin replay``'s document: one claim changed, one clause newly fired."""
    change = {
        "decision_id": ENTRY_ID,
        "recorded_us": 1745130600000000,
        "recorded_at": "2025-04-20T06:30:00Z",
        "customer_id": "hnb-contract-0001",
        "policy_id": "HNB",
        "outcome": {"old": "APPROVE", "new": "DENY"},
        "payable_yen": {"old": 12_000_000, "new": 0, "delta": -12_000_000},
        "newly_fired": ["HNB-X5"],
        "no_longer_fired": [],
    }
    return {
        "db": "sqlite:///var/anshin.db",
        "rules": {"dir": "/tmp/rules-x5", "digest": "c362ff6a481129f3"},
        "window": {"since": "2025-04-01T00:00:00+09:00", "until": None},
        "policy": "HNB",
        "replayed": 2,
        "unchanged": 1,
        "changed": 1,
        "not_replayable": {
            "total": 1,
            "reasons": [{"reason": "no inputs recorded", "count": 1, "examples": ["01a2"]}],
        },
        "outcome_changes": [{"from": "APPROVE", "to": "DENY", "count": 1}],
        "amount": {"changed": 1, "delta_yen": -12_000_000},
        "by_policy": {
            "HNB": {
                "replayed": 2,
                "changed": 1,
                "outcome_changed": 1,
                "amount_changed": 1,
                "amount_delta_yen": -12_000_000,
            }
        },
        "by_clause": {"HNB-X5": {"newly_fired": 1, "no_longer_fired": 0}},
        "changes": [change],
        "ledger_reads": 0,
        "cascade": False,
        "elapsed_s": 0.5,
        "claims_per_s": 6,
        "cpu_s": 0.25,
        "claims_per_cpu_s": 12,
        "notes": ["no cascade"],
    }


def ingest_doc() -> dict[str, Any]:
    """``anshin events ingest``'s summary: two lines rejected, one in Japanese."""
    return {
        "file": "events.jsonl",
        "accepted": 1200,
        "replayed": 3,
        "rejected": [
            {
                "line": 7,
                "code": "INVALID_ARGUMENT",
                "clientEventId": "paypay-login-01a24faa-56df-74a8-8175-be999babc464",
                "message": "occurred_at: 発生時刻がありません (occurred_at is required)",
            },
            {
                "line": 12,
                "code": "INVALID_JSON",
                "clientEventId": "",
                "message": "not an EventEnvelope: Failed to parse occurredAt field",
            },
        ],
    }


def releases_doc() -> dict[str, Any]:
    """``anshin releases status``: one fresh product, one stale."""
    return {
        "at": "2026-12-07T00:00:00Z",
        "staleAfterDays": 45,
        "products": [
            {
                "product": "chrome",
                "asOf": "2026-11-12T14:10:29.391000Z",
                "releases": 156,
                "stale": False,
            },
            {"product": "phishwall", "asOf": "2000-01-01T00:00:00Z", "releases": 0, "stale": True},
        ],
    }


def rules_doc(valid: bool = True) -> dict[str, Any]:
    """``anshin rules validate``: a valid directory (Japanese policy names), or one problem."""
    if not valid:
        return {
            "dir": "/tmp/anshin-rules-copy",
            "valid": False,
            "problems": [
                "/tmp/anshin-rules-copy/policies/hnb.toml: clause HNB-X5: kind: unknown clause "
                "kind 'notice_within_day_after'"
            ],
            "policies": [],
        }
    return {
        "dir": "rules/data",
        "valid": True,
        "problems": [],
        "rulesDigest": "c5450114a47884d4",
        "policies": [
            {
                "policy": "HNB@2024-02-20",
                "file": "hnb.toml",
                "clauses": 25,
                "entries": 27,
                "name": "東日本ビジネスIBサービス 不正利用補償",
            },
            {
                "policy": "KDN@seed-001",
                "file": "kdn.toml",
                "clauses": 24,
                "entries": 27,
                "name": "ノートン セキュリティ with ダークウェブ モニタリング プラス 付帯保険",
            },
        ],
    }


def verify_doc(ok: bool = True) -> dict[str, Any]:
    """``anshin log verify``'s report: intact, or tampered at seq 1234."""
    return {
        "ok": ok,
        "entries": 2500 if ok else 1233,
        "head_seq": 2500,
        "checkpoints_checked": 3,
        "external_checkpoints_checked": 0,
        "macs_checked": True,
        "first_bad": None
        if ok
        else {
            "seq": 1234,
            "id": "00000000-0000-7000-8000-000000001234",
            "reason": "content does not match its entry_hash",
        },
        "notes": [],
        "key_id": "5bca7f7b419588da",
        "seconds": 0.5,
    }
