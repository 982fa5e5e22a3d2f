"""CheckLogin verdicts on real user-agent + client-hint cases, through the server.

Each expected outcome is derived by hand from the shipped rules (support
matrix rules/data/matrix/hnb.toml, release history rules/data/releases/ as
rebuilt from ../shared/data, posture.toml: 14-day grace; platforms.toml) at
the login instant. A PASS needs release data covering the login instant minus
the grace period; a FAIL needs only a release the data shows (issue 20).

At 2025-04-10 10:00 JST (matrix revision 2024-10; every file covers it):
- Chrome (major data): 135 out 2025-04-01 (inside grace), 134 out 2025-03-04
  → 135 PASS, 134 WARN, 133 FAIL, 136 not yet released → UNKNOWN.
  Windows 7: Chrome 109 is the last Chrome it can run → latest PASS.
- Edge: 135 out 2025-04-04 (inside grace), 134 (2025-03-06) required
  → 135 PASS, 134 WARN, 133 FAIL.
- Firefox: 137.0 out 2025-04-01 (inside grace) → 137 PASS, 136 WARN (the
  major alone shows it), 135 FAIL; ESR 128 / 115 on their own lines;
  138 not yet released → UNKNOWN.
- Safari macOS: 18.4 out 2025-03-31 (inside grace), 18.3 required
  → 18.4 PASS, 18.3 WARN; 17.6 is the newest Safari for macOS 12 but not
  for 13/14 → UNKNOWN (latest depends on the macOS version).
- Safari iPhone/iPad = the iOS line: 18.4 newest; 18.3.2 (2025-03-11)
  required on line 18 → 18.3.1 FAIL; line 17: 17.7.2 → 17.7 FAIL.
At 2026-12-07 10:00 JST (matrix 2025-10): Chrome, Edge, Firefox, Safari
data as of 2026-11-12 (bcd), iOS/macOS 2026-08-17 (endoflife.date): neither
covers 2026-11-23 (login - grace), so current versions are UNKNOWN
(release_data_stale) and older ones FAIL naming "X 以降".
Login posture otherwise good: Norton running with fresh signatures,
Phishwall Premium 4.3.0 / extension 2.1.0 (test fixture data), token active.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, posture_pb2, posture_pb2_grpc
from tests.conftest import RunningServer

AT = datetime(2025, 4, 10, 1, 0, tzinfo=UTC)  # 10:00 JST
TODAY = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 2026-12-07 10:00 JST
IOS_18_OUT = datetime(2024, 9, 25, 1, 0, tzinfo=UTC)  # iOS 18.0 out 09-16; matrix 2024-04

WIN_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)
WIN_EDGE = WIN_CHROME + " Edg/{v}.0.0.0"
WIN_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{v} Safari/605.1.15"
)
MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS {os} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1"
)
IPAD_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS {os} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Mobile Safari/537.36"
)


def chrome_hints(
    full: str,
    platform: str,
    platform_version: str,
    *,
    brand: str = "Google Chrome",
    mobile: bool = False,
    model: str = "",
) -> dict[str, str]:
    major = full.split(".")[0]
    return {
        "sec_ch_ua": f'"{brand}";v="{major}", "Not:A-Brand";v="24", "Chromium";v="{major}"',
        "full_version_list": f'"{brand}";v="{full}", "Not:A-Brand";v="24.0.0.0", '
        f'"Chromium";v="{full}"',
        "platform": f'"{platform}"',
        "platform_version": f'"{platform_version}"',
        "mobile": "?1" if mobile else "?0",
        "model": f'"{model}"' if model else "",
    }


@dataclass(frozen=True)
class Case:
    id: str
    ua: str
    verdict: str
    checks: dict[str, str]  # check id → expected status (others: not asserted)
    hints: dict[str, str] = field(default_factory=dict)
    client: dict[str, str] = field(default_factory=dict)  # expected ClientDescription fields
    at: datetime = AT
    touch: int | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    antivirus: str = "norton"  # "norton" | "defender" | "none"
    phishwall: str = "4.3.0"  # version, "absent" (not installed) or "unreported"
    messages: dict[str, str] = field(default_factory=dict)  # check id → text in message_ja


P, W, F, U, NA = "PASS", "WARN", "FAIL", "UNKNOWN", "NOT_APPLICABLE"
OK3 = {"os.supported": P, "browser.supported": P, "browser.latest": P}

CASES = [
    # --- Windows 11 / 10, Chrome with client hints: exact versions --------------------
    Case(
        "win11-chrome-135-hints",
        WIN_CHROME.format(v=135),
        "COMPLIANT",
        OK3,
        hints=chrome_hints("135.0.7049.85", "Windows", "19.0.0"),
        client={
            "browser": "chrome",
            "browser_version": "135.0.7049.85",
            "os": "windows",
            "os_version": "11",
            "browser_version_precision": "EXACT",
        },
    ),
    Case(
        "win11-chrome-134-hints-in-grace",
        WIN_CHROME.format(v=134),
        "COMPLIANT",
        {**OK3, "browser.latest": W},
        hints=chrome_hints("134.0.6998.178", "Windows", "15.0.0"),
        reasons={"browser.latest": "newer_release_in_grace"},
    ),
    Case(
        "win11-chrome-133-hints-outdated",
        WIN_CHROME.format(v=133),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        hints=chrome_hints("133.0.6943.142", "Windows", "15.0.0"),
        reasons={"browser.latest": "newer_release_past_grace"},
    ),
    Case(
        "win10-chrome-135-hints",
        WIN_CHROME.format(v=135),
        "COMPLIANT",
        OK3,
        hints=chrome_hints("135.0.7049.85", "Windows", "10.0.0"),
        client={"os": "windows", "os_version": "10"},
    ),
    Case(
        "win-chrome-135-no-hints-frozen-os",
        WIN_CHROME.format(v=135),
        "COMPLIANT",
        OK3,
        client={
            "browser_version": "135",
            "browser_version_precision": "MAJOR_ONLY",
            "os_version_precision": "FROZEN",
        },
    ),
    Case(
        "win11-chrome-136-not-yet-released",
        WIN_CHROME.format(v=136),
        "UNKNOWN",
        {**OK3, "browser.latest": U},
        hints=chrome_hints("136.0.7103.25", "Windows", "19.0.0"),
        reasons={"browser.latest": "version_newer_than_data"},
    ),
    # Chrome 109 is the newest Chrome Windows 7 can run: latest for its OS;
    # the matrix rejects the OS itself.
    Case(
        "win7-chrome-109",
        WIN_CHROME.replace("Windows NT 10.0", "Windows NT 6.1").format(v=109),
        "NON_COMPLIANT",
        {"os.supported": F, "browser.supported": P, "browser.latest": P},
        client={"os": "windows", "os_version": "7"},
        reasons={"os.supported": "os_version_not_supported"},
    ),
    # --- Edge ---------------------------------------------------------------------------
    Case(
        "win11-edge-135-hints",
        WIN_EDGE.format(v=135),
        "COMPLIANT",
        OK3,
        hints=chrome_hints("135.0.3179.54", "Windows", "19.0.0", brand="Microsoft Edge"),
        client={"browser": "edge", "browser_version": "135.0.3179.54"},
    ),
    Case(
        "win11-edge-134-hints-in-grace",
        WIN_EDGE.format(v=134),
        "COMPLIANT",
        {**OK3, "browser.latest": W},
        hints=chrome_hints("134.0.3124.93", "Windows", "19.0.0", brand="Microsoft Edge"),
        client={"browser": "edge", "browser_version": "134.0.3124.93"},
        reasons={"browser.latest": "newer_release_in_grace"},
    ),
    Case(
        "win11-edge-133-hints-outdated",
        WIN_EDGE.format(v=133),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        hints=chrome_hints("133.0.3065.92", "Windows", "19.0.0", brand="Microsoft Edge"),
    ),
    Case(
        "win-edge-135-no-hints",
        WIN_EDGE.format(v=135),
        "COMPLIANT",
        OK3,
        client={"browser": "edge", "browser_version_precision": "MAJOR_ONLY"},
    ),
    # --- Firefox: no client hints, the UA carries the major only ------------------------
    # 137.0 is in its grace period: the major alone shows 136 is older (WARN).
    Case(
        "win-firefox-136-major-only-137-in-grace",
        WIN_FIREFOX.format(v=136),
        "COMPLIANT",
        {**OK3, "browser.latest": W},
        client={
            "browser": "firefox",
            "browser_version": "136",
            "browser_version_precision": "MAJOR_ONLY",
        },
        reasons={"browser.latest": "newer_release_in_grace"},
    ),
    Case("win-firefox-137-major-only", WIN_FIREFOX.format(v=137), "COMPLIANT", OK3),
    Case(
        "win-firefox-135-outdated",
        WIN_FIREFOX.format(v=135),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
    ),
    Case("win-firefox-esr-128", WIN_FIREFOX.format(v=128), "COMPLIANT", OK3),
    Case("win-firefox-esr-115", WIN_FIREFOX.format(v=115), "COMPLIANT", OK3),
    Case(
        "win-firefox-138-not-yet-released",
        WIN_FIREFOX.format(v=138),
        "UNKNOWN",
        {**OK3, "browser.latest": U},
        reasons={"browser.latest": "version_newer_than_data"},
    ),
    Case(
        "win-opera-not-listed",
        WIN_CHROME.format(v=132) + " OPR/117.0.0.0",
        "NON_COMPLIANT",
        {"os.supported": P, "browser.supported": F, "browser.latest": NA},
        client={"browser": "opera"},
    ),
    # --- Windows: antivirus and Phishwall Premium (HNB-P2) ------------------------------
    Case(
        "win11-chrome-defender-only",
        WIN_CHROME.format(v=135),
        "NON_COMPLIANT",
        {**OK3, "antivirus": F},
        hints=chrome_hints("135.0.7049.85", "Windows", "19.0.0"),
        antivirus="defender",
        reasons={"antivirus": "builtin_not_commercial"},
    ),
    Case(
        "win11-chrome-no-av-reported",
        WIN_CHROME.format(v=135),
        "UNKNOWN",
        {**OK3, "antivirus": U},
        hints=chrome_hints("135.0.7049.85", "Windows", "19.0.0"),
        antivirus="none",
    ),
    Case(
        "win11-edge-phishwall-missing",
        WIN_EDGE.format(v=135),
        "NON_COMPLIANT",
        {**OK3, "phishwall": F},
        phishwall="absent",
    ),
    Case(
        "win11-edge-phishwall-unreported",
        WIN_EDGE.format(v=135),
        "UNKNOWN",
        {**OK3, "phishwall": U},
        phishwall="unreported",
        reasons={"phishwall": "phishwall_not_reported"},
        messages={"phishwall": "PhishWallプレミアム"},
    ),
    Case(
        "win11-edge-phishwall-old",
        WIN_EDGE.format(v=135),
        "NON_COMPLIANT",
        {**OK3, "phishwall": F},
        phishwall="4.2.0",
    ),
    # --- macOS ---------------------------------------------------------------------------
    Case(
        "mac-safari-18.4",
        MAC_SAFARI.format(v="18.4"),
        "COMPLIANT",
        {**OK3, "phishwall": NA, "antivirus": P},
        client={
            "browser": "safari",
            "browser_version": "18.4",
            "os": "macos",
            "browser_version_precision": "MAJOR_MINOR",
            "os_version_precision": "FROZEN",
        },
    ),
    Case(
        "mac-safari-18.3-in-grace",
        MAC_SAFARI.format(v="18.3"),
        "COMPLIANT",
        {**OK3, "browser.latest": W},
    ),
    # Safari 17 runs on macOS 12-14; 17.6 is the newest Safari macOS 12 can
    # install, while 13 and 14 get 18.4: the answer depends on the macOS version.
    Case(
        "mac-safari-17.6-latest-depends-on-macos",
        MAC_SAFARI.format(v="17.6"),
        "UNKNOWN",
        {"os.supported": U, "browser.supported": P, "browser.latest": U},
        reasons={
            "os.supported": "os_version_ambiguous",
            "browser.latest": "latest_depends_on_os_version",
        },
    ),
    Case(
        "mac-safari-17.5-outdated-on-every-macos",
        MAC_SAFARI.format(v="17.5"),
        "NON_COMPLIANT",
        {"os.supported": U, "browser.supported": P, "browser.latest": F},
    ),
    Case(
        "mac-chrome-no-hints-os-unknown",
        MAC_CHROME.format(v=135),
        "UNKNOWN",
        {"os.supported": U, "browser.supported": P, "browser.latest": P},
        reasons={"os.supported": "os_version_unknown"},
    ),
    Case(
        "mac-chrome-hints",
        MAC_CHROME.format(v=135),
        "COMPLIANT",
        OK3,
        hints=chrome_hints("135.0.7049.85", "macOS", "15.3.2"),
        client={"os": "macos", "os_version": "15.3.2", "os_version_precision": "EXACT"},
    ),
    Case(
        "mac-firefox-not-listed",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:136.0) Gecko/20100101 Firefox/136.0",
        "NON_COMPLIANT",
        {"browser.supported": F, "browser.latest": NA},
    ),
    # --- iPhone / iPad -------------------------------------------------------------------
    Case(
        "iphone-ios-18.4",
        IPHONE_SAFARI.format(os="18_4", v="18.4"),
        "COMPLIANT",
        {**OK3, "antivirus": NA, "phishwall": NA},
        client={"os": "ios", "os_version": "18.4", "browser": "safari"},
    ),
    # Safari on an iPhone is the iOS line: 18.3.2 (2025-03-11) is required.
    Case(
        "iphone-ios-18.3.1-after-18.3.2",
        IPHONE_SAFARI.format(os="18_3_1", v="18.3"),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        client={"os_version": "18.3.1"},
    ),
    Case(
        "iphone-ios-18.3.2-in-grace",
        IPHONE_SAFARI.format(os="18_3_2", v="18.3"),
        "COMPLIANT",
        {**OK3, "browser.latest": W},
    ),
    Case(
        "iphone-ios-17.6-safari-outdated",
        IPHONE_SAFARI.format(os="17_6", v="17.6"),
        "NON_COMPLIANT",
        {"os.supported": P, "browser.supported": P, "browser.latest": F},
    ),
    # Line 17: 17.7.2 is the newest iOS 17 for an iPhone; 17_7 is 17.7.0.
    Case(
        "iphone-ios-17.7.0-after-17.7.2",
        IPHONE_SAFARI.format(os="17_7", v="17.7"),
        "NON_COMPLIANT",
        {"os.supported": P, "browser.supported": P, "browser.latest": F},
    ),
    Case(
        "iphone-ios-17.7.2-latest-of-its-line",
        IPHONE_SAFARI.format(os="17_7_2", v="17.7"),
        "COMPLIANT",
        OK3,
    ),
    # A build the data does not list inside the line: UNKNOWN, never out of date.
    Case(
        "iphone-ios-18.3.9-unknown-to-data",
        IPHONE_SAFARI.format(os="18_3_9", v="18.3"),
        "UNKNOWN",
        {"os.supported": P, "browser.latest": U},
        reasons={"browser.latest": "version_unknown"},
    ),
    Case(
        "iphone-ios-26-before-matrix-lists-it",
        IPHONE_SAFARI.format(os="18_6", v="26.0"),
        "NON_COMPLIANT",
        {"os.supported": F, "browser.latest": P},
        at=datetime(2025, 9, 25, 1, 0, tzinfo=UTC),
        client={"os": "ios", "os_version": "26.0", "os_version_precision": "INFERRED"},
    ),
    Case(
        "iphone-ios-26-listed-from-2025-10-15",
        IPHONE_SAFARI.format(os="18_6", v="26.0"),
        "COMPLIANT",
        OK3,
        at=datetime(2025, 10, 20, 1, 0, tzinfo=UTC),
        client={"os_version": "26.0", "os_version_precision": "INFERRED"},
    ),
    Case(
        "iphone-ios-18.6-after-26-is-out",
        IPHONE_SAFARI.format(os="18_6", v="18.6"),
        "NON_COMPLIANT",
        {"os.supported": P, "browser.latest": F},
        at=datetime(2025, 10, 20, 1, 0, tzinfo=UTC),
    ),
    Case(
        "ipad-ipados-18.4",
        IPAD_SAFARI.format(os="18_4", v="18.4"),
        "COMPLIANT",
        OK3,
        client={"os": "ipados", "os_version": "18.4"},
    ),
    Case(
        "ipad-desktop-mode-with-touch",
        MAC_SAFARI.format(v="18.4"),
        "COMPLIANT",
        {**OK3, "antivirus": NA},
        touch=5,
        client={"os": "ipados", "os_version": "18.4", "os_version_precision": "INFERRED"},
    ),
    Case(
        "ipad-desktop-mode-without-touch-looks-like-mac",
        MAC_SAFARI.format(v="18.4"),
        "COMPLIANT",
        OK3,
        client={"os": "macos"},
    ),
    Case(
        "iphone-chrome-ios-not-listed",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/135.0.7049.83 Mobile/15E148 Safari/604.1",
        "NON_COMPLIANT",
        {"os.supported": P, "browser.supported": F},
        client={"browser": "chrome_ios"},
    ),
    # --- Android -------------------------------------------------------------------------
    Case(
        "android-chrome-reduced-ua-os-frozen",
        ANDROID_CHROME.format(v=135),
        "UNKNOWN",
        {"os.supported": U, "browser.supported": P, "browser.latest": P},
        client={"os": "android", "os_version_precision": "FROZEN"},
    ),
    Case(
        "android-chrome-135-hints",
        ANDROID_CHROME.format(v=135),
        "COMPLIANT",
        OK3,
        hints=chrome_hints("135.0.7049.79", "Android", "15.0.0", mobile=True, model="Pixel 8"),
        client={"os_version": "15.0.0", "os_version_precision": "EXACT"},
    ),
    Case(
        "android-chrome-133-hints-outdated",
        ANDROID_CHROME.format(v=133),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        hints=chrome_hints("133.0.6943.137", "Android", "14.0.0", mobile=True),
    ),
    Case(
        "android-11-not-supported-since-2024-10",
        ANDROID_CHROME.format(v=135),
        "NON_COMPLIANT",
        {"os.supported": F},
        hints=chrome_hints("135.0.7049.79", "Android", "11.0.0", mobile=True),
    ),
    Case(
        "android-samsung-internet",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
        "NON_COMPLIANT",
        {"browser.supported": F},
        client={"browser": "samsung_internet"},
    ),
    Case(
        "android-webview-in-app",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/135.0.7049.79 Mobile Safari/537.36",
        "NON_COMPLIANT",
        {"browser.supported": F},
        client={"kind": "IN_APP_BROWSER"},
        reasons={"browser.supported": "in_app_browser"},
    ),
    # --- In-app browsers -------------------------------------------------------------------
    Case(
        "line-in-app-ios",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Safari Line/15.4.1",
        "NON_COMPLIANT",
        {"browser.supported": F, "browser.latest": NA},
        client={"kind": "IN_APP_BROWSER", "in_app": "LINE"},
    ),
    Case(
        "line-in-app-android",
        "Mozilla/5.0 (Linux; Android 14; SO-51D Build/67.2.B.2.123; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/135.0.7049.79 Mobile Safari/537.36 "
        "Line/15.4.1/IAB",
        "NON_COMPLIANT",
        {"browser.supported": F},
        client={"kind": "IN_APP_BROWSER", "in_app": "LINE"},
    ),
    Case(
        "yahoo-japan-app",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 YJApp-IOS jp.co.yahoo.ipn.appli/4.62.0",
        "NON_COMPLIANT",
        {"browser.supported": F},
        client={"kind": "IN_APP_BROWSER"},
    ),
    # --- Bots and garbage --------------------------------------------------------------------
    Case(
        "googlebot",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "NON_COMPLIANT",
        {"browser.supported": F, "os.supported": NA},
        client={"kind": "BOT"},
        reasons={"browser.supported": "bot"},
    ),
    Case("curl", "curl/8.5.0", "NON_COMPLIANT", {"browser.supported": F}, client={"kind": "BOT"}),
    Case(
        "headless-chrome",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/135.0.0.0 Safari/537.36",
        "NON_COMPLIANT",
        {"browser.supported": F},
        client={"kind": "BOT"},
    ),
    Case(
        "garbage",
        "asdf;;qwerty",
        "UNKNOWN",
        {"os.supported": U, "browser.supported": U, "browser.latest": U},
        client={"kind": "UNRECOGNISED"},
    ),
    Case(
        "bare-mozilla",
        "Mozilla/5.0",
        "UNKNOWN",
        {"browser.supported": U},
        client={"kind": "UNRECOGNISED"},
    ),
    # --- Latest for the customer's OS (issue 20) ---------------------------------------------
    # iOS 16, listed by the 2024-04 revision: the latest Safari it can have is
    # the newest iOS 16 (16.7.10), not Safari 18.0.
    Case(
        "iphone-ios-16.7.10-latest-for-ios-16",
        IPHONE_SAFARI.format(os="16_7_10", v="16.6"),
        "COMPLIANT",
        OK3,
        at=IOS_18_OUT,
    ),
    Case(
        "iphone-ios-16.7.8-told-16.7.10-not-18",
        IPHONE_SAFARI.format(os="16_7_8", v="16.6"),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        at=IOS_18_OUT,
        messages={"browser.latest": "16.7.10"},
    ),
    # Chrome 138 is the last Chrome for macOS 11; 141 is out for newer macOS.
    Case(
        "mac11-chrome-138-last-for-big-sur",
        MAC_CHROME.format(v=138),
        "NON_COMPLIANT",
        {"os.supported": F, "browser.supported": P, "browser.latest": P},
        hints=chrome_hints("138.0.7204.184", "macOS", "11.7.10"),
        at=datetime(2025, 10, 20, 1, 0, tzinfo=UTC),
    ),
    Case(
        "mac15-chrome-138-outdated",
        MAC_CHROME.format(v=138),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        hints=chrome_hints("138.0.7204.184", "macOS", "15.6.1"),
        at=datetime(2025, 10, 20, 1, 0, tzinfo=UTC),
    ),
    # --- UA and client hints that contradict each other ----------------------------------------
    Case(
        "ua-chrome-137-hints-138",
        WIN_CHROME.format(v=137),
        "UNKNOWN",
        {"os.supported": P, "browser.supported": P, "browser.latest": U},
        hints=chrome_hints("138.0.7204.50", "Windows", "19.0.0"),
        at=datetime(2025, 6, 28, 1, 0, tzinfo=UTC),  # 138 out 06-24; Phishwall data covers
        phishwall="4.3.1",
        reasons={"browser.latest": "ua_hints_conflict"},
    ),
    Case(
        "ua-chrome-138-hints-138-agree",
        WIN_CHROME.format(v=138),
        "COMPLIANT",
        OK3,
        hints=chrome_hints("138.0.7204.50", "Windows", "19.0.0"),
        at=datetime(2025, 6, 28, 1, 0, tzinfo=UTC),  # 138 out 06-24; Phishwall data covers
        phishwall="4.3.1",
    ),
    Case(
        "windows-ua-macos-hints",
        WIN_CHROME.format(v=135),
        "UNKNOWN",
        {"os.supported": U},
        hints=chrome_hints("135.0.7049.85", "macOS", "15.3.2"),
        reasons={"os.supported": "ua_hints_conflict"},
    ),
    Case(
        "mac-ua-macos-hints-agree",
        MAC_CHROME.format(v=135),
        "COMPLIANT",
        OK3,
        hints=chrome_hints("135.0.7049.85", "macOS", "15.3.2"),
    ),
    # --- Embedded engines ---------------------------------------------------------------------
    # WebView2 sends Edge's UA; only its brand tells the app apart.
    Case(
        "edge-webview2-in-app",
        WIN_EDGE.format(v=135),
        "NON_COMPLIANT",
        {"browser.supported": F, "browser.latest": NA},
        hints={
            **chrome_hints("135.0.3179.54", "Windows", "19.0.0", brand="Microsoft Edge"),
            "sec_ch_ua": '"Microsoft Edge WebView2";v="135", "Microsoft Edge";v="135", '
            '"Chromium";v="135", "Not-A.Brand";v="24"',
            "full_version_list": "",
        },
        client={"kind": "IN_APP_BROWSER", "in_app": "Microsoft Edge WebView2"},
        reasons={"browser.supported": "in_app_browser"},
    ),
    # --- Today: 2026-12-07 10:00 JST, from the shipped data -----------------------------------
    Case(
        "2026-win11-chrome-143-hints",
        WIN_CHROME.format(v=143),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        hints=chrome_hints("143.0.7499.40", "Windows", "19.0.0"),
        at=TODAY,
        phishwall="4.3.1",
        messages={"browser.latest": "Google Chromeを最新版(157 以降)"},
    ),
    Case(
        "2026-win11-chrome-157-data-does-not-cover",
        WIN_CHROME.format(v=157),
        "UNKNOWN",
        {**OK3, "browser.latest": U, "phishwall": U},
        hints=chrome_hints("157.0.7730.60", "Windows", "19.0.0"),
        at=TODAY,
        phishwall="4.3.1",
        reasons={"browser.latest": "release_data_stale", "phishwall": "release_data_stale"},
    ),
    Case(
        "2026-win11-edge-150-outdated",
        WIN_EDGE.format(v=150),
        "NON_COMPLIANT",
        {**OK3, "browser.latest": F},
        hints=chrome_hints("150.0.3405.80", "Windows", "19.0.0", brand="Microsoft Edge"),
        at=TODAY,
        messages={"browser.latest": "Microsoft Edgeを最新版(157 以降)"},
    ),
    Case(
        "2026-win11-firefox-159-outdated",
        WIN_FIREFOX.format(v=159),
        "NON_COMPLIANT",
        {"browser.supported": P, "browser.latest": F},
        at=TODAY,
        messages={"browser.latest": "Mozilla Firefoxを最新版(160 以降)"},
    ),
    Case(
        "2026-firefox-esr-140-ended",
        WIN_FIREFOX.format(v=140),
        "NON_COMPLIANT",
        {"browser.latest": F},
        at=TODAY,
        reasons={"browser.latest": "channel_end_of_life"},
        messages={"browser.latest": "ESR 140"},
    ),
    Case(
        "2026-mac-safari-27.1-outdated",
        MAC_SAFARI.format(v="27.1"),
        "NON_COMPLIANT",
        {"browser.supported": P, "browser.latest": F},
        at=TODAY,
        messages={"browser.latest": "27.2 以降"},
    ),
    Case(
        "2026-mac-safari-26.6-depends-on-macos",
        MAC_SAFARI.format(v="26.6"),
        "UNKNOWN",
        {"browser.supported": P, "browser.latest": U},
        at=TODAY,
        reasons={"browser.latest": "latest_depends_on_os_version"},
    ),
    Case(
        "2026-iphone-ios-26.5-outdated",
        IPHONE_SAFARI.format(os="18_6", v="26.5"),
        "NON_COMPLIANT",
        {"os.supported": P, "browser.supported": P, "browser.latest": F},
        at=TODAY,
        messages={"browser.latest": "iOSを最新版(26.6.1 以降)"},
    ),
    Case(
        "2026-iphone-ios-18.7.10-data-does-not-cover",
        IPHONE_SAFARI.format(os="18_7_10", v="18.7"),
        "UNKNOWN",
        {"os.supported": P, "browser.supported": P, "browser.latest": U},
        at=TODAY,
        reasons={"browser.latest": "release_data_stale"},
    ),
    Case(
        "2026-android-13-vendor-support-ended",
        ANDROID_CHROME.format(v=150),
        "NON_COMPLIANT",
        {"os.supported": W, "browser.supported": P, "browser.latest": F},
        hints=chrome_hints("150.0.7600.90", "Android", "13.0.0", mobile=True),
        at=TODAY,
        reasons={"os.supported": "os_vendor_support_ended"},
    ),
]


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


def request_for(case: Case) -> posture_pb2.CheckLoginRequest:
    req = posture_pb2.CheckLoginRequest(
        customer_id="cust-table",
        device_id=case.id,
        login_time=ts(case.at),
        user_agent=case.ua,
        token_status=posture_pb2.TOKEN_STATUS_ACTIVE,
    )
    for k, v in case.hints.items():
        setattr(req.client_hints, k, v)
    if case.antivirus != "none":
        req.antivirus.product = {
            "norton": "Norton 360",
            "defender": "Microsoft Defender Antivirus",
        }[case.antivirus]
        req.antivirus.running = True
        req.antivirus.signatures_updated_at.CopyFrom(ts(case.at - timedelta(hours=2)))
    if case.phishwall == "unreported":
        pass  # the IB server sent no Phishwall facts at all
    elif case.phishwall == "absent":
        req.phishwall.installed = False
    else:
        req.phishwall.installed = True
        req.phishwall.client_version = case.phishwall
        req.phishwall.extension_version = "2.1.0"
    if case.touch is not None:
        req.max_touch_points = case.touch
    return req


def status_name(value: int) -> str:
    return common_pb2.CheckStatus.Name(value).removeprefix("CHECK_STATUS_")


def test_table_has_at_least_40_real_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_check_login_verdict(server: RunningServer, case: Case) -> None:
    server.clock.now = max(server.clock.now, case.at + timedelta(hours=1))
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    resp = await stub.CheckLogin(request_for(case))
    by_id = {c.check_id: c for c in resp.checks}
    got = {cid: status_name(by_id[cid].status) for cid in case.checks}
    detail = {c.check_id: (status_name(c.status), c.reason) for c in resp.checks}
    assert got == case.checks, detail
    verdict = posture_pb2.PostureVerdict.Name(resp.verdict).removeprefix("POSTURE_VERDICT_")
    assert verdict == case.verdict, detail
    for cid, reason in case.reasons.items():
        assert by_id[cid].reason == reason, detail
    client = resp.client
    for name, expected in case.client.items():
        value = getattr(client, name)
        if name == "kind":
            value = posture_pb2.ClientDescription.Kind.Name(value).removeprefix("KIND_")
        elif name.endswith("precision"):
            value = common_pb2.Precision.Name(value).removeprefix("PRECISION_")
        assert value == expected, (name, client)
    # Every check cites the clauses it serves; failures carry a remediation.
    for c in resp.checks:
        assert c.clause_ids and all(cid.startswith("HNB-P") for cid in c.clause_ids)
    if case.checks.get("browser.latest") == F and by_id["browser.latest"].reason != (
        "channel_end_of_life"
    ):
        assert "に更新してください" in by_id["browser.latest"].message_ja
    for cid, text in case.messages.items():
        assert text in by_id[cid].message_ja, by_id[cid].message_ja


# Internal product / channel ids (snake_case, or esrNNN) and PEP 440 specifier
# syntax must never reach a customer.
_INTERNAL_ID = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\besr[0-9]+\b")
_SPECIFIER = re.compile(r"<|>|==|!=|~=")


def customer_message_problems(check_id: str, status: str, message: str) -> list[str]:
    """Why a message_ja cannot go to a customer (empty: fine)."""
    problems = []
    if status not in (P, NA) and not message.strip():
        # NOT_APPLICABLE needs no action (antivirus on an iPhone, Phishwall on a Mac).
        problems.append(f"{check_id}: {status} without a message")
    if m := _INTERNAL_ID.search(message):
        problems.append(f"{check_id}: internal id {m.group(0)!r} in {message!r}")
    if m := _SPECIFIER.search(message):
        problems.append(f"{check_id}: specifier syntax {m.group(0)!r} in {message!r}")
    return problems


@pytest.mark.parametrize(
    ("check_id", "status", "message", "bad"),
    [
        ("browser.supported", F, "chrome_ios はiOSの対象ブラウザではありません。", True),
        ("os.supported", F, "Windows 7 は対象外です(対象: Windows <12,>=10)。", True),
        ("browser.latest", F, "Mozilla Firefox esr115 のサポートは終了しました。", True),
        ("browser.latest", U, "", True),
        ("phishwall", U, " ", True),
        ("antivirus", NA, "", False),
        ("browser.latest", P, "", False),
        ("os.supported", F, "Windows 7 は対象外です(対象: Windows 10、Windows 11)。", False),
        ("browser.supported", F, "Google Chrome(iPhone/iPad版) は対象外です。", False),
    ],
)
def test_message_scan_on_both_sides(check_id: str, status: str, message: str, bad: bool) -> None:
    assert bool(customer_message_problems(check_id, status, message)) is bad


async def test_every_table_message_is_for_a_customer(server: RunningServer) -> None:
    """Every message the table produces names products, not ids; every non-PASS has one."""
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    problems = []
    for case in sorted(CASES, key=lambda c: c.at):
        server.clock.now = max(server.clock.now, case.at + timedelta(hours=1))
        resp = await stub.CheckLogin(request_for(case))
        for c in resp.checks:
            problems += [
                f"{case.id}: {p}"
                for p in customer_message_problems(c.check_id, status_name(c.status), c.message_ja)
            ]
    assert not problems, "\n".join(problems)
