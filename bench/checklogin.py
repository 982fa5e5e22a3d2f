"""CheckLogin vs an empty grpc.aio handler, measured in one run.

Starts both servers as subprocesses and drives each with the same load
generator (``bench/loadgen.py``, separate processes, same requests, same
proto), alternating empty / real for ``--rounds`` rounds so that whatever
else the machine is doing affects both alike; prints the median throughput
of each, their ratio, latencies and the CPU each process used while
measured. Then a fixed 500 requests/s run against the real server for p99.

Fairness set-up (see docs/benchmarks.md):

* With ``--pin`` (the default when there are >= 2 CPUs) each server process
  runs on CPU 0 alone and the load generators on the other CPUs, so the
  client never competes with the server for a core. The report shows each
  process's CPU use: the server at ~1.0 core and the client below 1.0 core
  per process means the server is the bottleneck, as it must be for the
  ratio to mean anything. A warning is printed otherwise.
* ``--loadgens N`` splits the concurrency over N load-generator processes
  (use it when one client process is close to saturating its core).
* The real server's log goes to a file (not /dev/null), so writing one JSON
  line per request is paid for; the run checks every ``rpc`` line carries a
  request id.

Usage:

    .venv/bin/python bench/checklogin.py [--seconds 8] [--concurrency 32]
        [--rounds 3] [--loadgens 1] [--rate 500] [--no-pin]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT, bench_rules, create_database, free_port

PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


PF_KTHREAD = 0x00200000
# Other processes' CPU use below which a measurement counts as undisturbed.
QUIET_CPU = 0.1


def user_process_seconds() -> dict[int, float]:
    """CPU seconds (utime + stime) of every user-space process, by pid.

    Kernel threads are left out: they include the filesystem journal and I/O
    workers doing the server's own fsyncs.
    """
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[6]) & PF_KTHREAD:
            continue
        out[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def other_cpu(before: dict[int, float], after: dict[int, float], ours: set[int]) -> float:
    """CPU seconds other user processes used between two samples."""
    return sum(
        cpu - before.get(pid, 0.0)
        for pid, cpu in after.items()
        if pid not in ours and pid != os.getpid()
    )


def affinity(cpus: set[int] | None):  # type: ignore[no-untyped-def]
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def load(
    server: subprocess.Popen,
    addr: str,
    args: list[str],
    loadgens: int,
    client_cpus: set[int] | None,
) -> dict:
    """Run ``loadgens`` load-generator processes against one server.

    Server CPU is sampled from the moment every generator has finished its
    warm-up to the moment the last one reports.
    """
    procs = [
        subprocess.Popen(
            [PY, str(ROOT / "bench" / "loadgen.py"), addr, *args, "--offset", str(k * 397)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=affinity(client_cpus),
        )
        for k in range(loadgens)
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "measuring":
            raise RuntimeError(f"load generator failed before measuring: {line!r}")
    s0, m0, t0 = cpu_seconds(server.pid), user_process_seconds(), time.perf_counter()
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"load generator exited with {proc.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    s1, m1, t1 = cpu_seconds(server.pid), user_process_seconds(), time.perf_counter()
    verdicts: dict[str, int] = {}
    for r in results:
        for k, v in r["verdicts"].items():
            verdicts[k] = verdicts.get(k, 0) + v
    client_cpu = [r["cpu_seconds"] / r["seconds"] for r in results]
    server_cpu = (s1 - s0) / (t1 - t0)
    return {
        "throughput": sum(r["throughput"] for r in results),
        # Latency percentiles of the slowest generator (they see the same server).
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        # CPU other user processes used meanwhile (on a shared machine: noise).
        "other_cpu": other_cpu(m0, m1, {server.pid, *(p.pid for p in procs)}) / (t1 - t0),
        "verdicts": verdicts,
    }


def start(cmd: list[str], cpus: set[int] | None, stdout) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        cmd,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env=os.environ,
        cwd=ROOT,
        preexec_fn=affinity(cpus),
    )


def describe(name: str, r: dict) -> str:
    client = " + ".join(f"{c:.2f}" for c in r["client_cpu"])
    return (
        f"{name:14}: {r['throughput']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  "
        f"p99 {r['p99_ms']:6.2f} ms  cpu: server {r['server_cpu']:.2f}, client {client}, "
        f"other processes {r['other_cpu']:.2f}"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", default="8")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--loadgens", type=int, default=1)
    p.add_argument("--rate", default="500")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=None)
    ns = p.parse_args()

    cpus = sorted(os.sched_getaffinity(0))
    pin = len(cpus) >= 2 if ns.pin is None else ns.pin
    if pin and len(cpus) < 2:
        sys.exit("--pin needs at least 2 CPUs")
    server_cpus = {cpus[0]} if pin else None
    client_cpus = set(cpus[1:]) if pin else None
    per_gen = max(1, ns.concurrency // ns.loadgens)

    print(
        f"set-up: {len(cpus)} CPUs, Python {sys.version.split()[0]}; "
        + (
            f"servers pinned to CPU {cpus[0]}, load generators to CPU(s) "
            f"{','.join(map(str, cpus[1:]))}"
            if pin
            else "no CPU pinning (servers and load generators share all CPUs)"
        )
    )
    print(
        f"        closed loop: {ns.loadgens} load generator process(es) x {per_gen} "
        f"concurrent calls, {ns.seconds} s measured after 1 s warm-up, {ns.rounds} "
        "alternating rounds per server; same requests (2000, 5 browser UAs) for both"
    )

    with tempfile.TemporaryDirectory() as tmp:
        empty_addr = f"127.0.0.1:{free_port()}"
        real_addr = f"127.0.0.1:{free_port()}"
        rules = bench_rules(Path(tmp))
        log_path = Path(tmp) / "server.log"
        with open(log_path, "w") as log, open(Path(tmp) / "empty.log", "w") as empty_log:
            empty = start(
                [PY, str(ROOT / "bench" / "empty_server.py"), empty_addr], server_cpus, empty_log
            )
            create_database(f"sqlite:///{tmp}/bench.db")
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
                ],
                server_cpus,
                log,
            )
            try:
                wait_ready(empty_addr)
                wait_ready(real_addr)
                args = ["--seconds", ns.seconds, "--concurrency", str(per_gen)]
                bases, anshins = [], []
                for _ in range(ns.rounds):
                    bases.append(load(empty, empty_addr, args, ns.loadgens, client_cpus))
                    anshins.append(load(real, real_addr, args, ns.loadgens, client_cpus))
                paced = load(
                    real, real_addr, ["--rate", ns.rate, "--seconds", ns.seconds], 1, client_cpus
                )
            finally:
                for proc in (empty, real):
                    proc.terminate()
                    proc.wait(timeout=20)

        lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
        rpc_lines = [x for x in lines if x.get("event") == "rpc"]
        missing_id = sum(1 for x in rpc_lines if not x.get("request_id"))

    for k, (b, a) in enumerate(zip(bases, anshins, strict=True), 1):
        print(describe(f"round {k} empty", b))
        print(describe(f"round {k} Anshin", a))
    base = statistics.median(b["throughput"] for b in bases)
    anshin = statistics.median(a["throughput"] for a in anshins)
    ratio = anshin / base
    mid_b = sorted(bases, key=lambda r: r["throughput"])[len(bases) // 2]
    mid_a = sorted(anshins, key=lambda r: r["throughput"])[len(anshins) // 2]
    print(
        f"empty handler : {base:8.1f} req/s  p50 {mid_b['p50_ms']:.2f} ms  "
        f"p99 {mid_b['p99_ms']:.2f} ms   (median of {ns.rounds} rounds)"
    )
    print(
        f"CheckLogin    : {anshin:8.1f} req/s  p50 {mid_a['p50_ms']:.2f} ms  "
        f"p99 {mid_a['p99_ms']:.2f} ms   (median of {ns.rounds} rounds)"
    )
    print(f"ratio         : {ratio:.2f} of the empty handler's throughput (target >= 0.60)")
    per_round = [a["throughput"] / b["throughput"] for b, a in zip(bases, anshins, strict=True)]
    print(f"per round     : {', '.join(f'{r:.2f}' for r in per_round)}")
    # On a shared machine other processes can take CPU 0 from one server in
    # one round: also give the ratio over the rounds nothing else disturbed.
    clean = [
        r
        for r, b, a in zip(per_round, bases, anshins, strict=True)
        if max(b["other_cpu"], a["other_cpu"]) < QUIET_CPU
    ]
    if clean:
        print(
            f"undisturbed   : {statistics.median(clean):.2f} (median ratio of the {len(clean)} "
            f"round(s) of {len(per_round)} where other processes used < {QUIET_CPU} CPU)"
        )
    else:
        print("undisturbed   : no round ran without other processes using CPU")
    print(
        f"at {ns.rate} req/s  : {paced['throughput']:.1f} req/s achieved, p50 "
        f"{paced['p50_ms']:.2f} ms, p99 {paced['p99_ms']:.2f} ms (target p99 < 5 ms); "
        f"cpu: server {paced['server_cpu']:.2f}, client {paced['client_cpu'][0]:.2f}, "
        f"other processes {paced['other_cpu']:.2f}"
    )
    print(
        f"verdicts      : {mid_a['verdicts']}; log: {len(rpc_lines)} rpc lines, "
        f"{missing_id} without request_id"
    )
    busy = max(r["other_cpu"] for r in (*bases, *anshins, paced))
    if busy >= QUIET_CPU:
        print(
            f"WARNING: other processes used up to {busy:.2f} CPUs during a measurement: "
            "numbers are disturbed, rerun on a quiet machine"
        )
    # The ratio only means something when the server, not the client, is the bottleneck.
    for name, runs in (("empty handler", bases), ("CheckLogin", anshins)):
        for r in runs:
            starved = r["server_cpu"] < 0.9 and r["other_cpu"] < QUIET_CPU
            if pin and (starved or max(r["client_cpu"]) > 0.95):
                print(
                    f"WARNING: {name}: server used {r['server_cpu']:.2f} of its core and a "
                    f"client process {max(r['client_cpu']):.2f}: the client may be the "
                    "bottleneck (try --loadgens 2 or a larger --concurrency)"
                )
                break


if __name__ == "__main__":
    main()
