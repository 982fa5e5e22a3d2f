"""The console's charts: what they count (pure) and how they are drawn (SVG).

Drawn on the server as SVG inside the page: no script and no chart library
to ship, nothing the content security policy has to allow, readable without
JavaScript and printable; each chart has its numbers in a table beside it.
Colours come from the stylesheet through class names (no inline style).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from .format import JST

OUTCOMES = ("APPROVE", "DENY", "REVIEW")
AGE_BUCKETS = ((1, "< 1 d"), (3, "1–3 d"), (7, "3–7 d"), (14, "7–14 d"), (30, "14–30 d"))
_CAP_NOTE = re.compile(r"limit ¥([\d,]+), used ¥([\d,]+)")


@dataclass(frozen=True, slots=True)
class Claim:
    """What the per-day and clause charts need of a claim entry."""

    recorded: datetime
    policy: str
    outcome: str
    clauses: tuple[str, ...]


@dataclass(slots=True)
class CapUse:
    cap: str
    scope: str
    limit: int
    used: int  # after the payouts seen

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0


# --------------------------------------------------------------------------- counting


def per_day(claims: Iterable[Claim]) -> dict[str, dict[str, Counter[str]]]:
    """policy -> JST day (YYYY-MM-DD) -> outcome -> count, days in order."""
    out: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for c in claims:
        day = c.recorded.astimezone(JST).strftime("%Y-%m-%d")
        out[c.policy][day][c.outcome] += 1
    return {p: dict(sorted(days.items())) for p, days in sorted(out.items())}


def top_clauses(claims: Iterable[Claim], n: int = 10) -> list[tuple[str, int, int]]:
    """(clause, DENY count, REVIEW count) of the clauses that fired most in DENY/REVIEW."""
    deny: Counter[str] = Counter()
    review: Counter[str] = Counter()
    for c in claims:
        if c.outcome == "DENY":
            deny.update(set(c.clauses))
        elif c.outcome == "REVIEW":
            review.update(set(c.clauses))
    total = deny + review
    ranked = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(clause, deny[clause], review[clause]) for clause, _ in ranked]


def queue_ages(recorded: Iterable[datetime], now: datetime) -> list[tuple[str, int]]:
    """Open reviews per age bucket (days waited), every bucket listed."""
    counts = [0] * (len(AGE_BUCKETS) + 1)
    for at in recorded:
        days = (now - at).total_seconds() / 86400
        index = next((i for i, (upper, _) in enumerate(AGE_BUCKETS) if days < upper), None)
        counts[len(AGE_BUCKETS) if index is None else index] += 1
    labels = [label for _, label in AGE_BUCKETS] + ["≥ 30 d"]
    return list(zip(labels, counts, strict=True))


def cap_uses_of_claim(result: dict[str, Any], inputs: dict[str, Any]) -> list[CapUse]:
    """An APPROVE claim's cap scopes: limit, and usage after its reservation.

    The limit and the usage before come from the decision's own cap steps
    (``limit ¥…, used ¥…``), the reservation from what the entry vouches it
    wrote (``inputs.bound.ledger``)."""
    reserved: dict[str, int] = {}
    bound = inputs.get("bound") if isinstance(inputs, dict) else None
    for item in (bound or {}).get("ledger") or []:
        if isinstance(item, list) and len(item) >= 2:
            reserved[str(item[0])] = reserved.get(str(item[0]), 0) + int(item[1])
    uses = []
    for step in result.get("computation") or []:
        name = str(step.get("name", ""))
        m = _CAP_NOTE.search(str(step.get("note", "")))
        if not name.startswith("cap ") or m is None:
            continue
        scope = name[4:]
        limit, before = (int(g.replace(",", "")) for g in m.groups())
        cap = str(step.get("clauseId") or scope.split("/")[0])
        uses.append(CapUse(cap, scope, limit, before + reserved.get(scope, 0)))
    return uses


def cap_uses_of_resolution(result: dict[str, Any]) -> list[CapUse]:
    """An APPROVE resolution's reservations, usage after each."""
    uses = []
    for r in result.get("reservations") or []:
        if r.get("limitYen") in (None, ""):
            continue
        cap = ",".join(r.get("capIds") or []) or str(r.get("scopeKey", "")).split("/")[0]
        used = int(r.get("usedYenBefore") or 0) + int(r.get("amountYen") or 0)
        uses.append(CapUse(cap, str(r.get("scopeKey", "")), int(r["limitYen"]), used))
    return uses


