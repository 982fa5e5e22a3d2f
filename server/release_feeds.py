"""Vendor and community release feeds, parsed into release records.

Every parser here is pure: ``bytes`` in (a feed exactly as downloaded or as
stored in ``../shared/data``), :class:`checks.releases.ProductReleases` out.
No clock, no file or network I/O, so a later live fetcher (``anshin releases
refresh``) hands the bytes it fetched to the same functions the offline
import and the shipped-data rebuild use (``server.release_import``).

``as_of`` of a parsed product is always the feed's **own newest evidence**
(bcd's ``__meta.timestamp``, the newest release date of endoflife.date data,
the newest ``startTime`` of a VersionHistory feed), never the wall clock: the
data can only claim completeness up to what the feed shows.

Feeds (docs/release-data.md, "Sources"):

* MDN browser-compat-data ``browsers.json`` (:func:`parse_bcd_browsers`):
  first stable release date of every major (Safari: every ``x.y``).
* endoflife.date release-data ``<product>.json``
  (:func:`parse_eol_release_data`): every version with its date.
* endoflife.date product pages ``<product>.md`` (:func:`parse_eol_product`):
  release cycles (OS versions, ESR lines) with release and end-of-support
  dates, in YAML front matter.
* Chrome VersionHistory pages (:func:`collect_versionhistory_pages`):
  follows ``nextPageToken`` with a page-fetching callable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from checks.releases import (
    Channel,
    ProductReleases,
    Release,
    ReleaseDataError,
    ScheduledRelease,
    format_instant,
    parse_instant,
)

__all__ = [
    "BCD_PRODUCTS",
    "EOL_PRODUCTS",
    "WINDOWS_PLATFORM_VERSION_MAJOR",
    "EolCycle",
    "EolProduct",
    "assemble_firefox",
    "collect_versionhistory_pages",
    "decode_json",
    "eol_product_releases",
    "parse_bcd_browsers",
    "parse_eol_product",
    "parse_eol_release_data",
    "split_firefox",
]

_DATA_VERSION: Final = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")
_DATE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _key(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def decode_json(data: bytes | str, origin: str) -> Any:
    """Parse a feed's JSON; duplicate keys and bad JSON are a :class:`ReleaseDataError`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except UnicodeDecodeError as exc:
        raise ReleaseDataError(origin, "", f"not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise ReleaseDataError(
            origin, "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise ReleaseDataError(origin, "", str(exc)) from None


def _day(origin: str, path: str, value: Any) -> datetime:
    if not isinstance(value, str) or _DATE.match(value) is None:
        raise ReleaseDataError(origin, path, f"not a YYYY-MM-DD date: {value!r}")
    try:
        return parse_instant(value)
    except ValueError:
        raise ReleaseDataError(origin, path, f"not a calendar date: {value!r}") from None


def _earliest(into: dict[str, datetime], version: str, when: datetime) -> None:
    """Keep the earlier date of a version listed twice (sources disagree by a day)."""
    old = into.get(version)
    if old is None or when < old:
        into[version] = when


def _sorted(releases: Iterable[Release]) -> tuple[Release, ...]:
    return tuple(sorted(releases, key=lambda r: r.key))


def _dedupe(dated: Mapping[str, datetime]) -> dict[str, datetime]:
    """One entry per version value: bcd's ``136`` and Mozilla's ``136.0`` are the same.

    The earlier date wins; the text with more components is kept (it says
    more: ``136.0`` rather than ``136``).
    """
    by_key: dict[tuple[int, ...], tuple[str, datetime]] = {}
    for version, when in dated.items():
        old = by_key.get(_key(version))
        if old is None:
            by_key[_key(version)] = (version, when)
            continue
        text = max(old[0], version, key=lambda v: (v.count("."), v))
        by_key[_key(version)] = (text, min(old[1], when))
    return dict(by_key.values())


# --------------------------------------------------------------------------- bcd


@dataclass(frozen=True, slots=True)
class _BcdTarget:
    browser: str  # key in bcd's "browsers"
    display_name: str
    channel: str
    granularity: str


#: Our product id -> where browser-compat-data keeps it. Chrome and Edge on
#: Android ship the same majors on the same days as on the desktop (bcd's
#: chrome_android dates equal chrome's), so one channel serves both.
BCD_PRODUCTS: Final[Mapping[str, _BcdTarget]] = {
    "chrome": _BcdTarget("chrome", "Google Chrome", "stable", "major"),
    "edge": _BcdTarget("edge", "Microsoft Edge", "stable", "major"),
    "firefox": _BcdTarget("firefox", "Mozilla Firefox", "release", "major"),
    # Safari for macOS; on iOS/iPadOS Safari is part of the OS and is judged
    # from the OS release data (endoflife.date), which lists old-line updates.
    "safari": _BcdTarget("safari", "Safari", "macos", "minor"),
}
#: bcd statuses of versions that reached users (beta / nightly / planned did not).
_BCD_RELEASED: Final = frozenset({"retired", "current", "esr"})
BCD_SOURCE: Final = (
    "MDN browser-compat-data {version} (npm @mdn/browser-compat-data, CC0), browsers.json "
    "browsers.{browser}.releases: release_date of every version with status "
    "retired/current/esr; as_of = __meta.timestamp {timestamp}"
)


def parse_bcd_browsers(
    data: bytes | str,
    *,
    products: Iterable[str] = tuple(BCD_PRODUCTS),
    origin: str = "browsers.json",
) -> tuple[ProductReleases, ...]:
    """Products from MDN browser-compat-data's ``browsers.json``.

    ``as_of`` is ``__meta.timestamp`` (when the package was built): bcd
    lists every major (Safari: every ``x.y``) that had shipped by then.
    Versions whose status is beta, nightly or planned, or whose date is after
    the timestamp (scheduled dates), never reached users and are not
    releases; those dated after the timestamp are the vendor's published
    schedule, kept as the default channel's ``scheduled`` (never evidence:
    checks/latest.py uses them only to bound when a newer version can come).
    Firefox versions with status ``esr`` also open an ``esrM`` channel
    (``match_majors: [M]``). Granularity: ``major`` (``minor`` for Safari):
    bcd never lists patch releases.
    """
    doc = decode_json(data, origin)
    if not isinstance(doc, Mapping):
        raise ReleaseDataError(origin, "", "expected an object with __meta and browsers")
    meta = doc.get("__meta")
    if not isinstance(meta, Mapping):
        raise ReleaseDataError(origin, "__meta", "missing: the feed does not say when it was built")
    try:
        as_of = parse_instant(str(meta.get("timestamp")))
    except ValueError:
        raise ReleaseDataError(
            origin, "__meta.timestamp", f"not an RFC 3339 instant: {meta.get('timestamp')!r}"
        ) from None
    package_version = str(meta.get("version", "?"))
    browsers = doc.get("browsers")
    if not isinstance(browsers, Mapping):
        raise ReleaseDataError(origin, "browsers", "expected an object")
    out = []
    for product in products:
        target = BCD_PRODUCTS.get(product)
        if target is None:
            raise ValueError(f"bcd: no mapping for product {product!r} ({', '.join(BCD_PRODUCTS)})")
        entry = browsers.get(target.browser)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("releases"), Mapping):
            raise ReleaseDataError(origin, f"browsers.{target.browser}", "missing or no releases")
        releases: dict[str, datetime] = {}
        planned: dict[str, datetime] = {}
        esr: set[int] = set()
        for version, raw in entry["releases"].items():
            path = f"browsers.{target.browser}.releases.{version}"
            if not isinstance(raw, Mapping):
                raise ReleaseDataError(origin, path, "expected an object")
            if "release_date" not in raw or _DATA_VERSION.match(version) is None:
                if raw.get("status") in _BCD_RELEASED and "release_date" in raw:
                    raise ReleaseDataError(origin, path, "not a dotted numeric version")
                continue  # undated plans, preview names ("TP"): nothing to keep
            when = _day(origin, f"{path}.release_date", raw["release_date"])
            if when > as_of:
                # A scheduled date (beta / nightly / planned, or "current" dated
                # after the build): the vendor's plan, kept apart as a schedule.
                planned[version] = when
                continue
            if raw.get("status") not in _BCD_RELEASED:
                continue  # a plan whose date passed before the build: not evidence
            _earliest(releases, version, when)
            if raw.get("status") == "esr":
                esr.add(int(version.split(".")[0]))
        stable = _sorted(Release(v, d) for v, d in releases.items())
        newest = stable[-1].key if stable else ()
        channels = [
            Channel(
                target.channel,
                stable,
                default=True,
                scheduled=tuple(
                    sorted(
                        (ScheduledRelease(v, d) for v, d in planned.items() if _key(v) > newest),
                        key=lambda p: p.key,
                    )
                ),
            )
        ]
        for major in sorted(esr):
            channels.append(
                Channel(
                    f"esr{major}",
                    _sorted(Release(v, d) for v, d in releases.items() if _key(v)[0] == major),
                    match_majors=(major,),
                )
            )
        out.append(
            ProductReleases(
                product=product,
                display_name=target.display_name,
                kind="browser",
                as_of=as_of,
                granularity=target.granularity,
                sources=(
                    BCD_SOURCE.format(
                        version=package_version,
                        browser=target.browser,
                        timestamp=format_instant(as_of, date_when_midnight=False),
                    ),
                ),
                channels=tuple(sorted(channels, key=lambda c: c.name)),
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------- endoflife.date


@dataclass(frozen=True, slots=True)
class _EolTarget:
    display_name: str
    kind: str
    lines: str  # how versions map to channels: "single", "major", "firefox"


#: endoflife.date product id -> how it becomes release data.
EOL_PRODUCTS: Final[Mapping[str, _EolTarget]] = {
    "chrome": _EolTarget("Google Chrome", "browser", "single"),
    "firefox": _EolTarget("Mozilla Firefox", "browser", "firefox"),
    "ios": _EolTarget("iOS", "os", "major"),
    "ipados": _EolTarget("iPadOS", "os", "major"),
    "macos": _EolTarget("macOS", "os", "major"),
    "android": _EolTarget("Android", "os", "major"),
    "windows": _EolTarget("Windows", "os", "windows"),
}
EOL_RELEASE_DATA_SOURCE: Final = (
    "endoflife.date release-data (github.com/endoflife-date/release-data, MIT) "
    "releases/{product}.json: {what}; as_of = newest date in the file {newest}"
)
EOL_PRODUCT_SOURCE: Final = (
    "endoflife.date product page (github.com/endoflife-date/endoflife.date, MIT) "
    "products/{product}.md: release cycles with release and end-of-support dates; "
    "as_of = newest release date on the page {newest}"
)


def _line_of(version: str, *, minor_lines: bool = False) -> str:
    """The OS line a version belongs to: its major, or ``10.x`` for macOS 10 / OS X.

    Only macOS numbers lines by minor below 11 (``10.15`` Catalina); iOS
    ``10.3.4`` belongs to line ``10``.
    """
    parts = version.split(".")
    if minor_lines and parts[0] == "10" and len(parts) > 1 and parts[1] != "0":
        return f"10.{parts[1]}"
    return parts[0]


def _line_channels(
    dated: Mapping[str, datetime],
    *,
    minor_lines: bool = False,
    labels: Mapping[str, str] | None = None,
    end_of_life: Mapping[str, datetime] | None = None,
) -> tuple[Channel, ...]:
    """One channel per OS line (``"18"``, ``"14"``, ``"10.15"``); the newest is the default.

    Integer lines get ``match_majors`` so ``channel_for`` finds them; the
    10.x lines of macOS share major 10 and are found by name.
    """
    lines: dict[str, list[Release]] = {}
    for version, when in _dedupe(dated).items():
        label = (labels or {}).get(version)
        lines.setdefault(_line_of(version, minor_lines=minor_lines), []).append(
            Release(version, when, label=label)
        )
    if not lines:
        return ()
    newest = max(lines, key=lambda n: tuple(int(p) for p in n.split(".")))
    channels = []
    for name, rels in lines.items():
        channels.append(
            Channel(
                name,
                _sorted(rels),
                # macOS 10.x lines share major 10 and are found by name.
                match_majors=(
                    (int(name),) if "." not in name and not (minor_lines and name == "10") else ()
                ),
                end_of_life=(end_of_life or {}).get(name),
                default=name == newest,
            )
        )
    return tuple(sorted(channels, key=lambda c: c.name))


def split_firefox(
    dated: Mapping[str, datetime], esr_majors: Iterable[int]
) -> tuple[list[Release], dict[int, list[Release]]]:
    """Firefox versions into the ``release`` channel and one list per ESR major.

    ``esrM`` holds ``M.0`` (an ESR starts with the release build) and every
    ``M.n.x`` with ``n >= 1``; ``release`` everything else, including the
    ``M.0.x`` dot releases of an ESR major. Shared by every Firefox feed.
    """
    esr = set(esr_majors)
    release: list[Release] = []
    lines: dict[int, list[Release]] = {m: [] for m in esr}
    for version, when in _dedupe(dated).items():
        parts = [int(p) for p in version.split(".")]
        rel = Release(version, when)
        major, minor = parts[0], parts[1] if len(parts) > 1 else 0
        if major in esr and minor >= 1:
            lines[major].append(rel)
        elif major in esr and _key(version) == (major,):
            lines[major].append(rel)
            release.append(rel)
        else:
            release.append(rel)
    return release, lines


def _infer_esr_majors(versions: Iterable[str]) -> set[int]:
    # Since Firefox 10 (the first ESR) release-channel updates are M.0.x;
    # an M.n with n >= 2 only exists on an ESR line. (33.1 and 50.1 were
    # release updates, so n == 1 alone does not tell.)
    found = set()
    for v in versions:
        parts = [int(p) for p in v.split(".")]
        if parts[0] >= 10 and len(parts) > 1 and parts[1] >= 2:
            found.add(parts[0])
    return found


def assemble_firefox(
    dated: Mapping[str, datetime],
    esr_majors: Iterable[int],
    *,
    as_of: datetime,
    granularity: str,
    sources: tuple[str, ...],
    notes: tuple[str, ...] = (),
    esr_end_of_life: Mapping[int, datetime] | None = None,
    origin: str = "firefox",
) -> ProductReleases:
    """Firefox's channels from dated versions of any number of feeds (:func:`split_firefox`)."""
    release, lines = split_firefox(dated, esr_majors)
    channels = [Channel("release", _sorted(release), default=True)]
    for major, rels in sorted(lines.items()):
        channels.append(
            Channel(
                f"esr{major}",
                _sorted(rels),
                match_majors=(major,),
                end_of_life=(esr_end_of_life or {}).get(major),
            )
        )
    try:
        return ProductReleases(
            product="firefox",
            display_name="Mozilla Firefox",
            kind="browser",
            as_of=as_of,
            granularity=granularity,
            sources=sources,
            channels=tuple(sorted(channels, key=lambda c: c.name)),
            notes=notes,
        )
    except ValueError as exc:
        raise ReleaseDataError(origin, "", str(exc)) from None


def parse_eol_release_data(
    data: bytes | str,
    *,
    product: str,
    origin: str | None = None,
    esr_majors: Iterable[int] = (),
) -> ProductReleases:
    """A product from an endoflife.date release-data file (``releases/<product>.json``).

    The file is ``{"releases": {name: {"name", "releaseDate"}}, "versions":
    {name: {"name", "date"}}}``: Chrome lists majors under ``releases``;
    Firefox, macOS, iOS and iPadOS list every version under ``versions``,
    including the security-only point releases of older lines. Channels:
    Chrome one ``stable`` channel (granularity ``major``); Firefox
    ``release`` plus ``esrM`` lines (``esr_majors``, plus majors with an
    ``M.n`` version, ``n >= 2``, which only ESR lines have); Apple OSes one
    channel per line (``18``, ``14``, ``10.15``; granularity ``build``).
    ``as_of`` is the newest date in the file.
    """
    origin = origin or f"{product}.json"
    target = EOL_PRODUCTS.get(product)
    if target is None or product in ("android", "windows"):
        raise ValueError(f"endoflife release-data: unsupported product {product!r}")
    doc = decode_json(data, origin)
    if not isinstance(doc, Mapping):
        raise ReleaseDataError(origin, "", "expected an object with releases and versions")
    dated: dict[str, datetime] = {}
    for section, date_key in (("releases", "releaseDate"), ("versions", "date")):
        entries = doc.get(section, {})
        if not isinstance(entries, Mapping):
            raise ReleaseDataError(origin, section, "expected an object")
        for name, raw in entries.items():
            path = f"{section}.{name}"
            if not isinstance(raw, Mapping):
                raise ReleaseDataError(origin, path, "expected an object")
            version = str(raw.get("name", name))
            if _DATA_VERSION.match(version) is None:
                raise ReleaseDataError(origin, path, f"not a dotted numeric version: {version!r}")
            _earliest(dated, version, _day(origin, f"{path}.{date_key}", raw.get(date_key)))
    if not dated:
        raise ReleaseDataError(origin, "", "no versions")
    newest = max(dated.values())
    what = "majors with their first stable date" if product == "chrome" else "every version"
    sources = (
        EOL_RELEASE_DATA_SOURCE.format(product=product, what=what, newest=format_instant(newest)),
    )
    if target.lines == "firefox":
        return assemble_firefox(
            dated,
            set(esr_majors) | _infer_esr_majors(dated),
            as_of=newest,
            granularity="build",
            sources=sources,
            origin=origin,
        )
    if target.lines == "single":
        channels: tuple[Channel, ...] = (
            Channel(
                "stable", _sorted(Release(v, d) for v, d in _dedupe(dated).items()), default=True
            ),
        )
        granularity = "major"
    else:
        channels = _line_channels(dated, minor_lines=product == "macos")
        granularity = "build"
    return ProductReleases(
        product=product,
        display_name=target.display_name,
        kind=target.kind,
        as_of=newest,
        granularity=granularity,
        sources=sources,
        channels=channels,
    )


@dataclass(frozen=True, slots=True)
class EolCycle:
    """One release cycle of an endoflife.date product page.

    ``eol`` / ``eoas`` are a date, ``True`` (ended, date unknown) or
    ``False`` (not ended). ``latest`` is the newest version of the cycle
    (Windows: the OS build, ``10.0.26100``).
    """

    cycle: str
    label: str | None
    codename: str | None
    release_date: datetime | None
    eol: datetime | bool
    eoas: datetime | bool | None
    latest: str | None
    latest_release_date: datetime | None
    lts: bool


@dataclass(frozen=True, slots=True)
class EolProduct:
    product: str
    title: str
    cycles: tuple[EolCycle, ...]

    @property
    def newest_evidence(self) -> datetime | None:
        dates = [
            d for c in self.cycles for d in (c.release_date, c.latest_release_date) if d is not None
        ]
        return max(dates, default=None)


def _front_matter(text: str, origin: str) -> str:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ReleaseDataError(origin, "", "no YAML front matter (the page must start with ---)")
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:i])
    raise ReleaseDataError(origin, "", "YAML front matter is not closed by ---")


