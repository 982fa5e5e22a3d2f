"""Verdict-log rows: the one INSERT every backend and every writer uses."""

from __future__ import annotations

from typing import Any

import orjson

from server.store.base import VerdictRecord

INSERT_VERDICT = (
    "INSERT INTO verdicts (id, kind, customer_id, device_id, subject_us, recorded_us, "
    "rules_digest, rules, outcome, clause_ids, inputs, result, request_id, caller) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def verdict_params(record: VerdictRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.kind,
        record.customer_id,
        record.device_id,
        record.subject_us,
        record.recorded_us,
        record.rules_digest,
        record.rules.decode(),
        record.outcome,
        orjson.dumps(list(record.clause_ids)).decode(),
        record.inputs.decode(),
        record.result.decode(),
        record.request_id,
        record.caller,
    )
