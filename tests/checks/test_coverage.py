"""Coverage periods: KDN-P1/P2, ISA-P1/P2/I1, DCM, HNB, JPE-P1; KDN-C0..C2 monitoring.

Each test reads as a timeline of reported events and the cover Anshin derives
from it as of an instant. Periods are half-open: start inclusive, end exclusive.
Each policy's cover is built as its policy file's ``[cover]`` table says.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import coverage as cov
from checks.cover import Cover
from checks.coverage import Coverage, Period, covered_at, monitoring_state
from checks.event_model import (
    Activation,
    ActivationAction,
    Enrolment,
    EnrolmentAction,
    MonitoringEvent,
    MonitoringEventKind,
    SecurityApp,
)
from checks.model import CheckStatus
from rules.engine import load_policies
from timing import at_jst

POLICIES = load_policies()
KDN = POLICIES.get("KDN").cover
ISA = POLICIES.get("ISA").cover
assert KDN is not None and ISA is not None


def kdn_coverage(events: list[Activation], as_of: datetime, cover: Cover = KDN) -> Coverage:
    return cov.activation_coverage(events, cover, as_of)


def kdn_periods(events: list[Activation], as_of: datetime, cover: Cover = KDN) -> list[Period]:
    return cov.activation_periods(events, cover, as_of)


def isa_coverage(events: list[Activation], as_of: datetime) -> Coverage:
    return cov.activation_coverage(events, ISA, as_of)


def isa_periods(events: list[Activation], as_of: datetime) -> list[Period]:
    return cov.activation_periods(events, ISA, as_of)


def kdn_with(**changes: object) -> Cover:
    """KDN's cover with some of its [cover.activation] values changed."""
    assert KDN is not None and KDN.activation is not None
    return replace(KDN, activation=replace(KDN.activation, **changes))


def policy_cover(policy: str) -> Cover:
    try:
        cover = POLICIES.get(policy).cover
    except KeyError as exc:
        raise ValueError(str(exc)) from None
    assert cover is not None
    return cover


def enrolment_coverage(events: list[Enrolment], policy: str, as_of: datetime) -> Coverage:
    return cov.enrolment_coverage(events, policy_cover(policy), as_of)


def enrolment_periods(events: list[Enrolment], policy: str, as_of: datetime) -> list[Period]:
    return cov.enrolment_periods(events, policy_cover(policy), as_of)


N360 = SecurityApp.NORTON_360
MONITOR = SecurityApp.NORTON_MONITOR
ON = ActivationAction.ACTIVATED
OFF = ActivationAction.DEACTIVATED
INVALID = ActivationAction.INVALIDATED
US = timedelta(microseconds=1)
FAR = at_jst(2030, 1, 1)

_ids = iter(range(1_000_000))


def act(
    at: datetime,
    app: SecurityApp,
    action: ActivationAction = ON,
    *,
    device: str = "phone-1",
    channel: str = "carrier_shop",
    phone: str = "billed-phone",
    eid: str | None = None,
    customer: str = "cust-1",
) -> Activation:
    return Activation(
        eid or f"a{next(_ids):06d}", customer, at, app, action, device, channel, phone
    )


def spans(periods: list[Period]) -> list[tuple[datetime, datetime | None]]:
    return [(p.starts_at, p.ends_at) for p in periods]


# --------------------------------------------------------------------------- KDN-P1 / KDN-P2

T1, T2, T3, T4, T5 = (at_jst(2026, 4, d, 12) for d in (1, 2, 10, 20, 25))


def test_kdn_p1_starts_when_both_apps_are_active() -> None:
    events = [act(T1, N360), act(T2, MONITOR)]
    periods = kdn_periods(events, FAR)
    assert spans(periods) == [(T2, None)]
    assert periods[0].clause_ids == ("KDN-P1", "KDN-P2")
    assert covered_at(periods, T2 - US) is None
    assert covered_at(periods, T2) is periods[0]


