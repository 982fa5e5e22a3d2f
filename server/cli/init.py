"""``anshin init DIR``: a state directory (keys, local CA and certificates,
one token per role, a rules copy) and what to run next."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def run(ns: argparse.Namespace) -> int:
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


def add_parser(sub: Any) -> None:
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
    i.set_defaults(func=run)
