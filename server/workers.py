"""``anshin serve --workers N``: N serving processes on one port.

Python runs Python on one core per process, so scale comes from processes.
Each worker binds the same address with SO_REUSEPORT and the kernel spreads
incoming connections across them. Everything that must be global lives in
the store (idempotency, ledger, the log): a worker holds no state another
needs. The parent prepares what must happen once (schema migration, the
phone-hash key), starts the workers, forwards SIGTERM/SIGINT so each drains
in-flight calls, and stops them all if one dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from server.config import Config
from server.logs import get_logger

log = get_logger("anshin.workers")


def prepare_once(config: Config) -> None:
    """Migrate and create the key before any worker starts (no races between them)."""
    from server.pii import PhoneHasher
    from server.store.url import open_store

    PhoneHasher.from_file(config.resolved_phone_key_file())
    import asyncio

    async def migrate() -> None:
        store = open_store(config.db)
        await store.close()

    asyncio.run(migrate())


def run_workers(config: Config, workers: int) -> int:
    _, _, port = config.listen.rpartition(":")
    if port in ("", "0"):
        raise SystemExit("--workers needs a fixed port in --listen (not :0)")
    prepare_once(config)
    env = {
        **os.environ,
        "ANSHIN_REUSEPORT": "1",
        "ANSHIN_PHONE_KEY_FILE": str(config.resolved_phone_key_file()),
    }
    cmd = [
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--listen",
        config.listen,
        "--db",
        config.db,
        "--log-level",
        config.log_level,
    ]
    if config.rules is not None:
        cmd += ["--rules", str(config.rules)]
    env["ANSHIN_BULK_WORKERS"] = str(config.bulk_workers)
    children = [subprocess.Popen(cmd, env={**env, "ANSHIN_WORKER": str(i)}) for i in range(workers)]
    log.info(
        "workers_started", workers=workers, pids=[c.pid for c in children], listen=config.listen
    )
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while True:
        alive = [c for c in children if c.poll() is None]
        if not alive:
            break
        if not stopping and len(alive) < len(children):
            dead = [c for c in children if c.poll() is not None]
            log.error("worker_died", pids=[c.pid for c in dead], codes=[c.returncode for c in dead])
            status = 1
            stop(signal.SIGTERM, None)
        time.sleep(0.2)
    codes = [c.returncode for c in children]
    log.info("workers_stopped", codes=codes)
    # A worker still starting when asked to stop dies of the SIGTERM itself:
    # it was serving nothing, so that is a clean stop too.
    clean = (0, -signal.SIGTERM) if stopping else (0,)
    return status or (0 if all(code in clean for code in codes) else 1)
