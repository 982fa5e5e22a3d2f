"""What several ``anshin`` commands accept: the default server and database,
the one parser of instants (``instant``; ``instant_or_date`` where a plain
date means JST midnight), amounts in yen, and instants for a request."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, date, datetime, time
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from server.cli.render import JST
from server.config import DEFAULT_DB

DEFAULT_SERVER = os.environ.get("ANSHIN_SERVER", "127.0.0.1:50051")


def default_db(state_dir: Path | None = None) -> str:
    """``--db``'s default, as ``serve`` picks it: ``$ANSHIN_DB``, else the state
    directory's database (``--state-dir`` or ``$ANSHIN_STATE_DIR``/anshin.db,
    as in the container), else the development database."""
    if os.environ.get("ANSHIN_DB"):
        return os.environ["ANSHIN_DB"]
    state = state_dir or (
        Path(os.environ["ANSHIN_STATE_DIR"]) if os.environ.get("ANSHIN_STATE_DIR") else None
    )
    if state is not None:
        from server.state_init import StateLayout

        return StateLayout(state).db_url
    return DEFAULT_DB


def nonempty_path(value: str) -> Path:
    """A path flag's value; an empty one is refused (it would mean the working
    directory, where keys must never silently land)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return Path(value)


def instant(value: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (``2025-04-10T10:00:00+09:00``,
    ``2025-04-10T01:00:00Z``), as UTC.

    Every command's instants go through this one parser. A date or a time of
    day without an offset is refused rather than guessed: the server, the
    analyst and the policy may each be in another zone.
    """
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: not an instant (e.g. 2025-03-10T09:00:00+09:00)"
        ) from None
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give a UTC offset (e.g. 2025-03-10T09:00:00+09:00)"
        )
    return dt.astimezone(UTC)


def instant_or_date(value: str) -> datetime:
    """``instant``, or a plain date (``2025-04-10``) meaning midnight JST of
    that day — for the flags whose help says so (``--as-of``, ``--before``):
    the policies' days are Japanese calendar days (docs/architecture.md)."""
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: not a date (e.g. 2025-03-10)") from None
        return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)
    return instant(value)


def yen_amount(value: str) -> int:
    """A positive amount in whole yen (``1200000``, ``1,200,000``, ``¥1,200,000``)."""
    try:
        amount = int(value.replace(",", "").replace("_", "").removeprefix("¥"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: an amount in whole yen") from None
    if amount <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: a positive amount")
    return amount


def timestamp(dt: datetime) -> Timestamp:
    """An instant as the protobuf ``Timestamp`` of a request."""
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts
