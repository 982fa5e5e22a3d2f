"""Plain-text tables that fit a width without losing a character.

Terminals give CJK characters two columns (Unicode East Asian Width W/F), so
widths are counted in display columns, not in code points. Columns marked
``keep`` (ids, amounts, instants: what is pasted into the next command) are
never broken; the other columns wrap at spaces or between CJK characters,
and never inside a run of other characters (a word, an instant, a version:
``units``), so a column is never narrower than its longest such run. When the
columns do not fit side by side that way, each row is printed as a block of
``name  value`` lines instead, so nothing is ever cut.

Pure: rows in, lines out; ``output`` decides the width.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

GAP = "  "


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    keep: bool = False  # never wrapped: ids, amounts, instants
    right: bool = False  # numbers line up on the right


# An id marked ``whole`` (a customer id in Japanese, a scope key) is one
# piece whatever its script: it is held between these marks while wrapping,
# which take no column and are gone from the lines ``wrap`` returns.
_OPEN, _CLOSE = "\x01", "\x02"


def whole(text: str) -> str:
    """``text`` (an id) as one piece for ``wrap``: never broken, not between
    CJK characters either; wider than the line, it has a line of its own."""
    return _OPEN + text.replace(" ", _HELD) + _CLOSE


def _plain(line: str) -> str:
    return line.replace(_HELD, " ").replace(_OPEN, "").replace(_CLOSE, "")


def cell_width(text: str) -> int:
    """Display columns of ``text``: two for wide and full-width characters,
    none for combining marks."""
    total = 0
    for ch in text:
        if unicodedata.combining(ch) or ch in (_OPEN, _CLOSE):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


# A line may not start with closing punctuation nor end with opening
# punctuation (a simple kinsoku): these stick to their neighbour.
_CLOSING = set("、。，．・：；？！）」』】〕〉》ー々ぁぃぅぇぉっゃゅょァィゥェォッャュョ)]},.:;!?%")
_OPENING = set("（「『【〔〈《([{")


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def units(word: str) -> list[str]:
    """The pieces a word (no spaces) may be broken into: a run of narrow
    characters (an id, an instant, an amount, a version, an English word) is
    one piece, never broken; CJK text breaks between its characters; an id
    marked ``whole`` is one piece with what it touches."""
    pieces: list[str] = []
    marked = False  # inside an id marked ``whole``
    for ch in word:
        joins = pieces and (
            marked
            or not (_wide(ch) or _wide(pieces[-1][-1]))  # narrow after narrow: same run
            or ch in _CLOSING
            or pieces[-1][-1] in _OPENING
        )
        if joins:
            pieces[-1] += ch
        else:
            pieces.append(ch)
        marked = (marked or ch == _OPEN) and ch != _CLOSE
    return pieces or [""]


# An instant written with a space ("2025-04-12 10:00 JST", "2025-04-14
# 01:00:00+00:00") is one piece too: its spaces are held as NUL while wrapping.
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)?(?: JST| UTC)?"
)
_HELD = "\x00"


def _hold(text: str) -> str:
    return _INSTANT.sub(lambda m: m.group(0).replace(" ", _HELD), text)


def longest_unit(text: str) -> int:
    """The narrowest a column holding ``text`` can be without breaking a piece
    (a long path counts by its parts between ``_SOFT`` places)."""
    return max(
        (
            cell_width(bit)
            for line in _hold(text).split("\n")
            for w in line.split(" ")
            for u in units(w)
            for bit in ([u] if _OPEN in u else _SOFT.split(u))
        ),
        default=0,
    )


# Where a piece wider than its column may break: after "/" or "]", or after
# a "." before a letter (a fact path's dots; not a version's, an amount's
# commas, an instant's colons or an id's hyphens).
_SOFT = re.compile(r"(?<=[/\]])|(?<=\.)(?=[A-Za-z_])")


def _soft(unit: str, width: int) -> list[str]:
    """A piece wider than ``width`` (a long fact path such as
    ``ledger[HNB-L1/customer:…/year:2025].amount_yen``) broken at ``_SOFT``
    places, as a browser breaks a long URL; one without such a place (an id,
    an instant, an amount, a version, a hash, one marked ``whole``) stays whole."""
    if cell_width(unit) <= width or _OPEN in unit:
        return [unit]
    parts: list[str] = []
    for bit in _SOFT.split(unit):
        if parts and cell_width(parts[-1]) + cell_width(bit) <= width:
            parts[-1] += bit
        else:
            parts.append(bit)
    return [p for p in parts if p]


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns: its own line breaks kept,
    broken at spaces or between CJK characters. A piece that is never broken
    (see ``units``) and is wider than ``width`` has a line of its own."""
    width = max(width, 1)
    out: list[str] = []
    for para in _hold(text).split("\n"):
        line, line_w = "", 0
        for word in para.split(" "):
            pieces = [bit for u in units(word) for bit in _soft(u, width)]
            for k, unit in enumerate(pieces):
                sep = " " if k == 0 and line else ""
                w = cell_width(unit)
                if line_w + len(sep) + w <= width or not line:
                    line, line_w = line + sep + unit, line_w + len(sep) + w
                else:
                    out.append(line)
                    line, line_w = unit, w
        out.append(line)
    return [_plain(line) for line in out]