@pytest.mark.parametrize("only", [N360, MONITOR])
def test_kdn_p1_one_app_alone_gives_no_cover(only: SecurityApp) -> None:
    assert kdn_periods([act(T1, only)], FAR) == []


@pytest.mark.parametrize(
    ("ending_app", "ending_action"),
    [(N360, OFF), (MONITOR, OFF), (N360, INVALID), (MONITOR, INVALID)],
    ids=["360_deactivated", "monitor_deactivated", "360_invalidated", "monitor_invalidated"],
)
def test_kdn_p2_ends_when_either_app_is_deactivated_or_invalidated(
    ending_app: SecurityApp, ending_action: ActivationAction
) -> None:
    events = [act(T1, N360), act(T2, MONITOR), act(T3, ending_app, ending_action)]
    periods = kdn_periods(events, FAR)
    assert spans(periods) == [(T2, T3)]
    assert covered_at(periods, T3 - US) is not None
    assert covered_at(periods, T3) is None
    assert ending_action.name.lower() in periods[0].basis


def test_kdn_reactivation_starts_a_new_period() -> None:
    events = [
        act(T1, N360),
        act(T2, MONITOR),
        act(T3, MONITOR, OFF),
        act(T4, MONITOR),
    ]
    assert spans(kdn_periods(events, FAR)) == [(T2, T3), (T4, None)]


def test_kdn_input_order_does_not_matter() -> None:
    events = [
        act(T1, N360),
        act(T2, MONITOR),
        act(T3, N360, INVALID),
        act(T4, N360),
        act(T5, MONITOR, OFF),
    ]
    expected = kdn_coverage(events, FAR)
    assert spans(list(expected.periods)) == [(T2, T3), (T4, T5)]
    for seed in range(20):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        assert kdn_coverage(shuffled, FAR) == expected


def test_kdn_events_after_as_of_are_invisible() -> None:
    events = [act(T1, N360), act(T2, MONITOR), act(T3, MONITOR, OFF)]
    assert spans(kdn_periods(events, T3 - US)) == [(T2, None)]  # deactivation not yet reported
    assert spans(kdn_periods(events, T3)) == [(T2, T3)]  # an event exactly at as_of is visible
    assert kdn_periods(events, T2 - US) == []  # Monitor not yet activated


def test_kdn_activation_outside_the_carrier_shop_does_not_count() -> None:
    events = [act(T1, N360, channel="online_store", eid="web-360"), act(T2, MONITOR)]
    coverage = kdn_coverage(events, FAR)
    assert coverage.periods == ()
    [ignored] = coverage.ignored
    assert ignored.client_event_id == "web-360"
    assert ignored.judgement.clause_id == "KDN-P1"
    assert ignored.judgement.status is CheckStatus.FAIL
    assert ignored.judgement.reason == "activation_not_via_carrier_shop"
    # A later carrier-shop activation of Norton 360 does start cover.
    later = [*events, act(T3, N360)]
    assert spans(kdn_periods(later, FAR)) == [(T3, None)]


def test_kdn_activation_without_the_billed_phone_does_not_count() -> None:
    coverage = kdn_coverage([act(T1, N360, phone=""), act(T2, MONITOR)], FAR)
    assert coverage.periods == ()
    assert [i.judgement.reason for i in coverage.ignored] == ["billed_phone_not_reported"]


def test_kdn_monitor_channel_is_not_constrained_by_default() -> None:
    # ASSUMPTION (kdn_carrier_shop_required_for={NORTON_360}): the seed ties the
    # carrier-shop download to the Norton 360 app on the device only.
    events = [act(T1, N360), act(T2, MONITOR, channel="online_store")]
    assert spans(kdn_periods(events, FAR)) == [(T2, None)]
    strict = kdn_with(carrier_shop_required_for=frozenset({N360, MONITOR}))
    assert kdn_periods(events, FAR, strict) == []


