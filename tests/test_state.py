"""State that cannot be mislaid (server/state.py): a typo'd database, a key
from another directory, a key others can read — each refused with a message
that says what to do, and nothing created on the way."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server.config import Config
from server.state import StateError, require_database
from server.store.chain import KeyMismatch, LogSigner
from server.store.url import migrate_url, open_store
from tests.conftest import create_database

ANSHIN = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ANSHIN, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=60,
        check=False,
    )


# -- a database is created only on request ------------------------------------------


def test_serve_refuses_a_mistyped_sqlite_path_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "dir" / "x.db"
    done = run("serve", "--listen", "127.0.0.1:0", "--db", f"sqlite:///{typo}", cwd=tmp_path)
    assert done.returncode != 0
    assert "no Anshin database" in done.stderr and "db migrate --create" in done.stderr
    assert not (tmp_path / "typo").exists()  # no directory, no empty log, no key
    assert list(tmp_path.iterdir()) == []


def test_migrate_without_create_refuses_a_missing_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/typo/x.db"
    with pytest.raises(StateError, match="db migrate --create"):
        migrate_url(url)
    assert not (tmp_path / "typo").exists()


def test_migrate_create_makes_a_private_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state/x.db"
    assert "schema 0 ->" in migrate_url(url, create=True)
    assert mode(tmp_path / "state") == 0o700
    assert mode(tmp_path / "state" / "x.db") == 0o600
    require_database(url)  # now it exists
    assert "(up to date)" in migrate_url(url)  # and plain migrate accepts it


def test_a_postgres_schema_without_tables_is_not_a_database(pg_url: str) -> None:
    with pytest.raises(StateError, match="no Anshin database"):
        require_database(pg_url)
    with pytest.raises(StateError):
        migrate_url(pg_url)
    migrate_url(pg_url, create=True)
    require_database(pg_url)


async def test_database_wal_and_shm_files_are_0600(tmp_path: Path) -> None:
    os.umask(0o022)  # the usual umask: the files must be private anyway
    store = open_store(f"sqlite:///{tmp_path}/db/a.db")
    try:
        # Opening signed the log head: a write, so the WAL and its index exist.
        files = sorted(p.name for p in (tmp_path / "db").iterdir())
        assert {"a.db", "a.db-wal", "a.db-shm", "log-signing.key"} <= set(files)
        for name in files:
            assert mode(tmp_path / "db" / name) == 0o600, name
        assert mode(tmp_path / "db") == 0o700
    finally:
        await store.close()


# -- keys live where they are told, never in the working directory -------------------


def test_postgres_needs_to_be_told_where_its_keys_live(tmp_path: Path) -> None:
    config = Config(db="postgresql://u@127.0.0.1:1/db")
    with pytest.raises(StateError, match="--state-dir"):
        config.resolved_log_key_file()
    with pytest.raises(StateError, match="--state-dir"):
        config.resolved_phone_key_file()
    told = Config(db="postgresql://u@127.0.0.1:1/db", state_dir=tmp_path)
    assert told.resolved_log_key_file() == tmp_path / "log-signing.key"
    assert told.resolved_phone_key_file() == tmp_path / "phone-hash.key"


def test_serving_postgres_without_a_key_location_is_refused_before_any_key_exists(
    pg_url: str, tmp_path: Path
) -> None:
    create_database(pg_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSHIN_")}
    done = subprocess.run(
        [*ANSHIN, "serve", "--listen", "127.0.0.1:0", "--db", pg_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "needs to be told where its keys live" in done.stderr
    assert list(tmp_path.iterdir()) == []  # no key in the working directory


async def test_a_log_signed_by_another_key_is_refused_naming_both(
    db_url: str, tmp_path: Path
) -> None:
    first, other = tmp_path / "a" / "log-signing.key", tmp_path / "b" / "log-signing.key"
    store = open_store(db_url, log_key_file=first)
    await store.close()
    signed_by = LogSigner.from_file(first).key_id
    intruder = LogSigner.from_file(other).key_id
    assert signed_by != intruder
    with pytest.raises(KeyMismatch) as refused:
        open_store(db_url, log_key_file=other)
    assert signed_by in str(refused.value) and intruder in str(refused.value)
    # The right key still opens it.
    await open_store(db_url, log_key_file=first).close()


async def test_a_signed_log_whose_key_is_missing_is_refused_and_no_key_is_made(
    db_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "a" / "log-signing.key"
    await open_store(db_url, log_key_file=key).close()
    signed_by = LogSigner.from_file(key).key_id
    elsewhere = tmp_path / "elsewhere" / "log-signing.key"
    with pytest.raises(KeyMismatch, match=signed_by):
        open_store(db_url, log_key_file=elsewhere)
    assert not elsewhere.exists()


async def test_serve_from_another_directory_with_the_wrong_state_dir_is_refused(
    pg_url: str, tmp_path: Path
) -> None:
    """The case that used to create a second key silently: the same PostgreSQL
    database served with another state directory."""
    create_database(pg_url)
    good, wrong = tmp_path / "good", tmp_path / "wrong"
    await open_store(pg_url, log_key_file=good / "log-signing.key").close()  # signs the head
    wrong.mkdir()
    LogSigner.from_file(wrong / "log-signing.key")
    second = run(
        "serve", "--listen", "127.0.0.1:0", "--db", pg_url, "--state-dir", str(wrong),
        cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode != 0
    assert LogSigner.from_file(good / "log-signing.key").key_id in second.stderr
    assert LogSigner.from_file(wrong / "log-signing.key").key_id in second.stderr


# -- secrets others can read are refused -----------------------------------------------


@pytest.mark.parametrize("which", ["log-signing.key", "phone-hash.key"])
async def test_serve_refuses_a_key_others_can_read(tmp_path: Path, which: str) -> None:
    from server.main import build_app

    url = f"sqlite:///{tmp_path}/a.db"
    create_database(url)
    await open_store(url).close()  # creates the log key
    from server.pii import PhoneHasher

    PhoneHasher.from_file(tmp_path / "phone-hash.key")
    os.chmod(tmp_path / which, 0o644)
    with pytest.raises(StateError, match=f"chmod 600 {tmp_path / which}"):
        await build_app(Config(listen="127.0.0.1:0", db=url))
    os.chmod(tmp_path / which, 0o600)
    app = await build_app(Config(listen="127.0.0.1:0", db=url))
    await app.stop(0)


def test_a_database_others_can_read_is_refused(tmp_path: Path) -> None:
    """A copy restored with the usual umask is 0644, and SQLite would give its
    WAL the same mode: the customers' data is refused like a key would be."""
    url = f"sqlite:///{tmp_path}/a.db"
    create_database(url)
    os.chmod(tmp_path / "a.db", 0o644)
    with pytest.raises(StateError, match="chmod 600"):
        require_database(url)
    os.chmod(tmp_path / "a.db", 0o600)
    require_database(url)


