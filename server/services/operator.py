"""anshin.v1.OperatorService and the rules reload it shares with SIGHUP.

A reload loads the configured rules directory again in a worker thread
(the event loop keeps serving), validates it exactly as start-up does, and
only then swaps it into the :class:`RulesHolder` in one assignment. A
request reads ``holder.current`` once, so it runs wholly on the old or
wholly on the new rules, and none is dropped. A directory that does not load
is refused: the error is logged, counted and returned, and the last good
rules keep answering.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import grpc
from google.protobuf import any_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from anshin.v1 import common_pb2, operator_pb2, operator_pb2_grpc
from rules.load import RuleSet, load_rules
from server import metrics
from server.clock import Clock, system_clock
from server.logs import get_logger
from server.ruleset_holder import RulesHolder
from server.security.identity import current_caller

log = get_logger("anshin.operator")


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    at: datetime
    trigger: str
    ok: bool
    previous_digest: str
    digest: str
    error: str = ""
    rules: RuleSet | None = None

    @property
    def changed(self) -> bool:
        return self.ok and self.digest != self.previous_digest


def _release_data(rules: RuleSet) -> list[str]:
    return [f"{p}={at.isoformat()}" for p, at in sorted(rules.release_as_of().items())]


class RulesReloader:
    """Load, validate, swap; one reload at a time; the last good rules win."""

    def __init__(
        self,
        holder: RulesHolder,
        *,
        clock: Clock = system_clock,
        after_swap: Callable[[RuleSet], Awaitable[None]] | None = None,
        loader: Callable[[object], RuleSet] = load_rules,  # type: ignore[assignment]
    ) -> None:
        self._holder = holder
        self._clock = clock
        self._after_swap = after_swap
        self._loader = loader
        self._lock = asyncio.Lock()
        self.loaded_at = clock()
        self.last: ReloadOutcome | None = None
        self.failures = 0
        metrics.set_rules_digest(holder.current.digest)

    async def reload(self, trigger: str, *, validate_only: bool = False) -> ReloadOutcome:
        async with self._lock:
            old = self._holder.current
            at = self._clock()
            try:
                new = await asyncio.to_thread(self._loader, old.directory)
            except Exception as exc:  # any failure to load refuses the new version
                error = f"{type(exc).__name__}: {exc}"
                outcome = ReloadOutcome(at, trigger, False, old.digest, old.digest, error)
                self.failures += 1
                metrics.RULES_RELOADS.labels("refused").inc()
                metrics.RULES_RELOAD_FAILURES.inc()
                log.error(
                    "rules_reload_refused",
                    trigger=trigger,
                    directory=str(old.directory),
                    error=error,
                    kept_digest=old.digest,
                )
                self.last = outcome
                return outcome
            outcome = ReloadOutcome(at, trigger, True, old.digest, new.digest, rules=new)
            if validate_only:
                log.info("rules_validated", trigger=trigger, digest=new.digest)
                return outcome
            if new.digest != old.digest:
                self._holder.replace(new)
                self.loaded_at = at
                metrics.set_rules_digest(new.digest)
                if self._after_swap is not None:
                    await self._after_swap(new)
            metrics.RULES_RELOADS.labels("ok" if outcome.changed else "unchanged").inc()
            log.info(
                "rules_reloaded",
                trigger=trigger,
                directory=str(new.directory),
                previous_digest=old.digest,
                digest=new.digest,
                changed=outcome.changed,
            )
            self.last = outcome
            return outcome


def _ts(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


def _refused_status(outcome: ReloadOutcome, directory: str) -> status_pb2.Status:
    detail = error_details_pb2.PreconditionFailure(
        violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type="RULES_INVALID", subject=directory, description=outcome.error
            )
        ]
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    return status_pb2.Status(
        code=code_pb2.FAILED_PRECONDITION,
        message=(f"rules in {directory} refused, still serving {outcome.digest}: {outcome.error}"),
        details=[packed],
    )


class OperatorService(operator_pb2_grpc.OperatorServiceServicer):
    def __init__(
        self,
        holder: RulesHolder,
        reloader: RulesReloader,
        *,
        stale_products: Callable[[], list[str]],
        schema_version: Callable[[], int],
    ) -> None:
        self._holder = holder
        self._reloader = reloader
        self._stale_products = stale_products
        self._schema_version = schema_version

    async def ReloadRules(
        self, request: operator_pb2.ReloadRulesRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ReloadRulesResponse:
        outcome = await self._reloader.reload("rpc", validate_only=request.validate_only)
        directory = str(self._holder.current.directory)
        if not outcome.ok:
            await context.abort_with_status(
                rpc_status.to_status(_refused_status(outcome, directory))
            )
        if outcome.changed and os.environ.get("ANSHIN_WORKER") is not None:
            # `serve --workers N`: the parent forwards SIGHUP to every worker.
            os.kill(os.getppid(), signal.SIGHUP)
        rules = outcome.rules or self._holder.current
        return operator_pb2.ReloadRulesResponse(
            previous_digest=outcome.previous_digest,
            digest=outcome.digest,
            changed=outcome.changed and not request.validate_only,
            directory=str(rules.directory),
            release_data=_release_data(rules),
            loaded_at=_ts(outcome.at),
        )

    async def GetStatus(
        self, request: operator_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.GetStatusResponse:
        rules = self._holder.current
        caller = current_caller()
        resp = operator_pb2.GetStatusResponse(
            rules_digest=rules.digest,
            rules_directory=str(rules.directory),
            rules_loaded_at=_ts(self._reloader.loaded_at),
            release_data=_release_data(rules),
            stale_products=self._stale_products(),
            reload_failures=self._reloader.failures,
            pid=os.getpid(),
            caller=common_pb2.Caller(identity=caller.identity, role=caller.role),
            schema_version=self._schema_version(),
        )
        last = self._reloader.last
        if last is not None:
            resp.last_reload.CopyFrom(
                operator_pb2.ReloadAttempt(
                    at=_ts(last.at),
                    trigger=last.trigger,
                    ok=last.ok,
                    error=last.error,
                    digest=last.digest,
                )
            )
        return resp
