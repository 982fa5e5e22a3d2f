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
    """The digest of the one token on stdin: the bare token, or new-token's
    stderr line (``# give the caller this token (shown once): anshin_…``).
    Anything else is refused rather than hashed into a digest that matches
    no token."""
    from server.cli.exit_codes import Exit
    from server.cli.failures import CommandFailed, Failure
    from server.security.config import TOKEN_PREFIX, token_digest

    words = sys.stdin.read().split()
    tokens = [w for w in words if w.startswith(TOKEN_PREFIX)]
    if len(tokens) != 1 or (len(words) > 1 and words[0] != "#"):
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"expected one token ({TOKEN_PREFIX}…) on standard input, "
                f"found {len(tokens)} among {len(words)} words",
                "anshin auth hash-token < token.txt   (the token alone, or new-token's "
                "stderr line)",
            )
        )
    print(token_digest(tokens[0]))
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
