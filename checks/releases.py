"""Release history of browsers, operating systems and security clients.

This module is the pure model behind the "is this the *latest* version?"
question of the posture checks (e.g. HNB-P1). It never reads the clock and
never does I/O: callers pass the instant they are asking about (``at``) and
load the JSON files elsewhere (``server.release_import.load_catalog``).
The file format is documented in ``docs/release-data.md``.

Vocabulary
----------
* A *product* (``chrome``, ``windows``, ``phishwall`` ...) has one or more
  *channels* (Firefox ``release`` and the ESR lines, Windows ``10`` and
  ``11``, Safari ``macos`` and ``ios``). Exactly one channel is the default.
* ``as_of`` is the last instant for which the product's data is complete.
  Past ``as_of`` + a staleness allowance the data must not be trusted to
  know the newest release (:func:`is_stale`).
* ``granularity`` says how many version components the data lists
  completely: ``major`` (only the first stable release of each major),
  ``minor`` (each ``x.y`` release, patch releases not listed) or ``build``
  (every release in the version scheme the file uses).

Version comparison
------------------
Versions in the data are dotted non-negative integers (``131.0.6778.69``,
``18.3``, ``10.0.26100``). They are compared component by component with
missing trailing components read as zero, so ``18.3 == 18.3.0 < 18.3.1``.
For purely numeric versions this is exactly the order of
``packaging.version.Version`` (a property test checks it); we do not use
``packaging`` directly because client versions are not always PEP 440
(Firefox ``128.8.0esr``) and because :func:`compare_at_precision` needs the
individual components. Client versions additionally accept a trailing
``esr`` (ignored: a channel marker, not an ordering) or a pre-release tag
(``137.0b9``, ``1.2rc1``), which sorts before the release it precedes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Literal

from timing import instants

__all__ = [
    "GRANULARITIES",
    "KINDS",
    "SCHEMA_VERSION",
    "Channel",
    "Comparison",
    "LatestAnswer",
    "ProductReleases",
    "Release",
    "ReleaseCatalog",
    "ReleaseDataError",
    "ScheduledRelease",
    "VersionStanding",
    "channel_for",
    "classify_version",
    "compare_at_precision",
    "effective_components",
    "format_instant",
    "granularity_components",
    "is_end_of_life",
    "is_stale",
    "latest_at",
    "line_channel",
    "parse_instant",
    "parse_version",
    "product_from_dict",
    "product_to_dict",
    "prune_schedule",
    "release_for_platform_version",
    "scheduled_after",
    "scheduled_on",
    "version_key",
    "version_known",
]

SCHEMA_VERSION: Final = 1
KINDS: Final = ("browser", "os", "security_client")
GRANULARITIES: Final = ("build", "minor", "major")
_GRANULARITY_COMPONENTS: Final[Mapping[str, int | None]] = MappingProxyType(
    {"major": 1, "minor": 2, "build": None}
)

Comparison = Literal["newer_or_equal", "older", "indeterminate"]
VersionStanding = Literal["known", "newer_than_data", "older_than_data", "unknown"]


# --------------------------------------------------------------------------- errors


class ReleaseDataError(ValueError):
    """A release-data document is malformed.

    ``origin`` names the document (normally the file name, ``chrome.json``),
    ``path`` the JSON path of the offending value
    (``channels.stable.releases[3].released_at``; empty for the document
    itself) and ``message`` what is wrong with it.
    """

    def __init__(self, origin: str, path: str, message: str) -> None:
        self.origin = origin
        self.path = path
        self.message = message
        where = f"{origin}: {path}" if path else origin
        super().__init__(f"{where}: {message}")


# --------------------------------------------------------------------------- versions

_DATA_VERSION: Final = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")
_CLIENT_VERSION: Final = re.compile(
    r"^([0-9]+(?:\.[0-9]+)*)"
    r"(?:(esr)|[.-]?(a|b|alpha|beta|rc|pre|dev)[.-]?[0-9]*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _ParsedVersion:
    parts: tuple[int, ...]
    prerelease: bool


def _parse_client(text: str) -> _ParsedVersion:
    match = _CLIENT_VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"not a dotted version: {text!r}")
    parts = tuple(int(p) for p in match.group(1).split("."))
    return _ParsedVersion(parts=parts, prerelease=match.group(3) is not None)


def parse_version(text: str) -> tuple[int, ...]:
    """The numeric components of a version as written (``"18.3"`` -> ``(18, 3)``).

    Accepts the client forms described in the module docstring; raises
    ``ValueError`` for anything else.
    """
    return _parse_client(text).parts


def _strip(parts: tuple[int, ...]) -> tuple[int, ...]:
    end = len(parts)
    while end > 1 and parts[end - 1] == 0:
        end -= 1
    return parts[:end]


def version_key(text: str) -> tuple[int, ...]:
    """A sort key: equal for equal versions (``18.3`` and ``18.3.0``), ordered as versions.

    Pre-release tags are ignored here; use :func:`compare_at_precision` to
    compare a client version with a release.
    """
    return _strip(parse_version(text))


def _is_data_version(text: str) -> bool:
    return _DATA_VERSION.match(text) is not None


def _major(text: str) -> int | None:
    try:
        return parse_version(text)[0]
    except ValueError:
        return None


def compare_at_precision(client_version: str, known_components: int, required: str) -> Comparison:
    """Compare a client version whose first ``known_components`` are real with ``required``.

    Only the first ``known_components`` components of ``client_version`` are
    trusted (a reduced Chrome UA says ``131.0.0.0`` but only ``131`` is real;
    pass 1). Components the string does not contain are never assumed, so
    ``known_components`` is capped at the number of components written.

    * A known component larger than ``required``'s (missing components read
      as 0) at the first difference -> ``"newer_or_equal"``; smaller ->
      ``"older"``.
    * All known components equal: if ``required`` has nothing non-zero past
      them, the client cannot be older -> ``"newer_or_equal"`` (client
      ``136`` vs required ``136.0``); otherwise the unknown rest decides ->
      ``"indeterminate"`` (client ``131`` vs ``131.0.6778.86``).
    * A client pre-release whose full version is known and equals the
      release (``137.0b9`` vs ``137.0``) is ``"older"``.
    * ``known_components == 0`` -> ``"indeterminate"``.

    Callers must also cap ``known_components`` at the data's granularity
    (:func:`effective_components`). Raises ``ValueError`` for a malformed
    version or a negative ``known_components``.
    """
    if known_components < 0:
        raise ValueError(f"known_components must be >= 0, got {known_components}")
    client = _parse_client(client_version)
    wanted = parse_version(required)
    known = min(known_components, len(client.parts))
    if known == 0:
        return "indeterminate"
    for index in range(known):
        have = client.parts[index]
        need = wanted[index] if index < len(wanted) else 0
        if have > need:
            return "newer_or_equal"
        if have < need:
            return "older"
    if any(wanted[known:]):
        return "indeterminate"
    if client.prerelease and known == len(client.parts):
        return "older"
    return "newer_or_equal"


# --------------------------------------------------------------------------- instants


def parse_instant(text: str) -> datetime:
    """An instant of the release data: ``timing.parse_instant`` with a plain
    ``YYYY-MM-DD`` meaning 00:00 UTC that day (the vendors' days,
    docs/release-data.md), as an aware UTC datetime.

    Fractional seconds beyond microseconds (Google APIs send nanoseconds) are
    truncated. Instants without an offset are rejected: a release date must
    not depend on the reader's time zone. Raises ``ValueError``
    (``timing.InstantError``).
    """
    return instants.parse_instant(text, date_means=instants.DateMeaning.UTC_MIDNIGHT)


def format_instant(value: datetime, *, date_when_midnight: bool = True) -> str:
    """The canonical text of an instant: ``YYYY-MM-DD`` for 00:00 UTC, else ``...Z``."""
    utc = _require_aware(value, "instant").astimezone(UTC)
    if date_when_midnight and utc.time() == datetime.min.time():
        return utc.date().isoformat()
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def _require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value!r}")
    return value


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Release:
    """One published version.

    ``version`` is dotted integers; ``released_at`` an aware UTC instant
    (the first moment the vendor shipped it to the channel). ``label`` is the
    vendor's marketing name when it differs from the version (Windows
    ``24H2``). ``platform_version_major`` is the major of
    ``Sec-CH-UA-Platform-Version`` this release reports (Windows 11 only).
    """

    version: str
    released_at: datetime
    note: str | None = None
    label: str | None = None
    platform_version_major: int | None = None

    def __post_init__(self) -> None:
        if not _is_data_version(self.version):
            raise ValueError(f"release version must be dotted integers: {self.version!r}")
        _require_aware(self.released_at, "released_at")
        if self.released_at.utcoffset() != timedelta(0):
            object.__setattr__(self, "released_at", self.released_at.astimezone(UTC))

    @property
    def key(self) -> tuple[int, ...]:
        return _strip(tuple(int(p) for p in self.version.split(".")))


@dataclass(frozen=True, slots=True)
class ScheduledRelease:
    """A version the vendor's published schedule dates after ``as_of`` (not evidence).

    Browser vendors publish their release calendar ahead (browser-compat-data
    carries it as beta / nightly / planned dates). A schedule never makes a
    client out of date; it only bounds when a newer version can appear
    (checks/latest.py, "schedule").
    """

    version: str
    scheduled_at: datetime

    def __post_init__(self) -> None:
        if not _is_data_version(self.version):
            raise ValueError(f"scheduled version must be dotted integers: {self.version!r}")
        _require_aware(self.scheduled_at, "scheduled_at")
        if self.scheduled_at.utcoffset() != timedelta(0):
            object.__setattr__(self, "scheduled_at", self.scheduled_at.astimezone(UTC))

    @property
    def key(self) -> tuple[int, ...]:
        return _strip(tuple(int(p) for p in self.version.split(".")))


@dataclass(frozen=True, slots=True)
class Channel:
    """A release line of a product. ``releases`` are sorted by version, no duplicates.

    ``scheduled``: the vendor's published schedule of versions newer than
    every release, sorted by version (empty for most channels).
    """

    name: str
    releases: tuple[Release, ...]
    match_majors: tuple[int, ...] = ()
    end_of_life: datetime | None = None
    default: bool = False
    scheduled: tuple[ScheduledRelease, ...] = ()

    def __post_init__(self) -> None:
        keys = [r.key for r in self.releases]
        for before, after in itertools.pairwise(keys):
            if not before < after:
                raise ValueError(
                    f"channel {self.name!r}: releases must be sorted by version without "
                    f"duplicates ({'.'.join(map(str, before))} then {'.'.join(map(str, after))})"
                )
        planned = [s.key for s in self.scheduled]
        for before, after in itertools.pairwise(planned):
            if not before < after:
                raise ValueError(f"channel {self.name!r}: scheduled must be sorted, no duplicates")
        if planned and keys and planned[0] <= keys[-1]:
            raise ValueError(
                f"channel {self.name!r}: scheduled {'.'.join(map(str, planned[0]))} is not newer "
                f"than release {'.'.join(map(str, keys[-1]))}"
            )
        if self.end_of_life is not None:
            _require_aware(self.end_of_life, "end_of_life")


@dataclass(frozen=True, slots=True)
class ProductReleases:
    """Everything the data knows about one product's releases."""

    product: str
    display_name: str
    kind: str  # "browser" | "os" | "security_client"
    as_of: datetime
    granularity: str  # "build" | "minor" | "major"
    sources: tuple[str, ...]
    channels: tuple[Channel, ...]
    notes: tuple[str, ...] = ()  # caveats a reader of the data must know (coverage, precision)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity must be one of {GRANULARITIES}, got {self.granularity!r}"
            )
        _require_aware(self.as_of, "as_of")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.product}: duplicate channel names {names}")
        if sum(1 for c in self.channels if c.default) != 1:
            raise ValueError(f"{self.product}: exactly one channel must be the default")

    def channel(self, name: str) -> Channel | None:
        """The channel called ``name`` (Windows ``"11"``, Safari ``"ios"``), if any."""
        for ch in self.channels:
            if ch.name == name:
                return ch
        return None

    @property
    def default_channel(self) -> Channel:
        return next(c for c in self.channels if c.default)