def test_kdn_campaign_end_closes_cover_and_blocks_new_periods() -> None:
    campaign = kdn_with(campaign_ends_at=T3)
    events = [act(T1, N360), act(T2, MONITOR), act(T4, N360, OFF), act(T5, N360)]
    periods = kdn_periods(events, FAR, campaign)
    assert spans(periods) == [(T2, T3)]
    assert "campaign" in periods[0].basis


def test_kdn_deactivating_one_of_two_devices_keeps_cover() -> None:
    events = [
        act(T1, N360, device="phone-1"),
        act(T1, N360, device="tablet-1"),
        act(T2, MONITOR),
        act(T3, N360, OFF, device="tablet-1"),
        act(T4, N360, OFF, device="phone-1"),
    ]
    assert spans(kdn_periods(events, FAR)) == [(T2, T4)]


def test_kdn_same_instant_ties_are_broken_by_client_event_id() -> None:
    # Deactivate and re-activate on another device at the same instant: cover continues.
    events = [
        act(T1, N360, device="old"),
        act(T2, MONITOR),
        act(T3, N360, OFF, device="old", eid="z-off"),
        act(T3, N360, device="new", eid="a-on"),
    ]
    assert spans(kdn_periods(events, FAR)) == [(T2, None)]


def test_kdn_ignores_other_apps_and_refuses_mixed_customers() -> None:
    assert kdn_periods([act(T1, SecurityApp.J_SAFE), act(T2, MONITOR)], FAR) == []
    with pytest.raises(ValueError, match="per customer"):
        kdn_periods([act(T1, N360), act(T2, MONITOR, customer="cust-2")], FAR)


def test_kdn_as_of_must_be_aware() -> None:
    with pytest.raises(ValueError):
        kdn_periods([], datetime(2026, 4, 1))


# --------------------------------------------------------------------------- ISA-P1 / ISA-P2

ISA_START = at_jst(2024, 4, 1)  # ISA-P2: 2024-04-01 00:00 JST


@pytest.mark.parametrize(
    "product",
    [
        SecurityApp.VIRUS_BUSTER_CLOUD_MONTHLY_3,
        SecurityApp.VIRUS_BUSTER_CLOUD_MONTHLY_1,
        SecurityApp.J_SAFE,
        SecurityApp.J_SAFE_3,
    ],
)
def test_isa_p1_listed_products_give_cover(product: SecurityApp) -> None:
    subscribed = at_jst(2024, 6, 1)
    ended = at_jst(2025, 6, 1)
    periods = isa_periods([act(subscribed, product), act(ended, product, OFF)], FAR)
    assert spans(periods) == [(subscribed, ended)]
    assert periods[0].clause_ids == ("ISA-P1", "ISA-P2")


@pytest.mark.parametrize("product", [N360, MONITOR, SecurityApp.UNSPECIFIED])
def test_isa_p1_other_products_give_no_cover(product: SecurityApp) -> None:
    coverage = isa_coverage([act(at_jst(2024, 6, 1), product, eid="other")], FAR)
    assert coverage.periods == ()
    [ignored] = coverage.ignored
    assert ignored.judgement.clause_id == "ISA-P1"
    expected = CheckStatus.UNKNOWN if product is SecurityApp.UNSPECIFIED else CheckStatus.FAIL
    assert ignored.judgement.status is expected


def test_isa_switching_between_listed_products_keeps_one_period() -> None:
    t0, t1, t2 = at_jst(2024, 5, 1), at_jst(2024, 9, 1), at_jst(2025, 1, 1)
    events = [
        act(t0, SecurityApp.J_SAFE),
        act(t1, SecurityApp.J_SAFE_3),
        act(t1, SecurityApp.J_SAFE, OFF),
        act(t2, SecurityApp.J_SAFE_3, OFF),
    ]
    assert spans(isa_periods(events, FAR)) == [(t0, t2)]


