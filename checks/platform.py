"""HNB-P1 / HNB-P4: a supported OS, a browser listed for it, and the latest
version of that browser — all judged against the support-matrix revision and
release data in force at the login instant.

"Latest" is the latest **for the customer's OS** (issue 20): Safari follows
macOS (platforms.toml ``[safari_macos]``) and is part of iOS/iPadOS (the
newest release of the device's iOS line); Chrome, Edge and Firefox stop at a
last major on OS versions they dropped (``[[browser_os_limit]]``). When the
OS version is not known, every OS version the client could be running is
judged, and the answer stands only if they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from checks.latest import LatestJudgement, covers, judge_latest
from checks.matrix import MatrixRevision, OsEntry
from checks.messages import (
    browser_label,
    channel_label,
    jst,
    known_os_versions,
    os_label,
    os_version_label,
    supported_versions_text,
    versions_or_later,
)
from checks.model import (
    CheckOutcome,
    CheckStatus,
    ClientKind,
    Compared,
    HintConflict,
    ParsedClient,
    Precision,
)
from checks.releases import (
    Channel,
    ProductReleases,
    ReleaseCatalog,
    channel_for,
    line_channel,
    parse_version,
)
from checks.settings import BrowserOsLimit, PostureSettings

CLAUSES = ("HNB-P1", "HNB-P4")
#: Release data of the OS whose release Safari is on iPhone / iPad.
_SAFARI_OS_DATA: Final[Mapping[str, tuple[str, ...]]] = {
    "ios": ("ios",),
    "ipados": ("ipados", "ios"),
}
_PRECISE: Final = (
    Precision.EXACT,
    Precision.MAJOR_MINOR,
    Precision.MAJOR_ONLY,
    Precision.INFERRED,
)
_CONFLICT_MESSAGE: Final = (
    "ブラウザから送信された情報(ユーザーエージェントとクライアントヒント)が食い違っているため、"
    "ご利用の{what}を確認できませんでした。ブラウザ情報を変更する拡張機能や設定をお使いの場合は"
    "解除してから、もう一度ログインしてください。"
)


def _listed(entry: OsEntry) -> str:
    return "、".join(browser_label(b) for b in entry.browsers)


def _conflict_compared(c: HintConflict) -> Compared:
    return Compared(
        c.field,
        f"user agent {c.user_agent} / client hints {c.client_hints}",
        "user agent and client hints agree",
    )


def os_candidates(
    client: ParsedClient, safari_macos: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[str, ...], Precision] | None:
    """The OS versions the client could be running, or None when unknowable."""
    version, precision = client.os_version, client.os_version_precision
    if version and precision in _PRECISE:
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
    catalog: ReleaseCatalog | None = None,
) -> CheckOutcome:
    """HNB-P1 / HNB-P4: the OS is in the matrix revision in force (the bank's list)."""

    def out(status: CheckStatus, reason: str, msg: str, *compared: Compared) -> CheckOutcome:
        return CheckOutcome("os.supported", status, CLAUSES, reason, msg, compared)

    if client.kind is ClientKind.BOT:
        return out(CheckStatus.NOT_APPLICABLE, "bot", "")
    if revision is None:
        return out(
            CheckStatus.UNKNOWN,
            "no_matrix_in_force",
            "ご利用環境の確認基準(動作確認状況)が定められていない日時のため、確認できませんでした。"
            "当行までお問い合わせください。",
        )
    conflict = client.conflict("os", "os_version")
    if conflict is not None:
        return out(
            CheckStatus.UNKNOWN,
            "ua_hints_conflict",
            _CONFLICT_MESSAGE.format(what="OS"),
            _conflict_compared(conflict),
        )
    supported_families = "、".join(os_label(e.os) for e in revision.entries)
    if client.os is None:
        return out(
            CheckStatus.UNKNOWN,
            "os_not_identified",
            f"ご利用のOSを確認できませんでした。対象OS: {supported_families}。",
            Compared("os", "(unidentified)", "a supported OS", Precision.ABSENT),
        )
    entry = revision.entry_for(client.os)
    if entry is None:
        return out(
            CheckStatus.FAIL,
            "os_not_supported",
            f"{os_label(client.os)} は動作確認対象外です。対象OS: {supported_families}。",
            Compared("os", client.os, " / ".join(e.os for e in revision.entries)),
        )
    found = os_candidates(client, safari_macos)
    expected = f"{entry.os} {entry.versions}"
    targets = supported_versions_text(entry.os, entry.versions, catalog)
    if found is None:
        return out(
            CheckStatus.UNKNOWN,
            "os_version_unknown",
            f"ご利用の{os_label(client.os)}のバージョンを確認できませんでした"
            f"(対象: {targets})。対象のバージョンでご利用ください。",
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
    shown = "、".join(
        os_version_label(client.os, _marketing(client.os, c), catalog) for c in candidates
    )
    if all(ok):
        return out(CheckStatus.PASS, "os_supported", "", compared)
    if not any(ok):
        return out(
            CheckStatus.FAIL,
            "os_version_not_supported",
            f"{shown} は動作確認対象外です(対象: {targets})。OSを更新してください。",
            compared,
        )
    return out(
        CheckStatus.UNKNOWN,
        "os_version_ambiguous",
        f"ご利用の{os_label(client.os)}のバージョンを特定できませんでした"
        f"({shown} のいずれか。対象: {targets})。対象のバージョンでご利用ください。",
        compared,
    )


def _marketing(os: str | None, version: str) -> str:
    """The part of an OS version customers name: macOS ``15.3.2`` -> ``15``, iOS keeps it all."""
    if os in ("macos", "android"):
        parts = version.split(".")
        if os == "macos" and parts[0] == "10" and len(parts) > 1:
            return ".".join(parts[:2])
        return parts[0]
    return version


def os_vendor_support(
    client: ParsedClient, outcome: CheckOutcome, catalog: ReleaseCatalog, at: datetime
) -> CheckOutcome:
    """HNB-P1: the vendor's end of support of the OS line, from the release data.

    The bank's matrix decides what is supported (HNB-P4): this never turns a
    PASS into a FAIL. A line the vendor no longer supports at ``at`` makes
    the PASS a WARN with a message to update (Windows 10 after 2025-10-14
    while the matrix still listed it; Android 13 after 2026-03-02).
    """
    if outcome.status is not CheckStatus.PASS or client.os is None or not client.os_version:
        return outcome
    if client.os_version_precision not in _PRECISE:
        return outcome
    product = next(
        (p for pid in _SAFARI_OS_DATA.get(client.os, (client.os,)) if (p := catalog.get(pid))),
        None,
    )
    if product is None or product.kind != "os":
        return outcome
    line = (
        product.channel(client.os_version)
        if client.os == "windows"
        else line_channel(product, client.os_version)
    )
    if line is None or line.end_of_life is None or at < line.end_of_life:
        return outcome
    label = os_version_label(client.os, _marketing(client.os, client.os_version), catalog)
    return replace(
        outcome,
        status=CheckStatus.WARN,
        reason="os_vendor_support_ended",
        message_ja=(
            f"{label} は開発元のサポートが{line.end_of_life.date().isoformat()}に終了しています。"
            "セキュリティ更新が提供されるバージョンへの更新をおすすめします。"
        ),
        compared=(
            *outcome.compared,
            Compared(
                "os_vendor_support", f"ended {line.end_of_life.date()}", "supported by the vendor"
            ),
        ),
    )


def check_browser_listed(
    client: ParsedClient, revision: MatrixRevision | None, catalog: ReleaseCatalog
) -> CheckOutcome:
    """HNB-P1 / HNB-P4: the browser is listed for the OS in the matrix revision in force."""

    def out(status: CheckStatus, reason: str, msg: str, *compared: Compared) -> CheckOutcome:
        return CheckOutcome("browser.supported", status, CLAUSES, reason, msg, compared)

    entry = revision.entry_for(client.os) if revision and client.os else None
    listed = _listed(entry) if entry else ""
    if client.kind is ClientKind.BOT:
        return out(
            CheckStatus.FAIL,
            "bot",
            "自動化ツール・クローラーからのログインは対象外です。"
            "対象のブラウザからログインしてください。",
            Compared("client", client.bot or "bot", "a listed browser"),
        )
    if client.kind is ClientKind.IN_APP_BROWSER:
        suggestion = f"{listed}でログインしてください。" if listed else ""
        host = client.in_app or "アプリ"
        return out(
            CheckStatus.FAIL,
            "in_app_browser",
            f"アプリ内で表示される画面({host})からのログインは対象外です。{suggestion}",
            Compared("client", f"in-app: {client.in_app}", listed or "a listed browser"),
        )
    if revision is None:
        return out(
            CheckStatus.UNKNOWN,
            "no_matrix_in_force",
            "ご利用環境の確認基準(動作確認状況)が定められていない日時のため、確認できませんでした。"
            "当行までお問い合わせください。",
        )
    # Which browsers are listed depends on the OS: a contradicted OS decides
    # nothing here either (neither source is believed).
    conflict = client.conflict("browser", "os")
    if conflict is not None:
        return out(
            CheckStatus.UNKNOWN,
            "ua_hints_conflict",
            _CONFLICT_MESSAGE.format(what="OS" if conflict.field == "os" else "ブラウザ"),
            _conflict_compared(conflict),
        )
    if client.browser is None or client.kind is ClientKind.UNRECOGNISED:
        return out(
            CheckStatus.UNKNOWN,
            "browser_not_identified",
            "ご利用のブラウザを確認できませんでした。"
            + (
                f"{listed}でログインしてください。"
                if listed
                else "当行の動作確認状況に記載のブラウザでログインしてください。"
            ),
            Compared(
                "browser", client.browser or "(unidentified)", listed or "listed", Precision.ABSENT
            ),
        )
    if client.os is None:
        return out(
            CheckStatus.UNKNOWN,
            "os_not_identified",
            "ご利用のOSを確認できなかったため、ブラウザが対象か確認できませんでした。",
            Compared("browser", client.browser, "listed for the OS"),
        )
    if entry is None:
        return out(
            CheckStatus.FAIL,
            "os_not_supported",
            f"{os_label(client.os)} は動作確認対象外のため、ブラウザも対象外です。",
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
        f"{browser_label(client.browser)} は{os_label(client.os)}の対象ブラウザではありません。"
        f"{listed}をご利用ください。",
        Compared("browser", client.browser, " / ".join(entry.browsers)),
    )


# --------------------------------------------------------------------------- latest: targets


@dataclass(frozen=True, slots=True)
class LatestTarget:
    """One (release data, channel) a client's browser version is judged against.

    ``os_hint`` names the OS version this target assumes when there are
    several (``macOS Sonoma 14``); ``via_os`` marks Safari on iPhone/iPad,
    whose updates come with the OS (``version`` is then the OS version).
    ``limited`` is true when the channel was cut at the OS's last major.
    """

    product: ProductReleases
    channel: Channel
    version: str | None
    precision: Precision
    os_hint: str | None = None
    via_os: bool = False
    limited: bool = False


_Targets = tuple[LatestTarget, ...] | CheckOutcome


def browser_channel(client: ParsedClient, product: ProductReleases) -> Channel | None:
    """The channel of a browser's own release data (Firefox ESR by major)."""
    if client.browser == "safari":
        return product.channel("macos")
    return channel_for(product, client.browser_version or "0")


def _latest_out(
    status: CheckStatus, reason: str, msg: str, compared: tuple[Compared, ...] = ()
) -> CheckOutcome:
    return CheckOutcome("browser.latest", status, ("HNB-P1",), reason, msg, compared)


# Outcomes that depend on nothing but the branch taken: built once.
_LATEST_NOT_LISTED: Final = _latest_out(CheckStatus.NOT_APPLICABLE, "browser_not_listed", "")
_LATEST_NOT_IDENTIFIED: Final = _latest_out(
    CheckStatus.UNKNOWN,
    "browser_not_identified",
    "ご利用のブラウザを確認できなかったため、最新版かどうかを確認できませんでした。",
)

# Memos keyed by the ids of immutable inputs; each entry holds those inputs, so
# their ids cannot be reused while it exists, and a hit is confirmed by identity.
_MEMO_SIZE: Final = 4096
_TARGETS: dict[tuple[int, ...], tuple[tuple[object, ...], _Targets]] = {}
_RESTRICTED: dict[tuple[int, frozenset[int] | int, bool], tuple[Channel, Channel]] = {}
_LATEST_OUTCOMES: dict[tuple[int, ...], tuple[tuple[object, ...], CheckOutcome]] = {}


def _restricted(
    channel: Channel, majors: frozenset[int] | int, *, keep_end_of_life: bool = True
) -> Channel:
    """``channel`` cut to some majors (a set) or up to a last major (an int); memoised."""
    key = (id(channel), majors, keep_end_of_life)
    hit = _RESTRICTED.get(key)
    if hit is not None and hit[0] is channel:
        return hit[1]
    if isinstance(majors, int):
        releases = tuple(r for r in channel.releases if r.key[0] <= majors)
    else:
        releases = tuple(r for r in channel.releases if r.key[0] in majors)
    cut = replace(
        channel,
        releases=releases,
        end_of_life=channel.end_of_life if keep_end_of_life else None,
        # The schedule beyond the cut is not this OS's (Chrome 159 never comes to Windows 7).
        scheduled=tuple(
            p
            for p in channel.scheduled
            if (p.key[0] <= majors if isinstance(majors, int) else p.key[0] in majors)
        ),
    )
    if len(_RESTRICTED) >= _MEMO_SIZE:
        _RESTRICTED.clear()
    _RESTRICTED[key] = (channel, cut)
    return cut


def _major(version: str | None) -> int | None:
    if not version:
        return None
    try:
        return parse_version(version)[0]
    except ValueError:
        return None


def _safari_os_targets(client: ParsedClient, catalog: ReleaseCatalog) -> _Targets:
    """Safari on iPhone/iPad: the newest release of the device's own iOS/iPadOS line."""
    product = next(
        (p for pid in _SAFARI_OS_DATA[client.os or "ios"] if (p := catalog.get(pid))), None
    )
    if product is None:
        return _latest_out(
            CheckStatus.UNKNOWN,
            "no_release_data",
            f"{os_label(client.os)}の最新版情報がないため確認できませんでした。"
            f"{os_label(client.os)}を最新の状態に更新してください。",
        )
    version, precision = client.os_version, client.os_version_precision
    if not version or precision not in _PRECISE:
        # In the frozen-token case the Safari version is the best we have.
        version, precision = client.browser_version, client.browser_version_precision
    if version and precision is Precision.EXACT and len(version.split(".")) == 2:
        # The iOS token names every component it has: "17_7" is 17.7.0, not
        # "17.7 and an unknown patch".
        version = f"{version}.0"
    line = line_channel(product, version) if version else None
    if line is None:
        # No such line in the data (iOS 27 with data up to iOS 26): an empty
        # channel, which check_browser_latest answers UNKNOWN (never FAIL).
        major = _major(version)
        empty = Channel(str(major) if major is not None else "?", ())
        return (LatestTarget(product, empty, version, precision, via_os=True),)
    # The vendor's end of an OS line is the OS check's concern (a WARN there):
    # the last release of an ended line is still the latest that device has.
    line = _restricted(line, frozenset(r.key[0] for r in line.releases), keep_end_of_life=False)
    return (LatestTarget(product, line, version, precision, via_os=True),)


def _safari_macos_targets(
    client: ParsedClient,
    product: ProductReleases,
    channel: Channel,
    safari_macos: Mapping[str, tuple[str, ...]],
    catalog: ReleaseCatalog,
) -> _Targets:
    """Safari on macOS: per macOS version it could run on, the Safari majors shipped for it."""
    found = os_candidates(client, safari_macos)
    if found is None:
        return (
            LatestTarget(
                product, channel, client.browser_version, client.browser_version_precision
            ),
        )
    targets = []
    for candidate in found[0]:
        mac = _marketing("macos", candidate)
        majors = frozenset(int(s) for s, macs in safari_macos.items() if mac in macs)
        if not majors:
            targets.append(
                LatestTarget(
                    product, channel, client.browser_version, client.browser_version_precision
                )
            )
            continue
        targets.append(
            LatestTarget(
                product,
                _restricted(channel, majors),
                client.browser_version,
                client.browser_version_precision,
                os_hint=os_version_label("macos", mac, catalog),
                limited=True,
            )
        )
    return tuple(dict.fromkeys(targets))


def _limited_targets(
    client: ParsedClient,
    product: ProductReleases,
    channel: Channel,
    limits: Sequence[BrowserOsLimit],
    safari_macos: Mapping[str, tuple[str, ...]],
    catalog: ReleaseCatalog,
) -> _Targets:
    """Chrome / Edge / Firefox: cut at the last major of the OS versions it may run on."""
    mine = [lim for lim in limits if lim.browser == client.browser and lim.os == client.os]
    base = LatestTarget(product, channel, client.browser_version, client.browser_version_precision)
    if not mine:
        return (base,)
    found = os_candidates(client, safari_macos)
    cuts: list[tuple[int | None, str | None]] = []
    if found is not None:
        for candidate in found[0]:
            applicable = [lim.last_major for lim in mine if lim.versions.contains(candidate)]
            hint = os_version_label(client.os, _marketing(client.os, candidate), catalog)
            cuts.append((min(applicable) if applicable else None, hint))
    else:
        # OS version unknown: it could be any; a client already above a
        # limit cannot be on an OS version with that limit.
        client_major = _major(client.browser_version)
        possible = sorted(
            {
                lim.last_major
                for lim in mine
                if client_major is None or client_major <= lim.last_major
            }
        )
        # Name the OS versions behind each cut from the versions the data knows
        # (Chrome 138 -> macOS Big Sur 11), so a message names what each can install.
        names: dict[int | None, list[str]] = {}
        for v in known_os_versions(client.os or "", catalog):
            applicable = [lim.last_major for lim in mine if lim.versions.contains(v)]
            names.setdefault(min(applicable) if applicable else None, []).append(
                os_version_label(client.os, v, catalog)
            )
        cuts = [(m, "・".join(names[m]) if names.get(m) else None) for m in possible]
        cuts.append((None, None))
    if all(last is None for last, _ in cuts):
        return (base,)  # no candidate OS version limits this browser
    targets = []
    for last, os_hint in dict.fromkeys(cuts):
        if last is None:
            targets.append(replace(base, os_hint=os_hint))
        else:
            targets.append(
                replace(base, channel=_restricted(channel, last), os_hint=os_hint, limited=True)
            )
    return tuple(dict.fromkeys(targets))


def latest_targets(
    client: ParsedClient,
    catalog: ReleaseCatalog,
    safari_macos: Mapping[str, tuple[str, ...]],
    limits: Sequence[BrowserOsLimit] = (),
) -> _Targets:
    """What a client's browser is judged against, or the outcome when nothing can be."""
    key = (id(client), id(catalog), id(safari_macos), id(limits))
    hit = _TARGETS.get(key)
    if hit is not None and all(
        a is b for a, b in zip(hit[0], (client, catalog, safari_macos, limits), strict=True)
    ):
        return hit[1]
    found = _latest_targets(client, catalog, safari_macos, limits)
    if len(_TARGETS) >= _MEMO_SIZE:
        _TARGETS.clear()
    _TARGETS[key] = ((client, catalog, safari_macos, limits), found)
    return found


def _latest_targets(
    client: ParsedClient,
    catalog: ReleaseCatalog,
    safari_macos: Mapping[str, tuple[str, ...]],
    limits: Sequence[BrowserOsLimit],
) -> _Targets:
    name = browser_label(client.browser)
    # The newest version a client can install depends on its OS and OS
    # version: a contradiction about either leaves "latest" undecided too.
    conflict = client.conflict("browser", "browser_version", "os", "os_version")
    if conflict is not None:
        what = "OS" if conflict.field in ("os", "os_version") else f"{name}のバージョン"
        return _latest_out(
            CheckStatus.UNKNOWN,
            "ua_hints_conflict",
            _CONFLICT_MESSAGE.format(what=what),
            (_conflict_compared(conflict),),
        )
    if client.browser == "safari" and client.os in _SAFARI_OS_DATA:
        return _safari_os_targets(client, catalog)
    product = catalog.get(client.browser) if client.browser is not None else None
    channel = browser_channel(client, product) if product is not None else None
    if product is None or channel is None:
        return _latest_out(
            CheckStatus.UNKNOWN,
            "no_release_data",
            f"{name}の最新版情報がないため確認できませんでした。{name}を最新版に更新してください。",
        )
    if client.browser == "safari":
        return _safari_macos_targets(client, product, channel, safari_macos, catalog)
    return _limited_targets(client, product, channel, limits, safari_macos, catalog)


# --------------------------------------------------------------------------- latest: judging


def _what(client: ParsedClient, target: LatestTarget) -> str:
    """What the customer updates: the browser, or the OS for Safari on iPhone/iPad."""
    return os_label(client.os) if target.via_os else browser_label(client.browser)


def _install_phrase(client: ParsedClient, target: LatestTarget, judged: LatestJudgement) -> str:
    version = versions_or_later(judged.install_version or "", judged.install_at_least)
    if target.via_os:
        return (
            f"{os_label(client.os)}を最新版({version})に更新してください"
            "(Safari は OS と一緒に更新されます)。"
        )
    name = browser_label(client.browser)
    where = (
        f"({target.os_hint} で利用できる最新版です)" if target.os_hint and target.limited else ""
    )
    if client.browser == "safari":
        return (
            f"{name}を最新版({version})に更新してください{where}。"
            "macOS のソフトウェアアップデートから更新できます。"
        )
    return f"{name}を最新版({version})に更新してください{where}。"


def _one_message(client: ParsedClient, target: LatestTarget, judged: LatestJudgement) -> str:
    what = _what(client, target)
    if judged.status is CheckStatus.PASS:
        return ""
    if judged.status is CheckStatus.FAIL and judged.reason == "channel_end_of_life":
        line = channel_label(target.product, target.channel)
        return (
            f"{what} {line} のサポートは終了しました。最新版の{what}に更新してください。"
            if line
            else f"ご利用の{what}はサポートが終了しました。最新版の{what}に更新してください。"
        )
    if judged.status is CheckStatus.FAIL:
        return _install_phrase(client, target, judged)
    if judged.status is CheckStatus.WARN and judged.update_by is not None:
        version = versions_or_later(judged.install_version or "", judged.install_at_least)
        return (
            f"{what} {version} が公開されています。{jst(judged.update_by)}までに"
            f"{what}を更新してください。"
        )
    if judged.reason == "release_data_stale":
        return (
            f"ご利用の{what}が最新版かどうかを、現在のリリース情報で確認できませんでした。"
            f"{what}が最新版に更新されていることをご確認ください。"
        )
    if judged.reason in ("version_not_reported", "version_precision_insufficient"):
        return (
            f"ご利用の{what}のバージョンを確認できませんでした。{what}を最新版に更新してください。"
        )
    return (
        f"ご利用の{what}({target.version})が最新版かどうかを確認できませんでした。"
        f"正式版の最新の{what}をご利用ください。"
    )


def _per_os(client: ParsedClient, pairs: Sequence[tuple[LatestTarget, LatestJudgement]]) -> str:
    """``macOS Sonoma 14 では 26.6、macOS Sequoia 15 では 27.2`` (versions each OS can install)."""
    by_version: dict[str, list[str]] = {}
    for target, judged in pairs:
        if judged.status not in (CheckStatus.FAIL, CheckStatus.WARN) or not judged.install_version:
            continue
        version = versions_or_later(judged.install_version, judged.install_at_least)
        where = (
            target.os_hint
            if target.os_hint
            else (f"それ以外の{os_label(client.os)}" if not target.limited else None)
        )
        if where:
            by_version.setdefault(version, []).append(where)
    return "、".join(f"{'・'.join(dict.fromkeys(w))} では {v}" for v, w in by_version.items())


def _combine(
    client: ParsedClient, pairs: Sequence[tuple[LatestTarget, LatestJudgement]]
) -> CheckOutcome:
    """One outcome from the judgements of every OS version the client could be on."""
    if len(pairs) == 1:
        target, judged = pairs[0]
        return _latest_out(
            judged.status, judged.reason, _one_message(client, target, judged), judged.compared
        )
    compared = tuple(
        dict.fromkeys(
            replace(c, name=f"{c.name} ({t.os_hint})") if t.os_hint else c
            for t, j in pairs
            for c in j.compared
        )
    )
    statuses = {j.status for _, j in pairs}
    what = browser_label(client.browser)
    os = os_label(client.os)
    per_os = _per_os(client, pairs)
    if statuses == {CheckStatus.FAIL}:
        first = pairs[0][1]
        installs = {j.install_version for _, j in pairs}
        if len(installs) == 1 and len({j.reason for _, j in pairs}) == 1:
            # Every OS version it could be on gets the same version: no OS to name.
            anywhere = replace(pairs[0][0], os_hint=None, limited=False)
            return _latest_out(
                first.status, first.reason, _one_message(client, anywhere, first), compared
            )
        return _latest_out(
            CheckStatus.FAIL,
            first.reason,
            f"{what}をご利用の{os}で利用できる最新版に更新してください"
            + (f"({per_os})。" if per_os else "。"),
            compared,
        )
    if statuses <= {CheckStatus.PASS, CheckStatus.WARN}:
        warned = next(((t, j) for t, j in pairs if j.status is CheckStatus.WARN), None)
        if warned is None:
            return _latest_out(CheckStatus.PASS, pairs[0][1].reason, "", compared)
        return _latest_out(
            CheckStatus.WARN, warned[1].reason, _one_message(client, *warned), compared
        )
    reasons = {j.reason for _, j in pairs}
    if statuses == {CheckStatus.UNKNOWN} and len(reasons) == 1:
        return _latest_out(
            CheckStatus.UNKNOWN,
            pairs[0][1].reason,
            _one_message(client, *pairs[0]),
            compared,
        )
    return _latest_out(
        CheckStatus.UNKNOWN,
        "latest_depends_on_os_version",
        f"ご利用の{os}のバージョンによって利用できる最新の{what}が異なるため、最新版かどうかを"
        f"確認できませんでした。{what}をご利用の{os}で利用できる最新版に更新してください"
        + (f"({per_os})。" if per_os else "。"),
        compared,
    )


def check_browser_latest(
    client: ParsedClient,
    listed: CheckOutcome,
    catalog: ReleaseCatalog,
    at: datetime,
    settings: PostureSettings,
    safari_macos: Mapping[str, tuple[str, ...]] | None = None,
    limits: Sequence[BrowserOsLimit] = (),
) -> CheckOutcome:
    """HNB-P1 "latest version", for the customer's OS. Pure; outcomes are memoised.

    PASS needs release data that covers ``at - grace`` (checks.latest);
    a FAIL names only a version the customer's OS can install.
    """
    if listed.status is CheckStatus.FAIL:
        return _LATEST_NOT_LISTED
    if client.browser is None or client.kind is not ClientKind.BROWSER:
        return _LATEST_NOT_IDENTIFIED
    found = latest_targets(client, catalog, safari_macos or _NO_TABLE, limits)
    if isinstance(found, CheckOutcome):
        return found
    pairs = []
    for target in found:
        if not target.channel.releases and covers(target.product, at, settings.browser_grace):
            # No such line in the data (iOS 27 with data up to iOS 26).
            newer = _major(target.version) is not None and all(
                (_major(target.version) or 0) > m
                for ch in target.product.channels
                for m in ch.match_majors
            )
            judged = LatestJudgement(
                CheckStatus.UNKNOWN,
                "version_newer_than_data" if newer else "version_unknown",
                (
                    Compared(
                        "browser_version",
                        target.version or "(not reported)",
                        "a version in the release data",
                        target.precision,
                    ),
                ),
            )
        else:
            judged = judge_latest(
                target.product,
                target.channel,
                target.version,
                target.precision,
                at,
                settings.browser_grace,
                settings.same_major_at_lower_precision,
                name="browser_version",
                schedule_margin=settings.release_schedule_margin,
            )
        pairs.append((target, judged))
    if any(j.reason == "release_data_stale" for _, j in pairs):  # names ``at``
        return _combine(client, pairs)
    key = (id(found), *(id(j) for _, j in pairs))
    hit = _LATEST_OUTCOMES.get(key)
    if hit is not None and all(
        a is b for a, b in zip(hit[0], (found, *(j for _, j in pairs)), strict=True)
    ):
        return hit[1]
    outcome = _combine(client, pairs)
    if len(_LATEST_OUTCOMES) >= _MEMO_SIZE:
        _LATEST_OUTCOMES.clear()
    _LATEST_OUTCOMES[key] = ((found, *(j for _, j in pairs)), outcome)
    return outcome


_NO_TABLE: Final[Mapping[str, tuple[str, ...]]] = {}


def latest_products(
    client: ParsedClient,
    catalog: ReleaseCatalog,
    safari_macos: Mapping[str, tuple[str, ...]],
    limits: Sequence[BrowserOsLimit] = (),
) -> tuple[str, ...]:
    """The products whose release data a login's "latest" answer consulted."""
    if client.browser is None or client.kind is not ClientKind.BROWSER:
        return ()
    found = latest_targets(client, catalog, safari_macos, limits)
    if isinstance(found, CheckOutcome):
        return ()
    return tuple(dict.fromkeys(t.product.product for t in found))