@dataclass(frozen=True, slots=True)
class ReleaseCatalog:
    """All products' release data, keyed by product id."""

    products: Mapping[str, ProductReleases] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.products.items():
            if key != value.product:
                raise ValueError(f"catalog key {key!r} holds product {value.product!r}")
        object.__setattr__(self, "products", MappingProxyType(dict(self.products)))

    def get(self, product: str) -> ProductReleases | None:
        return self.products.get(product)

    @classmethod
    def of(cls, products: Iterable[ProductReleases]) -> ReleaseCatalog:
        table: dict[str, ProductReleases] = {}
        for p in products:
            if p.product in table:
                raise ValueError(f"duplicate product {p.product!r}")
            table[p.product] = p
        return cls(table)


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class LatestAnswer:
    """What "latest" meant on ``channel`` at instant ``at`` with ``grace``.

    ``required`` is the newest release that had been out for longer than the
    grace period at ``at`` (a client at or above it is "latest");
    ``newest`` the newest release out at all by ``at`` (name it in
    remediation messages). Either is ``None`` when no release qualifies.
    Releases dated after ``at`` are invisible, so replaying a verdict with
    later data gives the same answer.
    """

    channel: str
    at: datetime
    grace: timedelta
    required: Release | None
    newest: Release | None
    end_of_life: bool

    def accepts(self, client_version: str, known_components: int) -> Comparison:
        """:func:`compare_at_precision` against ``required`` (indeterminate when none)."""
        if self.required is None:
            return "indeterminate"
        return compare_at_precision(client_version, known_components, self.required.version)


