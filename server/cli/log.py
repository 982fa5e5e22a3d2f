"""``anshin log verify | checkpoints | public-key``: the operator's side of the
tamper-evident verdict log (see ``server/usecases/verify_log.py``).

* ``anshin log public-key`` prints the PEM public key of the signing key, to
  keep wherever verification happens (an auditor needs no private key).
* ``anshin log checkpoints [--since-seq N] [-o jsonl|table|json|csv|yaml]``
  prints the signed checkpoints as JSON lines (the default): append them to
  a file kept off this machine (WORM storage, a ticket, an e-mail to the
  auditor) — they are the anchor that catches even a whole database swapped
  for an older copy.
* ``anshin log verify [--checkpoints FILE] [-o table|json|csv|yaml]`` walks
  the log and names the first bad entry; exit status 0 when intact, 4 when
  not (``server/cli/exit_codes.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from server.cli import log_proofs
from server.cli.args import default_db, nonempty_path
from server.cli.exit_codes import Exit
from server.cli.output import View, add_output_arg, emit_doc, emit_rows
from server.cli.table import Column

if TYPE_CHECKING:
    from server.store.ports import LogReader

# Exit statuses: the CLI's shared ones (server/cli/exit_codes.py).
EXIT_TAMPERED = int(Exit.INTEGRITY)
EXIT_USAGE = int(Exit.USAGE)


def _reader(db: str) -> LogReader:
    """The read-only log reader of a --db URL (picklable: verify's workers each
    read through a copy of it)."""
    from server.store import open_log_reader

    return open_log_reader(db)


def _key_file(ns: argparse.Namespace) -> Path:
    """``--key``, else where ``serve`` would look with the same settings
    (``--state-dir`` / ``ANSHIN_STATE_DIR``, else beside a SQLite database)."""
    from server.config import Config

    if ns.key:
        return Path(ns.key)
    return Config.from_env(db=ns.db, state_dir=ns.state_dir).resolved_log_key_file()


def _verifier(ns: argparse.Namespace) -> Any:
    """The key that checks the log's signatures; a file that cannot be one is
    a usage error (exit 2) naming it, with what to give instead."""
    from server.cli.failures import CommandFailed, Failure
    from server.store.chain import LogSigner, LogVerifier

    if ns.public_key:
        path = Path(ns.public_key)
        try:
            return LogVerifier.from_pem(path.read_bytes())
        except ValueError:  # cryptography's words name its parser, not the file
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    f"{path} (--public-key): not an Ed25519 public key in PEM",
                    "give what `anshin log public-key` printed (-----BEGIN PUBLIC KEY-----)",
                )
            ) from None
    key = _key_file(ns)
    try:
        return LogSigner.from_file(key, create=False)
    except FileNotFoundError as exc:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                str(exc),
                "give --key, --state-dir (ANSHIN_STATE_DIR) or, without the private key, "
                "--public-key",
            )
        ) from None


def _external(path: str | None) -> list[Any]:
    """The checkpoints exported by `anshin log checkpoints` (``--checkpoints``)."""
    from server.cli.failures import CommandFailed, Failure
    from server.usecases.verify_log import load_external

    if not path:
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()  # OSError: explained by main
    try:
        return load_external(lines)
    except (ValueError, KeyError, TypeError) as exc:
        why = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"{path} (--checkpoints): not the JSON lines of `anshin log checkpoints` ({why})",
                "export them with `anshin log checkpoints > FILE`",
            )
        ) from None


def public_key(ns: argparse.Namespace) -> int:
    ns.db = ns.db or default_db(ns.state_dir)
    from server.store.chain import LogSigner

    key = _key_file(ns)
    signer = LogSigner.from_file(key, create=False)
    sys.stdout.write(signer.public_pem().decode())
    print(f"# key id {signer.key_id}", file=sys.stderr)
    return 0


def checkpoints(ns: argparse.Namespace) -> int:
    ns.db = ns.db or default_db(ns.state_dir)
    from server.usecases.verify_log import read_checkpoints

    found = read_checkpoints(_reader(ns.db), ns.since_seq)
    if ns.output == "jsonl":  # the export `log verify --checkpoints FILE` reads back
        for cp in found:
            sys.stdout.write(orjson.dumps(cp.to_json()).decode() + "\n")
        return 0
    emit_rows(
        found,
        ns.output,
        CHECKPOINTS_CSV if ns.output == "csv" else CHECKPOINTS,
        to_dict=lambda cp: cp.to_json(),
        footer=lambda n: f"{n} checkpoint(s)",
    )
    return 0


def _created(cp: Any) -> str:
    from server.cli.render import format_instant

    return format_instant(cp.created_us, tz=UTC)


CHECKPOINTS = View(
    columns=(
        Column("seq", keep=True, right=True),
        Column("created (UTC)", keep=True),
        Column("key id", keep=True),
        Column("entry hash", keep=True),
    ),
    row=lambda cp: [str(cp.seq), _created(cp), cp.key_id, cp.entry_hash],
)
# -o csv: every field of the JSON lines, whole (root_hash and note empty on older checkpoints).
CHECKPOINTS_CSV = View(
    columns=tuple(
        Column(n)
        for n in ("seq", "entry_hash", "created_us", "key_id", "signature", "root_hash", "note")
    ),
    row=lambda cp: [
        str(d[k]) if k in d else ""
        for d in [cp.to_json()]
        for k in ("seq", "entry_hash", "created_us", "key_id", "signature", "root_hash", "note")
    ],
)


def verify(ns: argparse.Namespace) -> int:
    ns.db = ns.db or default_db(ns.state_dir)
    from server.usecases import verify_log as logverify

    verifier = _verifier(ns)
    reader = _reader(ns.db)
    external = _external(ns.checkpoints)
    started = time.perf_counter()
    report = logverify.verify(reader, verifier, external=external, workers=ns.workers)
    elapsed = time.perf_counter() - started
    doc = report.to_json() | {"key_id": verifier.key_id, "seconds": round(elapsed, 3)}
    emit_verify(doc, ns.output)
    as_json = ns.output == "json"
    witnessed = (
        log_proofs.verify_witness(ns.witness, reader, verifier, as_json) if ns.witness else 0
    )
    return max(0 if report.ok else EXIT_TAMPERED, witnessed)


# -o csv: the report as one row (first_bad_* empty when the log is intact).
VERIFY = View(
    columns=tuple(
        Column(name, keep=True)
        for name in (
            "ok",
            "entries",
            "head_seq",
            "checkpoints_checked",
            "external_checkpoints_checked",
            "macs_checked",
            "key_id",
            "first_bad_seq",
            "first_bad_id",
            "first_bad_reason",
        )
    ),
    row=lambda d: [
        str(d["ok"]).lower(),
        str(d["entries"]),
        str(d["head_seq"]),
        str(d["checkpoints_checked"]),
        str(d["external_checkpoints_checked"]),
        str(d["macs_checked"]).lower(),
        d["key_id"],
        *(
            ["", "", ""]
            if d["first_bad"] is None
            else [str(d["first_bad"]["seq"]), d["first_bad"]["id"] or "", d["first_bad"]["reason"]]
        ),
    ],
)


def emit_verify(doc: dict[str, Any], fmt: str) -> None:
    """``log verify``'s report (``VerifyReport.to_json`` plus key id and seconds) in ``fmt``."""
    emit_doc(doc, fmt, text=lambda: _print_verify(doc), rows=(VERIFY, [doc]))


