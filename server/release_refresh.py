"""``anshin releases refresh``: fetch the live feeds, check them, merge, write atomically.

One run, source by source (server/feed_sources.py, in ``SOURCE_ORDER``):

1. fetch its documents (server/feed_http.py: timeouts, bounded retries,
   conditional requests with the validators remembered in
   ``releases/.feed-cache``, a size cap). All 304: ``not_modified``, nothing
   parsed or written;
2. parse them with the offline importers' pure parsers; a malformed body
   (truncated JSON, a wrong document) is ``refused``;
3. refuse the source if it went backwards from what it gave on the last
   applied refresh (server/release_refresh_plan.py ``regression``);
4. plan every product's merge (``plan_product``) and validate each result
   as the loader will, **before** writing anything of the source;
5. write each changed product file atomically (server/atomic_file.py:
   temp file, fsync, ``os.replace``): every file is whole, old or new;
6. remember the source's validators, evidence and versions (only now: a
   refused or failed source is fetched and judged again next time).

A refused or failed source does not stop the others. ``as_of`` is never
later than a feed's own newest evidence: no fetch-time claims, since a
mirror, a CDN or a replay can serve an old copy of a "live" feed. Runs on
one rules directory are serialised by a lock file beside the data.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from checks.releases import ProductReleases, ReleaseDataError, product_from_dict
from server.atomic_file import write_atomic
from server.feed_http import FeedFetcher, FeedHttpError
from server.feed_sources import SOURCE_ORDER, SOURCES, FeedSource
from server.feed_state import FeedState, SourceState, load_state, save_state
from server.release_import import load_product, render_product
from server.release_refresh_plan import (
    PlannedProduct,
    implausible,
    plan_product,
    regression,
    version_set,
)

__all__ = [
    "BASE_URLS_ENV",
    "LOCK_NAME",
    "ProductChange",
    "RefreshError",
    "RefreshReport",
    "Result",
    "SourceOutcome",
    "parse_base_urls",
    "refresh_releases",
    "resolve_sources",
]

Result = Literal["updated", "unchanged", "not_modified", "refused", "error"]
LOCK_NAME: Final = ".refresh-lock"
#: ``source=URL,source=URL``: base URLs of mirrors (the ``--base-url`` flags win).
BASE_URLS_ENV: Final = "ANSHIN_FEED_BASE_URLS"


class RefreshError(Exception):
    """The refresh cannot run at all (no writable rules directory of its own)."""


@dataclass(frozen=True, slots=True)
class ProductChange:
    product: str
    added: int
    unchanged: int
    conflicts: int
    as_of: datetime
    written: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one source's refresh did. ``detail``: the error, or how it was fetched."""

    source: str
    result: Result
    at: datetime
    detail: str = ""
    products: tuple[ProductChange, ...] = ()
    evidence: Mapping[str, datetime] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result in ("updated", "unchanged", "not_modified")


@dataclass(frozen=True, slots=True)
class RefreshReport:
    directory: Path
    outcomes: tuple[SourceOutcome, ...]

    @property
    def written(self) -> bool:
        return any(p.written for o in self.outcomes for p in o.products)

    @property
    def failed(self) -> tuple[SourceOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)


