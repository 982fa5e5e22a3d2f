"""HNB-P2 (commercial antivirus, Phishwall Premium) and HNB-P3 (token), both
sides of each condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checks.antivirus import check_antivirus, decode_wsc_product_state
from checks.model import AntivirusFacts, CheckStatus, PhishwallFacts, TokenStatus
from checks.phishwall import check_phishwall
from checks.token import check_token
from rules.load import RuleSet

AT = datetime(2025, 4, 10, 1, 0, tzinfo=UTC)
H72 = timedelta(hours=72)


def av(rules: RuleSet, facts: AntivirusFacts | None, os: str = "windows") -> tuple[str, str]:
    s = rules.posture.settings
    out = check_antivirus(facts, os, AT, s, rules.posture.antivirus_products)
    return out.status.value, out.reason


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (AntivirusFacts("Norton 360", True, AT - H72), ("PASS", "antivirus_ok")),
        (
            AntivirusFacts("Norton 360", True, AT - H72 - timedelta(microseconds=1)),
            ("FAIL", "signatures_out_of_date"),
        ),
        (AntivirusFacts("ウイルスバスター クラウド", False, AT), ("FAIL", "antivirus_not_running")),
        (AntivirusFacts("Windows Defender", True, AT), ("FAIL", "builtin_not_commercial")),
        (AntivirusFacts("Acme Shield", True, AT), ("UNKNOWN", "product_not_recognised")),
        (AntivirusFacts("", True, AT), ("UNKNOWN", "product_not_named")),
        (AntivirusFacts("ESET", None, None), ("UNKNOWN", "antivirus_state_not_reported")),
        (AntivirusFacts("ESET", wsc_product_state=0x061000), ("PASS", "antivirus_ok")),
        (AntivirusFacts("ESET", wsc_product_state=0x061010), ("FAIL", "signatures_out_of_date")),
        (AntivirusFacts("ESET", wsc_product_state=0x060000), ("FAIL", "antivirus_not_running")),
        # productState's state nibble is a value: 0x2000 snoozed, 0x3000 expired
        # (which has the 0x1000 bit set and used to read as "running").
        (AntivirusFacts("ESET", wsc_product_state=0x062000), ("FAIL", "antivirus_snoozed")),
        (AntivirusFacts("ESET", wsc_product_state=0x063000), ("FAIL", "antivirus_expired")),
        (
            AntivirusFacts("ESET", running=True, wsc_product_state=0x063000),
            ("FAIL", "antivirus_expired"),
        ),
        (AntivirusFacts("ESET", wsc_product_state=0x064000), ("UNKNOWN", "wsc_state_unknown")),
        (None, ("UNKNOWN", "antivirus_not_reported")),
    ],
    ids=[
        "age-72h",
        "age-72h+1us",
        "not-running",
        "defender-builtin",
        "unknown-product",
        "no-name",
        "no-state",
        "wsc-on-current",
        "wsc-out-of-date",
        "wsc-off",
        "wsc-snoozed",
        "wsc-expired",
        "wsc-expired-although-reported-running",
        "wsc-undefined-state",
        "not-reported",
    ],
)
def test_hnb_p2_antivirus(
    rules: RuleSet, facts: AntivirusFacts | None, expected: tuple[str, str]
) -> None:
    assert av(rules, facts) == expected


def test_hnb_p2_antivirus_not_applicable_on_ios(rules: RuleSet) -> None:
    assert av(rules, None, os="ios")[0] == "NOT_APPLICABLE"


def test_hnb_p2_builtin_accepted_when_configured(rules: RuleSet) -> None:
    from dataclasses import replace

    s = replace(rules.posture.settings, antivirus_accept_builtin=True)
    out = check_antivirus(
        AntivirusFacts("Microsoft Defender Antivirus", True, AT),
        "windows",
        AT,
        s,
        rules.posture.antivirus_products,
    )
    assert out.status is CheckStatus.PASS


@pytest.mark.parametrize(
    ("state", "decoded_state", "current", "microsoft"),
    [
        (0x061000, "on", True, False),
        (0x061010, "on", False, False),
        (0x060100, "off", True, True),
        (0x041000, "on", True, False),
        (0x051000, "on", True, False),
        (0x000010, "off", False, False),
        (0x061100, "on", True, True),  # Microsoft Defender, on
        (0x062000, "snoozed", True, False),
        (0x063000, "expired", True, False),
        (0x063010, "expired", False, False),
        (0x064000, "unknown", True, False),
        (0x061020, "on", None, False),  # a signature nibble WSC does not define
    ],
)
def test_wsc_product_state_decoding(
    state: int, decoded_state: str, current: bool | None, microsoft: bool
) -> None:
    decoded = decode_wsc_product_state(state)
    assert (decoded.state, decoded.signatures_up_to_date, decoded.microsoft) == (
        decoded_state,
        current,
        microsoft,
    )
    assert decoded.enabled is (decoded_state == "on")


def pw(
    rules: RuleSet, facts: PhishwallFacts | None, os: str = "windows", at: datetime = AT
) -> tuple[str, str]:
    out = check_phishwall(facts, os, at, rules.posture.settings, rules.posture.releases)
    return out.status.value, out.reason


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (PhishwallFacts(True, "4.3.0", "2.1.0"), ("PASS", "latest")),
        # 4.3.0 came out 2025-03-01: 4.2.0 is tolerated until 03-15 00:00 UTC.
        (PhishwallFacts(True, "4.2.0", "2.1.0"), ("FAIL", "newer_release_past_grace")),
        (PhishwallFacts(True, "4.3.0", "2.0.5"), ("WARN", "newer_release_in_grace")),
        (PhishwallFacts(False), ("FAIL", "phishwall_not_installed")),
        (PhishwallFacts(None), ("UNKNOWN", "phishwall_not_reported")),
        (None, ("UNKNOWN", "phishwall_not_reported")),
        (PhishwallFacts(True, "9.9.9", "2.1.0"), ("UNKNOWN", "version_newer_than_data")),
    ],
    ids=[
        "current",
        "client-old",
        "extension-in-grace",
        "not-installed",
        "installed-unknown",
        "not-reported",
        "unknown-version",
    ],
)
def test_hnb_p2_phishwall(
    rules: RuleSet, facts: PhishwallFacts | None, expected: tuple[str, str]
) -> None:
    assert pw(rules, facts) == expected


def test_hnb_p2_phishwall_grace_boundary(rules: RuleSet) -> None:
    edge = datetime(2025, 3, 15, tzinfo=UTC)
    old = PhishwallFacts(True, "4.2.0", "2.0.5")
    assert pw(rules, old, at=edge)[0] == "WARN"
    assert pw(rules, old, at=edge + timedelta(microseconds=1))[0] == "FAIL"


def test_hnb_p2_phishwall_not_applicable_off_windows(rules: RuleSet) -> None:
    assert pw(rules, None, os="macos")[0] == "NOT_APPLICABLE"


def test_hnb_p2_phishwall_stale_without_imported_data(rules: RuleSet) -> None:
    # The shipped file is empty until the bank imports its export: UNKNOWN, not FAIL.
    from rules.load import load_rules

    shipped = load_rules()
    out = check_phishwall(
        PhishwallFacts(True, "4.3.0", ""),
        "windows",
        AT,
        shipped.posture.settings,
        shipped.posture.releases,
    )
    assert (out.status, out.reason) == (CheckStatus.UNKNOWN, "release_data_stale")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (TokenStatus.ACTIVE, "PASS"),
        (TokenStatus.REPORTED_LOST, "PASS"),
        (TokenStatus.NOT_ISSUED, "FAIL"),
        (TokenStatus.SUSPENDED, "WARN"),
        (TokenStatus.UNKNOWN, "UNKNOWN"),
    ],
)
def test_hnb_p3_token(token: TokenStatus, expected: str) -> None:
    out = check_token(token)
    assert out.status.value == expected and out.clause_ids == ("HNB-P3",)


@pytest.mark.parametrize(
    ("facts", "status"),
    [(None, CheckStatus.UNKNOWN), (PhishwallFacts(False), CheckStatus.FAIL)],
    ids=["unreported", "not-installed"],
)
def test_hnb_p2_phishwall_messages_tell_the_customer_what_to_do(
    rules: RuleSet, facts: PhishwallFacts | None, status: CheckStatus
) -> None:
    out = check_phishwall(facts, "windows", AT, rules.posture.settings, rules.posture.releases)
    assert out.status is status
    assert "PhishWallプレミアム" in out.message_ja and "インストール" in out.message_ja
