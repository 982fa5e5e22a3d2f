"""Boundaries of the login posture check, on both sides (pure, no server).

- Grace (HNB-P1): Chrome 135 reached stable 2025-04-01 (00:00 UTC in the
  data); with a 14-day grace Chrome 134 is tolerated while 135 has been out
  for at most 14 days, i.e. up to 2025-04-15 00:00:00 UTC inclusive.
- Matrix revision (HNB-P4): Windows 10 leaves the matrix at
  2025-10-15 00:00 JST (= 2025-10-14 15:00 UTC).
- Coverage (HNB-P1, issue 20): Chrome data as_of 2026-11-12T14:10:29.391Z
  (browser-compat-data's timestamp); with a 14-day grace a PASS needs
  as_of >= at - 14 days, i.e. at <= 2026-11-26T14:10:29.391Z. FAIL needs
  only a release the data shows.
- Vendor end of support (HNB-P1, data): Windows 10 ended 2025-10-14 00:00 UTC;
  the bank's matrix keeps it until its revision (a WARN in between).
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
WIN10_EOL = datetime(2025, 10, 14, tzinfo=UTC)  # Microsoft's end of support (endoflife.date)


@pytest.mark.parametrize(
    ("at", "os_status", "reason"),
    [
        (WIN10_EOL - US, CheckStatus.PASS, "os_supported"),
        (WIN10_EOL, CheckStatus.WARN, "os_vendor_support_ended"),
        (WIN10_OUT - US, CheckStatus.WARN, "os_vendor_support_ended"),
        (WIN10_OUT, CheckStatus.FAIL, "os_version_not_supported"),
    ],
    ids=[
        "vendor-support-until-2025-10-13T23:59:59.999999Z",
        "vendor-support-ended-2025-10-14T00:00Z",
        "2025-10-14T23:59:59.999999JST",
        "2025-10-15T00:00JST",
    ],
)
def test_hnb_p4_windows_10_leaves_matrix_at_revision_effective_instant(
    rules: RuleSet, at: datetime, os_status: CheckStatus, reason: str
) -> None:
    # The bank's matrix decides (HNB-P4); the vendor's end of support only warns.
    result = evaluate_login(facts(at, 138, platform_version="10.0.0"), rules.posture)
    os_check = next(c for c in result.checks if c.check_id == "os.supported")
    assert (os_check.status, os_check.reason) == (os_status, reason)
    assert result.matrix_revision is not None
    assert result.matrix_revision.id == ("2025-10" if os_status is CheckStatus.FAIL else "2024-10")
    if os_status is CheckStatus.FAIL:
        assert result.verdict is Verdict.NON_COMPLIANT
    if os_status is CheckStatus.WARN:
        assert "Windows 10" in os_check.message_ja and "サポート" in os_check.message_ja


def test_windows_without_hints_is_unknown_once_only_11_is_supported(rules: RuleSet) -> None:
    # "Windows NT 10.0" could be 10 or 11: fine while both are listed, unknowable after.
    no_hints = replace(facts(WIN10_OUT, 138), hints=None)
    assert status(rules, no_hints, "os.supported") == (CheckStatus.UNKNOWN, "os_version_ambiguous")
    earlier = replace(no_hints, login_time=WIN10_OUT - US)
    assert status(rules, earlier, "os.supported") == (CheckStatus.PASS, "os_supported")


CHROME_AS_OF = datetime(2026, 11, 12, 14, 10, 29, 391000, tzinfo=UTC)
COVERED_UNTIL = CHROME_AS_OF + timedelta(days=14)  # as_of >= at - grace


@pytest.mark.parametrize(
    ("at", "major", "expected"),
    [
        # Chrome 157 (2026-11-03) is the newest the data shows.
        (COVERED_UNTIL, 157, (CheckStatus.PASS, "latest")),
        (COVERED_UNTIL + US, 157, (CheckStatus.UNKNOWN, "release_data_stale")),
        # An older client fails on what the data shows, covered or not.
        (COVERED_UNTIL, 156, (CheckStatus.FAIL, "newer_release_past_grace")),
        (COVERED_UNTIL + US, 156, (CheckStatus.FAIL, "newer_release_past_grace")),
        (datetime(2027, 6, 1, tzinfo=UTC), 156, (CheckStatus.FAIL, "newer_release_past_grace")),
    ],
    ids=["157-covered", "157-not-covered", "156-covered", "156-not-covered", "156-long-after"],
)
def test_hnb_p1_pass_needs_data_covering_the_login_minus_grace(
    rules: RuleSet, at: datetime, major: int, expected: tuple[CheckStatus, str]
) -> None:
    result = evaluate_login(facts(at, major), rules.posture)
    latest = next(c for c in result.checks if c.check_id == "browser.latest")
    assert (latest.status, latest.reason) == expected
    if latest.status is not CheckStatus.PASS:
        assert latest.message_ja and "Google Chrome" in latest.message_ja
    if latest.status is CheckStatus.FAIL:
        # The data ends before the login: the newest it knows may not be the newest.
        assert "157 以降" in latest.message_ja


def test_replay_is_stable_when_newer_releases_are_known(rules: RuleSet) -> None:
    # Judged at 2025-04-10, Chrome 135 is current; data that also knows 136-138
    # (released later) must not change that answer.
    at = datetime(2025, 4, 10, tzinfo=UTC)
    assert status(rules, facts(at, 135), "browser.latest") == (CheckStatus.PASS, "latest")
    assert status(rules, facts(at, 136), "browser.latest")[0] is CheckStatus.UNKNOWN