@pytest.mark.parametrize(
    ("subscribed", "ended", "expected"),
    [
        # Earlier subscribers are covered, but only from 2024-04-01 00:00 JST.
        (at_jst(2023, 6, 1), None, [(ISA_START, None)]),
        (ISA_START - US, None, [(ISA_START, None)]),
        (ISA_START, None, [(ISA_START, None)]),
        (ISA_START + US, None, [(ISA_START + US, None)]),
        # Ended before the insurance existed: never covered.
        (at_jst(2023, 6, 1), ISA_START - US, []),
        (at_jst(2023, 6, 1), ISA_START, []),
        (at_jst(2023, 6, 1), ISA_START + US, [(ISA_START, ISA_START + US)]),
    ],
)
def test_isa_p2_in_force_from_2024_04_01_jst(
    subscribed: datetime, ended: datetime | None, expected: list[tuple[datetime, datetime | None]]
) -> None:
    events = [act(subscribed, SecurityApp.J_SAFE)]
    if ended is not None:
        events.append(act(ended, SecurityApp.J_SAFE, OFF))
    periods = isa_periods(events, FAR)
    assert spans(periods) == expected
    if periods:
        assert covered_at(periods, ISA_START - US) is None
        assert covered_at(periods, max(ISA_START, subscribed)) is not None


def test_isa_p2_boundary_is_jst_midnight_not_utc() -> None:
    # 2024-03-31T15:00Z is 2024-04-01 00:00 JST.
    assert datetime(2024, 3, 31, 15, 0, tzinfo=UTC) == ISA_START


# --------------------------------------------------------------------------- enrolments


def enrol(
    at: datetime,
    policy: str,
    action: EnrolmentAction = EnrolmentAction.JOINED,
    *,
    plan: str = "",
    person: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    eid: str | None = None,
) -> Enrolment:
    return Enrolment(
        eid or f"e{next(_ids):06d}",
        "cust-1",
        at,
        policy,
        action,
        plan,
        person,
        "",
        starts_at,
        ends_at,
    )


JOINED, LEFT = EnrolmentAction.JOINED, EnrolmentAction.LEFT


def test_dcm_membership_runs_from_joining_to_leaving() -> None:
    joined, left = at_jst(2025, 4, 1, 9), at_jst(2026, 2, 1, 18)
    periods = enrolment_periods([enrol(joined, "DCM"), enrol(left, "DCM", LEFT)], "DCM", FAR)
    assert spans(periods) == [(joined, left)]
    assert "DCM-X4" in periods[0].clause_ids
    assert covered_at(periods, joined - US) is None  # DCM-X4: before membership
    assert covered_at(periods, left - US) is not None
    assert covered_at(periods, left) is None


def test_hnb_contract_uses_reported_start_and_cancellation() -> None:
    start, cancelled = at_jst(2020, 1, 6), at_jst(2026, 3, 31, 17)
    events = [
        enrol(at_jst(2020, 1, 7), "HNB", starts_at=start),
        enrol(at_jst(2026, 4, 1), "HNB", LEFT, ends_at=cancelled),
    ]
    assert spans(enrolment_periods(events, "HNB", FAR)) == [(start, cancelled)]
    # Before the cancellation was reported, the contract was believed open.
    assert spans(enrolment_periods(events, "HNB", at_jst(2026, 3, 31, 23))) == [(start, None)]


def test_enrolments_of_other_policies_are_skipped() -> None:
    events = [enrol(at_jst(2025, 1, 1), "DCM"), enrol(at_jst(2025, 2, 1), "HNB")]
    assert len(enrolment_periods(events, "DCM", FAR)) == 1


@pytest.mark.parametrize(
    ("service_start", "cover_from"),
    [
        (at_jst(2026, 1, 15, 10), at_jst(2026, 3, 15)),
        (at_jst(2026, 1, 31, 10), at_jst(2026, 3, 31)),  # Mar 31 exists
        (at_jst(2025, 12, 31, 10), at_jst(2026, 2, 28)),  # clamp to month end
        (at_jst(2023, 12, 31, 10), at_jst(2024, 2, 29)),  # clamp, leap year
        (at_jst(2024, 12, 31, 23, 59), at_jst(2025, 2, 28)),
        # The JST date counts: 2026-01-31T15:30Z is already 2026-02-01 in Japan.
        (datetime(2026, 1, 31, 15, 30, tzinfo=UTC), at_jst(2026, 4, 1)),
    ],
)
def test_jpe_p1_cover_begins_two_calendar_months_after_service_start(
    service_start: datetime, cover_from: datetime
) -> None:
    periods = enrolment_periods([enrol(service_start, "JPE")], "JPE", FAR)
    assert spans(periods) == [(cover_from, None)]
    assert covered_at(periods, cover_from - US) is None
    assert covered_at(periods, cover_from) is not None


