"""Turn a login's User-Agent (and Sec-CH-UA client hints) into a :class:`ParsedClient`.

Pure module: no clock, no I/O. The heavy lifting (the ua-parser regex corpus) is
done by ua-parser 1.x running on the Rust ``ua-parser-rs`` resolver; this module
adds what ua-parser does not know about, namely *how much of each version is
real*:

* Chrome / Edge / Opera send a reduced UA (``Chrome/131.0.0.0``,
  ``Windows NT 10.0``, ``Android 10; K``, ``CrOS x86_64 14541.0.0``): only the
  browser major is real, the OS tokens are placeholders. The full truth is in the
  client hints, which only Chromium browsers send.
* Firefox only ever sends its major (``Firefox/136.0``).
* Safari sends ``Version/<major.minor[.patch]>`` and, on macOS, a frozen
  ``Mac OS X 10_15_7``. iOS 26+ freezes the OS token at ``18_6``.

Product ids emitted in ``ParsedClient.browser``:

``chrome`` (desktop and Android Chrome, HeadlessChrome), ``edge`` (desktop
``Edg/`` and Android ``EdgA/``: both are Blink and follow Edge's major), ``firefox``
(desktop and Android), ``safari`` (macOS, iOS, iPadOS), ``chrome_ios``,
``edge_ios``, ``firefox_ios`` (WebKit shells on iOS: their engine is the OS's
WebKit), ``opera`` (desktop ``OPR/``), ``opera_mobile`` (Opera for Android, own
version line), ``samsung_internet``, ``chromium``, ``brave`` (hints only),
``android_webview`` (Android WebView / in-app browsers on Android),
``ios_webview`` (WKWebView in-app browsers on iOS/iPadOS; version = iOS version,
INFERRED), anything else: the ua-parser family in lower snake case
(``yandex_browser``, ``vivaldi``, ...).

OS ids: ``windows``, ``macos``, ``ios``, ``ipados``, ``android``, ``linux``
(also for Ubuntu, Fedora, ...), ``chromeos``, anything else the ua-parser
family in lower snake case.

When a value is FROZEN, ``os_version`` holds the placeholder the client sent
(``"10"`` for ``Windows NT 10.0``, ``"10.15.7"`` for macOS, ``"10"`` for
``Android 10; K``) and a note says so; never use a FROZEN value as a real version.

``mobile`` follows Sec-CH-UA-Mobile semantics: phones True, tablets (iPad,
Android without ``Mobile``) and desktops False, unknown None.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Final

import ua_parser
import ua_parser.regex  # the ua-parser-rs backed resolver; fails loudly if it is missing
from http_sfv.item import Item as SfItem
from http_sfv.list import List as SfList
from ua_parser import OS, Domain, PartialResult, UserAgent

from checks.model import ClientHints, ClientKind, HintConflict, ParsedClient, Precision

__all__ = ["PARSER", "parse_client"]


class _LastResult:
    """A one-entry cache for ua-parser's CachingResolver.

    It lets the OS lookup that may follow a USER_AGENT lookup of the same
    string extend that entry instead of starting over. Repeated user agents
    are served by :func:`parse_client`'s own cache of finished results, so a
    bigger cache here would only cost time on every new user agent.
    """

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[str, PartialResult] | None = None

    def __getitem__(self, key: str) -> PartialResult | None:
        entry = self._entry
        return entry[1] if entry is not None and entry[0] == key else None

    def __setitem__(self, key: str, value: PartialResult) -> None:
        self._entry = (key, value)


#: The one ua-parser instance of the process: Rust resolver behind a small cache.
#: The USER_AGENT domain is always requested; the OS domain only for the long
#: tail of platforms that the few fixed tokens below (``Windows NT``, ``iPhone OS``,
#: ``Mac OS X``, ``Android``, ``CrOS``, ``X11; Linux``) do not cover, and the
#: DEVICE domain never (it is the most expensive one; the Android model is taken
#: from the UA directly).
PARSER: Final = ua_parser.Parser(
    ua_parser.CachingResolver(
        ua_parser.regex.Resolver(ua_parser.load_lazy_builtins()),
        _LastResult(),
    )
)

#: Real user agents are < 1 KiB; anything longer is junk and is cut before parsing.
MAX_UA_LENGTH: Final = 2048
#: Client hint values longer than this are ignored.
MAX_HINT_LENGTH: Final = 1024

# --------------------------------------------------------------------------- tables

_BROWSER_FAMILIES: Final[dict[str, str]] = {
    "Chrome": "chrome",
    "Chrome Mobile": "chrome",
    "HeadlessChrome": "chrome",
    "Chromium": "chromium",
    "Edge": "edge",
    "Edge Mobile": "edge",  # EdgA/ on Android; EdgiOS is caught by _IOS_SHELL_RE first
    "Firefox": "firefox",
    "Firefox Mobile": "firefox",
    "Firefox Beta": "firefox",
    "Firefox Alpha": "firefox",
    "Safari": "safari",
    "Mobile Safari": "safari",
    "Chrome Mobile iOS": "chrome_ios",
    "Firefox iOS": "firefox_ios",
    "Opera": "opera",
    "Opera Mobile": "opera_mobile",
    "Samsung Internet": "samsung_internet",
    "Chrome Mobile WebView": "android_webview",
}
#: Browser ids kept on a BOT result (the engine of a headless browser, ...).
_KNOWN_BROWSER_IDS: Final = frozenset(_BROWSER_FAMILIES.values()) | {
    "edge_ios",
    "ios_webview",
    "brave",
}
#: Blink browsers whose UA version is reduced to ``<major>.0.0.0``.
_CHROMIUM_IDS: Final = frozenset(
    {"chrome", "chromium", "edge", "opera", "opera_mobile", "android_webview", "brave"}
)
#: ua-parser families that are HTTP stacks of native apps, not browsers.
_NON_BROWSER_FAMILIES: Final = frozenset({"Android", "CFNetwork"})

_OS_FAMILIES: Final[dict[str, str]] = {
    "Windows": "windows",
    "Mac OS X": "macos",
    "iOS": "ios",
    "Android": "android",
    "Chrome OS": "chromeos",
    "Linux": "linux",
    "Ubuntu": "linux",
    "Debian": "linux",
    "Fedora": "linux",
    "Red Hat": "linux",
    "Linux Mint": "linux",
    "Arch Linux": "linux",
    "openSUSE": "linux",
    "Gentoo": "linux",
}

_WINDOWS_NT: Final[dict[str, str]] = {
    "6.3": "8.1",
    "6.2": "8",
    "6.1": "7",
    "6.0": "vista",
    "5.2": "xp",
    "5.1": "xp",
}

_BRAND_IDS: Final[dict[str, str]] = {
    "google chrome": "chrome",
    "chromium": "chromium",
    "microsoft edge": "edge",
    "opera": "opera",
    "opera gx": "opera",
    "operamobile": "opera_mobile",
    "opera mobile": "opera_mobile",
    "samsung internet": "samsung_internet",
    "brave": "brave",
    "android webview": "android_webview",
    "headlesschrome": "chrome",
    "yandex": "yandex_browser",
    "yabrowser": "yandex_browser",
}

_PLATFORM_IDS: Final[dict[str, str]] = {
    "windows": "windows",
    "macos": "macos",
    "android": "android",
    "linux": "linux",
    "chrome os": "chromeos",
    "chromeos": "chromeos",
    "chromium os": "chromeos",
    "ios": "ios",
}

# Automated clients as ua-parser names them (its corpus knows most crawlers and
# HTTP libraries) -> the name reported in ``ParsedClient.bot``.
_BOT_FAMILIES: Final[dict[str, str]] = {
    "HeadlessChrome": "HeadlessChrome",
    "Googlebot": "Googlebot",
    "bingbot": "Bingbot",
    "FacebookBot": "facebookexternalhit",
    "Yahoo! Slurp": "Yahoo! Slurp",
    "PhantomJS": "PhantomJS",
    "curl": "curl",
    "Wget": "Wget",
    "Python Requests": "python-requests",
    "Python-urllib": "Python-urllib",
    "Python aiohttp": "aiohttp",
    "Go-http-client": "Go-http-client",
    "okhttp": "okhttp",
    "Apache-HttpClient": "Apache-HttpClient",
    "Java": "Java",
    "libwww-perl": "libwww-perl",
    "axios": "axios",
    "PostmanRuntime": "PostmanRuntime",
    "Scrapy": "Scrapy",
    "AdsBot-Google": "AdsBot-Google",
    "Mediapartners-Google": "Mediapartners-Google",
    "Google-InspectionTool": "Google-InspectionTool",
}
# Fallback for strings ua-parser does not recognise at all: (lower-case marker, name).
_BOT_MARKERS: Final[tuple[tuple[str, str], ...]] = (
    ("headlesschrome", "HeadlessChrome"),
    ("googlebot", "Googlebot"),
    ("bingbot", "Bingbot"),
    ("curl/", "curl"),
    ("wget/", "Wget"),
    ("python-requests", "python-requests"),
    ("python-httpx", "httpx"),
    ("go-http-client", "Go-http-client"),
    ("node-fetch", "node-fetch"),
    ("powershell/", "PowerShell"),
)
# Generic crawler words; the name is the whole token around the word.
_GENERIC_BOT_WORDS: Final = ("bot", "crawler", "spider", "slurp")
_ASCII_LOWER: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_NOT_BOTS: Final = frozenset({"cubot"})  # CUBOT is an Android phone brand
_TOKEN_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.!"
)

# In-app browsers: marker -> host app name (Android WebView / iOS WKWebView are
# handled separately, they are the fallback when no app is named).
_IN_APP_MARKERS: Final[tuple[tuple[str, str], ...]] = (
    (" Line/", "LINE"),
    ("YJApp-", "Yahoo! JAPAN"),
    ("FBAN/", "Facebook"),
    ("FBAV/", "Facebook"),
    ("FB_IAB", "Facebook"),
    ("Instagram ", "Instagram"),
    ("Twitter for iP", "Twitter"),
    ("TwitterAndroid", "Twitter"),
    ("MicroMessenger/", "WeChat"),
    ("KAKAOTALK", "KakaoTalk"),
    ("musical_ly", "TikTok"),
    ("BytedanceWebview", "TikTok"),
    ("GSA/", "Google App"),
)
_IN_APP_RE: Final = re.compile("|".join(re.escape(m) for m, _ in _IN_APP_MARKERS))
_IN_APP_NAMES: Final[dict[str, str]] = dict(_IN_APP_MARKERS)
# ua-parser families that name an app rather than a browser.
_IN_APP_FAMILIES: Final[dict[str, str]] = {
    "LINE": "LINE",
    "Facebook": "Facebook",
    "Instagram": "Instagram",
    "Twitter": "Twitter",
    "WeChat Browser": "WeChat",
    "Google": "Google App",
}

# WebKit shells on iOS, tested as plain substrings (much cheaper than a regex alternation).
_IOS_SHELLS: Final[tuple[tuple[str, str], ...]] = (
    ("CriOS/", "chrome_ios"),
    ("EdgiOS/", "edge_ios"),
    ("FxiOS/", "firefox_ios"),
)
_DOTTED_PREFIX_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_SAFARI_VERSION_RE: Final = re.compile(r"Version/([0-9]+(?:\.[0-9]+)*)")
_CHROME_TOKEN_RE: Final = re.compile(r"Chrome/([0-9]+(?:\.[0-9]+)*)")
_WINDOWS_OS: Final = OS("Windows")
_LINUX_OS: Final = OS("Linux")
_IOS_TOKEN_RE: Final = re.compile(r" OS ([0-9]+)_([0-9]+)(?:_([0-9]+))?")
_MAC_TOKEN_RE: Final = re.compile(r"Mac OS X ([0-9]+)[_.]([0-9]+)(?:[_.]([0-9]+))?")
_ANDROID_TOKEN_RE: Final = re.compile(r"Android[ /]?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?")
_CROS_TOKEN_RE: Final = re.compile(r"CrOS \S+ ([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?")
_WINDOWS_NT_RE: Final = re.compile(r"Windows NT ([0-9]+\.[0-9]+)")
_ANDROID_SEGMENT_RE: Final = re.compile(r"Android[ /]?[0-9.]*;([^)]*)\)")
_LOCALE_RE: Final = re.compile(r"[a-z]{2}(?:[-_][a-zA-Z]{2})?")
_VERSION_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*")

_IOS_FROZEN_TOKEN: Final = ("18", "6")
_IOS_FREEZE_SAFARI_MAJOR: Final = 26
_MACOS_FROZEN: Final = frozenset({"10.15.7", "10.15"})
_CHROMEOS_FROZEN: Final = "14541.0.0"
_WINDOWS_11_MIN_PLATFORM_MAJOR: Final = 13

# --------------------------------------------------------------------------- helpers


@dataclass(slots=True)
class _Draft:
    kind: ClientKind = ClientKind.UNRECOGNISED
    browser: str | None = None
    browser_version: str | None = None
    browser_version_precision: Precision = Precision.ABSENT
    os: str | None = None
    os_version: str | None = None
    os_version_precision: Precision = Precision.ABSENT
    os_build: str | None = None
    mobile: bool | None = None
    device_model: str | None = None
    in_app: str | None = None
    bot: str | None = None
    hints_used: bool = False
    notes: list[str] = field(default_factory=list)
    conflicts: list[HintConflict] = field(default_factory=list)
    # notes about the UA's OS version; dropped when client hints replace it
    os_notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def conflict(self, field_name: str, ua_value: str, hint_value: str, what: str) -> None:
        """Record a UA / client-hint contradiction: neither source is believed (HNB-P1)."""
        self.conflicts.append(HintConflict(field_name, ua_value, hint_value))
        self.note(
            f"user agent says {what} {ua_value} but client hints say {hint_value}: "
            "contradiction, neither is trusted"
        )

    def os_note(self, text: str) -> None:
        if text not in self.os_notes:
            self.os_notes.append(text)

    def set_browser(self, browser: str | None, version: tuple[str | None, Precision]) -> None:
        self.browser = browser
        self.browser_version, self.browser_version_precision = version

    def set_os_version(self, version: str | None, precision: Precision) -> None:
        """Set the OS version; forgets the notes about the previous one."""
        self.os_notes.clear()
        self.os_version = version
        self.os_version_precision = precision if version is not None else Precision.ABSENT

    def freeze(self) -> ParsedClient:
        return ParsedClient(
            kind=self.kind,
            browser=self.browser,
            browser_version=self.browser_version,
            browser_version_precision=self.browser_version_precision,
            os=self.os,
            os_version=self.os_version,
            os_version_precision=self.os_version_precision,
            os_build=self.os_build,
            mobile=self.mobile,
            device_model=self.device_model,
            in_app=self.in_app,
            bot=self.bot,
            hints_used=self.hints_used,
            notes=(*self.os_notes, *self.notes),
            conflicts=tuple(self.conflicts),
        )


def _slug(family: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", family.lower()).strip("_") or "other"


def _components(parts: tuple[str | None, ...]) -> list[str]:
    """Leading all-ASCII-digit components of a ua-parser version tuple."""
    out: list[str] = []
    for p in parts:
        if not p or not p.isdigit() or not p.isascii():
            break
        out.append(p)
    return out


_PRECISION_BY_COUNT: Final = (
    Precision.ABSENT,
    Precision.MAJOR_ONLY,
    Precision.MAJOR_MINOR,
    Precision.EXACT,
)


def _split(version: str) -> tuple[str | None, ...]:
    return tuple(version.split("."))


def _generic_version(parts: tuple[str | None, ...]) -> tuple[str | None, Precision]:
    comps = _components(parts)
    if not comps:
        return None, Precision.ABSENT
    return ".".join(comps), _PRECISION_BY_COUNT[min(len(comps), 3)]


def _chromium_version(parts: tuple[str | None, ...]) -> tuple[str | None, Precision]:
    """``131.0.0.0`` is the reduced UA: only the major is real."""
    comps = _components(parts)
    if not comps:
        return None, Precision.ABSENT
    if all(c.strip("0") == "" for c in comps[1:]):
        return comps[0], Precision.MAJOR_ONLY
    return _generic_version(parts)


def _major_only(parts: tuple[str | None, ...]) -> tuple[str | None, Precision]:
    comps = _components(parts)
    if not comps:
        return None, Precision.ABSENT
    return comps[0], Precision.MAJOR_ONLY


def _resolve(ua: str) -> tuple[UserAgent | None, OS | None]:
    """ua-parser's browser, and OS (own fast path for the main platforms)."""
    if not ua.isascii():
        # lone surrogates cannot cross into Rust; real UAs are ASCII anyway
        ua = ua.encode("utf-8", "replace").decode("utf-8")
    user_agent = PARSER(ua, Domain.USER_AGENT).user_agent
    os = _fast_os(ua)
    if os is None:
        os = PARSER(ua, Domain.OS).os  # merged into the cached entry
    return user_agent, os


