"""``anshin replay``: what a candidate rules directory would have decided.

Re-makes every logged claim decision (or those of ``--since``/``--until``,
decision instants, and ``--policy``) from the facts recorded with it, under
the rules in ``--rules DIR``, and prints how many outcomes and amounts
change, by policy and by clause, then the changed claims. ``-o json`` (or
yaml) prints one document instead (every change listed), ``-o csv`` the changed
claims, one row each. The database is opened read-only: nothing is
written. See ``server/usecases/replay.py`` and docs/analysts.md ("Replay").
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from server.cli.args import default_db, instant
from server.cli.output import View, add_output_arg, emit_doc
from server.cli.progress import progress
from server.cli.render import format_instant, yen
from server.cli.table import Column

NO_CASCADE = (
    "Each claim is replayed on the cap usage recorded at its decision: a changed "
    "payout is not carried into later claims' cap usage (no cascade)."
)


def run(ns: argparse.Namespace) -> int:
    from rules.load import load_rules
    from server.clock import to_us
    from server.usecases.replay import replay

    ns.db = ns.db or default_db()  # here, not as --db's default: it may import server.config
    rules = load_rules(ns.rules)
    since_us = to_us(ns.since) if ns.since else None
    until_us = to_us(ns.until) if ns.until else None

    start = time.perf_counter()
    with progress("replay", unit="claims", quiet=ns.quiet) as bar:
        tally = replay(
            ns.db,
            rules,
            since_us=since_us,
            until_us=until_us,
            policy=ns.policy,
            workers=ns.workers,
            on_total=bar.set_total,
            on_progress=bar.update,
        )
    elapsed = time.perf_counter() - start
    seen = tally.replayed + sum(tally.not_replayable.values())
    doc: dict[str, Any] = {
        "db": ns.db,
        "rules": {"dir": str(ns.rules), "digest": rules.digest},
        "window": {
            "since": ns.since.isoformat() if ns.since else None,
            "until": ns.until.isoformat() if ns.until else None,
        },
        "policy": ns.policy,
        **tally.to_json(),
        "cascade": False,
        "elapsed_s": round(elapsed, 3),
        "claims_per_s": round(seen / elapsed) if elapsed > 0 else None,
        # CPU seconds of the replaying processes: the rate a free CPU would give.
        "cpu_s": round(tally.cpu_s, 3),
        "claims_per_cpu_s": round(seen / tally.cpu_s) if tally.cpu_s > 0 else None,
        "notes": [NO_CASCADE],
    }
    for change in doc["changes"]:
        change["recorded_at"] = format_instant(change["recorded_us"], tz=UTC)
    emit(doc, ns.output, show=ns.show)
    return 0


def _fired(change: dict[str, Any]) -> str:
    return " ".join(
        [f"+{x}" for x in change["newly_fired"]] + [f"-{x}" for x in change["no_longer_fired"]]
    )


# -o csv: the changed claims, whole (amounts as plain integers, for a spreadsheet).
CHANGES = View(
    columns=(
        Column("decision_id", keep=True),
        Column("recorded_at", keep=True),
        Column("customer_id", keep=True),
        Column("policy_id"),
        Column("old_outcome"),
        Column("old_payable_yen", right=True),
        Column("new_outcome"),
        Column("new_payable_yen", right=True),
        Column("clauses"),
    ),
    row=lambda c: [
        c["decision_id"],
        c["recorded_at"],
        c["customer_id"],
        c["policy_id"],
        c["outcome"]["old"],
        str(c["payable_yen"]["old"]),
        c["outcome"]["new"],
        str(c["payable_yen"]["new"]),
        _fired(c),
    ],
)


def emit(doc: dict[str, Any], fmt: str, *, show: int = 50) -> None:
    """A replay's document in ``fmt`` (``show``: changed claims the text lists)."""
    emit_doc(
        doc,
        fmt,
        text=lambda: _print_text(doc, show=show),
        rows=(CHANGES, doc["changes"]),
    )


