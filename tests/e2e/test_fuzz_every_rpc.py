"""Generated requests to every RPC of a running server: random and
PAN-like strings, huge and empty fields, extreme times and amounts, unknown
enum values. No reply may be INTERNAL or UNKNOWN, the server must stay up,
and a rejected request must not change the store.

The RPCs are enumerated from the protobuf descriptors, so an RPC added later
is fuzzed without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import anshin.v1
from tests.e2e.conftest import ServerProcess

EXAMPLES_PER_RPC = 60
_TABLES = (
    "verdicts",
    "events",
    "judgement_sets",
    "claims",
    "ledger",
    "review_resolutions",
)
_BAD_CODES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

_INT_RANGES = {
    d.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    d.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

# Strings that mean something to Anshin, next to random text.
_MEANINGFUL = [
    "",
    " ",
    "HNB",
    "KDN",
    "DCM",
    "JPE",
    "ISA",
    "HNB-X5",
    "4111111111111111",  # a Luhn-valid PAN: must be refused, never stored
    "4111 1111 1111 1111",
    "00000000-0000-7000-8000-000000000001",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/135.0.0.0 Safari/537.36",
    "\x00",
    "名前テスト",
    "'; DROP TABLE verdicts; --",
    "%",
    "\ud7ff" * 3,
]


def _all_methods() -> list[tuple[d.ServiceDescriptor, d.MethodDescriptor]]:
    out = []
    for info in pkgutil.iter_modules(anshin.v1.__path__):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"anshin.v1.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            out.extend((service, m) for m in service.methods)
    return sorted(out, key=lambda sm: (sm[0].full_name, sm[1].name))


METHODS = _all_methods()


def _text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(_MEANINGFUL),
        st.text(max_size=40),
        st.from_regex(r"[0-9]{12,19}", fullmatch=True),
        st.integers(1, 300_000).map(lambda n: "x" * n),
    )


def _scalar(field: d.FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]
        edges = [v for v in (0, -1, 1, lo, hi) if lo <= v <= hi]
        return st.one_of(st.sampled_from(edges), st.integers(lo, hi))
    if t in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if t == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == d.FieldDescriptor.TYPE_STRING:
        return _text()
    if t == d.FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == d.FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-3, 2**31 - 1))  # unknown values too
    raise AssertionError(f"unhandled field type {t}")


def _timestamp() -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries(
        {
            "seconds": st.one_of(
                st.sampled_from([0, -62_135_596_800, 253_402_300_799, 1_744_254_000]),
                st.integers(-62_135_596_800, 253_402_300_799),
                st.integers(1_600_000_000, 1_900_000_000),
            ),
            "nanos": st.one_of(st.just(0), st.integers(0, 999_999_999)),
        }
    )


def _message(desc: d.Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    cls = message_factory.GetMessageClass(desc)
    if desc.full_name == "google.protobuf.Timestamp":
        return _timestamp().map(lambda kw: cls(**kw))
    if desc.full_name.startswith("google.protobuf.") or depth > 3:
        return st.just(cls())
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in desc.fields:
        if field.type == d.FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                key_field = field.message_type.fields_by_name["key"]
                optional[field.name] = st.dictionaries(
                    _scalar(key_field),
                    _scalar(value_field)
                    if value_field.type != d.FieldDescriptor.TYPE_MESSAGE
                    else _message(value_field.message_type, depth + 1),
                    max_size=3,
                )
                continue
            one = _message(field.message_type, depth + 1)
        else:
            one = _scalar(field)
        optional[field.name] = st.lists(one, max_size=3) if field.is_repeated else one

    def build(values: dict[str, Any]) -> Message:
        msg = cls()
        for name, value in values.items():
            field = desc.fields_by_name[name]
            if field.is_repeated:
                target = getattr(msg, name)
                if isinstance(value, dict):
                    for k, v in value.items():
                        if isinstance(v, Message):
                            target[k].CopyFrom(v)
                        else:
                            target[k] = v
                elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
                    for v in value:
                        target.add().CopyFrom(v)
                else:
                    target.extend(value)
            elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
                getattr(msg, name).CopyFrom(value)
            else:
                setattr(msg, name, value)
        return msg

    return st.fixed_dictionaries({}, optional=optional).map(build)


def _valid_bases() -> dict[str, list[Message]]:
    """Requests that pass validation, per method: mutating a few fields of one
    of these reaches the checks and the store, which random messages rarely do."""
    from datetime import UTC, datetime, timedelta

    from anshin.v1 import events_pb2, verdicts_pb2
    from tests.service.test_check_login_table import (
        WIN_CHROME,
        Case,
        chrome_hints,
        request_for,
    )
    from tests.service.test_claims_service import hnb_claim
    from tests.service.test_events_service import activation, registration

    login = request_for(
        Case(
            "pc",
            WIN_CHROME.format(v=135),
            "",
            {},
            hints=chrome_hints("135.0.7049.85", "Windows", "19.0.0"),
            at=datetime(2025, 4, 6, 3, 0, tzinfo=UTC),
        )
    )
    at = datetime(2025, 4, 1, tzinfo=UTC)
    return {
        "anshin.v1.PostureService.CheckLogin": [login],
        "anshin.v1.ClaimService.EvaluateClaim": [hnb_claim(), hnb_claim(dry_run=True)],
        "anshin.v1.EventService.ReportRegistration": [registration()],
        "anshin.v1.EventService.ReportActivation": [
            activation(
                events_pb2.SECURITY_APP_NORTON_360,
                events_pb2.ACTIVATION_ACTION_ACTIVATED,
                at + timedelta(days=1),
            )
        ],
        "anshin.v1.VerdictLogService.QueryVerdicts": [
            verdicts_pb2.QueryVerdictsRequest(customer_id="ib-contract-1", page_size=10)
        ],
    }


_BASES = _valid_bases()


def _leaf_paths(
    desc: d.Descriptor, prefix: tuple[str, ...] = (), depth: int = 0
) -> list[tuple[tuple[str, ...], d.FieldDescriptor]]:
    out: list[tuple[tuple[str, ...], d.FieldDescriptor]] = []
    for field in desc.fields:
        path = (*prefix, field.name)
        if (
            field.type == d.FieldDescriptor.TYPE_MESSAGE
            and not field.is_repeated
            and depth < 3
            and not field.message_type.full_name.startswith("google.protobuf.")
        ):
            out.extend(_leaf_paths(field.message_type, path, depth + 1))
        else:
            out.append((path, field))
    return out


def _mutated(base: Message) -> st.SearchStrategy[Message]:
    paths = _leaf_paths(base.DESCRIPTOR)

    def value_for(field: d.FieldDescriptor) -> st.SearchStrategy[Any]:
        if field.type == d.FieldDescriptor.TYPE_MESSAGE:
            one = _message(field.message_type, 2)
        else:
            one = _scalar(field)
        if field.is_repeated and not (
            field.type == d.FieldDescriptor.TYPE_MESSAGE
            and field.message_type.GetOptions().map_entry
        ):
            return st.lists(one, max_size=3)
        return one

    def apply(changes: list[tuple[tuple[tuple[str, ...], d.FieldDescriptor], Any]]) -> Message:
        msg = type(base)()
        msg.CopyFrom(base)
        for (path, field), value in changes:
            target = msg
            for name in path[:-1]:
                target = getattr(target, name)
            name = path[-1]
            if field.is_repeated:
                target.ClearField(name)
                if field.type == d.FieldDescriptor.TYPE_MESSAGE and isinstance(value, list):
                    for v in value:
                        getattr(target, name).add().CopyFrom(v)
                elif isinstance(value, list):
                    getattr(target, name).extend(value)
            elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
                getattr(target, name).CopyFrom(value)
            else:
                setattr(target, name, value)
        return msg

    change = st.sampled_from(paths).flatmap(lambda pf: st.tuples(st.just(pf), value_for(pf[1])))
    return st.lists(change, min_size=1, max_size=3).map(apply)


def _requests(method: d.MethodDescriptor) -> st.SearchStrategy[Message]:
    bases = _BASES.get(method.full_name, [])
    random_ones = _message(method.input_type)
    if not bases:
        return random_ones
    return st.one_of(random_ones, *(_mutated(b) for b in bases), *(_mutated(b) for b in bases))


def _counts(db_path: str) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        out = {}
        for table in _TABLES:
            try:
                out[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            except sqlite3.OperationalError:
                out[table] = -1  # no such table in this schema
        # Checkpoints are signed by the server's own timer about a second after
        # writes (the previous example's), so their count is not a request's
        # effect; what a rejected request must not do is move the log they sign.
        head = conn.execute("SELECT MAX(seq) FROM verdicts").fetchone()[0]
        out["log_head_seq"] = int(head or 0)
        return out
    finally:
        conn.close()


def _call(
    channel: grpc.Channel,
    service: d.ServiceDescriptor,
    method: d.MethodDescriptor,
    reqs: list[Message],
) -> grpc.StatusCode:
    path = f"/{service.full_name}/{method.name}"
    out_cls = message_factory.GetMessageClass(method.output_type)
    ser = lambda m: m.SerializeToString()  # noqa: E731
    de = out_cls.FromString
    try:
        if method.client_streaming and method.server_streaming:
            list(channel.stream_stream(path, ser, de)(iter(reqs), timeout=30))
        elif method.client_streaming:
            channel.stream_unary(path, ser, de)(iter(reqs), timeout=30)
        elif method.server_streaming:
            for _ in channel.unary_stream(path, ser, de)(reqs[0], timeout=30):
                pass
        else:
            channel.unary_unary(path, ser, de)(reqs[0], timeout=30)
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    import shutil

    from rules.load import BUILTIN_RULES_DIR
    from tests.conftest import FIXTURES
    from tests.e2e.conftest import free_port

    tmp = tmp_path_factory.mktemp("fuzz")
    rules = tmp / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, rules)
    shutil.copy(FIXTURES / "phishwall_releases.json", rules / "releases" / "phishwall.json")
    db = tmp / "fuzz.db"
    server = ServerProcess(
        f"127.0.0.1:{free_port()}", f"sqlite:///{db}", db, rules, tmp / "server.log"
    )
    server.start()
    try:
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("service", "method"), METHODS, ids=[f"{s.name}.{m.name}" for s, m in METHODS]
)
def test_generated_requests_never_break_the_server(
    fuzz_server: ServerProcess, service: d.ServiceDescriptor, method: d.MethodDescriptor
) -> None:
    requests = (
        st.lists(_requests(method), max_size=3)
        if method.client_streaming
        else _requests(method).map(lambda m: [m])
    )
    db = str(fuzz_server.db_path)
    seen: dict[str, int] = {}

    with grpc.insecure_channel(
        fuzz_server.address, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)]
    ) as channel:

        @settings(
            max_examples=EXAMPLES_PER_RPC,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(reqs=requests)
        def check(reqs: list[Message]) -> None:
            before = _counts(db)
            code = _call(channel, service, method, reqs)
            seen[code.name] = seen.get(code.name, 0) + 1
            assert code not in _BAD_CODES, (
                f"{method.full_name} answered {code.name} to {reqs!r:.2000}"
            )
            assert fuzz_server.proc is not None and fuzz_server.proc.poll() is None, "server died"
            if code is not grpc.StatusCode.OK:
                assert _counts(db) == before, (
                    f"a rejected {method.name} ({code.name}) changed the store"
                )

        check()
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    assert seen, "no request was sent"