def _visible(channel: Channel, at: datetime) -> list[Release]:
    return [r for r in channel.releases if r.released_at <= at]


def latest_at(channel: Channel, at: datetime, grace: timedelta) -> LatestAnswer:
    """The releases in force on ``channel`` at ``at`` (see :class:`LatestAnswer`).

    A release counts as required only once ``released_at + grace < at``:
    exactly at the end of the grace period it is not yet required, one
    microsecond later it is. "Newest" is by version, not by date (an ESR or
    an older OS line can ship the same day as a new major).
    """
    _require_aware(at, "at")
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")
    visible = _visible(channel, at)
    required = [r for r in visible if r.released_at + grace < at]
    return LatestAnswer(
        channel=channel.name,
        at=at,
        grace=grace,
        required=max(required, key=lambda r: r.key) if required else None,
        newest=max(visible, key=lambda r: r.key) if visible else None,
        end_of_life=is_end_of_life(channel, at),
    )


def is_end_of_life(channel: Channel, at: datetime) -> bool:
    """Whether the vendor had stopped supporting ``channel`` at ``at`` (``at >= end_of_life``)."""
    _require_aware(at, "at")
    return channel.end_of_life is not None and at >= channel.end_of_life


def channel_for(product: ProductReleases, version: str) -> Channel:
    """The channel whose ``match_majors`` holds ``version``'s major, else the default.

    Firefox ``128.0`` -> ``esr128``; Firefox ``136.0`` -> ``release``. Products
    whose lines are not told apart by the major (Windows 10/11 both report
    ``10.0.x``; Safari on macOS/iOS) are chosen by name with
    :meth:`ProductReleases.channel` instead.
    """
    major = _major(version)
    if major is not None:
        for ch in product.channels:
            if major in ch.match_majors:
                return ch
    return product.default_channel


