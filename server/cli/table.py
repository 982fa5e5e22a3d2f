"""Plain-text tables that fit a width without losing a character.

Terminals give CJK characters two columns (Unicode East Asian Width W/F), so
widths are counted in display columns, not in code points. Columns marked
``keep`` (ids, amounts, instants: what is pasted into the next command) are
never broken; the other columns wrap, at spaces where they can. When even the
kept columns do not fit side by side, each row is printed as a block of
``name: value`` lines instead, so nothing is ever cut.

Pure: rows in, lines out; ``output`` decides the width.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

GAP = "  "


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    keep: bool = False  # never wrapped: ids, amounts, instants
    right: bool = False  # numbers line up on the right


def cell_width(text: str) -> int:
    """Display columns of ``text``: two for wide and full-width characters,
    none for combining marks."""
    total = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def _hard_break(word: str, width: int) -> list[str]:
    parts: list[str] = []
    cur, cur_w = "", 0
    for ch in word:
        w = cell_width(ch)
        if cur and cur_w + w > width:
            parts.append(cur)
            cur, cur_w = "", 0
        cur += ch
        cur_w += w
    parts.append(cur)
    return parts


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns: its own line breaks kept,
    broken at spaces, a word longer than a line (or CJK text, which has no
    spaces) broken between characters."""
    width = max(width, 1)
    out: list[str] = []
    for para in text.split("\n"):
        line, line_w = "", 0
        for word in para.split(" "):
            w = cell_width(word)
            if line and line_w + 1 + w <= width:
                line, line_w = f"{line} {word}", line_w + 1 + w
                continue
            if line:
                out.append(line)
            if w <= width:
                line, line_w = word, w
            else:
                *full, line = _hard_break(word, width)
                out.extend(full)
                line_w = cell_width(line)
        out.append(line)
    return out


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


def _fit(natural: list[int], columns: Sequence[Column], width: int) -> list[int] | None:
    """Column widths within ``width``: kept columns at their natural width, the
    space left shared by the others (none narrower than 8 or its header word);
    None when that is impossible."""
    budget = width - len(GAP) * (len(columns) - 1)
    widths = list(natural)
    if sum(widths) <= budget:
        return widths
    flexible = [i for i, c in enumerate(columns) if not c.keep]
    fixed = sum(w for i, w in enumerate(widths) if i not in flexible)
    floors = {i: min(natural[i], max(8, cell_width(columns[i].name))) for i in flexible}
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
            lines = [value] if c.keep else wrap(value, room)
            for k, line in enumerate(lines):
                head = _pad(c.name, label, False) if k == 0 else " " * label
                out.append(f"{head}  {line}".rstrip())
    return out


def layout(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """The table as lines of at most ``width`` columns (a kept value longer
    than the whole width excepted: it is printed whole, on its own line)."""
    widths = _fit(_natural(columns, rows), columns, width)
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