def cap_usage(uses: Iterable[CapUse], per_cap: int = 5) -> dict[str, list[CapUse]]:
    """cap -> its most used scopes (highest usage seen per scope), most used first."""
    best: dict[tuple[str, str], CapUse] = {}
    for u in uses:
        key = (u.cap, u.scope)
        if key not in best or u.used > best[key].used:
            best[key] = u
    out: dict[str, list[CapUse]] = defaultdict(list)
    for u in best.values():
        out[u.cap].append(u)
    return {
        cap: sorted(scopes, key=lambda u: (-u.share, u.scope))[:per_cap]
        for cap, scopes in sorted(out.items())
    }


# --------------------------------------------------------------------------- drawing


@dataclass
class Svg:
    width: int
    height: int
    label: str
    parts: list[str] = field(default_factory=list)

    def rect(self, x: float, y: float, w: float, h: float, cls: str, title: str) -> None:
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
            f'class="{cls}"><title>{escape(title)}</title></rect>'
        )

    def text(self, x: float, y: float, s: str, cls: str = "lbl", anchor: str = "start") -> None:
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(s)}</text>'
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str) -> None:
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{cls}"/>'
        )

    def markup(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'role="img" aria-label="{escape(self.label)}" class="chart">'
            + "".join(self.parts)
            + "</svg>"
        )


def stacked_days(policy: str, days: dict[str, Counter[str]]) -> str:
    """One policy's outcomes per day: a stacked bar per day."""
    width, height, left, bottom, top = 640, 220, 40, 40, 20
    svg = Svg(width, height, f"{policy}: outcomes per day")
    highest = max((sum(c.values()) for c in days.values()), default=0) or 1
    plot_h = height - bottom - top
    slot = (width - left - 10) / max(len(days), 1)
    bar = max(min(slot * 0.7, 40), 2)
    svg.line(left, height - bottom, width - 10, height - bottom, "axis")
    svg.text(left - 6, top + 4, str(highest), "lbl", "end")
    svg.text(left - 6, height - bottom, "0", "lbl", "end")
    every = max(1, len(days) // 8)
    for i, (day, counts) in enumerate(days.items()):
        x = left + i * slot + (slot - bar) / 2
        y = float(height - bottom)
        for outcome in OUTCOMES:
            n = counts.get(outcome, 0)
            if not n:
                continue
            h = n / highest * plot_h
            y -= h
            svg.rect(x, y, bar, h, f"bar {outcome.lower()}", f"{day} {outcome}: {n}")
        if i % every == 0:
            svg.text(x + bar / 2, height - bottom + 16, day[5:], "lbl", "middle")
    return svg.markup()


def hbars(rows: Sequence[tuple[str, Sequence[tuple[str, int]]]], label: str) -> str:
    """Horizontal stacked bars: (row label, [(class, value), …])."""
    width, left, row_h = 640, 120, 26
    height = max(row_h * len(rows) + 20, 40)
    svg = Svg(width, height, label)
    highest = max((sum(v for _, v in parts) for _, parts in rows), default=0) or 1
    plot_w = width - left - 60
    for i, (name, parts) in enumerate(rows):
        y = 10 + i * row_h
        svg.text(left - 8, y + 15, name, "lbl", "end")
        x = float(left)
        for cls, value in parts:
            if not value:
                continue
            w = value / highest * plot_w
            svg.rect(x, y, w, row_h - 8, f"bar {cls}", f"{name} {cls}: {value}")
            x += w
        svg.text(x + 6, y + 15, str(sum(v for _, v in parts)), "lbl")
    return svg.markup()


def cap_bars(cap: str, uses: Sequence[CapUse]) -> str:
    """A cap's most used scopes as a share of its limit, the limit drawn at 100%."""
    width, left, row_h = 640, 20, 34
    height = row_h * len(uses) + 30
    svg = Svg(width, height, f"{cap}: usage against the limit")
    plot_w = width - left - 120
    svg.line(left + plot_w, 4, left + plot_w, height - 4, "limit")
    svg.text(left + plot_w + 4, 14, "100%", "lbl")
    for i, u in enumerate(uses):
        y = 10 + i * row_h
        share = min(u.share, 1.2)
        svg.rect(
            left, y + 12, share * plot_w, row_h - 16, "bar cap", f"{u.scope}: {u.used}/{u.limit}"
        )
        svg.text(left, y + 9, u.scope, "lbl small")
        svg.text(left + share * plot_w + 4, y + 24, f"{u.share:.0%}", "lbl")
    return svg.markup()