def _eol_value(origin: str, path: str, value: Any) -> datetime | bool:
    if value in ("true", "false"):
        return bool(value == "true")
    return _day(origin, path, value)


def parse_eol_product(data: bytes | str, *, product: str, origin: str | None = None) -> EolProduct:
    """The release cycles of an endoflife.date product page (``products/<product>.md``).

    The page is Markdown with YAML front matter; its ``releases`` list holds
    one entry per cycle: ``releaseCycle``, ``releaseDate``, ``eol`` /
    ``eoas`` (a date or a boolean), ``latest``, ``latestReleaseDate``,
    ``codename``, ``releaseLabel``, ``lts``. Every scalar is read as text
    (YAML's BaseLoader) so that ``10.10`` stays ``10.10`` and is not read as
    the float ``10.1``. Needs PyYAML.
    """
    origin = origin or f"{product}.md"
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is installed with the package
        raise ReleaseDataError(origin, "", "reading endoflife.date pages needs PyYAML") from None
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        doc = yaml.load(_front_matter(text, origin), Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        raise ReleaseDataError(origin, "", f"bad YAML front matter: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("releases"), list):
        raise ReleaseDataError(origin, "releases", "expected a list of release cycles")
    cycles = []
    for i, raw in enumerate(doc["releases"]):
        path = f"releases[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("releaseCycle"), str):
            raise ReleaseDataError(origin, path, "expected a cycle with a releaseCycle")
        latest = raw.get("latest")
        if latest is not None and _DATA_VERSION.match(latest) is None:
            raise ReleaseDataError(origin, f"{path}.latest", f"not a dotted version: {latest!r}")
        cycles.append(
            EolCycle(
                cycle=raw["releaseCycle"],
                label=raw.get("releaseLabel"),
                codename=raw.get("codename"),
                release_date=(
                    _day(origin, f"{path}.releaseDate", raw["releaseDate"])
                    if "releaseDate" in raw
                    else None
                ),
                eol=_eol_value(origin, f"{path}.eol", raw.get("eol", "false")),
                eoas=(_eol_value(origin, f"{path}.eoas", raw["eoas"]) if "eoas" in raw else None),
                latest=latest,
                latest_release_date=(
                    _day(origin, f"{path}.latestReleaseDate", raw["latestReleaseDate"])
                    if "latestReleaseDate" in raw
                    else None
                ),
                lts=raw.get("lts") == "true",
            )
        )
    return EolProduct(product, str(doc.get("title", product)), tuple(cycles))


#: ``Sec-CH-UA-Platform-Version`` major each Windows 11 feature update reports
#: (Microsoft Edge docs, "Detect Windows 11 using User-Agent Client Hints").
#: endoflife.date does not carry it; feature updates not listed here are not
#: mapped (25H2 and 26H1 were not verified).
WINDOWS_PLATFORM_VERSION_MAJOR: Final[Mapping[str, int]] = {
    "10.0.22000": 13,
    "10.0.22621": 14,
    "10.0.22631": 15,
    "10.0.26100": 19,
}
#: Windows marketing versions the posture checks name (``checks.useragent``).
_WINDOWS_LINES: Final = ("7", "8", "8.1", "10", "11")
_WINDOWS_LABEL: Final = re.compile(r"^(?:7 |8\.1 |8 |10 |11 )?(.*?)(?: \((?:W|E)\)| IoT| IOT)?$")


def _windows_line(cycle: EolCycle) -> str | None:
    head = cycle.cycle.split("-")[0]
    return head if head in _WINDOWS_LINES else None


def eol_product_releases(page: EolProduct) -> ProductReleases:
    """Release data from an endoflife.date product page alone.

    * Windows: channels ``7``, ``8``, ``8.1``, ``10``, ``11``; one release
      per feature update (version = its OS build ``10.0.26100``, label
      ``24H2``, ``platform_version_major`` from
      :data:`WINDOWS_PLATFORM_VERSION_MAJOR`). Editions (Home/Pro ``W``,
      Enterprise ``E``, LTSC, IoT) share the build; the earliest date wins.
    * Android, macOS, iOS, iPadOS: one channel per line; its first release
      (``14`` = ``14.0``, labelled with the codename) and, where given, its
      newest version on ``latestReleaseDate``.
    * Firefox: ``release`` and one ``esrM`` channel per LTS cycle.
    * Chrome: majors in ``stable``.

    ``end_of_life`` of an OS line is set only when a newer line exists and
    every consumer cycle of the line has an end date (the latest of them):
    the newest line has no known end (Windows 11's newest feature update
    ends in 2028, but a newer one will follow). An ESR line's end is its
    cycle's ``eol``. ``eol: true`` without a date gives no instant and is
    not recorded.
    """
    target = EOL_PRODUCTS.get(page.product)
    if target is None:
        raise ValueError(f"endoflife product page: unsupported product {page.product!r}")
    origin = f"{page.product}.md"
    minor_lines = page.product == "macos"
    as_of = page.newest_evidence
    if as_of is None:
        raise ReleaseDataError(origin, "releases", "no dated release cycle")
    dated: dict[str, datetime] = {}
    labels: dict[str, str] = {}
    ends: dict[str, list[datetime | bool]] = {}
    pv: dict[str, int] = {}
    lines_of: dict[str, str] = {}
    for c in page.cycles:
        if c.release_date is None:
            continue
        if target.lines == "windows":
            line = _windows_line(c)
            if line is None or c.latest is None:
                continue
            version = c.latest
            m = _WINDOWS_LABEL.match(c.label or "")
            label = m.group(1) if m and m.group(1) else None
            _earliest(dated, version, c.release_date)
            lines_of[version] = line
            if label and line in ("10", "11"):
                labels[version] = label
            if version in WINDOWS_PLATFORM_VERSION_MAJOR:
                pv[version] = WINDOWS_PLATFORM_VERSION_MAJOR[version]
            if not c.lts and "-e" not in c.cycle and "iot" not in c.cycle:
                ends.setdefault(line, []).append(c.eol)
            continue
        first = c.cycle if "." in c.cycle or target.lines == "single" else f"{c.cycle}.0"
        if _DATA_VERSION.match(first) is None:
            continue  # Android "4.4w" (a watch variant): not a version a phone reports
        _earliest(dated, first, c.release_date)
        if c.codename and target.lines == "major":
            labels[first] = c.codename
        if c.latest and c.latest_release_date:
            _earliest(dated, c.latest, c.latest_release_date)
        ends.setdefault(_line_of(first, minor_lines=minor_lines), []).append(c.eol)
    source = (EOL_PRODUCT_SOURCE.format(product=page.product, newest=format_instant(as_of)),)

    def line_order(name: str) -> tuple[int, ...]:
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    newest_line = max(ends, key=line_order, default=None)

    def ended(line: str) -> datetime | None:
        # A line has ended when it is not the newest line (a newer OS version
        # exists, so no newer cycle of this line will come) and every consumer
        # cycle of it has an end date: Windows 10 ends with 22H2's end of
        # support, while Windows 11's newest feature update ending in 2028
        # says nothing about Windows 11 (a newer one will follow).
        values = ends.get(line, [])
        if line == newest_line or not values or not all(isinstance(v, datetime) for v in values):
            return None
        return max(v for v in values if isinstance(v, datetime))

    if target.lines == "firefox":
        esr = {int(c.cycle) for c in page.cycles if c.lts}
        # An ESR line is one cycle: its published end of support is the
        # line's end (Mozilla plans it a year ahead), passed or not.
        esr_eol = {
            int(c.cycle): c.eol for c in page.cycles if c.lts and isinstance(c.eol, datetime)
        }
        return assemble_firefox(
            dated,
            esr,
            as_of=as_of,
            granularity="major",
            sources=source,
            esr_end_of_life=esr_eol,
            origin=origin,
        )
    if target.lines == "single":
        channels: tuple[Channel, ...] = (
            Channel(
                "stable", _sorted(Release(v, d) for v, d in _dedupe(dated).items()), default=True
            ),
        )
        granularity = "major"
    elif target.lines == "windows":
        by_line: dict[str, list[Release]] = {}
        for version, when in dated.items():
            by_line.setdefault(lines_of[version], []).append(
                Release(
                    version,
                    when,
                    label=labels.get(version),
                    platform_version_major=pv.get(version),
                )
            )
        channels = tuple(
            Channel(
                line,
                _sorted(rels),
                end_of_life=ended(line),
                default=line == "11",
            )
            for line, rels in sorted(by_line.items())
        )
        granularity = "build"
    else:
        lines = {_line_of(v, minor_lines=minor_lines) for v in dated}
        channels = _line_channels(
            dated,
            minor_lines=minor_lines,
            labels=labels,
            end_of_life={n: e for n in lines if (e := ended(n))},
        )
        granularity = "minor"
    return ProductReleases(
        product=page.product,
        display_name=target.display_name,
        kind=target.kind,
        as_of=as_of,
        granularity=granularity,
        sources=source,
        channels=channels,
    )


# --------------------------------------------------------------------------- Chrome VersionHistory

#: Stop following nextPageToken after this many pages: a feed that never ends
#: is a bug (the whole Windows stable history is a few pages of 1000).
MAX_VERSIONHISTORY_PAGES: Final = 200


def collect_versionhistory_pages(
    fetch_page: Callable[[str | None], bytes | str],
    *,
    origin: str = "versionhistory",
    max_pages: int = MAX_VERSIONHISTORY_PAGES,
) -> list[Mapping[str, Any]]:
    """Every page of a VersionHistory ``.../releases`` listing, following ``nextPageToken``.

    ``fetch_page(token)`` returns the body of one page: ``token`` is ``None``
    for the first page, then the previous page's ``nextPageToken`` (the
    caller adds ``&pageToken=<token>`` to the URL; tests pass a dict lookup).
    A token seen twice or more than ``max_pages`` pages raise
    :class:`ReleaseDataError` instead of looping forever. The pages go to
    ``server.release_import.parse_chrome_versionhistory`` one by one.
    """
    pages: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    token: str | None = None
    while True:
        if len(pages) >= max_pages:
            raise ReleaseDataError(origin, "nextPageToken", f"more than {max_pages} pages")
        page = decode_json(fetch_page(token), f"{origin} page {len(pages) + 1}")
        if not isinstance(page, Mapping):
            raise ReleaseDataError(f"{origin} page {len(pages) + 1}", "", "expected an object")
        pages.append(page)
        nxt = page.get("nextPageToken")
        if not nxt:
            return pages
        if not isinstance(nxt, str) or nxt in seen:
            raise ReleaseDataError(
                f"{origin} page {len(pages)}", "nextPageToken", f"repeated or bad token {nxt!r}"
            )
        seen.add(nxt)
        token = nxt
