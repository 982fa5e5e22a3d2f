"""``anshin log verify | checkpoints | public-key``: the operator's side of the
tamper-evident verdict log (see ``server/logverify.py``).

* ``anshin log public-key`` prints the PEM public key of the signing key, to
  keep wherever verification happens (an auditor needs no private key).
* ``anshin log checkpoints [--since-seq N]`` prints the signed checkpoints as
  JSON lines: append them to a file kept off this machine (WORM storage, a
  ticket, an e-mail to the auditor) — they are the anchor that catches even
  a whole database swapped for an older copy.
* ``anshin log verify [--checkpoints FILE]`` walks the log and names the first
  bad entry; exit status 0 when intact, 1 when not.
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import orjson

EXIT_TAMPERED = 1
EXIT_USAGE = 2


def connect_sqlite_readonly(path: str) -> sqlite3.Connection:
    # Read-only: verifying must never write (not even a WAL checkpoint). Text
    # as bytes: the hash is over the bytes, so they need no decoding.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.text_factory = bytes
    return conn


def _connect(db: str) -> tuple[Any, Any]:
    """(connection, picklable factory for parallel workers) for a --db URL."""
    from urllib.parse import urlparse

    scheme = urlparse(db).scheme
    if scheme == "sqlite":
        from server.store.url import sqlite_path

        path = sqlite_path(db)
        if not path.exists():
            raise FileNotFoundError(f"no database at {path}")
        factory = functools.partial(connect_sqlite_readonly, str(path))
        return factory(), factory
    if scheme in ("postgresql", "postgres"):
        from server.store import postgres

        pg_factory = functools.partial(postgres.connect_sync_readonly, db)
        return pg_factory(), pg_factory
    raise ValueError(f"unsupported --db URL {db!r}")


def _default_key_file(db: str) -> Path:
    from server.config import Config

    return Config(db=db).resolved_log_key_file()


def _verifier(ns: argparse.Namespace) -> Any:
    from server.store.chain import LogSigner, LogVerifier

    if ns.public_key:
        return LogVerifier.from_pem(Path(ns.public_key).read_bytes())
    key = Path(ns.key) if ns.key else _default_key_file(ns.db)
    return LogSigner.from_file(key, create=False)


def cmd_public_key(ns: argparse.Namespace) -> int:
    from server.store.chain import LogSigner

    key = Path(ns.key) if ns.key else _default_key_file(ns.db)
    signer = LogSigner.from_file(key, create=False)
    sys.stdout.write(signer.public_pem().decode())
    print(f"# key id {signer.key_id}", file=sys.stderr)
    return 0


def cmd_checkpoints(ns: argparse.Namespace) -> int:
    from server.logverify import read_checkpoints

    conn, _ = _connect(ns.db)
    for cp in read_checkpoints(conn, ns.since_seq):
        sys.stdout.write(orjson.dumps(cp.to_json()).decode() + "\n")
    return 0


def cmd_verify(ns: argparse.Namespace) -> int:
    from server.logverify import load_external, verify

    try:
        verifier = _verifier(ns)
        conn, factory = _connect(ns.db)
        external = (
            load_external(Path(ns.checkpoints).read_text().splitlines()) if ns.checkpoints else []
        )
    except (OSError, ValueError) as exc:
        print(f"anshin log verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    report = verify(conn, verifier, external=external, connect=factory, workers=ns.workers)
    elapsed = time.perf_counter() - started
    if ns.json:
        doc = report.to_json() | {"key_id": verifier.key_id, "seconds": round(elapsed, 3)}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif report.ok:
        rate = report.entries / elapsed if elapsed > 0 else 0.0
        print(
            f"OK  {report.entries} entries, chain intact, signed head at seq {report.head_seq}, "
            f"{report.checkpoints} checkpoints"
            + (f" + {report.external_checkpoints} exported" if report.external_checkpoints else "")
            + f" verified (key {verifier.key_id}); {elapsed:.2f} s, {rate:,.0f} entries/s"
        )
    else:
        p = report.problem
        assert p is not None
        print(
            f"TAMPERED  first bad entry: seq {p.seq}"
            + (f" (id {p.entry_id})" if p.entry_id else "")
        )
        print(f"  {p.reason}")
        print(f"  {report.entries} entries before it verified (key {verifier.key_id})")
    return 0 if report.ok else EXIT_TAMPERED


def add_parsers(sub: Any) -> None:
    from server.config import DEFAULT_DB

    lg = sub.add_parser("log", help="the tamper-evident verdict log: verify, checkpoints, key")
    lsub = lg.add_subparsers(dest="log_command", required=True)

    def db_and_key(p: argparse.ArgumentParser) -> None:
        import os

        p.add_argument("--db", default=os.environ.get("ANSHIN_DB", DEFAULT_DB))
        p.add_argument(
            "--key",
            default=os.environ.get("ANSHIN_LOG_KEY_FILE"),
            help="the signing key file (default: next to the SQLite database)",
        )

    v = lsub.add_parser("verify", help="check the hash chain, signed head and checkpoints")
    db_and_key(v)
    v.add_argument("--public-key", help="PEM public key (instead of the private key file)")
    v.add_argument("--checkpoints", help="JSON lines exported by `anshin log checkpoints`")
    v.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)

    c = lsub.add_parser("checkpoints", help="print signed checkpoints as JSON lines (export)")
    db_and_key(c)
    c.add_argument("--since-seq", type=int, default=0)
    c.set_defaults(func=cmd_checkpoints)

    k = lsub.add_parser("public-key", help="print the signing key's public half (PEM)")
    db_and_key(k)
    k.set_defaults(func=cmd_public_key)