def test_secrets_that_could_be_swapped_are_refused(tmp_path: Path) -> None:
    from server.state import require_private

    key = tmp_path / "keys" / "log-signing.key"
    LogSigner.from_file(key)
    require_private(key, "the log-signing key")  # as made: accepted
    os.chmod(key.parent, 0o777)  # anyone may replace the file
    with pytest.raises(StateError, match="writable by other users"):
        require_private(key, "the log-signing key")
    os.chmod(key.parent, 0o700)
    fifo = tmp_path / "keys" / "fifo.key"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(StateError, match="not a regular file"):
        require_private(fifo, "the log-signing key")  # never opened: it would block


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_key_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    from server.state import require_private

    key = tmp_path / "log-signing.key"
    LogSigner.from_file(key)
    os.chown(key, 65534, -1)
    with pytest.raises(StateError, match="belongs to uid 65534"):
        require_private(key, "the log-signing key")


def test_log_verify_finds_the_key_in_the_state_dir(pg_url: str, tmp_path: Path) -> None:
    """The same settings as serve: --state-dir / ANSHIN_STATE_DIR."""
    create_database(pg_url)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)

    async def sign() -> None:
        await open_store(pg_url, log_key_file=state / "log-signing.key").close()

    import asyncio

    asyncio.run(sign())
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSHIN_")}
    by_flag = subprocess.run(
        [*ANSHIN, "log", "verify", "--db", pg_url, "--state-dir", str(state)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert by_flag.returncode == 0, by_flag.stdout + by_flag.stderr
    by_env = subprocess.run(
        [*ANSHIN, "log", "verify", "--db", pg_url],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**env, "PYTHONPATH": str(ROOT), "ANSHIN_STATE_DIR": str(state)},
    )  # fmt: skip
    assert by_env.returncode == 0, by_env.stdout + by_env.stderr


# -- found by the outside attack on issue 15 ----------------------------------------


def test_an_empty_schema_first_in_search_path_is_not_the_database(pg_url: str) -> None:
    """With an empty schema first in search_path, CREATE writes there: migrating
    or serving would start a new, empty log beside the real one."""
    from tests.conftest import _pg_admin, pg_schema

    create_database(pg_url)
    real = pg_url.rsplit("search_path%3D", 1)[1]
    with pg_schema() as empty_url:
        empty = empty_url.rsplit("search_path%3D", 1)[1]
        both = pg_url.replace(f"search_path%3D{real}", f"search_path%3D{empty},{real}")
        with pytest.raises(StateError, match="no Anshin database"):
            require_database(both)
        with pytest.raises(StateError, match="--create"):
            migrate_url(both)
        # Not even on request (the container's first start asks for it): the
        # real log is right behind the empty schema.
        with pytest.raises(StateError, match="second, empty log"):
            migrate_url(both, create=True)
        tables = (
            _pg_admin()
            .execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (empty,))
            .fetchone()
        )
        assert tables == (0,)  # nothing was created in the empty schema


