"""Customer-facing names and phrases of the posture checks (HNB-P1..P4).

Every ``message_ja`` a login check returns is read by a bank customer, so it
names products the way vendors market them (Google Chrome, Microsoft Edge,
Windows 11, macOS Sonoma 14, iOS 18) and never shows internal ids
(``chrome_ios``), support-matrix specifiers (``>=14,<27``) or channel names
(``esr115``). Pure: the release catalog passed in supplies OS codenames and
the OS versions a specifier admits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Final

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from checks.releases import Channel, ProductReleases, ReleaseCatalog, parse_version

__all__ = [
    "PRODUCT_NAMES",
    "browser_label",
    "channel_label",
    "jst",
    "known_os_versions",
    "os_label",
    "os_version_label",
    "supported_versions_text",
    "versions_or_later",
]

_JST: Final = timezone(timedelta(hours=9), "JST")

#: Marketing names of the browser ids ``checks.useragent`` emits.
PRODUCT_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "chrome": "Google Chrome",
        "edge": "Microsoft Edge",
        "firefox": "Mozilla Firefox",
        "safari": "Safari",
        "chrome_ios": "Google Chrome(iPhone/iPad版)",
        "edge_ios": "Microsoft Edge(iPhone/iPad版)",
        "firefox_ios": "Mozilla Firefox(iPhone/iPad版)",
        "opera": "Opera",
        "opera_mobile": "Opera(Android版)",
        "samsung_internet": "Samsung Internet",
        "chromium": "Chromium",
        "brave": "Brave",
        "vivaldi": "Vivaldi",
        "yandex_browser": "Yandex Browser",
        "android_webview": "Android WebView(アプリ内ブラウザ)",
        "ios_webview": "アプリ内ブラウザ",
        "edge_webview2": "Microsoft Edge WebView2(アプリ内ブラウザ)",
        "ie": "Internet Explorer",
        "phishwall": "PhishWallプレミアム",
    }
)
_OS_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "windows": "Windows",
        "macos": "macOS",
        "ios": "iOS",
        "ipados": "iPadOS",
        "android": "Android",
        "linux": "Linux",
        "chromeos": "ChromeOS",
    }
)
#: Windows' marketing versions as ``checks.useragent`` reports them.
_WINDOWS_VERSIONS: Final[Mapping[str, str]] = MappingProxyType(
    {"vista": "Windows Vista", "xp": "Windows XP"}
)
#: Product ids of OS release data (``ipados`` falls back to ``ios`` data).
_OS_DATA: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"ipados": ("ipados", "ios"), "ios": ("ios",), "macos": ("macos",), "android": ("android",)}
)


def browser_label(browser: str | None) -> str:
    """``chrome_ios`` -> ``Google Chrome(iPhone/iPad版)``; unknown ids never leak out."""
    if browser is None:
        return "ご利用のブラウザ"
    return PRODUCT_NAMES.get(browser, "ご利用のブラウザ")


def os_label(os: str | None) -> str:
    """``macos`` -> ``macOS``; an OS without a marketing name here -> ``ご利用のOS``."""
    return _OS_NAMES.get(os or "", "ご利用のOS")


def _os_data(os: str, catalog: ReleaseCatalog | None) -> ProductReleases | None:
    if catalog is None:
        return None
    for product_id in _OS_DATA.get(os, (os,)):
        product = catalog.get(product_id)
        if product is not None:
            return product
    return None


def _codename(channel: Channel | None) -> str | None:
    if channel is None:
        return None
    return next((r.label for r in channel.releases if r.label), None)


def os_version_label(os: str | None, version: str, catalog: ReleaseCatalog | None = None) -> str:
    """``("windows", "11")`` -> ``Windows 11``; ``("macos", "14")`` -> ``macOS Sonoma 14``.

    macOS codenames come from the release data (labels of each line's first
    release); without data the number alone is shown.
    """
    if os == "windows":
        return _WINDOWS_VERSIONS.get(version, f"Windows {version}")
    name = os_label(os)
    if os == "macos":
        product = _os_data("macos", catalog)
        line = _line(product, version) if product is not None else None
        codename = _codename(line)
        if codename:
            return f"macOS {codename} {version}"
    return f"{name} {version}"


def _line(product: ProductReleases, version: str) -> Channel | None:
    try:
        parts = parse_version(version)
    except ValueError:
        return None
    if len(parts) > 1 and (ch := product.channel(f"{parts[0]}.{parts[1]}")) is not None:
        return ch
    return product.channel(str(parts[0]))


def known_os_versions(os: str, catalog: ReleaseCatalog | None) -> list[str]:
    """The OS versions a customer can be told about, oldest first (marketing numbers)."""
    if os == "windows":
        return ["7", "8", "8.1", "10", "11"]
    product = _os_data(os, catalog)
    if product is None:
        return []
    names = [c.name for c in product.channels]
    return sorted(names, key=lambda n: tuple(int(p) for p in n.split(".") if p.isdigit()))


def supported_versions_text(os: str, spec: SpecifierSet, catalog: ReleaseCatalog | None) -> str:
    """The OS versions a support-matrix entry admits, in words (never specifier syntax).

    Enumerated from the release data where it knows the OS
    (``macOS Sonoma 14、macOS Sequoia 15、macOS Tahoe 26``); otherwise the
    bounds in Japanese (``Android 13 以上 17 未満``).
    """
    admitted = []
    for v in known_os_versions(os, catalog):
        try:
            if Version(v) in spec:
                admitted.append(v)
        except InvalidVersion:
            continue
    if admitted:
        return "、".join(os_version_label(os, v, catalog) for v in admitted)
    parts = []
    for s in sorted(spec, key=lambda s: s.operator):
        words = {
            ">=": "以上",
            ">": "より新しい",
            "<": "未満",
            "<=": "以下",
            "==": "",
            "~=": "互換",
            "!=": "以外",
        }
        parts.append(f"{s.version} {words.get(s.operator, '')}".strip())
    return f"{os_label(os)} " + " ".join(parts) if parts else os_label(os)


def channel_label(product: ProductReleases, channel: Channel) -> str:
    """A channel as a customer knows it: ``esr115`` -> ``ESR 115``, Windows ``10`` -> ``10``."""
    if channel.name.startswith("esr") and channel.name[3:].isdigit():
        return f"ESR {channel.name[3:]}"
    if product.kind == "os":
        return channel.name
    return ""


def versions_or_later(version: str, at_least: bool) -> str:
    """``27.2`` or ``27.2 以降`` when the data may not know the newest release."""
    return f"{version} 以降" if at_least else version


def jst(instant: datetime) -> str:
    """An instant as the customer reads it: ``2026-12-01 09:00(日本時間)``."""
    return instant.astimezone(_JST).strftime("%Y-%m-%d %H:%M") + "(日本時間)"


def join_names(names: Iterable[str]) -> str:
    return "、".join(dict.fromkeys(names))