def line_channel(product: ProductReleases, version: str) -> Channel | None:
    """The OS line a version belongs to, or None when the data has no such line.

    ``18.7.2`` -> channel ``18`` of ``ios``; macOS ``10.15.7`` -> channel
    ``10.15`` (macOS 10 numbered its lines by minor); ``14.6`` -> ``14``.
    Unlike :func:`channel_for` there is no fallback to the default channel:
    iOS 27 with data that ends at iOS 26 has no line (UNKNOWN, never judged
    against iOS 26).
    """
    try:
        parts = parse_version(version)
    except ValueError:
        return None
    if len(parts) > 1:
        by_minor = product.channel(f"{parts[0]}.{parts[1]}")
        if by_minor is not None:
            return by_minor
    for ch in product.channels:
        if parts[0] in ch.match_majors:
            return ch
    return product.channel(str(parts[0]))


def is_stale(product: ProductReleases, at: datetime, stale_after: timedelta) -> bool:
    """``at > as_of + stale_after``: the data may not know the newest release at ``at``."""
    _require_aware(at, "at")
    return at > product.as_of + stale_after


def granularity_components(product: ProductReleases) -> int | None:
    """How many leading version components the data lists completely (None: all)."""
    return _GRANULARITY_COMPONENTS[product.granularity]


