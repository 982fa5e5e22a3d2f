"""Personal data that must never be stored or logged as such.

- Card numbers: 13–19 digits passing the Luhn check, however they are
  written, are treated as a primary account number and refused
  (:func:`contains_pan`); instruments travel as an opaque token plus the last
  four. ``server/wire/card_guard.py`` applies it to every request at the edge.
- Phone numbers: normalised to E.164 (so 090-1234-5678 and +819012345678 are
  the same number) and replaced by an HMAC-SHA256 under a server key, so
  events about one phone still correlate but the number cannot be read back
  without the key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from itertools import accumulate
from pathlib import Path
from typing import Any

import phonenumbers

PAN_MIN_DIGITS = 13
PAN_MAX_DIGITS = 19

# What separates the digit groups of a written card number is decided by
# what a character is, not by a list of known separators (a list always
# misses one: the ideographic full stop, the prolonged-sound mark, a Hangul
# filler, the Braille blank): after NFKC, every character that is neither a
# letter nor a digit — punctuation, symbols, spaces, controls, format
# characters, combining marks, numbers that are not digits (P*, S*, Z*, C*,
# M*, No, Nl) — is a separator, and so are the letters that render as a blank
# or a dash (below). Only a letter (or the end of the value) ends a number,
# and letters may be glued on either side. Each separator becomes a space
# before the scan, so colons and commas join groups too (docs/security.md,
# "Input guards", lists what this costs in false positives).
_ASCII_SEPARATORS = "".join(chr(c) for c in range(128) if not chr(c).isalnum())
# Letter-category characters that read as nothing or as a dash: every
# modifier letter (Lm: the prolonged-sound marks U+30FC and U+FF70, the
# iteration marks, modifier apostrophes, superscript letters) and the Hangul
# fillers (U+115F, U+1160, U+3164, U+FFA0; NFKC turns the last two into
# U+1160) and the Hangul Jamo fillers of other blocks.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u17b4\u17b5")
_LETTER_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lo"})

_ASCII_TABLE = bytes.maketrans(_ASCII_SEPARATORS.encode("ascii"), b" " * len(_ASCII_SEPARATORS))
_ASCII_DIGITS = b"0123456789"
# Digit groups joined by runs of separators (already turned into spaces).
_CHAIN = re.compile(r"[0-9]+(?: +[0-9]+)*")


_TABLE_CACHE = 16384  # code points remembered (Japanese text needs a few thousand)


def is_separator(char: str) -> bool:
    """Whether ``char`` (already NFKC, not a digit) may sit between digit groups."""
    return char in _BLANK_LETTERS or unicodedata.category(char) not in _LETTER_CATEGORIES


class _UnicodeTable(dict[int, str]):
    """str.translate table for any code point, filled as characters are met:
    a digit of any script (``unicodedata.digit``: Arabic-Indic, Devanagari,
    Ethiopic, …) becomes its ASCII digit, a separator a space, a letter
    stays itself."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        digit = unicodedata.digit(char, None)
        if digit is not None and 0 <= digit <= 9:
            out = str(digit)
        elif is_separator(char):
            out = " "
        else:
            out = char
        if len(self) < _TABLE_CACHE:  # bounded: a request cannot grow it past this
            self[code] = out
        return out


_UNICODE_TABLE = _UnicodeTable()
# The Luhn contribution of a digit in a doubled position.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _canonical(value: str) -> str:
    """ASCII digits separated by spaces where the card number's groups were.

    NFKC first, so compatibility forms are their plain characters (full-width
    "４", "－" and the ideographic space become "4", "-" and " ", circled and
    superscript digits become digits)."""
    if value.isascii():
        return value.encode("ascii").translate(_ASCII_TABLE).decode("ascii")
    return unicodedata.normalize("NFKC", value).translate(_UNICODE_TABLE)


