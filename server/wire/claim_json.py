"""A logged claim request (protobuf JSON, as ``MessageToDict`` wrote it) as a message, fast.

Replay reads tens of thousands of logged requests a second; ``parse_request``
walks the message descriptors directly for the shapes ``MessageToDict``
writes, and leaves anything else to ``json_format.ParseDict``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from anshin.v1 import claims_pb2


class _Unsupported(Exception):
    """A JSON shape the fast path does not handle: ``json_format`` does it instead."""


_TIMESTAMP = "google.protobuf.Timestamp"
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:Z|([+-])(\d\d):(\d\d))\Z"
)
_PLANS: dict[str, dict[str, Callable[[Any, Any], None]]] = {}


def _scalar(field: Any) -> Callable[[Any], Any]:
    cpp = field.cpp_type
    fd = FieldDescriptor
    if cpp in (fd.CPPTYPE_INT32, fd.CPPTYPE_INT64, fd.CPPTYPE_UINT32, fd.CPPTYPE_UINT64):
        return _int
    if cpp == fd.CPPTYPE_BOOL:
        return _bool
    if cpp == fd.CPPTYPE_STRING and field.type == fd.TYPE_STRING:
        return _str
    raise _Unsupported(field.full_name)


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise _Unsupported(v)
    return int(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Unsupported(v)
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Unsupported(v)
    return v


def _repeated(f: Any) -> bool:
    is_repeated = getattr(f, "is_repeated", None)  # protobuf >= 6: label is gone
    if is_repeated is not None:
        return bool(is_repeated)
    return bool(f.label == FieldDescriptor.LABEL_REPEATED)


_Setter = Callable[[Any, Any], None]


def _plan_of(desc: Any) -> dict[str, _Setter]:
    """JSON key (and field name) → how to set that field from its JSON value,
    per message type."""
    plan = _PLANS.get(desc.full_name)
    if plan is not None:
        return plan
    plan = {}
    for f in desc.fields:
        try:
            setter = _setter(f)
        except _Unsupported:
            setter = _unsupported(f.name)
        plan[f.json_name] = plan[f.name] = setter
    _PLANS[desc.full_name] = plan
    return plan


def _setter(f: Any) -> _Setter:
    name = f.name
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        key_f, value_f = (
            f.message_type.fields_by_name["key"],
            f.message_type.fields_by_name["value"],
        )
        if key_f.type != FieldDescriptor.TYPE_STRING:
            raise _Unsupported(f.full_name)
        conv = _scalar(value_f)

        def set_map(msg: Any, value: Any) -> None:
            target = getattr(msg, name)
            for k, v in value.items():
                target[k] = conv(v)

        return set_map
    if _repeated(f):
        conv = _scalar(f)

        def set_repeated(msg: Any, value: Any) -> None:
            getattr(msg, name).extend([conv(v) for v in value])

        return set_repeated
    if f.message_type is not None and f.message_type.full_name == _TIMESTAMP:

        def set_timestamp(msg: Any, value: Any) -> None:
            ts = getattr(msg, name)
            ts.seconds, ts.nanos = _timestamp(value)

        return set_timestamp
    if f.message_type is not None:

        def set_message(msg: Any, value: Any) -> None:
            sub = getattr(msg, name)
            sub.SetInParent()
            _fill(sub, value)

        return set_message
    if f.enum_type is not None:
        numbers = {v.name: v.number for v in f.enum_type.values}

        def set_enum(msg: Any, value: Any) -> None:
            setattr(msg, name, numbers[value] if isinstance(value, str) else _int(value))

        return set_enum
    conv = _scalar(f)

    def set_scalar(msg: Any, value: Any) -> None:
        setattr(msg, name, conv(value))

    return set_scalar


def _unsupported(name: str) -> _Setter:
    def refuse(msg: Any, value: Any) -> None:
        raise _Unsupported(name)

    return refuse


@lru_cache(maxsize=4096)
def _timestamp(value: Any) -> tuple[int, int]:
    """(seconds, nanos) of an RFC 3339 instant (pure: memoised, claims share instants)."""
    m = _RFC3339.match(value) if isinstance(value, str) else None
    if m is None:
        raise _Unsupported(value)
    y, mo, day, h, mi, sec, frac, sign, oh, om = m.groups()
    seconds = calendar.timegm((int(y), int(mo), int(day), int(h), int(mi), int(sec)))
    if sign:
        offset = int(oh) * 3600 + int(om) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds, int(frac.ljust(9, "0")) if frac else 0


def _fill(msg: Any, d: Any) -> None:
    if not isinstance(d, dict):
        raise _Unsupported(d)
    desc = msg.DESCRIPTOR
    plan = _PLANS.get(desc.full_name) or _plan_of(desc)
    for key, value in d.items():
        plan[key](msg, value)  # an unknown key: KeyError, json_format decides


def parse_request(d: dict[str, Any]) -> claims_pb2.EvaluateClaimRequest:
    """The logged request (protobuf JSON, as ``MessageToDict`` wrote it) as a message.

    A direct walk over the message descriptors for the shapes MessageToDict
    writes (scalars, enums by name, UTC timestamps, nested messages, maps and
    lists of scalars), several times faster than ``json_format.ParseDict``;
    anything else goes through ``ParseDict``. The two give identical messages
    (tests/claims/test_replay.py checks it).
    """
    msg = claims_pb2.EvaluateClaimRequest()
    try:
        _fill(msg, d)
    except (_Unsupported, KeyError, ValueError, TypeError, AttributeError):
        msg = claims_pb2.EvaluateClaimRequest()
        json_format.ParseDict(d, msg, ignore_unknown_fields=True)
    return msg