def wrap_phrases(phrases: Sequence[str], width: int, sep: str = "  ") -> list[str]:
    """Phrases (``request 01a…``, ``prev 66…``) joined by ``sep``, each kept
    on one line when it fits on one: a label stays with its value."""
    width = max(width, 1)
    out: list[str] = []
    line = ""
    for phrase in phrases:
        joined = f"{line}{sep}{phrase}" if line else phrase
        if cell_width(joined) <= width:
            line = joined
            continue
        if line:
            out.append(line)
        *full, line = wrap(phrase, width)
        out.extend(full)
    out.append(line)
    return [_plain(line) for line in out]


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - cell_width(text))
    return fill + text if right else text + fill


def _natural(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[int]:
    return [
        max(
            [cell_width(c.name)]
            + [max((cell_width(line) for line in row[i].split("\n")), default=0) for row in rows]
        )
        for i, c in enumerate(columns)
    ]


def _fit(
    natural: list[int], pieces: list[int], columns: Sequence[Column], width: int
) -> list[int] | None:
    """Column widths within ``width``: kept columns at their natural width, the
    space left shared by the others (none narrower than 8 or its header word,
    nor than its longest unbreakable piece); None when that is impossible."""
    budget = width - len(GAP) * (len(columns) - 1)
    widths = list(natural)
    if sum(widths) <= budget:
        return widths
    flexible = [i for i, c in enumerate(columns) if not c.keep]
    fixed = sum(w for i, w in enumerate(widths) if i not in flexible)
    floors = {
        i: max(min(natural[i], max(8, cell_width(columns[i].name))), pieces[i]) for i in flexible
    }
    room = budget - fixed
    if room < sum(floors.values()):
        return None
    # Shrink the widest flexible column, one column at a time, until it fits.
    while sum(widths) > budget:
        i = max(flexible, key=lambda j: widths[j] - floors[j])
        if widths[i] <= floors[i]:
            return None
        widths[i] -= 1
    return widths


def _records(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    label = max(cell_width(c.name) for c in columns)
    out: list[str] = []
    for n, row in enumerate(rows):
        if n:
            out.append("")
        for c, value in zip(columns, row, strict=True):
            room = max(width - label - 2, 20)
            lines = value.split("\n") if c.keep else wrap(value, room)
            for k, line in enumerate(lines):
                head = _pad(c.name, label, False) if k == 0 else " " * label
                out.append(f"{head}  {line}".rstrip())
    return out


def layout(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """The table as lines of at most ``width`` columns (a kept value longer
    than the whole width excepted: it is printed whole, on its own line)."""
    pieces = [max((longest_unit(row[i]) for row in rows), default=0) for i in range(len(columns))]
    widths = _fit(_natural(columns, rows), pieces, columns, width)
    if widths is None:
        return _records(columns, rows, width)
    out = [
        GAP.join(_pad(c.name, w, c.right) for c, w in zip(columns, widths, strict=True)).rstrip(),
        GAP.join("-" * w for w in widths),
    ]
    for row in rows:
        cells = [
            value.split("\n") if c.keep else wrap(value, w)
            for c, value, w in zip(columns, row, widths, strict=True)
        ]
        for k in range(max(len(lines) for lines in cells)):
            out.append(
                GAP.join(
                    _pad(lines[k] if k < len(lines) else "", w, c.right)
                    for c, lines, w in zip(columns, cells, widths, strict=True)
                ).rstrip()
            )
    return out
