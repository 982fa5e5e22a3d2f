"""Hostile values for the input-guard tests: card numbers in every format the
guard must see, hostile Unicode, and messages filled with them by descriptor."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

# Luhn-valid test numbers: Visa 16, Mastercard 16, Amex 15 (4-6-5), Visa 13, a 19-digit one.
PANS = (
    "4111111111111111",
    "5500005555555559",
    "378282246310005",
    "4222222222222",
    "6304000000000000018",
)


def _groups(pan: str, sizes: tuple[int, ...]) -> list[str]:
    out, i = [], 0
    for size in sizes:
        out.append(pan[i : i + size])
        i += size
    if i < len(pan):
        out.append(pan[i:])
    return [g for g in out if g]


def _fours(pan: str) -> list[str]:
    return _groups(pan, (4,) * 5)


def _translate_digits(text: str, zero: int) -> str:
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)


# name -> how a PAN is written. Every format the guard promises to see.
FORMATS: dict[str, Callable[[str], str]] = {
    "plain": lambda p: p,
    "spaces": lambda p: " ".join(_fours(p)),
    "two_spaces": lambda p: "  ".join(_fours(p)),
    "dashes": lambda p: "-".join(_fours(p)),
    "en_dash": lambda p: "\u2013".join(_fours(p)),
    "em_dash": lambda p: "\u2014".join(_fours(p)),
    "minus_sign": lambda p: "\u2212".join(_fours(p)),
    "dots": lambda p: ".".join(_fours(p)),
    "slashes": lambda p: "/".join(_fours(p)),
    "underscores": lambda p: "_".join(_fours(p)),
    "tabs": lambda p: "\t".join(_fours(p)),
    "newlines": lambda p: "\n".join(_fours(p)),
    "crlf": lambda p: "\r\n".join(_fours(p)),
    "nel_and_line_separator": lambda p: "\u0085\u2028".join(_fours(p)),
    "zero_width_space": lambda p: "\u200b".join(_fours(p)),
    "zero_width_joiner": lambda p: "\u200d".join(_fours(p)),
    "soft_hyphen": lambda p: "\u00ad".join(_fours(p)),
    "bom": lambda p: "\ufeff".join(_fours(p)),
    "rtl_override": lambda p: "\u202e".join(_fours(p)),
    "combining_mark": lambda p: "\u0301".join(_fours(p)),
    "two_digit_groups": lambda p: " ".join(_groups(p, (2,) * 10)),
    "amex_4_6_5": lambda p: " ".join(_groups(p, (4, 6, 5))),
    "mixed_separators": lambda p: " -./_".join(_fours(p)),
    "letter_before": lambda p: "card" + p,
    "letter_after": lambda p: p + "exp",
    "letters_both_sides_grouped": lambda p: "x" + "-".join(_fours(p)) + "y",
    "full_width": lambda p: _translate_digits(" ".join(_fours(p)), 0xFF10).replace(" ", "\u3000"),
    "full_width_hyphens": lambda p: _translate_digits("\uff0d".join(_fours(p)), 0xFF10),
    "arabic_indic": lambda p: _translate_digits(p, 0x0660),
    "devanagari": lambda p: _translate_digits(" ".join(_fours(p)), 0x0966),
    "in_a_sentence": lambda p: f"カード番号は {' '.join(_fours(p))} です",
    # Issue 18, second round: separators outside any list — every character
    # that is not a letter or digit, and letters that render blank or as a dash.
    "ideographic_full_stop": lambda p: "\u3002".join(_fours(p)),
    "halfwidth_full_stop": lambda p: "\uff61".join(_fours(p)),
    "prolonged_sound_mark": lambda p: "\u30fc".join(_fours(p)),
    "halfwidth_prolonged_sound_mark": lambda p: "\uff70".join(_fours(p)),
    "hangul_filler": lambda p: "\u3164".join(_fours(p)),
    "halfwidth_hangul_filler": lambda p: "\uffa0".join(_fours(p)),
    "hangul_choseong_filler": lambda p: "\u115f".join(_fours(p)),
    "braille_blank": lambda p: "\u2800".join(_fours(p)),
    "grapheme_joiner": lambda p: "\u034f".join(_fours(p)),
    "colons": lambda p: ":".join(_fours(p)),
    "commas": lambda p: ",".join(_fours(p)),
    "ideographic_comma": lambda p: "\u3001".join(_fours(p)),
    "tilde_wave_dash": lambda p: "\u301c".join(_fours(p)),
    "plus_and_parens": lambda p: "(" + ")+(".join(_fours(p)) + ")",
    "modifier_letter": lambda p: "\u02bc".join(_fours(p)),
}


def every_card_value() -> list[tuple[str, str, str]]:
    """(format name, PAN, written form) for every PAN in every format."""
    return [(name, pan, fmt(pan)) for pan in PANS for name, fmt in FORMATS.items()]


def leaked(text: str, pans: tuple[str, ...] = PANS) -> list[str]:
    """The PANs ``text`` still holds, whatever separators or scripts were used
    (the text as the guard reads it, every separator removed)."""
    from server.pii import _canonical

    joined = _canonical(text).replace(" ", "")
    return [p for p in pans if p in joined]


HOSTILE_TEXT = (
    "",
    " ",
    "\u202eevil",
    "a\u200bb",
    "\ufeffid",
    "line\nbreak",
    "nel\u0085",
    "\u2028",
    "\u0301start",
    "a\u0301\u0302\u0303\u0304",
    "\x00nul",
    "\x7f",
    "\ud7ff",
    "ｃ１",
    "\U0001f600" * 40,
    "𝟒𝟏𝟏𝟏",
    "a" * 5000,
    "9" * 40,
    "%s%n{0}${jndi:ldap://x}",
    "'; DROP TABLE verdicts; --",
)


def _value_for(field: FieldDescriptor, text: str, number: int) -> Any:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return text
    if t == FieldDescriptor.TYPE_BYTES:
        return text.encode()
    if t == FieldDescriptor.TYPE_BOOL:
        return True
    if t == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values[-1].number
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return float(number)
    if t in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return min(number, 2**31 - 1)
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return min(abs(number), 2**32 - 1)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return abs(number)
    return number


def fill(msg: Message, text: str, *, number: int = 1, repeat: int = 1, depth: int = 0) -> Message:
    """Every field of ``msg`` set, at every depth (up to 4): strings, map keys
    and map values to ``text``, numbers to ``number``, ``repeat`` elements in
    each repeated field. Only one member of each oneof ends up set."""
    descriptor: Descriptor = msg.DESCRIPTOR
    for field in descriptor.fields:
        if field.containing_oneof is not None and field.containing_oneof.fields[0] is not field:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= 4:
                continue
            entry = field.message_type
            target = getattr(msg, field.name)
            if entry.GetOptions().map_entry:
                key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
                for i in range(repeat):
                    key = _value_for(key_field, text + (str(i) if i else ""), number + i)
                    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                        fill(target[key], text, number=number, repeat=repeat, depth=depth + 1)
                    else:
                        target[key] = _value_for(value_field, text, number)
            elif field.is_repeated:
                for _ in range(repeat):
                    fill(target.add(), text, number=number, repeat=repeat, depth=depth + 1)
            elif entry.full_name == "google.protobuf.Timestamp":
                target.seconds = 1744254000  # 2025-04-10T03:00:00Z
            else:
                fill(target, text, number=number, repeat=repeat, depth=depth + 1)
        elif field.is_repeated:
            getattr(msg, field.name).extend([_value_for(field, text, number)] * repeat)
        else:
            setattr(msg, field.name, _value_for(field, text, number))
    return msg


def has_text_field(descriptor: Descriptor, depth: int = 0) -> bool:
    """Whether ``fill`` puts text anywhere in a message of this type."""
    for field in descriptor.fields:
        if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            return True
        if field.type == FieldDescriptor.TYPE_MESSAGE and depth < 4:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                continue
            if has_text_field(field.message_type, depth + 1):
                return True
    return False


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random edit of a serialized message: flip, drop, insert, truncate, duplicate."""
    if not data:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    i = rng.randrange(len(data))
    choice = rng.randrange(5)
    if choice == 0:
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
    if choice == 1:
        return data[:i] + data[i + 1 :]
    if choice == 2:
        return data[:i] + bytes([rng.randrange(256)]) + data[i:]
    if choice == 3:
        return data[:i]
    return data[:i] + data[i : i + rng.randrange(1, 32)] + data[i:]