def _fast_os(ua: str) -> OS | None:
    """The OS of the overwhelmingly common platforms, as ua-parser would report it.

    Only the family matters for Windows (the NT version is mapped separately).
    None means "ask ua-parser".
    """
    if "Windows Phone" in ua:
        return None
    if "Windows NT " in ua:
        return _WINDOWS_OS
    m: re.Match[str] | None
    if "iPhone" in ua or "iPad" in ua or "iPod" in ua:
        m = _IOS_TOKEN_RE.search(ua)
        return OS("iOS", *m.groups()) if m else None
    if "Macintosh" in ua:
        m = _MAC_TOKEN_RE.search(ua)
        return OS("Mac OS X", *m.groups()) if m else None
    if "Android" in ua:
        m = _ANDROID_TOKEN_RE.search(ua)
        return OS("Android", *m.groups()) if m else None
    if "CrOS " in ua:
        m = _CROS_TOKEN_RE.search(ua)
        return OS("Chrome OS", *m.groups()) if m else None
    if "X11; Linux" in ua or "X11; Ubuntu" in ua:
        return _LINUX_OS
    return None


def _detect_bot(ua: str, family: str | None) -> str | None:
    if family is not None:
        if family in _BOT_FAMILIES:
            return _BOT_FAMILIES[family]
        low_family = family.lower()
        if any(w in low_family for w in _GENERIC_BOT_WORDS) and low_family not in _NOT_BOTS:
            return family
        if family in _BROWSER_FAMILIES:
            # ua-parser's crawler rules run before its browser rules, so a
            # browser family means no crawler token it knows of was found.
            return None
    # Plain substring tests on the lower-cased string: an IGNORECASE regex
    # alternation costs ~10x more in CPython's re.
    low = ua.lower()
    if family is None:
        for marker, name in _BOT_MARKERS:
            if marker in low:
                return name
    for word in _GENERIC_BOT_WORDS:
        pos = low.find(word)
        while pos != -1:
            end = pos + len(word)
            if end == len(low) or low[end] not in _ASCII_LOWER:
                start = pos
                while start > 0 and ua[start - 1] in _TOKEN_CHARS:
                    start -= 1
                name = ua[start:end]
                if name.lower() not in _NOT_BOTS:
                    return name
            pos = low.find(word, end)
    return None


