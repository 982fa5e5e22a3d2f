"""The bearer token on a client channel (``server.cli.channel.open_channel``).

A module of its own because its classes subclass grpc's: ``channel`` is
imported by every client command's parser, and grpc is imported only when a
command opens a channel (``anshin --help`` and the offline commands need none).
"""

from __future__ import annotations

from typing import Any

import grpc


class BearerToken(grpc.AuthMetadataPlugin):
    """Call credentials: the token on a TLS channel."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def __call__(self, context: Any, callback: Any) -> None:
        callback(self._metadata, None)


class BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the token on a plaintext channel (gRPC sends call credentials over TLS only)."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._header]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)
