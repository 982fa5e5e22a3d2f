"""Reload the rules: on SIGHUP and ``OperatorService/ReloadRules``.

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

from rules.load import RuleSet, load_rules
from server import metrics
from server.clock import Clock, system_clock
from server.errors import FailedPrecondition, PreconditionViolation
from server.logs import get_logger
from server.ruleset_holder import RulesHolder

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

    async def reload_by_request(self, *, validate_only: bool) -> ReloadOutcome:
        """A reload a caller asked for (OperatorService/ReloadRules); ``RulesRefused``
        when the directory does not load. Under ``serve --workers N`` the parent
        is told, and forwards SIGHUP to every worker."""
        outcome = await self.reload("rpc", validate_only=validate_only)
        if not outcome.ok:
            raise RulesRefused.of(outcome, str(self._holder.current.directory))
        if outcome.changed and os.environ.get("ANSHIN_WORKER") is not None:
            os.kill(os.getppid(), signal.SIGHUP)
        return outcome


class RulesRefused(FailedPrecondition):
    """A reload asked for by a caller was refused: the last good rules still serve."""

    @classmethod
    def of(cls, outcome: ReloadOutcome, directory: str) -> RulesRefused:
        return cls(
            f"rules in {directory} refused, still serving {outcome.digest}: {outcome.error}",
            [PreconditionViolation("RULES_INVALID", directory, outcome.error)],
        )


def release_data(rules: RuleSet) -> list[str]:
    """``product=as_of`` of each product's release data."""
    return [f"{p}={at.isoformat()}" for p, at in sorted(rules.release_as_of().items())]