def test_jpe_cancelled_before_cover_began_has_no_period() -> None:
    events = [
        enrol(at_jst(2026, 1, 31), "JPE", eid="start"),  # cover would begin 2026-03-31
        enrol(at_jst(2026, 3, 15), "JPE", LEFT),
    ]
    coverage = enrolment_coverage(events, "JPE", FAR)
    assert coverage.periods == ()
    assert [(i.client_event_id, i.judgement.reason) for i in coverage.ignored] == [
        ("start", "ended_before_cover_began")
    ]
    # Cancelled one day after cover began: one day of cover.
    events[1] = enrol(at_jst(2026, 4, 1), "JPE", LEFT)
    assert spans(enrolment_periods(events, "JPE", FAR)) == [
        (at_jst(2026, 3, 31), at_jst(2026, 4, 1))
    ]


def test_isa_i1_one_insured_person_per_period() -> None:
    t0, t1, t2, t3 = (at_jst(2024, m, 1) for m in (5, 6, 9, 10))
    events = [
        enrol(t0, "ISA", plan="j_safe_3", person="subscriber"),
        enrol(t1, "ISA", plan="j_safe_3", person="subscriber"),  # same person again: fine
        enrol(t2, "ISA", plan="j_safe_3", person="spouse", eid="second"),
    ]
    [period] = enrolment_periods(events, "ISA", FAR)
    assert period.insured_person_refs == ("subscriber", "spouse")
    [violation] = period.notes
    assert (violation.clause_id, violation.status) == ("ISA-I1", CheckStatus.FAIL)
    assert violation.reason == "second_insured_person_in_period"
    # A new person in a new period (after leaving) is not a violation.
    events = [
        enrol(t0, "ISA", plan="j_safe", person="subscriber"),
        enrol(t1, "ISA", LEFT),
        enrol(t2, "ISA", plan="j_safe", person="child"),
        enrol(t3, "ISA", LEFT),
    ]
    periods = enrolment_periods(events, "ISA", FAR)
    assert [p.insured_person_refs for p in periods] == [("subscriber",), ("child",)]
    assert all(p.notes == () for p in periods)


def test_isa_enrolment_of_an_unlisted_plan_and_clip_to_2024_04_01() -> None:
    events = [
        enrol(at_jst(2023, 1, 1), "ISA", plan="virus_buster_cloud_monthly_1", person="me"),
        enrol(at_jst(2023, 2, 1), "ISA", plan="norton_360", person="me", eid="unlisted"),
    ]
    coverage = enrolment_coverage(events, "ISA", FAR)
    assert spans(list(coverage.periods)) == [(ISA_START, None)]
    assert [(i.client_event_id, i.judgement.reason) for i in coverage.ignored] == [
        ("unlisted", "product_not_listed")
    ]


@pytest.mark.parametrize("policy", ["KDN", "XYZ"])
def test_enrolment_periods_refuse_kdn_and_unknown_policies(policy: str) -> None:
    with pytest.raises(ValueError):
        enrolment_periods([], policy, FAR)


def test_enrolment_planned_end_and_left_without_joined() -> None:
    start, planned = at_jst(2025, 1, 1), at_jst(2026, 1, 1)
    events = [
        enrol(at_jst(2024, 12, 1), "DCM", LEFT, eid="orphan"),
        enrol(start, "DCM", ends_at=planned),
    ]
    coverage = enrolment_coverage(events, "DCM", FAR)
    assert spans(list(coverage.periods)) == [(start, planned)]
    assert [i.judgement.reason for i in coverage.ignored] == ["left_without_joined"]


