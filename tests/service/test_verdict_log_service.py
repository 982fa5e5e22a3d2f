"""VerdictLogService through the real server: every query filter in both
orders, keyset pagination while entries are appended, GetVerdict with the
stored inputs, the review queue and resolutions (once, against the ledger)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path

import grpc
import orjson
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import (
    claims_pb2,
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    posture_pb2_grpc,
    verdicts_pb2,
    verdicts_pb2_grpc,
)
from server.store.chain import entry_hash
from tests.conftest import TEST_NOW, RunningServer, key_files
from tests.service.test_check_login_service import violations
from tests.service.test_check_login_table import WIN_CHROME, Case, chrome_hints, request_for
from tests.service.test_claims_service import (
    CUSTOMER,
    FRAUD,
    PAID_IN_YEAR,
    db,
    hnb_claim,
    incident_at,
    outcome,
    stub,
)

VK = verdicts_pb2


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


def vstub(server: RunningServer) -> verdicts_pb2_grpc.VerdictLogServiceStub:
    return verdicts_pb2_grpc.VerdictLogServiceStub(server.channel)


def at(server: RunningServer, minutes: int) -> None:
    """Move the server clock: entries recorded after this carry TEST_NOW + minutes."""
    server.clock.now = TEST_NOW + timedelta(minutes=minutes)


async def login(
    server: RunningServer, customer: str, device: str, when: datetime, *, compliant: bool = True
) -> str:
    case = Case(
        device,
        WIN_CHROME.format(v=135 if compliant else 133),
        "",
        {},
        hints=chrome_hints("135.0.7049.85" if compliant else "133.0.6943.142", "Windows", "19.0.0"),
        at=when,
    )
    req = request_for(case)
    req.customer_id = customer
    resp = await posture_pb2_grpc.PostureServiceStub(server.channel).CheckLogin(req)
    return resp.verdict_id


async def enrol(server: RunningServer, customer: str = CUSTOMER) -> None:
    await events_pb2_grpc.EventServiceStub(server.channel).ReportEnrolment(
        events_pb2.ReportEnrolmentRequest(
            header=events_pb2.EventHeader(
                client_event_id=str(uuid.uuid4()),
                event_time=ts(datetime(2020, 1, 6)),
                customer_id=customer,
            ),
            policy_id="HNB",
            action=events_pb2.ENROLMENT_ACTION_JOINED,
            starts_at=ts(datetime(2020, 1, 6)),
        )
    )


async def review_claim(
    server: RunningServer, loss: int = 1_500_000, recovered: int = 300_000, incident: int = 0
) -> claims_pb2.EvaluateClaimResponse:
    """A claim (of ``incident``, test_claims_service.incident_at) with the contract on
    record but no login posture: HNB-R1 → REVIEW."""
    resp = await stub(server).EvaluateClaim(
        hnb_claim(loss=loss, recovered=recovered, incident=incident)
    )
    assert outcome(resp) == "REVIEW", resp.summary_ja
    return resp


@dataclass
class Log:
    review: str
    approve: str
    deny: str
    postures: list[str]


async def build_log(server: RunningServer) -> Log:
    """Posture verdicts of three customers and three claim decisions, recorded
    at distinct instants (TEST_NOW + 1..n minutes)."""
    await enrol(server)
    postures = []
    at(server, 1)
    postures.append(await login(server, "c-1", "dev-a", FRAUD - timedelta(days=5)))
    at(server, 2)
    postures.append(await login(server, "c-2", "dev-b", FRAUD - timedelta(days=4), compliant=False))
    at(server, 3)
    # Another incident than the one approved below: HNB-R1's REVIEW (no posture on
    # record) holds its incident back, so the same incident claimed again is REVIEW.
    review = (await review_claim(server, incident=1)).decision_id
    at(server, 4)
    postures.append(await login(server, CUSTOMER, "pc", FRAUD - timedelta(days=2)))
    at(server, 5)
    approve = await stub(server).EvaluateClaim(hnb_claim())
    assert outcome(approve) == "APPROVE"
    at(server, 6)
    denied_req = hnb_claim()
    denied_req.exclusions["HNB-X3"] = True
    deny = await stub(server).EvaluateClaim(denied_req)
    assert outcome(deny) == "DENY"
    at(server, 7)
    postures.append(await login(server, "c-1", "dev-a", FRAUD - timedelta(days=1)))
    return Log(review, approve.decision_id, deny.decision_id, postures)


async def query(server: RunningServer, **kw: object) -> list[VK.VerdictEntry]:
    """Every entry of a query (all pages of one stream)."""
    req = VK.QueryVerdictsRequest(**kw)  # type: ignore[arg-type]
    out: list[VK.VerdictEntry] = []
    async for page in vstub(server).QueryVerdicts(req):
        out.extend(page.entries)
    return out


def us(t: Timestamp) -> int:
    return t.seconds * 1_000_000 + t.nanos // 1000


# --------------------------------------------------------------------------- filters

Pred = Callable[[VK.VerdictEntry], bool]


def _filters() -> list[tuple[str, dict[str, object], Pred]]:
    subj_from = ts(FRAUD - timedelta(days=4, hours=1))
    subj_until = ts(FRAUD - timedelta(hours=12))
    rec_from = ts(TEST_NOW + timedelta(minutes=3))
    rec_until = ts(TEST_NOW + timedelta(minutes=6))
    return [
        ("customer", {"customer_id": "c-1"}, lambda e: e.customer_id == "c-1"),
        ("policy", {"policy_id": "HNB"}, lambda e: e.policy_id == "HNB"),
        (
            "kind-posture",
            {"kind": VK.VERDICT_KIND_LOGIN_POSTURE},
            lambda e: e.kind == "login_posture",
        ),
        ("kind-claim", {"kind": VK.VERDICT_KIND_CLAIM}, lambda e: e.kind == "claim"),
        ("outcome-review", {"outcome": "REVIEW"}, lambda e: e.outcome == "REVIEW"),
        ("outcome-lowercase", {"outcome": "approve"}, lambda e: e.outcome == "APPROVE"),
        (
            "outcome-non-compliant",
            {"outcome": "NON_COMPLIANT"},
            lambda e: e.outcome == "NON_COMPLIANT",
        ),
        ("clause", {"clause_id": "HNB-R1"}, lambda e: "HNB-R1" in e.clause_ids),
        ("clause-deny", {"clause_id": "HNB-X3"}, lambda e: "HNB-X3" in e.clause_ids),
        (
            "subject-range",
            {"subject_from": subj_from, "subject_until": subj_until},
            lambda e: us(subj_from) <= us(e.subject_time) < us(subj_until),
        ),
        (
            "subject-from-only",
            {"subject_from": subj_from},
            lambda e: us(subj_from) <= us(e.subject_time),
        ),
        (
            "recorded-range",
            {"recorded_from": rec_from, "recorded_until": rec_until},
            lambda e: us(rec_from) <= us(e.recorded_at) < us(rec_until),
        ),
        (
            "recorded-until-only",
            {"recorded_until": rec_until},
            lambda e: us(e.recorded_at) < us(rec_until),
        ),
        (
            "customer-and-subject-range",
            {"customer_id": "c-1", "subject_from": subj_from, "subject_until": subj_until},
            lambda e: (
                e.customer_id == "c-1" and us(subj_from) <= us(e.subject_time) < us(subj_until)
            ),
        ),
        (
            "kind-outcome-policy",
            {"kind": VK.VERDICT_KIND_CLAIM, "outcome": "APPROVE", "policy_id": "HNB"},
            lambda e: e.kind == "claim" and e.outcome == "APPROVE" and e.policy_id == "HNB",
        ),
    ]


FILTERS = _filters()


@pytest.mark.parametrize("oldest_first", [False, True], ids=["newest-first", "oldest-first"])
@pytest.mark.parametrize(
    ("kw", "pred"), [(k, p) for _, k, p in FILTERS], ids=[n for n, _, _ in FILTERS]
)
async def test_every_filter_in_both_orders(
    server: RunningServer, kw: dict[str, object], pred: Pred, oldest_first: bool
) -> None:
    await build_log(server)
    everything = await query(server, oldest_first=True)
    # In log order; the ``events`` entries binding stored events are not listed.
    seqs = [e.seq for e in everything]
    assert seqs == sorted(set(seqs)) and len(seqs) == 7
    expected = [e.id for e in everything if pred(e)]
    if not oldest_first:
        expected.reverse()
    assert expected, "the filter must match something"
    assert len(expected) < len(everything), "the filter must exclude something"
    got = await query(server, oldest_first=oldest_first, page_size=2, **kw)
    assert [e.id for e in got] == expected


async def test_default_order_is_newest_first_and_pages_carry_tokens(server: RunningServer) -> None:
    await build_log(server)
    pages = [p async for p in vstub(server).QueryVerdicts(VK.QueryVerdictsRequest(page_size=3))]
    seqs = [e.seq for p in pages for e in p.entries]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 7
    assert [len(p.entries) for p in pages] == [3, 3, 1]
    assert all(p.next_page_token for p in pages[:-1]) and not pages[-1].next_page_token


async def test_no_match_is_one_empty_page(server: RunningServer) -> None:
    await build_log(server)
    pages = [
        p async for p in vstub(server).QueryVerdicts(VK.QueryVerdictsRequest(customer_id="nobody"))
    ]
    assert len(pages) == 1 and not pages[0].entries and not pages[0].next_page_token


async def test_max_pages_stops_and_the_token_resumes(server: RunningServer) -> None:
    await build_log(server)
    req = VK.QueryVerdictsRequest(page_size=2, max_pages=2, oldest_first=True)
    pages = [p async for p in vstub(server).QueryVerdicts(req)]
    assert len(pages) == 2 and pages[-1].next_page_token
    req.page_token = pages[-1].next_page_token
    req.max_pages = 0
    rest = [e.seq for p in await _pages(vstub(server).QueryVerdicts(req)) for e in p.entries]
    assert rest == [e.seq for e in await query(server, oldest_first=True)][4:]


# --------------------------------------------------------------------------- pagination


@pytest.mark.parametrize("oldest_first", [False, True], ids=["newest-first", "oldest-first"])
async def test_pagination_is_exact_while_entries_are_appended(
    server: RunningServer, oldest_first: bool
) -> None:
    """Entries appended between pages (and during them) are neither repeated nor
    skipped: newest-first never sees them, oldest-first reaches them at the end."""
    for i in range(10):
        at(server, i)
        await login(server, f"c-{i % 3}", f"dev-{i}", FRAUD - timedelta(days=1, minutes=i))
    before = [e.id for e in await query(server, oldest_first=oldest_first)]
    appended: list[str] = []
    seen: list[str] = []
    token = ""
    n = 0
    while True:
        req = VK.QueryVerdictsRequest(
            page_size=3, max_pages=1, oldest_first=oldest_first, page_token=token
        )
        # Appends while the page is being read (for the first pages).
        writes = [
            login(server, "c-new", f"new-{n}-{k}", FRAUD - timedelta(hours=k + 1))
            for k in range(3 if n < 4 else 0)
        ]
        pages, *ids = await asyncio.gather(_pages(vstub(server).QueryVerdicts(req)), *writes)
        appended.extend(ids)
        n += 1
        assert len(pages) == 1
        seen.extend(e.id for e in pages[0].entries)
        token = pages[0].next_page_token
        if not token:
            break
        assert n < 40
    assert len(appended) == 12
    assert len(seen) == len(set(seen)), "an entry was repeated"
    everything = [e.id for e in await query(server, oldest_first=oldest_first)]
    if oldest_first:
        # The log in order, with every entry appended meanwhile at the end.
        assert seen == everything
        assert seen[: len(before)] == before and set(seen[len(before) :]) == set(appended)
    else:
        # Exactly the log as it was when the first page was read (the read
        # follows the durable record of the query itself, so appends racing
        # the first page may or may not be in it): no gap, no repeat, nothing
        # appended after the first page.
        assert seen == everything[everything.index(seen[0]) :]
        assert set(before) <= set(seen)
        assert everything[len(appended) :] == before


async def _pages(call: object) -> list[VK.VerdictPage]:
    return [p async for p in call]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- bad requests


async def _invalid(server: RunningServer, req: VK.QueryVerdictsRequest) -> dict[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _pages(vstub(server).QueryVerdicts(req))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return violations(info.value)


async def test_bad_page_tokens_are_refused(server: RunningServer) -> None:
    await build_log(server)
    assert "page_token" in await _invalid(server, VK.QueryVerdictsRequest(page_token="garbage!"))
    first = await _pages(
        vstub(server).QueryVerdicts(VK.QueryVerdictsRequest(page_size=2, max_pages=1))
    )
    token = first[0].next_page_token
    assert token
    # The same token with other filters, or the other order.
    other = VK.QueryVerdictsRequest(page_size=2, page_token=token, customer_id="c-1")
    assert "page_token" in await _invalid(server, other)
    flipped = VK.QueryVerdictsRequest(page_size=2, page_token=token, oldest_first=True)
    assert "page_token" in await _invalid(server, flipped)
    # A different page size is fine: it is not a filter.
    ok = await _pages(vstub(server).QueryVerdicts(VK.QueryVerdictsRequest(page_token=token)))
    assert [e.seq for p in ok for e in p.entries] == [e.seq for e in await query(server)][2:]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"clause_id": "HNB-X5%"}, "clause_id"),
        ({"clause_id": "hnb-x5"}, "clause_id"),
        ({"outcome": "MAYBE"}, "outcome"),
        ({"kind": 99}, "kind"),
        ({"page_size": -1}, "page_size"),
        ({"max_pages": -1}, "max_pages"),
        (
            {"subject_from": ts(TEST_NOW), "subject_until": ts(TEST_NOW - timedelta(days=1))},
            "subject_until",
        ),
        ({"customer_id": "x" * 200}, "customer_id"),
    ],
    ids=[
        "like-wildcard",
        "lowercase-clause",
        "outcome",
        "kind",
        "page-size",
        "max-pages",
        "range",
        "long-id",
    ],
)
async def test_bad_filters_are_invalid_argument(
    server: RunningServer, kw: dict[str, object], field: str
) -> None:
    assert field in await _invalid(server, VK.QueryVerdictsRequest(**kw))  # type: ignore[arg-type]


async def test_page_size_above_the_maximum_is_capped(server: RunningServer) -> None:
    await build_log(server)
    pages = await _pages(vstub(server).QueryVerdicts(VK.QueryVerdictsRequest(page_size=5000)))
    assert len(pages) == 1 and len(pages[0].entries) == 7


# --------------------------------------------------------------------------- GetVerdict


async def test_get_verdict_returns_the_stored_entry_whose_hash_recomputes(
    server: RunningServer,
) -> None:
    log = await build_log(server)
    e = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=log.review))
    assert e.kind == "claim" and e.outcome == "REVIEW" and e.policy_id == "HNB"
    assert e.customer_id == CUSTOMER and "HNB-R1" in e.clause_ids
    stored = db(server, f"SELECT inputs, result FROM verdicts WHERE id = '{log.review}'")
    # Stored compacted (docs/claims.md): the stored texts are references to the JSON's SHA-256.
    assert (e.stored_inputs, e.stored_result) == stored[0]
    assert e.stored_result == f'{{"$blob":"sha256:{sha256(e.result_json.encode()).hexdigest()}"}}'
    request = orjson.loads(e.inputs_json)
    assert request.get("request", request)["claimId"]
    result = orjson.loads(e.result_json)
    assert any(c.get("missingFacts") or c["clauseId"] == "HNB-R1" for c in result["clauses"])
    assert e.rules.digest and e.rules.policies
    # Every stored column is in the entry: the client recomputes the chain hash.
    values = (
        e.id, e.kind, e.customer_id, e.device_id or None, e.policy_id or None,
        us(e.subject_time), us(e.recorded_at), e.rules_digest, e.rules_json, e.outcome,
        orjson.dumps(list(e.clause_ids)).decode(), e.stored_inputs, e.stored_result,
        e.request_id, e.caller.identity, e.refers_to or None,
    )  # fmt: skip
    assert entry_hash(e.seq, values, e.prev_hash) == e.entry_hash
    posture = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=log.postures[0]))
    assert posture.kind == "login_posture" and posture.device_id == "dev-a"
    assert posture.rules.matrix_revision


async def test_get_verdict_unknown_and_missing_ids(server: RunningServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).GetVerdict(VK.GetVerdictRequest(id=str(uuid.uuid4())))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).GetVerdict(VK.GetVerdictRequest())
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "id" in violations(info.value)


# --------------------------------------------------------------------------- review queue


async def reviews(server: RunningServer, **kw: object) -> list[VK.ReviewItem]:
    return [i async for i in vstub(server).ListReviews(VK.ListReviewsRequest(**kw))]  # type: ignore[arg-type]


def resolve_req(
    verdict_id: str,
    approve: int | None = None,
    clauses: tuple[str, ...] = (),
    analyst: str = "analyst-suzuki",
    note: str = "本人確認済み",
) -> VK.ResolveReviewRequest:
    return VK.ResolveReviewRequest(
        verdict_id=verdict_id,
        outcome=common_pb2.OUTCOME_APPROVE if approve is not None else common_pb2.OUTCOME_DENY,
        payable_yen=approve or 0,
        clause_ids=clauses,
        note=note,
        analyst=analyst,
    )


async def test_list_reviews_oldest_first_with_what_is_missing(server: RunningServer) -> None:
    await enrol(server)
    first = await review_claim(server)
    second = await review_claim(server, loss=2_000_000, recovered=0)
    await login(server, "c-1", "dev-a", FRAUD)  # not a claim: never in the queue
    items = await reviews(server)
    assert [i.decision.id for i in items] == [first.decision_id, second.decision_id]
    assert "HNB-R1" in items[0].review_clause_ids
    assert items[0].claimed_yen == 1_500_000 and items[0].computed_yen == 1_200_000
    assert items[1].claimed_yen == 2_000_000 and items[1].computed_yen == 2_000_000
    result = orjson.loads(items[0].decision.result_json)
    missing = {m for c in result["clauses"] for m in c.get("missingFacts", [])}
    assert set(items[0].missing_facts) == missing
    assert items[0].next_page_token and not items[1].next_page_token
    # Paging, and the filters.
    page = await reviews(server, page_size=1)
    assert [i.decision.id for i in page] == [first.decision_id]
    rest = await reviews(server, page_size=1, page_token=page[0].next_page_token)
    assert [i.decision.id for i in rest] == [second.decision_id]
    assert await reviews(server, policy_id="KDN") == []
    assert len(await reviews(server, customer_id=CUSTOMER)) == 2
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await reviews(server, page_token=page[0].next_page_token, policy_id="HNB")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_deny_resolution_is_a_new_entry_pointing_at_the_review(
    server: RunningServer,
) -> None:
    await enrol(server)
    review = await review_claim(server)
    at(server, 10)
    entry = await vstub(server).ResolveReview(
        resolve_req(review.decision_id, clauses=("HNB-X5",), note="代替策の説明なし")
    )
    assert entry.kind == "review_resolution" and entry.refers_to == review.decision_id
    assert entry.outcome == "DENY" and list(entry.clause_ids) == ["HNB-X5"]
    assert entry.customer_id == CUSTOMER and entry.policy_id == "HNB"
    assert entry.payable_yen == 0
    inputs = orjson.loads(entry.inputs_json)
    assert inputs["request"]["analyst"] == "analyst-suzuki"
    assert inputs["request"]["note"] == "代替策の説明なし"
    assert inputs["caller"]
    assert us(entry.recorded_at) == us(ts(TEST_NOW + timedelta(minutes=10)))
    assert await reviews(server) == []
    # Nothing reserved: the claim's own marks (…/claimed, written with the REVIEW) and
    # the refusal's (…/refused, written with the resolution), no amount anywhere.
    # (HNB-R1's REVIEW names no missing request fact: it holds the incident back too.)
    marks = db(server, "SELECT scope_key, decision_id, amount_yen FROM ledger ORDER BY 1, 2")
    assert [(k.rsplit("/", 1)[1], d, a) for k, d, a in marks] == [
        ("claimed", review.decision_id, 0),
        ("refused", review.decision_id, 0),
        ("refused", entry.id, 0),
        ("claimed", review.decision_id, 0),
    ], marks
    # The original is unchanged; the resolution is found by kind and by clause.
    found = await query(server, kind=VK.VERDICT_KIND_REVIEW_RESOLUTION)
    assert [e.id for e in found] == [entry.id]
    assert [e.id for e in await query(server, clause_id="HNB-X5", policy_id="HNB")] == [entry.id]


async def test_an_incident_an_analyst_denied_claimed_again_is_review(
    server: RunningServer,
) -> None:
    """The analyst's DENY marks the incident refused, as an automatic DENY does: the
    same incident claimed again — now with a compliant login on record, so it would
    pay — is REVIEW under HNB-L2, not an automatic payment."""
    await enrol(server)
    await login(server, CUSTOMER, "pc", incident_at(0) - timedelta(days=1))
    # A REVIEW that only asks for a fact (HNB-X3 not stated) does not hold the
    # incident back by itself; the analyst's DENY does.
    asking = hnb_claim()
    del asking.exclusions["HNB-X3"]
    review = await stub(server).EvaluateClaim(asking)
    assert outcome(review) == "REVIEW", review.summary_ja
    await vstub(server).ResolveReview(resolve_req(review.decision_id, clauses=("HNB-X3",)))
    again = await stub(server).EvaluateClaim(hnb_claim())
    assert (outcome(again), again.payable_yen) == ("REVIEW", 0), again.summary_ja
    l2 = next(c for c in again.clauses if c.clause_id == "HNB-L2")
    assert "支払わない、または人による審査が必要と判定されています" in l2.explanation_ja


async def test_approve_resolution_reserves_the_ledger_like_an_automatic_approval(
    server: RunningServer,
) -> None:
    await enrol(server)
    review = await review_claim(server, loss=10_000_000, recovered=0)
    entry = await vstub(server).ResolveReview(
        resolve_req(review.decision_id, approve=9_000_000, note="代替的な対策を確認")
    )
    assert entry.outcome == "APPROVE" and entry.payable_yen == 9_000_000
    result = orjson.loads(entry.result_json)
    scopes = {r["scopeKey"]: r for r in result["reservations"]}
    assert any("HNB-L1" in r["capIds"] for r in scopes.values())
    # (The REVIEW's own marks, …/claimed, were written with it and hold no amount.)
    rows = db(
        server,
        "SELECT scope_key, decision_id, amount_yen FROM ledger "
        "WHERE scope_key NOT LIKE '%/claimed' AND scope_key NOT LIKE '%/refused'",
    )
    assert rows and all(r[1] == entry.id and r[2] == 9_000_000 for r in rows)
    assert {r[0] for r in rows} == set(scopes)
    # A later automatic claim of the same customer sees what is left of HNB-L1: a
    # claim of another incident (the approved one's loss is paid once, HNB-L2).
    await login(server, CUSTOMER, "pc", incident_at(1) - timedelta(days=1))
    later = await stub(server).EvaluateClaim(hnb_claim(loss=3_000_000, recovered=0, incident=1))
    assert outcome(later) == "APPROVE" and later.payable_yen == 1_000_000


async def test_approve_over_the_cap_or_the_loss_is_refused(server: RunningServer) -> None:
    await enrol(server)
    review = await review_claim(server, loss=12_000_000, recovered=0)
    other = await review_claim(server, loss=100_000, recovered=0, incident=1)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).ResolveReview(resolve_req(review.decision_id, approve=10_500_000))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # The incident's cap (HNB-L2: its payable, at most ¥10,000,000) is checked before
    # the year's (HNB-L1, ¥10,000,000): the first the amount exceeds is named.
    assert "HNB-L2" in (info.value.details() or "")
    assert "¥10,000,000" in (info.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).ResolveReview(resolve_req(review.decision_id, approve=12_000_001))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "claimed loss" in (info.value.details() or "")
    # Refusals record nothing; the review is still open and can be approved within the cap.
    assert db(server, "SELECT COUNT(*) FROM review_resolutions") == [(0,)]
    ok = await vstub(server).ResolveReview(resolve_req(review.decision_id, approve=10_000_000))
    assert ok.payable_yen == 10_000_000
    # Nothing is left under HNB-L1 this year: the other REVIEW (another incident, its
    # own HNB-L2 untouched) cannot be approved.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).ResolveReview(resolve_req(other.decision_id, approve=1))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "HNB-L1" in (info.value.details() or "")
    assert "remaining ¥0" in (info.value.details() or "")


async def test_a_review_is_resolved_once(server: RunningServer) -> None:
    await enrol(server)
    review = await review_claim(server)
    first = await vstub(server).ResolveReview(resolve_req(review.decision_id, approve=1_200_000))
    for again in (
        resolve_req(review.decision_id, approve=1_200_000),
        resolve_req(review.decision_id, clauses=("HNB-X5",)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await vstub(server).ResolveReview(again)
        assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert first.id in (info.value.details() or "")
    # Reserved once (in HNB-L1's year, as in the incident's HNB-L2 scopes).
    assert db(server, PAID_IN_YEAR) == [(1_200_000,)]


async def test_concurrent_resolutions_exactly_one_wins(server: RunningServer) -> None:
    await enrol(server)
    review = await review_claim(server)
    calls = [
        vstub(server).ResolveReview(
            resolve_req(review.decision_id, approve=1_000_000 + i, analyst=f"analyst-{i}")
        )
        for i in range(8)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    ok = [r for r in results if isinstance(r, VK.VerdictEntry)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(ok) == 1 and len(refused) == 7
    assert all(r.code() == grpc.StatusCode.ALREADY_EXISTS for r in refused)
    assert db(server, PAID_IN_YEAR) == [(ok[0].payable_yen,)]
    assert db(server, "SELECT COUNT(*) FROM verdicts WHERE kind = 'review_resolution'") == [(1,)]


async def test_two_stores_on_one_database_resolve_once(
    server: RunningServer, tmp_path: Path
) -> None:
    """Two writers (as two processes would be) racing: the table's key decides."""
    from server.store.errors import AlreadyResolved
    from server.store.records import ResolutionWrite
    from server.store.url import open_store

    await enrol(server)
    review = await review_claim(server)
    other = open_store(
        server.db_url, log_key_file=key_files(server.db_url, tmp_path).get("log_key_file")
    )
    mine = server.app.store  # type: ignore[attr-defined]
    original = await mine.get_verdict(review.decision_id)
    assert original is not None

    def resolve(name: str) -> Callable[..., ResolutionWrite]:
        def fn(orig: object, usage: object) -> ResolutionWrite:
            from dataclasses import replace

            return ResolutionWrite(
                replace(
                    original,
                    id=str(uuid.uuid4()),
                    kind="review_resolution",
                    outcome="DENY",
                    refers_to=review.decision_id,
                    caller=name,
                    seq=None,
                ),
                (),
            )

        return fn

    try:
        results = await asyncio.gather(
            mine.resolve_review(review.decision_id, (), resolve("a")),
            other.resolve_review(review.decision_id, (), resolve("b")),
            return_exceptions=True,
        )
    finally:
        await other.close()
    assert sum(isinstance(r, tuple) for r in results) == 1
    assert sum(isinstance(r, AlreadyResolved) for r in results) == 1
    assert db(server, "SELECT COUNT(*) FROM review_resolutions") == [(1,)]


