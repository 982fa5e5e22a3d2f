"""CheckLogin: protobuf request ⇄ domain values, and what goes in the log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, posture_pb2
from checks.model import (
    AntivirusFacts,
    CheckOutcome,
    CheckStatus,
    ClientHints,
    ClientKind,
    LoginFacts,
    ParsedClient,
    PhishwallFacts,
    Precision,
    TokenStatus,
    Verdict,
)
from checks.posture import PostureResult
from server.errors import Violations
from server.store.records import VerdictRecord
from server.wire import validate
from server.wire.common import CHECK_STATUS, PRECISION

USER_AGENT_MAX_BYTES = 4096
HINT_MAX_BYTES = 1024

TOKEN_STATUS = {
    posture_pb2.TOKEN_STATUS_ACTIVE: TokenStatus.ACTIVE,
    posture_pb2.TOKEN_STATUS_REPORTED_LOST: TokenStatus.REPORTED_LOST,
    posture_pb2.TOKEN_STATUS_NOT_ISSUED: TokenStatus.NOT_ISSUED,
    posture_pb2.TOKEN_STATUS_SUSPENDED: TokenStatus.SUSPENDED,
    posture_pb2.TOKEN_STATUS_UNKNOWN: TokenStatus.UNKNOWN,
}
VERDICT = {
    Verdict.COMPLIANT: posture_pb2.POSTURE_VERDICT_COMPLIANT,
    Verdict.NON_COMPLIANT: posture_pb2.POSTURE_VERDICT_NON_COMPLIANT,
    Verdict.UNKNOWN: posture_pb2.POSTURE_VERDICT_UNKNOWN,
}
KIND = {
    ClientKind.BROWSER: posture_pb2.ClientDescription.KIND_BROWSER,
    ClientKind.IN_APP_BROWSER: posture_pb2.ClientDescription.KIND_IN_APP_BROWSER,
    ClientKind.BOT: posture_pb2.ClientDescription.KIND_BOT,
    ClientKind.UNRECOGNISED: posture_pb2.ClientDescription.KIND_UNRECOGNISED,
}


_HINT_FIELDS = tuple(
    (name, f"client_hints.{name}")
    for name in (
        "sec_ch_ua",
        "full_version_list",
        "platform",
        "platform_version",
        "mobile",
        "model",
    )
)


def login_facts(req: posture_pb2.CheckLoginRequest, now: datetime) -> LoginFacts:
    """Validate and convert; raises ValidationError listing every bad field."""
    v = Violations()
    customer = validate.identifier(v, "customer_id", req.customer_id)
    device = validate.identifier(v, "device_id", req.device_id)
    login_time = validate.instant(
        v, "login_time", req.login_time, req.HasField("login_time"), required=True, now=now
    )
    ua = validate.text(
        v, "user_agent", req.user_agent, required=True, max_bytes=USER_AGENT_MAX_BYTES
    )
    token = validate.enum(v, "token_status", req.token_status, TOKEN_STATUS)

    hints = None
    if req.HasField("client_hints"):
        h = req.client_hints
        values = []
        for name, path in _HINT_FIELDS:
            value = getattr(h, name)
            if value:  # an empty optional header converts to "" without a check
                value = (
                    validate.text(v, path, value, required=False, max_bytes=HINT_MAX_BYTES) or ""
                )
            values.append(value)
        hints = ClientHints(*values)

    antivirus = None
    if req.HasField("antivirus"):
        a = req.antivirus
        product = (
            validate.text(v, "antivirus.product", a.product, required=False, max_bytes=256) or ""
        )
        updated = validate.instant(
            v,
            "antivirus.signatures_updated_at",
            a.signatures_updated_at,
            a.HasField("signatures_updated_at"),
            required=False,
            now=now,
        )
        state = a.wsc_product_state if a.HasField("wsc_product_state") else None
        if state is not None and state > 0xFFFFFF:
            v.add("antivirus.wsc_product_state", "not a Security Center productState (> 0xFFFFFF)")
        antivirus = AntivirusFacts(
            product, a.running if a.HasField("running") else None, updated, state
        )

    phishwall = None
    if req.HasField("phishwall"):
        p = req.phishwall
        phishwall = PhishwallFacts(
            p.installed if p.HasField("installed") else None,
            validate.version(v, "phishwall.client_version", p.client_version) or "",
            validate.version(v, "phishwall.extension_version", p.extension_version) or "",
        )

    touch = req.max_touch_points if req.HasField("max_touch_points") else None
    if touch is not None and not 0 <= touch <= 256:
        v.add("max_touch_points", "must be between 0 and 256")
    v.raise_if_any()
    assert customer and device and login_time and ua and token is not None
    return LoginFacts(customer, device, login_time, ua, hints, antivirus, phishwall, token, touch)


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def inputs_for_log(f: LoginFacts) -> dict[str, Any]:
    """What the log keeps of the request. Nothing here is secret, so nothing
    is erased; the list is kept so auditors can see that (OPA-style)."""
    return {
        "customer_id": f.customer_id,
        "device_id": f.device_id,
        "login_time": f.login_time.isoformat(),
        "user_agent": f.user_agent,
        "client_hints": None
        if f.hints is None
        else {
            "sec_ch_ua": f.hints.sec_ch_ua,
            "full_version_list": f.hints.full_version_list,
            "platform": f.hints.platform,
            "platform_version": f.hints.platform_version,
            "mobile": f.hints.mobile,
            "model": f.hints.model,
        },
        "antivirus": None
        if f.antivirus is None
        else {
            "product": f.antivirus.product,
            "running": f.antivirus.running,
            "signatures_updated_at": _iso(f.antivirus.signatures_updated_at),
            "wsc_product_state": f.antivirus.wsc_product_state,
        },
        "phishwall": None
        if f.phishwall is None
        else {
            "installed": f.phishwall.installed,
            "client_version": f.phishwall.client_version,
            "extension_version": f.phishwall.extension_version,
        },
        "token_status": f.token_status.value,
        "max_touch_points": f.max_touch_points,
        "erased": [],
    }


def client_dict(c: ParsedClient) -> dict[str, Any]:
    return {
        "kind": c.kind.value,
        "browser": c.browser,
        "browser_version": c.browser_version,
        "browser_version_precision": c.browser_version_precision.value,
        "os": c.os,
        "os_version": c.os_version,
        "os_version_precision": c.os_version_precision.value,
        "os_build": c.os_build,
        "in_app": c.in_app,
        "bot": c.bot,
        "hints_used": c.hints_used,
        "notes": list(c.notes),
    }


def check_dict(c: CheckOutcome) -> dict[str, Any]:
    return {
        "check_id": c.check_id,
        "status": c.status.value,
        "clause_ids": list(c.clause_ids),
        "reason": c.reason,
        "message_ja": c.message_ja,
        "compared": [
            {
                "name": x.name,
                "observed": x.observed,
                "expected": x.expected,
                "precision": x.precision.value,
            }
            for x in c.compared
        ],
    }


def result_dict(r: PostureResult) -> dict[str, Any]:
    return {
        "verdict": r.verdict.value,
        "client": client_dict(r.client),
        "checks": [check_dict(c) for c in r.checks],
    }


def check_pb(d: dict[str, Any]) -> posture_pb2.CheckResult:
    return posture_pb2.CheckResult(
        check_id=d["check_id"],
        status=CHECK_STATUS[CheckStatus(d["status"])],
        clause_ids=d["clause_ids"],
        reason=d["reason"],
        message_ja=d["message_ja"],
        compared=[
            common_pb2.ComparedValue(
                name=x["name"],
                observed=x["observed"],
                expected=x["expected"],
                precision=PRECISION[Precision(x["precision"])],
            )
            for x in d["compared"]
        ],
    )


def client_pb(d: dict[str, Any]) -> posture_pb2.ClientDescription:
    return posture_pb2.ClientDescription(
        kind=KIND[ClientKind(d["kind"])],
        browser=d["browser"] or "",
        browser_version=d["browser_version"] or "",
        browser_version_precision=PRECISION[Precision(d["browser_version_precision"])],
        os=d["os"] or "",
        os_version=d["os_version"] or "",
        os_version_precision=PRECISION[Precision(d["os_version_precision"])],
        os_build=d["os_build"] or "",
        in_app=d["in_app"] or "",
        bot=d["bot"] or "",
        hints_used=d["hints_used"],
        notes=d["notes"],
    )


def verdict_pb(value: str) -> posture_pb2.PostureVerdict.ValueType:
    return VERDICT[Verdict(value)]


# Conversions of immutable domain values, memoised by identity: the checks
# memoise their outcomes, so the same CheckOutcome / ParsedClient objects come
# back for the same question. Each entry holds the object itself (its id cannot
# be reused while cached) and a hit is confirmed by identity.
_MEMO_SIZE = 4096
_CHECKS: dict[int, tuple[CheckOutcome, dict[str, Any], bytes]] = {}
_CLIENTS: dict[int, tuple[ParsedClient, dict[str, Any], bytes]] = {}


def _check_parts(c: CheckOutcome) -> tuple[dict[str, Any], bytes]:
    """The log form of a check and its reply form, as an encoded ``checks`` entry."""
    hit = _CHECKS.get(id(c))
    if hit is not None and hit[0] is c:
        return hit[1], hit[2]
    d = check_dict(c)
    encoded = posture_pb2.CheckLoginResponse(checks=[check_pb(d)]).SerializeToString()
    if c.reason != "release_data_stale":  # those name the login instant: not worth keeping
        if len(_CHECKS) >= _MEMO_SIZE:
            _CHECKS.clear()
        _CHECKS[id(c)] = (c, d, encoded)
    return d, encoded


def _client_parts(c: ParsedClient) -> tuple[dict[str, Any], bytes]:
    """The log form of a client and its reply form, as an encoded ``client`` field."""
    hit = _CLIENTS.get(id(c))
    if hit is not None and hit[0] is c:
        return hit[1], hit[2]
    d = client_dict(c)
    encoded = posture_pb2.CheckLoginResponse(client=client_pb(d)).SerializeToString()
    if len(_CLIENTS) >= _MEMO_SIZE:
        _CLIENTS.clear()
    _CLIENTS[id(c)] = (c, d, encoded)
    return d, encoded


def rules_version_pb(raw: bytes) -> common_pb2.RulesVersion:
    """The reply form of a verdict's rules version (``rules_version_json``)."""
    d = orjson.loads(raw)
    return common_pb2.RulesVersion(
        digest=d["digest"],
        matrix_revision=d.get("matrix_revision") or "",
        release_data=[f"{k}={v[:10]}" for k, v in sorted(d.get("release_data", {}).items())],
    )


