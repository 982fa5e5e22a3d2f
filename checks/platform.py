"""HNB-P1 / HNB-P4: a supported OS, a browser listed for it, and the latest
version of that browser — all judged against the support-matrix revision and
release data in force at the login instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Final

from checks.latest import LatestJudgement, judge_latest
from checks.matrix import MatrixRevision, OsEntry
from checks.model import (
    CheckOutcome,
    CheckStatus,
    ClientKind,
    Compared,
    ParsedClient,
    Precision,
)
from checks.releases import Channel, ProductReleases, ReleaseCatalog, channel_for
from checks.settings import PostureSettings

_JST = timezone(timedelta(hours=9), "JST")
CLAUSES = ("HNB-P1", "HNB-P4")
OS_NAMES = {
    "windows": "Windows",
    "macos": "macOS",
    "ios": "iOS",
    "ipados": "iPadOS",
    "android": "Android",
    "linux": "Linux",
    "chromeos": "ChromeOS",
}
BROWSER_NAMES = {
    "chrome": "Google Chrome",
    "edge": "Microsoft Edge",
    "firefox": "Firefox",
    "safari": "Safari",
}


def os_name(os: str | None) -> str:
    return OS_NAMES.get(os or "", os or "不明なOS")


def browser_name(browser: str | None, catalog: ReleaseCatalog | None = None) -> str:
    if catalog is not None and browser and (p := catalog.get(browser)) is not None:
        return p.display_name
    return BROWSER_NAMES.get(browser or "", browser or "不明なブラウザ")


def _listed(entry: OsEntry, catalog: ReleaseCatalog) -> str:
    return "、".join(browser_name(b, catalog) for b in entry.browsers)


def os_candidates(
    client: ParsedClient, safari_macos: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[str, ...], Precision] | None:
    """The OS versions the client could be running, or None when unknowable."""
    version, precision = client.os_version, client.os_version_precision
    if version and precision in (
        Precision.EXACT,
        Precision.MAJOR_MINOR,
        Precision.MAJOR_ONLY,
        Precision.INFERRED,
    ):
        return (version,), precision
    if client.os == "windows" and version == "10" and precision is Precision.FROZEN:
        # "Windows NT 10.0" is sent by Windows 10 and 11 alike.
        return ("10", "11"), Precision.FROZEN
    if client.os == "macos" and client.browser == "safari" and client.browser_version:
        major = client.browser_version.split(".")[0]
        if major in safari_macos:
            return safari_macos[major], Precision.INFERRED
    return None


def check_os(
    client: ParsedClient,
    revision: MatrixRevision | None,
    safari_macos: Mapping[str, tuple[str, ...]],
) -> CheckOutcome:
    def out(status: CheckStatus, reason: str, msg: str, *compared: Compared) -> CheckOutcome:
        return CheckOutcome("os.supported", status, CLAUSES, reason, msg, compared)

    if client.kind is ClientKind.BOT:
        return out(CheckStatus.NOT_APPLICABLE, "bot", "")
    if revision is None:
        return out(CheckStatus.UNKNOWN, "no_matrix_in_force", "")
    if client.os is None:
        return out(
            CheckStatus.UNKNOWN,
            "os_not_identified",
            "ご利用のOSを確認できませんでした。",
            Compared("os", "(unidentified)", "a supported OS", Precision.ABSENT),
        )
    entry = revision.entry_for(client.os)
    supported_families = "、".join(os_name(e.os) for e in revision.entries)
    if entry is None:
        return out(
            CheckStatus.FAIL,
            "os_not_supported",
            f"{os_name(client.os)} は動作確認対象外です。対象OS: {supported_families}。",
            Compared("os", client.os, " / ".join(e.os for e in revision.entries)),
        )
    found = os_candidates(client, safari_macos)
    expected = f"{entry.os} {entry.versions}"
    if found is None:
        return out(
            CheckStatus.UNKNOWN,
            "os_version_unknown",
            f"{os_name(client.os)} のバージョンを確認できませんでした。",
            Compared(
                "os_version",
                client.os_version or "(unknown)",
                expected,
                client.os_version_precision,
            ),
        )
    candidates, precision = found
    observed = " or ".join(candidates) if len(candidates) > 1 else candidates[0]
    compared = Compared("os_version", observed, expected, precision)
    ok = [entry.supports_version(c) for c in candidates]
    if all(ok):
        return out(CheckStatus.PASS, "os_supported", "", compared)
    if not any(ok):
        return out(
            CheckStatus.FAIL,
            "os_version_not_supported",
            f"{os_name(client.os)} {observed} は動作確認対象外です"
            f"(対象: {os_name(entry.os)} {entry.versions})。OSを更新してください。",
            compared,
        )
    return out(
        CheckStatus.UNKNOWN,
        "os_version_ambiguous",
        f"{os_name(client.os)} のバージョンを特定できませんでした"
        f"(候補: {observed}、対象: {entry.versions})。",
        compared,
    )


def check_browser_listed(
    client: ParsedClient, revision: MatrixRevision | None, catalog: ReleaseCatalog
) -> CheckOutcome:
    def out(status: CheckStatus, reason: str, msg: str, *compared: Compared) -> CheckOutcome:
        return CheckOutcome("browser.supported", status, CLAUSES, reason, msg, compared)

    entry = revision.entry_for(client.os) if revision and client.os else None
    listed = _listed(entry, catalog) if entry else ""
    if client.kind is ClientKind.BOT:
        return out(
            CheckStatus.FAIL,
            "bot",
            "自動化ツール・クローラーからのログインです。",
            Compared("client", client.bot or "bot", "a listed browser"),
        )
    if client.kind is ClientKind.IN_APP_BROWSER:
        suggestion = f"{listed}でログインしてください。" if listed else ""
        return out(
            CheckStatus.FAIL,
            "in_app_browser",
            f"{client.in_app or 'アプリ'}のアプリ内ブラウザは対象外です。{suggestion}",
            Compared("client", f"in-app: {client.in_app}", listed or "a listed browser"),
        )
    if revision is None:
        return out(CheckStatus.UNKNOWN, "no_matrix_in_force", "")
    if client.browser is None or client.kind is ClientKind.UNRECOGNISED:
        return out(
            CheckStatus.UNKNOWN,
            "browser_not_identified",
            "ご利用のブラウザを確認できませんでした。",
            Compared(
                "browser", client.browser or "(unidentified)", listed or "listed", Precision.ABSENT
            ),
        )
    if client.os is None:
        return out(
            CheckStatus.UNKNOWN,
            "os_not_identified",
            "",
            Compared("browser", client.browser, "listed for the OS"),
        )
    if entry is None:
        return out(
            CheckStatus.FAIL,
            "os_not_supported",
            f"{os_name(client.os)} は動作確認対象外のため、ブラウザも対象外です。",
            Compared("browser", client.browser, "(no browsers for this OS)"),
        )
    if client.browser in entry.browsers:
        return out(
            CheckStatus.PASS,
            "browser_listed",
            "",
            Compared("browser", client.browser, " / ".join(entry.browsers)),
        )
    return out(
        CheckStatus.FAIL,
        "browser_not_listed",
        f"{browser_name(client.browser, catalog)} は{os_name(client.os)}の対象ブラウザでは"
        f"ありません。{listed}をご利用ください。",
        Compared("browser", client.browser, " / ".join(entry.browsers)),
    )


def browser_channel(client: ParsedClient, product: ProductReleases) -> Channel | None:
    if client.browser == "safari":
        wanted = "macos" if client.os == "macos" else "ios"
        return next((c for c in product.channels if c.name == wanted), None)
    return channel_for(product, client.browser_version or "0")


def _latest_out(
    status: CheckStatus, reason: str, msg: str, compared: tuple[Compared, ...] = ()
) -> CheckOutcome:
    return CheckOutcome("browser.latest", status, ("HNB-P1",), reason, msg, compared)


# Outcomes that depend on nothing but the branch taken: built once.
_LATEST_NOT_LISTED: Final = _latest_out(CheckStatus.NOT_APPLICABLE, "browser_not_listed", "")
_LATEST_NOT_IDENTIFIED: Final = _latest_out(CheckStatus.UNKNOWN, "browser_not_identified", "")
_LATEST_NO_RELEASE_DATA: Final = _latest_out(CheckStatus.UNKNOWN, "no_release_data", "")

# Memos keyed by the ids of immutable inputs; each entry holds those inputs, so
# their ids cannot be reused while it exists, and a hit is confirmed by identity.
_MEMO_SIZE: Final = 4096
_TARGETS: dict[
    tuple[int, int],
    tuple[ParsedClient, ReleaseCatalog, ProductReleases | None, Channel | None],
] = {}
_LATEST_OUTCOMES: dict[
    tuple[int, int, int], tuple[LatestJudgement, ProductReleases, Channel, CheckOutcome]
] = {}


def _latest_target(
    client: ParsedClient, catalog: ReleaseCatalog
) -> tuple[ProductReleases | None, Channel | None]:
    """The release data and channel a client's browser version is judged against."""
    key = (id(client), id(catalog))
    hit = _TARGETS.get(key)
    if hit is not None and hit[0] is client and hit[1] is catalog:
        return hit[2], hit[3]
    product = catalog.get(client.browser) if client.browser is not None else None
    channel = browser_channel(client, product) if product is not None else None
    if len(_TARGETS) >= _MEMO_SIZE:
        _TARGETS.clear()
    _TARGETS[key] = (client, catalog, product, channel)
    return product, channel


