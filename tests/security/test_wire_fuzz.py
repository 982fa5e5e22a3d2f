"""Hostile bytes against a real server, for every RPC of every service
(enumerated from the descriptors, so a new RPC is covered without a change
here), on both backends.

- A card number in every field, map key and metadata value of every RPC, in
  every format the guard promises to see, is refused and found nowhere
  afterwards: not in the database, not in the log output, not in any error
  message or trailer (issue 18, "Done when").
- Malformed bytes on every RPC are INVALID_ARGUMENT, with one access-log
  line, counted in the metrics, no traceback.
- 10,000 bad values give a readable INVALID_ARGUMENT to a default client.
- A time-bounded fuzzer (raw bytes, mutated messages, hostile Unicode, card
  numbers, huge repeated fields; seed printed on failure) never gets
  INTERNAL or UNKNOWN, stores nothing for a refused call, and leaves no card
  number anywhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import REGISTRY

from server.store.url import sqlite_path
from server.wire.card_guard import TOO_MANY_DIGITS
from tests.conftest import RunningServer, db_rows
from tests.security.hostile import (
    FORMATS,
    HOSTILE_TEXT,
    PANS,
    fill,
    has_text_field,
    leaked,
    mutate,
)
from tests.security.rpcs import ALL_RPCS, Rpc

# Metadata text values must be printable ASCII: the formats that fit.
_ASCII_FORMATS = [
    n for n, f in FORMATS.items() if f(PANS[0]).isascii() and f(PANS[0]).isprintable()
]
_METADATA_KEY = re.compile(r"[0-9a-z_.-]+")
_BAD_CODES = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
SEED = int(os.environ.get("ANSHIN_FUZZ_SEED", "20261207"))
FUZZ_SECONDS = float(os.environ.get("ANSHIN_FUZZ_SECONDS", "8"))  # per backend


def _message(rpc: Rpc) -> Any:
    return message_factory.GetMessageClass(rpc.method.input_type)()


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str
    trailers: list[tuple[str, str | bytes]]
    replies: list[bytes] = field(default_factory=list)

    def text(self) -> str:
        """Everything the caller was told, as text."""
        parts = [self.details]
        for key, value in self.trailers:
            parts.append(key)
            parts.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    bad = error_details_pb2.BadRequest()
                    if detail.Unpack(bad):
                        for v in bad.field_violations:
                            parts += [v.field, v.description]
        parts += [r.decode("utf-8", "replace") for r in self.replies]
        return "\n".join(parts)

    def violations(self) -> list[str]:
        for key, value in self.trailers:
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                bad = error_details_pb2.BadRequest()
                for detail in status_pb2.Status.FromString(value).details:
                    if detail.Unpack(bad):
                        return [v.field for v in bad.field_violations]
        return []


def _identity(b: bytes) -> bytes:
    return b


async def call(
    channel: grpc.aio.Channel,
    rpc: Rpc,
    payload: bytes | Sequence[bytes],
    metadata: Sequence[tuple[str, str | bytes]] = (),
    timeout: float = 20,
) -> Outcome:
    """:func:`_call`, once more when grpc's client reported a failure of its
    own (a stream the server ended while the client was still writing, seen
    rarely under load): the server's answer is what is under test."""
    got = await _call(channel, rpc, payload, metadata, timeout)
    if got.code == grpc.StatusCode.INTERNAL and got.details == "Internal error from Core":
        got = await _call(channel, rpc, payload, metadata, timeout)
    return got


