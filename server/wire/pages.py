"""Verdict-log query results as VerdictPage wire bytes, and their page tokens.

A page token is opaque to clients: the seq the next page starts after, bound
(by a digest) to the filters and order it was issued for. Pure functions:
QueryVerdicts runs them off the event loop, on a thread. And the review
queue's items (ListReviews).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from anshin.v1 import verdicts_pb2
from server.errors import Violations
from server.store.records import Row
from server.wire import verdicts as conv

# --------------------------------------------------------------------------- page tokens


def _digest(scope: str, key: tuple[Any, ...]) -> str:
    return hashlib.sha256(orjson.dumps([scope, *key])).hexdigest()[:16]


def encode_token(scope: str, key: tuple[Any, ...], after_seq: int) -> str:
    raw = orjson.dumps({"v": 1, "after": after_seq, "f": _digest(scope, key)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(v: Violations, token: str, scope: str, key: tuple[Any, ...]) -> int | None:
    """The seq a token resumes after; a violation when it is malformed or for other filters."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        d = orjson.loads(raw)
        after = d["after"]
        digest = d["f"]
        if d.get("v") != 1 or not isinstance(after, int) or after < 0:
            raise ValueError
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        v.add("page_token", "not a page token of this service")
        return None
    if digest != _digest(scope, key):
        v.add("page_token", "issued for other filters or another order: repeat them unchanged")
        return None
    return after


# --------------------------------------------------------------------------- pages

# Encoded entries per VerdictPage message at most (besides page_size): under
# gRPC's default 4 MiB message limit whatever the entries hold.
PAGE_BYTES = 3 << 20


def split_pages(rows: Sequence[Row], more: bool, key: tuple[Any, ...]) -> list[bytes]:
    """One batch of rows as encoded VerdictPages of at most PAGE_BYTES each.

    Every page but the batch's last carries the token resuming after it; the
    last carries one only when ``more`` entries follow. No match at all is one
    empty page."""
    pages: list[bytes] = []
    parts: list[bytes] = []  # the page so far, joined once when complete
    size = 0
    last = len(rows) - 1
    entry_parts, prefix = conv.entry_parts, conv.page_entry_prefix
    for i, row in enumerate(rows):
        pieces, n = entry_parts(row)
        parts.append(prefix(n))
        parts += pieces
        size += n + 4
        if i == last or size >= PAGE_BYTES:
            token = encode_token("query", key, int(row[0])) if i < last or more else ""
            parts.append(conv.page_token_field(token))
            pages.append(b"".join(parts))
            parts, size = [], 0
    return pages or [conv.encode_page([], "")]


def page_batch(
    rows: Sequence[Row], size: int, key: tuple[Any, ...]
) -> tuple[list[bytes], int | None]:
    """A batch read with ``limit = size + 1`` as (pages, the seq the next batch
    starts after, or None at the end): the extra row only says more follow."""
    more = len(rows) > size
    rows = rows[:size]
    return split_pages(rows, more, key), int(rows[-1][0]) if more else None


# --------------------------------------------------------------------------- review queue


def review_items(
    rows: Sequence[Row], more: bool, key: tuple[Any, ...]
) -> list[verdicts_pb2.ReviewItem]:
    """Open REVIEW decisions as ReviewItems; the last carries the token
    resuming after it when ``more`` follow."""
    items = []
    last = len(rows) - 1
    for i, row in enumerate(rows):
        missing, review_clauses, computed = conv.review_facts(row[13])
        try:
            claimed = int(conv.claim_request(row[12]).get("amounts", {}).get("lossYen", 0))
        except (ValueError, TypeError, AttributeError, orjson.JSONDecodeError):
            claimed = 0
        items.append(
            verdicts_pb2.ReviewItem(
                decision=conv.entry_pb(row),
                missing_facts=missing,
                review_clause_ids=review_clauses,
                claimed_yen=claimed,
                computed_yen=computed,
                next_page_token=""
                if i == last and not more
                else encode_token("reviews", key, int(row[0])),
            )
        )
    return items
