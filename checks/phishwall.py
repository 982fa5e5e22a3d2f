"""HNB-P2, second half: Phishwall Premium installed and up to date.

Phishwall Premium is a Windows client plus an Edge/Chrome extension; it does
not exist for macOS or mobile, where the check is NOT_APPLICABLE.
"""

from __future__ import annotations

from datetime import datetime

from checks.latest import judge_latest
from checks.model import CheckOutcome, CheckStatus, Compared, PhishwallFacts, Precision
from checks.releases import ReleaseCatalog
from checks.settings import PostureSettings

CHECK_ID = "phishwall"
CLAUSES = ("HNB-P2", "HNB-P4")
PRODUCT = "phishwall"


def check_phishwall(
    facts: PhishwallFacts | None,
    os: str | None,
    at: datetime,
    settings: PostureSettings,
    catalog: ReleaseCatalog,
) -> CheckOutcome:
    def out(
        status: CheckStatus, reason: str, msg: str, compared: tuple[Compared, ...] = ()
    ) -> CheckOutcome:
        return CheckOutcome(CHECK_ID, status, CLAUSES, reason, msg, compared)

    if os is not None and os not in settings.phishwall_required_on:
        return out(
            CheckStatus.NOT_APPLICABLE,
            "not_available_on_os",
            "",
            (Compared("os", os, " / ".join(sorted(settings.phishwall_required_on))),),
        )
    if facts is None or facts.installed is None:
        return out(
            CheckStatus.UNKNOWN,
            "phishwall_not_reported",
            "",
            (Compared("installed", "(not reported)", "True", Precision.ABSENT),),
        )
    if not facts.installed:
        return out(
            CheckStatus.FAIL,
            "phishwall_not_installed",
            "Phishwallプレミアムをインストールしてください(当行ホームページから無料で"
            "ダウンロードできます)。",
            (Compared("installed", "False", "True"),),
        )
    if os is None:
        return out(CheckStatus.UNKNOWN, "os_not_identified", "")
    product = catalog.get(PRODUCT)
    if product is None:
        return out(CheckStatus.UNKNOWN, "no_release_data", "")
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
                    settings.release_stale_after,
                    "UNKNOWN",
                    name=f"{channel.name}_version",
                ),
            )
        )
    if not results:
        return out(CheckStatus.UNKNOWN, "no_release_data", "")
    # Both channels report the same staleness fact; show each comparison once.
    compared = tuple(dict.fromkeys(c for _, j in results for c in j.compared))
    order = (CheckStatus.FAIL, CheckStatus.UNKNOWN, CheckStatus.WARN, CheckStatus.PASS)
    worst_name, worst = min(results, key=lambda r: order.index(r[1].status))
    label = "Phishwallプレミアム" + ("" if worst_name == "client" else "のブラウザ拡張機能")
    message = ""
    if worst.status is CheckStatus.FAIL:
        message = f"{label}を最新版 {worst.install_version} に更新してください。"
    elif worst.status is CheckStatus.WARN:
        message = f"{label} {worst.install_version} が公開されています。更新してください。"
    return out(worst.status, worst.reason, message, compared)
