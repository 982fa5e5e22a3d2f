"""Domain enums and values ⇄ anshin.v1.common messages, shared by every converter."""

from __future__ import annotations

from anshin.v1 import common_pb2
from checks.model import CheckStatus, Compared, Precision

CHECK_STATUS = {
    CheckStatus.PASS: common_pb2.CHECK_STATUS_PASS,
    CheckStatus.WARN: common_pb2.CHECK_STATUS_WARN,
    CheckStatus.FAIL: common_pb2.CHECK_STATUS_FAIL,
    CheckStatus.UNKNOWN: common_pb2.CHECK_STATUS_UNKNOWN,
    CheckStatus.NOT_APPLICABLE: common_pb2.CHECK_STATUS_NOT_APPLICABLE,
}
PRECISION = {
    Precision.EXACT: common_pb2.PRECISION_EXACT,
    Precision.MAJOR_MINOR: common_pb2.PRECISION_MAJOR_MINOR,
    Precision.MAJOR_ONLY: common_pb2.PRECISION_MAJOR_ONLY,
    Precision.FROZEN: common_pb2.PRECISION_FROZEN,
    Precision.INFERRED: common_pb2.PRECISION_INFERRED,
    Precision.ABSENT: common_pb2.PRECISION_ABSENT,
}


def compared_pb(values: tuple[Compared, ...]) -> list[common_pb2.ComparedValue]:
    return [
        common_pb2.ComparedValue(
            name=c.name, observed=c.observed, expected=c.expected, precision=PRECISION[c.precision]
        )
        for c in values
    ]
