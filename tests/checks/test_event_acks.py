"""The reply to an event: memoised judgements equal fresh ones, always."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from checks import event_model as em
from checks.event_acks import judge_event
from checks.security_standard import judge_payment_login, judge_registration
from rules.load import load_rules

RULES = load_rules().events
RETIRED = RULES.security.three_ds_1_retired_at

instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
)
auths = st.one_of(
    st.builds(
        em.ThreeDSecure,
        st.sampled_from(["1.0.2", "2.1.0", "2.2.0", "", "x"]),
        st.sampled_from(list("YNUACDRI")),
        st.sampled_from(["05", "06", "07", "02", ""]),
    ),
    st.builds(em.Otp, st.sampled_from(list(em.OtpChannel)), st.sampled_from([True, False, None])),
    st.just(em.PasswordOnly()),
    st.just(em.NoAuthentication()),
    st.just(em.CarrierLine("d")),
)
registrations = st.builds(
    em.Registration,
    st.uuids().map(str),
    st.sampled_from(["m-1", "m-2"]),
    instants,
    st.sampled_from(["paypay", "d-barai", "rakuten"]),
    st.builds(
        em.Instrument,
        st.sampled_from(["t1", "t2"]),
        st.sampled_from(["1111", "2222"]),
        st.sampled_from(list(em.InstrumentKind)),
        st.sampled_from(list(em.FundingSource)),
        st.sampled_from([True, False, None]),
    ),
    auths,
)


@settings(max_examples=400)
@given(registrations)
def test_memoised_registration_judgements_equal_fresh_ones(reg: em.Registration) -> None:
    assert judge_event(reg, RULES) == judge_registration(reg, RULES.security)


@settings(max_examples=200)
@given(
    st.builds(
        em.PaymentLogin,
        st.uuids().map(str),
        st.just("m-1"),
        instants,
        st.sampled_from(["paypay", "d-barai"]),
        st.sampled_from(list(em.PaymentLoginMethod)),
        st.one_of(st.none(), st.builds(em.Otp, st.sampled_from(list(em.OtpChannel)))),
    )
)
def test_memoised_login_judgements_equal_fresh_ones(login: em.PaymentLogin) -> None:
    assert judge_event(login, RULES) == judge_payment_login(login, RULES.security)


def test_3ds_1_judged_on_each_side_of_retirement_despite_memo() -> None:
    inst = em.Instrument("t", "1111", em.InstrumentKind.CREDIT_CARD, em.FundingSource.NONE, True)
    auth = em.ThreeDSecure("1.0.2", "Y", "05")

    def s1(at: datetime) -> str:
        reg = em.Registration("e", "m", at, "paypay", inst, auth)
        return next(j for j in judge_event(reg, RULES) if j.clause_id == "DCM-S1").status.value

    us = timedelta(microseconds=1)
    assert [s1(RETIRED - us), s1(RETIRED), s1(RETIRED - us)] == ["PASS", "FAIL", "PASS"]


def test_dcm_x4_left_enrolment_reply_says_where_the_cover_ends() -> None:
    """A LEFT ends the membership (保険責任期間…脱退した時に終わります): the reply says
    so, it does not say that no JOINED enrolment matched."""
    left_at = datetime(2026, 5, 10, 3, 1, tzinfo=UTC)
    left = em.Enrolment("e-2", "c-dcm", left_at, "DCM", em.EnrolmentAction.LEFT)
    (j,) = judge_event(left, RULES)
    assert (j.clause_id, j.status.value, j.reason) == ("DCM-X4", "PASS", "coverage_ends")
    assert "2026-05-10 12:01" in j.explanation_ja and "終了" in j.explanation_ja
    assert "見つからない" not in j.explanation_ja
    joined = em.Enrolment("e-1", "c-dcm", left_at, "DCM", em.EnrolmentAction.JOINED)
    (k,) = judge_event(joined, RULES)
    assert k.reason == "coverage_period"
