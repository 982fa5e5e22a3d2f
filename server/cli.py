"""The ``anshin`` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_SERVER = os.environ.get("ANSHIN_SERVER", "127.0.0.1:50051")


def instant_arg(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give a UTC offset (e.g. 2025-03-10T09:00:00+09:00)"
        )
    return dt.astimezone(UTC)


def cmd_serve(ns: argparse.Namespace) -> int:
    from server.app import serve
    from server.config import Config
    from server.logs import configure_logging
    from server.state import StateError, require_database

    # Whatever the server creates (database, WAL, keys, imported rules) is for
    # its own user alone.
    os.umask(0o077)
    if ns.init:
        _first_run(ns)
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
        max_message_bytes=ns.max_message_bytes,
        sqlite_busy_timeout_ms=ns.sqlite_busy_timeout_ms,
        pg_lock_timeout_ms=ns.pg_lock_timeout_ms,
    )
    if ns.init:
        from server.store.url import migrate_url, schema_version

        if not schema_version(config.db):
            print(f"anshin: first run: {migrate_url(config.db, create=True)}", file=sys.stderr)
    try:
        require_database(config.db)
    except StateError as exc:
        raise SystemExit(f"anshin serve: {exc}") from None
    configure_logging(config.log_level)
    workers = ns.workers if ns.workers is not None else int(os.environ.get("ANSHIN_WORKERS", "1"))
    if workers > 1:
        from server.workers import run_workers

        return run_workers(config, workers)
    asyncio.run(serve(config))
    return 0


def _first_run(ns: argparse.Namespace) -> None:
    """``serve --init``: a container's first start, like ``make run``'s: make the
    state directory with ``anshin init`` if it has never been made (the
    database is created after the configuration is read)."""
    from server.state_init import StateLayout, init_state

    raw = ns.state_dir or os.environ.get("ANSHIN_STATE_DIR")
    if not raw:
        raise SystemExit("anshin serve --init: needs --state-dir (or ANSHIN_STATE_DIR)")
    layout = StateLayout(Path(raw))
    if not layout.initialised():
        hosts = [h for h in os.environ.get("ANSHIN_TLS_HOSTS", "").split(",") if h.strip()]
        init_state(layout.root, hosts=[h.strip() for h in hosts])
        print(f"anshin: first run: initialised {layout.root} (anshin init)", file=sys.stderr)


def cmd_init(ns: argparse.Namespace) -> int:
    from server.state_init import init_state

    layout = init_state(ns.dir, hosts=ns.host)
    print(f"initialised {layout.root}:")
    print(f"  keys         {layout.log_key}, {layout.phone_key}")
    print(f"  TLS          {layout.server_cert} (CA {layout.ca_cert})")
    print(f"  auth config  {layout.auth_config}; tokens in {layout.root / 'tokens'}/")
    print(f"  rules        {layout.rules}")
    print("next:")
    print(f"  anshin db migrate --create --db sqlite:///{layout.db}")
    print(f"  anshin serve --state-dir {layout.root}")
    print(
        f"  anshin health --server 127.0.0.1:50051 --ca {layout.ca_cert} "
        f"--auth-token-file {layout.root / 'tokens' / 'operator.token'}"
    )
    return 0


def cmd_check_login(ns: argparse.Namespace) -> int:
    from server.client_cli import check_login

    return check_login(ns)


def cmd_events_ingest(ns: argparse.Namespace) -> int:
    from server.ingest_cli import ingest

    return ingest(ns)


def cmd_health(ns: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from server.client_channel import open_channel

    with open_channel(ns) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=ns.service), timeout=ns.timeout)
        except grpc.RpcError as exc:
            print(f"{ns.server}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 2
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    print(status)
    return 0 if resp.status == health_pb2.HealthCheckResponse.SERVING else 1


def cmd_db_migrate(ns: argparse.Namespace) -> int:
    from server.store.url import migrate_url

    os.umask(0o077)
    print(migrate_url(ns.db, create=ns.create))
    return 0


def cmd_releases_import(ns: argparse.Namespace) -> int:
    from rules.load import BUILTIN_RULES_DIR
    from server.release_import import import_feed

    data_dir = (ns.rules or BUILTIN_RULES_DIR) / "releases"
    s = import_feed(ns.format, [Path(p) for p in ns.files], data_dir, ns.as_of)
    print(
        f"{s.product}: {len(s.added)} added, {s.unchanged} unchanged, "
        f"{len(s.conflicts)} date conflicts (earlier date kept), as_of {s.new_as_of.date()}; "
        f"{s.path} {'written' if s.written else 'unchanged'}"
    )
    for conflict in s.conflicts:
        print(f"  conflict: {conflict}")
    for note in s.notes:
        print(f"  note: {note}")
    return 0


def cmd_releases_status(ns: argparse.Namespace) -> int:
    from checks.releases import is_stale
    from rules.load import load_rules

    rules = load_rules(ns.rules)
    now = ns.at or datetime.now(UTC)
    limit = rules.posture.settings.release_stale_after
    stale_any = False
    for name, product in sorted(rules.posture.releases.products.items()):
        stale = is_stale(product, now, limit)
        stale_any |= stale
        count = sum(len(c.releases) for c in product.channels)
        print(
            f"{name:10} as_of {product.as_of.date()}  {count:4} releases  "
            f"{'STALE' if stale else 'fresh'}"
        )
    return 1 if stale_any else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="anshin", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the gRPC API")
    s.add_argument(
        "--state-dir",
        type=Path,
        help="directory of the keys (and, if made by `anshin init`, TLS, auth config, rules, "
        "database) (env ANSHIN_STATE_DIR; default for SQLite: the database's directory)",
    )
    s.add_argument("--log-key-file", type=Path, help="log-signing key (env ANSHIN_LOG_KEY_FILE)")
    s.add_argument(
        "--phone-key-file", type=Path, help="phone-hash key (env ANSHIN_PHONE_KEY_FILE)"
    )
    s.add_argument(
        "--init",
        action="store_true",
        help="first run: `anshin init` the state directory if it was never initialised and "
        "create its database if it has none (the container's default)",
    )
    s.add_argument("--listen", help="HOST:PORT (env ANSHIN_LISTEN, default 127.0.0.1:50051)")
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
        help="Prometheus HOST:PORT, e.g. 127.0.0.1:9464 (env ANSHIN_METRICS_LISTEN)",
    )
    s.add_argument("--max-message-bytes", type=int, help="largest request or reply (default 4 MiB)")
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
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("check-login", help="judge one login's posture (HNB-P1..P3)")
    c.add_argument("--ua", required=True, help="the raw User-Agent")
    c.add_argument(
        "--hint",
        action="append",
        default=[],
        metavar="'Sec-CH-UA-…: value'",
        help="a client-hint header line as received (repeatable)",
    )
    c.add_argument("--at", type=instant_arg, help="login instant (default now)")
    c.add_argument("--customer", default="cli-customer")
    c.add_argument("--device", default="cli-device")
    c.add_argument("--av-product")
    c.add_argument("--av-running", choices=["true", "false"])
    c.add_argument("--av-updated-at", type=instant_arg)
    c.add_argument("--wsc-state", type=lambda s: int(s, 0), help="productState, e.g. 0x061000")
    c.add_argument("--phishwall", choices=["installed", "absent"])
    c.add_argument("--phishwall-version", default="")
    c.add_argument("--phishwall-extension-version", default="")
    c.add_argument(
        "--token",
        default="active",
        choices=["active", "reported_lost", "not_issued", "suspended", "unknown"],
    )
    c.add_argument("--touch-points", type=int)
    c.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        help="call this server (recorded in its log); default %(default)s",
    )
    c.add_argument(
        "--local", action="store_true", help="evaluate in-process with --rules, record nothing"
    )
    c.add_argument("--rules", type=Path)
    c.add_argument("--json", action="store_true", help="print the reply as JSON")
    from server.client_channel import add_client_args

    add_client_args(c)
    c.set_defaults(func=cmd_check_login)

    from server.claim_cli import add_parsers as add_claim_parsers

    add_claim_parsers(sub, DEFAULT_SERVER)  # claim, rules validate
    from server.replay_cli import add_parsers as add_replay_parsers

    add_replay_parsers(sub)  # replay

    from server.log_cli import add_parsers as add_log_parsers

    add_log_parsers(sub)  # log verify | checkpoints | public-key
    from server.verdicts_cli import add_parsers as add_verdicts_parsers

    add_verdicts_parsers(sub, DEFAULT_SERVER)  # verdicts [show], reviews [resolve]

    e = sub.add_parser("events", help="event ingestion")
    esub = e.add_subparsers(dest="events_command", required=True)
    ei = esub.add_parser("ingest", help="stream a JSON-lines file of EventEnvelopes (backfill)")
    ei.add_argument("file")
    ei.add_argument("--server", default=DEFAULT_SERVER)
    ei.add_argument("--batch", type=int, default=500, help="events per stream message")
    ei.add_argument("--timeout", type=float, default=3600)
    ei.add_argument("--show", type=int, default=50, help="rejected lines to list")
    ei.add_argument("--quiet", action="store_true", help="no progress bar")
    add_client_args(ei)
    ei.set_defaults(func=cmd_events_ingest)

    h = sub.add_parser("health", help="ask a server's grpc.health.v1 service")
    h.add_argument("--server", default=DEFAULT_SERVER)
    h.add_argument("--service", default="")
    h.add_argument("--timeout", type=float, default=3.0)
    add_client_args(h)
    h.set_defaults(func=cmd_health)

    from server.ops_cli import add_parsers as add_ops_parsers

    add_ops_parsers(sub, DEFAULT_SERVER)  # ops reload/status, auth new-token

    d = sub.add_parser("db", help="database administration")
    dsub = d.add_subparsers(dest="db_command", required=True)
    m = dsub.add_parser("migrate", help="apply pending schema migrations")
    m.add_argument("--db", default=os.environ.get("ANSHIN_DB", "sqlite:///var/anshin.db"))
    m.add_argument(
        "--create",
        action="store_true",
        help="create the database if it does not exist (without it, a missing one is refused)",
    )
    m.set_defaults(func=cmd_db_migrate)

    i = sub.add_parser(
        "init", help="create a state directory: keys, local CA and certificates, tokens, rules"
    )
    i.add_argument("dir", type=Path)
    i.add_argument(
        "--host",
        action="append",
        default=[],
        help="another name or address for the server certificate (repeatable)",
    )
    i.set_defaults(func=cmd_init)

    r = sub.add_parser("releases", help="release-history data")
    rsub = r.add_subparsers(dest="releases_command", required=True)
    ri = rsub.add_parser("import", help="merge a vendor feed into the release data")
    ri.add_argument("--format", required=True, choices=["mozilla", "chrome", "anshin"])
    ri.add_argument("--rules", type=Path, help="rules directory to update (default built-in)")
    ri.add_argument("--as-of", type=instant_arg, help="the instant the feed is complete for")
    ri.add_argument("files", nargs="+")
    ri.set_defaults(func=cmd_releases_import)
    rs = rsub.add_parser("status", help="as-of date and staleness of each product")
    rs.add_argument("--rules", type=Path)
    rs.add_argument("--at", type=instant_arg)
    rs.set_defaults(func=cmd_releases_status)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return int(ns.func(ns))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a CLI prints one readable line, not a traceback
        if os.environ.get("ANSHIN_DEBUG"):
            raise
        print(f"anshin: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