def test_backdated_rejoin_never_overlaps_the_previous_period() -> None:
    first, left, rejoined = at_jst(2024, 4, 1), at_jst(2024, 6, 1), at_jst(2024, 7, 1)
    events = [
        enrol(first, "DCM"),
        enrol(left, "DCM", LEFT),
        enrol(rejoined, "DCM", starts_at=first),  # claims to start before it left
    ]
    assert spans(enrolment_periods(events, "DCM", FAR)) == [(first, left), (left, None)]


# --------------------------------------------------------------------------- KDN-C0..C2 monitoring


def mon(at: datetime, kind: MonitoringEventKind, card: str = "card-1") -> MonitoringEvent:
    return MonitoringEvent(f"m{next(_ids):06d}", "cust-1", at, kind, card)


REG = MonitoringEventKind.CARD_REGISTERED
UNREG = MonitoringEventKind.CARD_UNREGISTERED
ALERT = MonitoringEventKind.LEAK_ALERT_DELIVERED


def test_kdn_c1_registration_in_force_and_c2_alerts() -> None:
    events = [
        mon(T1, REG),
        mon(T2, REG),  # registered twice: the first still counts
        mon(T3, ALERT),
        mon(T3, ALERT, card="card-2"),
        mon(T4, UNREG),
        mon(T5, REG),
        mon(T5 + timedelta(hours=1), ALERT),
    ]
    state = monitoring_state(events, "card-1", T3)
    assert state.registered_at == T1
    assert state.alerts_delivered_at == (T3,)
    assert monitoring_state(events, "card-1", T4).registered_at is None
    later = monitoring_state(list(reversed(events)), "card-1", FAR)
    assert later.registered_at == T5
    assert later.alerts_delivered_at == (T3, T5 + timedelta(hours=1))
    assert spans(list(later.registrations)) == [(T1, T4), (T5, None)]
    assert monitoring_state(events, "card-1", T1 - US).registered_at is None


# --------------------------------------------------------------------------- property: order

INSTANTS = [
    at_jst(2024, 3, 31, 23),
    at_jst(2024, 4, 1),
    *(at_jst(2024, m, 1) for m in range(5, 13)),
]

# Weighted towards events that count, so that most examples do produce periods.
activation_events = st.builds(
    lambda i, at, app, action, device, channel, phone: Activation(
        f"id{i}", "cust-1", at, app, action, device, channel, phone
    ),
    st.integers(0, 30),  # ids may repeat: the order must still not matter
    st.sampled_from(INSTANTS),
    st.sampled_from(
        [
            N360,
            N360,
            MONITOR,
            MONITOR,
            SecurityApp.J_SAFE,
            SecurityApp.J_SAFE_3,
            SecurityApp.VIRUS_BUSTER_CLOUD_MONTHLY_1,
            SecurityApp.UNSPECIFIED,
        ]
    ),
    st.sampled_from([ON, ON, ON, OFF, INVALID, ActivationAction.UNSPECIFIED]),
    st.sampled_from(["", "phone-1", "phone-1", "phone-2"]),
    st.sampled_from(["carrier_shop", "carrier_shop", "carrier_shop", "online_store"]),
    st.sampled_from(["billed", "billed", "billed", ""]),
)

enrolment_events = st.builds(
    lambda i, at, policy, action, plan, person, starts, ends: Enrolment(
        f"id{i}", "cust-1", at, policy, action, plan, person, "", starts, ends
    ),
    st.integers(0, 30),
    st.sampled_from(INSTANTS),
    st.sampled_from(["ISA", "JPE", "DCM"]),
    st.sampled_from([JOINED, JOINED, LEFT, EnrolmentAction.UNSPECIFIED]),
    st.sampled_from(["j_safe", "j_safe", "norton_360", ""]),
    st.sampled_from(["", "me", "me", "spouse"]),
    st.none() | st.sampled_from(INSTANTS),
    st.none() | st.sampled_from(INSTANTS),
)


