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


# ------------------------------------------- claim traces and `verdicts show`

CLAIM_ID = "01a25043-7f84-7520-9a82-79bd3fa843fe"
POSTURE_ID = "01a25043-7f84-7520-9a82-79bd3fa843ff"
FACT_PATH = "ledger[HNB-L1/customer:hnb-contract-0001/year:2025].amount_yen"
EXPLANATION_JA = (
    "不正利用前の90日間（2025-04-12 10:00 JSTまで）にログイン時の確認記録がないため、"
    "HNB-P1を講じていたか確認できません（HNB-R1により人が判断します）。"
)


def claim_reply() -> Any:
    """A REVIEW decision: a computation with a long cap scope, a clause whose
    fact path is wider than a narrow terminal, Japanese explanations."""
    from anshin.v1 import claims_pb2

    resp = claims_pb2.EvaluateClaimResponse(
        decision_id=CLAIM_ID,
        outcome=common_pb2.OUTCOME_REVIEW,
        payable_yen=0,
        summary_ja="要審査: HNB-P1, HNB-R1について人による判断が必要です。",
    )
    resp.rules.policies.append("HNB@2024-02-20")
    resp.rules.digest = "a353ecb4fb3c832d"
    resp.computation.add(name="loss", input_yen=1_500_000, output_yen=1_500_000)
    resp.computation.add(
        name="minus recovered", clause_id="HNB-A1", input_yen=1_500_000, output_yen=1_200_000,
        note="recovered ¥300,000",
    )  # fmt: skip
    resp.computation.add(
        name="cap HNB-L1/customer:hnb-contract-0001/year:2025", clause_id="HNB-L1",
        input_yen=1_200_000, output_yen=1_200_000,
        note="limit ¥10,000,000, used ¥0, remaining ¥10,000,000; not binding",
    )  # fmt: skip
    p1 = resp.clauses.add(
        clause_id="HNB-P1", kind="posture_required", status=common_pb2.CHECK_STATUS_UNKNOWN,
        effect=common_pb2.OUTCOME_REVIEW, explanation_ja=EXPLANATION_JA,
        missing_facts=["context.postures"],
    )  # fmt: skip
    p1.compared.add(
        name="posture", observed=POSTURE_ID, expected="a verdict before 2025-04-12T10:00:00+09:00"
    )
    l1 = resp.clauses.add(
        clause_id="HNB-L1", kind="annual_cap", status=common_pb2.CHECK_STATUS_PASS,
        effect=common_pb2.OUTCOME_APPROVE, explanation_ja="限度額¥10,000,000の範囲内です。",
    )  # fmt: skip
    l1.compared.add(name=FACT_PATH, observed="¥0", expected="limit ¥10,000,000")
    return resp


def form_reply() -> Any:
    from anshin.v1 import claims_pb2

    resp = claims_pb2.GetClaimFormResponse(policy_id="DCM", incident="qr_payment:DCM-E1")
    resp.rules.policies.append("DCM@2025-04-01")
    resp.rules.digest = "a353ecb4fb3c832d"
    resp.fields.add(
        path="qr_payment.reported_to_police_at", type="timestamp", clause_ids=["DCM-E1"],
        question_ja="警察に届け出た日時はいつですか？", if_absent="REVIEW (DCM-R1)",
    )  # fmt: skip
    resp.fields.add(
        path="qr_payment.channel", type="enum", allowed=["app", "web"], clause_ids=["DCM-S1"],
        question_ja="どの経路で支払いましたか？", if_absent="UNKNOWN",
    )  # fmt: skip
    return resp


def shown_claim() -> verdicts_pb2.VerdictEntry:
    """A claim decision as `verdicts show` reads it: the reply stored as its result."""
    from google.protobuf import json_format

    e = verdicts_pb2.VerdictEntry(
        id=CLAIM_ID,
        seq=3,
        kind="claim",
        customer_id="hnb-contract-0001",
        policy_id="HNB",
        subject_time=ts(2025, 4, 12, 1),
        recorded_at=ts(2025, 4, 20, 6, 30),
        outcome="REVIEW",
        clause_ids=["HNB-P1", "HNB-R1"],
        request_id="01a25043-7f84-7520-9a82-000000000001",
        result_json=json_format.MessageToJson(claim_reply()),
        entry_hash="9" * 64,
        prev_hash="8" * 64,
    )
    e.caller.identity = "ib-server"
    return e


