"""Request bytes → message, or INVALID_ARGUMENT saying what is malformed.

grpc's own deserializers raise inside grpc, before any handler runs: the
caller saw UNKNOWN with the exception's type, the log a traceback, and the
access log and metrics nothing. The guard (``server/api/interceptors.py``)
registers every method with no deserializer and parses here instead, inside
the call, so a malformed message is one more refused request.

What counts as malformed is decided at the wire level
(``server/wire/strict_decode.py``), shared with the bulk ingest workers.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from server.wire.strict_decode import MAX_DEPTH, Malformed, check, parse

__all__ = ["MAX_DEPTH", "Malformed", "check", "message_class", "parse"]


def message_class(deserializer: Any) -> type[Message] | None:
    """The message class a generated ``Foo.FromString`` deserializer parses,
    or None for anything else (no deserializer, a custom one)."""
    owner = getattr(deserializer, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Message) and deserializer == owner.FromString:
        return owner
    return None