def effective_components(product: ProductReleases, known_components: int) -> int:
    """``known_components`` capped at the data's granularity (Chrome major-only data -> 1)."""
    limit = granularity_components(product)
    return known_components if limit is None else min(known_components, limit)


def _prefix(parts: tuple[int, ...], n: int) -> tuple[int, ...]:
    return _strip(tuple(parts[i] if i < len(parts) else 0 for i in range(n)))


def classify_version(
    channel: Channel, version: str, known_components: int, *, at: datetime | None = None
) -> VersionStanding:
    """Where a client version stands relative to the data.

    Compares the first ``k = min(known_components, components written)``
    components, missing ones read as 0. Cap ``known_components`` at the
    data's granularity first (:func:`effective_components`): with Chrome's
    major-only data pass 1, and client ``131.0.6778.86`` matches release
    ``131``; with Safari's minor data pass at most 2, and ``18.3.1``
    matches ``18.3``; with build data ``136.0.3`` does not match ``136.0``.

    * ``"known"``: some release agrees on those components.
    * ``"newer_than_data"``: above every release (a new major, a rapid
      security response): UNKNOWN, never out of date.
    * ``"older_than_data"``: below every release, i.e. before the data's
      coverage (Chrome 95 when the data starts at 120): certainly older than
      anything the data would require.
    * ``"unknown"``: inside the covered range but not a release the data
      knows (a gap, another platform's build, a made-up version), or
      nothing to compare (``k == 0``, an empty channel).

    With ``at``, releases dated after ``at`` do not exist yet (replay:
    the answer for ``at`` does not change when later releases are added).
    Raises ``ValueError`` for a malformed version.
    """
    client = _parse_client(version)
    k = min(max(known_components, 0), len(client.parts))
    releases = channel.releases if at is None else tuple(_visible(channel, at))
    if k == 0 or not releases:
        return "unknown"
    mine = _prefix(client.parts, k)
    theirs = [_prefix(tuple(int(p) for p in r.version.split(".")), k) for r in releases]
    if mine in theirs:
        return "known"
    if all(mine > other for other in theirs):
        return "newer_than_data"
    if all(mine < other for other in theirs):
        return "older_than_data"
    return "unknown"


def version_known(
    channel: Channel, version: str, known_components: int, *, at: datetime | None = None
) -> bool:
    """Whether the data knows this version (:func:`classify_version` says ``"known"``).

    A version newer than anything in the data, or one the data does not
    know at all, is not known: the check must answer UNKNOWN, never "out of
    date" (use :func:`classify_version` to tell versions older than the
    data's coverage apart).
    """
    return classify_version(channel, version, known_components, at=at) == "known"


def scheduled_on(
    channel: Channel, version: str, known_components: int, at: datetime
) -> ScheduledRelease | None:
    """The scheduled version a client is on, once its date has come (``scheduled_at <= at``).

    Compares the first ``known_components`` (capped as for
    :func:`classify_version`). Before its date a client on a scheduled
    version runs a pre-release, and nothing is said about it.
    """
    client = _parse_client(version)
    k = min(max(known_components, 0), len(client.parts))
    if k == 0:
        return None
    mine = _prefix(client.parts, k)
    for planned in channel.scheduled:
        if planned.scheduled_at <= at and _prefix(planned.key, k) == mine:
            return planned
    return None


def scheduled_after(
    channel: Channel, version: str, known_components: int, *, at: datetime | None = None
) -> ScheduledRelease | None:
    """The earliest-scheduled version newer than ``version``, if the data lists none released.

    None when a release the data shows (dated up to ``at``) is newer than
    the client (the data itself then says what is newer), or when nothing
    newer is scheduled. Compares the first ``known_components``.
    """
    client = _parse_client(version)
    k = min(max(known_components, 0), len(client.parts))
    if k == 0:
        return None
    mine = _prefix(client.parts, k)
    releases = channel.releases if at is None else tuple(_visible(channel, at))
    if any(_prefix(r.key, k) > mine for r in releases):
        return None
    newer = [p for p in channel.scheduled if _prefix(p.key, k) > mine]
    if not newer:
        return None
    # Only the very next version counts: if the schedule skips a major (one
    # listed without a date was dropped), nothing says when that one ships.
    nxt = min(newer, key=lambda p: p.key)
    if nxt.key[0] > mine[0] + 1:
        return None
    return min(newer, key=lambda p: p.scheduled_at)