async def test_resolving_what_is_not_an_open_review(server: RunningServer) -> None:
    log = await build_log(server)
    for verdict_id in (log.approve, log.postures[0]):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await vstub(server).ResolveReview(resolve_req(verdict_id, clauses=("HNB-X5",)))
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).ResolveReview(resolve_req(str(uuid.uuid4()), clauses=("HNB-X5",)))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"analyst": ""}, "analyst"),
        ({"outcome": common_pb2.OUTCOME_REVIEW}, "outcome"),
        ({"outcome": common_pb2.OUTCOME_APPROVE, "payable_yen": 0}, "payable_yen"),
        ({"payable_yen": 5}, "payable_yen"),  # a DENY that pays
        ({"clause_ids": []}, "clause_ids"),  # a DENY on no clause
        ({"clause_ids": ["HNB-X5'; --"]}, "clause_ids[0]"),
        ({"clause_ids": ["KDN-X1"]}, "clause_ids"),  # not an HNB clause
        ({"note": "card 4111 1111 1111 1111"}, "note"),
        ({"verdict_id": ""}, "verdict_id"),
    ],
    ids=[
        "analyst",
        "outcome",
        "approve-nothing",
        "deny-pays",
        "deny-no-clause",
        "bad-clause",
        "other-policy-clause",
        "pan-in-note",
        "no-id",
    ],
)
async def test_bad_resolutions_are_invalid_argument(
    server: RunningServer, changes: dict[str, object], field: str
) -> None:
    await enrol(server)
    review = await review_claim(server)
    req = resolve_req(review.decision_id, clauses=("HNB-X5",))
    for k, val in changes.items():
        if k == "clause_ids":
            del req.clause_ids[:]
            req.clause_ids.extend(val)  # type: ignore[arg-type]
        else:
            setattr(req, k, val)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).ResolveReview(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(info.value)
    assert len(await reviews(server)) == 1


def test_pages_stay_under_the_message_budget() -> None:
    """Entries with large stored inputs split a batch into several pages, each
    resuming exactly after its last entry."""
    from server.errors import Violations
    from server.wire.pages import PAGE_BYTES, decode_token, split_pages

    big = "x" * (PAGE_BYTES // 3)
    rows = [
        (seq, f"id-{seq}", "login_posture", "c", "d", None, 1, 2, "dg", '{"digest":"dg"}',
         "COMPLIANT", "[]", big, "{}", "r", "anonymous", None, "p", "h")
        for seq in range(10, 0, -1)
    ]  # fmt: skip
    key = ("k",)
    pages = [VK.VerdictPage.FromString(p) for p in split_pages(rows, True, key)]
    assert len(pages) == 4 and [len(p.entries) for p in pages] == [3, 3, 3, 1]
    assert all(len(p.SerializeToString()) < 4 * 1024 * 1024 for p in pages)
    for p in pages:
        v = Violations()
        assert decode_token(v, p.next_page_token, "query", key) == p.entries[-1].seq
    assert [e.seq for p in pages for e in p.entries] == list(range(10, 0, -1))
    last = [VK.VerdictPage.FromString(p) for p in split_pages(rows[:2], False, key)]
    assert len(last) == 1 and not last[0].next_page_token
    assert VK.VerdictPage.FromString(split_pages([], False, key)[0]) == VK.VerdictPage()


async def test_analysts_reads_are_logged_and_listed_only_when_asked_for(
    server: RunningServer,
) -> None:
    """Issue 7: who read what is itself a log entry (recorded before the answer),
    with the caller; refused requests record nothing."""
    verdict_id = await login(server, "c-audit", "dev-a", FRAUD - timedelta(days=1))
    await query(server, customer_id="c-audit")
    await vstub(server).GetVerdict(VK.GetVerdictRequest(id=verdict_id))
    with pytest.raises(grpc.aio.AioRpcError):
        await vstub(server).GetVerdict(
            VK.GetVerdictRequest(id="01a1fe70-0000-7000-8000-000000000000")
        )
    with pytest.raises(grpc.aio.AioRpcError):
        await query(server, clause_id="not a clause")
    # Not mixed into ordinary queries…
    assert [e.kind for e in await query(server)] == ["login_posture"]
    # …but there when asked for, newest first, with who asked and what.
    access = await query(server, kind=VK.VERDICT_KIND_ANALYST_ACCESS)
    rpcs = [orjson.loads(e.result_json)["rpc"] for e in access]
    # This very query's own record is made while it reads: it may be listed.
    assert rpcs[-3:] == ["QueryVerdicts", "GetVerdict", "QueryVerdicts"]
    assert len(rpcs) in (3, 4)
    get = access[-2]
    assert get.refers_to == verdict_id and get.customer_id == "c-audit"
    assert get.caller.identity
    assert orjson.loads(access[-1].inputs_json) == {"customerId": "c-audit"}
    # Every read is recorded by the time it has been answered.
    assert len(await query(server, kind=VK.VERDICT_KIND_ANALYST_ACCESS)) == len(rpcs) + 1
