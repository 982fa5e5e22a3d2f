"""anshin.v1.OperatorService: reload the rules (use case reload_rules), report status."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, operator_pb2, operator_pb2_grpc
from server.ruleset_holder import RulesHolder
from server.security.identity import current_caller
from server.usecases.reload_rules import RulesReloader, release_data
from server.version import version


def _ts(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


class OperatorService(operator_pb2_grpc.OperatorServiceServicer):
    def __init__(
        self,
        holder: RulesHolder,
        reloader: RulesReloader,
        *,
        stale_products: Callable[[], list[str]],
        schema_version: Callable[[], int],
        # Background release refresh (server/refresh_task.py): its last attempt
        # per feed and its interval in seconds, for GetStatus; none when off.
        refresh_status: Callable[[], tuple[list[operator_pb2.ReleaseRefresh], int]] | None = None,
        # The verdict log's start-up check, when it failed (None: passed).
        log_integrity: Callable[[], operator_pb2.LogIntegrity | None] = lambda: None,
    ) -> None:
        self._holder = holder
        self._reloader = reloader
        self._stale_products = stale_products
        self._schema_version = schema_version
        self._refresh_status = refresh_status
        self._log_integrity = log_integrity

    async def ReloadRules(
        self, request: operator_pb2.ReloadRulesRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ReloadRulesResponse:
        outcome = await self._reloader.reload_by_request(validate_only=request.validate_only)
        rules = outcome.rules or self._holder.current
        return operator_pb2.ReloadRulesResponse(
            previous_digest=outcome.previous_digest,
            digest=outcome.digest,
            changed=outcome.changed and not request.validate_only,
            directory=str(rules.directory),
            release_data=release_data(rules),
            loaded_at=_ts(outcome.at),
        )

    async def GetStatus(
        self, request: operator_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.GetStatusResponse:
        rules = self._holder.current
        caller = current_caller()
        resp = operator_pb2.GetStatusResponse(
            rules_digest=rules.digest,
            rules_directory=str(rules.directory),
            rules_loaded_at=_ts(self._reloader.loaded_at),
            release_data=release_data(rules),
            stale_products=self._stale_products(),
            reload_failures=self._reloader.failures,
            pid=os.getpid(),
            caller=common_pb2.Caller(identity=caller.identity, role=caller.role),
            schema_version=self._schema_version(),
            server_version=version(),
        )
        if self._refresh_status is not None:  # serve --refresh-releases
            refreshes, interval = self._refresh_status()
            resp.release_refresh.extend(refreshes)
            resp.release_refresh_interval_seconds = interval
        integrity = self._log_integrity()
        if integrity is not None:
            resp.log_integrity.CopyFrom(integrity)
        last = self._reloader.last
        if last is not None:
            resp.last_reload.CopyFrom(
                operator_pb2.ReloadAttempt(
                    at=_ts(last.at),
                    trigger=last.trigger,
                    ok=last.ok,
                    error=last.error,
                    digest=last.digest,
                )
            )
        return resp
