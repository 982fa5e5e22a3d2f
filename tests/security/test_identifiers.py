"""Identifiers have one alphabet for every RPC, checked after NFKC."""

from __future__ import annotations

import pytest

from server.errors import Violations
from server.wire.validate import IDENTIFIER_MAX_BYTES, identifier


def _check(value: str) -> tuple[str | None, list[str]]:
    v = Violations()
    out = identifier(v, "customer_id", value)
    return out, [f"{x.field}: {x.description}" for x in v.items]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("\u202eevil", "U+202E"),  # right-to-left override
        ("a\u202ab", "U+202A"),
        ("a\u2066b", "U+2066"),  # isolates
        ("a\u2069b", "U+2069"),
        ("a\u200eb", "U+200E"),  # LRM / RLM
        ("a\u200fb", "U+200F"),
        ("a\u061cb", "U+061C"),  # Arabic letter mark
        ("a\u200bb", "U+200B"),  # zero-width space
        ("a\u200db", "U+200D"),  # zero-width joiner
        ("a\u00adb", "U+00AD"),  # soft hyphen
        ("\ufeffid", "U+FEFF"),  # BOM
        ("a\x85b", "U+0085"),  # NEL (C1)
        ("a\x9bb", "U+009B"),  # C1 CSI
        ("a\u2028b", "U+2028"),  # line separator
        ("a\u2029b", "U+2029"),
        ("a\ue000b", "U+E000"),  # private use
        ("a\u0378b", "U+0378"),  # unassigned
        ("a\u1680b", "U+1680"),  # a space NFKC leaves alone
        # Issue 18: invisible characters Unicode calls letters, symbols or marks.
        ("\u3164\u3164", "U+1160"),  # Hangul filler (NFKC: U+1160)
        ("\uffa0", "U+1160"),  # half-width Hangul filler
        ("a\u115fb", "U+115F"),  # Hangul choseong filler
        ("\u2800", "U+2800"),  # Braille blank
        ("\U0001d159", "U+1D159"),  # musical null notehead (second outside attack)
        ("a\u034f", "U+034F"),  # combining grapheme joiner
        ("id\ufe0f", "U+FE0F"),  # variation selector
        ("line\nbreak", "control"),
        ("tab\there", "control"),
        ("nul\x00", "control"),
        ("del\x7f", "control"),
        ("   ", "spaces only"),
        ("\u3000\u3000", "spaces only"),  # ideographic spaces, NFKC → spaces
        (" c1", "leading or trailing"),
        ("c1 ", "leading or trailing"),
        ("\u0301c1", "starts with a combining mark"),
        ("q\u0300\u0301\u0302", "more than 2 combining marks"),
        ("a" * (IDENTIFIER_MAX_BYTES + 1), "too long: 129 bytes"),
        ("あ" * 43, "too long: 129 bytes"),  # 3 bytes each
    ],
)
def test_refused(value: str, why: str) -> None:
    out, problems = _check(value)
    assert out is None
    assert len(problems) == 1 and problems[0].startswith("customer_id: ")
    assert why in problems[0]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("cust-000123", "cust-000123"),
        ("a" * IDENTIFIER_MAX_BYTES, "a" * IDENTIFIER_MAX_BYTES),  # at the limit
        ("あ" * 42, "あ" * 42),  # 126 bytes
        ("ｃｕｓｔ１", "cust1"),  # full-width: the same identifier as ASCII
        ("ｶﾞｲﾄﾞ", "ガイド"),  # half-width katakana composed
        ("Nguyễn", "Nguyễn"),
        ("e\u0301", "\u00e9"),  # composed
        ("a\u0323\u0302", "\u1ead"),  # two marks on one character: allowed
        ("analyst 1", "analyst 1"),  # an inner space
        ("spiffe://anshin.test/analyst", "spiffe://anshin.test/analyst"),
    ],
)
def test_accepted_in_nfkc(value: str, stored: str) -> None:
    out, problems = _check(value)
    assert problems == []
    assert out == stored


def test_required_and_optional() -> None:
    v = Violations()
    assert identifier(v, "device_id", "", required=False) is None
    assert v.items == []
    assert identifier(v, "device_id", "") is None
    assert [x.description for x in v.items] == ["required"]
