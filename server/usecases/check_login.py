"""Judge a login's security posture (HNB-P1..P4), record the verdict, answer.

The decision itself is ``checks.posture.evaluate_login`` (pure); this use
case adds the rules version, the verdict log entry (durable before the
reply) and the throttled "release data stale" warning. ``latest_postures``
is the read side (GetPosture); ``evaluate_unrecorded`` the same verdict
in-process, recorded nowhere (``anshin check-login --local``).

The reply is assembled from memoised encoded fields (``wire.posture``): this
is the hottest path of the service (docs/benchmarks.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import uuid_utils

from anshin.v1 import posture_pb2
from checks.model import LoginFacts
from checks.posture import evaluate_login
from rules.load import RuleSet
from server.clock import to_us
from server.log_throttle import LogThrottle
from server.logs import emit, get_logger
from server.request_context import current_request
from server.ruleset_holder import RulesHolder, rules_version_json
from server.store.ports import VerdictLog
from server.store.records import VerdictRecord
from server.wire import posture as wire

log = get_logger("anshin.posture")
# The health status (anshin.release_data) and the metrics say "stale" at all
# times; the log says it once a minute per set of affected checks.
STALE_LOG_INTERVAL = 60.0


class CheckLogin:
    def __init__(self, store: VerdictLog, rules: RulesHolder) -> None:
        self._store = store
        self._rules = rules
        self._stale_log = LogThrottle(STALE_LOG_INTERVAL)
        # (id(rules), matrix revision, products) -> (rules, JSON for the log, encoded
        # reply field). The entry holds the RuleSet, so its id is not reused while cached.
        self._rules_versions: dict[tuple[object, ...], tuple[RuleSet, bytes, bytes]] = {}

    def _rules_version(
        self, rules: RuleSet, revision: str | None, products: tuple[str, ...]
    ) -> tuple[bytes, bytes]:
        """The rules version of a verdict: a pure function of these, so kept per key."""
        key = (id(rules), revision, products)
        hit = self._rules_versions.get(key)
        if hit is not None and hit[0] is rules:
            return hit[1], hit[2]
        raw = rules_version_json(rules, revision, products)
        field = wire.encoded_rules(wire.rules_version_pb(raw))
        if len(self._rules_versions) >= 256:
            self._rules_versions.clear()
        self._rules_versions[key] = (rules, raw, field)
        return raw, field

    async def __call__(self, facts: LoginFacts, now: datetime) -> posture_pb2.CheckLoginResponse:
        """The verdict on ``facts`` (validated at ``now``), recorded before it is returned."""
        rules = self._rules.current
        result = evaluate_login(facts, rules.posture)
        revision = result.matrix_revision.id if result.matrix_revision else None
        rules_json, rules_field = self._rules_version(rules, revision, result.release_products)
        verdict_id = str(uuid_utils.uuid7())
        recorded_us = to_us(now)
        logged_result, reply = wire.check_login_reply(verdict_id, result, rules_field, recorded_us)
        ctx = current_request()
        await self._store.append_verdict(
            VerdictRecord(
                id=verdict_id,
                kind="login_posture",
                customer_id=facts.customer_id,
                device_id=facts.device_id,
                subject_us=to_us(facts.login_time),
                recorded_us=recorded_us,
                rules_digest=rules.digest,
                rules=rules_json,
                outcome=result.verdict.value,
                clause_ids=result.clause_ids,
                inputs=orjson.dumps(wire.inputs_for_log(facts)),
                result=logged_result,
                request_id=ctx.request_id,
                caller=ctx.caller,
            )
        )
        stale = tuple(c.check_id for c in result.checks if c.reason == "release_data_stale")
        if stale and (held := self._stale_log.admit(stale)) is not None:
            emit(
                log,
                "warning",
                "release_data_stale",
                checks=list(stale),
                verdict_id=verdict_id,
                held_back=held,
                hint="run `anshin releases import` with current vendor feeds",
            )
        return reply

    async def latest_postures(
        self, customer: str, as_of: datetime, lookback: timedelta | None
    ) -> list[VerdictRecord]:
        """The last verdict of each of the customer's devices within ``lookback``
        (default: the rules' own) before ``as_of``."""
        if lookback is None:
            lookback = self._rules.current.posture.settings.lookback
        return await self._store.latest_posture_by_device(
            customer, to_us(as_of - lookback), to_us(as_of)
        )


def evaluate_unrecorded(
    request: posture_pb2.CheckLoginRequest, rules: RuleSet, now: datetime
) -> posture_pb2.CheckLoginResponse:
    """The verdict on ``request`` under ``rules``, in-process; recorded nowhere."""
    facts = wire.login_facts(request, now)
    result = evaluate_login(facts, rules.posture)
    revision = result.matrix_revision.id if result.matrix_revision else None
    return wire.unrecorded_reply(
        result, rules_version_json(rules, revision, result.release_products)
    )
