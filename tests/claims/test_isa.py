"""ISA — ネットトラブル弁護士費用保険, clause by clause.

Baselines (``builders``): a listed security product subscribed (cover from
2024-04-01 00:00 JST, ISA-P2); insured person "person-1".

* ``isa``: a ¥30,000 legal consultation on 2026-05-01 for trouble caused on
  2026-04-20 → ¥20,000 (per-consultation limit).
* ``isa_fees``: ¥200,000 of lawyer fees on 2026-05-01 → 70% = ¥140,000.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from checks.model import CheckStatus
from rules.engine import Decision
from tests.claims.builders import (
    APPROVE,
    DENY,
    REVIEW,
    US,
    Book,
    Case,
    ClaimEdit,
    both,
    case_ids,
    cover,
    inc,
    isa,
    isa_fees,
    money,
    no_cover_record,
    period,
    policies,
    run_case,
    stated,
    unstated,
    used,
)
from tests.claims.builders import (
    decided_again as _decided_again,
)
from tests.claims.builders import (
    moved as _moved,
)
from tests.claims.builders import (
    paid_again as _paid_again,
)
from tests.claims.builders import (
    same as _same,
)
from timing import at_jst

CONSULTATION_YEAR_2026 = "ISA-A1/customer:c-isa/year:2026"
FEES_YEAR_2026 = "ISA-A2/customer:c-isa/year:2026"
FEES_BILL = "ISA-A2/customer:c-isa/at:2026-05-01T05:00:00.000000Z"  # the bill: incurred_at
# ISA-I1's 補償期間: the insurance year from April 1 (the claim's cost, 2026-05-01, is in 2026).
PERSONS = "ISA-I1/customer:c-isa/year:2026"
PERSONS_2025 = "ISA-I1/customer:c-isa/year:2025"
# A one-second gap in the subscription before the cost was incurred.
GAP_ENDS = at_jst(2026, 4, 20, 10)
GAP = cover(
    "ISA",
    period(at_jst(2024, 4, 1), GAP_ENDS),
    period(GAP_ENDS + timedelta(seconds=1)),
)


def incurred(t: datetime) -> ClaimEdit:
    return inc(incurred_at=t)


# --------------------------------------------------------------------------- who and when


def relative(degree: int, **facts: bool) -> ClaimEdit:
    """The insured person is a relative of this degree (親等), not the subscriber."""
    return inc(insured_is_subscriber=False, relative_degree=degree, **facts)


COVER = [
    # ISA-P1: an active subscription to a listed product when the cost is incurred
    Case(
        "isa_p1_no_subscription_when_the_cost_was_incurred_denies",
        "ISA-P1.subscription",
        True,
        DENY,
        context=cover("ISA", period(at_jst(2024, 4, 1), at_jst(2026, 5, 1, 14))),
    ),
    Case(
        "isa_p1_subscription_ending_one_microsecond_later_approves",
        "ISA-P1.subscription",
        False,
        APPROVE,
        context=cover("ISA", period(at_jst(2024, 4, 1), at_jst(2026, 5, 1, 14) + US)),
    ),
    Case(
        "isa_p1_subscriptions_not_provided_reviews",
        "ISA-P1.subscription",
        True,
        REVIEW,
        context=no_cover_record("ISA"),
        missing="context.coverage[ISA]",
    ),
    # ISA-P1 (trouble), the seed's definition: 「ネットトラブルとは 1. インターネットを
    # 通じて生じた…事由に起因して、他人との間に発生したトラブルをいいます。」
    Case(
        "isa_p1_trouble_through_the_internet_approves",
        "ISA-P1.trouble",
        False,
        APPROVE,
        inc(through_internet=True),
    ),
    Case(
        "isa_p1_trouble_not_through_the_internet_denies",
        "ISA-P1.trouble",
        True,
        DENY,
        inc(through_internet=False),
    ),
    Case(
        "isa_p1_trouble_through_the_internet_not_stated_reviews",
        "ISA-P1.trouble",
        True,
        REVIEW,
        inc(through_internet=None),
        missing="legal_cost.through_internet",
    ),
    # ISA-P2: in force from 2024-04-01 00:00 JST, also for earlier subscribers
    Case(
        "isa_p2_consultation_at_0000_on_2024_04_01_approves",
        "ISA-P2",
        False,
        APPROVE,
        lambda c: inc(incurred_at=at_jst(2024, 4, 1), cause_at=at_jst(2024, 3, 1))(c),
        cover("ISA", period(at_jst(2023, 1, 1))),
    ),
    Case(
        "isa_p2_consultation_one_microsecond_earlier_denies",
        "ISA-P2",
        True,
        DENY,
        lambda c: inc(incurred_at=at_jst(2024, 4, 1) - US, cause_at=at_jst(2024, 3, 1))(c),
        cover("ISA", period(at_jst(2023, 1, 1))),
    ),
    # ISA-I1: one insured person per coverage period
    Case(
        "isa_i1_the_enrolled_insured_person_approves",
        "ISA-I1",
        False,
        APPROVE,
        context=cover("ISA", period(at_jst(2024, 4, 1), None, "person-1")),
    ),
    Case(
        "isa_i1_a_second_person_in_the_period_denies",
        "ISA-I1",
        True,
        DENY,
        inc(insured_person_ref="person-2"),
        cover("ISA", period(at_jst(2024, 4, 1), None, "person-1", "person-2")),
    ),
    Case(
        "isa_i1_another_person_already_paid_in_the_period_denies",
        "ISA-I1",
        True,
        DENY,
        inc(insured_person_ref="person-2"),
        ledger={PERSONS: used(20_000, 1, frozenset({"person-1"}))},
    ),
    # 「※1補償期間で対象となるのは1名のみ」: a gap in the cover does not reset it.
    Case(
        "isa_i1_a_second_person_after_a_one_second_gap_in_the_same_year_denies",
        "ISA-I1",
        True,
        DENY,
        inc(insured_person_ref="person-2"),
        GAP,
        ledger={PERSONS: used(20_000, 1, frozenset({"person-1"}))},
    ),
    Case(
        "isa_i1_a_second_person_in_the_next_insurance_year_approves",
        "ISA-I1",
        False,
        APPROVE,
        inc(insured_person_ref="person-2"),
        GAP,
        ledger={PERSONS_2025: used(20_000, 1, frozenset({"person-1"})), PERSONS: used()},
    ),
    Case(
        "isa_i1_a_second_enrolled_person_after_a_gap_in_the_same_year_denies",
        "ISA-I1",
        True,
        DENY,
        inc(insured_person_ref="person-2"),
        cover(
            "ISA",
            period(at_jst(2024, 4, 1), GAP_ENDS, "person-1"),
            period(GAP_ENDS + timedelta(seconds=1), None, "person-2"),
        ),
    ),
    Case(
        "isa_i1_the_person_enrolled_from_the_next_insurance_year_approves",
        "ISA-I1",
        False,
        APPROVE,
        inc(insured_person_ref="person-2"),
        cover(
            "ISA",
            period(at_jst(2024, 4, 1), at_jst(2026, 3, 31, 23), "person-1"),
            period(at_jst(2026, 4, 1), None, "person-2"),
        ),
    ),
    Case(
        "isa_i1_the_same_person_again_approves",
        "ISA-I1",
        False,
        APPROVE,
        ledger={PERSONS: used(20_000, 1, frozenset({"person-1"}))},
    ),
    Case(
        "isa_i1_insured_person_not_stated_reviews",
        "ISA-I1",
        True,
        REVIEW,
        inc(insured_person_ref=""),
        missing="legal_cost.insured_person_ref",
    ),
    # ISA-I1 「サービス加入者と生計を同一にし、同居する2親等以内の親族(別居の未婚の子を含みます。)」
    Case("isa_i1_the_subscriber_themself_approves", "ISA-I1.relation", False, APPROVE),
    Case(
        "isa_i1_nephew_third_degree_living_together_denies",
        "ISA-I1.relation",
        True,
        DENY,
        relative(3, lives_with_subscriber=True, shares_livelihood=True),
    ),
    Case(
        "isa_i1_grandchild_second_degree_living_together_approves",
        "ISA-I1.relation",
        False,
        APPROVE,
        relative(2, lives_with_subscriber=True, shares_livelihood=True),
    ),
    Case(
        "isa_i1_spouse_living_together_approves",
        "ISA-I1.relation",
        False,
        APPROVE,
        relative(0, lives_with_subscriber=True, shares_livelihood=True),
    ),
    Case(
        "isa_i1_second_degree_living_together_own_livelihood_denies",
        "ISA-I1.relation",
        True,
        DENY,
        relative(2, lives_with_subscriber=True, shares_livelihood=False),
    ),
    Case(
        "isa_i1_sibling_living_apart_denies",
        "ISA-I1.relation",
        True,
        DENY,
        relative(2, lives_with_subscriber=False, shares_livelihood=True, is_child=False),
    ),
    Case(
        "isa_i1_unmarried_child_living_apart_approves",
        "ISA-I1.relation",
        False,
        APPROVE,
        relative(1, lives_with_subscriber=False, is_child=True, unmarried=True),
    ),
    Case(
        "isa_i1_married_child_living_apart_denies",
        "ISA-I1.relation",
        True,
        DENY,
        relative(1, lives_with_subscriber=False, is_child=True, unmarried=False),
    ),
    Case(
        "isa_i1_relation_not_stated_reviews",
        "ISA-I1.relation",
        True,
        REVIEW,
        inc(insured_is_subscriber=None),
        missing="legal_cost.insured_is_subscriber",
    ),
    Case(
        "isa_i1_living_together_but_livelihood_not_stated_reviews",
        "ISA-I1.relation",
        True,
        REVIEW,
        relative(1, lives_with_subscriber=True),
        missing="legal_cost.shares_livelihood",
    ),
    # ISA-X22: a cause before the first-year cover start (2024-04-01 00:00 JST)
    Case(
        "isa_x22_cause_one_microsecond_before_the_first_cover_start_denies",
        "ISA-X22",
        True,
        DENY,
        inc(cause_at=at_jst(2024, 4, 1) - US),
    ),
    Case(
        "isa_x22_cause_at_the_first_cover_start_approves",
        "ISA-X22",
        False,
        APPROVE,
        inc(cause_at=at_jst(2024, 4, 1)),
    ),
    Case(
        "isa_x22_cause_not_stated_reviews",
        "ISA-X22",
        True,
        REVIEW,
        inc(cause_at=None),
        missing="legal_cost.cause_at",
    ),
    Case(
        "isa_x22_cause_not_dated_but_stated_after_the_start_approves",
        "ISA-X22",
        False,
        APPROVE,
        lambda c: stated("ISA-X22", False)(inc(cause_at=None)(c)),
    ),
    # ISA-X28: 「勝訴の見込み…のないことが明らかな場合」 — only *clearly* no prospect (2(2))
    Case(
        "isa_x28_clearly_no_prospect_denies",
        "ISA-X28",
        True,
        DENY,
        inc(success_prospect_found=None, clearly_no_prospect=True),
    ),
    Case(
        "isa_x28_not_clearly_without_prospect_approves",
        "ISA-X28",
        False,
        APPROVE,
        inc(success_prospect_found=None, clearly_no_prospect=False),
    ),
    Case(
        "isa_x28_no_prospect_found_is_not_clearly_none_reviews",
        "ISA-X28",
        True,
        REVIEW,
        inc(success_prospect_found=False),
        missing="legal_cost.clearly_no_prospect",
    ),
    Case(
        "isa_x28_none_found_but_not_clearly_none_approves",
        "ISA-X28",
        False,
        APPROVE,
        inc(success_prospect_found=False, clearly_no_prospect=False),
    ),
    Case("isa_x28_prospect_of_success_found_approves", "ISA-X28", False, APPROVE),
    Case(
        "isa_x28_finding_not_stated_reviews",
        "ISA-X28",
        True,
        REVIEW,
        inc(success_prospect_found=None),
        missing="legal_cost.clearly_no_prospect",
    ),
    # ISA-X27: abusive claims (2(1)①–④) — the insurer's finding
    Case("isa_x27_abusive_claim_found_denies", "ISA-X27", True, DENY, stated("ISA-X27")),
    Case("isa_x27_not_abusive_approves", "ISA-X27", False, APPROVE),
    Case(
        "isa_x27_finding_not_stated_reviews",
        "ISA-X27",
        True,
        REVIEW,
        unstated("ISA-X27"),
        missing="facts.exclusions[ISA-X27]",
    ),
]


@pytest.mark.parametrize("case", COVER, ids=case_ids(COVER))
def test_isa_cover(case: Case) -> None:
    run_case(case, isa)


# ------------------------------------------------------------------ the 26 numbered exclusions

# (clause, the Japanese item it quotes). X22 is dated (above); X23 only excludes the
# excessive part of the fees, so it sends the claim to a human (REVIEW) instead of DENY.
NUMBERED = [
    ("ISA-X1", "被保険者の闘争行為※1、自殺行為、犯罪行為または重大な過失"),
    ("ISA-X2", "被保険者でない者※2が保険金の全部または一部を受取るべき場合において"),
    ("ISA-X3", "被保険者が他人に損失を与えることを認識していながら※3行った行為"),
    ("ISA-X4", "保険契約者および本サービスの提供会社(販売代理店を含む)と被保険者の間"),
    ("ISA-X5", "婚姻、離婚、親子関係、養子、親権、後見、扶養または相続について生じた事由"),
    ("ISA-X6", "保険契約または共済契約等について生じた事由"),
    ("ISA-X7", "被保険者の親権者または法定監督義務者に係る相談事案または法律事案"),
    ("ISA-X8", "契約上の地位の移転、債権譲渡、債権引受、相続その他の事由により権利義務の移転"),
    ("ISA-X9", "社会通念上、法的解決になじまないと考えられるトラブル"),
    ("ISA-X10", "憲法、条約、法律、命令、規則および条例の制定または改廃について要求するもの"),
    ("ISA-X11", "自動車交通事故に起因するもの"),
    ("ISA-X12", "私生活以外の事由に起因するもの"),
    ("ISA-X13", "契約の不履行、対人賠償、対物賠償に起因する損害"),
    ("ISA-X14", "国、地方公共団体、行政庁その他の行政機関を相手方とするもの"),
    ("ISA-X15", "経済状況または社会情勢の変化等に伴って変動したことにより"),
    ("ISA-X16", "預託等取引契約※5に関するもの"),
    ("ISA-X17", "連鎖販売取引※6または無限連鎖講※7 に関する取引に関するもの"),
    ("ISA-X18", "刑事事件※8、少年事件※9または医療観察事件※10"),
    ("ISA-X19", "保険契約者または被保険者の公序良俗に反する行為または社会通念上不当な請求行為"),
    ("ISA-X20", "引受保険会社、引受保険会社の株主またはその関連法人"),
    ("ISA-X21", "弁護士等委任契約を締結した弁護士等を相手方とする場合"),
    ("ISA-X22", "初年度補償開始日よりも前に発生した原因に起因する損害"),
    ("ISA-X23", "明らかに過大であると当社が判断した費用の過大部分"),
    ("ISA-X24", "国外で発生したネットトラブル"),
    ("ISA-X25", "ネットトラブルに起因する損害賠償金"),
    ("ISA-X26", "引受保険会社指定の書類の提出が引受保険会社にて確認できない場合"),
]


@pytest.mark.parametrize(("clause_id", "quote"), NUMBERED, ids=[c for c, _ in NUMBERED])
def test_isa_numbered_exclusions_quote_the_seed(clause_id: str, quote: str) -> None:
    clause = policies().get("ISA").clause(clause_id)
    assert quote.replace(" ", "") in clause.text_ja.replace(" ", "")


def _slug(cid: str) -> str:
    return cid.lower().replace("-", "_")


EXCLUSIONS = [
    row
    for cid, _ in NUMBERED
    if cid != "ISA-X22"
    for row in (
        Case(
            f"{_slug(cid)}_stated_true_" + ("reviews" if cid == "ISA-X23" else "denies"),
            cid,
            True,
            REVIEW if cid == "ISA-X23" else DENY,
            stated(cid),
        ),
        Case(f"{_slug(cid)}_stated_false_approves", cid, False, APPROVE),
        Case(
            f"{_slug(cid)}_not_stated_reviews",
            cid,
            True,
            REVIEW,
            unstated(cid),
            missing=f"facts.exclusions[{cid}]",
        ),
    )
]


@pytest.mark.parametrize("case", EXCLUSIONS, ids=case_ids(EXCLUSIONS))
def test_isa_numbered_exclusions(case: Case) -> None:
    run_case(case, isa)


# --------------------------------------------------------------------------- amounts

CONSULTATION = [
    # ISA-A1: ¥20,000 per consultation, ¥100,000 a year (ASSUMPTION: year from April 1)
    Case(
        "isa_a1_consultation_over_20000_is_capped",
        "ISA-A1.per_consultation",
        True,
        APPROVE,
        payable=20_000,
    ),
    Case(
        "isa_a1_consultation_of_exactly_20000_is_paid",
        "ISA-A1.per_consultation",
        False,
        APPROVE,
        money(loss_yen=20_000),
        payable=20_000,
    ),
    Case(
        "isa_a1_consultation_of_20001_is_capped",
        "ISA-A1.per_consultation",
        True,
        APPROVE,
        money(loss_yen=20_001),
        payable=20_000,
    ),
    Case(
        "isa_a1_year_with_exactly_20000_left_pays_it_all",
        "ISA-A1.annual",
        False,
        APPROVE,
        payable=20_000,
        ledger={CONSULTATION_YEAR_2026: used(80_000, 4)},
    ),
    Case(
        "isa_a1_year_with_10000_left_caps_the_payout",
        "ISA-A1.annual",
        True,
        APPROVE,
        payable=10_000,
        ledger={CONSULTATION_YEAR_2026: used(90_000, 5)},
    ),
    Case(
        "isa_a1_year_used_up_denies",
        "ISA-A1.annual",
        True,
        DENY,
        ledger={CONSULTATION_YEAR_2026: used(100_000, 5)},
    ),
    Case(
        "isa_a1_consultation_on_mar_31_2359_counts_in_the_previous_year",
        "ISA-A1.annual",
        False,
        APPROVE,
        incurred(at_jst(2026, 3, 31, 23, 59, 59, 999999)),
        payable=20_000,
        ledger={CONSULTATION_YEAR_2026: used(100_000, 5)},
    ),
    Case(
        "isa_a1_consultation_on_apr_1_0000_counts_in_the_new_year",
        "ISA-A1.annual",
        True,
        DENY,
        lambda c: inc(incurred_at=at_jst(2026, 4, 1), cause_at=at_jst(2026, 3, 1))(c),
        ledger={CONSULTATION_YEAR_2026: used(100_000, 5)},
    ),
    Case(
        "isa_a2_percentage_does_not_apply_to_a_consultation",
        "ISA-A2.percentage",
        False,
        APPROVE,
        payable=20_000,
    ),
    Case(
        "isa_a1_cost_reimbursed_elsewhere_is_deducted",
        "ISA-A1.net_cost",
        True,
        APPROVE,
        money(loss_yen=30_000, recovered_yen=15_000),
        payable=15_000,
    ),
    Case("isa_a1_nothing_reimbursed", "ISA-A1.net_cost", False, APPROVE, payable=20_000),
    # ISA-A3: no limit on the number of claims within the amount limits
    Case(
        "isa_a3_fiftieth_consultation_of_the_year_within_the_amount_approves",
        "ISA-A3",
        False,
        APPROVE,
        money(loss_yen=1_000),
        payable=1_000,
        ledger={CONSULTATION_YEAR_2026: used(49_000, 49)},
    ),
    Case(
        "isa_a3_no_count_limit_does_not_lift_the_amount_limit",
        "ISA-A3",
        False,
        DENY,
        ledger={CONSULTATION_YEAR_2026: used(100_000, 2)},
    ),
]

FEES = [
    # ISA-A2.per_bill: the fees of one bill (incurred_at) are paid once
    Case(
        "isa_a2_same_bill_already_paid_denies",
        "ISA-A2.per_bill",
        True,
        DENY,
        ledger={FEES_BILL: used(140_000, 1)},
    ),
    Case(
        "isa_a2_same_bill_partly_paid_with_larger_fees_is_review",
        "ISA-A2.per_bill",
        True,
        REVIEW,
        payable=0,  # not the ¥40,000 more: nothing is paid on top automatically
        ledger={FEES_BILL: used(100_000, 1)},
    ),
    Case(
        "isa_a2_bill_not_paid_before_pays_its_70_percent",
        "ISA-A2.per_bill",
        False,
        APPROVE,
        payable=140_000,
    ),
    # ISA-A2: 70% of the fees, ¥300,000 a year
    Case("isa_a2_pays_70_percent_of_the_fees", "ISA-A2.percentage", True, APPROVE, payable=140_000),
    Case(
        "isa_a2_70_percent_rounds_down_to_the_yen",
        "ISA-A2.percentage",
        True,
        APPROVE,
        money(loss_yen=333),
        payable=233,
    ),
    Case(
        "isa_a2_year_with_exactly_140000_left_pays_it_all",
        "ISA-A2.annual",
        False,
        APPROVE,
        payable=140_000,
        ledger={FEES_YEAR_2026: used(160_000, 1)},
    ),
    Case(
        "isa_a2_year_with_100000_left_caps_the_payout",
        "ISA-A2.annual",
        True,
        APPROVE,
        payable=100_000,
        ledger={FEES_YEAR_2026: used(200_000, 1)},
    ),
    Case(
        "isa_a2_year_used_up_denies",
        "ISA-A2.annual",
        True,
        DENY,
        ledger={FEES_YEAR_2026: used(300_000, 2)},
    ),
    Case(
        "isa_a2_fees_reimbursed_elsewhere_are_deducted_before_the_70_percent",
        "ISA-A2.net_cost",
        True,
        APPROVE,
        money(recovered_yen=100_000),
        payable=70_000,
    ),
    Case("isa_a2_nothing_reimbursed", "ISA-A2.net_cost", False, APPROVE, payable=140_000),
    Case(
        "isa_a2_does_not_use_the_consultation_limit",
        "ISA-A2.annual",
        False,
        APPROVE,
        payable=140_000,
        ledger={CONSULTATION_YEAR_2026: used(100_000, 5)},
    ),
]


@pytest.mark.parametrize("case", CONSULTATION, ids=case_ids(CONSULTATION))
def test_isa_consultation(case: Case) -> None:
    run_case(case, isa)


@pytest.mark.parametrize("case", FEES, ids=case_ids(FEES))
def test_isa_lawyer_fees(case: Case) -> None:
    run_case(case, isa_fees)


def test_isa_approve_reserves_the_insured_person_and_both_limits() -> None:
    d = run_case(Case("x", "ISA-I1", False, APPROVE), isa)
    by_key = {r.scope_key: r for r in d.reservations}
    assert by_key[PERSONS].insured_person_ref == "person-1"
    assert by_key[CONSULTATION_YEAR_2026].limit_yen == 100_000
    (one,) = [k for k in by_key if k.startswith("ISA-A1/customer:c-isa/at:")]
    assert by_key[one].limit_yen == 20_000
    assert all(r.amount_yen == 20_000 for r in d.reservations)


# ------------------------------------------------------------ ISA-A1 / ISA-A2, claim after claim
# The loss of one incident is paid once: an exact duplicate under a new claim id pays
# nothing; one stating more than was paid is REVIEW. The ISA parts have no near_days:
# another consultation or bill at another instant, however close, is paid.


def test_isa_a1_per_consultation_same_consultation_twice_pays_nothing_the_second_time() -> None:
    first, second = _decided_again(isa, _same, _same)
    assert (first.outcome, first.payable_yen) == (APPROVE, 20_000)
    assert (second.outcome, second.payable_yen) == (DENY, 0)
    finding = second.clause("ISA-A1.per_consultation")
    assert finding.status is CheckStatus.FAIL and "以前の決定で既に" in finding.explanation_ja


def test_isa_a1_per_consultation_a19b_cost_below_the_limit_is_not_paid_again() -> None:
    cost = money(loss_yen=15_000)
    in_utc = both(cost, _moved(timedelta(0), in_utc=True))
    assert _paid_again(isa, cost, cost, in_utc) == [("APPROVE", 15_000), ("DENY", 0), ("DENY", 0)]


def _is_near_review(d: Decision, label: str) -> None:
    """REVIEW citing ``label`` for another paid consultation / bill within a JST day."""
    assert (d.outcome, d.payable_yen, d.reservations) == (REVIEW, 0, ()), d.trace()
    assert [c.label for c in d.fired] == [label], d.trace()
    assert "前後1日以内" in d.clause(label).explanation_ja, d.trace()


def _is_review_of(d: Decision, label: str) -> None:
    """REVIEW citing ``label`` for a re-claim stating more than was paid; nothing paid."""
    assert (d.outcome, d.payable_yen, d.reservations) == (REVIEW, 0, ()), d.trace()
    assert [c.label for c in d.fired] == [label], d.trace()
    finding = d.clause(label)
    assert finding.effect.value == "REVIEW", d.trace()
    assert "それを超える損害" in finding.explanation_ja, d.trace()


def test_isa_a1_per_consultation_larger_cost_is_review() -> None:
    """¥15,000 paid, then the same consultation stated as ¥30,000: REVIEW, not ¥5,000 more."""
    first, larger = _decided_again(isa, money(loss_yen=15_000), money(loss_yen=30_000))
    assert (first.outcome, first.payable_yen) == (APPROVE, 15_000)
    _is_review_of(larger, "ISA-A1.per_consultation")


def test_isa_a1_per_consultation_another_consultation_two_jst_days_away_pays() -> None:
    cost = money(loss_yen=15_000)
    later = both(cost, _moved(timedelta(days=2)))
    assert _paid_again(isa, cost, later) == [("APPROVE", 15_000), ("APPROVE", 15_000)]


@pytest.mark.parametrize("delta", [US, timedelta(minutes=1)], ids=["one_microsecond", "one_minute"])
def test_isa_a1_per_consultation_moved_within_a_jst_day_is_review(delta: timedelta) -> None:
    """A19d NEW-2: the paid consultation claimed again at incurred_at moved by 1 µs or a
    minute was paid ¥20,000 again. Another consultation within a JST day either side
    (near_days) goes to a human."""
    cost = money(loss_yen=15_000)
    first, again = _decided_again(isa, cost, both(cost, _moved(delta)))
    assert (first.outcome, first.payable_yen) == (APPROVE, 15_000)
    _is_near_review(again, "ISA-A1.per_consultation")


def test_isa_a2_per_bill_same_bill_twice_pays_nothing_the_second_time() -> None:
    in_utc = _moved(timedelta(0), in_utc=True)
    assert _paid_again(isa_fees, _same, _same, in_utc) == [
        ("APPROVE", 140_000),
        ("DENY", 0),
        ("DENY", 0),
    ]


def test_isa_a2_per_bill_same_bill_with_larger_fees_is_review() -> None:
    """70% of ¥200,000 paid, then the same bill stated as ¥300,000: REVIEW, not ¥70,000 more."""
    first, larger = _decided_again(isa_fees, _same, money(loss_yen=300_000))
    assert (first.outcome, first.payable_yen) == (APPROVE, 140_000)
    _is_review_of(larger, "ISA-A2.per_bill")


def test_isa_parts_reserve_in_their_day_scope() -> None:
    """near_days = 1 (A19d NEW-2): an ISA payout counts in its incurred_at's JST day."""
    for scenario in (isa, isa_fees):
        (d,) = _decided_again(scenario, _same)
        assert d.outcome is APPROVE, d.trace()
        assert len([r.scope_key for r in d.reservations if "/day:" in r.scope_key]) == 1