def parse_base_urls(items: Iterable[str]) -> dict[str, str]:
    """``["bcd=https://mirror/bcd", ...]`` (or one comma-separated string each) -> mapping."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            name, sep, url = part.partition("=")
            name, url = name.strip(), url.strip()
            if not sep or not url:
                raise ValueError(f"base URL {part!r}: expected SOURCE=URL")
            if name not in SOURCES:
                raise ValueError(
                    f"base URL for unknown source {name!r} ({', '.join(SOURCE_ORDER)})"
                )
            out[name] = url
    return out


def resolve_sources(names: Sequence[str] | None) -> tuple[str, ...]:
    """The sources to refresh, in :data:`SOURCE_ORDER` (None or empty: all)."""
    wanted = [n.strip() for item in names or () for n in item.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown} ({', '.join(SOURCE_ORDER)})")
    return tuple(n for n in SOURCE_ORDER if not wanted or n in wanted)


def releases_dir_for(rules_dir: Path) -> Path:
    """``rules_dir/releases``, if a refresh may write it (else :class:`RefreshError`)."""
    from rules.load import BUILTIN_RULES_DIR

    rules_dir = Path(rules_dir)
    if rules_dir.resolve() == BUILTIN_RULES_DIR.resolve():
        raise RefreshError(
            "the built-in rules are the shipped data, generated from the feeds in ../shared/data "
            "(python -m server.release_import rebuild): refresh a rules directory of your own "
            "(--rules DIR; `anshin init` makes one)"
        )
    releases = rules_dir / "releases"
    if not releases.is_dir():
        raise RefreshError(f"{releases}: not a directory (is {rules_dir} a rules directory?)")
    if releases.resolve().is_relative_to(BUILTIN_RULES_DIR.resolve()):
        # A copy whose releases/ is a link into the shipped data would write it.
        raise RefreshError(
            f"{releases} resolves into the built-in rules ({BUILTIN_RULES_DIR}): refresh a "
            "rules directory of your own whose releases/ is a real directory"
        )
    try:  # a real probe: os.access says yes to root on a read-only mount
        fd, probe = tempfile.mkstemp(prefix=".refresh-probe.", dir=releases)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RefreshError(f"{releases}: not writable ({exc.strerror or exc})") from None
    return releases


@contextlib.contextmanager
def _locked(releases: Path) -> Iterator[None]:
    """One refresh at a time per directory (the CLI and a server's background task)."""
    with open(releases / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def refresh_releases(
    rules_dir: Path,
    *,
    sources: Sequence[str] | None = None,
    base_urls: Mapping[str, str] | None = None,
    fetcher: FeedFetcher | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RefreshReport:
    """Refresh ``rules_dir/releases`` from the live feeds (see the module docstring)."""
    releases = releases_dir_for(rules_dir)
    names = resolve_sources(sources)
    bases = dict(base_urls or {})
    own = fetcher is None
    client = fetcher if fetcher is not None else FeedFetcher()
    try:
        with _locked(releases):
            state = load_state(releases)
            before = state
            outcomes = []
            for name in names:
                source = SOURCES[name]
                outcome, state = _refresh_source(
                    source, bases.get(name, source.default_base), releases, state, client, now
                )
                outcomes.append(outcome)
            if state != before:
                save_state(releases, state)
    finally:
        if own:
            client.close()
    return RefreshReport(Path(rules_dir), tuple(outcomes))


def _refresh_source(
    source: FeedSource,
    base: str,
    releases: Path,
    state: FeedState,
    fetcher: FeedFetcher,
    now: Callable[[], datetime],
) -> tuple[SourceOutcome, FeedState]:
    at = now()
    prior = state.source(source.name)

    def out(result: Result, detail: str, **kw: object) -> tuple[SourceOutcome, FeedState]:
        return SourceOutcome(source.name, result, at, detail, **kw), state  # type: ignore[arg-type]

    try:
        fetched = source.fetch(fetcher.get, base, prior.documents)
    except FeedHttpError as exc:
        return out("error", str(exc))
    except ReleaseDataError as exc:  # pagination that loops or breaks
        return out("refused", f"malformed feed: {exc}")
    if fetched.not_modified:
        return out("not_modified", f"{fetched.requests} document(s) not modified (HTTP 304)")
    try:
        parsed = source.parse(fetched.bodies)
    except (ReleaseDataError, ValueError) as exc:
        return out("refused", f"malformed feed, data unchanged: {exc}")
    incoming = tuple(replace(p, sources=(source.provenance(base),)) for p in parsed)
    for p in incoming:
        stored = releases / f"{p.product}.json"
        why_not = implausible(p, load_product(stored) if stored.exists() else None, at)
        if why_not is not None:
            return out("refused", f"implausible feed, data unchanged: {p.product}: {why_not}")
    backwards: dict[str, list[str]] = {}  # reason -> the products it applies to
    for p in incoming:
        why = regression(
            source.name,
            p,
            prior.evidence.get(p.product),
            prior.versions.get(p.product),
            prior.applied_at,
        )
        if why is not None:
            backwards.setdefault(why, []).append(p.product)
    if backwards:
        return out(
            "refused",
            "feed goes backwards, data unchanged: "
            + "; ".join(f"{', '.join(products)}: {why}" for why, products in backwards.items()),
        )
    try:
        planned = [_plan(releases, p) for p in incoming]
    except (ReleaseDataError, ValueError) as exc:
        return out("refused", f"cannot merge, data unchanged: {exc}")
    changes: list[ProductChange] = []
    try:
        for path, text, plan, write in planned:
            if write:
                write_atomic(path, text)
            changes.append(_change(plan, write))
    except OSError as exc:
        return out(
            "error",
            f"writing {path.name}: {exc.strerror or exc}",
            products=tuple(changes),
        )
    documents = {url: v for url, v in prior.documents.items() if url in fetched.unchanged}
    documents.update(fetched.validators)
    new_state = SourceState(
        # A response without validators leaves nothing to ask conditionally with.
        documents={url: v for url, v in documents.items() if v.etag or v.last_modified},
        evidence={**prior.evidence, **{p.product: p.as_of for p in incoming}},
        versions={**prior.versions, **{p.product: version_set(p) for p in incoming}},
        applied_at=at,
    )
    written = any(c.written for c in changes)
    detail = f"{len(fetched.bodies)} document(s) fetched" + (
        f", {len(fetched.unchanged)} not modified" if fetched.unchanged else ""
    )
    return (
        SourceOutcome(
            source.name,
            "updated" if written else "unchanged",
            at,
            detail,
            tuple(changes),
            {p.product: p.as_of for p in incoming},
        ),
        state.with_source(source.name, new_state),
    )


def _plan(releases: Path, incoming: ProductReleases) -> tuple[Path, str, PlannedProduct, bool]:
    path = releases / f"{incoming.product}.json"
    existing = load_product(path) if path.exists() else None
    plan = plan_product(existing, incoming)
    text = render_product(plan.product)
    # Validated exactly as the loader will read it, before anything is written.
    product_from_dict(json.loads(text), origin=path.name)
    write = existing is None or path.read_text(encoding="utf-8") != text
    return path, text, plan, write


def _change(plan: PlannedProduct, written: bool) -> ProductChange:
    o = plan.outcome
    if o is None:
        count = sum(len(ch.releases) for ch in plan.product.channels)
        return ProductChange(
            plan.product.product, count, 0, 0, plan.product.as_of, written, plan.notes
        )
    return ProductChange(
        plan.product.product,
        len(o.added),
        o.unchanged,
        len(o.conflicts),
        plan.product.as_of,
        written,
        plan.notes,
    )
