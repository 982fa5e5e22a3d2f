"""Table-driven tests for checks.useragent.parse_client.

Every row is a real user-agent string (plus the client hints the browser sends,
where it sends any) with the fields derived by hand from the facts:

* reduced Chromium UA: ``Chrome/131.0.0.0`` -> major only, ``Windows NT 10.0`` for
  both Windows 10 and 11, ``Android 10; K`` frozen;
* Windows 11 = Sec-CH-UA-Platform-Version major >= 13;
* Firefox carries only its major; Safari ``Version/x.y[.z]`` follows the OS;
* macOS always says 10_15_7 (Firefox: 10.15); iOS 26 freezes the OS token at 18_6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import useragent
from checks.model import ClientHints, ClientKind, ParsedClient, Precision
from checks.useragent import parse_client

B = ClientKind.BROWSER
IAB = ClientKind.IN_APP_BROWSER
BOT = ClientKind.BOT
UNREC = ClientKind.UNRECOGNISED
EXACT = Precision.EXACT
MM = Precision.MAJOR_MINOR
MAJ = Precision.MAJOR_ONLY
FROZEN = Precision.FROZEN
INF = Precision.INFERRED
ABSENT = Precision.ABSENT

# --------------------------------------------------------------------------- real UAs

WIN_CHROME_131 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
WIN_CHROME_133 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36"
)
WIN_EDGE_131 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)
WIN_FIREFOX_136 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:136.0) Gecko/20100101 Firefox/136.0"
WIN_OPERA_116 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/116.0.0.0"
)
WIN7_CHROME_109 = (
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36"
)
WIN81_CHROME_109_FULL = (
    "Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/109.0.5414.120 Safari/537.36"
)
MAC_SAFARI_18_3 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.3 Safari/605.1.15"
)
MAC_SAFARI_17_4_1 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
)
MAC_SAFARI_17_5 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
MAC_SAFARI_26_0 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.0 Safari/605.1.15"
)
MAC_CHROME_131 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
MAC_FIREFOX_136 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:136.0) Gecko/20100101 Firefox/136.0"
)
MAC_MOJAVE_SAFARI_14 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/14.1.2 Safari/605.1.15"
)
IPHONE_17_5 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
IPHONE_17_5_1 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
IPHONE_18_3 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1"
)
IPHONE_18_6_REAL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1"
)
IPHONE_26_0 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1"
)
IPHONE_26_1 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1"
)
IPAD_17_5 = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
IPAD_18_3_1 = (
    "Mozilla/5.0 (iPad; CPU OS 18_3_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1"
)
IPHONE_CRIOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
)
IPHONE_CRIOS_IOS26 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/140.0.7339.122 Mobile/15E148 Safari/604.1"
)
IPHONE_FXIOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15"
)
IPHONE_EDGIOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 EdgiOS/131.2903.68 Mobile/15E148 Safari/605.1.15"
)
ANDROID_CHROME_131 = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
ANDROID_CHROME_109_FULL = (
    "Mozilla/5.0 (Linux; Android 13; SO-51C) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/109.0.5414.117 Mobile Safari/537.36"
)
ANDROID_CHROME_DESKTOP_MODE = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ANDROID_SAMSUNG_27 = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36"
)
ANDROID_EDGE = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0"
)
ANDROID_FIREFOX = "Mozilla/5.0 (Android 14; Mobile; rv:136.0) Gecko/136.0 Firefox/136.0"
ANDROID_CUBOT = (
    "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
CHROMEOS_CHROME = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
LINUX_FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:136.0) Gecko/20100101 Firefox/136.0"
LINE_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Safari Line/14.9.0"
)
LINE_IOS_26 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Safari Line/15.14.0"
)
LINE_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SH-51C Build/S4231; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.102 Mobile Safari/537.36 "
    "Line/14.18.1/IAB"
)
YAHOO_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 YJApp-IOS jp.co.yahoo.ipn.appli/4.62.0"
)
YAHOO_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SO-51D Build/67.1.E.2.128; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36 "
    "YJApp-ANDROID jp.co.yahoo.android.yjtop/4.162.1"
)
FACEBOOK_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/490.0.0.38.109;FBBV/670347813;"
    "FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/18.1;FBSS/3;FBCR/;FBID/phone;FBLC/ja_JP;FBOP/80]"
)
FACEBOOK_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 "
    "Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/490.0.0.54.72;]"
)
INSTAGRAM_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 358.0.0.24.107 (iPhone15,2; iOS 18_1; "
    "ja_JP; ja; scale=3.00; 1179x2556; 665766112; IABMV/1)"
)
TWITTER_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Twitter for iPhone/10.68"
)
WECHAT_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.53(0x18003531) NetType/WIFI "
    "Language/zh_CN"
)
ANDROID_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BINGBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
)
SEMRUSHBOT = "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
)

# --------------------------------------------------------------------------- real hints

CH_CHROME_131 = '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'
CH_CHROME_131_FULL = (
    '"Google Chrome";v="131.0.6778.86", "Chromium";v="131.0.6778.86", "Not_A Brand";v="24.0.0.0"'
)
CH_CHROME_133 = '"Not(A:Brand";v="99", "Google Chrome";v="133", "Chromium";v="133"'
CH_CHROME_133_FULL = (
    '"Not(A:Brand";v="99.0.0.0", "Google Chrome";v="133.0.6943.127", "Chromium";v="133.0.6943.127"'
)
CH_EDGE_131 = '"Microsoft Edge";v="131", "Chromium";v="131", "Not_A Brand";v="24"'
CH_EDGE_131_FULL = (
    '"Microsoft Edge";v="131.0.2903.86", "Chromium";v="131.0.6778.86", "Not_A Brand";v="24.0.0.0"'
)
CH_OPERA_116 = '"Opera";v="116", "Chromium";v="131", "Not_A Brand";v="24"'
CH_OPERA_116_FULL = (
    '"Opera";v="116.0.5366.35", "Chromium";v="131.0.6778.86", "Not_A Brand";v="24.0.0.0"'
)
CH_BRAVE_131 = '"Brave";v="131", "Chromium";v="131", "Not_A Brand";v="24"'
CH_ANDROID_CHROME_131 = '"Chromium";v="131", "Not A(Brand";v="24", "Google Chrome";v="131"'
CH_ANDROID_CHROME_131_FULL = (
    '"Chromium";v="131.0.6778.104", "Not A(Brand";v="24.0.0.0", "Google Chrome";v="131.0.6778.104"'
)
CH_HEADLESS = '"HeadlessChrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'


def win_hints(ua: str, full: str, platform_version: str) -> ClientHints:
    return ClientHints(
        sec_ch_ua=ua,
        full_version_list=full,
        platform='"Windows"',
        platform_version=f'"{platform_version}"',
        mobile="?0",
        model='""',
    )


@dataclass(frozen=True)
class Case:
    id: str
    ua: str
    expect: dict[str, Any]
    hints: ClientHints | None = None
    touch: int | None = None
    note: str | None = None  # substring that must appear in one of the notes
    no_note: str | None = None  # substring that must not appear in any note
    extra: dict[str, Any] = field(default_factory=dict)


def exp(
    kind: ClientKind,
    browser: str | None,
    bver: str | None,
    bprec: Precision,
    os: str | None,
    over: str | None,
    oprec: Precision,
    **more: Any,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "browser": browser,
        "browser_version": bver,
        "browser_version_precision": bprec,
        "os": os,
        "os_version": over,
        "os_version_precision": oprec,
        **more,
    }


# fmt: off
CASES: list[Case] = [
    # ---------------------------------------------------------------- Windows
    Case(
        "win-chrome-reduced-no-hints",
        WIN_CHROME_131,
        exp(B, "chrome", "131", MAJ, "windows", "10", FROZEN, hints_used=False, os_build=None),
        note="Windows 10 and Windows 11",
    ),
    Case(
        "win11-chrome-hints-15",
        WIN_CHROME_131,
        exp(B, "chrome", "131.0.6778.86", EXACT, "windows", "11", EXACT,
            os_build="15.0.0", hints_used=True, mobile=False),
        hints=win_hints(CH_CHROME_131, CH_CHROME_131_FULL, "15.0.0"),
        no_note="Windows 10 and Windows 11",
    ),
    Case(
        "win11-chrome-hints-19",
        WIN_CHROME_133,
        exp(B, "chrome", "133.0.6943.127", EXACT, "windows", "11", EXACT,
            os_build="19.0.0", hints_used=True),
        hints=win_hints(CH_CHROME_133, CH_CHROME_133_FULL, "19.0.0"),
    ),
    Case(
        "win11-chrome-hints-13",
        WIN_CHROME_131,
        exp(B, "chrome", "131.0.6778.86", EXACT, "windows", "11", EXACT, os_build="13.0.0"),
        hints=win_hints(CH_CHROME_131, CH_CHROME_131_FULL, "13.0.0"),
    ),
    Case(
        "win10-chrome-hints-10",
        WIN_CHROME_131,
        exp(B, "chrome", "131.0.6778.86", EXACT, "windows", "10", EXACT, os_build="10.0.0"),
        hints=win_hints(CH_CHROME_131, CH_CHROME_131_FULL, "10.0.0"),
    ),
    Case(
        "win10-chrome-low-entropy-hints-only",
        WIN_CHROME_131,
        exp(B, "chrome", "131", MAJ, "windows", "10", FROZEN, os_build=None, hints_used=True,
            mobile=False),
        hints=ClientHints(sec_ch_ua=CH_CHROME_131, platform='"Windows"', mobile="?0"),
        note="Windows 10 and Windows 11",
    ),
    Case(
        "win-edge-reduced-no-hints",
        WIN_EDGE_131,
        exp(B, "edge", "131", MAJ, "windows", "10", FROZEN, hints_used=False),
    ),
    Case(
        "win10-edge-hints",
        WIN_EDGE_131,
        exp(B, "edge", "131.0.2903.86", EXACT, "windows", "10", EXACT, os_build="7.0.0"),
        hints=win_hints(CH_EDGE_131, CH_EDGE_131_FULL, "7.0.0"),
    ),
    Case(
        "win11-edge-hints",
        WIN_EDGE_131,
        exp(B, "edge", "131.0.2903.86", EXACT, "windows", "11", EXACT, os_build="15.0.0"),
        hints=win_hints(CH_EDGE_131, CH_EDGE_131_FULL, "15.0.0"),
    ),
    Case(
        "win-firefox",
        WIN_FIREFOX_136,
        exp(B, "firefox", "136", MAJ, "windows", "10", FROZEN, hints_used=False),
        note="Windows 10 and Windows 11",
    ),
    Case(
        "win-firefox-with-bogus-hints-ignored",
        WIN_FIREFOX_136,
        exp(B, "firefox", "136", MAJ, "windows", "10", FROZEN, hints_used=False, os_build=None),
        hints=win_hints(CH_CHROME_131, CH_CHROME_131_FULL, "15.0.0"),
        note="client hints ignored",
    ),
    Case(
        "win-opera-reduced",
        WIN_OPERA_116,
        exp(B, "opera", "116", MAJ, "windows", "10", FROZEN),
    ),
    Case(
        "win11-opera-hints",
        WIN_OPERA_116,
        exp(B, "opera", "116.0.5366.35", EXACT, "windows", "11", EXACT, os_build="15.0.0"),
        hints=win_hints(CH_OPERA_116, CH_OPERA_116_FULL, "15.0.0"),
    ),
    Case(
        "win-brave-via-low-entropy-hints",
        WIN_CHROME_131,
        exp(B, "brave", "131", MAJ, "windows", "10", FROZEN, hints_used=True),
        hints=ClientHints(sec_ch_ua=CH_BRAVE_131, platform='"Windows"', mobile="?0"),
    ),
    Case(
        "win7-chrome-109",
        WIN7_CHROME_109,
        exp(B, "chrome", "109", MAJ, "windows", "7", EXACT),
    ),
    Case(
        "win81-chrome-109-unreduced",
        WIN81_CHROME_109_FULL,
        exp(B, "chrome", "109.0.5414.120", EXACT, "windows", "8.1", EXACT),
    ),
    Case(
        "win81-chrome-109-hints-0.3.0-keeps-ua-version",
        WIN81_CHROME_109_FULL,
        exp(B, "chrome", "109.0.5414.120", EXACT, "windows", "8.1", EXACT, os_build="0.3.0"),
        hints=ClientHints(
            sec_ch_ua='"Not_A Brand";v="99", "Google Chrome";v="109", "Chromium";v="109"',
            platform='"Windows"',
            platform_version='"0.3.0"',
            mobile="?0",
        ),
    ),
    Case(
        "win-platform-version-0-means-8.1-or-earlier",
        WIN_CHROME_131,
        exp(B, "chrome", "131", MAJ, "windows", "8.1", INF, os_build="0.0.0"),
        hints=ClientHints(
            sec_ch_ua=CH_CHROME_131, platform='"Windows"', platform_version='"0.0.0"'
        ),
        note="8.1 or earlier",
    ),
    # ---------------------------------------------------------------- macOS
    Case(
        "mac-safari-18.3-no-touch-info",
        MAC_SAFARI_18_3,
        exp(B, "safari", "18.3", MM, "macos", "10.15.7", FROZEN, mobile=False),
        note="iPad in desktop mode",
    ),
    Case(
        "mac-safari-17.4.1-real-mac",
        MAC_SAFARI_17_4_1,
        exp(B, "safari", "17.4.1", EXACT, "macos", "10.15.7", FROZEN),
        touch=0,
        no_note="iPad",
    ),
    Case(
        "mac-safari-17.5",
        MAC_SAFARI_17_5,
        exp(B, "safari", "17.5", MM, "macos", "10.15.7", FROZEN),
        note="frozen at 10.15.7",
    ),
    Case(
        "mac-safari-old-mojave-real-os-version",
        MAC_MOJAVE_SAFARI_14,
        exp(B, "safari", "14.1.2", EXACT, "macos", "10.14.6", EXACT),
        touch=0,
    ),
    Case(
        "mac-chrome-no-hints",
        MAC_CHROME_131,
        exp(B, "chrome", "131", MAJ, "macos", "10.15.7", FROZEN, hints_used=False),
        no_note="iPad",
    ),
    Case(
        "mac-chrome-hints",
        MAC_CHROME_131,
        exp(B, "chrome", "131.0.6778.86", EXACT, "macos", "15.2.0", EXACT, hints_used=True,
            os_build=None),
        hints=ClientHints(
            sec_ch_ua=CH_CHROME_131,
            full_version_list=CH_CHROME_131_FULL,
            platform='"macOS"',
            platform_version='"15.2.0"',
            mobile="?0",
            model='""',
        ),
        no_note="frozen",
    ),
    Case(
        "mac-firefox",
        MAC_FIREFOX_136,
        exp(B, "firefox", "136", MAJ, "macos", "10.15", FROZEN),
    ),
    Case(
        "ipad-desktop-mode-with-touch",
        MAC_SAFARI_17_5,
        exp(B, "safari", "17.5", MM, "ipados", "17.5", INF, mobile=False),
        touch=5,
        note="iPad desktop mode",
    ),
    Case(
        "ipad-desktop-mode-ipados-26-with-touch",
        MAC_SAFARI_26_0,
        exp(B, "safari", "26.0", MM, "ipados", "26.0", INF),
        touch=5,
        note="iPad desktop mode",
    ),
    Case(
        "ipad-desktop-mode-without-touch-info-stays-macos",
        MAC_SAFARI_26_0,
        exp(B, "safari", "26.0", MM, "macos", "10.15.7", FROZEN),
        note="iPad in desktop mode",
    ),
    # ---------------------------------------------------------------- iPhone / iPad
    Case(
        "iphone-ios-17.5",
        IPHONE_17_5,
        exp(B, "safari", "17.5", MM, "ios", "17.5", EXACT, mobile=True),
    ),
    Case(
        "iphone-ios-17.5.1",
        IPHONE_17_5_1,
        exp(B, "safari", "17.5", MM, "ios", "17.5.1", EXACT, mobile=True),
    ),
    Case(
        "iphone-ios-18.3",
        IPHONE_18_3,
        exp(B, "safari", "18.3", MM, "ios", "18.3", EXACT),
    ),
    Case(
        "iphone-ios-18.6-real",
        IPHONE_18_6_REAL,
        exp(B, "safari", "18.6", MM, "ios", "18.6", EXACT),
        no_note="frozen",
    ),
    Case(
        "iphone-ios-26.0-frozen-token",
        IPHONE_26_0,
        exp(B, "safari", "26.0", MM, "ios", "26.0", INF, mobile=True),
        note="18_6",
    ),
    Case(
        "iphone-ios-26.1-frozen-token",
        IPHONE_26_1,
        exp(B, "safari", "26.1", MM, "ios", "26.1", INF),
        note="18_6",
    ),
    Case(
        "ipad-ios-17.5",
        IPAD_17_5,
        exp(B, "safari", "17.5", MM, "ipados", "17.5", EXACT, mobile=False),
    ),
    Case(
        "ipad-ios-18.3.1",
        IPAD_18_3_1,
        exp(B, "safari", "18.3", MM, "ipados", "18.3.1", EXACT),
    ),
    Case(
        "iphone-chrome-ios",
        IPHONE_CRIOS,
        exp(B, "chrome_ios", "131.0.6778.73", EXACT, "ios", "18.1", EXACT),
    ),
    Case(
        "iphone-chrome-ios-on-ios26-ambiguous-token",
        IPHONE_CRIOS_IOS26,
        exp(B, "chrome_ios", "140.0.7339.122", EXACT, "ios", "18.6", FROZEN),
        note="18_6",
    ),
    Case(
        "iphone-firefox-ios",
        IPHONE_FXIOS,
        exp(B, "firefox_ios", "133.0", MM, "ios", "18.1", EXACT),
    ),
    Case(
        "iphone-edge-ios",
        IPHONE_EDGIOS,
        exp(B, "edge_ios", "131.2903.68", EXACT, "ios", "18.1", EXACT),
    ),
    # ---------------------------------------------------------------- Android
    Case(
        "android-chrome-reduced-no-hints",
        ANDROID_CHROME_131,
        exp(B, "chrome", "131", MAJ, "android", "10", FROZEN, device_model=None, mobile=True,
            hints_used=False),
        note="frozen placeholder",
    ),
    Case(
        "android-chrome-reduced-with-hints",
        ANDROID_CHROME_131,
        exp(B, "chrome", "131.0.6778.104", EXACT, "android", "14.0.0", EXACT,
            device_model="Pixel 8", mobile=True, hints_used=True),
        hints=ClientHints(
            sec_ch_ua=CH_ANDROID_CHROME_131,
            full_version_list=CH_ANDROID_CHROME_131_FULL,
            platform='"Android"',
            platform_version='"14.0.0"',
            mobile="?1",
            model='"Pixel 8"',
        ),
        no_note="'Android 10' is a frozen placeholder",
    ),
    Case(
        "android-chrome-desktop-mode-hints",
        ANDROID_CHROME_DESKTOP_MODE,
        exp(B, "chrome", "131.0.6778.104", EXACT, "android", "14.0.0", EXACT, mobile=False,
            device_model="SO-51D"),
        hints=ClientHints(
            sec_ch_ua=CH_ANDROID_CHROME_131,
            full_version_list=CH_ANDROID_CHROME_131_FULL,
            platform='"Android"',
            platform_version='"14.0.0"',
            mobile="?0",
            model='"SO-51D"',
        ),
        note="refined by Sec-CH-UA-Platform",
    ),
    Case(
        "android-chrome-109-unreduced",
        ANDROID_CHROME_109_FULL,
        exp(B, "chrome", "109.0.5414.117", EXACT, "android", "13", MAJ, device_model="SO-51C"),
    ),
    Case(
        "android-samsung-internet",
        ANDROID_SAMSUNG_27,
        exp(B, "samsung_internet", "27.0", MM, "android", "10", FROZEN, device_model=None),
    ),
    Case(
        "android-edge",
        ANDROID_EDGE,
        exp(B, "edge", "131", MAJ, "android", "10", FROZEN, mobile=True),
    ),
    Case(
        "android-firefox",
        ANDROID_FIREFOX,
        exp(B, "firefox", "136", MAJ, "android", "14", MAJ, mobile=True, device_model=None),
    ),
    Case(
        "android-cubot-phone-is-not-a-bot",
        ANDROID_CUBOT,
        exp(B, "chrome", "131", MAJ, "android", "9", MAJ, device_model="CUBOT X19", bot=None),
    ),
    # ---------------------------------------------------------------- other desktops
    Case(
        "chromeos-chrome-reduced",
        CHROMEOS_CHROME,
        exp(B, "chrome", "131", MAJ, "chromeos", "14541.0.0", FROZEN),
    ),
    Case(
        "ubuntu-firefox",
        LINUX_FIREFOX,
        exp(B, "firefox", "136", MAJ, "linux", None, ABSENT),
    ),
    # ---------------------------------------------------------------- in-app browsers
    Case(
        "line-ios",
        LINE_IOS,
        exp(IAB, "ios_webview", "17.5", INF, "ios", "17.5", EXACT, in_app="LINE", mobile=True),
    ),
    Case(
        "line-ios-26-ambiguous-token",
        LINE_IOS_26,
        exp(IAB, "ios_webview", "18.6", FROZEN, "ios", "18.6", FROZEN, in_app="LINE"),
        note="18_6",
    ),
    Case(
        "line-android",
        LINE_ANDROID,
        exp(IAB, "android_webview", "130.0.6723.102", EXACT, "android", "13", MAJ,
            in_app="LINE", device_model="SH-51C"),
    ),
    Case(
        "line-android-with-webview-hints",
        LINE_ANDROID,
        exp(IAB, "android_webview", "130.0.6723.102", EXACT, "android", "13.0.0", EXACT,
            in_app="LINE", hints_used=True, mobile=True),
        hints=ClientHints(
            sec_ch_ua='"Chromium";v="130", "Android WebView";v="130", "Not?A_Brand";v="99"',
            platform='"Android"',
            platform_version='"13.0.0"',
            mobile="?1",
        ),
    ),
    Case(
        "yahoo-japan-ios",
        YAHOO_IOS,
        exp(IAB, "ios_webview", "17.5.1", INF, "ios", "17.5.1", EXACT, in_app="Yahoo! JAPAN"),
    ),
    Case(
        "yahoo-japan-android",
        YAHOO_ANDROID,
        exp(IAB, "android_webview", "131.0.6778.39", EXACT, "android", "14", MAJ,
            in_app="Yahoo! JAPAN", device_model="SO-51D"),
    ),
    Case(
        "facebook-ios",
        FACEBOOK_IOS,
        exp(IAB, "ios_webview", "18.1", INF, "ios", "18.1", EXACT, in_app="Facebook"),
    ),
    Case(
        "facebook-android",
        FACEBOOK_ANDROID,
        exp(IAB, "android_webview", "131.0.6778.81", EXACT, "android", "14", MAJ,
            in_app="Facebook", device_model="SM-S918B"),
    ),
    Case(
        "instagram-ios",
        INSTAGRAM_IOS,
        exp(IAB, "ios_webview", "18.1", INF, "ios", "18.1", EXACT, in_app="Instagram"),
    ),
    Case(
        "twitter-ios",
        TWITTER_IOS,
        exp(IAB, "ios_webview", "18.1", INF, "ios", "18.1", EXACT, in_app="Twitter"),
    ),
    Case(
        "wechat-ios",
        WECHAT_IOS,
        exp(IAB, "ios_webview", "18.1", INF, "ios", "18.1", EXACT, in_app="WeChat"),
    ),
    Case(
        "android-webview-generic",
        ANDROID_WEBVIEW,
        exp(IAB, "android_webview", "131.0.6778.39", EXACT, "android", "14", MAJ,
            in_app="Android WebView", device_model="Pixel 8"),
    ),
    # ---------------------------------------------------------------- bots
    Case(
        "googlebot",
        GOOGLEBOT,
        exp(BOT, None, None, ABSENT, None, None, ABSENT, bot="Googlebot"),
    ),
    Case(
        "googlebot-smartphone",
        GOOGLEBOT_SMARTPHONE,
        exp(BOT, None, None, ABSENT, "android", "6.0.1", EXACT, bot="Googlebot"),
    ),
    Case(
        "bingbot",
        BINGBOT,
        exp(BOT, None, None, ABSENT, None, None, ABSENT, bot="Bingbot"),
    ),
    Case(
        "generic-bot-semrush",
        SEMRUSHBOT,
        exp(BOT, None, None, ABSENT, None, None, ABSENT, bot="SemrushBot"),
    ),
    Case(
        "curl",
        "curl/8.5.0",
        exp(BOT, None, None, ABSENT, None, None, ABSENT, bot="curl"),
    ),
    Case(
        "python-requests",
        "python-requests/2.32.3",
        exp(BOT, None, None, ABSENT, None, None, ABSENT, bot="python-requests"),
    ),
    Case(
        "go-http-client",
        "Go-http-client/2.0",
        exp(BOT, None, None, ABSENT, None, None, ABSENT, bot="Go-http-client"),
    ),
    Case(
        "headless-chrome",
        HEADLESS_CHROME,
        exp(BOT, "chrome", "131", MAJ, "linux", None, ABSENT, bot="HeadlessChrome"),
    ),
    Case(
        "headless-chrome-new-mode-hints-only",
        ANDROID_CHROME_DESKTOP_MODE,
        exp(BOT, "chrome", "131", MAJ, "linux", None, ABSENT, bot="HeadlessChrome",
            hints_used=True),
        hints=ClientHints(sec_ch_ua=CH_HEADLESS, platform='"Linux"', mobile="?0"),
    ),
    # ---------------------------------------------------------------- junk
    Case(
        "empty",
        "",
        exp(UNREC, None, None, ABSENT, None, None, ABSENT, bot=None, in_app=None,
            hints_used=False),
    ),
    Case(
        "whitespace",
        "   \t ",
        exp(UNREC, None, None, ABSENT, None, None, ABSENT),
    ),
    Case(
        "mozilla-only",
        "Mozilla/5.0",
        exp(UNREC, None, None, ABSENT, None, None, ABSENT),
    ),
    Case(
        "garbage",
        "asdf",
        exp(UNREC, None, None, ABSENT, None, None, ABSENT),
    ),
    Case(
        "os-but-no-browser",
        "Mozilla/5.0 (Windows NT 10.0)",
        exp(UNREC, None, None, ABSENT, "windows", "10", FROZEN),
    ),
    Case(
        "very-long-junk",
        "Mozilla/5.0 " + "(;;;" * 5000 + "x" * 20000,
        exp(UNREC, None, None, ABSENT, None, None, ABSENT),
        note="truncated",
    ),
    Case(
        "hints-with-empty-ua",
        "",
        exp(UNREC, None, None, ABSENT, None, None, ABSENT, hints_used=False),
        hints=win_hints(CH_CHROME_131, CH_CHROME_131_FULL, "15.0.0"),
    ),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_parse_client(case: Case) -> None:
    got = parse_client(case.ua, case.hints, case.touch)
    assert isinstance(got, ParsedClient)
    actual = {k: getattr(got, k) for k in case.expect}
    assert actual == case.expect, got
    if case.note is not None:
        assert any(case.note in n for n in got.notes), got.notes
    if case.no_note is not None:
        assert not any(case.no_note in n for n in got.notes), got.notes


def test_enough_real_cases() -> None:
    assert len({c.ua for c in CASES}) >= 45
    assert len(CASES) == len({c.id for c in CASES})


# --------------------------------------------------------------------------- hints details


@pytest.mark.parametrize(
    "grease",
    ["Not_A Brand", "Not A(Brand", "Not/A)Brand", "Not?A_Brand", "Not(A:Brand", "Not.A/Brand"],
)
def test_grease_brands_are_skipped(grease: str) -> None:
    hints = ClientHints(
        sec_ch_ua=f'"{grease}";v="99", "Chromium";v="131"',
        platform='"Linux"',
    )
    got = parse_client(ANDROID_CHROME_DESKTOP_MODE, hints)
    assert got.browser == "chromium"
    assert got.browser_version == "131"
    assert got.browser_version_precision is MAJ
    assert got.hints_used


def test_specific_brand_beats_chromium_whatever_the_order() -> None:
    for header in (
        '"Chromium";v="131", "Google Chrome";v="131", "Not_A Brand";v="24"',
        '"Not_A Brand";v="24", "Google Chrome";v="131", "Chromium";v="131"',
    ):
        assert parse_client(WIN_CHROME_131, ClientHints(sec_ch_ua=header)).browser == "chrome"


def test_sec_ch_ua_alone_gives_major_only() -> None:
    got = parse_client(WIN_EDGE_131, ClientHints(sec_ch_ua=CH_EDGE_131))
    assert (got.browser, got.browser_version, got.browser_version_precision) == (
        "edge",
        "131",
        MAJ,
    )


def test_malformed_full_version_list_falls_back_to_sec_ch_ua() -> None:
    hints = ClientHints(
        sec_ch_ua=CH_CHROME_131,
        full_version_list='"Google Chrome";v=131.0.6778.86 garbage',
        platform='"Windows"',
        platform_version='"15.0.0"',
    )
    got = parse_client(WIN_CHROME_131, hints)
    assert (got.browser_version, got.browser_version_precision) == ("131", MAJ)
    assert (got.os_version, got.os_version_precision, got.os_build) == ("11", EXACT, "15.0.0")
    assert any("malformed Sec-CH-UA-Full-Version-List" in n for n in got.notes)


def test_unquoted_or_junk_platform_version_is_ignored() -> None:
    hints = ClientHints(sec_ch_ua=CH_CHROME_131, platform='"Windows"', platform_version='"abc"')
    got = parse_client(WIN_CHROME_131, hints)
    assert (got.os_version, got.os_version_precision, got.os_build) == ("10", FROZEN, None)


def test_result_is_deterministic_and_hashable() -> None:
    hints = win_hints(CH_CHROME_131, CH_CHROME_131_FULL, "15.0.0")
    a = parse_client(WIN_CHROME_131, hints)
    b = parse_client(WIN_CHROME_131, hints)
    assert a == b
    assert hash(a) == hash(b)
    assert isinstance(a.notes, tuple)


def test_lone_surrogate_does_not_crash() -> None:
    got = parse_client("Mozilla/5.0 \ud800 Chrome/131.0.0.0")
    assert isinstance(got, ParsedClient)


# --------------------------------------------------------------------------- resolver


def test_parser_uses_the_rust_resolver() -> None:
    import ua_parser
    import ua_parser.regex
    import ua_parser_rs  # type: ignore[import-untyped]

    resolver = useragent.PARSER.resolver
    assert isinstance(resolver, ua_parser.CachingResolver)
    inner = resolver.parser
    assert isinstance(inner, ua_parser.regex.Resolver)
    assert not isinstance(inner, ua_parser.BasicResolver)
    assert isinstance(inner.ua, ua_parser_rs.UserAgentExtractor)
    assert isinstance(inner.os, ua_parser_rs.OSExtractor)


# --------------------------------------------------------------------------- properties

_UA_PIECES = st.sampled_from(sorted({c.ua for c in CASES if len(c.ua) < 1000}))
_HINT_PIECES = st.sampled_from(
    [
        CH_CHROME_131,
        CH_CHROME_131_FULL,
        CH_EDGE_131_FULL,
        CH_HEADLESS,
        '"Windows"',
        '"macOS"',
        '"Android"',
        '"15.0.0"',
        '"0.0.0"',
        '"99999999999999999999.0"',
        "?0",
        "?1",
        '""',
        '"Pixel 8"',
        "",
    ]
)
_ua_text = st.one_of(st.text(), _UA_PIECES, st.builds(lambda a, b: a + b, _UA_PIECES, st.text()))
_hint_text = st.one_of(st.text(), _HINT_PIECES)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ua=_ua_text,
    sec_ch_ua=_hint_text,
    full=_hint_text,
    platform=_hint_text,
    platform_version=_hint_text,
    mobile=_hint_text,
    model=_hint_text,
    touch=st.none() | st.integers(min_value=-(2**31), max_value=2**31),
    with_hints=st.booleans(),
)
def test_never_raises(
    ua: str,
    sec_ch_ua: str,
    full: str,
    platform: str,
    platform_version: str,
    mobile: str,
    model: str,
    touch: int | None,
    with_hints: bool,
) -> None:
    hints = (
        ClientHints(
            sec_ch_ua=sec_ch_ua,
            full_version_list=full,
            platform=platform,
            platform_version=platform_version,
            mobile=mobile,
            model=model,
        )
        if with_hints
        else None
    )
    got = parse_client(ua, hints, touch)
    assert isinstance(got, ParsedClient)
    assert isinstance(got.kind, ClientKind)
    assert isinstance(got.notes, tuple)
    # a version is never claimed without a precision, and vice versa
    assert (got.browser_version is None) == (got.browser_version_precision is ABSENT)
    assert (got.os_version is None) == (got.os_version_precision is ABSENT)
    if got.kind is ClientKind.BOT:
        assert got.bot
    if got.kind is ClientKind.IN_APP_BROWSER:
        assert got.in_app
    # never a reduced placeholder as a version
    if got.browser in ("chrome", "edge", "opera") and got.browser_version is not None:
        assert not got.browser_version.endswith(".0.0.0")