def test_isa_a2_per_bill_another_bill_two_jst_days_away_pays() -> None:
    paid = _paid_again(isa_fees, _same, _moved(timedelta(days=2)))
    assert paid == [("APPROVE", 140_000), ("APPROVE", 140_000)]


def test_isa_a2_per_bill_the_bill_moved_by_a_microsecond_is_review() -> None:
    """A19d NEW-2: the paid bill at incurred_at + 1 µs was paid ¥140,000 again."""
    first, again = _decided_again(isa_fees, _same, _moved(US))
    assert (first.outcome, first.payable_yen) == (APPROVE, 140_000)
    _is_near_review(again, "ISA-A2.per_bill")


def test_isa_one_legal_cost_called_a_consultation_then_lawyer_fees_is_review() -> None:
    """A19e N3: the same cost at the same instant under the other kind met another
    part's keys — a bill paid ¥140,000 was paid again as a consultation, a refused
    consultation was paid as lawyer fees. The two parts share their incident's keys
    (incident_name "ISA-cost"): another kind of the same incident is seen."""
    fees, consultation = isa_fees(), isa()
    assert fees.claim.incident.incurred_at == consultation.claim.incident.incurred_at
    book = Book()
    assert book.decide(fees.claim, fees.context).payable_yen == 140_000
    d = book.decide(replace(consultation.claim, claim_id="as-consultation"), consultation.context)
    assert (d.outcome, d.payable_yen) == (REVIEW, 0), d.trace()
    assert "前後1日以内" in d.clause("ISA-A1.per_consultation").explanation_ja

    book = Book()
    refused = replace(
        consultation.claim, exclusions={**consultation.claim.exclusions, "ISA-X1": True}
    )
    assert book.decide(refused, consultation.context).outcome is DENY
    d = book.decide(replace(fees.claim, claim_id="as-fees"), fees.context)
    assert (d.outcome, d.payable_yen) == (REVIEW, 0), d.trace()
    assert "人による審査が必要と判定されています" in d.clause("ISA-A2.per_bill").explanation_ja
