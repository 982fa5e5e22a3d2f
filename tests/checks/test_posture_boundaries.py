"""Boundaries of the login posture check, on both sides (pure, no server).

- Grace (HNB-P1): Chrome 135 reached stable 2025-04-01 (00:00 UTC in the
  data); with a 14-day grace Chrome 134 is tolerated while 135 has been out
  for at most 14 days, i.e. up to 2025-04-15 00:00:00 UTC inclusive.
- Matrix revision (HNB-P4): Windows 10 leaves the matrix at
  2025-10-15 00:00 JST (= 2025-10-14 15:00 UTC).
- Staleness: Chrome data as_of 2025-06-30 + 30 days = 2025-07-30 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from checks.model import (
    AntivirusFacts,
    CheckStatus,
    ClientHints,
    LoginFacts,
    PhishwallFacts,
    TokenStatus,
    Verdict,
)
from checks.posture import evaluate_login
from rules.load import RuleSet

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)
US = timedelta(microseconds=1)


def facts(at: datetime, major: int, platform_version: str = "19.0.0") -> LoginFacts:
    hints = ClientHints(
        sec_ch_ua=f'"Google Chrome";v="{major}", "Chromium";v="{major}", "Not.A/Brand";v="99"',
        full_version_list=f'"Google Chrome";v="{major}.0.1.2", "Chromium";v="{major}.0.1.2"',
        platform='"Windows"',
        platform_version=f'"{platform_version}"',
        mobile="?0",
    )
    return LoginFacts(
        customer_id="c",
        device_id="d",
        login_time=at,
        user_agent=UA.format(v=major),
        hints=hints,
        antivirus=AntivirusFacts("ESET Internet Security", True, at - timedelta(hours=1)),
        phishwall=PhishwallFacts(True, "4.3.0", "2.1.0"),
        token_status=TokenStatus.ACTIVE,
    )


def status(rules: RuleSet, f: LoginFacts, check_id: str) -> tuple[CheckStatus, str]:
    result = evaluate_login(f, rules.posture)
    c = next(c for c in result.checks if c.check_id == check_id)
    return c.status, c.reason


GRACE_END = datetime(2025, 4, 15, 0, 0, tzinfo=UTC)  # 135 released 04-01 + 14 days


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (GRACE_END - timedelta(days=1), (CheckStatus.WARN, "newer_release_in_grace")),
        (GRACE_END, (CheckStatus.WARN, "newer_release_in_grace")),
        (GRACE_END + US, (CheckStatus.FAIL, "newer_release_past_grace")),
    ],
    ids=["day-13", "exactly-14-days", "14-days-plus-1us"],
)
def test_hnb_p1_grace_period_boundary(
    rules: RuleSet, at: datetime, expected: tuple[CheckStatus, str]
) -> None:
    assert status(rules, facts(at, 134), "browser.latest") == expected


def test_hnb_p1_before_the_new_release_the_old_one_is_latest(rules: RuleSet) -> None:
    # 2025-03-31 23:59:59.999999 UTC: Chrome 135 is not out yet, 134 is latest.
    at = datetime(2025, 4, 1, tzinfo=UTC) - US
    assert status(rules, facts(at, 134), "browser.latest") == (CheckStatus.PASS, "latest")


def test_hnb_p1_remediation_names_exact_version(rules: RuleSet) -> None:
    result = evaluate_login(facts(GRACE_END + US, 134), rules.posture)
    latest = next(c for c in result.checks if c.check_id == "browser.latest")
    assert "Google Chrome" in latest.message_ja and "135" in latest.message_ja


WIN10_OUT = datetime(2025, 10, 15, 0, 0, tzinfo=UTC) - timedelta(hours=9)  # 00:00 JST


@pytest.mark.parametrize(
    ("at", "os_status"),
    [(WIN10_OUT - US, CheckStatus.PASS), (WIN10_OUT, CheckStatus.FAIL)],
    ids=["2025-10-14T23:59:59.999999JST", "2025-10-15T00:00JST"],
)
def test_hnb_p4_windows_10_leaves_matrix_at_revision_effective_instant(
    rules: RuleSet, at: datetime, os_status: CheckStatus
) -> None:
    result = evaluate_login(facts(at, 138, platform_version="10.0.0"), rules.posture)
    os_check = next(c for c in result.checks if c.check_id == "os.supported")
    assert os_check.status is os_status
    assert result.matrix_revision is not None
    assert result.matrix_revision.id == ("2024-10" if os_status is CheckStatus.PASS else "2025-10")
    if os_status is CheckStatus.FAIL:
        assert result.verdict is Verdict.NON_COMPLIANT


def test_windows_without_hints_is_unknown_once_only_11_is_supported(rules: RuleSet) -> None:
    # "Windows NT 10.0" could be 10 or 11: fine while both are listed, unknowable after.
    no_hints = replace(facts(WIN10_OUT, 138), hints=None)
    assert status(rules, no_hints, "os.supported") == (CheckStatus.UNKNOWN, "os_version_ambiguous")
    earlier = replace(no_hints, login_time=WIN10_OUT - US)
    assert status(rules, earlier, "os.supported") == (CheckStatus.PASS, "os_supported")


STALE_AT = datetime(2025, 6, 30, tzinfo=UTC) + timedelta(days=30)


@pytest.mark.parametrize(
    ("at", "expected_reason"),
    [(STALE_AT, "latest"), (STALE_AT + US, "release_data_stale")],
    ids=["as_of+30d", "as_of+30d+1us"],
)
def test_release_data_staleness_boundary(
    rules: RuleSet, at: datetime, expected_reason: str
) -> None:
    st, reason = status(rules, facts(at, 138), "browser.latest")
    assert reason == expected_reason
    assert st is (CheckStatus.PASS if reason == "latest" else CheckStatus.UNKNOWN)


def test_replay_is_stable_when_newer_releases_are_known(rules: RuleSet) -> None:
    # Judged at 2025-04-10, Chrome 135 is current; data that also knows 136-138
    # (released later) must not change that answer.
    at = datetime(2025, 4, 10, tzinfo=UTC)
    assert status(rules, facts(at, 135), "browser.latest") == (CheckStatus.PASS, "latest")
    assert status(rules, facts(at, 136), "browser.latest")[0] is CheckStatus.UNKNOWN
