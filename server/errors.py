"""Errors as google.rpc.Status with BadRequest field violations (AIP-193)."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    description: str


class ValidationError(Exception):
    """Bad input: every violation found, so the caller can fix all at once."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class ConflictError(Exception):
    """ALREADY_EXISTS: e.g. a client event id reused with another payload."""


class NotFoundError(Exception):
    """NOT_FOUND: the named entity does not exist."""


class Violations:
    """Collects violations while converting a request."""

    def __init__(self) -> None:
        self.items: list[Violation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(Violation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items)


def bad_request_status(err: ValidationError) -> status_pb2.Status:
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in err.violations
        ]
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    return status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT,
        message=f"invalid request: {err}",
        details=[packed],
    )