async def _call(
    channel: grpc.aio.Channel,
    rpc: Rpc,
    payload: bytes | Sequence[bytes],
    metadata: Sequence[tuple[str, str | bytes]] = (),
    timeout: float = 20,
) -> Outcome:
    """One call with raw request bytes (a sequence: a client stream); a
    server stream is read for its first reply, then cancelled (Watch never
    ends by itself)."""
    m = rpc.method
    messages = [payload] if isinstance(payload, bytes) else list(payload)
    kw: dict[str, Any] = {"metadata": tuple(metadata), "timeout": timeout}
    replies: list[bytes] = []
    handle: Any
    try:
        if not m.client_streaming and not m.server_streaming:
            handle = channel.unary_unary(rpc.path, _identity, _identity)(messages[0], **kw)
            replies.append(await handle)
        elif not m.client_streaming:
            handle = channel.unary_stream(rpc.path, _identity, _identity)(messages[0], **kw)
            async for reply in handle:
                replies.append(reply)
                handle.cancel()
                break
        elif not m.server_streaming:
            handle = channel.stream_unary(rpc.path, _identity, _identity)(iter(messages), **kw)
            replies.append(await handle)
        else:
            handle = channel.stream_stream(rpc.path, _identity, _identity)(iter(messages), **kw)
            async for reply in handle:
                replies.append(reply)
                handle.cancel()
                break
        code = await handle.code()
        return Outcome(
            code,
            await handle.details() or "",
            list(await handle.trailing_metadata() or ()),
            replies,
        )
    except grpc.aio.AioRpcError as exc:
        return Outcome(
            exc.code(), exc.details() or "", list(exc.trailing_metadata() or ()), replies
        )
    except asyncio.CancelledError:  # pragma: no cover - grpc.aio raises this on cancel
        return Outcome(grpc.StatusCode.CANCELLED, "", [], replies)


