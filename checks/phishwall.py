"""HNB-P2, second half: Phishwall Premium installed and up to date.

Phishwall Premium is a Windows client plus an Edge/Chrome extension; it does
not exist for macOS or mobile, where the check is NOT_APPLICABLE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from checks.latest import LatestJudgement, judge_latest
from checks.messages import jst, versions_or_later
from checks.model import CheckOutcome, CheckStatus, Compared, PhishwallFacts, Precision
from checks.releases import ReleaseCatalog
from checks.settings import PostureSettings

CHECK_ID = "phishwall"
CLAUSES = ("HNB-P2", "HNB-P4")
PRODUCT = "phishwall"


def _out(
    status: CheckStatus, reason: str, msg: str, compared: tuple[Compared, ...] = ()
) -> CheckOutcome:
    return CheckOutcome(CHECK_ID, status, CLAUSES, reason, msg, compared)


NAME: Final = "PhishWallプレミアム"
_DOWNLOAD: Final = "当行ホームページから無料でダウンロードできます"

# Outcomes that depend on nothing but the branch taken: built once.
_NOT_REPORTED: Final = _out(
    CheckStatus.UNKNOWN,
    "phishwall_not_reported",
    f"{NAME}の導入状況を確認できませんでした。{NAME}をインストールし、"
    f"最新版に更新してください({_DOWNLOAD})。",
    (Compared("installed", "(not reported)", "True", Precision.ABSENT),),
)
_NOT_INSTALLED: Final = _out(
    CheckStatus.FAIL,
    "phishwall_not_installed",
    f"{NAME}をインストールしてください({_DOWNLOAD})。",
    (Compared("installed", "False", "True"),),
)
_OS_NOT_IDENTIFIED: Final = _out(
    CheckStatus.UNKNOWN,
    "os_not_identified",
    f"ご利用のOSを確認できなかったため、{NAME}の状態を確認できませんでした。"
    f"Windowsをお使いの場合は{NAME}を最新版に更新してください。",
)
_NO_RELEASE_DATA: Final = _out(
    CheckStatus.UNKNOWN,
    "no_release_data",
    f"{NAME}が最新版かどうかを確認できませんでした。{NAME}が最新版に更新されていることを"
    "ご確認ください。",
)

# Memos keyed by ids of immutable inputs; each entry holds those inputs (so
# their ids are not reused while it exists) and a hit is confirmed by identity.
_MEMO_SIZE: Final = 4096
_NOT_AVAILABLE: dict[tuple[str, int], tuple[PostureSettings, CheckOutcome]] = {}
_COMBINED: dict[tuple[object, ...], tuple[tuple[LatestJudgement, ...], CheckOutcome]] = {}


def _not_available(os: str, settings: PostureSettings) -> CheckOutcome:
    key = (os, id(settings))
    hit = _NOT_AVAILABLE.get(key)
    if hit is not None and hit[0] is settings:
        return hit[1]
    outcome = _out(
        CheckStatus.NOT_APPLICABLE,
        "not_available_on_os",
        "",
        (Compared("os", os, " / ".join(sorted(settings.phishwall_required_on))),),
    )
    if len(_NOT_AVAILABLE) >= _MEMO_SIZE:
        _NOT_AVAILABLE.clear()
    _NOT_AVAILABLE[key] = (settings, outcome)
    return outcome


def _combine(results: list[tuple[str, LatestJudgement]]) -> CheckOutcome:
    # Both channels report the same staleness fact; show each comparison once.
    compared = tuple(dict.fromkeys(c for _, j in results for c in j.compared))
    order = (CheckStatus.FAIL, CheckStatus.UNKNOWN, CheckStatus.WARN, CheckStatus.PASS)
    worst_name, worst = min(results, key=lambda r: order.index(r[1].status))
    label = NAME + ("" if worst_name == "client" else "のブラウザ拡張機能")
    version = versions_or_later(worst.install_version or "", worst.install_at_least)
    message = ""
    if worst.status is CheckStatus.FAIL:
        message = f"{label}を最新版({version})に更新してください。"
    elif worst.status is CheckStatus.WARN:
        by = f"{jst(worst.update_by)}までに" if worst.update_by is not None else ""
        message = f"{label} {version} が公開されています。{by}更新してください。"
    elif worst.status is CheckStatus.UNKNOWN:
        message = (
            f"{label}が最新版かどうかを確認できませんでした。{label}が最新版に更新されて"
            "いることをご確認ください。"
        )
    return _out(worst.status, worst.reason, message, compared)


def check_phishwall(
    facts: PhishwallFacts | None,
    os: str | None,
    at: datetime,
    settings: PostureSettings,
    catalog: ReleaseCatalog,
) -> CheckOutcome:
    """HNB-P2 Phishwall Premium. Pure; the outcome for given judgements is built once.

    "Latest" follows checks.latest: PASS only from release data that covers
    the login instant minus the grace period (the bank's export, imported
    with ``anshin releases import --format anshin``).
    """
    if os is not None and os not in settings.phishwall_required_on:
        return _not_available(os, settings)
    if facts is None or facts.installed is None:
        return _NOT_REPORTED
    if not facts.installed:
        return _NOT_INSTALLED
    if os is None:
        return _OS_NOT_IDENTIFIED
    product = catalog.get(PRODUCT)
    if product is None:
        return _NO_RELEASE_DATA
    results = []
    for channel in product.channels:
        version = {"client": facts.client_version, "extension": facts.extension_version}.get(
            channel.name
        )
        if version is None:
            continue
        results.append(
            (
                channel.name,
                judge_latest(
                    product,
                    channel,
                    version,
                    Precision.EXACT,
                    at,
                    settings.phishwall_grace,
                    "UNKNOWN",
                    name=f"{channel.name}_version",
                ),
            )
        )
    if not results:
        return _NO_RELEASE_DATA
    if any(j.reason == "release_data_stale" for _, j in results):
        return _combine(results)  # stale judgements name ``at``: new every time
    # The outcome is a function of the (channel name, judgement) pairs, and
    # judge_latest returns the same judgement object for the same question.
    judgements = tuple(j for _, j in results)
    key = (*(name for name, _ in results), *(id(j) for j in judgements))
    hit = _COMBINED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], judgements, strict=True)):
        return hit[1]
    outcome = _combine(results)
    if len(_COMBINED) >= _MEMO_SIZE:
        _COMBINED.clear()
    _COMBINED[key] = (judgements, outcome)
    return outcome
