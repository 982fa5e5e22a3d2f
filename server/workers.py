"""``anshin serve --workers N``: N serving processes on one port.

Python runs Python on one core per process, so scale comes from processes.
Each worker binds the same address with SO_REUSEPORT and the kernel spreads
incoming connections across them. Everything that must be global lives in
the store (idempotency, ledger, the log): a worker holds no state another
needs. The parent prepares what must happen once (schema migration, the
phone-hash key), starts the workers, forwards SIGTERM/SIGINT so each drains
in-flight calls, forwards SIGHUP so each reloads its rules, and stops them
all if one dies.

Metrics (``--metrics-listen``): one endpoint, served by the parent, over all
the workers. The parent makes a fresh private directory and hands it to every
worker as ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode:
each process keeps its values in files there); a worker gone is marked dead
(its live gauges dropped, its counts kept) and the directory is removed when
the parent stops (server/metrics.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from server.config import Config
from server.logs import get_logger
from server.version import version

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
    metrics_dir = _serve_metrics(config.metrics_listen, workers)
    try:
        return _run(config, workers, metrics_dir)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve_metrics(listen: str | None, workers: int) -> str | None:
    """The one metrics endpoint over every worker (None: no --metrics-listen).

    The directory is new and empty (prometheus_client requires it wiped
    before the workers start) and only this user's: the files hold every
    series."""
    if listen is None:
        return None
    from server.metrics import serve_workers_metrics

    directory = tempfile.mkdtemp(prefix="anshin-metrics-")
    try:
        port = serve_workers_metrics(listen, directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    log.info(
        "metrics_serving",
        version=version(),
        listen=listen,
        port=port,
        workers=workers,
        directory=directory,
    )
    return directory


_TRACKER_QUIET = "ignore:resource_tracker:UserWarning:multiprocessing.resource_tracker"


def died(pid: int, code: int) -> str:
    """``worker 123 was killed by SIGKILL`` / ``worker 123 exited with code 3``."""
    if code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    return f"worker {pid} {how}"


def _run(config: Config, workers: int, metrics_dir: str | None) -> int:
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

    # The workers record metrics into metrics_dir and serve none themselves.
    env.pop("ANSHIN_METRICS_LISTEN", None)
    if metrics_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    else:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["ANSHIN_BULK_WORKERS"] = str(config.bulk_workers)
    # A worker killed outright (kill -9, the OOM killer) cannot release the
    # named semaphores of its bulk-ingestion pool; its multiprocessing
    # resource tracker (a process of its own, sharing our stderr) then unlinks
    # them, as it exists to, and warns "leaked semaphore objects" in a
    # multi-line Python warning. Nothing is left behind after that cleanup,
    # so that one warning, of that one module, is silenced; a clean stop
    # releases them itself and never warns.
    env["PYTHONWARNINGS"] = ",".join(
        w for w in (os.environ.get("PYTHONWARNINGS", ""), _TRACKER_QUIET) if w
    )
    # Flags or environment: each worker waits for a locked store as long.
    env["ANSHIN_SQLITE_BUSY_TIMEOUT_MS"] = str(config.sqlite_busy_timeout_ms)
    env["ANSHIN_PG_LOCK_TIMEOUT_MS"] = str(config.pg_lock_timeout_ms)
    if config.release_refresh is not None:  # worker 0 refreshes (server/refresh_task.py)
        env.update(config.release_refresh.to_env())
    # Inherited through exec: a worker still starting ignores a reload signal
    # (its rules are being loaded anyway) instead of dying of it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    children = [subprocess.Popen(cmd, env={**env, "ANSHIN_WORKER": str(i)}) for i in range(workers)]
    log.info(
        "workers_started",
        version=version(),
        workers=workers,
        pids=[c.pid for c in children],
        listen=config.listen,
    )
    marked: set[int] = set()

    def mark_dead() -> None:
        """A worker gone: its live gauges leave the scrape, its counts stay."""
        if metrics_dir is None:
            return
        from prometheus_client.multiprocess import mark_process_dead

        for child in children:
            if child.returncode is not None and child.pid not in marked:
                mark_process_dead(child.pid, metrics_dir)  # type: ignore[no-untyped-call]
                marked.add(child.pid)

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
    first_dead: list[subprocess.Popen[bytes]] = []
    while True:
        alive = [c for c in children if c.poll() is None]
        mark_dead()
        if not alive:
            break
        if not stopping and len(alive) < len(children):
            dead = [c for c in children if c.poll() is not None]
            log.error("worker_died", pids=[c.pid for c in dead], codes=[c.returncode for c in dead])
            first_dead = dead
            status = 1
            stop(signal.SIGTERM, None)
        time.sleep(0.2)
    codes = [c.returncode for c in children]
    log.info("workers_stopped", codes=codes)
    # A worker still starting when asked to stop dies of the SIGTERM itself:
    # it was serving nothing, so that is a clean stop too.
    clean = (0, -signal.SIGTERM) if stopping else (0,)
    if first_dead:
        # Fail fast, by design: a worker that died on its own takes the others
        # down (drained), and a supervisor restarts the unit (docs/operations.md).
        from server.cli.exit_codes import Exit
        from server.cli.failures import CommandFailed, Failure

        others = len(children) - len(first_dead)
        raise CommandFailed(
            Failure(
                Exit.FAILED,
                "serve: "
                + "; ".join(died(c.pid, c.returncode) for c in first_dead)
                + f"; the {others} other worker(s) drained and stopped",
                "restart it; under a supervisor (systemd Restart=on-failure, Kubernetes) "
                "that is automatic. Why it died: its log lines, or the kernel log (OOM killer)",
            )
        )
    return status or (0 if all(code in clean for code in codes) else 1)
