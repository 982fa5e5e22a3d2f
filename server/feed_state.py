"""What ``releases refresh`` remembers between runs, beside the release data.

One small JSON file, ``<rules>/releases/.feed-cache``, per source:

* ``documents``: the ``ETag`` / ``Last-Modified`` of each URL's last
  **applied** body, sent back as ``If-None-Match`` / ``If-Modified-Since``
  (a refused or failed fetch never records them: the next run must fetch
  and judge the body again, not be told "not modified");
* ``evidence``: per product, the newest evidence (``as_of``) the source gave
  last time, and ``versions``: the releases it listed. The next fetch must
  not go backwards from them (an older mirror or CDN copy, a truncated
  export): server/release_refresh_plan.py.

The name has no ``.json`` suffix on purpose: everything ``*.json`` in the
releases directory is release data (``rules.load``), and the rules digest
covers only ``.json`` / ``.toml`` files, so remembering validators never
changes the rules in force. Deleting the file makes the next run fetch
everything unconditionally and accept any feed as its new baseline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from checks.releases import format_instant, parse_instant
from server.atomic_file import write_atomic
from server.feed_http import Validators

__all__ = ["STATE_NAME", "FeedState", "SourceState", "load_state", "save_state"]

STATE_NAME: Final = ".feed-cache"
_SCHEMA: Final = 1


@dataclass(frozen=True, slots=True)
class SourceState:
    documents: Mapping[str, Validators] = field(default_factory=dict)
    evidence: Mapping[str, datetime] = field(default_factory=dict)
    versions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    applied_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedState:
    sources: Mapping[str, SourceState] = field(default_factory=dict)

    def source(self, name: str) -> SourceState:
        return self.sources.get(name, SourceState())

    def with_source(self, name: str, state: SourceState) -> FeedState:
        return replace(self, sources={**self.sources, name: state})


def _source_to_dict(s: SourceState) -> dict[str, Any]:
    out: dict[str, Any] = {
        "documents": {url: v.to_dict() for url, v in sorted(s.documents.items())},
        "evidence": {
            p: format_instant(t, date_when_midnight=False) for p, t in sorted(s.evidence.items())
        },
        "versions": {p: sorted(v, key=_version_order) for p, v in sorted(s.versions.items())},
    }
    if s.applied_at is not None:
        out["applied_at"] = format_instant(s.applied_at, date_when_midnight=False)
    return out


def _version_order(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def _source_from_dict(d: Mapping[str, Any]) -> SourceState:
    docs = d.get("documents", {})
    evidence = d.get("evidence", {})
    versions = d.get("versions", {})
    applied = d.get("applied_at")
    return SourceState(
        documents={
            str(url): Validators.from_dict(v) for url, v in docs.items() if isinstance(v, Mapping)
        },
        evidence={str(p): parse_instant(str(t)) for p, t in evidence.items()},
        versions={str(p): frozenset(str(x) for x in v) for p, v in versions.items()},
        applied_at=parse_instant(str(applied)) if applied else None,
    )


def load_state(releases_dir: Path) -> FeedState:
    """The remembered state; an unreadable or malformed file counts as none (fetch everything)."""
    path = Path(releases_dir) / STATE_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, Mapping) or doc.get("schema") != _SCHEMA:
            return FeedState()
        sources = doc.get("sources", {})
        return FeedState({str(k): _source_from_dict(v) for k, v in sources.items()})
    except (OSError, ValueError, TypeError, AttributeError):
        # Losing the cache only costs a full fetch and a fresh baseline; it
        # must never stop the refresh that would repair it.
        return FeedState()


def save_state(releases_dir: Path, state: FeedState) -> None:
    doc = {
        "schema": _SCHEMA,
        "sources": {k: _source_to_dict(v) for k, v in sorted(state.sources.items())},
    }
    write_atomic(
        Path(releases_dir) / STATE_NAME, json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    )