def _print_text(doc: dict[str, Any], *, show: int) -> None:
    out: list[str] = []
    window = doc["window"]
    scope = (
        ("all decisions" if not (window["since"] or window["until"]) else "decided ")
        + (f"from {window['since']} " if window["since"] else "")
        + (f"before {window['until']}" if window["until"] else "")
    ).strip()
    out.append(
        f"replay of {doc['db']} under {doc['rules']['dir']} (rules digest "
        f"{doc['rules']['digest']}); {scope}; policy {doc['policy'] or 'all'}"
    )
    nr = doc["not_replayable"]
    rate = f"{doc['claims_per_s']:,} claims/s" if doc["claims_per_s"] is not None else "-"
    if doc["claims_per_cpu_s"] is not None:
        rate += f"; {doc['claims_per_cpu_s']:,} per CPU-second"
    changes = doc["changes"]
    outcome_n = sum(1 for c in changes if c["outcome"]["old"] != c["outcome"]["new"])
    amount_n = doc["amount"]["changed"]
    clauses_only = sum(
        1
        for c in changes
        if c["outcome"]["old"] == c["outcome"]["new"] and not c["payable_yen"]["delta"]
    )
    out += [
        f"  replayed        {doc['replayed']:>10,}   ({doc['elapsed_s']:.1f} s, {rate})",
        f"  unchanged       {doc['unchanged']:>10,}",
        f"  changed         {doc['changed']:>10,}   outcome {outcome_n:,}, amount {amount_n:,}, "
        f"fired clauses only {clauses_only:,}",
        f"  not replayable  {nr['total']:>10,}",
    ]
    for r in nr["reasons"]:
        out.append(f"    {r['count']:>8,}  {r['reason']}  (e.g. {', '.join(r['examples'][:2])})")
    if doc["outcome_changes"]:
        out += ["", "outcome changes"]
        for oc in doc["outcome_changes"]:
            out.append(f"  {oc['from']:>7} → {oc['to']:<7} {oc['count']:>10,}")
    if amount_n:
        out += [
            "",
            f"payable amount: {amount_n:,} claim(s) changed, "
            f"{yen(doc['amount']['delta_yen'], signed=True)} in total",
        ]
    if doc["by_policy"]:
        out += [
            "",
            f"  {'policy':<8}{'replayed':>10}{'changed':>9}{'outcome':>9}{'amount':>8}  Δ payable",
        ]
        for pid, t in doc["by_policy"].items():
            out.append(
                f"  {pid:<8}{t['replayed']:>10,}{t['changed']:>9,}{t['outcome_changed']:>9,}"
                f"{t['amount_changed']:>8,}  {yen(t['amount_delta_yen'], signed=True)}"
            )
    if doc["by_clause"]:
        out += ["", f"  {'clause':<12}{'newly fired':>13}{'no longer fired':>17}"]
        for clause, t in doc["by_clause"].items():
            out.append(f"  {clause:<12}{t['newly_fired']:>13,}{t['no_longer_fired']:>17,}")
    if changes:
        listed = changes if show <= 0 else changes[:show]
        more = "" if len(listed) == len(changes) else f" (first {len(listed):,}; --show 0: all)"
        out += ["", f"changed claims: {len(changes):,}{more}"]
        for c in listed:
            fired = _fired(c)
            out.append(
                f"  {c['decision_id']}  {c['recorded_at'][:19]}  {c['customer_id']}  "
                f"{c['policy_id']}  {c['outcome']['old']} {yen(c['payable_yen']['old'])} → "
                f"{c['outcome']['new']} {yen(c['payable_yen']['new'])}"
                + (f"  {fired}" if fired else "")
            )
    out += ["", NO_CASCADE]
    if doc["ledger_reads"]:
        out.append(
            f"{doc['ledger_reads']:,} claims read cap scopes not recorded with them from the "
            "ledger as it was before their decision."
        )
    print("\n".join(out))


def add_parser(sub: Any) -> None:
    """``replay`` on the ``anshin`` sub-command parser."""
    r = sub.add_parser(
        "replay", help="re-decide the logged claims under a candidate rules directory"
    )
    r.add_argument(
        "--db",
        help="sqlite:///path.db or postgresql://… (env ANSHIN_DB; opened read-only)",
    )
    r.add_argument("--rules", type=Path, required=True, help="the candidate rules directory")
    r.add_argument("--since", type=instant, help="decided at or after this instant")
    r.add_argument("--until", type=instant, help="decided before this instant")
    r.add_argument("--policy", help="only claims under this policy (HNB, DCM, …)")
    add_output_arg(r, legacy_json=True, hide_legacy=True)
    r.add_argument(
        "--show",
        type=int,
        default=50,
        help="changed claims the table lists (0: all; json, yaml and csv list all); "
        "default %(default)s",
    )
    r.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes (default 0: one per CPU, at most 4, for 20,000 claims or more)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=run)
