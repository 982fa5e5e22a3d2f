"""HNB-P3: the transaction-authentication token is kept from others, and its
loss, theft or forgery was notified to the bank."""

from __future__ import annotations

from checks.model import CheckOutcome, CheckStatus, Compared, TokenStatus

CHECK_ID = "token"
CLAUSES = ("HNB-P3",)

_TABLE: dict[TokenStatus, tuple[CheckStatus, str, str]] = {
    TokenStatus.ACTIVE: (CheckStatus.PASS, "token_active", ""),
    # Loss notified to the bank: the customer did what P3 asks.
    TokenStatus.REPORTED_LOST: (CheckStatus.PASS, "token_loss_notified", ""),
    TokenStatus.NOT_ISSUED: (
        CheckStatus.FAIL,
        "token_not_issued",
        "トランザクション認証用トークンをお申し込みのうえ、ご利用ください。",
    ),
    TokenStatus.SUSPENDED: (
        CheckStatus.WARN,
        "token_suspended",
        "トランザクション認証用トークンが利用停止中です。当行までご連絡ください。",
    ),
    TokenStatus.UNKNOWN: (
        CheckStatus.UNKNOWN,
        "token_status_unknown",
        "トランザクション認証用トークンの状態を確認できませんでした。"
        "紛失・盗難の場合は当行までご連絡ください。",
    ),
}


def _outcome(status: TokenStatus) -> CheckOutcome:
    result, reason, message = _TABLE[status]
    return CheckOutcome(
        CHECK_ID,
        result,
        CLAUSES,
        reason,
        message,
        (Compared("token_status", status.value, "ACTIVE or REPORTED_LOST"),),
    )


# One immutable outcome per status, built once.
_OUTCOMES: dict[TokenStatus, CheckOutcome] = {status: _outcome(status) for status in _TABLE}


def check_token(status: TokenStatus) -> CheckOutcome:
    return _OUTCOMES[status]