def _all_coverage(
    acts: list[Activation], enrolments: list[Enrolment], as_of: datetime
) -> tuple[Coverage, ...]:
    return (
        kdn_coverage(acts, as_of),
        isa_coverage(acts, as_of),
        *(enrolment_coverage(enrolments, p, as_of) for p in ("ISA", "JPE", "DCM")),
    )


@settings(max_examples=300, deadline=None)
@given(
    acts=st.lists(activation_events, max_size=20),
    enrolments=st.lists(enrolment_events, max_size=20),
    as_of=st.sampled_from([*INSTANTS, FAR]),
    data=st.data(),
)
def test_shuffling_events_never_changes_the_periods(
    acts: list[Activation], enrolments: list[Enrolment], as_of: datetime, data: st.DataObject
) -> None:
    expected = _all_coverage(acts, enrolments, as_of)
    shuffled_acts = data.draw(st.permutations(acts))
    shuffled_enrolments = data.draw(st.permutations(enrolments))
    assert _all_coverage(shuffled_acts, shuffled_enrolments, as_of) == expected
    # And periods never overlap and are in time order.
    for coverage in expected:
        ps = coverage.periods
        for a, b in pairwise(ps):
            assert a.ends_at is not None and a.ends_at <= b.starts_at


# --------------------------------------------------------------------------- ordering


def test_visible_orders_as_by_time_id_and_text_form() -> None:
    """``_visible`` sorts by (time, id) and consults the text form only on ties:
    the order must be exactly that of sorting by (time, id, repr)."""
    from checks.coverage import _visible

    rnd = random.Random(7)
    times = [at_jst(2026, 4, 1, h) for h in range(4)]
    for _ in range(400):
        events = [
            Enrolment(
                rnd.choice(["e1", "e2", "e3"]),
                "cust-1",
                rnd.choice(times),
                rnd.choice(["HNB", "DCM"]),
                rnd.choice([EnrolmentAction.JOINED, EnrolmentAction.LEFT]),
                rnd.choice(["", "a"]),
            )
            for _ in range(rnd.randint(0, 6))
        ]
        as_of = rnd.choice(times)
        expected = sorted(
            (e for e in events if e.event_time <= as_of),
            key=lambda e: (e.event_time, e.client_event_id, repr(e)),
        )
        got = _visible(events, as_of)
        assert [id(e) for e in got] == [id(e) for e in expected]


# --------------------------------------------------------------------------- undecided cover
# An event that might have given cover but cannot be judged from the record
# (UNKNOWN) says which instants it might have covered; one that does not count
# (FAIL) says none. A claim there is REVIEW naming the fact, never DENY.


def test_kdn_activation_without_the_billed_phone_might_cover_from_its_instant() -> None:
    coverage = kdn_coverage([act(T1, N360, phone="", eid="no-phone"), act(T2, MONITOR)], FAR)
    [u] = coverage.undecided
    assert (u.client_event_id, u.may_cover) == ("no-phone", (T1, None))
    assert cov.undecided_at(coverage.undecided, T1 - US) == ()
    assert cov.undecided_at(coverage.undecided, T1) == (u,)
    assert cov.undecided_fact("KDN", u) == "context.coverage[KDN]: activation.phone_ref (no-phone)"


def test_kdn_activation_outside_the_shop_is_not_undecided() -> None:
    coverage = kdn_coverage([act(T1, N360, channel="web"), act(T2, MONITOR)], FAR)
    assert coverage.undecided == ()


def test_kdn_undecided_cover_ends_with_the_campaign() -> None:
    coverage = kdn_coverage([act(T1, N360, phone="")], FAR, kdn_with(campaign_ends_at=T3))
    [u] = coverage.undecided
    assert u.may_cover == (T1, T3)


