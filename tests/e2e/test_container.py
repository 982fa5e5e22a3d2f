"""The container as documented, run outside a container engine.

No engine runs on this machine, so the image cannot be built here. What the
image does is its Dockerfile's ENV, ENTRYPOINT + CMD and HEALTHCHECK (and
compose.yaml's environment and command on top): these tests read those lines
from the files themselves and run the very same command lines with the very
same environment, ``/data`` mapped to a temporary directory and port 50051 to
a free one. A change to the Dockerfile or compose.yaml is a change to what
these tests run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml

from anshin.v1 import posture_pb2, posture_pb2_grpc
from server.store.chain import LogSigner
from server.store.url import schema_version
from tests.e2e.conftest import ROOT, free_port

BIN = Path(sys.executable).parent  # where the `anshin` console script is installed


@dataclass
class Image:
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    user: str
    volumes: list[str]


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def read_image() -> Image:
    """The final stage of the Dockerfile."""
    steps = _instructions((ROOT / "Dockerfile").read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    env: dict[str, str] = {}
    image = Image(env, [], [], [], "root", [])
    for word, rest in steps[last_from:]:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
        elif word == "ENTRYPOINT":
            image.entrypoint = json.loads(rest)
        elif word == "CMD":
            image.cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            image.healthcheck = json.loads(rest[rest.index(" CMD ") + 5 :])
        elif word == "USER":
            image.user = rest
        elif word == "VOLUME":
            image.volumes.append(rest)
    return image


def localise(value: str, data: Path, port: int) -> str:
    """The image's paths and port, as they are on this machine."""
    return value.replace("/data", str(data)).replace("50051", str(port))


def executable(argv: list[str]) -> list[str]:
    return [str(BIN / argv[0]), *argv[1:]] if argv and argv[0] == "anshin" else argv


@dataclass
class Container:
    image: Image
    env: dict[str, str]
    argv: list[str]
    data: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.data, stdout=out, stderr=subprocess.STDOUT
            )

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        argv = executable([localise(a, self.data, self.port) for a in self.image.healthcheck])
        return subprocess.run(
            argv, env=self.env, cwd=self.data, capture_output=True, text=True, timeout=30
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            done = self.healthcheck()
            if done.returncode == 0:
                assert done.stdout.strip() == "SERVING"
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"unhealthy: {done.stdout}{done.stderr}\n{self.log.read_text()}"
                )
            time.sleep(0.3)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def container(tmp_path: Path, extra_env: dict[str, str], command: list[str] | None) -> Container:
    image = read_image()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)  # as the image makes /data: empty, the service user's
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSHIN_")}
    env.update({k: localise(v, data, port) for k, v in image.env.items()})
    env.update({k: localise(v, data, port) for k, v in extra_env.items()})
    env["PYTHONPATH"] = str(ROOT)
    argv = executable([*image.entrypoint, *(command if command is not None else image.cmd)])
    return Container(image, env, argv, data, port, tmp_path / "container.log")


@pytest.fixture
def docker_run(tmp_path: Path) -> Iterator[Container]:
    c = container(tmp_path, {}, None)
    try:
        yield c
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()


def test_the_image_runs_as_a_user_with_its_state_in_one_volume() -> None:
    image = read_image()
    assert image.user not in ("", "root", "0")
    assert image.volumes == ["/data"]
    assert image.env["ANSHIN_STATE_DIR"] == "/data"
    assert image.healthcheck[:2] == ["anshin", "health"]


def test_commands_run_in_the_container_call_as_the_trial_operator(
    docker_run: Container,
) -> None:
    """`docker exec anshin anshin ops status` (docs/operations.md) works with
    the image's environment alone."""
    c = docker_run
    c.start()
    c.wait_healthy()
    status = subprocess.run(
        executable(["anshin", "ops", "status", "--server", f"127.0.0.1:{c.port}"]),
        env=c.env, cwd=c.data, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    assert c.stop() == 0


def test_docker_run_serves_tls_with_tokens_and_survives_a_restart(
    docker_run: Container,
) -> None:
    c = docker_run
    c.start()
    c.wait_healthy()
    # Everything under /data, secrets private.
    data = c.data
    for secret in ("log-signing.key", "phone-hash.key", "auth.toml", "anshin.db",
                   "tls/server.key", "tokens/ib_server.token"):  # fmt: skip
        assert (data / secret).is_file(), secret
        assert (data / secret).stat().st_mode & 0o077 == 0, secret
    key_id = LogSigner.from_file(data / "log-signing.key").key_id

    # A bank's IB server with its token, over TLS, against the listen address.
    token = (data / "tokens" / "ib_server.token").read_text().strip()
    creds = grpc.composite_channel_credentials(
        grpc.ssl_channel_credentials((data / "tls" / "ca.crt").read_bytes()),
        grpc.access_token_call_credentials(token),
    )
    request = posture_pb2.CheckLoginRequest(
        customer_id="c1",
        device_id="d1",
        user_agent="Mozilla/5.0",
        token_status=posture_pb2.TOKEN_STATUS_ACTIVE,
    )
    request.login_time.FromJsonString("2025-04-10T01:00:00Z")
    with grpc.secure_channel(f"localhost:{c.port}", creds) as ch:
        reply = posture_pb2_grpc.PostureServiceStub(ch).CheckLogin(request, timeout=20)
        assert reply.verdict_id
    # Without a token: refused.
    plain = grpc.ssl_channel_credentials((data / "tls" / "ca.crt").read_bytes())
    with (
        grpc.secure_channel(f"localhost:{c.port}", plain) as ch,
        pytest.raises(grpc.RpcError) as refused,
    ):
        posture_pb2_grpc.PostureServiceStub(ch).CheckLogin(request, timeout=20)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    assert c.stop() == 0
    # The second start reuses the state: same key, same log.
    c.start()
    c.wait_healthy()
    assert LogSigner.from_file(data / "log-signing.key").key_id == key_id
    assert c.stop() == 0
    # A later start with a mistyped ANSHIN_DB is refused: only the first start
    # (the one that initialises /data) creates a database.
    typo = data / "anshin-typo.db"
    refused = subprocess.run(
        c.argv, env={**c.env, "ANSHIN_DB": f"sqlite:///{typo}"}, cwd=data,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "no Anshin database" in refused.stderr
    assert not typo.exists()
    assert "initialised" in c.log.read_text().split("serving")[0]
    assert c.log.read_text().count("initialised") == 1


def test_compose_brings_anshin_up_against_postgresql(tmp_path: Path, pg_url: str) -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["anshin"]
    assert "postgres" in service["depends_on"]
    # The collation the store insists on (server/store/postgres.py: _check_collation).
    initdb = compose["services"]["postgres"]["environment"]["POSTGRES_INITDB_ARGS"]
    assert "--locale=C.UTF-8" in initdb.split()
    env = {k: str(v) for k, v in service["environment"].items()}
    assert env["ANSHIN_DB"].startswith("postgresql://")
    env["ANSHIN_DB"] = pg_url  # the compose network's "postgres", here
    c = container(tmp_path, env, service["command"])
    try:
        c.start()
        c.wait_healthy()
        assert schema_version(pg_url)  # migrations applied by the first start
        assert (c.data / "log-signing.key").is_file()
        assert not (c.data / "anshin.db").exists()  # the database is PostgreSQL's
        assert c.stop() == 0
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()
