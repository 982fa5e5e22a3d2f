"""``anshin ops reload|status`` (OperatorService) and ``anshin auth new-token``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def cmd_ops(ns: argparse.Namespace) -> int:
    import grpc
    from google.protobuf import json_format

    from anshin.v1 import operator_pb2, operator_pb2_grpc
    from server.client_channel import open_channel

    with open_channel(ns) as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        try:
            if ns.ops_command == "reload":
                resp: Any = stub.ReloadRules(
                    operator_pb2.ReloadRulesRequest(validate_only=ns.validate_only),
                    timeout=ns.timeout,
                )
            else:
                resp = stub.GetStatus(operator_pb2.GetStatusRequest(), timeout=ns.timeout)
        except grpc.RpcError as exc:
            print(f"{ns.server}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(json.dumps(json_format.MessageToDict(resp), ensure_ascii=False, indent=2))
    return 0


def cmd_new_token(ns: argparse.Namespace) -> int:
    from server.security.config import new_token, token_digest

    token = new_token()
    print(f"# give the caller this token (shown once): {token}", file=sys.stderr)
    print("[[tokens]]")
    print(f'identity = "{ns.identity}"')
    print(f'role = "{ns.role}"')
    print(f'sha256 = "{token_digest(token)}"')
    return 0


def cmd_hash_token(ns: argparse.Namespace) -> int:
    from server.security.config import token_digest

    print(token_digest(sys.stdin.readline().strip()))
    return 0


def add_parsers(sub: Any, default_server: str) -> None:
    from server.client_channel import add_client_args
    from server.security.roles import Role

    o = sub.add_parser("ops", help="operate a running server (role: operator)")
    osub = o.add_subparsers(dest="ops_command", required=True)
    r = osub.add_parser("reload", help="reload rules, matrix and release data (like SIGHUP)")
    r.add_argument("--validate-only", action="store_true", help="load and check, do not swap")
    st = osub.add_parser("status", help="rules digest, release data, last reload of one process")
    for p in (r, st):
        p.add_argument("--server", default=default_server)
        p.add_argument("--timeout", type=float, default=60.0)
        add_client_args(p)
        p.set_defaults(func=cmd_ops)

    a = sub.add_parser("auth", help="credentials for the auth config")
    asub = a.add_subparsers(dest="auth_command", required=True)
    n = asub.add_parser("new-token", help="a new bearer token and its [[tokens]] entry")
    n.add_argument("--identity", required=True)
    n.add_argument("--role", required=True, choices=[r.value for r in Role])
    n.set_defaults(func=cmd_new_token)
    h = asub.add_parser("hash-token", help="sha256 of the token read from stdin")
    h.set_defaults(func=cmd_hash_token)