def _latest_outcome(
    product: ProductReleases, channel: Channel, judged: LatestJudgement
) -> CheckOutcome:
    name = product.display_name
    message = ""
    if judged.status is CheckStatus.FAIL and judged.reason == "channel_end_of_life":
        message = (
            f"{name} {channel.name} のサポートは終了しました。最新版の{name}に更新してください。"
        )
    elif judged.status is CheckStatus.FAIL:
        message = f"{name} を最新版 {judged.install_version} に更新してください。"
    elif judged.status is CheckStatus.WARN and judged.update_by is not None:
        by = judged.update_by.astimezone(_JST).strftime("%Y-%m-%d %H:%M")
        message = (
            f"{name} {judged.install_version} が公開されています。"
            f"{by}(日本時間)までに更新してください。"
        )
    elif judged.reason == "release_data_stale":
        message = ""  # the customer cannot fix this; the operator must import release data
    return _latest_out(judged.status, judged.reason, message, judged.compared)


def check_browser_latest(
    client: ParsedClient,
    listed: CheckOutcome,
    catalog: ReleaseCatalog,
    at: datetime,
    settings: PostureSettings,
) -> CheckOutcome:
    """HNB-P1 "latest version". Pure; the outcome for a given judgement is built once."""
    if listed.status is CheckStatus.FAIL:
        return _LATEST_NOT_LISTED
    if client.browser is None or client.kind is not ClientKind.BROWSER:
        return _LATEST_NOT_IDENTIFIED
    product, channel = _latest_target(client, catalog)
    if product is None or channel is None:
        return _LATEST_NO_RELEASE_DATA
    judged = judge_latest(
        product,
        channel,
        client.browser_version,
        client.browser_version_precision,
        at,
        settings.browser_grace,
        settings.release_stale_after,
        settings.same_major_at_lower_precision,
        name="browser_version",
    )
    if judged.reason == "release_data_stale":  # names ``at``: a new judgement every time
        return _latest_outcome(product, channel, judged)
    # The outcome is a function of (judged, product, channel); judge_latest
    # returns the same judgement object for the same question.
    key = (id(judged), id(product), id(channel))
    hit = _LATEST_OUTCOMES.get(key)
    if hit is not None and hit[0] is judged and hit[1] is product and hit[2] is channel:
        return hit[3]
    outcome = _latest_outcome(product, channel, judged)
    if len(_LATEST_OUTCOMES) >= _MEMO_SIZE:
        _LATEST_OUTCOMES.clear()
    _LATEST_OUTCOMES[key] = (judged, product, channel, outcome)
    return outcome
