"""``anshin releases status | import | refresh``: release-data freshness; merge vendor feeds."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.cli.args import instant, instant_or_date, seconds
from server.cli.exit_codes import Exit
from server.cli.output import View, add_output_arg, emit_doc
from server.cli.table import Column


def import_(ns: argparse.Namespace) -> int:
    from rules.load import BUILTIN_RULES_DIR
    from server.cli.failures import CommandFailed, Failure
    from server.release_import import FeedAsOfError, import_feeds

    data_dir = (ns.rules or BUILTIN_RULES_DIR) / "releases"
    try:
        summaries = import_feeds(
            ns.format, [Path(p) for p in ns.files], data_dir, ns.as_of, force=ns.force
        )
    except FeedAsOfError as exc:
        # A refused --as-of is the operator's call to make, not a crash: one
        # line saying why and what to do, exit 2 like a usage error.
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"releases import: {exc}",
                "import without --as-of, or add --force for a feed fetched complete then",
            )
        ) from None
    except ValueError as exc:  # a feed missing, unreadable or malformed (ReleaseDataError)
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"releases import: {exc}",
                f"give the files --format {ns.format} reads (`anshin releases import --help`; "
                "docs/release-data.md)",
            )
        ) from None
    doc = import_doc(summaries)
    emit_doc(
        doc, ns.output, text=lambda: _print_import(summaries), rows=(IMPORTED, doc["products"])
    )
    return 0


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def import_doc(summaries: Any) -> dict[str, Any]:
    """``releases import`` as a document: one entry per product written or checked."""
    return {
        "products": [
            {
                "product": s.product,
                "added": len(s.added),
                "unchanged": s.unchanged,
                "conflicts": [c.describe() for c in s.conflicts],
                "asOf": _utc(s.new_as_of),
                "path": str(s.path) if s.path is not None else "",
                "written": s.written,
                "notes": list(s.notes),
            }
            for s in summaries
        ]
    }


IMPORTED = View(
    columns=tuple(
        Column(n)
        for n in ("product", "added", "unchanged", "conflicts", "as_of", "path", "written")
    ),
    row=lambda p: [
        p["product"], str(p["added"]), str(p["unchanged"]), str(len(p["conflicts"])),
        p["asOf"], p["path"], str(p["written"]).lower(),
    ],
)  # fmt: skip


def _print_import(summaries: Any) -> None:
    # One line per product: a bcd feed writes chrome, edge, firefox and safari.
    for s in summaries:
        print(
            f"{s.product}: {len(s.added)} added, {s.unchanged} unchanged, "
            f"{len(s.conflicts)} date conflicts (earlier date kept), as_of {s.new_as_of.date()}; "
            f"{s.path} {'written' if s.written else 'unchanged'}"
        )
        for conflict in s.conflicts:
            print(f"  conflict: {conflict.describe()}")
        for note in s.notes:
            print(f"  note: {note}")


def refresh(ns: argparse.Namespace) -> int:
    """Fetch the live feeds into a rules directory (server/release_refresh.py)."""
    import os

    from rules.load import BUILTIN_RULES_DIR
    from server.feed_http import FeedFetcher, FetchPolicy
    from server.release_refresh import (
        BASE_URLS_ENV,
        RefreshError,
        parse_base_urls,
        refresh_releases,
    )

    rules_dir = ns.rules or (
        Path(os.environ["ANSHIN_RULES"]) if os.environ.get("ANSHIN_RULES") else BUILTIN_RULES_DIR
    )
    try:
        bases = parse_base_urls([os.environ.get(BASE_URLS_ENV, ""), *(ns.base_url or [])])
    except ValueError as exc:
        print(f"anshin releases refresh: {exc}", file=sys.stderr)
        return 2
    policy = FetchPolicy(connect_timeout=ns.timeout, read_timeout=ns.timeout, attempts=ns.attempts)
    try:
        with FeedFetcher(policy) as fetcher:
            report = refresh_releases(
                rules_dir, sources=ns.sources, base_urls=bases, fetcher=fetcher
            )
    except (RefreshError, ValueError) as exc:
        print(f"anshin releases refresh: {exc}", file=sys.stderr)
        return 2
    doc = refresh_doc(report)
    emit_doc(doc, ns.output, text=lambda: print_refresh(report), rows=(REFRESHED, _rows(doc)))
    return int(Exit.FAILED) if report.failed else 0


def refresh_doc(report: Any) -> dict[str, Any]:
    """``releases refresh`` as a document: each source, what it did to each product."""
    return {
        "failed": bool(report.failed),
        "sources": [
            {
                "source": o.source,
                "result": o.result,
                "detail": o.detail,
                "products": [
                    {
                        "product": p.product,
                        "added": p.added,
                        "unchanged": p.unchanged,
                        "conflicts": p.conflicts,
                        "asOf": _utc(p.as_of),
                        "written": p.written,
                        "notes": list(p.notes),
                    }
                    for p in o.products
                ],
            }
            for o in report.outcomes
        ],
    }


def _rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """-o csv: one row per source and product (a source that touched none: one row)."""
    return [
        {"source": o["source"], "result": o["result"], "detail": o["detail"]} | p
        for o in doc["sources"]
        for p in (o["products"] or [{}])
    ]


REFRESHED = View(
    columns=tuple(
        Column(n)
        for n in ("source", "result", "detail", "product", "added", "unchanged", "conflicts",
                  "as_of", "written")
    ),
    row=lambda r: [
        r["source"], r["result"], r["detail"], r.get("product", ""), str(r.get("added", "")),
        str(r.get("unchanged", "")), str(r.get("conflicts", "")), r.get("asOf", ""),
        "" if "written" not in r else str(r["written"]).lower(),
    ],
)  # fmt: skip


def print_refresh(report: Any) -> None:
    """One line per source, then one per product it touched (what `ops status` keeps too)."""
    from checks.releases import format_instant

    for o in report.outcomes:
        print(f"{o.source:17} {o.result:13} {o.detail}")
        for p in o.products:
            print(
                f"  {p.product:9} {p.added:3} added {p.unchanged:4} unchanged "
                f"{p.conflicts:2} date conflicts (earlier kept)  "
                f"as_of {format_instant(p.as_of, date_when_midnight=False):27} "
                f"{'written' if p.written else 'unchanged'}"
            )
            for note in p.notes:
                print(f"    note: {note}")


def status(ns: argparse.Namespace) -> int:
    from checks.releases import is_stale
    from rules.load import load_rules

    rules = load_rules(ns.rules)
    now = ns.at or datetime.now(UTC)
    limit = rules.posture.settings.release_stale_after
    products = [
        {
            "product": name,
            "asOf": product.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "releases": sum(len(c.releases) for c in product.channels),
            "stale": is_stale(product, now, limit),
        }
        for name, product in sorted(rules.posture.releases.products.items())
    ]
    doc = {
        "at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "staleAfterDays": limit.days,
        "products": products,
    }
    emit_status(doc, ns.output)
    stale_any = any(p["stale"] for p in products)
    return int(Exit.FAILED) if stale_any else 0  # stale data (exit_codes)


# The as-of instant in UTC, whole: a product's data is complete up to it.
PRODUCTS = View(
    columns=(
        Column("product", keep=True),
        Column("as_of", keep=True),
        Column("releases", keep=True, right=True),
        Column("state", keep=True),
    ),
    row=lambda p: [p["product"], p["asOf"], str(p["releases"]), "STALE" if p["stale"] else "fresh"],
)


def emit_status(doc: dict[str, Any], fmt: str) -> None:
    """``releases status``: one row per product; json/yaml: the document."""
    from server.cli.output import emit_rows

    def table() -> None:
        emit_rows(doc["products"], "table", PRODUCTS)

    emit_doc(doc, fmt, text=table, rows=(PRODUCTS, doc["products"]))


class _SourcesFormatter(argparse.HelpFormatter):
    """``releases refresh --help``: ``{summaries}`` and ``{default_bases}`` in a
    flag's help are each source's, read from server.feed_sources only when the
    help is printed. Importing it imports the HTTP client (httpx, and with it
    rich and click), which every other ``releases`` command would otherwise
    load to build its parser."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text and ("{summaries}" in text or "{default_bases}" in text):
            from server.feed_sources import SOURCE_ORDER, SOURCES

            summaries = "; ".join(f"{n}: {SOURCES[n].summary}" for n in SOURCE_ORDER)
            bases = ", ".join(f"{n}={SOURCES[n].default_base}" for n in SOURCE_ORDER)
            text = text.replace("{summaries}", summaries).replace("{default_bases}", bases)
        return text