def _detect_in_app(ua: str, family: str | None) -> str | None:
    m = _IN_APP_RE.search(ua)
    if m:
        return _IN_APP_NAMES[m.group(0)]
    if family is not None and family in _IN_APP_FAMILIES:
        return _IN_APP_FAMILIES[family]
    if "; wv)" in ua:
        return "Android WebView"
    return None


# --------------------------------------------------------------------------- UA -> OS


def _apply_os(d: _Draft, ua: str, osp: OS | None) -> None:
    if osp is None:
        return
    family = osp.family
    parts = (osp.major, osp.minor, osp.patch, osp.patch_minor)
    os_id = _OS_FAMILIES.get(family) or _slug(family)
    d.os = os_id

    if os_id == "windows":
        m = _WINDOWS_NT_RE.search(ua)
        nt = m.group(1) if m else None
        if nt == "10.0":
            d.set_os_version("10", Precision.FROZEN)
            d.os_note(
                "UA says Windows NT 10.0, sent by both Windows 10 and Windows 11: "
                "cannot tell them apart without Sec-CH-UA-Platform-Version"
            )
        elif nt in _WINDOWS_NT:
            d.set_os_version(_WINDOWS_NT[nt], Precision.EXACT)
        elif nt is not None:
            d.note(f"unknown Windows NT version {nt}")
        else:
            d.set_os_version(*_generic_version(parts))
        d.mobile = False
    elif os_id == "macos":
        version, precision = _generic_version(parts)
        if version in _MACOS_FROZEN:
            d.set_os_version(version, Precision.FROZEN)
            d.os_note(
                f"macOS version in the UA is frozen at {version}: the real macOS version is unknown"
            )
        else:
            d.set_os_version(version, precision)
        d.mobile = False
    elif os_id == "ios":
        if "iPad" in ua:
            d.os = "ipados"
            d.mobile = False
        else:
            d.mobile = True
        _apply_ios_version(d, ua, parts)
    elif os_id == "android":
        _apply_android(d, ua, parts)
    elif os_id == "chromeos":
        version, precision = _generic_version(parts)
        if version == _CHROMEOS_FROZEN:
            d.set_os_version(version, Precision.FROZEN)
            d.os_note("ChromeOS platform version 14541.0.0 in the UA is a frozen placeholder")
        else:
            d.set_os_version(version, precision)
        d.mobile = False
    else:
        d.set_os_version(*_generic_version(parts))
        if os_id == "linux":
            d.mobile = False