def encoded_rules(rules: common_pb2.RulesVersion) -> bytes:
    """A rules version as an encoded ``CheckLoginResponse.rules`` field."""
    encoded: bytes = posture_pb2.CheckLoginResponse(rules=rules).SerializeToString()
    return encoded


# (id(client), id(check)..., id(rules_field)) -> (those objects, logged JSON,
# encoded reply body): most logins repeat a handful of client/check answers
# (the checks return the same memoised objects for the same question), so the
# whole log form and reply body are kept per combination. Confirmed by
# identity, like the memos above; checks that name the login instant are
# never memoised objects and never enter.
_REPLIES: dict[tuple[int, ...], tuple[tuple[object, ...], bytes, bytes]] = {}


def _reply_parts(result: PostureResult, rules_field: bytes) -> tuple[bytes, bytes]:
    parts: tuple[object, ...] = (result.client, *result.checks, rules_field)
    key = tuple(map(id, parts))
    hit = _REPLIES.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], parts, strict=True)):
        return hit[1], hit[2]
    client_d, client_field = _client_parts(result.client)
    checks_d = []
    fields = []
    for c in result.checks:
        d, encoded = _check_parts(c)
        checks_d.append(d)
        fields.append(encoded)
    fields.append(client_field)
    fields.append(rules_field)
    logged = orjson.dumps({"verdict": result.verdict.value, "client": client_d, "checks": checks_d})
    body = b"".join(fields)
    if all(c.reason != "release_data_stale" for c in result.checks):
        if len(_REPLIES) >= _MEMO_SIZE:
            _REPLIES.clear()
        _REPLIES[key] = (parts, logged, body)
    return logged, body


