"""``anshin auth new-token | hash-token``: caller tokens for the auth config."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def new_token(ns: argparse.Namespace) -> int:
    from server.security.config import new_token, token_digest

    token = new_token()
    print(f"# give the caller this token (shown once): {token}", file=sys.stderr)
    print("[[tokens]]")
    print(f'identity = "{ns.identity}"')
    print(f'role = "{ns.role}"')
    print(f'sha256 = "{token_digest(token)}"')
    return 0


def hash_token(ns: argparse.Namespace) -> int:
    from server.security.config import token_digest

    print(token_digest(sys.stdin.readline().strip()))
    return 0


def add_parser(sub: Any) -> None:
    from server.security.roles import Role

    a = sub.add_parser("auth", help="credentials for the auth config")
    asub = a.add_subparsers(dest="auth_command", required=True)
    n = asub.add_parser("new-token", help="a new bearer token and its [[tokens]] entry")
    n.add_argument("--identity", required=True)
    n.add_argument("--role", required=True, choices=[r.value for r in Role])
    n.set_defaults(func=new_token)
    h = asub.add_parser("hash-token", help="sha256 of the token read from stdin")
    h.set_defaults(func=hash_token)
