"""The charts' counting and drawing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.console import charts as ch

NOW = datetime(2025, 4, 10, 3, 0, tzinfo=UTC)


def claim(hours: float, policy: str, outcome: str, *clauses: str) -> ch.Claim:
    return ch.Claim(NOW + timedelta(hours=hours), policy, outcome, clauses)


def test_outcomes_are_counted_per_policy_per_japanese_day() -> None:
    claims = [
        claim(0, "HNB", "APPROVE"),  # 12:00 JST on the 10th
        claim(14.5, "HNB", "DENY"),  # 2025-04-10 17:30 UTC = 02:30 JST on the 11th
        claim(1, "HNB", "APPROVE"),
        claim(2, "DCM", "REVIEW"),
    ]
    days = ch.per_day(claims)
    assert list(days) == ["DCM", "HNB"]
    assert dict(days["HNB"]["2025-04-10"]) == {"APPROVE": 2}
    assert dict(days["HNB"]["2025-04-11"]) == {"DENY": 1}


def test_top_clauses_count_deny_and_review_once_per_claim() -> None:
    claims = [
        claim(0, "HNB", "DENY", "HNB-X3", "HNB-X3"),
        claim(0, "HNB", "REVIEW", "HNB-R1", "HNB-X3"),
        claim(0, "HNB", "APPROVE", "HNB-A1"),  # an approval decides nothing against
    ]
    assert ch.top_clauses(claims) == [("HNB-X3", 1, 1), ("HNB-R1", 0, 1)]


def test_queue_age_buckets_have_half_open_edges() -> None:
    ages = dict(
        ch.queue_ages([NOW - timedelta(days=d) for d in (0, 0.99, 1, 6.99, 7, 30, 45)], NOW)
    )
    assert ages == {"< 1 d": 2, "1–3 d": 1, "3–7 d": 1, "7–14 d": 1, "14–30 d": 0, "≥ 30 d": 2}


def test_cap_usage_comes_from_the_decisions_steps_and_reservations() -> None:
    result = {
        "computation": [
            {"name": "loss", "outputYen": "80000"},
            {
                "name": "cap HNB-L1/customer:c/year:2025",
                "clauseId": "HNB-L1",
                "note": "limit ¥10,000,000, used ¥2,000,000, remaining ¥8,000,000; not binding",
            },
        ]
    }
    inputs = {"bound": {"ledger": [["HNB-L1/customer:c/year:2025", 1_200_000, 1, ""]]}}
    uses = ch.cap_uses_of_claim(result, inputs)
    assert [(u.cap, u.limit, u.used) for u in uses] == [("HNB-L1", 10_000_000, 3_200_000)]
    later = ch.cap_uses_of_resolution(
        {
            "reservations": [
                {
                    "scopeKey": "HNB-L1/customer:c/year:2025",
                    "capIds": ["HNB-L1"],
                    "amountYen": "500000",
                    "limitYen": "10000000",
                    "usedYenBefore": "3200000",
                }
            ]
        }
    )
    best = ch.cap_usage(uses + later)
    assert [(u.scope, u.used) for u in best["HNB-L1"]] == [
        ("HNB-L1/customer:c/year:2025", 3_700_000)
    ]
    # A count-only cap (no yen limit) is no bar against a limit.
    assert (
        ch.cap_uses_of_resolution({"reservations": [{"scopeKey": "X-1/a", "limitYen": None}]}) == []
    )


def test_svg_escapes_what_it_is_given_and_draws_a_bar_per_value() -> None:
    days = ch.per_day([claim(0, "<script>", "APPROVE"), claim(0, "<script>", "DENY")])
    svg = ch.stacked_days("<script>", days["<script>"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="bar approve"') == 1 and svg.count('class="bar deny"') == 1
    bars = ch.hbars([("HNB-X3", [("deny", 3), ("review", 0)])], "top")
    assert bars.count("<rect") == 1 and "style=" not in bars
