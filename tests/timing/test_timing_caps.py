"""Caps (amount and count) and the full payout computation trace."""

from __future__ import annotations

from typing import Any

import pytest

from timing import (
    Cap,
    CapUsage,
    CountCap,
    apply_caps,
    compute_payout,
)


@pytest.mark.parametrize(
    ("requested", "used", "payable", "binding"),
    [
        (1_000_000, 0, 1_000_000, None),  # exactly at the cap: pays in full
        (1_000_001, 0, 1_000_000, "KDN-A1"),  # one yen over
        (999_999, 0, 999_999, None),
        (800_000, 300_000, 700_000, "KDN-A1"),  # already partially used
        (700_000, 300_000, 700_000, None),  # exactly the remainder
        (700_001, 300_000, 700_000, "KDN-A1"),
        (500_000, 1_000_000, 0, "KDN-A1"),  # already exhausted
        (500_000, 1_200_000, 0, "KDN-A1"),  # ledger overshot: still 0, never negative
        (0, 1_000_000, 0, None),
    ],
)
def test_kdn_a1_per_card_cap(requested: int, used: int, payable: int, binding: str | None) -> None:
    result = apply_caps(requested, [CapUsage("KDN-A1", 1_000_000, used, "card:abc")])
    assert result.payable == payable
    assert result.binding_cap == binding
    assert result.requested == requested
    assert result.capped is (payable < requested)
    (step,) = result.steps
    assert (step.clause_id, step.input, step.output) == ("KDN-A1", requested, payable)


@pytest.mark.parametrize(
    ("used_count", "payable", "binding"),
    [
        (0, 600_000, None),  # first payout in the policy year
        (1, 0, "KDN-L2"),  # second claim in the same policy year
        (2, 0, "KDN-L2"),
    ],
)
def test_kdn_l2_once_per_policy_year(used_count: int, payable: int, binding: str | None) -> None:
    caps: list[Cap] = [
        CountCap("KDN-L2", max_count=1, used_count=used_count, scope="insured:1/policy-year:2026"),
        CapUsage("KDN-L2", 1_000_000, 0, "insured:1/policy-year:2026"),
    ]
    result = apply_caps(600_000, caps)
    assert result.payable == payable
    assert result.binding_cap == binding
    if used_count:
        assert "no further payout" in result.steps[0].note


def test_tightest_of_several_caps_binds_in_any_order() -> None:
    per_series = CapUsage("DCM-A1", 1_000_000, 0, "series:7")
    programme = CapUsage("DCM-A4", 1_000_000_000, 999_800_000, "programme/year:2026")
    forward = apply_caps(900_000, [per_series, programme])
    backward = apply_caps(900_000, [programme, per_series])
    assert forward.payable == backward.payable == 200_000
    assert forward.binding_cap == backward.binding_cap == "DCM-A4"
    assert [s.output for s in forward.steps] == [900_000, 200_000]


def test_equally_tight_caps_first_one_binds() -> None:
    result = apply_caps(
        500_000, [CapUsage("ISA-A2", 300_000, 0, "year"), CapUsage("X", 300_000, 0, "other")]
    )
    assert (result.payable, result.binding_cap) == (300_000, "ISA-A2")


def test_no_caps_pays_the_request() -> None:
    result = apply_caps(123, [])
    assert (result.payable, result.binding, result.steps) == (123, None, ())


def test_caps_refuse_bad_values() -> None:
    with pytest.raises(ValueError):
        CapUsage("X", -1)
    with pytest.raises(ValueError):
        CapUsage("X", 100, -1)
    with pytest.raises(ValueError):
        CountCap("X", -1)
    with pytest.raises(ValueError):
        apply_caps(-1, [])
    not_caps: list[Any] = ["not a cap"]
    with pytest.raises(TypeError):
        apply_caps(1, not_caps)


# The full computation ---------------------------------------------------------------


def test_kdn_a1_ninety_percent_then_per_card_cap() -> None:
    comp = compute_payout(
        1_500_000,
        recovered=300_000,
        recovered_clause="KDN-7",
        percent=90,
        percent_clause="KDN-A1",
        caps=[CapUsage("KDN-A1", 1_000_000, 0, "card:abc")],
    )
    assert comp.loss == 1_500_000
    assert [(s.name, s.clause_id, s.input, s.output) for s in comp.steps] == [
        ("loss", "", 1_500_000, 1_500_000),
        ("minus recovered", "KDN-7", 1_500_000, 1_200_000),
        ("percentage", "KDN-A1", 1_200_000, 1_080_000),
        ("cap card:abc", "KDN-A1", 1_080_000, 1_000_000),
    ]
    assert comp.payable == 1_000_000
    assert comp.binding_cap == "KDN-A1"
    text = comp.explain()
    assert "percentage [KDN-A1]: ¥1,200,000 → ¥1,080,000 (90% rounded down to the yen)" in text
    assert text.endswith("payable: ¥1,000,000")


def test_kdn_a1_rounding_below_cap() -> None:
    comp = compute_payout(
        1_111_111, percent="90", percent_clause="KDN-A1", caps=[CapUsage("KDN-A1", 1_000_000)]
    )
    assert comp.payable == 999_999
    assert comp.binding_cap is None


def test_isa_a2_seventy_percent_with_partly_used_year() -> None:
    comp = compute_payout(
        100_001,
        percent=70,
        percent_clause="ISA-A2",
        caps=[CapUsage("ISA-A2", 300_000, 250_000, "subscriber:9/fy:2026")],
    )
    # 70% of 100,001 = 70,000.7 → 70,000; only 50,000 remains in the year.
    assert [s.output for s in comp.steps] == [100_001, 100_001, 70_000, 50_000]
    assert comp.payable == 50_000


def test_hnb_a1_recovered_more_than_loss_pays_nothing() -> None:
    comp = compute_payout(
        500_000,
        recovered=600_000,
        recovered_clause="HNB-A1",
        caps=[CapUsage("HNB-L1", 10_000_000, 0, "customer:1/year:2026")],
    )
    assert comp.payable == 0
    assert comp.binding_cap is None
    assert len(comp.steps) == 3  # loss, recovered, cap (no percentage step)
