"""``anshin serve``: serve the gRPC API (``--init``: a container's first start)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from server.cli.args import listen_address, listen_problem, nonempty_path
from server.cli.exit_codes import Exit
from server.cli.failures import CommandFailed, Failure


def run(ns: argparse.Namespace) -> int:
    from server.config import Config
    from server.logs import configure_logging
    from server.main import serve
    from server.refresh_task import RefreshSettings
    from server.state import StateError, require_database

    # Whatever the server creates (database, WAL, keys, imported rules) is for
    # its own user alone.
    os.umask(0o077)
    # Only the start that initialises the state directory may create its
    # database: on any later start a missing database is a mistyped ANSHIN_DB
    # (or a lost one), refused below like everywhere else.
    creating = first_run(ns) if ns.init else False
    try:  # --refresh-releases and friends (server/refresh_task.py), else their env
        release_refresh = RefreshSettings.resolve(
            ns.refresh_releases, ns.refresh_sources, ns.feed_base_url
        )
    except ValueError as exc:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"serve: {exc}",
                "see --refresh-releases, --refresh-sources and --feed-base-url in "
                "`anshin serve --help` (docs/operations.md, Keeping release data current)",
            )
        ) from None
    config = Config.from_env(
        state_dir=ns.state_dir,
        log_key_file=ns.log_key_file,
        phone_key_file=ns.phone_key_file,
        listen=ns.listen,
        db=ns.db,
        rules=ns.rules,
        log_level=ns.log_level,
        bulk_workers=ns.bulk_workers,
        tls_cert=ns.tls_cert,
        tls_key=ns.tls_key,
        client_ca=ns.client_ca,
        auth_config=ns.auth_config,
        insecure=ns.insecure or None,
        metrics_listen=ns.metrics_listen,
        console_listen=ns.console_listen,
        console_replay_rules=tuple(ns.console_replay_rules) if ns.console_replay_rules else None,
        max_message_bytes=ns.max_message_bytes,
        max_streams_per_identity=ns.max_streams_per_identity,
        stream_idle_seconds=ns.stream_idle_seconds,
        stream_buffer_bytes=ns.stream_buffer_bytes,
        sqlite_busy_timeout_ms=ns.sqlite_busy_timeout_ms,
        pg_lock_timeout_ms=ns.pg_lock_timeout_ms,
        checkpoint_interval_ms=ns.checkpoint_interval_ms,
        checkpoint_every=ns.checkpoint_every,
        log_origin=ns.log_origin,
        release_refresh=release_refresh,
    )
    _check_listen_env(config)
    workers = ns.workers if ns.workers is not None else int(os.environ.get("ANSHIN_WORKERS", "1"))
    if workers > 1 and config.listen.rpartition(":")[2] == "0":
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"serve: --workers {workers} share one port: {config.listen} asks for any free one",
                "give --listen (ANSHIN_LISTEN) a fixed port, e.g. 127.0.0.1:50051",
            )
        )
    if workers > 1 and config.console_listen:
        # The console is one Starlette app in one serving process (its
        # sessions' revocations and its replay slot live in that process);
        # N workers would each bind it, or one would serve it unannounced.
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                "serve: --console-listen (ANSHIN_CONSOLE_LISTEN) is served by one process: "
                f"not with --workers {workers}",
                "serve the console from a `serve --workers 1` process (docs/analysts.md, Console)",
            )
        )
    if config.console_listen and config.console_replay_rules:
        # A candidate the replay page offers must load now, not fail an analyst later.
        problems = _candidate_problems(config.console_replay_rules)
        if problems:
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    "serve: --console-replay-rules (ANSHIN_CONSOLE_REPLAY_RULES): "
                    + "; ".join(problems),
                    "name directories whose rules load (`anshin rules validate DIR`)",
                )
            )
    if creating:
        from server.store.url import migrate_url, schema_version

        if not schema_version(config.db):
            print(f"anshin: first run: {migrate_url(config.db, create=True)}", file=sys.stderr)
    try:
        require_database(config.db)
    except StateError as exc:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"serve: {exc}",
                "check --db (ANSHIN_DB) and --state-dir (ANSHIN_STATE_DIR): "
                "docs/operations.md, Keys",
            )
        ) from None
    configure_logging(config.log_level)
    if workers > 1:
        from server.workers import run_workers

        return run_workers(config, workers)
    import asyncio  # here: every command imports this module to build its parser

    asyncio.run(serve(config))
    return 0


# Each address serve listens on: its flag (checked by argparse) and its variable.
_LISTEN = (
    ("listen", "--listen", "ANSHIN_LISTEN"),
    ("metrics_listen", "--metrics-listen", "ANSHIN_METRICS_LISTEN"),
    ("console_listen", "--console-listen", "ANSHIN_CONSOLE_LISTEN"),
)


def _check_listen_env(config: Any) -> None:
    """The addresses to listen on that came from the environment (the flags'
    were checked by ``listen_address``): a usage error naming the variable,
    before anything binds."""
    for attr, flag, env in _LISTEN:
        value = getattr(config, attr)
        problem = listen_problem(value) if value else None
        if problem is not None:
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    f"serve: {env} (or {flag}): {problem}",
                    f"set {env} (or give {flag}) as HOST:PORT, the port from 1 to 65535 "
                    "(0: any free port)",
                )
            )


def _candidate_problems(dirs: tuple[Path, ...]) -> list[str]:
    """Why each ``--console-replay-rules`` directory that does not load does not."""
    from rules.load import RulesError, load_rules

    problems: list[str] = []
    for directory in dirs:
        try:
            load_rules(directory)
        except RulesError as exc:  # named by its directory: there may be several
            message = str(exc)
            problems.append(message if str(directory) in message else f"{directory}: {message}")
        except OSError as exc:  # unreadable files: permissions, I/O
            problems.append(f"{directory}: {exc.strerror or exc}")
    return problems


def first_run(ns: argparse.Namespace) -> bool:
    """``serve --init``: a container's first start, like ``make run``'s: make the
    state directory with ``anshin init`` if it has never been made (the
    database is created after the configuration is read)."""
    from server.state_init import StateLayout, init_state

    raw = ns.state_dir or os.environ.get("ANSHIN_STATE_DIR")
    if not raw:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                "serve --init: needs a state directory",
                "give --state-dir (or ANSHIN_STATE_DIR)",
            )
        )
    layout = StateLayout(Path(raw))
    if not layout.initialised():
        hosts = [h for h in os.environ.get("ANSHIN_TLS_HOSTS", "").split(",") if h.strip()]
        init_state(layout.root, hosts=[h.strip() for h in hosts])
        print(f"anshin: first run: initialised {layout.root} (anshin init)", file=sys.stderr)
        return True
    return False


def add_parser(sub: Any) -> None:
    s = sub.add_parser("serve", help="serve the gRPC API")
    s.add_argument(
        "--state-dir",
        type=nonempty_path,
        help="directory of the keys (and, if made by `anshin init`, TLS, auth config, rules, "
        "database) (env ANSHIN_STATE_DIR; default for SQLite: the database's directory)",
    )
    s.add_argument(
        "--log-key-file", type=nonempty_path, help="log-signing key (env ANSHIN_LOG_KEY_FILE)"
    )
    s.add_argument(
        "--phone-key-file", type=nonempty_path, help="phone-hash key (env ANSHIN_PHONE_KEY_FILE)"
    )
    s.add_argument(
        "--init",
        action="store_true",
        help="first run: `anshin init` the state directory if it was never initialised and "
        "create its database if it has none (the container's default)",
    )
    s.add_argument(
        "--listen",
        type=listen_address,
        help="HOST:PORT (env ANSHIN_LISTEN, default 127.0.0.1:50051; port 0: any free port)",
    )
    s.add_argument("--db", help="sqlite:///path.db or postgresql://… (env ANSHIN_DB)")
    s.add_argument(
        "--rules", type=Path, help="rules directory (env ANSHIN_RULES; default built-in)"
    )
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    s.add_argument(
        "--workers", type=int, help="serving processes sharing the port (env ANSHIN_WORKERS)"
    )
    s.add_argument(
        "--bulk-workers",
        type=int,
        help="processes judging bulk-ingestion batches (env ANSHIN_BULK_WORKERS; 0 = inline)",
    )
    s.add_argument("--tls-cert", type=Path, help="server certificate, PEM (env ANSHIN_TLS_CERT)")
    s.add_argument("--tls-key", type=Path, help="server private key, PEM (env ANSHIN_TLS_KEY)")
    s.add_argument(
        "--client-ca",
        type=Path,
        help="CA for client certificates: require mutual TLS (env ANSHIN_CLIENT_CA)",
    )
    s.add_argument(
        "--auth-config",
        type=Path,
        help="tokens, certificate identities, rate limits (TOML; env ANSHIN_AUTH_CONFIG)",
    )
    s.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback address without TLS or auth (env ANSHIN_INSECURE=1)",
    )
    s.add_argument(
        "--metrics-listen",
        type=listen_address,
        help="Prometheus HOST:PORT, e.g. 127.0.0.1:9464 (env ANSHIN_METRICS_LISTEN)",
    )
    s.add_argument(
        "--console-listen",
        type=listen_address,
        help="serve the analysts' web console on HOST:PORT, e.g. 127.0.0.1:8443 "
        "(env ANSHIN_CONSOLE_LISTEN; docs/analysts.md, Console)",
    )
    s.add_argument(
        "--console-replay-rules",
        action="append",
        type=nonempty_path,
        metavar="DIR",
        help="a candidate rules directory the console's replay page offers (repeatable; "
        "env ANSHIN_CONSOLE_REPLAY_RULES=DIR:DIR); browsers can name no other path",
    )
    s.add_argument("--max-message-bytes", type=int, help="largest request or reply (default 4 MiB)")
    s.add_argument(
        "--max-streams-per-identity",
        type=int,
        metavar="N",
        help="QueryVerdicts/ListReviews streams open at once per caller "
        "(env ANSHIN_MAX_STREAMS_PER_IDENTITY; default 8)",
    )
    s.add_argument(
        "--stream-idle-seconds",
        type=float,
        metavar="S",
        help="end a server stream whose reader took no data for S seconds "
        "(env ANSHIN_STREAM_IDLE_SECONDS; default 30)",
    )
    s.add_argument(
        "--stream-buffer-bytes",
        type=int,
        metavar="BYTES",
        help="read-ahead all open server streams share "
        "(env ANSHIN_STREAM_BUFFER_BYTES; default 16 MiB)",
    )
    s.add_argument(
        "--sqlite-busy-timeout-ms",
        type=int,
        metavar="MS",
        help="wait this long for a locked SQLite file, then answer UNAVAILABLE "
        "(env ANSHIN_SQLITE_BUSY_TIMEOUT_MS; default 5000)",
    )
    s.add_argument(
        "--pg-lock-timeout-ms",
        type=int,
        metavar="MS",
        help="PostgreSQL lock_timeout of the store's connections, then UNAVAILABLE "
        "(env ANSHIN_PG_LOCK_TIMEOUT_MS; default 5000; 0 = none)",
    )
    s.add_argument(
        "--checkpoint-interval-ms",
        type=int,
        metavar="MS",
        help="sign a verdict-log checkpoint at least this often while the log is written, "
        "and once after it goes quiet (env ANSHIN_CHECKPOINT_INTERVAL_MS; default 1000, "
        "at most 60000)",
    )
    s.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="also sign one every N entries (env ANSHIN_CHECKPOINT_EVERY; default 1000)",
    )
    s.add_argument(
        "--log-origin",
        metavar="NAME",
        help="the checkpoints' origin line, the log's name that witnesses and receipts pin "
        "(env ANSHIN_LOG_ORIGIN; default anshin/<key id>)",
    )
    s.add_argument(
        "--refresh-releases",
        metavar="INTERVAL",
        help="refresh the release feeds every INTERVAL (6h, 30m, 1d; env ANSHIN_REFRESH_RELEASES; "
        "default off) into the rules directory and swap them in (docs/operations.md)",
    )
    s.add_argument(
        "--refresh-sources",
        action="append",
        metavar="NAME[,NAME]",
        help="feeds to refresh (env ANSHIN_REFRESH_SOURCES; default all: "
        "bcd, chrome, mozilla, eol-release-data, eol)",
    )
    s.add_argument(
        "--feed-base-url",
        action="append",
        metavar="SOURCE=URL",
        help="fetch a feed from a mirror (env ANSHIN_FEED_BASE_URLS=SOURCE=URL,...)",
    )
    s.set_defaults(func=run)
