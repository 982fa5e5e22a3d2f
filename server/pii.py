"""Personal data that must never be stored or logged as such.

- Card numbers: any run of 13–19 digits (spaces or hyphens allowed between
  groups) that passes the Luhn check is treated as a primary account number
  and refused; instruments travel as an opaque token plus the last four.
- Phone numbers: normalised to E.164 (so 090-1234-5678 and +819012345678 are
  the same number) and replaced by an HMAC-SHA256 under a server key, so
  events about one phone still correlate but the number cannot be read back
  without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from pathlib import Path

import phonenumbers
from stdnum import luhn

_DIGIT_RUN = re.compile(r"\d{13,}")
# Whole groups of 3–6 digits joined by single spaces or hyphens, not glued to
# letters or digits on either side ("4111 1111 1111 1111", "3782-822463-10005").
_PRINTED_GROUPS = re.compile(r"(?<![0-9A-Za-z])\d{3,6}(?:[ -]\d{3,6})+(?![0-9A-Za-z])")


def _ascii_digits(value: str) -> str:
    """Compatibility forms as their plain characters (NFKC: full-width "４",
    "－" and the ideographic space become "4", "-" and " "), and any other
    decimal digit (Arabic-Indic "٤", Devanagari "४", …) as its ASCII digit."""
    value = unicodedata.normalize("NFKC", value)
    if value.isascii():
        return value
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in value)


def contains_pan(value: str) -> bool:
    """True when ``value`` carries something that looks like a card number.

    Candidates: a run of exactly 13–19 consecutive digits, or consecutive
    whole groups of 3–6 digits as cards are printed (4-4-4-4, 4-6-5,
    4-4-4-4-3) totalling 13–19 digits; a candidate passing the Luhn check is
    a PAN. Whole groups only, so that identifiers such as UUIDs, whose hex
    groups may happen to contain digit stretches, never match. Digits count
    in any script: a number typed on a Japanese keyboard in full-width digits
    is the same card number.
    """
    if not value.isascii():
        value = _ascii_digits(value)
    for match in _DIGIT_RUN.finditer(value):
        if len(match.group()) <= 19 and luhn.is_valid(match.group()):
            return True
    for match in _PRINTED_GROUPS.finditer(value):
        groups = re.split(r"[ -]", match.group())
        for i in range(len(groups)):
            total = ""
            for count, group in enumerate(groups[i:], start=1):
                total += group
                if len(total) > 19:
                    break
                if count >= 2 and len(total) >= 13 and luhn.is_valid(total):
                    return True
    return False


class PhoneHasher:
    """Keyed hashing of phone numbers (the key lives outside the database)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("phone hash key must be at least 16 bytes")
        self._key = key

    @property
    def key(self) -> bytes:
        """For the bulk worker processes, which must hash exactly as the server does."""
        return self._key

    @staticmethod
    def create_key_file(path: Path) -> None:
        """A new random key (mode 0600); an existing file is never overwritten."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another process made it meanwhile: use theirs
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")

    @staticmethod
    def read_key(path: Path) -> bytes:
        """The key's 32 bytes; ValueError for anything but 64 hex digits."""
        text = path.read_text(encoding="ascii", errors="replace").strip()
        if len(text) != 64:
            raise ValueError(f"{path} is not a phone-hash key (64 hex digits)")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{path} is not a phone-hash key (64 hex digits)") from None

    @classmethod
    def from_file(cls, path: Path) -> PhoneHasher:
        """Load the key, creating a random one (mode 0600) on first use.

        A server binds the key to its database before loading it
        (``server.state.phone_key_secret``), so a lost or swapped key is
        refused rather than replaced."""
        if not path.exists():
            cls.create_key_file(path)
        return cls(cls.read_key(path))

    @staticmethod
    def normalise(number: str) -> str | None:
        """E.164 form, or None when it is not a valid phone number (JP default region)."""
        try:
            parsed = phonenumbers.parse(number, "JP")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(parsed):
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def hash(self, e164: str) -> str:
        digest = hmac.new(self._key, e164.encode(), hashlib.sha256).hexdigest()
        return f"ph1:{digest[:32]}"


def fingerprint(payload: bytes) -> str:
    """Digest of a canonical payload, for idempotency comparison."""
    return hashlib.sha256(payload).hexdigest()
