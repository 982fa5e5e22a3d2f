"""The witness: appends checkpoints only after checking them against what it
holds; a rewritten or truncated log is refused, and the first changed entry
is named."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from server.cli.log_proofs import CliError, FileWitness, UrlWitness, check_witness, witness_once
from server.log import witness
from server.log.witness import WitnessError
from tests.log.fakelog import ORIGIN, FakeLog, claim_values


def _log(n: int, every: int = 5) -> FakeLog:
    log = FakeLog()
    for i in range(1, n + 1):
        log.append(claim_values(i, "REVIEW" if i == 3 else "APPROVE"))
        if i % every == 0:
            log.checkpoint()
    return log


def _grow(log: FakeLog, n: int) -> None:
    start = len(log.rows)
    for i in range(start + 1, start + n + 1):
        log.append(claim_values(i))
    log.checkpoint()


def test_witness_appends_each_new_checkpoint_once(tmp_path: Path) -> None:
    log = _log(12)
    sink = FileWitness(tmp_path / "w.jsonl")
    added, state = witness_once(log, sink, log.public_raw)
    assert (added, state.size) == (2, 10)
    lines = sink.lines()
    assert [len(orjson.loads(line)["note"].split("\n")[1]) for line in lines] == [1, 2]
    assert witness_once(log, sink, log.public_raw)[0] == 0  # nothing new
    _grow(log, 7)
    added, state = witness_once(log, sink, log.public_raw)
    assert (added, state.size) == (1, 19)
    assert len(sink.lines()) == 3
    # The file checks out on its own: every note signed, leaves fold to roots.
    held = witness.load(sink.lines(), ORIGIN, log.public_raw)
    assert held.size == 19 and len(held.leaves) == 19
    assert check_witness(log, str(tmp_path / "w.jsonl"), log.public_raw) == (19, None)


def test_a_rewritten_early_entry_is_refused_and_named(tmp_path: Path) -> None:
    log = _log(20)
    path = tmp_path / "w.jsonl"
    sink = FileWitness(path)
    witness_once(log, sink, log.public_raw)
    before = path.read_text()
    # The attacker turns the REVIEW at seq 3 into an APPROVE and re-hashes
    # the chain; without the key, the stored checkpoints stay as signed.
    log.rewrite(3, "outcome", "APPROVE")
    with pytest.raises(WitnessError, match="rewritten"):
        witness_once(log, sink, log.public_raw)
    assert path.read_text() == before  # nothing appended
    size, diff = check_witness(log, str(path), log.public_raw)
    assert size == 20 and diff is not None
    assert diff.seq == 3 and not diff.truncated
    assert "changed after it was witnessed" in diff.reason


def test_a_rewrite_with_a_forged_new_checkpoint_is_refused(tmp_path: Path) -> None:
    """Even a checkpoint validly signed over the rewritten log (a stolen key,
    or a server that signed it) is refused: it does not extend the witnessed tree."""
    log = _log(10)
    sink = FileWitness(tmp_path / "w.jsonl")
    witness_once(log, sink, log.public_raw)
    log.rewrite(4, "outcome", "DENY")
    _grow(log, 3)
    # Skip the whole-tree check to reach the consistency check itself.
    state = witness.load(sink.lines(), ORIGIN, log.public_raw)
    new = log.cps[-1]
    leaves = [bytes.fromhex(r[-1]) for r in log.rows[10:]]
    from server.usecases.prove_entry import consistency_sync

    with pytest.raises(WitnessError, match="not consistent"):
        witness.extend(
            state,
            new.note,
            leaves,
            ORIGIN,
            log.public_raw,
            consistency=consistency_sync(log, 10, 13),  # type: ignore[arg-type]
        )
    # Without a proof, the entry hashes alone catch it too.
    with pytest.raises(WitnessError, match="do not extend"):
        witness.extend(state, new.note, leaves, ORIGIN, log.public_raw)
    assert state.size == 10


def test_truncation_is_refused_and_named(tmp_path: Path) -> None:
    log = _log(15)
    path = tmp_path / "w.jsonl"
    sink = FileWitness(path)
    witness_once(log, sink, log.public_raw)
    log.truncate(11)
    with pytest.raises(WitnessError, match="truncated"):
        witness_once(log, sink, log.public_raw)
    _, diff = check_witness(log, str(path), log.public_raw)
    assert diff is not None and diff.truncated and diff.seq == 12
    assert "ends at entry 11" in diff.reason


def test_an_edited_witness_file_is_refused(tmp_path: Path) -> None:
    log = _log(10)
    path = tmp_path / "w.jsonl"
    witness_once(log, FileWitness(path), log.public_raw)
    lines = path.read_text().splitlines()
    doc = orjson.loads(lines[0])
    first = doc["leaves"][0]
    doc["leaves"] = ("B" if first == "A" else "A") + doc["leaves"][1:]
    path.write_text(orjson.dumps(doc).decode() + "\n" + lines[1] + "\n")
    with pytest.raises(WitnessError, match=r"line 1: the entries 1\.\.5 do not extend"):
        witness.load(path.read_text().splitlines(), ORIGIN, log.public_raw)
    # Lines out of order: sizes must grow.
    path.write_text(lines[1] + "\n" + lines[0] + "\n")
    with pytest.raises(WitnessError, match="line 1"):
        witness.load(path.read_text().splitlines(), ORIGIN, log.public_raw)


def test_a_checkpoint_of_another_key_is_refused(tmp_path: Path) -> None:
    log = _log(10)
    state = witness.WitnessState()
    other = FakeLog()
    with pytest.raises(WitnessError, match="not signed"):
        witness.extend(state, log.cps[0].note, [bytes(32)] * 5, ORIGIN, other.public_raw)


def test_first_difference_edges() -> None:
    log = _log(10)
    state = witness.WitnessState()
    leaves = [bytes.fromhex(r[-1]) for r in log.rows]
    witness.extend(state, log.cps[1].note, leaves, ORIGIN, log.public_raw)
    hashes = list(enumerate(leaves, 1))
    assert witness.first_difference(state, hashes) is None
    assert witness.first_difference(state, [*hashes, (11, bytes(32))]) is None  # grew: fine
    gap = witness.first_difference(state, hashes[:4] + hashes[5:])
    assert gap is not None and gap.seq == 5 and "missing" in gap.reason
    changed = witness.first_difference(state, [*hashes[:9], (10, bytes(32))])
    assert changed is not None and changed.seq == 10


# -- over HTTP ------------------------------------------------------------------------


class _Witness(http.server.BaseHTTPRequestHandler):
    held: list[bytes] = []

    def do_GET(self) -> None:
        if not self.held:
            self.send_error(404)
            return
        body = b"".join(self.held)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.held.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_witness() -> Iterator[str]:
    _Witness.held = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/witness"
    finally:
        server.shutdown()
        server.server_close()


def test_witness_over_http(http_witness: str) -> None:
    log = _log(12)
    sink = UrlWitness(http_witness)
    assert witness_once(log, sink, log.public_raw)[0] == 2
    assert len(_Witness.held) == 2
    _grow(log, 4)
    assert witness_once(log, sink, log.public_raw)[0] == 1
    log.rewrite(2, "customer_id", "C-other")
    with pytest.raises(WitnessError, match="rewritten"):
        witness_once(log, sink, log.public_raw)
    assert len(_Witness.held) == 3


@pytest.mark.parametrize(
    "url",
    ["http://example.com/w", "http://10.0.0.1/w", "ftp://127.0.0.1/w", "file:///tmp/w"],
)
def test_plaintext_only_to_loopback(url: str) -> None:
    with pytest.raises(CliError):
        UrlWitness(url)


def test_loopback_and_https_are_accepted() -> None:
    for url in (
        "http://127.0.0.1:9/w",
        "http://[::1]:9/w",
        "http://localhost/w",
        "https://w.example/",
    ):
        UrlWitness(url)
