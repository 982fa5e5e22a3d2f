"""The roles and the one table of which roles each RPC admits.

Every RPC the server can serve is a key of :data:`ADMITTED`; a method that is
not is refused to every authenticated caller (fail closed), and the test
suite enumerates the proto descriptors so that a new RPC cannot be added
without a row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from server.security.identity import LOCAL_ROLE


class Role(StrEnum):
    IB_SERVER = "ib_server"  # a bank's internet-banking server (login posture)
    PAYMENT_APP = "payment_app"  # a QR-payment service reporting events
    SECURITY_VENDOR = "security_vendor"  # a security-app / dark-web-monitor vendor
    ANALYST = "analyst"  # a claims analyst: claims, log queries, review resolution
    OPERATOR = "operator"  # runs the service: reloads, status, read-only log access
    AUDITOR = "auditor"  # reads the log, the access log included; changes nothing


ALL_ROLES: Final = frozenset(Role)


class Open:
    """Admitted without authentication (health checks, reflection)."""

    def __repr__(self) -> str:
        return "OPEN"


OPEN: Final = Open()

_IB = Role.IB_SERVER
_PAY = Role.PAYMENT_APP
_VENDOR = Role.SECURITY_VENDOR
_ANALYST = Role.ANALYST
_OPS = Role.OPERATOR
_AUDIT = Role.AUDITOR

# Full method name -> the roles it admits. Reads about customers are for the
# analysts and for the parties that report those facts; writes are for the
# party that witnessed the fact. Operators run the service: they reload
# rules and read the log, and can neither decide nor resolve anything.
# Auditors read the log, and only they read the access log (READERS_OF_KIND).
ADMITTED: Final[Mapping[str, frozenset[Role] | Open]] = {
    # PostureService: IB servers at every login; analysts read posture history.
    "/anshin.v1.PostureService/CheckLogin": frozenset({_IB}),
    "/anshin.v1.PostureService/GetPosture": frozenset({_IB, _ANALYST}),
    # EventService: facts from the party that saw them.
    "/anshin.v1.EventService/ReportRegistration": frozenset({_PAY}),
    "/anshin.v1.EventService/ReportPaymentLogin": frozenset({_PAY}),
    "/anshin.v1.EventService/ReportActivation": frozenset({_VENDOR}),
    "/anshin.v1.EventService/ReportMonitoringEvent": frozenset({_VENDOR}),
    "/anshin.v1.EventService/ReportEnrolment": frozenset({_IB, _PAY, _VENDOR}),
    "/anshin.v1.EventService/IngestEvents": frozenset({_PAY, _VENDOR}),
    "/anshin.v1.EventService/GetCoverage": frozenset({_IB, _PAY, _VENDOR, _ANALYST}),
    "/anshin.v1.EventService/GetSecurityStandard": frozenset({_PAY, _ANALYST}),
    "/anshin.v1.EventService/GetAlerts": frozenset({_VENDOR, _ANALYST}),
    # ClaimService: the bank's claim intake (through its IB server identity)
    # and analysts.
    "/anshin.v1.ClaimService/EvaluateClaim": frozenset({_IB, _ANALYST}),
    "/anshin.v1.ClaimService/GetClaimForm": frozenset({_IB, _ANALYST}),
    # VerdictLogService: analysts; operators and auditors may read, never resolve.
    "/anshin.v1.VerdictLogService/QueryVerdicts": frozenset({_ANALYST, _OPS, _AUDIT}),
    "/anshin.v1.VerdictLogService/GetVerdict": frozenset({_ANALYST, _OPS, _AUDIT}),
    "/anshin.v1.VerdictLogService/ListReviews": frozenset({_ANALYST, _OPS, _AUDIT}),
    "/anshin.v1.VerdictLogService/ResolveReview": frozenset({_ANALYST}),
    # OperatorService: operators only.
    "/anshin.v1.OperatorService/ReloadRules": frozenset({_OPS}),
    "/anshin.v1.OperatorService/GetStatus": frozenset({_OPS}),
    # Infrastructure: load balancers and grpcurl, no credentials needed.
    "/grpc.health.v1.Health/Check": OPEN,
    "/grpc.health.v1.Health/List": OPEN,
    "/grpc.health.v1.Health/Watch": OPEN,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": OPEN,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": OPEN,
}


def admitted(method: str) -> frozenset[Role] | Open:
    """The roles ``method`` admits; no role at all for a method not in the table."""
    return ADMITTED.get(method, frozenset())


# Verdict-log kinds that only some of the roles reading the log may read (by
# QueryVerdicts or GetVerdict). The access log (``analyst_access``: who read
# what, when) is an audit record of the readers themselves: an analyst or an
# operator who could read it could learn whether their own browsing was
# noticed and watch who looks into them. Reading it is the auditor's work.
READERS_OF_KIND: Final[Mapping[str, frozenset[Role]]] = {
    "analyst_access": frozenset({_AUDIT}),
}


def kind_refusal(role: str, kind: str | None) -> str | None:
    """Why a caller of ``role`` may not read entries of ``kind``; None if it may.

    ``role`` is the caller's role as recorded; the role of plaintext loopback
    serving without an auth config (every role, the development mode) reads all.
    """
    readers = READERS_OF_KIND.get(kind or "")
    if readers is None or role == LOCAL_ROLE or role in {r.value for r in readers}:
        return None
    names = ", ".join(sorted(r.value for r in readers))
    return (
        f"they are the access log (who read what), read by the role {names} only; "
        "the readers it records may not read it"
    )