def _chain_holds_pan(groups: list[str]) -> bool:
    """Whether consecutive whole groups of one chain total 13–19 digits and
    pass the Luhn check.

    Whole groups only: digits are never taken from the middle of a group,
    which keeps a run of more than 19 digits (an order number, a timestamp in
    microseconds) from matching by chance."""
    digits = "".join(groups)
    if len(digits) < PAN_MIN_DIGITS:
        return False
    # sums[p][k]: the Luhn sum (mod 10) of digits[:k] when the digits at
    # indexes of parity p are the undoubled ones. A candidate digits[s:e]
    # leaves its last digit undoubled: p = (e - 1) % 2, and it passes when
    # sums[p][e] == sums[p][s].
    sums: tuple[list[int], list[int]] = ([0], [0])
    even_plain = odd_plain = 0
    for index, char in enumerate(digits):
        d = ord(char) - 48
        if index % 2 == 0:
            even_plain, odd_plain = even_plain + d, odd_plain + _DOUBLED[d]
        else:
            even_plain, odd_plain = even_plain + _DOUBLED[d], odd_plain + d
        sums[0].append(even_plain % 10)
        sums[1].append(odd_plain % 10)
    bounds = [0]
    for group in groups:
        bounds.append(bounds[-1] + len(group))
    for j in range(1, len(bounds)):
        end = bounds[j]
        line = sums[(end - 1) % 2]
        for i in range(j - 1, -1, -1):
            length = end - bounds[i]
            if length > PAN_MAX_DIGITS:
                break
            if length >= PAN_MIN_DIGITS and line[end] == line[bounds[i]]:
                return True
    return False


def _short_group_runs(groups: list[str]) -> list[list[str]]:
    """The runs of consecutive groups of at most 19 digits: a longer group can
    be part of no candidate, so it splits the chain (and a run of a million
    digits costs nothing more)."""
    runs: list[list[str]] = [[]]
    for group in groups:
        if len(group) > PAN_MAX_DIGITS:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(group)
    return [run for run in runs if run]


# Chains of more groups than this are checked with whole-buffer operations
# (below), so that a request of a million one-digit groups costs
# milliseconds, not seconds of the event loop.
_LONG_CHAIN_GROUPS = 64
_SPACE_RUN = re.compile(" {2,}")
_SPACE_100 = bytes.maketrans(b" 0123456789", bytes([100] + [0] * 10))
_SPACE_10 = bytes.maketrans(b" 0123456789", bytes([10] + [0] * 10))
_PLAIN_BYTES = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED_BYTES = bytes.maketrans(b"0123456789", bytes(_DOUBLED))
# A prefix-sum residue (0–9) plus 10 at group boundaries: keep the residue at
# boundaries, a marker elsewhere (one marker for starts, another for ends, so
# two non-boundaries never compare equal).
_AT_BOUNDARY_START = bytes([0xFF] * 10 + list(range(10)) + [0xFF] * 236)
_AT_BOUNDARY_END = bytes([0xFE] * 10 + list(range(10)) + [0xFE] * 236)


def _long_chain_holds_pan(chain: str) -> bool:
    """:func:`_chain_holds_pan` for long chains, without a Python loop per
    digit or group: the candidates of each length (13–19) are compared all at
    once by XOR-ing two shifted byte strings as integers."""
    spaced = _SPACE_RUN.sub(" ", chain).encode()
    raw = spaced.replace(b" ", b"")
    n = len(raw)
    if n < PAN_MIN_DIGITS:
        return False
    # Boundary flags over positions 0..n: 10 where a group starts or ends.
    # A digit followed by a space (or the end) ends a group: each byte gets
    # 100 for a space, plus 10 when the next byte is a space; dropping the
    # spaces (100, 110) leaves one byte per digit.
    own = spaced.translate(_SPACE_100)
    nxt = (spaced[1:] + b" ").translate(_SPACE_10)
    ends_of_groups = (int.from_bytes(own) + int.from_bytes(nxt)).to_bytes(len(spaced))
    flags = b"\x0a" + ends_of_groups.translate(None, b"\x64\x6e")
    for parity in (0, 1):  # the undoubled digits' index parity
        contributions = bytearray(n)
        contributions[parity::2] = raw[parity::2].translate(_PLAIN_BYTES)
        contributions[1 - parity :: 2] = raw[1 - parity :: 2].translate(_DOUBLED_BYTES)
        residues = bytes(map((10).__rmod__, accumulate(contributions, initial=0)))
        tagged = (int.from_bytes(residues) + int.from_bytes(flags)).to_bytes(n + 1)
        starts = tagged.translate(_AT_BOUNDARY_START)
        # Ends: boundaries e whose last digit (e - 1) has this parity.
        end_flags = bytearray(flags)
        end_flags[parity::2] = bytes(len(range(parity, n + 1, 2)))
        ends = (int.from_bytes(residues) + int.from_bytes(end_flags)).to_bytes(n + 1)
        ends = ends.translate(_AT_BOUNDARY_END)
        for length in range(PAN_MIN_DIGITS, PAN_MAX_DIGITS + 1):
            if length > n:
                break
            a = int.from_bytes(ends[length:])
            b = int.from_bytes(starts[: n + 1 - length])
            if b"\x00" in (a ^ b).to_bytes(n + 1 - length):
                return True
    return False


