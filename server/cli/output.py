"""``-o table|json|csv|yaml``: how every command that prints data prints it.

* ``table`` (the default): for people; wraps to the terminal's width
  (``$COLUMNS``, else 80 when piped) and never cuts an id or an amount
  (``server.cli.table``).
* ``json``: the protobuf JSON mapping of the reply, with one choice of options
  everywhere (``message_dict``): lowerCamelCase field names, enums by name,
  64-bit integers as strings, timestamps in RFC 3339 UTC, and fields at their
  default value printed rather than left out (so ``payableYen`` is there when
  it is ``"0"``). A list is one JSON array, streamed.
* ``yaml``: the same document as YAML (a list: one sequence, streamed).
* ``csv``: the table's columns, values whole, with a header row.

``--json``, where a command had it, still means ``-o json`` (hidden from
``--help`` where it is kept only for old scripts). An empty list prints
nothing on stdout as a table (the count on stderr says so), ``[]`` as json
and yaml, the header alone as csv.

A command whose data is not a protobuf message (``replay``, ``log verify``,
``releases status``, ``rules validate``, the ``events ingest`` summary) prints
its own document for json and yaml (``emit_doc``), and its list (changed
claims, products, problems, rejected lines) for csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.cli.table import Column, layout

if TYPE_CHECKING:
    from google.protobuf.message import Message

FORMATS = ("table", "json", "csv", "yaml")


def add_output_arg(
    parser: argparse.ArgumentParser,
    *,
    legacy_json: bool = False,
    hide_legacy: bool = False,
    default: str = "table",
    extra: tuple[str, ...] = (),
) -> None:
    """``-o/--output`` (and ``--json``, kept as its alias where it existed;
    ``hide_legacy``: kept for old scripts only, not shown by ``--help``).
    ``extra``: a format of this command's own (``log checkpoints``: jsonl)."""
    parser.add_argument(
        "-o",
        "--output",
        choices=FORMATS + extra,
        default=default,
        help=f"output format; default {default}",
    )
    if legacy_json:
        parser.add_argument(
            "--json",
            dest="output",
            action="store_const",
            const="json",
            help=argparse.SUPPRESS if hide_legacy else "same as -o json",
        )


def message_dict(msg: Message) -> dict[str, Any]:
    """A reply in the protobuf JSON mapping, as every command prints it."""
    from google.protobuf import json_format  # here: the offline commands print no message

    return json_format.MessageToDict(msg, always_print_fields_with_no_presence=True)


def width() -> int:
    """The columns every command prints to: ``$COLUMNS``, else the terminal's,
    else 80. A ``$COLUMNS`` that is not a positive number (0, -5, abc) counts
    as unset: rich would print nothing at all at width 0."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
        return 80


@dataclass(frozen=True, slots=True)
class View:
    """How one kind of item is a table row (and a CSV row)."""

    columns: Sequence[Column]
    row: Callable[[Any], Sequence[str]]


def _yaml(doc: Any) -> str:
    import yaml

    return str(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1 << 16))


def emit_one(
    msg: Message,
    fmt: str,
    *,
    table: Callable[[], None] | View,
    rows: tuple[View, Iterable[Any]] | None = None,
) -> None:
    """One reply: ``table`` (a view of the reply as a one-row table, or a
    function printing the human view) for ``table`` and ``csv``; ``rows``
    (the reply's list, as a view and items: a claim's clauses) for ``csv``
    where the reply is not one row."""
    if fmt == "json":
        print(json.dumps(message_dict(msg), ensure_ascii=False, indent=2))
    elif fmt == "yaml":
        sys.stdout.write(_yaml(message_dict(msg)))
    elif fmt == "csv" and rows is not None:
        emit_rows(rows[1], "csv", rows[0])
    elif isinstance(table, View):
        emit_rows([msg], fmt, table)
    elif fmt == "csv":
        raise ValueError("-o csv: this reply is not a table; use -o json or -o yaml")
    else:
        table()


def emit_rows(
    items: Iterable[Any],
    fmt: str,
    view: View,
    *,
    to_dict: Callable[[Any], dict[str, Any]] = message_dict,
    footer: Callable[[int], str] | None = None,
) -> int:
    """A list, streamed for json, yaml and csv; the number of items."""
    n = 0
    if fmt == "json":
        sys.stdout.write("[")
        for item in items:
            sys.stdout.write(
                ("," if n else "") + "\n" + json.dumps(to_dict(item), ensure_ascii=False)
            )
            n += 1
        sys.stdout.write("\n]\n" if n else "]\n")
    elif fmt == "yaml":
        for item in items:
            sys.stdout.write(_yaml([to_dict(item)]))
            n += 1
        if not n:
            sys.stdout.write("[]\n")
    elif fmt == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow([c.name for c in view.columns])
        for item in items:
            out.writerow(view.row(item))
            n += 1
    else:
        rows = [list(view.row(item)) for item in items]
        n = len(rows)
        if rows:  # an empty list prints nothing, at any width: the footer says so
            print("\n".join(layout(view.columns, rows, width())))
        if footer is not None:
            print(footer(n), file=sys.stderr)
    return n


def emit_doc(
    doc: dict[str, Any],
    fmt: str,
    *,
    text: Callable[[], None],
    rows: tuple[View, Iterable[Any]],
) -> None:
    """A document that is not a protobuf message: itself for json and yaml,
    ``rows`` (its list, as a view and items) for csv, ``text`` for table."""
    if fmt == "json":
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    elif fmt == "yaml":
        sys.stdout.write(_yaml(doc))
    elif fmt == "csv":
        view, items = rows
        emit_rows(items, "csv", view)
    else:
        text()
