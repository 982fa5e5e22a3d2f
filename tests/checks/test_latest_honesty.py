"""HNB-P1 "latest" never claims more than the release data shows (issue 20).

Pure tests against the shipped rules, each boundary on both sides:

- the in-grace warning for a client known to the major only (Firefox's UA);
- latest for the customer's OS when the OS version is unknown (Chrome on a
  frozen macOS UA: 138 is the last Chrome for macOS 11);
- UA / client-hint contradictions and embedded engines (checks/useragent.py);
- the Safari-on-iOS line and a line the data does not have.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checks.model import (
    AntivirusFacts,
    CheckStatus,
    ClientHints,
    ClientKind,
    LoginFacts,
    PhishwallFacts,
    TokenStatus,
)
from checks.posture import evaluate_login
from checks.useragent import parse_client
from rules.load import RuleSet

US = timedelta(microseconds=1)
WIN_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)
WIN_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS {os} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1"
)


def latest(
    rules: RuleSet, ua: str, at: datetime, hints: ClientHints | None = None
) -> tuple[CheckStatus, str, str]:
    facts = LoginFacts(
        customer_id="c",
        device_id="d",
        login_time=at,
        user_agent=ua,
        hints=hints,
        antivirus=AntivirusFacts("ESET", True, at - timedelta(hours=1)),
        phishwall=PhishwallFacts(True, "4.3.0", "2.1.0"),
        token_status=TokenStatus.ACTIVE,
    )
    check = next(
        c for c in evaluate_login(facts, rules.posture).checks if c.check_id == "browser.latest"
    )
    return check.status, check.reason, check.message_ja


# Firefox 137.0 reached the release channel 2025-04-01 (00:00 UTC in the data).
FF137 = datetime(2025, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (FF137 - US, (CheckStatus.PASS, "same_version_at_lower_precision")),
        (FF137, (CheckStatus.WARN, "newer_release_in_grace")),
        (FF137 + timedelta(days=14), (CheckStatus.WARN, "newer_release_in_grace")),
        (FF137 + timedelta(days=14) + US, (CheckStatus.FAIL, "newer_release_past_grace")),
    ],
    ids=["before-137", "137-out", "grace-end", "grace-end+1us"],
)
def test_major_only_firefox_is_warned_in_grace(
    rules: RuleSet, at: datetime, expected: tuple[CheckStatus, str]
) -> None:
    status, reason, message = latest(rules, WIN_FIREFOX.format(v=136), at)
    assert (status, reason) == expected
    if status is CheckStatus.WARN:
        assert "Mozilla Firefox 137" in message and "までに" in message


# 2025-10-20: Chrome 141 is current (2025-09-30), 140 required; 138 is the last
# Chrome for macOS 11 (platforms.toml). A frozen macOS UA could be either.
OCT_2025 = datetime(2025, 10, 20, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("major", "platform_version", "expected"),
    [
        (138, None, (CheckStatus.UNKNOWN, "latest_depends_on_os_version")),
        (141, None, (CheckStatus.PASS, "latest")),  # above every limit: any macOS
        (137, None, (CheckStatus.FAIL, "newer_release_past_grace")),  # old everywhere
        (138, "11.7.10", (CheckStatus.PASS, "latest")),
        (138, "12.7.6", (CheckStatus.FAIL, "newer_release_past_grace")),
    ],
    ids=["138-macos-unknown", "141-macos-unknown", "137-macos-unknown", "138-big-sur", "138-12"],
)
def test_latest_is_for_the_macos_the_client_can_be_on(
    rules: RuleSet, major: int, platform_version: str | None, expected: tuple[CheckStatus, str]
) -> None:
    hints = None
    if platform_version is not None:
        hints = ClientHints(
            full_version_list=f'"Google Chrome";v="{major}.0.1.2", "Chromium";v="{major}.0.1.2"',
            platform='"macOS"',
            platform_version=f'"{platform_version}"',
        )
    status, reason, message = latest(rules, MAC_CHROME.format(v=major), OCT_2025, hints)
    assert (status, reason) == expected
    if reason == "latest_depends_on_os_version":
        # Names the version the other macOS versions can install.
        assert "それ以外のmacOS では 141" in message


def test_ios_line_the_data_does_not_have_is_unknown_never_judged_on_another(
    rules: RuleSet,
) -> None:
    # 2026-08-20: iOS data (as of 2026-08-17) covers; iOS 27 is not in it.
    at = datetime(2026, 8, 20, tzinfo=UTC)
    status, reason, _ = latest(rules, IPHONE.format(os="18_6", v="27.0"), at)
    assert (status, reason) == (CheckStatus.UNKNOWN, "version_newer_than_data")
    # iOS 18.7.10 came out 2026-08-17: an exact 18.7.9 token is warned, 18.7.10 passes.
    status, reason, message = latest(rules, IPHONE.format(os="18_7_9", v="18.7"), at)
    assert (status, reason) == (CheckStatus.WARN, "newer_release_in_grace")
    assert "iOS 18.7.10" in message
    status, reason, _ = latest(rules, IPHONE.format(os="18_7_10", v="18.7"), at)
    assert (status, reason) == (CheckStatus.PASS, "latest")


# --------------------------------------------------------------------------- UA vs client hints


def hints(full: str, platform: str = "Windows", pv: str = "19.0.0", brand: str = "Google Chrome"):
    return ClientHints(
        full_version_list=f'"{brand}";v="{full}", "Chromium";v="{full}"',
        platform=f'"{platform}"',
        platform_version=f'"{pv}"',
    )


@pytest.mark.parametrize(
    ("ua", "client_hints", "conflict"),
    [
        (
            WIN_CHROME.format(v=137),
            hints("138.0.7204.50"),
            ("browser_version", "137", "138.0.7204.50"),
        ),
        (WIN_CHROME.format(v=138), hints("138.0.7204.50"), None),
        (
            WIN_CHROME.format(v=135),
            hints("135.0.7049.85", "macOS", "15.3.2"),
            ("os", "windows", "macOS"),
        ),
        (MAC_CHROME.format(v=135), hints("135.0.7049.85", "macOS", "15.3.2"), None),
        (
            WIN_CHROME.format(v=109).replace("Windows NT 10.0", "Windows NT 6.1"),
            hints("109.0.5414.120", pv="15.0.0"),
            ("os_version", "Windows 7", "platform version 15.0.0"),
        ),
        # Chrome's reduced UA says NT 10.0 on Windows 8.1 too: 0.x is no contradiction.
        (WIN_CHROME.format(v=109), hints("109.0.5414.120", pv="0.3.0"), None),
        (
            WIN_CHROME.format(v=135) + " Edg/135.0.0.0",
            hints("135.0.7049.85"),
            ("browser", "edge", "Google Chrome"),
        ),
    ],
    ids=[
        "ua-137-hints-138",
        "ua-138-hints-138",
        "windows-ua-macos-hints",
        "mac-ua-macos-hints",
        "nt-6.1-ua-windows-11-hints",
        "nt-10-ua-8.1-hints",
        "edge-ua-chrome-hints",
    ],
)
def test_contradictions_are_recorded_with_both_values(
    ua: str, client_hints: ClientHints, conflict: tuple[str, str, str] | None
) -> None:
    client = parse_client(ua, client_hints)
    found = client.conflicts[0] if client.conflicts else None
    assert (
        None if found is None else (found.field, found.user_agent, found.client_hints)
    ) == conflict
    if conflict is not None:
        assert any(conflict[1] in n and conflict[2] in n for n in client.notes), client.notes


@pytest.mark.parametrize(
    ("sec_ch_ua", "kind", "browser"),
    [
        (
            '"Microsoft Edge WebView2";v="135", "Microsoft Edge";v="135", "Chromium";v="135"',
            ClientKind.IN_APP_BROWSER,
            "edge_webview2",
        ),
        ('"Microsoft Edge";v="135", "Chromium";v="135"', ClientKind.BROWSER, "edge"),
    ],
    ids=["webview2", "edge"],
)
def test_webview2_is_an_embedded_engine_not_edge(
    sec_ch_ua: str, kind: ClientKind, browser: str
) -> None:
    client = parse_client(
        WIN_CHROME.format(v=135) + " Edg/135.0.0.0",
        ClientHints(sec_ch_ua=sec_ch_ua, platform='"Windows"', platform_version='"19.0.0"'),
    )
    assert (client.kind, client.browser) == (kind, browser)
    if kind is ClientKind.IN_APP_BROWSER:
        assert client.in_app == "Microsoft Edge WebView2"


def test_android_webview_brand_without_wv_marker_is_in_app() -> None:
    ua = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/135.0.0.0 Mobile Safari/537.36"
    )
    webview = parse_client(
        ua, ClientHints(sec_ch_ua='"Android WebView";v="135", "Chromium";v="135"')
    )
    assert (webview.kind, webview.browser) == (ClientKind.IN_APP_BROWSER, "android_webview")
    chrome = parse_client(ua, ClientHints(sec_ch_ua='"Google Chrome";v="135", "Chromium";v="135"'))
    assert (chrome.kind, chrome.browser) == (ClientKind.BROWSER, "chrome")


def test_march_2025_firefox_data_cannot_pass_firefox_136_in_mid_april() -> None:
    """The outside-testing case: product-details as of 2025-03-18 (Firefox 137 shipped 04-01).

    With a 14-day grace the data covers logins up to 2025-04-01 00:00 UTC; a
    release it cannot see may be past grace after that, so 136 is UNKNOWN,
    not PASS (it was PASS with the old 30-day staleness rule until 04-17).
    """
    import json
    from pathlib import Path

    from checks.latest import judge_latest
    from checks.model import Precision
    from checks.releases import channel_for
    from server.release_import import MOZILLA_FILES, parse_mozilla_product_details

    seed = Path(__file__).resolve().parents[1] / "fixtures" / "mozilla-product-details"
    firefox = parse_mozilla_product_details(
        *(json.loads((seed / name).read_text(encoding="utf-8")) for name in MOZILLA_FILES)
    )
    assert firefox.as_of == datetime(2025, 3, 18, tzinfo=UTC)
    edge = firefox.as_of + timedelta(days=14)
    channel = channel_for(firefox, "136")

    def judged(at: datetime) -> tuple[CheckStatus, str]:
        j = judge_latest(
            firefox, channel, "136", Precision.MAJOR_ONLY, at, timedelta(days=14), "PASS"
        )
        return j.status, j.reason

    assert judged(edge) == (CheckStatus.PASS, "same_version_at_lower_precision")
    assert judged(edge + US) == (CheckStatus.UNKNOWN, "release_data_stale")
    assert judged(datetime(2025, 4, 16, tzinfo=UTC)) == (CheckStatus.UNKNOWN, "release_data_stale")
    # An older client still fails on what the data shows.
    old = judge_latest(
        firefox,
        channel,
        "135",
        Precision.MAJOR_ONLY,
        datetime(2025, 4, 16, tzinfo=UTC),
        timedelta(days=14),
        "PASS",
    )
    assert (old.status, old.install_version, old.install_at_least) == (
        CheckStatus.FAIL,
        "136.0.2",
        True,
    )


@pytest.mark.parametrize(
    ("platform", "contradicted"),
    [("macOS", True), ("Windows", False)],
    ids=["windows-ua-macos-hint", "windows-ua-windows-hint"],
)
def test_a_contradicted_os_decides_neither_listing_nor_latest(
    rules: RuleSet, platform: str, contradicted: bool
) -> None:
    """An Edge UA on Windows with a macOS platform hint: neither source is
    believed, so the browser's listing for the OS and its latest version for
    the OS are UNKNOWN too, never a FAIL naming one OS (found by the outside
    attack: 「Microsoft Edge はmacOSの対象ブラウザではありません」)."""
    at = datetime(2026, 12, 7, 1, tzinfo=UTC)
    facts = LoginFacts(
        customer_id="c",
        device_id="d",
        login_time=at,
        user_agent=(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/158.0.0.0 Safari/537.36 Edg/158.0.3600.10"
        ),
        hints=ClientHints(platform=f'"{platform}"', platform_version='"19.0.0"'),
        antivirus=AntivirusFacts("ESET", True, at - timedelta(hours=1)),
        phishwall=PhishwallFacts(True, "4.3.0", "2.1.0"),
        token_status=TokenStatus.ACTIVE,
    )
    checks = {c.check_id: c for c in evaluate_login(facts, rules.posture).checks}
    for check_id in ("os.supported", "browser.supported", "browser.latest"):
        status, reason = checks[check_id].status, checks[check_id].reason
        if contradicted:
            assert (status, reason) == (CheckStatus.UNKNOWN, "ua_hints_conflict"), check_id
        else:
            assert reason != "ua_hints_conflict", check_id