async def test_a_blanked_head_is_never_signed_by_a_server(db_url: str, tmp_path: Path) -> None:
    """Blanking the head's signature and key id (to have the server sign a
    rewritten log with whatever key it has) never gets it signed (issue 17):
    without the key the server refuses to start, with it the log opens
    read-only, and `db migrate` adopts only a log from before the signed
    chain (whose entries carry no MACs), never a blanked one."""
    from tests.conftest import db_rows
    from tests.store.test_sqlite_store import record

    key = tmp_path / "a" / "log-signing.key"
    store = open_store(db_url, log_key_file=key)
    await store.append_verdict(record(device="d1", subject_us=100))
    await store.close()
    db_rows(db_url, "UPDATE log_head SET key_id = '', signature = ''")
    other = tmp_path / "b" / "log-signing.key"
    with pytest.raises(KeyMismatch, match="no key at"):
        open_store(db_url, log_key_file=other)
    assert not other.exists()  # and no key was made for it
    store = open_store(db_url, log_key_file=key)
    problem = store.log_problem()
    await store.close()
    assert problem is not None and "carries no signature" in problem.reason
    import asyncio

    # The CLI is synchronous; from this async test, as from a thread.
    with pytest.raises(StateError, match="blanked, not left for adoption"):
        await asyncio.to_thread(migrate_url, db_url, log_key_file=key)
    assert db_rows(db_url, "SELECT signature FROM log_head") == [("",)]


async def test_a_missing_head_row_is_refused(db_url: str, tmp_path: Path) -> None:
    from tests.conftest import db_rows

    key = tmp_path / "log-signing.key"
    await open_store(db_url, log_key_file=key).close()
    db_rows(db_url, "DELETE FROM log_head")
    with pytest.raises(StateError, match="no head row"):
        open_store(db_url, log_key_file=key)


async def test_the_phone_key_is_bound_like_the_log_key(db_url: str, tmp_path: Path) -> None:
    from server.state import phone_key_secret

    log_key = tmp_path / "log-signing.key"
    phone = tmp_path / "keys" / "phone-hash.key"
    await open_store(db_url, log_key_file=log_key, secrets=[phone_key_secret(phone)]).close()
    assert phone.is_file() and mode(phone) == 0o600  # made and bound on first use
    bound = phone.read_bytes()
    phone.unlink()
    with pytest.raises(KeyMismatch, match="no key at"):
        open_store(db_url, log_key_file=log_key, secrets=[phone_key_secret(phone)])
    assert not phone.exists()  # not silently replaced
    from server.pii import PhoneHasher

    PhoneHasher.create_key_file(phone)  # another valid key
    with pytest.raises(KeyMismatch, match="phone-hash key"):
        open_store(db_url, log_key_file=log_key, secrets=[phone_key_secret(phone)])
    phone.write_bytes(bound)
    await open_store(db_url, log_key_file=log_key, secrets=[phone_key_secret(phone)]).close()


