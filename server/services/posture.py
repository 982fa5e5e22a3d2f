"""anshin.v1.PostureService: thin servicer; the decision lives in checks/."""

from __future__ import annotations

from datetime import timedelta

import orjson
import uuid_utils
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import posture_pb2, posture_pb2_grpc
from checks.posture import evaluate_login
from rules.load import RuleSet
from server import validate
from server.clock import Clock, to_us
from server.convert import posture as conv
from server.errors import Violations
from server.log_throttle import LogThrottle
from server.logs import emit, get_logger
from server.request_context import current_request
from server.ruleset_holder import RulesHolder, rules_version_json
from server.store import Store, VerdictRecord

log = get_logger("anshin.posture")
# The health status (anshin.release_data) and the metrics say "stale" at all
# times; the log says it once a minute per set of affected checks.
STALE_LOG_INTERVAL = 60.0


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


class PostureService(posture_pb2_grpc.PostureServiceServicer):
    def __init__(self, store: Store, rules: RulesHolder, clock: Clock) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock
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
        field = conv.encoded_rules(conv.rules_version_pb(raw))
        if len(self._rules_versions) >= 256:
            self._rules_versions.clear()
        self._rules_versions[key] = (rules, raw, field)
        return raw, field

    async def CheckLogin(
        self, request: posture_pb2.CheckLoginRequest, context: object
    ) -> posture_pb2.CheckLoginResponse:
        now = self._clock()
        facts = conv.login_facts(request, now)
        rules = self._rules.current
        result = evaluate_login(facts, rules.posture)
        revision = result.matrix_revision.id if result.matrix_revision else None
        rules_json, rules_field = self._rules_version(rules, revision, result.release_products)
        verdict_id = str(uuid_utils.uuid7())
        recorded_us = to_us(now)
        logged_result, reply = conv.check_login_reply(verdict_id, result, rules_field, recorded_us)
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
                inputs=orjson.dumps(conv.inputs_for_log(facts)),
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

    async def GetPosture(
        self, request: posture_pb2.GetPostureRequest, context: object
    ) -> posture_pb2.GetPostureResponse:
        now = self._clock()
        v = Violations()
        customer = validate.identifier(v, "customer_id", request.customer_id)
        as_of = (
            validate.instant(
                v, "as_of", request.as_of, request.HasField("as_of"), required=False, now=now
            )
            or now
        )
        if request.lookback_days < 0 or request.lookback_days > 3660:
            v.add("lookback_days", "must be between 0 and 3660")
        v.raise_if_any()
        assert customer is not None
        lookback = (
            timedelta(days=request.lookback_days)
            if request.lookback_days
            else self._rules.current.posture.settings.lookback
        )
        records = await self._store.latest_posture_by_device(
            customer, to_us(as_of - lookback), to_us(as_of)
        )
        devices = []
        for r in records:
            d = orjson.loads(r.result)
            devices.append(
                posture_pb2.DevicePosture(
                    device_id=r.device_id or "",
                    verdict_id=r.id,
                    login_time=_ts(r.subject_us),
                    verdict=conv.verdict_pb(d["verdict"]),
                    checks=[conv.check_pb(c) for c in d["checks"]],
                )
            )
        return posture_pb2.GetPostureResponse(devices=devices)