def add_parser(sub: Any) -> None:
    r = sub.add_parser("releases", help="release-history data")
    rsub = r.add_subparsers(dest="releases_command", required=True)
    ri = rsub.add_parser("import", help="merge a vendor feed into the release data")
    from server.release_import import FORMATS

    ri.add_argument(
        "--format",
        required=True,
        choices=sorted(FORMATS),
        help="; ".join(f"{name}: {FORMATS[name].summary}" for name in sorted(FORMATS)),
    )
    ri.add_argument("--rules", type=Path, help="rules directory to update (default built-in)")
    ri.add_argument(
        "--as-of",
        type=instant_or_date,
        help="the instant (or a date: JST midnight) the feed is complete for (default: "
        "the feed's own newest evidence; a later one is refused unless --force)",
    )
    ri.add_argument(
        "--force",
        action="store_true",
        help="accept an --as-of later than the feed's newest evidence (only for a feed "
        "fetched complete at that instant)",
    )
    ri.add_argument("files", nargs="+")
    add_output_arg(ri)
    ri.set_defaults(func=import_)
    rr = rsub.add_parser(
        "refresh",
        help="fetch the live vendor feeds over HTTPS and merge them (docs/release-data.md)",
        formatter_class=_SourcesFormatter,
    )
    rr.add_argument(
        "--rules",
        type=Path,
        help="rules directory to update (env ANSHIN_RULES; not the built-in rules)",
    )
    rr.add_argument(
        "--sources",
        action="append",
        metavar="NAME[,NAME]",
        help="only these sources (default all): {summaries}",
    )
    rr.add_argument(
        "--base-url",
        action="append",
        metavar="SOURCE=URL",
        help="fetch SOURCE from a mirror (env ANSHIN_FEED_BASE_URLS=SOURCE=URL,...): "
        "{default_bases}",
    )
    rr.add_argument(
        "--timeout", type=seconds, default=30.0, help="connect / read timeout, seconds (30)"
    )
    rr.add_argument(
        "--attempts", type=int, default=4, help="tries per document on network errors (4)"
    )
    add_output_arg(rr)
    rr.set_defaults(func=refresh)
    rs = rsub.add_parser("status", help="as-of date and staleness of each product")
    rs.add_argument("--rules", type=Path)
    rs.add_argument("--at", type=instant, help="judge staleness at this instant (default now)")
    add_output_arg(rs)
    rs.set_defaults(func=status)
