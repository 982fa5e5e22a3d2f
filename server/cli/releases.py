"""``anshin releases status | import``: release-data freshness; merge vendor feeds."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.cli.args import instant


def import_(ns: argparse.Namespace) -> int:
    from rules.load import BUILTIN_RULES_DIR
    from server.release_import import import_feed

    data_dir = (ns.rules or BUILTIN_RULES_DIR) / "releases"
    s = import_feed(ns.format, [Path(p) for p in ns.files], data_dir, ns.as_of)
    print(
        f"{s.product}: {len(s.added)} added, {s.unchanged} unchanged, "
        f"{len(s.conflicts)} date conflicts (earlier date kept), as_of {s.new_as_of.date()}; "
        f"{s.path} {'written' if s.written else 'unchanged'}"
    )
    for conflict in s.conflicts:
        print(f"  conflict: {conflict}")
    for note in s.notes:
        print(f"  note: {note}")
    return 0


def status(ns: argparse.Namespace) -> int:
    from checks.releases import is_stale
    from rules.load import load_rules

    rules = load_rules(ns.rules)
    now = ns.at or datetime.now(UTC)
    limit = rules.posture.settings.release_stale_after
    stale_any = False
    for name, product in sorted(rules.posture.releases.products.items()):
        stale = is_stale(product, now, limit)
        stale_any |= stale
        count = sum(len(c.releases) for c in product.channels)
        print(
            f"{name:10} as_of {product.as_of.date()}  {count:4} releases  "
            f"{'STALE' if stale else 'fresh'}"
        )
    return 1 if stale_any else 0


def add_parser(sub: Any) -> None:
    r = sub.add_parser("releases", help="release-history data")
    rsub = r.add_subparsers(dest="releases_command", required=True)
    ri = rsub.add_parser("import", help="merge a vendor feed into the release data")
    ri.add_argument("--format", required=True, choices=["mozilla", "chrome", "anshin"])
    ri.add_argument("--rules", type=Path, help="rules directory to update (default built-in)")
    ri.add_argument("--as-of", type=instant, help="the instant the feed is complete for")
    ri.add_argument("files", nargs="+")
    ri.set_defaults(func=import_)
    rs = rsub.add_parser("status", help="as-of date and staleness of each product")
    rs.add_argument("--rules", type=Path)
    rs.add_argument("--at", type=instant)
    rs.set_defaults(func=status)
