"""Errors → gRPC status, in one place.

Every error a call ends with passes here (``server/api/interceptors.py``):
a family of ``server.errors`` (or one ``errors.lift`` maps onto it) becomes
its status code, its message and its ``google.rpc`` details — BadRequest
field violations (AIP-193), PreconditionFailure, RetryInfo (AIP-194).
Anything else is a fault of the server: INTERNAL, without internals.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    Violation,
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
    message = printable(err.wire_message or str(err))
    if isinstance(err, InvalidArgument):
        return invalid_argument(err.violations)
    if isinstance(err, FailedPrecondition) and err.violations:
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=printable(v.type),
                    subject=printable(v.subject),
                    description=printable(v.description),
                )
                for v in err.violations
            ]
        )
        return Answer(grpc.StatusCode.FAILED_PRECONDITION, message, (failure,))
    if isinstance(err, AccessDenied):
        code = grpc.StatusCode[err.status_name]
        if err.retry_after is None:
            return Answer(code, printable(err.message))
        seconds = max(err.retry_after, 0.001)
        delay = duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
        return Answer(
            code, printable(err.message), (error_details_pb2.RetryInfo(retry_delay=delay),)
        )
    for family, code in _CODES:
        if isinstance(err, family):
            return Answer(code, message)
    return INTERNAL  # ConfigError: the server's own state, nothing the caller can fix


# An INVALID_ARGUMENT answer stays readable under a default client's 8 KiB
# metadata limit whatever the request (the message, percent-encoded, and the
# details, base64-encoded, travel as trailers): at most MAX_VIOLATIONS
# violations and DETAILS_BUDGET bytes of their text in the details, each part
# cut short, then one more entry saying how many were left out; the message
# lists the first few within MAX_MESSAGE_BYTES and "and K more".
MAX_VIOLATIONS = 20
DETAILS_BUDGET = 3000
MAX_FIELD_BYTES = 128
MAX_DESCRIPTION_BYTES = 512
MAX_MESSAGE_BYTES = 640


def printable(text: str) -> str:
    """``text`` with every character that is not printable — controls, bidi
    and other format characters (U+202E would reverse the rest of a log
    line or a client's error display), line and paragraph separators, spaces
    other than U+0020, surrogates, private-use and unassigned code points —
    written as an escape (``\\u202e``). Applied to every message, field path
    and description a caller is told: a map key is echoed in a field path."""
    if text.isprintable():
        return text
    return "".join(
        char
        if char.isprintable()
        else f"\\u{ord(char):04x}"
        if ord(char) <= 0xFFFF
        else f"\\U{ord(char):08x}"
        for char in text
    )


def _cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` bytes of UTF-8, "…" marking a cut."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def invalid_argument(violations: Sequence[Violation]) -> Answer:
    """INVALID_ARGUMENT with BadRequest details (AIP-193), bounded in size."""
    shown: list[error_details_pb2.BadRequest.FieldViolation] = []
    budget = DETAILS_BUDGET
    for v in violations[:MAX_VIOLATIONS]:
        field = _cut(printable(v.field), MAX_FIELD_BYTES)
        description = _cut(printable(v.description), MAX_DESCRIPTION_BYTES)
        size = len(field.encode()) + len(description.encode())
        if shown and size > budget:
            break
        budget -= size
        shown.append(
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
        )
    hidden = len(violations) - len(shown)
    if hidden:
        shown.append(
            error_details_pb2.BadRequest.FieldViolation(
                field="", description=f"and {hidden} more violations not shown"
            )
        )
    message = "invalid request: "
    listed = 0
    for v in shown[: len(shown) - 1] if hidden else shown:
        part = ("; " if listed else "") + f"{v.field}: {v.description}"
        if listed and len((message + part).encode()) > MAX_MESSAGE_BYTES - 24:
            break
        message += part
        listed += 1
    message = _cut(message, MAX_MESSAGE_BYTES - 24)
    if listed < len(violations):
        message += f"; and {len(violations) - listed} more"
    bad = error_details_pb2.BadRequest(field_violations=shown)
    return Answer(grpc.StatusCode.INVALID_ARGUMENT, message, (bad,))


async def abort(context: grpc.aio.ServicerContext, answer: Answer) -> None:
    """End the call with ``answer`` (raises grpc.aio's AbortError)."""
    if answer.details:
        await context.abort_with_status(rpc_status.to_status(answer.status()))
    await context.abort(answer.code, answer.message)