def prune_schedule(product: ProductReleases) -> ProductReleases:
    """Drop scheduled versions already released or dated up to ``as_of`` (a plan that passed).

    A schedule only says something about the future of the data: a version
    the data now lists is evidence, and one whose date passed without
    appearing has slipped (the plan no longer holds).
    """
    channels = []
    for ch in product.channels:
        newest = ch.releases[-1].key if ch.releases else ()
        kept = tuple(p for p in ch.scheduled if p.key > newest and p.scheduled_at > product.as_of)
        channels.append(ch if kept == ch.scheduled else replace(ch, scheduled=kept))
    return replace(product, channels=tuple(channels))


def release_for_platform_version(channel: Channel, platform_version: str) -> Release | None:
    """The release reporting this ``Sec-CH-UA-Platform-Version`` major (Windows 11 ``"15.0.0"``)."""
    major = _major(platform_version)
    if major is None:
        return None
    for release in channel.releases:
        if release.platform_version_major == major:
            return release
    return None


# --------------------------------------------------------------------------- file format

_PRODUCT_ID: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS: Final = frozenset(
    {
        "schema",
        "product",
        "display_name",
        "kind",
        "as_of",
        "granularity",
        "sources",
        "notes",
        "channels",
    }
)
_CHANNEL_KEYS: Final = frozenset(
    {"default", "releases", "match_majors", "end_of_life", "scheduled"}
)
_SCHEDULED_KEYS: Final = frozenset({"version", "scheduled_at"})
_RELEASE_KEYS: Final = frozenset(
    {"version", "released_at", "note", "label", "platform_version_major"}
)


