"""Claims and events read strictly (A19c break B6, ``server/wire/strict_json.py``).

The CLI reads protobuf JSON and sends binary protobuf: the server never sees
the text, so what protobuf's JSON parser quietly accepts (an offset
``+09:60`` read as +10:00, full-width digits, ``"1e5"`` in a string) would be
recorded as written by the claimant. Each is refused here with the field
named, exit 2 for ``anshin claim`` and nothing sent; ``anshin events ingest``
rejects the line with its number (exit 5, as for every rejected line) and
sends the others. The valid forms are still accepted and sent unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from anshin.v1 import claims_pb2, claims_pb2_grpc, events_pb2, events_pb2_grpc
from server import cli
from server.cli.exit_codes import Exit
from server.wire import strict_json
from tests.e2e.conftest import ROOT

EXAMPLES = ROOT / "docs" / "examples" / "claims"
CLAIM_REQUEST = claims_pb2.EvaluateClaimRequest.DESCRIPTOR
PYTHON_NAMES = ("Traceback", "Exception", "ValueError", "ParseError")


@dataclass
class Received:
    claims: list[claims_pb2.EvaluateClaimRequest] = field(default_factory=list)
    events: list[events_pb2.EventEnvelope] = field(default_factory=list)


class _Claims(claims_pb2_grpc.ClaimServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def EvaluateClaim(self, request: Any, context: Any) -> claims_pb2.EvaluateClaimResponse:
        self.received.claims.append(request)
        return claims_pb2.EvaluateClaimResponse(decision_id="d-1", dry_run=request.dry_run)


class _Events(events_pb2_grpc.EventServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def IngestEvents(self, request_iterator: Any, context: Any) -> events_pb2.IngestEventsResponse:
        n = 0
        for batch in request_iterator:
            self.received.events.extend(batch.events)
            n += len(batch.events)
        return events_pb2.IngestEventsResponse(accepted=n)


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, Received]]:
    """A server that records what it is sent and decides nothing: what the CLI sends."""
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(2))
    claims_pb2_grpc.add_ClaimServiceServicer_to_server(_Claims(received), server)
    events_pb2_grpc.add_EventServiceServicer_to_server(_Events(received), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", received
    server.stop(None)


@pytest.fixture
def server(fake: tuple[str, Received]) -> tuple[str, Received]:
    address, received = fake
    received.claims.clear()
    received.events.clear()
    return address, received


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    for name in PYTHON_NAMES:
        assert name not in out.err, out.err
    return code, out.out, out.err


def _jpe(**changes: Any) -> dict[str, Any]:
    claim: dict[str, Any] = json.loads((EXAMPLES / "jpe.json").read_text(encoding="utf-8"))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = claim
        for p in parents:
            target = target[p]
        target[leaf] = value
    return claim


def _write(tmp_path: Path, claim: dict[str, Any] | str) -> Path:
    path = tmp_path / "claim.json"
    text = claim if isinstance(claim, str) else json.dumps(claim, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- anshin claim

BAD_CLAIMS: list[tuple[str, dict[str, Any] | str, str]] = [
    (
        "offset minute 60",
        _jpe(skimmingPhishing__fraudAt="2025-04-12T10:00:00+09:60"),
        "skimmingPhishing.fraudAt",
    ),
    (
        "offset hour 24",
        _jpe(skimmingPhishing__fraudAt="2025-04-12T10:00:00+24:00"),
        "skimmingPhishing.fraudAt",
    ),
    (
        "full-width year",
        _jpe(skimmingPhishing__fraudAt="２０２５-04-12T10:00:00+09:00"),
        "skimmingPhishing.fraudAt",
    ),
    ("full-width offset", _jpe(claimedAt="2025-04-10T12:00:00+０9:00"), "claimedAt"),
    ("full-width amount", _jpe(amounts__lossYen="１００００"), "amounts.lossYen"),
    ("exponent in a string", _jpe(amounts__lossYen="1e5"), "amounts.lossYen"),
    ("fraction in a string", _jpe(amounts__lossYen="100000.0"), "amounts.lossYen"),
    ("plus sign in a string", _jpe(amounts__lossYen="+100000"), "amounts.lossYen"),
    ("fractional number", '{"amounts": {"lossYen": 1000.5}}', "amounts.lossYen"),
    ("no offset", _jpe(claimedAt="2025-04-10T12:00:00"), "claimedAt"),
    ("space for T", _jpe(claimedAt="2025-04-10 12:00:00+09:00"), "claimedAt"),
    ("a repeated key", '{"amounts": {"lossYen": "1", "lossYen": "150000"}}', "lossYen"),
]


@pytest.mark.parametrize(
    ("claim", "field_name"),
    [(c, f) for _, c, f in BAD_CLAIMS],
    ids=[name for name, _, _ in BAD_CLAIMS],
)
def test_a_malformed_claim_is_refused_naming_the_field_and_nothing_is_sent(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    server: tuple[str, Received],
    claim: dict[str, Any] | str,
    field_name: str,
) -> None:
    address, received = server
    code, _, err = _run(capsys, "claim", str(_write(tmp_path, claim)), "--server", address)
    assert code == Exit.USAGE, err
    assert field_name in err, err
    assert "hint:" in err
    assert received.claims == []


def test_every_malformed_field_is_named_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, server: tuple[str, Received]
) -> None:
    address, received = server
    claim = _jpe(skimmingPhishing__fraudAt="2025-04-12T10:00:00+09:60", amounts__lossYen="1e5")
    code, _, err = _run(capsys, "claim", str(_write(tmp_path, claim)), "--server", address)
    assert code == Exit.USAGE
    assert "skimmingPhishing.fraudAt" in err and "amounts.lossYen" in err, err
    assert received.claims == []


def test_local_claims_are_read_as_strictly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    claim = _jpe(skimmingPhishing__fraudAt="2025-04-12T10:00:00+09:60")
    code, out, err = _run(capsys, "claim", str(_write(tmp_path, claim)), "--local", "-o", "json")
    assert code == Exit.USAGE and "skimmingPhishing.fraudAt" in err and out == ""


@pytest.mark.parametrize(
    ("fraud_at", "seconds", "nanos"),
    [
        ("2025-04-01T01:00:00Z", 1743469200, 0),
        ("2025-04-01T10:00:00+09:00", 1743469200, 0),
        ("2025-03-31T19:30:00-05:30", 1743469200, 0),
        ("2025-04-01T10:00:00.5+09:00", 1743469200, 500_000_000),
        ("2025-04-01T01:00:00.123456789Z", 1743469200, 123_456_789),
    ],
)
def test_valid_instants_are_sent_as_written(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    server: tuple[str, Received],
    fraud_at: str,
    seconds: int,
    nanos: int,
) -> None:
    address, received = server
    claim = _jpe(skimmingPhishing__fraudAt=fraud_at)
    code, _, err = _run(
        capsys, "claim", str(_write(tmp_path, claim)), "--server", address, "-o", "json"
    )
    assert code == Exit.OK, err
    (sent,) = received.claims
    at = sent.skimming_phishing.fraud_at
    assert (at.seconds, at.nanos) == (seconds, nanos)
    assert sent.amounts.loss_yen == 150000


@pytest.mark.parametrize("loss", ['"150000"', "150000", "1.5e5", "150000.000", '"0150000"'])
def test_whole_numbers_in_the_json_forms_are_read_exactly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, server: tuple[str, Received], loss: str
) -> None:
    """A JSON number may use an exponent or a zero fraction (the proto3 JSON
    mapping allows it for numbers) and is read exactly; a string is decimal."""
    address, received = server
    text = json.dumps(_jpe(amounts__lossYen="@")).replace('"@"', loss)
    code, _, err = _run(capsys, "claim", str(_write(tmp_path, text)), "--server", address)
    assert code == Exit.OK, err
    assert received.claims[0].amounts.loss_yen == 150000


def test_a_large_exponent_is_exact_or_refused() -> None:
    # 2**53 + 1 written with an exponent: a float would make it ...992.
    doc = strict_json.load('{"amounts": {"lossYen": 9007199254740993e0}}', CLAIM_REQUEST)
    assert doc["amounts"]["lossYen"] == 9007199254740993
    with pytest.raises(strict_json.StrictJsonError, match=r"amounts\.lossYen: .*out of range"):
        strict_json.load('{"amounts": {"lossYen": 1e999999999}}', CLAIM_REQUEST)


# --------------------------------------------------------------------------- the module


def _problems(text: str, descriptor: Any = CLAIM_REQUEST) -> list[tuple[str, str]]:
    try:
        strict_json.load(text, descriptor)
    except strict_json.StrictJsonError as exc:
        return [(p.field, p.description) for p in exc.problems]
    return []


def test_paths_are_proto_json_names_with_list_indices() -> None:
    envelopes = events_pb2.IngestEventsRequest.DESCRIPTOR
    text = json.dumps(
        {"events": [{}, {"enrolment": {"header": {"event_time": "2025-01-15T10:00:00+09:60"}}}]}
    )
    ((where, why),) = _problems(text, envelopes)
    assert where == "events[1].enrolment.header.eventTime"
    assert "+09:60 out of range" in why


def test_enum_strings_are_names_or_ascii_numbers() -> None:
    envelopes = events_pb2.EventEnvelope.DESCRIPTOR
    ok = '{"enrolment": {"action": "ENROLMENT_ACTION_JOINED"}}'
    assert _problems(ok, envelopes) == []
    ((where, _),) = _problems('{"enrolment": {"action": "１"}}', envelopes)
    assert where == "enrolment.action"


def test_documents_that_are_not_json_objects() -> None:
    assert _problems("{bad")[0][1].startswith("Failed to load JSON: ")
    assert _problems("[1]") == [("", "expected a JSON object, got list")]
    assert _problems('{"amounts": {"lossYen": NaN}}')[0][1].startswith("Failed to load JSON")


def test_every_example_claim_and_event_line_is_accepted() -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        assert _problems(path.read_text(encoding="utf-8")) == [], path
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                assert _problems(line, events_pb2.EventEnvelope.DESCRIPTOR) == [], (path, line)


# --------------------------------------------------------------------------- events ingest


def _enrolment(customer: str, event_time: str, starts_at: str) -> dict[str, Any]:
    return {
        "enrolment": {
            "header": {
                "clientEventId": "cbe7bbf4-b0ad-4662-aba3-4e3922b74786",
                "eventTime": event_time,
                "customerId": customer,
            },
            "policyId": "JPE",
            "action": "ENROLMENT_ACTION_JOINED",
            "startsAt": starts_at,
        }
    }


GOOD = "2025-01-15T10:00:00+09:00"
LINES: list[tuple[str, Callable[[], dict[str, Any]], str | None]] = [
    ("ok-z", lambda: _enrolment("c-1", "2025-01-15T01:00:00Z", GOOD), None),
    ("minute-60", lambda: _enrolment("c-2", "2025-01-15T10:00:00+09:60", GOOD), "eventTime"),
    ("full-width", lambda: _enrolment("c-3", GOOD, "２０２５-01-15T10:00:00+09:00"), "startsAt"),
    ("ok-fraction", lambda: _enrolment("c-4", GOOD, "2025-01-15T10:00:00.25-05:30"), None),
]


def test_ingest_rejects_each_malformed_line_by_number_and_sends_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, server: tuple[str, Received]
) -> None:
    address, received = server
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(json.dumps(make(), ensure_ascii=False) for _, make, _ in LINES) + "\n",
        encoding="utf-8",
    )
    code, out, err = _run(
        capsys, "events", "ingest", str(path), "--server", address, "--quiet", "-o", "json"
    )
    assert code == Exit.FAILED, err  # rejected input lines (exit_codes, README)
    doc = json.loads(out)
    assert doc["accepted"] == 2
    rejected = {r["line"]: r for r in doc["rejected"]}
    assert sorted(rejected) == [2, 3]
    assert rejected[2]["code"] == rejected[3]["code"] == "INVALID_JSON"
    assert "enrolment.header.eventTime" in rejected[2]["message"]
    assert "+09:60" in rejected[2]["message"]
    assert "enrolment.startsAt" in rejected[3]["message"]
    assert [e.enrolment.header.customer_id for e in received.events] == ["c-1", "c-4"]
    assert received.events[1].enrolment.starts_at.nanos == 250_000_000


def test_ingest_of_a_clean_file_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, server: tuple[str, Received]
) -> None:
    address, received = server
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(_enrolment("c-1", GOOD, GOOD)) + "\n", encoding="utf-8")
    code, out, err = _run(capsys, "events", "ingest", str(path), "--server", address, "--quiet")
    assert code == Exit.OK, err
    assert "1 accepted" in out and len(received.events) == 1