def test_isa_enrolment_without_plan_might_cover_its_span_from_the_policy_start() -> None:
    start = at_jst(2023, 6, 1)
    end = at_jst(2025, 6, 1)
    coverage = enrolment_coverage([enrol(start, "ISA", ends_at=end, eid="no-plan")], "ISA", FAR)
    [u] = coverage.undecided
    assert u.judgement.reason == "plan_not_reported"
    assert u.may_cover == (at_jst(2024, 4, 1), end)  # ISA-P2: nothing before 2024-04-01
    unlisted = enrolment_coverage([enrol(start, "ISA", plan="other")], "ISA", FAR)
    assert unlisted.undecided == () and unlisted.ignored  # FAIL: does not count, decided


@pytest.mark.parametrize("plan", ["j_safe", "J_SAFE", "ｊ＿ｓａｆｅ", " Ｊ＿ＳＡＦＥ "])
def test_isa_plans_compare_in_nfkc_and_any_case(plan: str) -> None:
    joined = at_jst(2025, 4, 1)
    periods = enrolment_periods([enrol(joined, "ISA", plan=plan)], "ISA", FAR)
    assert spans(periods) == [(joined, None)]


def test_a_left_ends_the_undecided_cover_of_a_planless_joined_before_it() -> None:
    # isa-u3: joined without plan 2024-06-01, left 2024-12-01, joined j_safe 2025-02-01.
    joined, left, rejoined = at_jst(2024, 6, 1), at_jst(2024, 12, 1), at_jst(2025, 2, 1)
    events = [
        enrol(joined, "ISA", eid="no-plan"),
        enrol(left, "ISA", LEFT, eid="left"),
        enrol(rejoined, "ISA", plan="j_safe", eid="planned"),
    ]
    coverage = enrolment_coverage(events, "ISA", FAR)
    [u] = coverage.undecided  # the LEFT is paired with it, not "left without joined"
    assert (u.client_event_id, u.may_cover) == ("no-plan", (joined, left))
    assert cov.undecided_at(coverage.undecided, left - US) == (u,)
    assert cov.undecided_at(coverage.undecided, left) == ()  # after the LEFT: no cover
    assert spans(list(coverage.periods)) == [(rejoined, None)]
    # A planned end before the LEFT stays the end; a LEFT with its own ends_at ends there.
    planned = enrol(joined, "ISA", ends_at=at_jst(2024, 9, 1), eid="no-plan")
    [u] = enrolment_coverage([planned, events[1]], "ISA", FAR).undecided
    assert u.may_cover == (joined, at_jst(2024, 9, 1))
    backdated = enrol(left, "ISA", LEFT, ends_at=at_jst(2024, 10, 1), eid="left")
    [u] = enrolment_coverage([events[0], backdated], "ISA", FAR).undecided
    assert u.may_cover == (joined, at_jst(2024, 10, 1))


def test_a_left_also_ends_a_planless_joined_inside_a_decided_period() -> None:
    start, second, left = at_jst(2024, 6, 1), at_jst(2024, 8, 1), at_jst(2024, 12, 1)
    events = [
        enrol(start, "ISA", plan="j_safe"),
        enrol(second, "ISA", eid="no-plan"),
        enrol(left, "ISA", LEFT),
    ]
    coverage = enrolment_coverage(events, "ISA", FAR)
    assert spans(list(coverage.periods)) == [(start, left)]
    [u] = coverage.undecided
    assert u.may_cover == (second, left)


def test_a_left_without_joined_leaves_the_time_before_it_undecided() -> None:
    left = at_jst(2025, 4, 1)
    coverage = enrolment_coverage([enrol(left, "DCM", LEFT, eid="left")], "DCM", FAR)
    [u] = coverage.undecided
    assert u.may_cover == (None, left)
    assert cov.undecided_at(coverage.undecided, left) == ()
    # After a period on record, a second LEFT is a repeat, not a hidden contract.
    joined = at_jst(2024, 4, 1)
    events = [enrol(joined, "DCM"), enrol(left - US, "DCM", LEFT), enrol(left, "DCM", LEFT)]
    assert enrolment_coverage(events, "DCM", FAR).undecided == ()
