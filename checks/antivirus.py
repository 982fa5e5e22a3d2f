"""HNB-P2, first half: a commercial antivirus, running, with fresh signatures.

The IB server reports the product name and either ``running`` plus the
signature update instant or Windows Security Center's ``productState``,
which is decoded by its state values (off, on, snoozed, expired) and its
signature status (:func:`decode_wsc_product_state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from checks.model import AntivirusFacts, CheckOutcome, CheckStatus, Compared, Precision
from checks.settings import AntivirusProduct, PostureSettings

CHECK_ID = "antivirus"
CLAUSES = ("HNB-P2", "HNB-P4")

# Windows Security Center productState (WMI root/SecurityCenter2,
# AntiVirusProduct.productState) packs three fields into its low 16 bits:
#   bits 12-15  product state: 0x0 off, 0x1 on, 0x2 snoozed, 0x3 expired
#   bits  8-11  owner: 0x1 Microsoft (Defender), 0x0 another vendor
#   bits  4- 7  signature status: 0x0 up to date, 0x1 out of date
# (bits 16-23 name the security provider type). They are values, not bit
# flags: 0x3000 ("expired") has the 0x1000 bit set but is not running.
# E.g. 0x061000 = on, up to date; 0x061010 = on, out of date; 0x060000 = off;
# 0x062000 = snoozed; 0x063000 = expired; 0x061100 = Defender on.
_WSC_STATE_MASK = 0xF000
_WSC_STATES: dict[int, str] = {0x0000: "off", 0x1000: "on", 0x2000: "snoozed", 0x3000: "expired"}
_WSC_SIGNATURE_MASK = 0x00F0
_WSC_SIGNATURES: dict[int, bool] = {0x00: True, 0x10: False}
_WSC_OWNER_MASK = 0x0F00
_WSC_OWNER_MICROSOFT = 0x0100


@dataclass(frozen=True, slots=True)
class WscState:
    """A decoded productState: ``state`` is off / on / snoozed / expired / unknown.

    ``signatures_up_to_date`` is None for a signature nibble WSC does not define.
    """

    state: str
    signatures_up_to_date: bool | None
    microsoft: bool

    @property
    def enabled(self) -> bool:
        """Real-time protection running: only state "on" (snoozed and expired are not)."""
        return self.state == "on"


def decode_wsc_product_state(state: int) -> WscState:
    """HNB-P2: what WSC says about an antivirus, decoded by value (see the table above)."""
    return WscState(
        state=_WSC_STATES.get(state & _WSC_STATE_MASK, "unknown"),
        signatures_up_to_date=_WSC_SIGNATURES.get(state & _WSC_SIGNATURE_MASK),
        microsoft=state & _WSC_OWNER_MASK == _WSC_OWNER_MICROSOFT,
    )


def classify_product(name: str, products: tuple[AntivirusProduct, ...]) -> AntivirusProduct | None:
    lowered = name.lower()
    for product in products:
        if any(alias in lowered for alias in product.aliases):
            return product
    return None


def _outcome(status: CheckStatus, reason: str, msg: str, compared: list[Compared]) -> CheckOutcome:
    return CheckOutcome(CHECK_ID, status, CLAUSES, reason, msg, tuple(compared))


_NOT_REPORTED: Final = _outcome(
    CheckStatus.UNKNOWN,
    "antivirus_not_reported",
    "ウイルス対策ソフトの状態を確認できませんでした。市販のウイルス対策ソフトを導入し、"
    "最新の状態にしてください。",
    [Compared("antivirus", "(not reported)", "reported", Precision.ABSENT)],
)

# Memo of outcomes by everything they depend on (see check_antivirus); entries
# hold settings and products, so their ids are not reused while cached.
_MEMO_SIZE: Final = 4096
_MEMO: dict[
    tuple[object, ...],
    tuple[PostureSettings, tuple[AntivirusProduct, ...], CheckOutcome],
] = {}


def check_antivirus(
    facts: AntivirusFacts | None,
    os: str | None,
    at: datetime,
    settings: PostureSettings,
    products: tuple[AntivirusProduct, ...],
) -> CheckOutcome:
    """HNB-P2 antivirus. Pure; memoised by everything the outcome depends on.

    Where antivirus is not required the outcome depends on the OS and the
    settings. Otherwise on the facts, the settings, the product list, and on
    ``at`` only through the signature age: whether it is within the limit and
    its value rounded to 0.1 h as shown. Those are the key.
    """
    if os is not None and os not in settings.antivirus_required_on:
        key: tuple[object, ...] = ("not_required_on_os", os, id(settings))
    elif facts is None:
        return _NOT_REPORTED
    else:
        key = _facts_key(facts, at, settings, products)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is settings and hit[1] is products:
        return hit[2]
    outcome = _check_antivirus(facts, os, at, settings, products)
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = (settings, products, outcome)
    return outcome


def _facts_key(
    facts: AntivirusFacts,
    at: datetime,
    settings: PostureSettings,
    products: tuple[AntivirusProduct, ...],
) -> tuple[object, ...]:
    updated = facts.signatures_updated_at
    fresh: bool | None = None
    hours: str | None = None
    if updated is not None:
        age = at - updated
        fresh = age <= settings.antivirus_max_signature_age
        hours = f"{max(age.total_seconds(), 0) / 3600:.1f}"
    return (
        facts.product,
        facts.running,
        facts.wsc_product_state,
        updated is None,
        fresh,
        hours,
        id(settings),
        id(products),
    )


def _check_antivirus(
    facts: AntivirusFacts | None,
    os: str | None,
    at: datetime,
    settings: PostureSettings,
    products: tuple[AntivirusProduct, ...],
) -> CheckOutcome:
    if os is not None and os not in settings.antivirus_required_on:
        return _outcome(
            CheckStatus.NOT_APPLICABLE,
            "not_required_on_os",
            "",
            [Compared("os", os, " / ".join(sorted(settings.antivirus_required_on)))],
        )
    if facts is None:
        return _outcome(
            CheckStatus.UNKNOWN,
            "antivirus_not_reported",
            "ウイルス対策ソフトの状態を確認できませんでした。市販のウイルス対策ソフトを導入し、"
            "最新の状態にしてください。",
            [Compared("antivirus", "(not reported)", "reported", Precision.ABSENT)],
        )
    compared: list[Compared] = []
    product = classify_product(facts.product, products) if facts.product else None
    compared.append(
        Compared(
            "product",
            facts.product or "(not named)",
            "commercial antivirus",
            Precision.EXACT if facts.product else Precision.ABSENT,
        )
    )
    wsc = (
        None
        if facts.wsc_product_state is None
        else decode_wsc_product_state(facts.wsc_product_state)
    )

    wsc_known = wsc is not None and wsc.state != "unknown"
    running = (
        facts.running
        if facts.running is not None
        else (wsc.enabled if wsc is not None and wsc_known else None)
    )
    if wsc is not None:
        compared.append(
            Compared("wsc_state", f"{wsc.state} (0x{facts.wsc_product_state or 0:06x})", "on")
        )
    compared.append(
        Compared(
            "running",
            "(not reported)" if running is None else str(running),
            "True",
            Precision.ABSENT if running is None else Precision.EXACT,
        )
    )

    fresh: bool | None = None
    if facts.signatures_updated_at is not None:
        age = at - facts.signatures_updated_at
        fresh = age <= settings.antivirus_max_signature_age
        hours = max(age.total_seconds(), 0) / 3600
        compared.append(
            Compared(
                "signature_age_hours",
                f"{hours:.1f}",
                f"<= {settings.antivirus_max_signature_age.total_seconds() / 3600:g}",
            )
        )
    elif wsc is not None and wsc.signatures_up_to_date is not None:
        fresh = wsc.signatures_up_to_date
        compared.append(
            Compared("wsc_signatures", "up to date" if fresh else "out of date", "up to date")
        )
    else:
        compared.append(Compared("signatures", "(not reported)", "up to date", Precision.ABSENT))

    name = product.name if product else facts.product
    if (
        facts.product
        and product is not None
        and product.builtin
        and not settings.antivirus_accept_builtin
    ):
        return _outcome(
            CheckStatus.FAIL,
            "builtin_not_commercial",
            f"{name} はOS標準の機能です。市販のウイルス対策ソフトを導入してください。",
            compared,
        )
    if wsc is not None and wsc.state == "expired":
        # The licence or subscription ended: no protection and no updates,
        # whatever "running" the IB server reported.
        return _outcome(
            CheckStatus.FAIL,
            "antivirus_expired",
            f"{name or 'ウイルス対策ソフト'} の有効期限が切れています。"
            "ライセンスを更新するか、有効な市販のウイルス対策ソフトを導入してください。",
            compared,
        )
    if wsc is not None and wsc.state == "snoozed":
        return _outcome(
            CheckStatus.FAIL,
            "antivirus_snoozed",
            f"{name or 'ウイルス対策ソフト'} のリアルタイム保護が一時停止されています。"
            "保護を再開してください。",
            compared,
        )
    if running is False:
        return _outcome(
            CheckStatus.FAIL,
            "antivirus_not_running",
            f"{name or 'ウイルス対策ソフト'} のリアルタイム保護を有効にしてください。",
            compared,
        )
    if fresh is False:
        return _outcome(
            CheckStatus.FAIL,
            "signatures_out_of_date",
            f"{name or 'ウイルス対策ソフト'} の定義ファイルを今すぐ更新してください。",
            compared,
        )
    if not facts.product:
        return _outcome(
            CheckStatus.UNKNOWN,
            "product_not_named",
            "ウイルス対策ソフトの製品名を確認できませんでした。市販のウイルス対策ソフトを"
            "導入し、有効にしてください。",
            compared,
        )
    if product is None:
        return _outcome(
            CheckStatus.UNKNOWN,
            "product_not_recognised",
            f"{facts.product} が市販のウイルス対策ソフトか確認できませんでした。"
            "市販のウイルス対策ソフトをご利用ください。",
            compared,
        )
    if wsc is not None and not wsc_known and facts.running is None:
        return _outcome(
            CheckStatus.UNKNOWN,
            "wsc_state_unknown",
            f"{name} の稼働状況を確認できませんでした。リアルタイム保護が有効になっていることを"
            "ご確認ください。",
            compared,
        )
    if running is None or fresh is None:
        return _outcome(
            CheckStatus.UNKNOWN,
            "antivirus_state_not_reported",
            f"{name} の稼働状況または定義ファイルの更新日時を確認できませんでした。",
            compared,
        )
    return _outcome(CheckStatus.PASS, "antivirus_ok", "", compared)
