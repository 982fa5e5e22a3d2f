"""What the user reads when a command fails: one line saying what went wrong
in their terms, a hint saying what to do, and the exit status (``exit_codes``).

``explain`` is pure: an exception in, a ``Failure`` out; ``main`` prints it.
No Python exception name reaches the user: those say where the code was, not
what the user can change. ``ANSHIN_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Any

from server.cli.exit_codes import Exit


@dataclass(frozen=True, slots=True)
class Failure:
    code: Exit
    message: str
    hint: str = ""

    def lines(self) -> list[str]:
        out = [f"anshin: {self.message}"]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


class CommandFailed(Exception):
    """Raised by a command that has its own words for a failure (and exit status)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


# The transport's words for a TLS mismatch, either way round.
_PLAINTEXT_TO_TLS = ("socket closed", "connection reset", "recvmsg:connection reset")
_TLS_TO_PLAINTEXT = ("ssl handshake", "ssl_error", "handshake failed", "wrong_version_number")
_REFUSED = ("connection refused", "failed to connect", "deadline exceeded while waiting")
_BIND = re.compile(r"Failed to bind to address ([^\s;,]+)")


def rpc_failure(code: str, details: str, server: str, *, tls: bool) -> Failure:
    """A failed call: ``SERVER: CODE: details`` and what to try.

    ``tls``: whether this client used TLS — a plaintext client talking to a
    TLS server sees only a closed socket, which says nothing by itself.
    """
    low = details.lower()
    message = f"{server}: {code}: {details}"
    hint = ""
    if code == "UNAVAILABLE":
        if not tls and any(w in low for w in _PLAINTEXT_TO_TLS):
            hint = "the server may require TLS: give --ca (and --cert/--key for mutual TLS)"
        elif tls and any(w in low for w in _TLS_TO_PLAINTEXT):
            hint = "TLS failed: check --ca and --server-name, or drop --ca for a plaintext server"
        elif any(w in low for w in _REFUSED):
            hint = "is `anshin serve` running there? check --server (or ANSHIN_SERVER)"
        else:
            hint = "retry; check --server and the server's log"
    elif code == "DEADLINE_EXCEEDED":
        hint = "raise --timeout, or narrow the request"
    elif code == "UNAUTHENTICATED":
        hint = "give a token: --auth-token-file (or ANSHIN_TOKEN_FILE, or the profile's token_file)"
    elif code == "PERMISSION_DENIED":
        hint = "this token's role may not call this; see docs/security.md for the roles"
    elif code == "UNIMPLEMENTED":
        hint = "the server may be older than this client: compare `anshin --version`, `ops status`"
    return Failure(Exit.RPC, message, hint)


def _os_failure(exc: OSError) -> Failure:
    name = exc.filename
    if name is None and exc.strerror is None:  # raised with our own words: keep them
        code = Exit.USAGE if isinstance(exc, FileNotFoundError | PermissionError) else Exit.FAILED
        return Failure(code, str(exc))
    what = f"{name}: " if name is not None else ""
    if isinstance(exc, FileNotFoundError):
        return Failure(Exit.USAGE, f"{what}no such file or directory", "check the path")
    if isinstance(exc, IsADirectoryError):
        return Failure(Exit.USAGE, f"{what}is a directory", "give a file")
    if isinstance(exc, PermissionError):
        return Failure(Exit.USAGE, f"{what}permission denied", "check the file's owner and mode")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # a full disk, or /dev/full: the output
        hint = "free space on that disk" if name is not None else "check where the output goes"
        return Failure(Exit.FAILED, f"{what}{exc.strerror}", f"{hint}, or write elsewhere")
    return Failure(Exit.FAILED, f"{what}{exc.strerror or exc}")


def _config_hint(exc: BaseException) -> str:
    """What to do about a ConfigError, by what it was lifted from."""
    from rules.load import RulesError
    from server.state import StateError

    cause = exc.__cause__
    if isinstance(cause, RulesError):
        return (
            "--rules names a rules directory (a copy of rules/): `anshin rules validate DIR` "
            "lists every problem; without --rules the built-in rules apply"
        )
    if isinstance(cause, StateError):
        return "check --db, --state-dir and the key files (docs/operations.md, Keys)"
    return "check the flags and ANSHIN_* variables named above (docs/operations.md, Configuration)"


def _not_a_database(exc: BaseException, db: str | None) -> Failure | None:
    """SQLite's answer for a file that is not an SQLite database."""
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        where = f"{db}: " if db else ""
        return Failure(
            Exit.USAGE,
            f"{where}not an Anshin database (the file is not SQLite)",
            "check --db (or ANSHIN_DB, or --state-dir): it names the server's database",
        )
    return None


def explain(exc: BaseException, *, db: str | None = None) -> Failure:
    """The failure the user reads for ``exc`` escaping a command (``db``: the
    command's ``--db``, to name it)."""
    if isinstance(exc, CommandFailed):  # the usual case: before importing what the rest needs
        return exc.failure
    import grpc

    from server.errors import ConfigError, InvalidArgument, Unavailable, lift
    from server.metrics import ListenError
    from server.store.errors import LogIntegrityError

    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        code: Any = exc.code()
        return rpc_failure(code.name, exc.details() or "", "server", tls=False)
    if isinstance(exc, LogIntegrityError):
        return Failure(Exit.INTEGRITY, str(exc), "`anshin log verify` names the first bad entry")
    if isinstance(exc, RuntimeError) and (m := _BIND.search(str(exc))):
        return Failure(
            Exit.FAILED,
            f"cannot listen on {m.group(1)}: the port is in use or not allowed",
            "stop the other server, or choose another address with --listen",
        )
    if isinstance(exc, ListenError):  # the metrics endpoint's port
        return Failure(
            Exit.FAILED,
            f"cannot serve metrics on {exc.listen}: {exc.reason}",
            "stop what uses it, or choose another port with --metrics-listen"
            if exc.in_use
            else "give --metrics-listen an address of this host, e.g. 127.0.0.1:9464",
        )
    if (database := _not_a_database(exc, db)) is not None:
        return database
    if isinstance(exc, UnicodeDecodeError):
        return Failure(Exit.USAGE, f"an input file is not UTF-8 text ({exc.reason})")
    known = lift(exc)
    if known is not None:
        if isinstance(known, ConfigError):
            return Failure(Exit.USAGE, str(known), _config_hint(known))
        if isinstance(known, InvalidArgument):  # checked in this process: the user's input
            return Failure(
                Exit.USAGE,
                "; ".join(f"{v.field}: {v.description}" for v in known.violations) or str(known),
                "correct the value named (a flag or a field of the input file; see --help)",
            )
        if isinstance(known, Unavailable):
            return Failure(Exit.FAILED, str(known), "retry when the database is back")
        return Failure(Exit.FAILED, str(known))
    if isinstance(exc, OSError):
        return _os_failure(exc)
    if isinstance(exc, ValueError):  # a value the command was given, checked late
        return Failure(Exit.USAGE, str(exc))
    return Failure(
        Exit.FAILED,
        f"internal error: {exc}",
        "this is a bug: ANSHIN_DEBUG=1 shows where; please report it",
    )
