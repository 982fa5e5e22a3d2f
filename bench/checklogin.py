"""CheckLogin vs an empty grpc.aio handler, measured in one run.

Starts both servers as subprocesses, drives each with the same load
generator process, and prints throughput ratio and latencies, then a fixed
500 requests/s run against the real server for p99. Usage:

    .venv/bin/python bench/checklogin.py [--seconds 8] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(addr: str, timeout: float = 20) -> None:
    import grpc

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with grpc.insecure_channel(addr) as ch:
                grpc.channel_ready_future(ch).result(timeout=1)
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"server at {addr} did not come up")


def load(addr: str, *args: str) -> dict:
    out = subprocess.run(
        [PY, str(ROOT / "bench" / "loadgen.py"), addr, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start(cmd: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", default="8")
    p.add_argument("--concurrency", default="32")
    ns = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty_addr = f"127.0.0.1:{free_port()}"
        real_addr = f"127.0.0.1:{free_port()}"
        rules = Path(tmp) / "rules"
        import shutil

        shutil.copytree(ROOT / "rules" / "data", rules)
        shutil.copy(
            ROOT / "tests" / "fixtures" / "phishwall_releases.json",
            rules / "releases" / "phishwall.json",
        )
        empty = start([PY, str(ROOT / "bench" / "empty_server.py"), empty_addr])
        real = start(
            [
                PY,
                "-m",
                "server.cli",
                "serve",
                "--listen",
                real_addr,
                "--db",
                f"sqlite:///{tmp}/bench.db",
                "--rules",
                str(rules),
            ]
        )
        try:
            wait_ready(empty_addr)
            wait_ready(real_addr)
            args = ["--seconds", ns.seconds, "--concurrency", ns.concurrency]
            base = load(empty_addr, *args)
            anshin = load(real_addr, *args)
            paced = load(real_addr, "--rate", "500", "--seconds", ns.seconds)
        finally:
            for proc in (empty, real):
                proc.terminate()
                proc.wait(timeout=20)
    ratio = anshin["throughput"] / base["throughput"]
    print(
        f"empty handler : {base['throughput']:8.1f} req/s  p50 {base['p50_ms']:.2f} ms  "
        f"p99 {base['p99_ms']:.2f} ms"
    )
    print(
        f"CheckLogin    : {anshin['throughput']:8.1f} req/s  p50 {anshin['p50_ms']:.2f} ms  "
        f"p99 {anshin['p99_ms']:.2f} ms"
    )
    print(f"ratio         : {ratio:.2f} of the empty handler's throughput (target >= 0.60)")
    print(
        f"at 500 req/s  : {paced['throughput']:.1f} req/s achieved, p50 {paced['p50_ms']:.2f} ms, "
        f"p99 {paced['p99_ms']:.2f} ms (target p99 < 5 ms)"
    )


if __name__ == "__main__":
    main()
