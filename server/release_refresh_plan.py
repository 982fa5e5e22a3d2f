"""What a refresh may do with a freshly fetched feed: pure rules, no I/O.

``anshin releases refresh`` (server/release_refresh.py) fetches a feed, and
for each product it holds asks this module

1. whether the feed **went backwards** (:func:`regression`): its newest
   evidence is older than what the same source gave on the last applied
   refresh, or it no longer lists a release it listed then. A stale mirror
   or CDN copy, a truncated export or a wrong URL looks exactly like that;
   merging it would do no harm (a merge never removes anything and ``as_of``
   only moves forward) but it means the refresh is not refreshing, so the
   source is refused with an error an operator sees;
2. how to merge it into the stored file (:func:`plan_product`):

   * a feed **finer** than the file (Chrome VersionHistory builds into the
     major-granularity ``chrome.json``) is reduced to the file's granularity
     first (:func:`coarsen`: each major dated by its earliest build), since a
     merge never changes granularity and a file must list what its
     granularity says;
   * a feed **coarser** than the file (endoflife.date's cycles, which give
     each OS line's first and newest version, into the every-build
     ``ios.json``) cannot show that no build is missing, so it must not move
     ``as_of``: its releases after the file's ``as_of`` are held back, the
     rest (and its metadata: codenames, ends of support) merged;
   * for an OS, a line (channel) the file does not have is taken only if it
     is newer than every line the file has: a new OS version. Older unknown
     lines are scraper noise (release-data's macOS file lists Server app
     versions ``4.1``, ``5.11``), dropped with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from checks.releases import Channel, ProductReleases, Release, format_instant
from server.release_import import MergeOutcome, merge_with_report

__all__ = [
    "GRANULARITY_RANK",
    "PlannedProduct",
    "coarsen",
    "plan_product",
    "regression",
    "version_set",
]

#: How many version components a granularity lists (build: all of them).
GRANULARITY_RANK: Final[Mapping[str, int]] = {"major": 1, "minor": 2, "build": 3}


def _text(key: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in key)


def _order(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def version_set(product: ProductReleases) -> frozenset[str]:
    """Every release a product lists, normalised (``136.0`` and ``136`` are one)."""
    return frozenset(_text(r.key) for ch in product.channels for r in ch.releases)


def regression(
    source: str,
    incoming: ProductReleases,
    last_evidence: datetime | None,
    last_versions: frozenset[str] | None,
    last_applied: datetime | None,
) -> str | None:
    """Why ``incoming`` goes backwards from what ``source`` gave last time; None if it does not.

    The text does not name the product (a caller groups the products a
    reason applies to: bcd's four browsers usually share one).
    """
    when = (
        f" ({format_instant(last_applied.replace(microsecond=0), date_when_midnight=False)})"
        if last_applied
        else ""
    )
    if last_evidence is not None and incoming.as_of < last_evidence:
        newest = format_instant(incoming.as_of, date_when_midnight=False)
        before = format_instant(last_evidence, date_when_midnight=False)
        return (
            f"newest evidence {newest} is older than the {before} {source} gave on the last "
            f"refresh{when}: a stale mirror or cache?"
        )
    if last_versions:
        # Only inside the range the feed still covers: a feed whose oldest
        # entries age out (retention) has not gone backwards, one that lost
        # entries among those it still lists has.
        now = version_set(incoming)
        oldest = min((_order(v) for v in now), default=())
        gone = sorted((v for v in last_versions - now if _order(v) >= oldest), key=_order)
        if gone:
            shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
            return (
                f"no longer lists {len(gone)} release(s) it listed on the last refresh{when}: "
                f"{shown}: a truncated or rewritten feed?"
            )
    return None


def coarsen(product: ProductReleases, granularity: str) -> ProductReleases:
    """``product`` with each channel reduced to ``granularity`` (major: ``157``, minor: ``27.2``).

    A reduced version is dated by its earliest release and noted with it
    (``first stable build 157.0.7730.60``); finer or equal data is returned
    as is.
    """
    rank = GRANULARITY_RANK[granularity]
    if GRANULARITY_RANK[product.granularity] <= rank:
        return product
    channels = []
    for ch in product.channels:
        first: dict[tuple[int, ...], Release] = {}
        for rel in ch.releases:
            key = rel.key[:rank]
            old = first.get(key)
            if old is None or rel.released_at < old.released_at:
                first[key] = rel
        releases = tuple(
            Release(
                _text(key),
                rel.released_at,
                note=(
                    f"first stable build {rel.version}" + (f"; {rel.note}" if rel.note else "")
                    if _text(rel.key) != _text(key)
                    else rel.note
                ),
            )
            for key, rel in sorted(first.items())
        )
        channels.append(replace(ch, releases=releases))
    return replace(product, granularity=granularity, channels=tuple(channels))


@dataclass(frozen=True, slots=True)
class PlannedProduct:
    """The product as it will be written, and what the merge did."""

    product: ProductReleases
    outcome: MergeOutcome | None  # None: a new file (nothing stored yet)
    notes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.outcome is None or self.outcome.changed


def _line_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def plan_product(existing: ProductReleases | None, incoming: ProductReleases) -> PlannedProduct:
    """Merge ``incoming`` (a feed's product, ``as_of`` = its own evidence) into ``existing``.

    See the module docstring for the granularity and new-line rules; the
    merge itself is :func:`server.release_import.merge_with_report` (earlier
    date wins, ``as_of`` only moves forward, nothing is removed).
    """
    if existing is None:
        return PlannedProduct(incoming, None, ("new file",))
    notes: list[str] = []
    want = GRANULARITY_RANK[existing.granularity]
    have = GRANULARITY_RANK[incoming.granularity]
    as_of: datetime | None = None  # the feed's own evidence
    if have > want:
        incoming = coarsen(incoming, existing.granularity)
        notes.append(f"feed reduced from {have_name(have)} to {existing.granularity} granularity")
    elif have < want:
        held = 0
        known = {ch.name for ch in existing.channels}
        channels: list[Channel] = []
        for ch in incoming.channels:
            before = tuple(r for r in ch.releases if r.released_at <= existing.as_of)
            held += len(ch.releases) - len(before)
            if before or ch.name in known:  # no empty new line: it waits for its releases
                channels.append(replace(ch, releases=before))
        incoming = replace(
            incoming,
            channels=_with_default(channels, existing),
            granularity=existing.granularity,
        )
        as_of = existing.as_of
        if held:
            notes.append(
                f"{held} release(s) after as_of held back: the feed is {have_name(have)} "
                f"granularity, the data {existing.granularity} (it cannot show none is missing)"
            )
    if existing.kind == "os":
        lines = [ch.name for ch in existing.channels]
        newest = max((_line_key(n) for n in lines), default=())
        dropped = [
            ch.name
            for ch in incoming.channels
            if ch.name not in lines and ch.releases and _line_key(ch.name) <= newest
        ]
        if dropped:
            incoming = replace(
                incoming,
                channels=_with_default(
                    [ch for ch in incoming.channels if ch.name not in dropped], existing
                ),
            )
            notes.append(
                f"lines {', '.join(sorted(dropped, key=_line_key))} not in the data and older "
                "than its newest line: not taken (not a new OS version)"
            )
    outcome = merge_with_report(existing, incoming, as_of)
    return PlannedProduct(outcome.product, outcome, tuple(notes) + outcome.notes)


def have_name(rank: int) -> str:
    return next(name for name, r in GRANULARITY_RANK.items() if r == rank)


def _with_default(channels: list[Channel], existing: ProductReleases) -> tuple[Channel, ...]:
    # Dropping lines may drop the feed's default; a merge ignores the incoming
    # default anyway (the stored file's metadata wins), but one must exist.
    if not channels:
        return (Channel(existing.default_channel.name, (), default=True),)
    if any(ch.default for ch in channels):
        return tuple(channels)
    first, *rest = channels
    return (replace(first, default=True), *rest)


# How far a feed's clock may run ahead of ours (a feed is published, then
# fetched: its evidence cannot be later than now, give or take clock skew).
FUTURE_SKEW: Final = timedelta(minutes=5)
# How many majors a product may gain between two refreshes. Browsers ship a
# major every four weeks; a refresh interval is hours. A bigger jump is a
# typo or a hostile mirror (a fake "999999999999" would be told to every
# customer as the version to install, and could never be removed, since a
# later feed that lacks it "goes backwards").
MAX_NEW_MAJORS: Final = 3


def implausible(
    incoming: ProductReleases, existing: ProductReleases | None, now: datetime
) -> str | None:
    """Why ``incoming`` cannot be true; None if it can.

    Evidence from the future (a feed's as_of or a release dated after now) and
    a major far beyond the newest already known are refused before anything
    is merged: a merge never removes a release or moves as_of back, so a wrong
    one would stay for good.
    """
    limit = now + FUTURE_SKEW
    if incoming.as_of > limit:
        return (
            f"newest evidence {format_instant(incoming.as_of, date_when_midnight=False)} is "
            "in the future: a feed cannot show what has not happened yet"
        )
    for ch in incoming.channels:
        for rel in ch.releases:
            if rel.released_at > limit:
                return (
                    f"release {rel.version} is dated "
                    f"{format_instant(rel.released_at, date_when_midnight=False)}, in the "
                    "future (a scheduled version is not a release)"
                )
    if existing is not None:
        known = max((r.key[0] for ch in existing.channels for r in ch.releases if r.key), default=0)
        for ch in incoming.channels:
            for rel in ch.releases:
                if rel.key and known and rel.key[0] > known + MAX_NEW_MAJORS:
                    return (
                        f"release {rel.version} jumps more than {MAX_NEW_MAJORS} majors past "
                        f"the newest known ({known}): a typo or a wrong mirror?"
                    )
    return None