def dump(db_url: str) -> str:
    """Every row of every table as text (blobs decoded as UTF-8), plus
    SQLite's own ``iterdump``."""
    if db_url.startswith("sqlite:"):
        tables = [
            r[0] for r in db_rows(db_url, "SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        with sqlite3.connect(sqlite_path(db_url)) as conn:
            head = "\n".join(conn.iterdump())
    else:
        tables = [
            r[0]
            for r in db_rows(
                db_url,
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()",
            )
        ]
        head = ""
    lines = [head]
    for table in sorted(tables):
        for row in db_rows(db_url, f'SELECT * FROM "{table}"'):
            lines.append(
                table
                + ": "
                + " | ".join(
                    bytes(v).decode("utf-8", "replace")
                    if isinstance(v, bytes | memoryview)
                    else str(v)
                    for v in row
                )
            )
    return "\n".join(lines)


def _count(path: str, code: str) -> float:
    service, _, method = path.lstrip("/").rpartition("/")
    labels = {"grpc_service": service, "grpc_method": method, "grpc_code": code}
    return sum(
        REGISTRY.get_sample_value("grpc_server_handled_total", {**labels, "grpc_type": kind}) or 0.0
        for kind in ("unary", "server_stream", "client_stream", "bidi_stream")
    )


def _says(line: str, key: str, value: str) -> bool:
    """Whether a log line (JSON, or structlog's console form when logging was
    not configured) has ``key`` = ``value``."""
    try:
        return bool(json.loads(line).get(key) == value)
    except ValueError:
        return f"{key}={value}" in line or f"{key}='{value}'" in line or f" {value} " in line


# --------------------------------------------------------------------------- Done when


def _card_cases() -> list[tuple[str, str]]:
    """(format, written): the first PAN in every format, the others printed plainly."""
    cases = [(name, fmt(PANS[0])) for name, fmt in FORMATS.items()]
    cases += [("spaces", FORMATS["spaces"](p)) for p in PANS[1:]]
    return cases


async def test_a_card_number_anywhere_is_refused_and_kept_nowhere(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dump(server.db_url)
    told: list[str] = []
    for rpc in ALL_RPCS:
        empty = _message(rpc).SerializeToString()
        for name, written in _card_cases():
            where = f"{rpc.path} {name}"
            if has_text_field(rpc.method.input_type):
                filled = fill(_message(rpc), written).SerializeToString()
                got = await call(server.channel, rpc, filled)
                told.append(got.text())
                if rpc.method.client_streaming and rpc.path.endswith("/IngestEvents"):
                    # Undecoded stream messages: each event is screened in the
                    # bulk worker and rejected alone; the stream itself is fine.
                    assert got.code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT), where
                else:
                    assert got.code == grpc.StatusCode.INVALID_ARGUMENT, (
                        where,
                        got.code,
                        got.details,
                    )
                    assert got.violations(), where
            metadata: list[tuple[str, str | bytes]] = [("x-card-bin", written.encode())]
            if name in _ASCII_FORMATS:
                metadata += [("x-request-id", written), ("x-card", written)]
            key_holds = _METADATA_KEY.fullmatch(written) is not None
            if key_holds:  # a valid metadata key can hold one too
                metadata.append((written, "v"))
            got = await call(server.channel, rpc, empty, metadata)
            told.append(got.text())
            assert got.code == grpc.StatusCode.INVALID_ARGUMENT, (where, got.code, got.details)
            expected = {"metadata[x-card-bin]"}
            if name in _ASCII_FORMATS:
                expected |= {"metadata[x-request-id]", "metadata[x-card]"}
            assert expected <= set(got.violations()), (where, got.violations())
            if key_holds:  # named by its position among what the server received
                assert any(f.startswith("metadata[<key ") for f in got.violations()), where
    # A map key holding a number is named by position (never itself).
    assert any("[<key " in t for t in told)
    assert [t for t in told if leaked(t)] == []
    captured = capsys.readouterr()
    assert [line for line in (captured.out + captured.err).splitlines() if leaked(line)] == []
    after = dump(server.db_url)
    assert [line for line in after.splitlines() if leaked(line)] == []
    assert after == before  # nothing stored for a refused call


# --------------------------------------------------------------------------- malformed


_MALFORMED = [
    b"\xff",
    b"\x80",
    b"\x0a\x05ab",
    b"\x0f",
    b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
]


def _bad_utf8(rpc: Rpc) -> bytes | None:
    """A string field of ``rpc``'s request holding invalid UTF-8, if it has one."""
    for f in rpc.method.input_type.fields:
        if f.type == f.TYPE_STRING and not f.is_repeated:
            return bytes([(f.number << 3) | 2, 2, 0xC3, 0x28])
    return None


async def test_malformed_bytes_on_every_rpc_are_invalid_argument(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dump(server.db_url)
    capsys.readouterr()
    for rpc in ALL_RPCS:
        if rpc.path.endswith("/IngestEvents"):
            continue  # undecoded: its workers parse (tests/faults/test_bulk_pool.py)
        samples = list(_MALFORMED)
        bad_utf8 = _bad_utf8(rpc)
        if bad_utf8 is not None:
            samples.append(bad_utf8)
        for i, sample in enumerate(samples):
            counted = _count(rpc.path, "INVALID_ARGUMENT")
            got = await call(server.channel, rpc, sample, [("x-request-id", f"malformed-{i}")])
            assert got.code == grpc.StatusCode.INVALID_ARGUMENT, (
                rpc.path,
                sample,
                got.code,
                got.details,
            )
            assert "Error" not in got.details and "Traceback" not in got.details, got.details
            assert got.violations(), (rpc.path, sample)
            assert _count(rpc.path, "INVALID_ARGUMENT") == counted + 1, rpc.path
            out = capsys.readouterr().out
            lines = [line for line in out.splitlines() if f"malformed-{i}" in line]
            assert len(lines) == 1, (rpc.path, out[-2000:])  # one access-log line
            assert _says(lines[0], "event", "rpc") and _says(lines[0], "method", rpc.path)
            assert _says(lines[0], "code", "INVALID_ARGUMENT")
            assert "exception" not in lines[0] and "Traceback" not in out
    assert "Traceback" not in capsys.readouterr().err
    assert dump(server.db_url) == before


async def test_ingest_events_refuses_wrong_wire_types_like_every_rpc(server: RunningServer) -> None:
    # Issue 18: the bulk workers decoded with FromString, which keeps a known
    # field of the wrong wire type as an unknown field: OK, "accepted 0".
    (rpc,) = [r for r in ALL_RPCS if r.path.endswith("/IngestEvents")]
    before = dump(server.db_url)
    # events (1) → registration (1) → header (1) → customer_id (3), sent as a varint.
    nested = b"\x0a\x06\x0a\x04\x0a\x02\x18\x05"
    for sample, named in (
        (b"\x08\x01", "events"),
        (b"\x0d\x01\x02\x03\x04", "events"),
        (b"\x0b\x0c", "events"),
        (nested, "events.registration.header.customer_id"),
    ):
        got = await call(server.channel, rpc, sample, [("x-request-id", "wire-type")])
        assert got.code == grpc.StatusCode.INVALID_ARGUMENT, (sample, got.code, got.details)
        assert got.violations() == [named], (sample, got.violations())
    assert dump(server.db_url) == before


# --------------------------------------------------------------------------- bounded errors


async def test_ten_thousand_bad_values_are_a_readable_invalid_argument(
    server: RunningServer,
) -> None:
    claim = next(r for r in ALL_RPCS if r.path.endswith("/EvaluateClaim"))
    # 1,000 card numbers (19,000 digits: within the digit budget) are each a
    # violation; 10,000 (190,000 digits) are refused unread by the budget.
    for count in (1_000, 10_000):
        req = _message(claim)
        req.claim_id = "0b6f1f0e-6c43-4a52-9d2c-3c0f5a3f8e10"
        req.skimming_phishing.negligence.extend(f"4111 1111 1111 1111 #{i}" for i in range(count))
        # The server channel is a default client: default metadata limits.
        got = await call(server.channel, claim, req.SerializeToString())
        assert got.code == grpc.StatusCode.INVALID_ARGUMENT, (got.code, got.details[:200])
        size = len(got.details) + sum(len(k) + len(v) for k, v in got.trailers)
        assert size < 8192
        assert leaked(got.text()) == []
        fields = got.violations()
        if count == 10_000:
            assert fields == ["skimming_phishing.negligence"]
            assert TOO_MANY_DIGITS in got.details
            continue
        listed = got.details.count("skimming_phishing.negligence[")
        assert 1 <= listed <= 5
        assert got.details.endswith(f"; and {count - listed} more")
        assert len(fields) == 21  # 20 shown, then how many more
        assert fields[:2] == ["skimming_phishing.negligence[0]", "skimming_phishing.negligence[1]"]
        assert fields[-1] == ""


# --------------------------------------------------------------------------- fuzzer


def _generated(rpc: Rpc, rng: random.Random) -> tuple[str, bytes | list[bytes], bool]:
    """(kind, request bytes, whether it must be refused)."""
    kind = rng.choice(("raw", "mutated", "hostile", "card", "huge"))
    msg = _message(rpc)
    if kind == "raw":
        return kind, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 48))), False
    if kind == "card":
        pan = rng.choice(PANS)
        written = FORMATS[rng.choice(sorted(FORMATS))](pan)
        must = has_text_field(rpc.method.input_type) and not rpc.path.endswith("/IngestEvents")
        return kind, fill(msg, written).SerializeToString(), must
    if kind == "huge":
        return (
            kind,
            fill(
                msg, rng.choice(HOSTILE_TEXT[:12]), repeat=rng.choice((50, 400))
            ).SerializeToString(),
            False,
        )
    data = fill(
        msg, rng.choice(HOSTILE_TEXT), number=rng.choice((0, 1, -1, 2**31 - 1))
    ).SerializeToString()
    if kind == "mutated":
        for _ in range(rng.randrange(1, 4)):
            data = mutate(data, rng)
    return kind, data, False


