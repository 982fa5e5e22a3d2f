"""The CheckLogin reply and its log form are the same whether they come from
the per-combination memo or are assembled afresh (server/wire/posture.py)."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from anshin.v1 import common_pb2, posture_pb2
from checks.posture import evaluate_login
from rules.load import load_rules
from server.wire import posture as conv
from tests.service.test_check_login_table import CASES, request_for


def _fresh(verdict_id: str, result, rules_field: bytes, recorded_us: int):  # type: ignore[no-untyped-def]
    """The reply as result_dict describes it, built field by field."""
    d = conv.result_dict(result)
    resp = posture_pb2.CheckLoginResponse(
        verdict_id=verdict_id,
        verdict=conv.verdict_pb(d["verdict"]),
        client=conv.client_pb(d["client"]),
        checks=[conv.check_pb(c) for c in d["checks"]],
    )
    resp.MergeFromString(rules_field)
    resp.recorded_at.FromMicroseconds(recorded_us)
    return orjson.dumps(d), resp


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_memoised_reply_is_the_fresh_one(case) -> None:  # type: ignore[no-untyped-def]
    rules = load_rules(None)
    rules_field = conv.encoded_rules(common_pb2.RulesVersion(digest=rules.digest))
    results = []
    for k in range(3):  # later logins of the same client hit the memo
        req = request_for(case)
        req.login_time.FromDatetime(case.at + timedelta(minutes=k))
        facts = conv.login_facts(req, case.at + timedelta(hours=1))
        result = evaluate_login(facts, rules.posture)
        logged, resp = conv.check_login_reply(f"v-{k}", result, rules_field, 1_000 + k)
        want_logged, want = _fresh(f"v-{k}", result, rules_field, 1_000 + k)
        assert orjson.loads(logged) == orjson.loads(want_logged)
        assert resp == want
        results.append(resp)
    # Each reply carries its own verdict id and instant, never a cached one.
    assert [r.verdict_id for r in results] == ["v-0", "v-1", "v-2"]
    assert [r.recorded_at.ToMicroseconds() for r in results] == [1000, 1001, 1002]