# A UUID's hex groups can join into 13+ digits by chance (about one random
# UUID in 400 would then pass for a card number): a UUID-shaped token with a
# hex letter is an identifier, not digits. One of 32 digits is still read.
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_UUID_BYTES = re.compile(_UUID.pattern.encode("ascii"))
_UUID_LENGTH = 36

# The scan costs time in proportion to the value's length at C speed (one
# bytes.translate, or one pass of one regular expression) plus the work on
# the spans of digits and separators that hold 13 digits or more, which the
# edge's digit budget bounds (server/wire/card_guard.py): nothing is done
# per character in Python, so a value of four megabytes costs milliseconds.
#
# ASCII: every digit "0", every letter "x", every separator " "; a span is a
# digit, then any separators and digits, up to a letter or the end.
_ASCII_LETTERS = bytes(c for c in range(128) if chr(c).isalpha())
_ASCII_CLASSES = bytes.maketrans(
    _ASCII_DIGITS + _ASCII_LETTERS + _ASCII_SEPARATORS.encode("ascii"),
    b"0" * 10 + b"x" * len(_ASCII_LETTERS) + b" " * len(_ASCII_SEPARATORS),
)
_ASCII_SPAN = re.compile(rb"0(?: *+0)*+")


@functools.cache
def _unicode_patterns(
    astral: bool = True,
) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """For NFKC text: one digit of any script, a span (a digit, then any
    separators and digits, up to a letter) and a run of separators. Built
    once, on first use (~0.1 s): the digits with a value that are not decimal
    digits (Ethiopic, Kharoshthi, …), and the separators regular expressions
    call word characters (modifier letters, the Hangul fillers, numbers that
    are not digits). ``astral=False``: for text without characters beyond the
    BMP, three times faster (one character class, no alternatives)."""
    digits: list[int] = []
    separators: list[int] = []
    for code in range(0x80, 0x20000):  # no letter, digit or number lies beyond plane 1
        char = chr(code)
        if unicodedata.digit(char, None) is not None:
            if not char.isdecimal():
                digits.append(code)
        elif char.isalnum() and is_separator(char):
            separators.append(code)
    if not astral:
        digits = [c for c in digits if c <= 0xFFFF]
        separators = [c for c in separators if c <= 0xFFFF]
    digit = _any_of(r"\d", digits)
    separator = _any_of(r"\W_", separators)
    return (
        re.compile(digit),
        re.compile(rf"{digit}(?:{separator}*+{digit})*+"),
        re.compile(rf"{separator}+"),
    )


def _any_of(classes: str, codes: list[int]) -> str:
    """A regular expression for one character of ``classes`` or ``codes``.
    Characters beyond the BMP go in an alternative of their own: a class
    holding one is searched range by range, four times slower."""
    bmp = "[" + classes + _class_body([c for c in codes if c <= 0xFFFF]) + "]"
    astral = [c for c in codes if c > 0xFFFF]
    return f"(?:{bmp}|[{_class_body(astral)}])" if astral else bmp


