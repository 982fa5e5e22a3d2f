"""The bank's support matrix (動作確認状況) as revisions in force over time.

HNB-P1 requires a supported OS and a browser listed for it; HNB-P4 makes a
new revision binding from its effective date, so every question is asked
"at" an instant and answered from the revision in force then.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from timing.instants import InstantError, parse_instant


class MatrixError(ValueError):
    """A matrix file is malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class OsEntry:
    os: str
    versions: SpecifierSet
    browsers: tuple[str, ...]

    def supports_version(self, version: str) -> bool:
        try:
            return Version(version) in self.versions
        except InvalidVersion:
            return False


@dataclass(frozen=True, slots=True)
class MatrixRevision:
    id: str
    effective_from: datetime
    note: str
    entries: tuple[OsEntry, ...]

    def entry_for(self, os: str) -> OsEntry | None:
        for entry in self.entries:
            if entry.os == os:
                return entry
        return None


@dataclass(frozen=True, slots=True)
class SupportMatrix:
    id: str
    name: str
    revisions: tuple[MatrixRevision, ...]  # sorted by effective_from

    def revision_at(self, at: datetime) -> MatrixRevision | None:
        """The revision in force at ``at`` (None before the first one)."""
        current = None
        for rev in self.revisions:
            if rev.effective_from <= at:
                current = rev
            else:
                break
        return current


def _aware(value: Any, where: str) -> datetime:
    """An instant with its offset (TOML text or a TOML offset date-time), as UTC."""
    try:
        return parse_instant(value)
    except InstantError as exc:
        raise MatrixError(f"{where}: {exc}") from None


def matrix_from_dict(doc: Mapping[str, Any], *, origin: str) -> SupportMatrix:
    def need(d: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in d:
            raise MatrixError(f"{origin}: {where}: missing key {key!r}")
        return d[key]

    revisions: list[MatrixRevision] = []
    raw_revs: Sequence[Mapping[str, Any]] = need(doc, "revision", "top level")
    for i, raw in enumerate(raw_revs):
        where = f"revision[{i}]"
        rev_id = str(need(raw, "id", where))
        eff = _aware(need(raw, "effective_from", where), f"{origin}: {where}.effective_from")
        entries = []
        for j, e in enumerate(need(raw, "os", where)):
            ew = f"{where}.os[{j}]"
            try:
                spec = SpecifierSet(str(need(e, "versions", ew)))
            except InvalidSpecifier as exc:
                raise MatrixError(f"{origin}: {ew}.versions: {exc}") from exc
            browsers = need(e, "browsers", ew)
            if not isinstance(browsers, list) or not all(isinstance(b, str) for b in browsers):
                raise MatrixError(f"{origin}: {ew}.browsers: expected a list of browser ids")
            entries.append(OsEntry(str(need(e, "os", ew)), spec, tuple(browsers)))
        revisions.append(MatrixRevision(rev_id, eff, str(raw.get("note", "")), tuple(entries)))
    revisions.sort(key=lambda r: r.effective_from)
    for a, b in itertools.pairwise(revisions):
        if a.effective_from == b.effective_from:
            raise MatrixError(f"{origin}: revisions {a.id!r} and {b.id!r} share effective_from")
    return SupportMatrix(
        str(need(doc, "id", "top level")), str(doc.get("name", "")), tuple(revisions)
    )