class _Reader:
    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, path: str, message: str) -> ReleaseDataError:
        return ReleaseDataError(self.origin, path, message)

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected an object, got {_json_type(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"object keys must be strings, got {key!r}")
        return value

    def keys(self, value: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in value:
            if key not in allowed:
                raise self.fail(
                    _join(path, key), f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )

    def required(self, value: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in value:
            raise self.fail(_join(path, key), "missing")
        return value[key]

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {_json_type(value)}")
        return value

    def optional_text(self, value: Any, path: str) -> str | None:
        return None if value is None else self.text(value, path)

    def instant(self, value: Any, path: str) -> datetime:
        if not isinstance(value, str):
            raise self.fail(path, f"not an ISO date: expected a string, got {_json_type(value)}")
        try:
            return parse_instant(value)
        except ValueError:
            raise self.fail(
                path, f"not an ISO date (RFC 3339 instant or YYYY-MM-DD): {value!r}"
            ) from None

    def integer(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(path, f"expected a non-negative integer, got {value!r}")
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value.strip() else "an empty string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def product_from_dict(d: Mapping[str, Any], *, origin: str) -> ProductReleases:
    """Validate one release-data document (parsed JSON) and build its model.

    Raises :class:`ReleaseDataError` naming ``origin`` and the JSON path of
    the first bad value. Besides types and formats it rejects unknown keys,
    duplicate versions in a channel (``18.3`` and ``18.3.0`` are the same),
    a release dated after ``as_of``, a ``match_majors`` claimed by two
    channels, and anything but exactly one default channel.
    """
    r = _Reader(origin)
    doc = r.obj(d, "")
    r.keys(doc, _TOP_KEYS, "")
    schema = r.required(doc, "schema", "")
    if isinstance(schema, bool) or schema != SCHEMA_VERSION:
        raise r.fail(
            "schema", f"unsupported schema {schema!r} (this reader knows {SCHEMA_VERSION})"
        )
    product = r.text(r.required(doc, "product", ""), "product")
    if not _PRODUCT_ID.match(product):
        raise r.fail("product", f"must be a lower-case id like 'chrome', got {product!r}")
    display_name = r.text(r.required(doc, "display_name", ""), "display_name")
    kind = r.required(doc, "kind", "")
    if kind not in KINDS:
        raise r.fail("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    as_of = r.instant(r.required(doc, "as_of", ""), "as_of")
    granularity = r.required(doc, "granularity", "")
    if granularity not in GRANULARITIES:
        raise r.fail(
            "granularity", f"must be one of {', '.join(GRANULARITIES)}, got {granularity!r}"
        )
    raw_sources = r.required(doc, "sources", "")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise r.fail(
            "sources", "expected a non-empty array of strings naming where the data comes from"
        )
    sources = tuple(r.text(s, f"sources[{i}]") for i, s in enumerate(raw_sources))
    raw_notes = doc.get("notes", [])
    if not isinstance(raw_notes, list):
        raise r.fail("notes", f"expected an array of strings, got {_json_type(raw_notes)}")
    notes = tuple(r.text(n, f"notes[{i}]") for i, n in enumerate(raw_notes))
    raw_channels = r.obj(r.required(doc, "channels", ""), "channels")
    if not raw_channels:
        raise r.fail("channels", "at least one channel is required")

    channels: list[Channel] = []
    majors_owner: dict[int, str] = {}
    for name, raw_channel in raw_channels.items():
        path = f"channels.{name}"
        if not name.strip():
            raise r.fail(path, "channel name must not be empty")
        channels.append(_channel_from_dict(r, name, raw_channel, path, as_of, majors_owner))

    defaults = [c.name for c in channels if c.default]
    if len(defaults) != 1:
        raise r.fail(
            "channels",
            f'exactly one channel must have "default": true, found {len(defaults)}'
            + (f" ({', '.join(defaults)})" if defaults else ""),
        )
    return ProductReleases(
        product=product,
        display_name=display_name,
        kind=kind,
        as_of=as_of,
        granularity=granularity,
        sources=sources,
        channels=tuple(sorted(channels, key=lambda c: c.name)),
        notes=notes,
    )


def _channel_from_dict(
    r: _Reader,
    name: str,
    raw: Any,
    path: str,
    as_of: datetime,
    majors_owner: dict[int, str],
) -> Channel:
    ch = r.obj(raw, path)
    r.keys(ch, _CHANNEL_KEYS, path)
    default = ch.get("default", False)
    if not isinstance(default, bool):
        raise r.fail(f"{path}.default", f"expected true or false, got {default!r}")
    raw_majors = ch.get("match_majors", [])
    if not isinstance(raw_majors, list):
        raise r.fail(f"{path}.match_majors", "expected an array of integers")
    majors: list[int] = []
    for i, m in enumerate(raw_majors):
        mpath = f"{path}.match_majors[{i}]"
        major = r.integer(m, mpath)
        if major in majors_owner:
            raise r.fail(
                mpath, f"major {major} is already matched by channel {majors_owner[major]!r}"
            )
        majors_owner[major] = name
        majors.append(major)
    eol_raw = ch.get("end_of_life")
    end_of_life = None if eol_raw is None else r.instant(eol_raw, f"{path}.end_of_life")
    raw_releases = r.required(ch, "releases", path)
    if not isinstance(raw_releases, list):
        raise r.fail(f"{path}.releases", f"expected an array, got {_json_type(raw_releases)}")
    seen: dict[tuple[int, ...], str] = {}
    releases: list[Release] = []
    for i, raw_release in enumerate(raw_releases):
        rpath = f"{path}.releases[{i}]"
        release = _release_from_dict(r, raw_release, rpath, as_of)
        if release.key in seen:
            raise r.fail(
                f"{rpath}.version",
                f"duplicate version {release.version!r} (same as {seen[release.key]!r})",
            )
        seen[release.key] = release.version
        releases.append(release)
    releases.sort(key=lambda rel: rel.key)
    scheduled = _scheduled_from_dict(r, ch.get("scheduled", []), f"{path}.scheduled", as_of)
    newest = releases[-1] if releases else None
    if scheduled and newest is not None and scheduled[0].key <= newest.key:
        raise r.fail(
            f"{path}.scheduled",
            f"{scheduled[0].version!r} is not newer than the release {newest.version!r}: "
            "a schedule lists only versions still to come",
        )
    return Channel(
        name=name,
        releases=tuple(releases),
        match_majors=tuple(majors),
        end_of_life=end_of_life,
        default=default,
        scheduled=scheduled,
    )


def _scheduled_from_dict(
    r: _Reader, raw: Any, path: str, as_of: datetime
) -> tuple[ScheduledRelease, ...]:
    if not isinstance(raw, list):
        raise r.fail(path, f"expected an array, got {_json_type(raw)}")
    out: dict[tuple[int, ...], ScheduledRelease] = {}
    for i, item in enumerate(raw):
        ipath = f"{path}[{i}]"
        entry = r.obj(item, ipath)
        r.keys(entry, _SCHEDULED_KEYS, ipath)
        version = r.required(entry, "version", ipath)
        if not isinstance(version, str) or not _is_data_version(version):
            raise r.fail(f"{ipath}.version", f"expected dotted integers, got {version!r}")
        when = r.instant(r.required(entry, "scheduled_at", ipath), f"{ipath}.scheduled_at")
        if when <= as_of:
            raise r.fail(
                f"{ipath}.scheduled_at",
                f"{format_instant(when)} is not after the document's as_of "
                f"{format_instant(as_of, date_when_midnight=False)}: a passed plan is not kept",
            )
        planned = ScheduledRelease(version, when)
        if planned.key in out:
            raise r.fail(f"{ipath}.version", f"duplicate version {version!r}")
        out[planned.key] = planned
    return tuple(sorted(out.values(), key=lambda p: p.key))


def _release_from_dict(r: _Reader, raw: Any, path: str, as_of: datetime) -> Release:
    rel = r.obj(raw, path)
    r.keys(rel, _RELEASE_KEYS, path)
    version = r.required(rel, "version", path)
    if not isinstance(version, str) or not _is_data_version(version):
        raise r.fail(
            f"{path}.version", f"expected dotted integers like '131.0.6778.69', got {version!r}"
        )
    released_at = r.instant(r.required(rel, "released_at", path), f"{path}.released_at")
    if released_at > as_of:
        raise r.fail(
            f"{path}.released_at",
            f"{format_instant(released_at)} is after the document's as_of "
            f"{format_instant(as_of, date_when_midnight=False)}",
        )
    note = r.optional_text(rel.get("note"), f"{path}.note")
    label = r.optional_text(rel.get("label"), f"{path}.label")
    pv_raw = rel.get("platform_version_major")
    pv = None if pv_raw is None else r.integer(pv_raw, f"{path}.platform_version_major")
    return Release(
        version=version,
        released_at=released_at,
        note=note,
        label=label,
        platform_version_major=pv,
    )


def product_to_dict(product: ProductReleases) -> dict[str, Any]:
    """The document :func:`product_from_dict` reads back, in canonical order.

    Channels are sorted by name, releases by version; midnight-UTC instants
    are written as ``YYYY-MM-DD``; ``as_of`` is always a full instant.
    """
    channels: dict[str, Any] = {}
    for ch in sorted(product.channels, key=lambda c: c.name):
        body: dict[str, Any] = {}
        if ch.default:
            body["default"] = True
        if ch.match_majors:
            body["match_majors"] = sorted(ch.match_majors)
        if ch.end_of_life is not None:
            body["end_of_life"] = format_instant(ch.end_of_life)
        body["releases"] = [
            _release_to_dict(rel) for rel in sorted(ch.releases, key=lambda x: x.key)
        ]
        if ch.scheduled:
            body["scheduled"] = [
                {"version": p.version, "scheduled_at": format_instant(p.scheduled_at)}
                for p in ch.scheduled
            ]
        channels[ch.name] = body
    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "product": product.product,
        "display_name": product.display_name,
        "kind": product.kind,
        "as_of": format_instant(product.as_of, date_when_midnight=False),
        "granularity": product.granularity,
        "sources": list(product.sources),
    }
    if product.notes:
        out["notes"] = list(product.notes)
    out["channels"] = channels
    return out


def _release_to_dict(release: Release) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": release.version,
        "released_at": format_instant(release.released_at),
    }
    if release.label is not None:
        out["label"] = release.label
    if release.platform_version_major is not None:
        out["platform_version_major"] = release.platform_version_major
    if release.note is not None:
        out["note"] = release.note
    return out