def _patterns_for(text: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The faster patterns when ``text`` has no character beyond the BMP
    (none takes a four-byte UTF-8 sequence, whose lead byte is ≥ 0xF0)."""
    data = text.encode("utf-8", "surrogatepass")
    astral = any(lead in data for lead in (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4"))
    return _unicode_patterns(astral)


def _class_body(codes: list[int]) -> str:
    """A regular-expression character class body for these code points."""
    runs: list[tuple[int, int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in runs
    )


# 〇 (U+3007) is how Japanese writes the digit zero (二〇二五, ５１８〇); Unicode
# files it as a letter-number, not a digit, so it is made one before NFKC.
_IDEOGRAPHIC_ZERO = "\u3007"


def digit_count(value: str) -> int:
    """How many digits ``value`` holds after NFKC (any script, any
    compatibility form: "⑩" is two), at C speed: what the edge's digit budget
    counts (server/wire/card_guard.py)."""
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value.replace(_IDEOGRAPHIC_ZERO, "0"))
        if not value.isascii():
            return len(_patterns_for(value)[0].findall(value))
    data = value.encode("ascii")
    return len(data) - len(data.translate(None, _ASCII_DIGITS))


def _hex_uuids(text: str | bytes, start: int, end: int) -> list[tuple[int, int]]:
    """The UUID-shaped tokens with a hex letter that overlap ``text[start:end]``.
    A span holds no letter, so such a token reaches into it across one of
    its edges or contains it: only the 36 characters around each edge are
    searched."""
    pattern: Any = _UUID_BYTES if isinstance(text, bytes) else _UUID
    found = []
    for edge in (start, end):
        for match in pattern.finditer(text, max(0, edge - _UUID_LENGTH), edge + _UUID_LENGTH):
            token = match.group()
            digits_only = (
                not token.translate(None, b"0123456789-")
                if isinstance(token, bytes)
                else token.replace("-", "").isdecimal()
            )
            if not digits_only and match.end() > start and match.start() < end:
                found.append(match.span())
    return found


def _without_uuids(chain: Any, text: str | bytes, start: int, end: int) -> Any:
    """``chain`` (``text[start:end]``, same length) with the hex UUIDs that
    overlap it replaced by letters, which end a number."""
    letter: Any = b"x" if isinstance(chain, bytes) else "x"
    for a, b in _hex_uuids(text, start, end):
        lo, hi = max(a, start) - start, min(b, end) - start
        chain = chain[:lo] + letter * (hi - lo) + chain[hi:]
    return chain


def _groups_hold_pan(chain: str) -> bool:
    """Whether a chain (ASCII digit groups separated by spaces) holds a PAN."""
    groups = chain.split()
    if sum(map(len, groups)) < PAN_MIN_DIGITS:
        return False
    if len(groups) > _LONG_CHAIN_GROUPS:
        return _long_chain_holds_pan(" ".join(groups))
    return any(_chain_holds_pan(run) for run in _short_group_runs(groups))


def _ascii_holds_pan(data: bytes) -> bool:
    classes = data.translate(_ASCII_CLASSES)
    for span in _ASCII_SPAN.finditer(classes):
        start, end = span.span()
        if end - start < PAN_MIN_DIGITS or classes.count(b"0", start, end) < PAN_MIN_DIGITS:
            continue
        chain = _without_uuids(data[start:end], data, start, end).translate(_ASCII_TABLE)
        if any(_groups_hold_pan(part.decode("ascii")) for part in chain.split(b"x")):
            return True
    return False


def _unicode_holds_pan(text: str) -> bool:
    """For NFKC text with a character outside ASCII."""
    _, span_pattern, separator_run = _patterns_for(text)
    for span in span_pattern.finditer(text):
        start, end = span.span()
        if end - start < PAN_MIN_DIGITS:
            continue
        chain = _without_uuids(text[start:end], text, start, end)
        # Runs of separators → one space, then digits → ASCII digits.
        canonical = separator_run.sub(" ", chain).translate(_UNICODE_TABLE)
        if any(_groups_hold_pan(part) for part in canonical.split("x")):
            return True
    return False


def contains_pan(value: str) -> bool:
    """True when ``value`` carries something that looks like a card number.

    A candidate is one or more consecutive whole digit groups, 13–19 digits
    in all, where the groups are joined by any run of separators — every
    character that is not a letter or a digit after NFKC, and the letters
    that render blank or as a dash (:func:`is_separator`) — and may be glued
    to letters on either side ("card4111…1111x"); a candidate passing the
    Luhn check is a PAN. Digits count in any script: a number typed on a
    Japanese keyboard in full-width digits is the same card number. What it
    cannot see is listed in docs/security.md ("Input guards").
    """
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value.replace(_IDEOGRAPHIC_ZERO, "0"))
        if not value.isascii():
            return _unicode_holds_pan(value)
    data = value.encode("ascii")
    # The common case, cheaply: fewer than 13 digits cannot hold one.
    if len(data) - len(data.translate(None, _ASCII_DIGITS)) < PAN_MIN_DIGITS:
        return False
    return _ascii_holds_pan(data)


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
