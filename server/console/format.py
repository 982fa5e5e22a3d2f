"""How the console writes values: JST instants, yen, ages (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp

JST = timezone(timedelta(hours=9), "JST")


def jst(value: Timestamp | datetime | int | None, seconds: bool = False) -> str:
    """An instant (Timestamp, aware datetime, or µs since the epoch) in JST; '-' if unset."""
    if value is None:
        return "-"
    if isinstance(value, Timestamp):
        if not (value.seconds or value.nanos):
            return "-"
        dt = value.ToDatetime(tzinfo=UTC)
    elif isinstance(value, int):
        dt = datetime.fromtimestamp(value / 1_000_000, UTC)
    else:
        dt = value
    return dt.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def yen(amount: int | str | None, signed: bool = False) -> str:
    n = int(amount or 0)
    if n < 0:
        return f"-¥{-n:,}"
    return f"+¥{n:,}" if signed and n > 0 else f"¥{n:,}"


def age(since: datetime, now: datetime) -> str:
    """``3 d 4 h`` / ``5 h 12 min`` / ``7 min``: how long an item has waited."""
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def short_enum(value: str) -> str:
    """``CHECK_STATUS_PASS`` → ``PASS``, ``OUTCOME_DENY`` → ``DENY``."""
    for prefix in ("CHECK_STATUS_", "OUTCOME_", "PRECISION_"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value