def check_login_reply(
    verdict_id: str, result: PostureResult, rules_field: bytes, recorded_us: int
) -> tuple[bytes, posture_pb2.CheckLoginResponse]:
    """The result as logged (``result_dict`` as JSON) and the CheckLogin reply.

    The reply is what ``check_pb``/``client_pb`` make of ``result_dict``, field
    for field. It is assembled from encoded fields: concatenated encodings of
    fields parse as the message holding all of them (repeated fields in order).
    """
    logged, body = _reply_parts(result, rules_field)
    resp = posture_pb2.CheckLoginResponse.FromString(body)
    resp.verdict_id = verdict_id
    resp.verdict = VERDICT[result.verdict]
    resp.recorded_at.FromMicroseconds(recorded_us)
    return logged, resp


def unrecorded_reply(result: PostureResult, rules_json: bytes) -> posture_pb2.CheckLoginResponse:
    """The reply of a verdict made in-process and recorded nowhere (``--local``)."""
    d = result_dict(result)
    return posture_pb2.CheckLoginResponse(
        verdict_id="(local: not recorded)",
        verdict=verdict_pb(result.verdict.value),
        checks=[check_pb(c) for c in d["checks"]],
        client=client_pb(d["client"]),
        rules=rules_version_pb(rules_json),
    )


def device_postures(records: Iterable[VerdictRecord]) -> posture_pb2.GetPostureResponse:
    """The latest login-posture verdict of each device, as logged."""
    devices = []
    for r in records:
        d = orjson.loads(r.result)
        ts = Timestamp()
        ts.FromMicroseconds(r.subject_us)
        devices.append(
            posture_pb2.DevicePosture(
                device_id=r.device_id or "",
                verdict_id=r.id,
                login_time=ts,
                verdict=verdict_pb(d["verdict"]),
                checks=[check_pb(c) for c in d["checks"]],
            )
        )
    return posture_pb2.GetPostureResponse(devices=devices)


def posture_query(
    req: posture_pb2.GetPostureRequest, now: datetime
) -> tuple[str, datetime, timedelta | None]:
    """(customer, as of, look-back or None for the rules' own) of a GetPosture request."""
    v = Violations()
    customer = validate.identifier(v, "customer_id", req.customer_id)
    as_of = (
        validate.instant(v, "as_of", req.as_of, req.HasField("as_of"), required=False, now=now)
        or now
    )
    if req.lookback_days < 0 or req.lookback_days > 3660:
        v.add("lookback_days", "must be between 0 and 3660")
    v.raise_if_any()
    assert customer is not None
    return customer, as_of, timedelta(days=req.lookback_days) if req.lookback_days else None
