"""How the ``anshin`` commands print: amounts, instants, JSON, the console,
the colours of outcomes and statuses, and a failed call."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError, Message

if TYPE_CHECKING:
    import grpc
    from google.protobuf.timestamp_pb2 import Timestamp
    from rich.console import Console

JST = timezone(timedelta(hours=9), "JST")
SECONDS = "%Y-%m-%d %H:%M:%S"
MINUTES = "%Y-%m-%d %H:%M"

OUTCOME_STYLE = {
    "APPROVE": "bold green",
    "DENY": "bold red",
    "REVIEW": "bold yellow",
    "COMPLIANT": "green",
    "NON_COMPLIANT": "red",
    "UNKNOWN": "magenta",
}


# --------------------------------------------------------------------------- values


def yen(amount: int, *, signed: bool = False) -> str:
    """``¥1,200,000``; ``-¥5,000`` below zero; ``signed``: ``+¥5,000`` above it."""
    if amount < 0:
        return f"-¥{-amount:,}"
    return f"+¥{amount:,}" if signed and amount > 0 else f"¥{amount:,}"


def _utc(value: Timestamp | datetime | int) -> datetime:
    if isinstance(value, int):  # microseconds since the epoch
        from server.clock import from_us

        return from_us(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value.ToDatetime(tzinfo=UTC)


def format_instant(
    value: Timestamp | datetime | int, fmt: str | None = None, *, tz: tzinfo = JST
) -> str:
    """An instant (protobuf ``Timestamp``, aware ``datetime`` or microseconds
    since the epoch) in ``tz``: ISO 8601 (``Z`` for UTC) without ``fmt``,
    else formatted for reading, where an unset ``Timestamp`` is ``-``."""
    if fmt is not None and isinstance(value, Message) and not (value.seconds or value.nanos):
        return "-"
    dt = _utc(value).astimezone(tz)
    if fmt is not None:
        return dt.strftime(fmt)
    return dt.isoformat().replace("+00:00", "Z") if tz is UTC else dt.isoformat()


# --------------------------------------------------------------------------- output


def console() -> Console:
    """A rich console for colour on a terminal; the lines are ours (``say``):
    rich neither wraps nor cuts them. A closed pipe raises BrokenPipeError,
    for ``main`` to exit quietly with 141 (rich alone exits with 1)."""
    from rich.console import Console

    from server.cli.output import width

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    # The width is ours too: rich reads $COLUMNS itself and prints nothing at 0.
    return _Console(width=width(), soft_wrap=True, highlight=False, markup=False, emoji=False)


def say(
    text: str | Sequence[str],
    style: str = "",
    *,
    out: Console | None = None,
    indent: int = 0,
    sep: str = "  ",
) -> None:
    """``text`` wrapped to the terminal's width (``server.cli.output.width``)
    at spaces or between CJK characters, never inside an id, an amount or an
    instant; continuation lines indented by ``indent``; coloured on a
    terminal. A sequence: phrases joined by ``sep``, each on one line where
    it fits (``request 01a…`` is not split from its label)."""
    from rich.text import Text

    from server.cli.output import width
    from server.cli.table import wrap, wrap_phrases

    out = out or console()
    room = width() - indent
    lines = wrap(text, room) if isinstance(text, str) else wrap_phrases(text, room, sep)
    for k, line in enumerate(lines):
        out.print(Text((" " * indent if k else "") + line, style=style))


def print_json(doc: Any, *, indent: bool = True) -> None:
    """One JSON document (Japanese as is), indented, or on one line."""
    print(json.dumps(doc, ensure_ascii=False, indent=2 if indent else None))


def print_message(msg: Message) -> None:
    """A protobuf reply as indented JSON, in the one JSON mapping every command
    uses (``server.cli.output.message_dict``)."""
    from server.cli.output import message_dict

    print_json(message_dict(msg))


# --------------------------------------------------------------------------- failures


def violations(exc: grpc.RpcError) -> list[tuple[str, str]]:
    """Field violations of an INVALID_ARGUMENT (google.rpc.BadRequest details)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    try:
        status = rpc_status.from_call(exc)
    except (AttributeError, ValueError, DecodeError):  # no readable details: the message says it
        return []
    out: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        br = error_details_pb2.BadRequest()
        if detail.Unpack(br):
            out.extend((v.field, v.description) for v in br.field_violations)
    return out


def print_invalid(found: Sequence[tuple[str, str]], message: str) -> None:
    """An INVALID_ARGUMENT: one line per field, or the message when none is named."""
    print(f"INVALID_ARGUMENT: {message}" if not found else "INVALID_ARGUMENT:", file=sys.stderr)
    for field, description in found:
        print(f"  {field}: {description}", file=sys.stderr)


def print_rpc_error(exc: grpc.RpcError, server: str, *, tls: bool | None = None) -> int:
    """A failed call on stderr: the fields of an INVALID_ARGUMENT, else
    ``SERVER: CODE: details`` and a hint; the exit status for it (3).

    ``tls``: whether the client used TLS (default: whether ``$ANSHIN_CA`` is
    set), for the hint on a TLS mismatch."""
    import os

    import grpc

    from server.cli.exit_codes import Exit
    from server.cli.failures import rpc_failure

    code = exc.code()
    details = exc.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        print_invalid(violations(exc), details)
        print("hint: the server refused the values named above: correct them", file=sys.stderr)
        return int(Exit.RPC)
    used_tls = bool(os.environ.get("ANSHIN_CA")) if tls is None else tls
    failure = rpc_failure(code.name, details, server, tls=used_tls)
    print(f"{failure.message}", file=sys.stderr)
    if failure.hint:
        print(f"hint: {failure.hint}", file=sys.stderr)
    return int(failure.code)


def rpc_exit(exc: grpc.RpcError, ns: Any) -> int:
    """``print_rpc_error`` for a command's flags: its server, whether it used TLS."""
    from server.cli.channel import uses_tls

    return print_rpc_error(exc, ns.server, tls=uses_tls(ns))