def _print_verify(doc: dict[str, Any]) -> None:
    key_id, elapsed, bad = doc["key_id"], doc["seconds"], doc["first_bad"]
    if doc["ok"]:
        rate = doc["entries"] / elapsed if elapsed > 0 else 0.0
        external = doc["external_checkpoints_checked"]
        print(
            f"OK  {doc['entries']} entries, chain intact"
            + (", every entry MAC valid" if doc["macs_checked"] else "")
            + f", signed head at seq {doc['head_seq']}, "
            f"{doc['checkpoints_checked']} checkpoints"
            + (f" + {external} exported" if external else "")
            + f" verified (key {key_id}); {elapsed:.2f} s, {rate:,.0f} entries/s"
        )
    else:
        if bad["seq"] > 0:
            print(
                f"TAMPERED  first bad entry: seq {bad['seq']}"
                + (f" (id {bad['id']})" if bad["id"] else "")
            )
        else:  # a row beside the log that no entry lists (e.g. an inserted event)
            print("TAMPERED  beside the log (a table whose rows decide money)")
        print(f"  {bad['reason']}")
        if doc["entries"] < bad["seq"]:
            print(f"  {doc['entries']} entries before it verified (key {key_id})")
        else:  # found after the walk: the head, a checkpoint, the tables beside the log
            print(f"  the chain of {doc['entries']} entries is intact (key {key_id})")
    for note in doc["notes"]:
        print(f"  note: {note}")


def add_parser(sub: Any) -> None:
    lg = sub.add_parser("log", help="the tamper-evident verdict log: verify, checkpoints, key")
    lsub = lg.add_subparsers(dest="log_command", required=True)

    def db_and_key(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="default: $ANSHIN_DB, else the state directory's anshin.db")
        p.add_argument(
            "--key",
            default=os.environ.get("ANSHIN_LOG_KEY_FILE"),
            help="the signing key file (env ANSHIN_LOG_KEY_FILE; default: in --state-dir, "
            "else next to the SQLite database)",
        )
        p.add_argument(
            "--state-dir",
            type=nonempty_path,
            help="the server's state directory (env ANSHIN_STATE_DIR): its log-signing.key",
        )

    v = lsub.add_parser("verify", help="check the hash chain, signed head and checkpoints")
    db_and_key(v)
    v.add_argument("--public-key", help="PEM public key (instead of the private key file)")
    v.add_argument("--checkpoints", help="JSON lines exported by `anshin log checkpoints`")
    v.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    add_output_arg(v, legacy_json=True, hide_legacy=True)
    v.add_argument("--witness", help="a witness file (`anshin log witness`): name the first change")
    v.set_defaults(func=verify)

    c = lsub.add_parser("checkpoints", help="print signed checkpoints as JSON lines (export)")
    db_and_key(c)
    c.add_argument("--since-seq", type=int, default=0)
    # Default: JSON lines, the export format (`log verify --checkpoints FILE`).
    add_output_arg(c, default="jsonl", extra=("jsonl",))
    c.set_defaults(func=checkpoints)

    k = lsub.add_parser("public-key", help="print the signing key's public half (PEM)")
    db_and_key(k)
    k.set_defaults(func=public_key)
    log_proofs.add_parsers(lsub, db_and_key)  # prove, verify-receipt, consistency, witness