async def test_wire_fuzzer(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    deadline = time.monotonic() + FUZZ_SECONDS
    answered: dict[str, grpc.StatusCode] = {}
    told: list[str] = []
    n = 0
    try:
        while time.monotonic() < deadline:
            rpc = ALL_RPCS[n % len(ALL_RPCS)]
            kind, payload, must_refuse = _generated(rpc, rng)
            rid = f"fuzz-{n:06d}"
            got = await call(server.channel, rpc, payload, [("x-request-id", rid)], timeout=10)
            # Served: answered OK, or a stream cancelled by this client after
            # its first reply (a query is recorded when it is served).
            answered[rid] = grpc.StatusCode.OK if got.replies else got.code
            told.append(got.text())
            assert got.code not in _BAD_CODES, (rpc.path, kind, payload[:200], got.details)
            if must_refuse:
                assert got.code == grpc.StatusCode.INVALID_ARGUMENT, (rpc.path, kind, got.code)
            n += 1
        assert n >= len(ALL_RPCS)  # every RPC at least once
        assert leaked("\n".join(told)) == []
        captured = capsys.readouterr()
        assert leaked(captured.out + captured.err) == []
        assert "Traceback" not in captured.out + captured.err
        after = dump(server.db_url)
        assert leaked(after) == []
        # Whatever was stored came from a call that was answered OK.
        stored_by = {rid for rid in answered if rid in after}
        assert stored_by  # served calls were recorded: the check below is not vacuous
        assert all(answered[rid] == grpc.StatusCode.OK for rid in stored_by), sorted(
            (rid, answered[rid].name) for rid in stored_by if answered[rid] != grpc.StatusCode.OK
        )
    except AssertionError:
        print(f"wire fuzzer: seed {SEED} (ANSHIN_FUZZ_SEED), {n} calls")
        raise
