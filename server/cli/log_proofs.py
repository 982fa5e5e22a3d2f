"""``anshin log prove | verify-receipt | consistency | verify-consistency |
witness``: what an auditor uses on top of the Merkle log (RFC 9162) and its
signed C2SP checkpoints. See docs/analysts.md, "Receipts, consistency and
witnesses".

* ``prove ID`` writes a receipt for one decision: the entry as stored, its
  inclusion proof and the signed checkpoint that covers it.
* ``verify-receipt FILE --public-key PEM`` checks a receipt offline — no
  database, no server — and prints the decision it proves.
* ``consistency OLD NEW`` (or ``--old-note FILE``) proves that the log at one
  checkpoint extends the log at an older one; ``verify-consistency`` checks
  such a proof offline.
* ``witness --to FILE|URL`` appends every newer checkpoint to a witness kept
  elsewhere, each only after checking it against what is witnessed already.

Exit status: 0 proven/consistent, 1 a proof, receipt or log that does not
hold (tampering), 2 usage or I/O errors, 3 not checkpointed yet (``prove``:
try again in a second).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from server.cli.args import default_db
from server.cli.exit_codes import Exit
from server.cli.output import View, add_output_arg, emit_doc
from server.cli.table import Column

if TYPE_CHECKING:
    from server.log.witness import WitnessState
    from server.store.ports import LogReader

# Exit statuses: the CLI's shared ones (server/cli/exit_codes.py).
EXIT_OK = int(Exit.OK)
EXIT_TAMPERED = int(Exit.INTEGRITY)
EXIT_USAGE = int(Exit.USAGE)
EXIT_PENDING = int(Exit.FAILED)  # no checkpoint covers the entry yet: try again
CONSISTENCY_FORMAT = "anshin.consistency.v1"


class CliError(Exception):
    """A usage or I/O problem, reported as ``anshin log <cmd>: …`` (exit 2)."""


# -- keys and readers ---------------------------------------------------------------


def _public_raw_from_pem(path: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    from server.store.chain import LogVerifier

    try:
        verifier = LogVerifier.from_pem(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise CliError(f"public key {path}: {exc}") from None
    return verifier.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _log_public_raw(ns: argparse.Namespace, *, required: bool) -> bytes | None:
    """``--public-key``, else the public half of the signing key the server
    uses with these settings (``--key``/``--state-dir``); None when neither
    exists and the key is not ``required``."""
    if getattr(ns, "public_key", None):
        return _public_raw_from_pem(ns.public_key)
    from cryptography.hazmat.primitives import serialization

    from server.config import Config
    from server.store.chain import LogSigner

    path = (
        Path(ns.key)
        if ns.key
        else Config.from_env(db=ns.db, state_dir=ns.state_dir).resolved_log_key_file()
    )
    try:
        signer = LogSigner.from_file(path, create=False)
    except (OSError, ValueError) as exc:
        if required:
            raise CliError(f"{exc}; give the log's --public-key") from None
        return None
    return signer.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _reader(ns: argparse.Namespace) -> LogReader:
    from server.store import open_log_reader

    ns.db = ns.db or default_db(ns.state_dir)
    try:
        return open_log_reader(ns.db)
    except Exception as exc:  # a bad URL, a missing file, a server not there
        raise CliError(f"cannot read the log at {ns.db}: {exc}") from None


def _write(text: str, out: str | None) -> None:
    if out:
        try:
            Path(out).write_text(text)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc}") from None
    else:
        sys.stdout.write(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose every key appears once. Readers disagree on which
    of two equal keys counts (the first, the last): a receipt showing one
    outcome to us and another to someone else's parser is refused."""
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"the key {key!r} appears twice in one object")
        doc[key] = value
    return doc


def _read_json(path: str) -> Any:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys)
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, a repeated key
        raise CliError(f"{path} is not valid JSON: {exc}") from None