def shown_posture() -> verdicts_pb2.VerdictEntry:
    """A posture verdict as `verdicts show` reads it (an instant in its compared values)."""
    import json

    result = {
        "client": {"browser": "chrome", "browser_version": "143.0.7499.40", "os": "windows",
                   "os_version": "11"},
        "checks": [
            {
                "check_id": "phishwall", "status": "UNKNOWN", "clause_ids": ["HNB-P2"],
                "compared": [{"name": "release_data_as_of", "observed": "2000-01-01T00:00:00+00:00",
                              "expected": ">= 2026-11-23T01:00:00+00:00 (login instant - grace)"}],
                "message_ja": GUIDANCE_JA,
            }
        ],
    }  # fmt: skip
    e = verdicts_pb2.VerdictEntry(
        id=POSTURE_ID,
        seq=2,
        kind="login_posture",
        customer_id="hnb-contract-0001",
        device_id="win-1",
        subject_time=ts(2026, 12, 7, 1),
        recorded_at=ts(2026, 12, 7, 1),
        outcome="NON_COMPLIANT",
        clause_ids=["HNB-P2"],
        request_id="01a25043-7f84-7520-9a82-000000000002",
        result_json=json.dumps(result, ensure_ascii=False),
        entry_hash="7" * 64,
        prev_hash="6" * 64,
    )
    e.rules.digest = "a353ecb4fb3c832d"
    return e


# ------------------------------------------- the other commands that took -o in issue 21


def import_summaries() -> list[Any]:
    """``releases import``: one product written, with a date conflict and a note."""
    from pathlib import Path

    from server.release_import import DateConflict, ImportSummary

    conflict = DateConflict(
        "stable",
        "143.0.7499.40",
        datetime(2026, 12, 2, tzinfo=UTC),
        datetime(2026, 12, 3, tzinfo=UTC),
    )
    return [
        ImportSummary(
            product="chrome",
            added=(("stable", "143.0.7499.40"),),
            unchanged=155,
            conflicts=(conflict,),
            new_as_of=datetime(2026, 12, 7, tzinfo=UTC),
            notes=("feed lists 2 channels",),
            path=Path("rules/data/releases/chrome.json"),
            written=True,
        )
    ]


def refresh_report() -> Any:
    """``releases refresh``: one source updated a product, one failed."""
    from pathlib import Path

    from server.release_refresh import ProductChange, RefreshReport, SourceOutcome

    at = datetime(2026, 12, 7, tzinfo=UTC)
    change = ProductChange("chrome", 2, 154, 0, datetime(2026, 12, 6, 14, 10, tzinfo=UTC), True)
    return RefreshReport(
        Path("rules/data"),
        (
            SourceOutcome("chrome-versionhistory", "updated", at, "200 OK", (change,)),
            SourceOutcome("mozilla", "failed", at, "timed out after 4 tries"),
        ),
    )


def checkpoints() -> list[Any]:
    from server.store.records import Checkpoint

    return [
        Checkpoint(1000, "a" * 64, 1_765_065_600_000_000, "5bca7f7b419588da", "", b"\x01" * 32,
                   "anshin.example/log\n1000\nAQEB…\n\n— anshin.example/log sig\n"),
        Checkpoint(2000, "b" * 64, 1_765_069_200_000_000, "5bca7f7b419588da", "c2lnbmF0dXJl"),
    ]  # fmt: skip


def clause_explanation() -> Any:
    """``rules explain HNB-P2``, with fixed places (the real ones move with the code)."""
    from pathlib import Path

    from rules.engine.policy import Clause, ClauseEffect
    from server.usecases.explain_clause import ClauseExplanation, Location

    clause = Clause(
        id="HNB-P2", kind="posture_required", effect=ClauseEffect.GATE,
        text_ja="(2)ウィルス対策ソフトおよびセキュリティ対策ソフト等の導入必須および"
        "最新の状態維持 … 市販されておりますウィルス対策ソフトを必ず導入し、"
        "常に最新の状態にしていただくことが補償の条件となります。",
        params={}, summary="Commercial antivirus and Phishwall Premium installed and up to date.",
    )  # fmt: skip
    return ClauseExplanation(
        clause_id="HNB-P2",
        policy="HNB@2024-02-20",
        parts=(clause,),
        rules_file=(Location(Path("rules/data/policies/hnb.toml"), 41),),
        implementations=(Location(Path("rules/engine/kinds/events.py"), 508, "posture_required"),),
        cited_by=(Location(Path("checks/antivirus.py"), 19, 'CLAUSES = ("HNB-P2", "HNB-P4")'),),
        tests=(
            Location(Path("tests/checks/test_hnb_p2_p3_checks.py"), 71, "test_hnb_p2_antivirus"),
        ),
    )
