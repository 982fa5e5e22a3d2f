"""What the benchmark scripts share: a free port, and a real `anshin serve`
on a throw-away SQLite database, started and stopped around a measurement."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRPC_LOAD_SRC = ROOT / "bench" / "grpc_load.cc"
GRPC_LOAD_BIN = ROOT / "var" / "bench" / "grpc_load"
GRPC_APT = "apt-get install -y libgrpc++-dev protobuf-compiler-grpc pkg-config"


def bench_rules(tmp: Path) -> Path:
    """The built-in rules, copied under ``tmp`` with the test fixture's
    Phishwall release history (the shipped rules have none: it is imported
    by the operator), so every check of a benchmark login is judged."""
    rules = tmp / "rules"
    shutil.copytree(ROOT / "rules" / "data", rules)
    shutil.copy(
        ROOT / "tests" / "fixtures" / "phishwall_releases.json",
        rules / "releases" / "phishwall.json",
    )
    return rules


def create_database(url: str, env: dict[str, str] | None = None) -> None:
    """`anshin db migrate --create`: `serve` never creates a database itself."""
    subprocess.run(
        [sys.executable, "-m", "server.cli", "db", "migrate", "--create", "--db", url],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(addr: str, timeout: float = 30) -> None:
    """Until the standard health service answers SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with grpc.insecure_channel(addr) as ch:
                r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {addr} did not come up")


@dataclass(frozen=True)
class Served:
    address: str
    db: Path
    pid: int  # the serving process (its workers are its children)


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its children
    that run now, from /proc: on a machine other work shares, a server's CPU per
    call moves far less from run to run than its latency does."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(p: int) -> list[str] | None:
        try:
            text = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            return None
        return text[text.rindex(")") + 2 :].split()  # fields after "(comm)", from state

    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat(int(entry.name))
        # fields[1] is ppid, fields[11] utime, fields[12] stime (man 5 proc, from field 3)
        if fields is not None and (int(entry.name) == pid or int(fields[1]) == pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


@contextmanager
def anshin_server(name: str, *extra: str, settle: float = 0.0) -> Iterator[Served]:
    """`anshin serve` on a fresh database; ``extra`` are more serve flags."""
    with tempfile.TemporaryDirectory() as tmp:
        addr = f"127.0.0.1:{free_port()}"
        db = Path(tmp) / f"{name}.db"
        log = (Path(tmp) / f"{name}.log").open("wb")
        create_database(f"sqlite:///{db}")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--listen",
                addr,
                "--db",
                f"sqlite:///{db}",
                *extra,
            ],
            cwd=ROOT,
            # As in production: info level, one access line per call, to a file.
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANSHIN_PHONE_KEY_FILE": str(Path(tmp) / "k")},
        )
        try:
            wait_serving(addr)
            time.sleep(settle)  # with --workers N, let every worker bind
            yield Served(addr, db, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


@contextmanager
def empty_server(processes: int = 1, settle: float = 0.0) -> Iterator[str]:
    """bench/empty_server.py (handlers that do nothing) on N processes; its address."""
    addr = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "empty_server.py"),
            addr,
            "--processes",
            str(processes),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_connectable(addr)
        time.sleep(settle)  # with several processes, let every one bind
        yield addr
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_connectable(addr: str, timeout: float = 30) -> None:
    """Until a gRPC channel to ``addr`` connects (servers without health checking)."""
    import grpc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with grpc.insecure_channel(addr) as ch:
            try:
                grpc.channel_ready_future(ch).result(timeout=1)
                return
            except grpc.FutureTimeoutError:
                pass
    raise RuntimeError(f"server at {addr} did not come up")


def build_grpc_load() -> Path:
    """``var/bench/grpc_load``, compiled from ``bench/grpc_load.cc`` when it is
    missing or older than its source (needs g++ and Debian's gRPC C++)."""
    if GRPC_LOAD_BIN.exists() and GRPC_LOAD_BIN.stat().st_mtime >= GRPC_LOAD_SRC.stat().st_mtime:
        return GRPC_LOAD_BIN
    for tool in ("g++", "pkg-config"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"building bench/grpc_load.cc needs {tool}: {GRPC_APT} (and g++)")
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "grpc++", "protobuf"],
        capture_output=True,
        text=True,
    )
    if flags.returncode != 0:
        raise RuntimeError(
            f"gRPC C++ development files not found ({flags.stderr.strip()}); install them "
            f"with: {GRPC_APT}"
        )
    GRPC_LOAD_BIN.parent.mkdir(parents=True, exist_ok=True)
    tmp = GRPC_LOAD_BIN.with_name(f"{GRPC_LOAD_BIN.name}.{os.getpid()}.tmp")
    cmd = ["g++", "-O2", "-std=c++17", "-pthread", str(GRPC_LOAD_SRC), "-o", str(tmp)]
    out = subprocess.run([*cmd, *flags.stdout.split()], capture_output=True, text=True)
    if out.returncode != 0:
        tmp.unlink(missing_ok=True)
        hint = f"; the gRPC C++ headers look missing: {GRPC_APT}" if "grpcpp" in out.stderr else ""
        raise RuntimeError(f"compiling {GRPC_LOAD_SRC} failed{hint}:\n{out.stderr[-4000:]}")
    tmp.replace(GRPC_LOAD_BIN)  # atomic: a concurrent build never runs half a binary
    return GRPC_LOAD_BIN


def write_records(path: Path, records: Iterable[tuple[str, bytes]]) -> int:
    """The input of ``grpc_load``: pre-serialized requests, each naming its method.

    Format: ``GLD1``, u16 number of methods, each method as u16 length + path,
    then records of u16 method index + u32 length + message (big-endian).
    Returns the number of records.
    """
    methods: dict[str, int] = {}
    body = bytearray()
    n = 0
    for method, message in records:
        index = methods.setdefault(method, len(methods))
        body += struct.pack(">HI", index, len(message))
        body += message
        n += 1
    head = bytearray(b"GLD1" + struct.pack(">H", len(methods)))
    for method in methods:  # insertion order = index order
        raw = method.encode()
        head += struct.pack(">H", len(raw)) + raw
    path.write_bytes(bytes(head + body))
    return n


def run_grpc_load(target: str, records: Path, *args: str) -> dict:
    """Run ``grpc_load`` to completion; its JSON report (``args``: its flags)."""
    import json

    binary = build_grpc_load()
    out = subprocess.run(
        [str(binary), "--target", target, "--input", str(records), *args],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"grpc_load exited with {out.returncode}: {out.stderr.strip()}")
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result
