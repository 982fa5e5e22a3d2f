"""Errors → gRPC status, in one place.

Every error a call ends with passes here (``server/api/interceptors.py``):
a family of ``server.errors`` (or one ``errors.lift`` maps onto it) becomes
its status code, its message and its ``google.rpc`` details — BadRequest
field violations (AIP-193), PreconditionFailure, RetryInfo (AIP-194).
Anything else is a fault of the server: INTERNAL, without internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.errors import (
    AccessDenied,
    AlreadyExists,
    AnshinError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    lift,
)

_CODES: tuple[tuple[type[AnshinError], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the caller is told."""

    code: grpc.StatusCode
    message: str
    details: tuple[Message, ...] = ()
    expected: bool = True  # False: a server fault (logged with its traceback)

    def status(self) -> status_pb2.Status:
        packed = []
        for detail in self.details:
            any_ = any_pb2.Any()
            any_.Pack(detail)
            packed.append(any_)
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=packed)

    def trailing(self) -> tuple[tuple[str, bytes], ...]:
        """The ``grpc-status-details-bin`` trailer (none without details)."""
        if not self.details:
            return ()
        return (("grpc-status-details-bin", self.status().SerializeToString()),)


INTERNAL = Answer(grpc.StatusCode.INTERNAL, "internal error", expected=False)


def answer(exc: BaseException) -> Answer:
    err = lift(exc)
    if err is None:
        if isinstance(exc, NotImplementedError):  # e.g. grpc.aio's health servicer has no List
            return Answer(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
        return INTERNAL
    message = err.wire_message or str(err)
    if isinstance(err, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in err.violations
            ]
        )
        return Answer(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {err}", (bad,))
    if isinstance(err, FailedPrecondition) and err.violations:
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=v.type, subject=v.subject, description=v.description
                )
                for v in err.violations
            ]
        )
        return Answer(grpc.StatusCode.FAILED_PRECONDITION, message, (failure,))
    if isinstance(err, AccessDenied):
        code = grpc.StatusCode[err.status_name]
        if err.retry_after is None:
            return Answer(code, err.message)
        seconds = max(err.retry_after, 0.001)
        delay = duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
        return Answer(code, err.message, (error_details_pb2.RetryInfo(retry_delay=delay),))
    for family, code in _CODES:
        if isinstance(err, family):
            return Answer(code, message)
    return INTERNAL  # ConfigError: the server's own state, nothing the caller can fix


async def abort(context: grpc.aio.ServicerContext, answer: Answer) -> None:
    """End the call with ``answer`` (raises grpc.aio's AbortError)."""
    if answer.details:
        await context.abort_with_status(rpc_status.to_status(answer.status()))
    await context.abort(answer.code, answer.message)
