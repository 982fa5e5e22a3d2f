"""What several ``anshin`` commands accept: the default server and database,
instants (``instant``; ``instant_or_date`` where a plain date means JST
midnight, both through ``timing.parse_instant``), amounts in yen, addresses to
listen on, seconds, and instants for a request."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp

    from timing.instants import DateMeaning

# The imports of server.config (through server.errors, the store and the rules
# engine), of protobuf and of timing are left to the functions that need them:
# every ``anshin`` command imports this module to build its parser, most need
# none of them for that.

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
    from server.config import DEFAULT_DB

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

    Every command's instants go through the one parser of instants
    (``timing.parse_instant``, the same as the rules files'). A date or a time
    of day without an offset is refused rather than guessed: the server, the
    analyst and the policy may each be in another zone.
    """
    from timing.instants import DateMeaning

    return _parsed(value, DateMeaning.REFUSE)


def instant_or_date(value: str) -> datetime:
    """``instant``, or a plain date (``2025-04-10``) meaning midnight JST of
    that day — for the flags whose help says so (``--as-of``, ``--before``):
    the policies' days are Japanese calendar days (docs/architecture.md)."""
    from timing.instants import DateMeaning

    return _parsed(value, DateMeaning.JST_MIDNIGHT)


def _parsed(value: str, date_means: DateMeaning) -> datetime:
    from timing.instants import InstantError, parse_instant

    try:
        return parse_instant(value, date_means=date_means)
    except InstantError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def listen_problem(value: str) -> str | None:
    """What is wrong with a ``HOST:PORT`` to listen on (None: nothing).

    The port is a number from 0 to 65535 — 0 asks the system for any free
    port, which the ``serving`` log line then names; a larger number would
    otherwise be taken modulo 65536 by the socket layer and the server would
    listen somewhere nobody asked for. The host is a name, an IPv4 address
    or a bracketed IPv6 one (``[::1]:50051``)."""
    host, colon, port = value.strip().rpartition(":")
    if not colon:
        return f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:50051"
    if not host:  # grpc, the console and the metrics server would each read it otherwise
        return f"{value!r}: no host: name one, e.g. 127.0.0.1{value} or 0.0.0.0{value}"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"{value!r}: the port must be a number from 0 to 65535"
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        return f"{value!r}: put an IPv6 address in brackets, e.g. [::1]:50051"
    return None


def listen_address(value: str) -> str:
    """An argparse ``type`` for ``--listen`` and friends (``listen_problem``)."""
    problem = listen_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value.strip()


def seconds(value: str) -> float:
    """A positive number of seconds (``--timeout``): 0, a negative number or
    ``nan`` would fail every call with DEADLINE_EXCEEDED, blaming the server."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: a number of seconds") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r}: a positive number of seconds")
    return number


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
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts
