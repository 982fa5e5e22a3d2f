"""Verdict-log rows: the one INSERT every backend and every writer uses."""

from __future__ import annotations

from typing import Any

import orjson

from server.store.base import VerdictRecord

# The column list alone: the SQLite writer appends several VALUES groups to it
# to insert a batch of verdicts in one statement.
INSERT_VERDICT_COLUMNS = (
    "INSERT INTO verdicts (id, kind, customer_id, device_id, subject_us, recorded_us, "
    "rules_digest, rules, outcome, clause_ids, inputs, result, request_id, caller)"
)
INSERT_VERDICT = f"{INSERT_VERDICT_COLUMNS} VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


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
