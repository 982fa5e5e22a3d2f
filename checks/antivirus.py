"""HNB-P2, first half: a commercial antivirus, running, with fresh signatures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from checks.model import AntivirusFacts, CheckOutcome, CheckStatus, Compared, Precision
from checks.settings import AntivirusProduct, PostureSettings

CHECK_ID = "antivirus"
CLAUSES = ("HNB-P2", "HNB-P4")

# Windows Security Center productState: bits 12-15 of the second byte say
# whether real-time scanning is on; bit 4 of the low byte says signatures are
# out of date. E.g. 0x061000 / 0x041000 = on and current, 0x061010 = on and
# out of date, 0x060000 / 0x040100 = off.
_WSC_SCANNER_ON = 0x1000
_WSC_SIGNATURES_OUT_OF_DATE = 0x10


@dataclass(frozen=True, slots=True)
class WscState:
    enabled: bool
    signatures_up_to_date: bool


def decode_wsc_product_state(state: int) -> WscState:
    return WscState(
        enabled=bool(state & _WSC_SCANNER_ON),
        signatures_up_to_date=not state & _WSC_SIGNATURES_OUT_OF_DATE,
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
    "ウイルス対策ソフトの状態を確認できませんでした。",
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
            "ウイルス対策ソフトの状態を確認できませんでした。",
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

    running = facts.running if facts.running is not None else (wsc.enabled if wsc else None)
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
    elif wsc is not None:
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
            "ウイルス対策ソフトの製品名を確認できませんでした。",
            compared,
        )
    if product is None:
        return _outcome(
            CheckStatus.UNKNOWN,
            "product_not_recognised",
            f"{facts.product} が市販のウイルス対策ソフトか確認できませんでした。",
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