def _run(command: str, body: Callable[[], int]) -> int:
    try:
        return body()
    except CliError as exc:
        print(f"anshin log {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


# -- prove / verify-receipt ------------------------------------------------------------


def prove(ns: argparse.Namespace) -> int:
    return _run("prove", lambda: _prove(ns))


def _prove(ns: argparse.Namespace) -> int:
    from server.log import note
    from server.log.compact import BlobError
    from server.log.receipt import Pending, ReceiptError, make_receipt, verify_receipt
    from server.store.chain import CHAIN_COLUMNS
    from server.store.errors import StateError
    from server.usecases.prove_entry import prove_sync

    reader = _reader(ns)
    try:
        row = reader.verdict_row(ns.id)
        if row is None:
            raise CliError(f"no log entry has id {ns.id}")
        seq = int(row[0])
        # A compacted column is hashed as its reference: the receipt carries
        # the blob contents, so it proves the decision's JSON offline.
        try:
            carried = reader.blob_contents(row[1 : 1 + len(CHAIN_COLUMNS)])
        except BlobError as exc:
            print(f"TAMPERED  the log cannot prove entry {seq}: {exc}", file=sys.stderr)
            return EXIT_TAMPERED
        try:
            found = prove_sync(reader, seq)
        except StateError as exc:  # the tree lacks what the entry's proof needs
            print(f"TAMPERED  the log cannot prove entry {seq}: {exc}", file=sys.stderr)
            return EXIT_TAMPERED
    finally:
        reader.close()
    if isinstance(found, Pending):
        print(
            f"anshin log prove: entry {seq} is newer than the latest signed checkpoint "
            f"(tree size {found.checkpointed}); checkpoints are signed every second of "
            "write activity: try again in a second",
            file=sys.stderr,
        )
        return EXIT_PENDING
    public = _log_public_raw(ns, required=False)
    try:
        origin = note.peek_checkpoint(found.checkpoint)[0]
        key_name = (
            note.key_name_of(found.checkpoint, public)
            if public is not None
            else note.signer_names(found.checkpoint)[0]
        )
    except note.NoteError as exc:
        print(f"TAMPERED  the checkpoint covering entry {seq}: {exc}", file=sys.stderr)
        return EXIT_TAMPERED
    values = row[1 : 1 + len(CHAIN_COLUMNS)]
    doc = make_receipt(
        seq,
        values,
        row[1 + len(CHAIN_COLUMNS)],
        found,
        origin=origin,
        key_name=key_name,
        blobs=carried,
    )
    if public is not None:
        # Never hand out a receipt that does not verify: that is a damaged log.
        try:
            verify_receipt(doc, public)
        except ReceiptError as exc:
            print(f"TAMPERED  the log cannot prove entry {seq}: {exc}", file=sys.stderr)
            return EXIT_TAMPERED
    _write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n", ns.out)
    if ns.out:
        print(
            f"receipt for entry {seq} (id {ns.id}) at tree size {found.tree_size} "
            f"written to {ns.out}",
            file=sys.stderr,
        )
    return EXIT_OK


def verify_receipt_cmd(ns: argparse.Namespace) -> int:
    return _run("verify-receipt", lambda: _verify_receipt(ns))


def _verify_receipt(ns: argparse.Namespace) -> int:
    from server.log.receipt import ReceiptError, verify_receipt

    public = _public_raw_from_pem(ns.public_key)
    doc = _read_json(ns.file)
    try:
        proven = verify_receipt(doc, public, origin=ns.origin)
    except ReceiptError as exc:
        print(f"FAILED  {exc}")
        return EXIT_TAMPERED
    out = {
        "ok": True,
        "seq": proven.seq,
        "origin": proven.origin,
        "tree_size": proven.tree_size,
        "root": proven.root.hex(),
        "entry_hash": proven.entry_hash,
        "decision": _decision(proven.columns),
    }
    if ns.output == "json":  # as before -o existed: orjson, indented
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    emit_doc(out, ns.output, text=lambda: _print_receipt(proven), rows=(RECEIPT, [out]))
    return EXIT_OK


# -o csv: the proven entry as one row: where it is, then the decision's fields.
_DECISION_KEYS = (
    "id", "kind", "outcome", "payable_yen", "customer_id", "policy_id", "subject_time",
    "recorded_at", "refers_to",
)  # fmt: skip
RECEIPT = View(
    columns=tuple(
        Column(n)
        for n in ("ok", "seq", "origin", "tree_size", "root", "entry_hash", *_DECISION_KEYS)
    ),
    row=lambda d: [
        "true", str(d["seq"]), d["origin"], str(d["tree_size"]), d["root"], d["entry_hash"],
        *("" if d["decision"].get(k) is None else str(d["decision"][k]) for k in _DECISION_KEYS),
    ],
)  # fmt: skip


def _print_receipt(proven: Any) -> None:
    d = _decision(proven.columns)
    print(
        f"OK  entry {proven.seq} is in log {proven.origin} at tree size {proven.tree_size} "
        f"(root {proven.root.hex()[:16]}…, checkpoint signature verified)"
    )
    for label, key in (
        ("id", "id"),
        ("kind", "kind"),
        ("outcome", "outcome"),
        ("amount", "payable_yen"),
        ("customer", "customer_id"),
        ("policy", "policy_id"),
        ("subject", "subject_time"),
        ("recorded", "recorded_at"),
        ("refers to", "refers_to"),
    ):
        value = d.get(key)
        if value in (None, ""):
            continue
        if key == "payable_yen":
            value = f"¥{value:,}"
        print(f"  {label:<9} {value}")


def _decision(columns: dict[str, Any]) -> dict[str, Any]:
    """The decision's headline fields, from the proven columns."""
    from server.wire.verdicts import payable_of

    def text(v: Any) -> Any:
        return v.decode() if isinstance(v, bytes) else v

    def instant(us: Any) -> str | None:
        if not isinstance(us, int):
            return None
        return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")

    outcome, result = text(columns.get("outcome")) or "", text(columns.get("result")) or ""
    return {
        "id": text(columns.get("id")),
        "kind": text(columns.get("kind")),
        "outcome": outcome,
        # Only claim decisions and their resolutions pay anything.
        "payable_yen": (
            payable_of(outcome, result)
            if text(columns.get("kind")) in ("claim", "review_resolution")
            else None
        ),
        "customer_id": text(columns.get("customer_id")),
        "policy_id": text(columns.get("policy_id")),
        "subject_time": instant(columns.get("subject_us")),
        "recorded_at": instant(columns.get("recorded_us")),
        "refers_to": text(columns.get("refers_to")),
    }


# -- consistency -------------------------------------------------------------------------


def consistency(ns: argparse.Namespace) -> int:
    return _run("consistency", lambda: _consistency(ns))


def _consistency(ns: argparse.Namespace) -> int:
    import base64

    from server.store.errors import StateError
    from server.usecases.prove_entry import consistency_sync

    reader = _reader(ns)
    try:
        if ns.old_note:
            old_note, old_size = _held_note(ns.old_note, "--old-note")
        elif ns.old_size is not None:
            old_size = ns.old_size
            old_note = _checkpoint_note(reader, old_size)
        else:
            raise CliError("give OLD_SIZE (a checkpoint's tree size) or --old-note FILE")
        if ns.new_note:
            new_note, new_size = _held_note(ns.new_note, "--new-note")
        elif ns.new_size is None:
            latest = reader.latest_checkpoint()
            if latest is None or not latest.note:
                raise CliError("the log has no signed checkpoint yet")
            new_size, new_note = latest.seq, latest.note
        else:
            new_size, new_note = ns.new_size, _checkpoint_note(reader, ns.new_size)
        if old_size > new_size:
            raise CliError(f"the old size {old_size} is beyond the new size {new_size}")
        try:
            proof = consistency_sync(reader, old_size, new_size)
        except StateError as exc:  # the store cannot produce it: the log lost entries
            print(f"TAMPERED  no consistency proof from {old_size} to {new_size}: {exc}")
            return EXIT_TAMPERED
    finally:
        reader.close()
    doc = {
        "consistency": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "new_size": new_size,
        "old_checkpoint": old_note,
        "new_checkpoint": new_note,
        "proof": [base64.b64encode(h).decode() for h in proof],
    }
    _write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n", ns.out)
    return EXIT_OK


def _held_note(path: str, flag: str) -> tuple[str, int]:
    """A signed checkpoint kept elsewhere, and its tree size (its signature is
    checked by whoever verifies the proof)."""
    from server.log import note

    try:
        text = Path(path).read_text()
        return text, note.peek_checkpoint(text)[1]
    except (OSError, note.NoteError) as exc:
        raise CliError(f"{flag} {path}: {exc}") from None


def _checkpoint_note(reader: Any, size: int) -> str:
    cp = reader.checkpoint_covering(size)
    if cp is None or cp.seq != size or not cp.note:
        raise CliError(f"no signed checkpoint of tree size {size} (see `anshin log checkpoints`)")
    return str(cp.note)


def verify_consistency_cmd(ns: argparse.Namespace) -> int:
    return _run("verify-consistency", lambda: _verify_consistency(ns))


def _verify_consistency(ns: argparse.Namespace) -> int:
    import base64
    import binascii

    from server.log import note, proofs

    public = _public_raw_from_pem(ns.public_key)
    doc = _read_json(ns.file)
    try:
        if not isinstance(doc, dict) or doc.get("consistency") != CONSISTENCY_FORMAT:
            raise proofs.ProofError(f"not an {CONSISTENCY_FORMAT} document")
        old_note, new_note = doc.get("old_checkpoint"), doc.get("new_checkpoint")
        raw = doc.get("proof")
        if not isinstance(old_note, str) or not isinstance(new_note, str):
            raise proofs.ProofError("the document lacks its two checkpoint notes")
        if not isinstance(raw, list) or not all(isinstance(h, str) for h in raw):
            raise proofs.ProofError('"proof" is not a list of base64 hashes')
        try:
            path = [base64.b64decode(h, validate=True) for h in raw]
        except (binascii.Error, ValueError):
            raise proofs.ProofError("a proof hash is not base64") from None
        name = ns.key_name or note.key_name_of(new_note, public)
        o1, m, old_root = note.open_note(old_note, name, public, origin=ns.origin)
        _, n, new_root = note.open_note(new_note, name, public, origin=o1)
        proofs.verify_consistency(m, n, path, old_root, new_root)
    except (note.NoteError, proofs.ProofError) as exc:
        print(f"FAILED  {exc}")
        return EXIT_TAMPERED
    print(f"OK  log {o1} at tree size {n} extends its signed tree of size {m}")
    return EXIT_OK


# -- witness ---------------------------------------------------------------------------


class FileWitness:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def lines(self) -> list[str]:
        try:
            return self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CliError(f"cannot read the witness {self.path}: {exc}") from None

    def append(self, line: str) -> None:
        try:
            with self.path.open("a") as f:
                f.write(line + "\n")
                f.flush()
        except OSError as exc:
            raise CliError(f"cannot append to the witness {self.path}: {exc}") from None


class UrlWitness:
    """A witness reached over HTTP: ``GET`` returns the JSON lines it holds
    (404: none yet), ``POST`` appends one. Plain HTTP only to this machine
    (a witness elsewhere is reached over HTTPS)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme == "http":
            if not _loopback(parsed.hostname or ""):
                raise CliError(f"{url}: plain http only to a loopback address; use https")
        elif parsed.scheme != "https":
            raise CliError(f"{url}: a witness URL is https:// (or http:// to loopback)")
        self.url, self.where, self.timeout = url, url, timeout

    def lines(self) -> list[str]:
        import urllib.error  # here, as below: urllib.request imports http, ssl and email
        import urllib.request

        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:
                return bytes(resp.read()).decode().splitlines()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise CliError(f"witness {self.url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"witness {self.url} unreachable: {exc}") from None

    def append(self, line: str) -> None:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(
            self.url,
            data=line.encode() + b"\n",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            raise CliError(f"witness {self.url} refused a checkpoint: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"witness {self.url} unreachable: {exc}") from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def witness(ns: argparse.Namespace) -> int:
    return _run("witness", lambda: _witness(ns))


def _witness(ns: argparse.Namespace) -> int:
    from server.log.witness import WitnessError

    target = ns.to
    sink = (
        UrlWitness(target)
        if target.startswith(("http://", "https://"))
        else FileWitness(Path(target))
    )
    public = _log_public_raw(ns, required=True)
    assert public is not None
    reader = _reader(ns)
    try:
        while True:
            try:
                added, state = witness_once(reader, sink, public)
            except WitnessError as exc:
                print(f"REFUSED  {exc}", file=sys.stderr)
                print(
                    f"  the log is not the one {sink.where} witnessed; nothing was appended. "
                    "Run `anshin log verify --witness` to find the first changed entry.",
                    file=sys.stderr,
                )
                return EXIT_TAMPERED
            print(
                f"witnessed {added} new checkpoint(s); {sink.where} holds tree size {state.size}",
                file=sys.stderr,
            )
            if not ns.follow:
                return EXIT_OK
            time.sleep(ns.follow)
    finally:
        reader.close()


def witness_once(reader: Any, sink: Any, public: bytes) -> tuple[int, WitnessState]:
    """Check the log against the witness, then append its newer checkpoints.

    Raises WitnessError (nothing appended for the failing checkpoint) when
    the log was rewritten or truncated since it was witnessed.
    """
    from server.log import note
    from server.log.witness import WitnessError, extend, load, witness_line
    from server.store.errors import StateError
    from server.usecases.prove_entry import consistency_sync, root_sync

    held = [line for line in sink.lines() if line.strip()]
    # Only the checkpoints after what is held are read (one a second adds up).
    checkpoints = [] if held else [cp for cp in reader.checkpoints(0) if cp.note]
    if not held and not checkpoints:
        return 0, load([], "", public)
    first_note = held_note(held) if held else checkpoints[0].note
    try:
        name = note.key_name_of(first_note, public)
    except note.NoteError as exc:
        raise WitnessError(f"checkpoint note: {exc}") from None
    state = load(held, name, public)
    if held:
        checkpoints = [cp for cp in reader.checkpoints(state.size) if cp.note]
    _, _, last_seq = reader.log_bounds()
    if last_seq < state.size:
        raise WitnessError(
            f"the log ends at entry {last_seq}, the witness holds {state.size} entries: "
            "it was truncated"
        )
    if state.last is not None:
        try:
            now_root = root_sync(reader, state.size)
        except StateError as exc:  # the store cannot build the old tree: entries are gone
            raise WitnessError(f"the log no longer holds the witnessed tree: {exc}") from None
        if now_root != state.last.root:
            raise WitnessError(
                f"the log's tree of its first {state.size} entries has root {now_root.hex()}, "
                f"the witnessed checkpoint signed {state.last.root.hex()}: entries up to "
                f"{state.size} were rewritten"
            )
    newer = [cp for cp in checkpoints if cp.seq > state.size]
    added = 0
    if newer:
        hashes = _entry_hashes(reader, state.size + 1, newer[-1].seq + 1)
        for cp in newer:
            leaves = [next(hashes) for _ in range(cp.seq - state.size)]
            proof = consistency_sync(reader, state.size, cp.seq) if state.size else None
            extend(state, cp.note, leaves, name, public, consistency=proof)
            sink.append(witness_line(cp.note, leaves))
            added += 1
    return added, state


def held_note(lines: list[str]) -> str:
    for line in lines:
        if line.strip():
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                break
            if isinstance(doc, dict) and isinstance(doc.get("note"), str):
                return str(doc["note"])
            break
    from server.log.witness import WitnessError

    raise WitnessError("the witness's first line holds no checkpoint note")


def _entry_hashes(reader: Any, lo: int, hi: int) -> Iterator[bytes]:
    """The entry hashes of seqs [lo, hi) as recomputed from the stored columns;
    an entry that does not hash to its stored hash, or a gap, is refused."""
    from server.log.witness import WitnessError

    expected = lo
    for row in reader.chain_rows(lo, hi):
        # (seq, id, prev hash, stored entry hash, recomputed entry hash, …)
        seq, entry_id, stored, computed = row[0], row[1], row[3], row[4]
        if seq != expected:
            raise WitnessError(f"entry {expected} is missing from the log")
        if stored != computed:
            raise WitnessError(
                f"entry {seq} (id {entry_id}) does not hash to its stored hash: it was altered"
            )
        expected += 1
        yield bytes.fromhex(computed)
    if expected < hi:
        raise WitnessError(f"entry {expected} is missing from the log")


def check_witness(reader: Any, path: str, public: bytes) -> tuple[int, Any]:
    """``anshin log verify --witness FILE``: (witnessed size, the first
    ``Difference`` between the log and the witness, or None)."""
    from server.log import note
    from server.log.witness import first_difference, load

    lines = Path(path).read_text().splitlines()
    if not any(line.strip() for line in lines):
        return 0, None
    state = load(lines, note.key_name_of(held_note(lines), public), public)
    hashes = ((row[0], bytes.fromhex(row[4])) for row in reader.chain_rows(1, state.size + 1))
    return state.size, first_difference(state, hashes)


# -- the parsers ---------------------------------------------------------------------------


def add_parsers(lsub: Any, db_and_key: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the subcommands under ``anshin log`` (server/cli/log.py)."""
    p = lsub.add_parser("prove", help="write a receipt proving one decision is in the log")
    db_and_key(p)
    p.add_argument("id", help="the decision's (log entry's) id")
    p.add_argument("--out", help="write the receipt here (default: stdout)")
    p.add_argument("--public-key", help="PEM public key to check the receipt with before writing")
    p.set_defaults(func=prove)

    r = lsub.add_parser("verify-receipt", help="check a receipt offline with the public key")
    r.add_argument("file", help="the receipt (JSON) written by `anshin log prove`")
    r.add_argument("--public-key", required=True, help="the log's PEM public key")
    r.add_argument("--origin", help="the log's origin to insist on (default: the receipt's)")
    add_output_arg(r, legacy_json=True)
    r.set_defaults(func=verify_receipt_cmd)

    c = lsub.add_parser(
        "consistency", help="prove the log at a checkpoint extends an older checkpoint"
    )
    db_and_key(c)
    c.add_argument("old_size", nargs="?", type=int, help="tree size of the older checkpoint")
    c.add_argument("new_size", nargs="?", type=int, help="tree size of the newer (default: latest)")
    c.add_argument("--old-note", help="an older signed checkpoint note held elsewhere")
    c.add_argument("--new-note", help="a newer signed checkpoint note held elsewhere")
    c.add_argument("--out", help="write the proof here (default: stdout)")
    c.set_defaults(func=consistency)

    vc = lsub.add_parser("verify-consistency", help="check a consistency proof offline")
    vc.add_argument("file", help="the JSON written by `anshin log consistency`")
    vc.add_argument("--public-key", required=True, help="the log's PEM public key")
    vc.add_argument("--key-name", help="the key name (default: found by the public key)")
    vc.add_argument("--origin", help="the log's origin to insist on")
    vc.set_defaults(func=verify_consistency_cmd)

    w = lsub.add_parser(
        "witness", help="append new signed checkpoints to a witness file or URL, checked"
    )
    db_and_key(w)
    w.add_argument("--to", required=True, help="witness file (JSON lines) or https:// URL")
    w.add_argument("--public-key", help="the log's PEM public key (default: the key file's)")
    w.add_argument("--follow", type=float, metavar="SECONDS", help="keep witnessing every SECONDS")
    w.set_defaults(func=witness)


def verify_witness(path: str, reader: Any, verifier: Any, as_json: bool = False) -> int:
    """``anshin log verify --witness FILE``: compare the log entry by entry
    with the entry hashes a witness holds; print the first changed entry."""
    from cryptography.hazmat.primitives import serialization

    from server.log.note import NoteError
    from server.log.witness import WitnessError

    public = verifier.public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    try:
        size, diff = check_witness(reader, path, public)
    except (OSError, NoteError, WitnessError) as exc:
        print(f"anshin log verify: witness {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    entry_id = None if diff is None or diff.truncated else reader.entry_id(diff.seq)
    if as_json:  # a second JSON document after verify's own
        doc = {"witness": path, "witnessed_entries": size, "ok": diff is None}
        if diff is not None:
            doc |= {"seq": diff.seq, "id": entry_id, "reason": diff.reason}
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return EXIT_OK if diff is None else EXIT_TAMPERED
    if diff is None:
        print(f"OK  the log's first {size} entries are as witnessed in {path}")
        return EXIT_OK
    print(
        f"TAMPERED  against the witness: first changed entry: seq {diff.seq}"
        + (f" (id {entry_id})" if entry_id else "")
    )
    print(f"  {diff.reason}")
    return EXIT_TAMPERED
