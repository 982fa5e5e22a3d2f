"""Build the console from the serving process's parts (called by server/main.py).

The console listens with the gRPC server's transport: the same TLS
certificate and key, the same client CA (then a client certificate is
required), the same auth config; an address beyond loopback without TLS
and auth is refused unless ``--insecure``, as for gRPC. The session key is
random for the process's life (server/console/session.py): a restart ends
every session, so no logged-out session can come back with it. The
candidate rules directories were checked at start (``anshin serve``
refuses a missing or invalid one: server/console/candidates.py).
"""

from __future__ import annotations

from typing import Any

from server.clock import Clock
from server.config import Config
from server.logs import get_logger
from server.ruleset_holder import RulesHolder
from server.security.config import AuthConfig
from server.security.ratelimit import RateLimiter
from server.security.tls import Transport, exposure_warnings
from server.usecases.find_verdicts import FindVerdicts
from server.usecases.prove_entry import ProveEntry
from server.usecases.reviews import Reviews

from .app import build_console
from .server import ConsoleServer
from .session import new_session_key
from .web import ConsoleDeps

log = get_logger("anshin.console")


def console_server(
    config: Config,
    transport: Transport,
    auth: AuthConfig | None,
    store: Any,
    rules: RulesHolder,
    clock: Clock,
    find: FindVerdicts,
    reviews: Reviews,
    prove: ProveEntry,
) -> ConsoleServer:
    listen = config.console_listen
    assert listen is not None
    for warning in exposure_warnings(listen, transport, auth is not None, config.insecure):
        log.warning("console_insecure_configuration", warning=warning)
    deps = ConsoleDeps(
        find=find,
        reviews=reviews,
        prove=prove,
        store=store,
        rules=rules,
        clock=clock,
        db_url=config.db,
        auth=auth,
        session_key=new_session_key(),
        tls=transport.tls,
        replay_dirs=tuple(config.console_replay_rules),
        limiter=RateLimiter(auth.rate_limit) if auth is not None and auth.rate_limits else None,
    )
    return ConsoleServer(build_console(deps), listen, transport)