def _apply_ios_version(d: _Draft, ua: str, parts: tuple[str | None, ...]) -> None:
    version, precision = _generic_version(parts)
    comps = _components(parts)
    if tuple(comps) == _IOS_FROZEN_TOKEN:
        m = _SAFARI_VERSION_RE.search(ua)
        safari = m.group(1) if m else None
        if safari is not None and int(safari.split(".")[0]) >= _IOS_FREEZE_SAFARI_MAJOR:
            d.set_os_version(safari, Precision.INFERRED)
            d.os_note(
                f"iOS 26+ freezes the OS token at 18_6: OS version inferred from "
                f"Safari Version/{safari}"
            )
            return
        if safari is None:
            d.set_os_version(version, Precision.FROZEN)
            d.os_note(
                "OS token 18_6 with no Safari Version/ token: iOS 18.6 or a frozen "
                "token from iOS 26 or later"
            )
            return
    # The iOS token carries every component ("17_4_1"; "17_7" is 17.7.0),
    # unlike a reduced or frozen token: it is exact.
    d.set_os_version(version, Precision.EXACT if version is not None else precision)


def _apply_android(d: _Draft, ua: str, parts: tuple[str | None, ...]) -> None:
    version, precision = _generic_version(parts)
    d.mobile = " Mobile" in ua
    model: str | None = None
    m = _ANDROID_SEGMENT_RE.search(ua)
    if m:
        for raw in m.group(1).split(";"):
            token = raw.strip()
            if token.endswith(" Build") or " Build/" in token:
                token = token.split(" Build", 1)[0].strip()
            if (
                token in ("", "wv", "Mobile", "Tablet", "U", "K")
                or token.startswith("rv:")
                or _LOCALE_RE.fullmatch(token)
            ):
                continue
            model = token
            break
    d.device_model = model
    reduced = "; K)" in ua or "; K;" in ua
    if reduced and version == "10":
        d.set_os_version(version, Precision.FROZEN)
        d.os_note("reduced Android UA: 'Android 10' is a frozen placeholder, real version unknown")
    else:
        d.set_os_version(version, precision)
    if reduced:
        d.note("reduced Android UA: device model 'K' is a frozen placeholder")


