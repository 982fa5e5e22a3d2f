"""A store whose log failed its start-up check: what it says, and how reads
keep working while every write is refused.

The store does not exit: auditors and analysts need to read what is there
(GetVerdict, QueryVerdicts, ListReviews) to find out what happened. It does
not extend the log either: appending would sign a head on top of entries the
service did not write. So the record each read normally appends
(``analyst_access``, issue 7) goes to the process log instead, one
``analyst_access_unrecorded`` line per read with who read what, and the read
goes ahead.
"""

from __future__ import annotations

import structlog

from server.store.records import LogProblem, VerdictRecord

log = structlog.get_logger("anshin.store")


def report_problem(problem: LogProblem, where: str) -> None:
    """One critical line at start-up: what was found, and what to do."""
    log.critical(
        "verdict_log_tampered",
        db=where,
        first_bad_seq=problem.seq,
        first_bad_id=problem.entry_id,
        reason=problem.reason,
        mode="read-only: every write is refused (FAILED_PRECONDITION); reads keep working",
        hint="run `anshin log verify` (with the private key) to name the first changed entry",
    )


def log_unrecorded_access(record: VerdictRecord) -> int:
    """Log an analyst's read that the read-only log cannot record; seq 0."""
    log.warning(
        "analyst_access_unrecorded",
        id=record.id,
        customer_id=record.customer_id,
        request_id=record.request_id,
        caller=record.caller,
        refers_to=record.refers_to,
        access=record.result.decode(errors="replace"),
        request=record.inputs.decode(errors="replace"),
        reason="the verdict log is read-only (changed outside the service)",
    )
    return 0
