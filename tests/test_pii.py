"""Card numbers are recognised wherever they hide; identifiers are not."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from server.pii import PhoneHasher, contains_pan


@pytest.mark.parametrize(
    ("value", "pan"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("4111-1111-1111-1111", True),
        ("token_4111111111111111_x", True),
        ("3782-822463-10005", True),  # Amex 4-6-5
        ("6011 0009 9013 9424 123", True),  # a valid PAN in its first four groups
        ("4111 1111 1111 1111 2025", True),  # PAN followed by a year
        ("4111111111111112", False),  # fails Luhn
        ("411111111111", False),  # 12 digits
        ("20250410123456789", False),  # a 17-digit id failing Luhn
        ("090-1234-5678", False),
        ("01J9Z3Q8X5Y7", False),
        ("", False),
        ("４１１１１１１１１１１１１１１１", True),  # full-width digits
        ("カード ４１１１　１１１１　１１１１　１１１１", True),  # and ideographic spaces
        ("４１１１－１１１１－１１１１－１１１１", True),  # full-width hyphens
        ("٤١١١١١١١١١١١١١١١", True),  # Arabic-Indic digits
        ("４１１１１１１１１１１１１１１２", False),  # fails Luhn in any script
        ("お客様番号 ０９０－１２３４－５６７８", False),
    ],
)
def test_contains_pan(value: str, pan: bool) -> None:
    assert contains_pan(value) is pan


@given(st.uuids())
def test_uuids_are_never_card_numbers(u: uuid.UUID) -> None:
    assert not contains_pan(str(u))


@given(
    st.text(alphabet="abc_-/ ", max_size=8),
    st.integers(10**14, 10**15 - 1),
    st.text(alphabet="xyz_/", max_size=8),
)
def test_any_luhn_valid_16_digit_number_is_found(prefix: str, body: int, suffix: str) -> None:
    number = str(body) + luhn.calc_check_digit(str(body))
    assert contains_pan(prefix + number + suffix)


def test_phone_numbers_normalise_and_hash_with_a_key(tmp_path: Path) -> None:
    hasher = PhoneHasher.from_file(tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    a = hasher.hash(PhoneHasher.normalise("090-1234-5678") or "")
    b = hasher.hash(PhoneHasher.normalise("+81 90 1234 5678") or "")
    assert a == b and "1234" not in a
    other = PhoneHasher(b"another key, 16+ bytes").hash("+819012345678")
    assert other != a
    assert PhoneHasher.normalise("12") is None
    assert PhoneHasher.from_file(tmp_path / "k").hash("+819012345678") == a  # key persists
