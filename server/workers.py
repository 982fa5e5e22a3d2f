"""``anshin serve --workers N``: N serving processes on one port.

Python runs Python on one core per process, so scale comes from processes.
Each worker binds the same address with SO_REUSEPORT and the kernel spreads
incoming connections across them. Everything that must be global lives in
the store (idempotency, ledger, the log): a worker holds no state another
needs. The parent prepares what must happen once (schema migration, the
phone-hash key), starts the workers, forwards SIGTERM/SIGINT so each drains
in-flight calls, forwards SIGHUP so each reloads its rules, and stops them
all if one dies. Worker i serves its Prometheus metrics on the
``--metrics-listen`` port + i.
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
    """Migrate and create the keys before any worker starts (no races between them).

    The log key is created (for a log never signed) or checked against the log
    by opening the store, never beforehand: see server/state.py."""
    import asyncio

    from server.state import phone_key_secret
    from server.store.url import open_store

    async def migrate() -> None:
        # Both keys are created (for a new database) or checked against it
        # here, once, before any worker starts: nothing is made before the
        # store has agreed (a refused start leaves no stray key behind).
        store = open_store(
            config.db,
            log_key_file=config.resolved_log_key_file(),
            settings=config.store_settings(),
            secrets=(phone_key_secret(config.resolved_phone_key_file()),),
        )
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
        # Each worker stops when this process is gone (server/parent_watch.py).
        "ANSHIN_PARENT_PID": str(os.getpid()),
        "ANSHIN_PHONE_KEY_FILE": str(config.resolved_phone_key_file()),
        # Absolute: every worker signs the one log with the same key.
        "ANSHIN_LOG_KEY_FILE": str(config.resolved_log_key_file().resolve()),
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
    for flag, value in (
        ("--tls-cert", config.tls_cert),
        ("--tls-key", config.tls_key),
        ("--client-ca", config.client_ca),
        ("--auth-config", config.auth_config),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    if config.insecure:
        cmd.append("--insecure")
    cmd += ["--max-message-bytes", str(config.max_message_bytes)]

    def worker_cmd(i: int) -> list[str]:
        if config.metrics_listen is None:
            return cmd
        host, _, mport = config.metrics_listen.rpartition(":")
        return [*cmd, "--metrics-listen", f"{host}:{int(mport) + i}"]

    env["ANSHIN_BULK_WORKERS"] = str(config.bulk_workers)
    # Flags or environment: each worker waits for a locked store as long.
    env["ANSHIN_SQLITE_BUSY_TIMEOUT_MS"] = str(config.sqlite_busy_timeout_ms)
    env["ANSHIN_PG_LOCK_TIMEOUT_MS"] = str(config.pg_lock_timeout_ms)
    if config.release_refresh is not None:  # worker 0 refreshes (server/refresh_task.py)
        env.update(config.release_refresh.to_env())
    # Inherited through exec: a worker still starting ignores a reload signal
    # (its rules are being loaded anyway) instead of dying of it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    children = [
        subprocess.Popen(worker_cmd(i), env={**env, "ANSHIN_WORKER": str(i)})
        for i in range(workers)
    ]
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

    def reload(signum: int, _frame: object) -> None:
        log.info("workers_reload", pids=[c.pid for c in children])
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGHUP)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
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