# --------------------------------------------------------------------------- UA -> browser


def _apply_browser(d: _Draft, ua: str, uap: UserAgent | None) -> None:
    for token, shell_id in _IOS_SHELLS:
        pos = ua.find(token)
        if pos != -1:
            m = _DOTTED_PREFIX_RE.match(ua, pos + len(token))
            d.set_browser(shell_id, _generic_version(_split(m.group(0)) if m else ()))
            return
    if uap is None:
        return
    family = uap.family
    parts = (uap.major, uap.minor, uap.patch, uap.patch_minor)
    browser = _BROWSER_FAMILIES.get(family) or _slug(family)
    if browser == "firefox":
        d.set_browser(browser, _major_only(parts))
    elif browser in _CHROMIUM_IDS:
        d.set_browser(browser, _chromium_version(parts))
    else:
        d.set_browser(browser, _generic_version(parts))


def _apply_in_app_engine(d: _Draft, ua: str) -> None:
    """Replace the app family ua-parser reports by the engine doing the rendering."""
    if d.os == "android" or "; wv)" in ua:
        m = _CHROME_TOKEN_RE.search(ua)
        if m:
            d.set_browser("android_webview", _chromium_version(_split(m.group(1))))
        else:
            d.set_browser(None, (None, Precision.ABSENT))
    elif d.os in ("ios", "ipados"):
        m = _SAFARI_VERSION_RE.search(ua)
        if m:
            d.set_browser("ios_webview", _generic_version(_split(m.group(1))))
        elif d.os_version is not None:
            precision = (
                Precision.FROZEN
                if d.os_version_precision is Precision.FROZEN
                else Precision.INFERRED
            )
            d.set_browser("ios_webview", (d.os_version, precision))
            d.note("WKWebView: WebKit version follows the iOS version")
        else:
            d.set_browser("ios_webview", (None, Precision.ABSENT))
    elif d.browser not in _KNOWN_BROWSER_IDS:
        d.set_browser(None, (None, Precision.ABSENT))


