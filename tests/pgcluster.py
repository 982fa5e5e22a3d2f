"""A throwaway PostgreSQL cluster for the suite, when none is named.

``make test`` must pass on a machine where PostgreSQL's server binaries are
installed but no cluster runs, and the PostgreSQL tests are never skipped.
So unless ``ANSHIN_TEST_PG_URL`` names a server, the first test that needs
PostgreSQL starts a cluster of its own: ``initdb`` into a temporary directory
and ``pg_ctl start`` on a free loopback port, with a Unix socket in that
directory, and the suite stops and deletes it at exit. Durability settings
are off (``fsync``, ``synchronous_commit``): the cluster lives for one run,
and no test kills PostgreSQL itself, only Anshin's processes.

``initdb`` refuses to run as root (CI runs as root): then the cluster runs
as the ``postgres`` system user that the Debian packages create.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

_BINARIES = ("initdb", "pg_ctl")


class NoPostgres(RuntimeError):
    """PostgreSQL's server binaries are missing: the PostgreSQL tests fail (never skip)."""


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl: on PATH, else the newest
    /usr/lib/postgresql/N/bin (Debian keeps them off PATH)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if all((bindir / b).exists() for b in _BINARIES):
            return bindir
    raise NoPostgres(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found on PATH or in "
        "/usr/lib/postgresql/*/bin: install them (apt-get install postgresql) or set "
        "ANSHIN_TEST_PG_URL to a running server"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PREFIX = "anshin-pg-"


def sweep_leftovers() -> None:
    """Stop and delete clusters whose test run died without cleaning up (killed
    with SIGKILL, or a crash): each cluster directory names its owner's pid."""
    for root in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            owner = int((root / "owner.pid").read_text())
            os.kill(owner, 0)
            continue  # a live run's cluster
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            if time.time() - root.stat().st_mtime < 600:
                continue  # being set up right now, or not ours to judge yet
        if (root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                subprocess.run(
                    ["runuser", "-u", "postgres", "--"] * (os.geteuid() == 0)
                    + [str(find_bindir() / "pg_ctl"), "-D", str(root / "data"),
                       "-m", "immediate", "-w", "stop"],
                    capture_output=True, timeout=60, check=False,
                )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


class ThrowawayCluster:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix=_PREFIX))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self.data = self.root / "data"
        self.port = _free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise NoPostgres(
                    "running as root, and there is no 'postgres' user to run a throwaway "
                    "cluster as: set ANSHIN_TEST_PG_URL to a running server"
                ) from None
            self._user = "postgres"
            shutil.chown(self.root, user="postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/test"
        self._owner = os.getpid()

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._user is not None:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root, check=False)
        if done.returncode != 0:
            raise NoPostgres(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )

    def start(self) -> str:
        try:
            return self._start()
        except BaseException:
            self.stop()  # no directory or half-started server left behind
            raise

    def _start(self) -> str:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "300",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "start")  # fmt: skip
        atexit.register(self.stop)
        self._create_database("test")
        return self.url

    def _create_database(self, name: str) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
                ) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if os.getpid() != self._owner:
            return  # a forked child exiting: the cluster is its parent's
        if self.data.exists():
            with contextlib.suppress(NoPostgres):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


_cluster: ThrowawayCluster | None = None


def base_url() -> str:
    """``ANSHIN_TEST_PG_URL``, or the URL of this run's throwaway cluster (started
    on first use, and exported so that child processes see the same one)."""
    global _cluster
    named = os.environ.get("ANSHIN_TEST_PG_URL")
    if named:
        return named
    if _cluster is None:
        sweep_leftovers()
        _cluster = ThrowawayCluster()
        url = _cluster.start()
        os.environ["ANSHIN_TEST_PG_URL"] = url
    return _cluster.url
