"""Metrics as docs/operations.md promises them (A21 break 8): every served
method's ``grpc_server_started_total`` from 0 at start-up, reflection v1 as
much as v1alpha; ``anshin_rules_reloads_total`` for each result from 0, before
any reload; the reload series' labels those of the docs table."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import REGISTRY

from server import metrics
from server.api.reflection import V1, V1ALPHA, add_health_and_reflection
from tests.conftest import RunningServer
from tests.e2e.conftest import ROOT


class _Recorder:
    """A server that notes how each service was registered."""

    def __init__(self) -> None:
        self.registered: dict[str, set[str]] = {}
        self.generic = 0

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.registered.setdefault(service, set()).update(handlers)

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        # The generated add_*_to_server functions register their methods both
        # ways; only the registered ones are wrapped at start-up.
        self.generic += len(handlers)


def test_every_standard_service_is_registered_up_front() -> None:
    """Registered methods are wrapped by the guard (and their series made) at
    start-up; a generic handler only at its first call."""
    server = _Recorder()
    add_health_and_reflection(server, ["anshin.v1.PostureService"])
    assert server.registered[V1] == server.registered[V1ALPHA] == {"ServerReflectionInfo"}
    assert {"Check", "Watch", "List"} <= server.registered["grpc.health.v1.Health"]


async def test_reflection_v1_is_counted_from_0(server: RunningServer) -> None:
    for service in (V1, V1ALPHA):
        labels = {
            "grpc_type": "bidi_stream",
            "grpc_service": service,
            "grpc_method": "ServerReflectionInfo",
        }
        assert REGISTRY.get_sample_value("grpc_server_started_total", labels) is not None, service


def test_each_reload_result_is_a_series_from_0() -> None:
    used = set(
        re.findall(
            r'RULES_RELOADS\.labels\("(\w+)"',
            (ROOT / "server/usecases/reload_rules.py").read_text(encoding="utf-8"),
        )
    ) | {"ok", "unchanged"}  # the `"ok" if changed else "unchanged"` call
    assert used <= set(metrics.RELOAD_RESULTS)
    for result in metrics.RELOAD_RESULTS:
        value = REGISTRY.get_sample_value("anshin_rules_reloads_total", {"result": result})
        assert value is not None, result


def _docs_labels(series: str) -> str:
    """The labels column of ``series``'s row in docs/operations.md's metrics table."""
    for line in (ROOT / "docs/operations.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and f"`{series}`" in cells[0]:
            return cells[1]
    raise AssertionError(f"{series} is not in docs/operations.md's metrics table")


def test_the_reload_series_have_the_docs_labels() -> None:
    assert metrics.RULES_RELOADS._labelnames == ("result",)
    assert _docs_labels("anshin_rules_reloads_total").startswith("`result`")
    for result in metrics.RELOAD_RESULTS:
        assert f"`{result}`" in _docs_labels("anshin_rules_reloads_total")
    assert metrics.RULES_RELOAD_FAILURES._labelnames == ()
    assert _docs_labels("anshin_rules_reload_failures_total") == ""