def _apply_ipad_desktop_mode(d: _Draft, ua: str, max_touch_points: int | None) -> None:
    if not (
        d.kind is ClientKind.BROWSER
        and d.browser == "safari"
        and d.os == "macos"
        and "Macintosh" in ua
    ):
        return
    if max_touch_points is None:
        d.note("Macintosh Safari UA could be an iPad in desktop mode (no maxTouchPoints to tell)")
    elif max_touch_points > 1:
        d.os = "ipados"
        d.os_build = None
        d.mobile = False
        d.set_os_version(d.browser_version, Precision.INFERRED)
        d.note(
            "iPad desktop mode: Macintosh Safari UA with touch support; "
            "iPadOS version inferred from the Safari version"
        )


# --------------------------------------------------------------------------- client hints

_Brands = tuple[tuple[str, str], ...]
_GREASE_RE: Final = re.compile(r"[^a-z0-9]*not[^a-z0-9]*a[^a-z0-9]*brand[^a-z0-9]*", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def _parse_brands(value: str) -> _Brands | None:
    """Non-GREASE ``(brand, version)`` pairs of a Sec-CH-UA list; None if malformed."""
    try:
        parsed = SfList()
        parsed.parse(value.encode("ascii"))
    except Exception:  # untrusted header: any parser failure means "malformed"
        return None
    out: list[tuple[str, str]] = []
    for member in parsed:
        if not isinstance(member, SfItem):
            continue
        brand = member.value
        version = member.params.get("v")
        if not isinstance(brand, str) or not isinstance(version, str):
            continue
        if _GREASE_RE.fullmatch(brand):
            continue
        out.append((brand, version))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def _parse_item(value: str) -> str | bool | None:
    """A string/token/boolean sf-item; None if malformed or of another type."""
    try:
        item = SfItem()
        item.parse(value.encode("ascii"))
    except Exception:  # untrusted header: any parser failure means "malformed"
        return None
    v = item.value
    if isinstance(v, bool | str):
        return v
    return None


def _hint_brands(d: _Draft, value: str, header: str) -> _Brands:
    if not value.strip():
        return ()
    brands = _parse_brands(value) if len(value) <= MAX_HINT_LENGTH else None
    if brands is None:
        d.note(f"malformed {header} ignored")
        return ()
    return brands


def _hint_item(d: _Draft, value: str, header: str) -> str | bool | None:
    if not value.strip():
        return None
    item = _parse_item(value) if len(value) <= MAX_HINT_LENGTH else None
    if item is None:
        d.note(f"malformed {header} ignored")
    return item


def _pick_brand(brands: _Brands) -> tuple[str, str, str] | None:
    """(browser id, brand, version): a known specific brand beats an unknown one beats Chromium."""
    known = unknown = chromium = None
    for brand, version in brands:
        key = brand.lower()
        if key == "chromium":
            chromium = chromium or ("chromium", brand, version)
        elif key in _BRAND_IDS:
            known = known or (_BRAND_IDS[key], brand, version)
        else:
            unknown = unknown or (_slug(brand), brand, version)
    return known or unknown or chromium


def _same_product(ua_id: str | None, hint_id: str) -> bool:
    return ua_id == hint_id or (ua_id == "opera_mobile" and hint_id == "opera")


#: Brands of engines embedded in apps (lower case) -> (browser id, host name shown).
#: WebView2 sends the same UA as Edge; only its brand tells it apart.
_EMBEDDED_BRANDS: Final[dict[str, tuple[str, str]]] = {
    "microsoft edge webview2": ("edge_webview2", "Microsoft Edge WebView2"),
    "android webview": ("android_webview", "Android WebView"),
}


def _apply_embedded_brand(d: _Draft, brands: _Brands) -> bool:
    """An engine inside an app (WebView2, Android WebView) is judged as such, not as a browser."""
    for brand, version in brands:
        found = _EMBEDDED_BRANDS.get(brand.lower())
        if found is None:
            continue
        browser_id, host = found
        if d.kind is not ClientKind.BOT:
            d.kind = ClientKind.IN_APP_BROWSER
            if d.in_app is None or d.in_app == "Android WebView":
                d.in_app = host
        engine = _chromium_version(_split(version))
        ua_version = d.browser_version
        if d.browser == browser_id and ua_version is not None and engine[0] is not None:
            ua_major = ua_version.split(".")[0]
            if ua_major != engine[0].split(".")[0]:
                d.conflict("browser_version", ua_major, engine[0], f"{brand} major")
            elif len(engine[0].split(".")) <= len(ua_version.split(".")):
                return True  # the UA already says as much (Chrome/130.0.6723.102 in a WebView)
        d.set_browser(browser_id, engine)
        d.note(f"client hints brand {brand!r}: an engine embedded in an app, not a browser")
        return True
    return False


def _apply_hint_brands(d: _Draft, hints: ClientHints) -> bool:
    full_brands = _hint_brands(d, hints.full_version_list, "Sec-CH-UA-Full-Version-List")
    low_brands = _hint_brands(d, hints.sec_ch_ua, "Sec-CH-UA")
    if _apply_embedded_brand(d, full_brands or low_brands):
        return True
    full = _pick_brand(full_brands)
    low = _pick_brand(low_brands)
    picked = full or low
    if picked is None:
        return False
    hint_id, brand, _ = picked
    if brand.lower() == "headlesschrome" and d.kind is not ClientKind.BOT:
        d.kind = ClientKind.BOT
        d.bot = "HeadlessChrome"
    if not _same_product(d.browser, hint_id):
        # Brave, Vivaldi and other Chromium builds send a Chrome UA with their
        # own brand: a refinement. Any other difference is a contradiction.
        if d.browser is not None and d.browser not in ("chrome", "chromium"):
            d.conflict("browser", d.browser, brand, "browser")
            d.set_browser(hint_id, (None, Precision.ABSENT))
            return True
        d.set_browser(hint_id, (None, Precision.ABSENT))
    ua_version, ua_precision = d.browser_version, d.browser_version_precision
    ua_major = ua_version.split(".")[0] if ua_version is not None else None
    if full is not None and full[0] == hint_id:
        version, precision = _chromium_version(_split(full[2]))
        if version is not None:
            if ua_major is not None and version.split(".")[0] != ua_major:
                d.conflict("browser_version", ua_major, version, f"{brand} major")
            d.set_browser(d.browser, (version, precision))
            return True
    if low is not None and low[0] == hint_id:
        major = _components(_split(low[2]))[:1]
        if major:
            if ua_major is not None and ua_major != major[0]:
                d.conflict("browser_version", ua_major, major[0], f"{brand} major")
            elif ua_version is not None and ua_precision is Precision.EXACT:
                return True  # an old, non-reduced UA already has the full version
            d.set_browser(d.browser, (major[0], Precision.MAJOR_ONLY))
    return True


def _apply_windows_platform_version(d: _Draft, pv: str) -> None:
    d.os_build = pv
    major = int(pv.split(".")[0])
    ua_exact = d.os_version if d.os_version_precision is Precision.EXACT else None
    if ua_exact in ("7", "8", "8.1") and major >= 1:
        # Windows NT 6.x in the UA, a Windows 10/11 platform version in the hints.
        d.conflict("os_version", f"Windows {ua_exact}", f"platform version {pv}", "Windows")
        return
    if major >= _WINDOWS_11_MIN_PLATFORM_MAJOR:
        d.set_os_version("11", Precision.EXACT)
    elif 1 <= major <= 10:
        d.set_os_version("10", Precision.EXACT)
    elif major == 0:
        if d.os_version in ("7", "8", "8.1") and d.os_version_precision is Precision.EXACT:
            d.note("Sec-CH-UA-Platform-Version 0.x: Windows 8.1 or earlier (version from the UA)")
        else:
            d.set_os_version("8.1", Precision.INFERRED)
            d.note("Sec-CH-UA-Platform-Version 0.x: Windows 8.1 or earlier")
    else:
        d.set_os_version("10", Precision.INFERRED)
        d.note(f"unexpected Windows platform version {pv}: assumed Windows 10")


def _apply_hints(d: _Draft, ua: str, hints: ClientHints | None) -> None:
    if hints is None or not any(
        v.strip()
        for v in (
            hints.sec_ch_ua,
            hints.full_version_list,
            hints.platform,
            hints.platform_version,
            hints.mobile,
            hints.model,
        )
    ):
        return
    if "Chrome/" not in ua and "Chromium/" not in ua:
        d.note("client hints ignored: only Chromium browsers send them and the UA is not one")
        return

    used = _apply_hint_brands(d, hints)

    platform = _hint_item(d, hints.platform, "Sec-CH-UA-Platform")
    if isinstance(platform, str) and platform:
        os_id = _PLATFORM_IDS.get(platform.lower())
        if os_id is not None:
            used = True
            if d.os != os_id:
                if d.os == "linux" and os_id in ("android", "chromeos"):
                    # Android Chrome's "desktop site" sends a Linux UA: a refinement.
                    d.note(f"UA OS {d.os} refined by Sec-CH-UA-Platform {platform!r}")
                elif d.os is not None:
                    d.conflict("os", d.os, platform, "OS")
                d.os = os_id
                d.set_os_version(None, Precision.ABSENT)
                d.device_model = None

    pv = _hint_item(d, hints.platform_version, "Sec-CH-UA-Platform-Version")
    if isinstance(pv, str) and pv:
        if not _VERSION_RE.fullmatch(pv):
            d.note(f"unusable Sec-CH-UA-Platform-Version {pv!r} ignored")
        elif d.os == "windows":
            _apply_windows_platform_version(d, pv)
            used = True
        elif d.os is not None and d.os != "linux":
            ua_major = d.os_version.split(".")[0] if d.os_version else None
            if (
                d.os == "android"
                and ua_major is not None
                and d.os_version_precision
                in (Precision.EXACT, Precision.MAJOR_MINOR, Precision.MAJOR_ONLY)
                and ua_major != pv.split(".")[0]
            ):
                d.conflict("os_version", f"Android {d.os_version}", f"Android {pv}", "OS version")
            d.set_os_version(pv, Precision.EXACT)
            used = True

    mobile = _hint_item(d, hints.mobile, "Sec-CH-UA-Mobile")
    if isinstance(mobile, bool):
        d.mobile = mobile
        used = True

    model = _hint_item(d, hints.model, "Sec-CH-UA-Model")
    if isinstance(model, str) and model.strip():
        d.device_model = model.strip()
        used = True

    d.hints_used = used


# --------------------------------------------------------------------------- public API


#: Parsed clients kept per distinct (UA, hints, maxTouchPoints). Parsing is pure
#: and ParsedClient immutable, so a hit returns the very result a parse would.
_CLIENT_CACHE_SIZE: Final = 4096
#: Longer inputs are parsed every time rather than kept (bounds the cache's memory).
_CACHEABLE_INPUT_CHARS: Final = 1024


def parse_client(
    user_agent: str,
    hints: ClientHints | None = None,
    max_touch_points: int | None = None,
) -> ParsedClient:
    """Parse a User-Agent string, plus Sec-CH-UA client hints and the JS
    ``navigator.maxTouchPoints`` when available, into a :class:`ParsedClient`.

    Never raises on any string input; unknown input gives ``ClientKind.UNRECOGNISED``.
    Results are cached per distinct input (bounded LRU): logins come from few
    distinct browsers, and parsing is a pure function of these three values.
    """
    if (
        type(user_agent) is str
        and len(user_agent) <= _CACHEABLE_INPUT_CHARS
        and (max_touch_points is None or type(max_touch_points) is int)
        and (
            hints is None
            or (
                type(hints) is ClientHints
                and len(hints.sec_ch_ua)
                + len(hints.full_version_list)
                + len(hints.platform)
                + len(hints.platform_version)
                + len(hints.mobile)
                + len(hints.model)
                <= _CACHEABLE_INPUT_CHARS
            )
        )
    ):
        return _parse_client_cached(user_agent, hints, max_touch_points)
    return _parse_client(user_agent, hints, max_touch_points)


def _parse_client(
    user_agent: str,
    hints: ClientHints | None,
    max_touch_points: int | None,
) -> ParsedClient:
    d = _Draft()
    ua = user_agent.strip() if isinstance(user_agent, str) else ""
    if len(ua) > MAX_UA_LENGTH:
        ua = ua[:MAX_UA_LENGTH]
        d.note(f"user agent longer than {MAX_UA_LENGTH} characters, truncated")
    if not ua:
        d.note("empty user agent")
        _apply_hints(d, ua, hints)
        return d.freeze()

    uap, osp = _resolve(ua)
    _apply_os(d, ua, osp)
    _apply_browser(d, ua, uap)

    bot = _detect_bot(ua, uap.family if uap else None)
    in_app = None if bot else _detect_in_app(ua, uap.family if uap else None)
    if (
        in_app is None
        and bot is None
        and d.os in ("ios", "ipados")
        and d.browser not in _KNOWN_BROWSER_IDS
        and "AppleWebKit/" in ua
        and "Safari/" not in ua
    ):
        in_app = "iOS WebView"

    if bot is not None:
        d.kind = ClientKind.BOT
        d.bot = bot
        if d.browser not in _KNOWN_BROWSER_IDS:
            d.set_browser(None, (None, Precision.ABSENT))
    elif in_app is not None:
        d.kind = ClientKind.IN_APP_BROWSER
        d.in_app = in_app
        _apply_in_app_engine(d, ua)
    elif uap is not None and uap.family in _NON_BROWSER_FAMILIES:
        d.set_browser(None, (None, Precision.ABSENT))
        d.note(f"native app HTTP client ({uap.family}), not a browser")
    elif d.browser is not None:
        d.kind = ClientKind.BROWSER
    else:
        d.note("no known browser in the user agent")

    _apply_hints(d, ua, hints)
    _apply_ipad_desktop_mode(d, ua, max_touch_points)
    return d.freeze()


_parse_client_cached: Final = functools.lru_cache(maxsize=_CLIENT_CACHE_SIZE)(_parse_client)