def test_two_servers_starting_at_once_on_a_new_log_cannot_both_bind(
    pg_url: str, tmp_path: Path
) -> None:
    """The key is bound under the head lock: of two stores opening a new log
    with different keys at the same moment, exactly one opens."""
    import asyncio
    import threading

    create_database(pg_url)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def start(name: str) -> None:
        barrier.wait()
        try:
            store = open_store(pg_url, log_key_file=tmp_path / name / "log-signing.key")
        except KeyMismatch:
            results.append("refused")
        else:
            asyncio.run(store.close())
            results.append("opened")

    threads = [threading.Thread(target=start, args=(n,)) for n in ("r1", "r2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["opened", "refused"]


def test_a_garbage_key_file_is_a_clear_refusal(tmp_path: Path) -> None:
    key = tmp_path / "log-signing.key"
    key.write_text("not a key\n")
    with pytest.raises(StateError, match="not an Ed25519 private key"):
        LogSigner.from_file(key)


# -- found by the second outside attack ------------------------------------------------


async def test_a_head_altered_after_signing_is_refused(db_url: str, tmp_path: Path) -> None:
    """Deleting the last entry, moving the head back and writing a junk signature
    (or forging the key id) must not make the server sign over it."""
    from tests.conftest import db_rows
    from tests.store.test_sqlite_store import record

    key = tmp_path / "a" / "log-signing.key"
    store = open_store(db_url, log_key_file=key)
    for i in range(2):
        await store.append_verdict(record(device=f"d{i}", subject_us=100 + i))
    await store.close()
    db_rows(db_url, "UPDATE log_head SET signature = 'eA=='")
    # Opened read-only (issue 17): nothing is signed over it, every write refused.
    store = open_store(db_url, log_key_file=key)
    problem = store.log_problem()
    await store.close()
    assert problem is not None and "no valid signature" in problem.reason
    other = tmp_path / "b" / "log-signing.key"
    other_id = LogSigner.from_file(other).key_id
    db_rows(db_url, "UPDATE log_head SET key_id = ?", (other_id,))
    store = open_store(db_url, log_key_file=other)  # the stored id is not the signature
    problem = store.log_problem()
    await store.close()
    assert problem is not None and "no valid signature" in problem.reason
    assert db_rows(db_url, "SELECT signature FROM log_head") == [("eA==",)]


async def test_migrate_never_adopts_a_blanked_head_with_a_new_or_other_key(
    db_url: str, tmp_path: Path
) -> None:
    import asyncio

    from tests.conftest import db_rows
    from tests.store.test_sqlite_store import record

    key = tmp_path / "a" / "log-signing.key"
    store = open_store(db_url, log_key_file=key)
    await store.append_verdict(record(device="d1", subject_us=100))
    await store.close()
    db_rows(db_url, "UPDATE log_head SET key_id = '', signature = ''")
    fresh = tmp_path / "empty" / "log-signing.key"
    # Its entries carry MACs: blanked, not a log from before the chain. Not
    # adopted with any key, its own included (issue 17).
    with pytest.raises(StateError, match="blanked"):
        await asyncio.to_thread(migrate_url, db_url, log_key_file=fresh)
    assert not fresh.exists()
    other = tmp_path / "b" / "log-signing.key"
    LogSigner.from_file(other)
    with pytest.raises(StateError, match="blanked"):
        await asyncio.to_thread(migrate_url, db_url, log_key_file=other)
    with pytest.raises(StateError, match="blanked"):
        await asyncio.to_thread(migrate_url, db_url, log_key_file=key)


async def test_a_file_that_is_not_a_phone_key_is_refused_before_it_is_bound(
    tmp_path: Path,
) -> None:
    from server.state import phone_key_secret
    from tests.conftest import db_rows

    url = f"sqlite:///{tmp_path}/a.db"
    phone = tmp_path / "phone-hash.key"
    phone.write_text("not-hex\n")
    os.chmod(phone, 0o600)
    with pytest.raises(StateError, match="64 hex digits"):
        open_store(url, secrets=[phone_key_secret(phone)])
    assert db_rows(url, "SELECT count(*) FROM key_bindings") == [(0,)]  # nothing bound
    phone.unlink()
    await open_store(url, secrets=[phone_key_secret(phone)]).close()  # a real key then binds


async def test_a_database_with_data_never_gets_a_new_phone_key(tmp_path: Path) -> None:
    """No binding row (a database from before bindings, or a row removed by
    hand) and no key file: refused when the database holds data."""
    from server.state import phone_key_secret
    from tests.store.test_sqlite_store import record

    url = f"sqlite:///{tmp_path}/a.db"
    store = open_store(url)
    await store.append_verdict(record(device="d1", subject_us=100))
    await store.close()
    phone = tmp_path / "phone-hash.key"
    with pytest.raises(KeyMismatch, match="holds data"):
        open_store(url, secrets=[phone_key_secret(phone)])
    assert not phone.exists()


def test_key_bindings_are_append_only(db_url: str, tmp_path: Path) -> None:
    import asyncio

    from server.state import phone_key_secret
    from tests.conftest import db_rows

    async def bind() -> None:
        await open_store(
            db_url,
            log_key_file=tmp_path / "log-signing.key",
            secrets=[phone_key_secret(tmp_path / "phone-hash.key")],
        ).close()

    asyncio.run(bind())
    for sql in ("DELETE FROM key_bindings", "UPDATE key_bindings SET key_id = 'x'"):
        with pytest.raises(Exception, match="append-only"):
            db_rows(db_url, sql)


def test_an_empty_state_dir_flag_is_refused(tmp_path: Path) -> None:
    for args in (["serve", "--state-dir", ""], ["db", "migrate", "--state-dir", ""]):
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 2 and "must not be empty" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_state_dir_flag_names_the_database_too(tmp_path: Path) -> None:
    """`log verify --state-dir DIR` checks DIR/anshin.db, as serve would."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSHIN_")}
    made = run("db", "migrate", "--create", "--state-dir", str(state), cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    assert (state / "anshin.db").is_file() and (state / "log-signing.key").is_file()
    verified = run("log", "verify", "--state-dir", str(state), cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_state_dir_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    from server.state import require_private

    key = tmp_path / "keys" / "log-signing.key"
    LogSigner.from_file(key)
    os.chown(key.parent, 65534, -1)
    with pytest.raises(StateError, match="belongs to uid 65534"):
        require_private(key, "the log-signing key")
