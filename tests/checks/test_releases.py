"""The pure release-history model: checks/releases.py."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from checks.releases import (
    Channel,
    ProductReleases,
    Release,
    ReleaseCatalog,
    ReleaseDataError,
    channel_for,
    classify_version,
    compare_at_precision,
    effective_components,
    format_instant,
    is_end_of_life,
    is_stale,
    latest_at,
    line_channel,
    parse_instant,
    product_from_dict,
    product_to_dict,
    release_for_platform_version,
    version_key,
    version_known,
)

RELEASES_DIR = Path(__file__).resolve().parents[2] / "rules" / "data" / "releases"
US = timedelta(microseconds=1)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=UTC)


def ver(release: Release | None) -> str | None:
    return None if release is None else release.version


def shipped(product: str) -> ProductReleases:
    path = RELEASES_DIR / f"{product}.json"
    return product_from_dict(json.loads(path.read_text(encoding="utf-8")), origin=path.name)


def channel(*releases: tuple[str, datetime], name: str = "stable", **kw: Any) -> Channel:
    return Channel(
        name=name,
        releases=tuple(sorted((Release(v, t) for v, t in releases), key=lambda r: r.key)),
        **kw,
    )


def minimal_doc() -> dict[str, Any]:
    return {
        "schema": 1,
        "product": "chrome",
        "display_name": "Google Chrome",
        "kind": "browser",
        "as_of": "2025-06-30T00:00:00Z",
        "granularity": "build",
        "sources": ["test"],
        "channels": {
            "stable": {
                "default": True,
                "releases": [
                    {"version": "131.0.6778.69", "released_at": "2024-11-12T00:00:00Z"},
                    {"version": "131.0.6778.86", "released_at": "2024-11-19"},
                    {"version": "130.0.6723.117", "released_at": "2024-11-05"},
                    {"version": "132.0.6834.83", "released_at": "2025-01-14"},
                ],
            },
            "extended": {"match_majors": [130], "releases": []},
        },
    }


# --------------------------------------------------------------------------- instants


class TestInstants:
    def test_date_is_midnight_utc(self) -> None:
        assert parse_instant("2024-11-12") == utc(2024, 11, 12)

    def test_rfc3339_with_offset_is_converted_to_utc(self) -> None:
        assert parse_instant("2024-11-12T09:00:00+09:00") == utc(2024, 11, 12)
        assert parse_instant("2024-11-12T09:00:00+09:00").tzinfo is UTC

    def test_nanoseconds_are_truncated_to_microseconds(self) -> None:
        assert parse_instant("2024-11-19T20:00:00.123456789Z") == utc(
            2024, 11, 19, 20, 0, 0, 123456
        )

    @pytest.mark.parametrize(
        "text",
        [
            "2024-11-12T00:00:00",
            "2024-13-01",
            "2024-02-30",
            "12 Nov 2024",
            "",
            "2024-11-12T25:00:00Z",
        ],
    )
    def test_rejects_naive_and_malformed(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_instant(text)

    def test_format_round_trips(self) -> None:
        assert format_instant(utc(2024, 11, 12)) == "2024-11-12"
        assert format_instant(utc(2024, 11, 12), date_when_midnight=False) == "2024-11-12T00:00:00Z"
        assert format_instant(utc(2024, 11, 19, 20, 0, 0, 123456)) == "2024-11-19T20:00:00.123456Z"
        for text in ("2024-11-12", "2024-11-19T20:00:00.123456Z", "2024-11-19T20:00:00Z"):
            assert format_instant(parse_instant(text)) == text


# --------------------------------------------------------------------------- versions

versions = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=5).map(
    lambda parts: ".".join(map(str, parts))
)


@given(versions, versions)
def test_version_order_matches_packaging_for_numeric_versions(a: str, b: str) -> None:
    assert (version_key(a) < version_key(b)) == (Version(a) < Version(b))
    assert (version_key(a) == version_key(b)) == (Version(a) == Version(b))


def test_trailing_zeros_do_not_matter() -> None:
    assert version_key("18.3") == version_key("18.3.0") < version_key("18.3.1")


@pytest.mark.parametrize(
    ("client", "known", "required", "expected"),
    [
        # A reduced Chrome UA: only the major is real.
        ("131", 1, "131.0.6778.86", "indeterminate"),
        ("131.0.0.0", 1, "131.0.6778.86", "indeterminate"),
        ("132", 1, "131.0.6778.86", "newer_or_equal"),
        ("130", 1, "131.0.6778.86", "older"),
        # Nothing non-zero after the known part: the client cannot be older.
        ("136", 1, "136.0", "newer_or_equal"),
        ("136.0", 1, "136", "newer_or_equal"),
        # Full versions from client hints.
        ("131.0.6778.86", 4, "131.0.6778.86", "newer_or_equal"),
        ("131.0.6778.85", 4, "131.0.6778.86", "older"),
        ("131.0.6778.108", 4, "131.0.6778.86", "newer_or_equal"),
        ("131.0.6778.86", 2, "131.0.6778.86", "indeterminate"),
        # Major-only data: any build of the major satisfies it.
        ("131.0.6778.86", 4, "131", "newer_or_equal"),
        ("130.0.6723.117", 4, "131", "older"),
        # Safari.
        ("18.3.1", 3, "18.3", "newer_or_equal"),
        ("18.3", 2, "18.3.1", "indeterminate"),
        ("18.2", 2, "18.3.1", "older"),
        ("18.4", 2, "18.3.1", "newer_or_equal"),
        # known_components is capped at what the string holds: "18.3" is not "18.3.0".
        ("18.3", 3, "18.3.1", "indeterminate"),
        # Firefox: the UA gives only the major; ESR suffix is a marker, not an order.
        ("128.0", 1, "128.8.0", "indeterminate"),
        ("128.8.0esr", 3, "128.8.0", "newer_or_equal"),
        ("127.0", 1, "128.8.0", "older"),
        # A pre-release precedes its release, when the full version is known.
        ("137.0b9", 2, "137.0", "older"),
        ("137.0b9", 2, "136.0.2", "newer_or_equal"),
        ("137.0b9", 1, "137.0", "newer_or_equal"),
        # Nothing known.
        ("131", 0, "1", "indeterminate"),
    ],
)
def test_compare_at_precision(client: str, known: int, required: str, expected: str) -> None:
    assert compare_at_precision(client, known, required) == expected


@pytest.mark.parametrize(("client", "known"), [("10_15_7", 3), ("latest", 1), ("", 1), ("1.x", 1)])
def test_compare_at_precision_rejects_malformed(client: str, known: int) -> None:
    with pytest.raises(ValueError):
        compare_at_precision(client, known, "1.0")


def test_compare_at_precision_rejects_negative_precision() -> None:
    with pytest.raises(ValueError):
        compare_at_precision("1.0", -1, "1.0")


# --------------------------------------------------------------------------- latest_at

D131 = utc(2024, 11, 12)
D131_86 = utc(2024, 11, 19)
GRACE = timedelta(days=7)
CH = channel(
    ("130.0.6723.117", utc(2024, 11, 5)),
    ("131.0.6778.69", D131),
    ("131.0.6778.86", D131_86),
)


class TestLatestAt:
    def test_grace_boundary_exactly_equal_is_not_yet_required(self) -> None:
        answer = latest_at(CH, D131_86 + GRACE, GRACE)
        assert answer.required is not None and answer.required.version == "131.0.6778.69"
        assert answer.newest is not None and answer.newest.version == "131.0.6778.86"
        assert answer.accepts("131.0.6778.69", 4) == "newer_or_equal"

    def test_grace_boundary_one_microsecond_later_is_required(self) -> None:
        answer = latest_at(CH, D131_86 + GRACE + US, GRACE)
        assert answer.required is not None and answer.required.version == "131.0.6778.86"
        assert answer.accepts("131.0.6778.69", 4) == "older"
        assert answer.accepts("131.0.6778.86", 4) == "newer_or_equal"

    def test_release_visible_from_its_instant_on(self) -> None:
        assert ver(latest_at(CH, D131_86 - US, GRACE).newest) == "131.0.6778.69"
        assert ver(latest_at(CH, D131_86, GRACE).newest) == "131.0.6778.86"

    def test_releases_after_at_are_invisible(self) -> None:
        # Replaying a verdict of 2024-11-15 with data extended later gives the same answer.
        at = utc(2024, 11, 15)
        later = channel(
            *((r.version, r.released_at) for r in CH.releases), ("132.0.6834.83", utc(2025, 1, 14))
        )
        assert latest_at(CH, at, GRACE) == latest_at(later, at, GRACE)
        assert classify_version(later, "132.0.6834.83", 4, at=at) == "newer_than_data"
        assert classify_version(later, "132.0.6834.83", 4) == "known"

    def test_nothing_out_long_enough(self) -> None:
        answer = latest_at(CH, utc(2024, 11, 6), GRACE)
        assert answer.required is None
        assert answer.newest is not None and answer.newest.version == "130.0.6723.117"
        assert answer.accepts("131", 1) == "indeterminate"

    def test_nothing_released_yet(self) -> None:
        answer = latest_at(CH, utc(2020, 1, 1), GRACE)
        assert answer.required is None and answer.newest is None

    def test_zero_grace(self) -> None:
        assert ver(latest_at(CH, D131 + US, timedelta(0)).required) == "131.0.6778.69"
        assert ver(latest_at(CH, D131, timedelta(0)).required) == "130.0.6723.117"

    def test_newest_is_by_version_not_by_date(self) -> None:
        # An older line's update on the day of a new major (Firefox ESR, iOS 17.7 / 18.0).
        same_day = utc(2024, 9, 16)
        ch = channel(("17.7", same_day), ("18.0", same_day))
        assert ver(latest_at(ch, same_day + GRACE + US, GRACE).required) == "18.0"

    def test_rejects_naive_at_and_negative_grace(self) -> None:
        with pytest.raises(ValueError):
            latest_at(CH, datetime(2025, 1, 1), GRACE)
        with pytest.raises(ValueError):
            latest_at(CH, utc(2025, 1, 1), -US)


# --------------------------------------------------------------------------- channels


class TestChannels:
    def test_esr_major_selects_esr_channel(self) -> None:
        firefox = shipped("firefox")
        assert channel_for(firefox, "128.0").name == "esr128"
        assert channel_for(firefox, "115").name == "esr115"
        assert channel_for(firefox, "136.0").name == "release"
        assert channel_for(firefox, "140").name == "esr140"
        assert channel_for(firefox, "141").name == "release"
        assert channel_for(firefox, "102.0").name == "esr102"  # an ended ESR line
        assert channel_for(firefox, "not a version").name == "release"

    def test_esr_channel_latest(self) -> None:
        esr = channel_for(shipped("firefox"), "128.0")
        answer = latest_at(esr, utc(2025, 3, 8), GRACE)
        assert answer.required is not None and answer.required.version == "128.7.0"
        assert answer.newest is not None and answer.newest.version == "128.8.0"

    def test_channel_by_name(self) -> None:
        safari = shipped("safari")
        assert safari.channel("macos") is not None
        # Safari on iPhone/iPad is judged from the iOS / iPadOS data.
        assert safari.channel("ios") is None
        assert safari.default_channel.name == "macos"

    @pytest.mark.parametrize(
        ("product", "version", "line"),
        [
            ("ios", "18.7.2", "18"),
            ("ios", "10.3.4", "10"),  # iOS 10 is one line, unlike macOS 10
            ("ios", "26.0", "26"),
            ("ios", "27.1", None),  # beyond the data: no line, never the default
            ("macos", "10.15.7", "10.15"),
            ("macos", "14.6", "14"),
            ("macos", "26", "26"),
            ("windows", "8.1", "8.1"),
            ("ios", "not a version", None),
        ],
    )
    def test_line_channel(self, product: str, version: str, line: str | None) -> None:
        found = line_channel(shipped(product), version)
        assert (found.name if found else None) == line

    def test_end_of_life_boundary(self) -> None:
        win10 = shipped("windows").channel("10")
        assert win10 is not None and win10.end_of_life == utc(2025, 10, 14)
        assert not is_end_of_life(win10, utc(2025, 10, 14) - US)
        assert is_end_of_life(win10, utc(2025, 10, 14))
        assert latest_at(win10, utc(2025, 10, 14), GRACE).end_of_life
        assert not latest_at(win10, utc(2025, 10, 13), GRACE).end_of_life
        win11 = shipped("windows").channel("11")
        assert win11 is not None and not is_end_of_life(win11, utc(2030, 1, 1))

    def test_windows_platform_version_mapping(self) -> None:
        win11 = shipped("windows").channel("11")
        assert win11 is not None
        expected = {"13.0.0": "21H2", "14.0.0": "22H2", "15.0.0": "23H2", "19.0.0": "24H2"}
        for platform_version, label in expected.items():
            release = release_for_platform_version(win11, platform_version)
            assert release is not None and release.label == label
        assert release_for_platform_version(win11, "16.0.0") is None
        assert release_for_platform_version(win11, "") is None

    def test_unsorted_channel_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="sorted"):
            Channel("x", (Release("2", D131), Release("1", D131)))
        with pytest.raises(ValueError, match="sorted"):
            Channel("x", (Release("1.0", D131), Release("1", D131)))


# --------------------------------------------------------------------------- staleness


class TestStaleness:
    def test_boundary(self) -> None:
        chrome = shipped("chrome")
        limit = timedelta(days=45)
        assert not is_stale(chrome, chrome.as_of + limit, limit)
        assert is_stale(chrome, chrome.as_of + limit + US, limit)

    def test_shipped_phishwall_is_always_stale(self) -> None:
        phishwall = shipped("phishwall")
        assert all(not c.releases for c in phishwall.channels)
        assert is_stale(phishwall, utc(2001, 1, 1), timedelta(days=90))
        assert {c.name for c in phishwall.channels} == {"client", "extension"}


# --------------------------------------------------------------------------- known versions


class TestVersionKnown:
    def test_major_only_data(self) -> None:
        chrome = shipped("chrome")
        stable = chrome.default_channel
        k = effective_components(chrome, 4)
        assert k == 1
        assert classify_version(stable, "131.0.6778.86", k) == "known"
        assert classify_version(stable, "131", 1) == "known"
        assert classify_version(stable, "158", 1) == "newer_than_data"
        assert classify_version(stable, "95.0.4638.69", k) == "known"  # the data starts at 1
        assert classify_version(stable, "0.2", k) == "older_than_data"
        # Without the cap the data cannot vouch for a build it does not list: never FAIL.
        assert classify_version(stable, "131.0.6778.86", 4) == "unknown"

    def test_minor_data(self) -> None:
        macos = shipped("safari").channel("macos")
        assert macos is not None
        assert classify_version(macos, "18.3.1", 2) == "known"
        assert classify_version(macos, "18.3.1", 3) == "unknown"
        assert classify_version(macos, "18", 1) == "known"
        assert classify_version(macos, "28.0", 2) == "newer_than_data"
        assert classify_version(macos, "18.7", 2) == "unknown"  # no Safari 18.7 release
        assert not version_known(macos, "18.7", 2)

    def test_build_data(self) -> None:
        line = shipped("ios").channel("18")
        assert line is not None
        assert version_known(line, "18.3.2", 3)
        assert version_known(line, "18.3", 2)
        assert classify_version(line, "18.7.11", 3) == "newer_than_data"
        assert classify_version(line, "18.3.9", 3) == "unknown"
        assert classify_version(line, "17.7", 2) == "older_than_data"

    def test_nothing_known(self) -> None:
        assert classify_version(CH, "131", 0) == "unknown"
        empty = shipped("phishwall").default_channel
        assert classify_version(empty, "4.3.1", 3) == "unknown"

    def test_effective_components(self) -> None:
        assert effective_components(shipped("chrome"), 4) == 1
        assert effective_components(shipped("safari"), 3) == 2
        # Firefox's newest source (browser-compat-data) lists majors only.
        assert effective_components(shipped("firefox"), 3) == 1
        assert effective_components(shipped("ios"), 3) == 3


# --------------------------------------------------------------------------- file format


def test_minimal_document_loads() -> None:
    product = product_from_dict(minimal_doc(), origin="chrome.json")
    stable = product.channel("stable")
    assert stable is not None and stable.default
    assert [r.version for r in stable.releases] == [
        "130.0.6723.117",
        "131.0.6778.69",
        "131.0.6778.86",
        "132.0.6834.83",
    ]
    assert stable.releases[1].released_at == utc(2024, 11, 12)
    assert channel_for(product, "130.0.1.2").name == "extended"


def test_round_trip_is_canonical() -> None:
    product = product_from_dict(minimal_doc(), origin="chrome.json")
    again = product_from_dict(product_to_dict(product), origin="chrome.json")
    assert again == product
    assert product_to_dict(again) == product_to_dict(product)


Mutator = Callable[[dict[str, Any]], None]


def _set(path: list[Any], value: Any) -> Mutator:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Mutator:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


REL = ["channels", "stable", "releases"]
BAD_CASES: list[tuple[str, Mutator, str, str]] = [
    ("schema", _set(["schema"], 2), "schema", "unsupported schema"),
    ("schema bool", _set(["schema"], True), "schema", "unsupported schema"),
    ("missing schema", _delete(["schema"]), "schema", "missing"),
    ("product id", _set(["product"], "Chrome!"), "product", "lower-case id"),
    ("display name", _set(["display_name"], ""), "display_name", "non-empty string"),
    ("kind", _set(["kind"], "app"), "kind", "must be one of"),
    ("as_of", _set(["as_of"], "yesterday"), "as_of", "not an ISO date"),
    ("naive as_of", _set(["as_of"], "2025-06-30T00:00:00"), "as_of", "not an ISO date"),
    ("granularity", _set(["granularity"], "patch"), "granularity", "must be one of"),
    ("no sources", _set(["sources"], []), "sources", "non-empty array"),
    ("source type", _set(["sources"], ["ok", 3]), "sources[1]", "non-empty string"),
    ("notes type", _set(["notes"], "text"), "notes", "array of strings"),
    ("unknown top key", _set(["chanels"], {}), "chanels", "unknown key"),
    ("channels type", _set(["channels"], []), "channels", "expected an object"),
    ("no channels", _set(["channels"], {}), "channels", "at least one channel"),
    ("two defaults", _set(["channels", "extended", "default"], True), "channels", "exactly one"),
    ("no default", _set(["channels", "stable", "default"], False), "channels", "exactly one"),
    (
        "default type",
        _set(["channels", "stable", "default"], "yes"),
        "channels.stable.default",
        "true or false",
    ),
    (
        "channel key",
        _set(["channels", "stable", "relases"], []),
        "channels.stable.relases",
        "unknown key",
    ),
    (
        "missing releases",
        _delete(["channels", "stable", "releases"]),
        "channels.stable.releases",
        "missing",
    ),
    (
        "releases type",
        _set(["channels", "stable", "releases"], {}),
        "channels.stable.releases",
        "expected an array",
    ),
    (
        "match_majors type",
        _set(["channels", "extended", "match_majors"], [130.5]),
        "channels.extended.match_majors[0]",
        "non-negative integer",
    ),
    (
        "match_majors shared",
        _set(["channels", "stable", "match_majors"], [130]),
        "channels.extended.match_majors[0]",
        "already matched",
    ),
    (
        "end_of_life",
        _set(["channels", "extended", "end_of_life"], "soon"),
        "channels.extended.end_of_life",
        "not an ISO date",
    ),
    ("release type", _set([*REL, 1], "131"), "channels.stable.releases[1]", "expected an object"),
    (
        "version format",
        _set([*REL, 1, "version"], "131.0.x"),
        "channels.stable.releases[1].version",
        "dotted integers",
    ),
    (
        "version type",
        _set([*REL, 1, "version"], 131),
        "channels.stable.releases[1].version",
        "dotted integers",
    ),
    (
        "missing version",
        _delete([*REL, 2, "version"]),
        "channels.stable.releases[2].version",
        "missing",
    ),
    (
        "duplicate version",
        _set([*REL, 3, "version"], "131.0.6778.69.0"),
        "channels.stable.releases[3].version",
        "duplicate",
    ),
    (
        "released_at",
        _set([*REL, 3, "released_at"], "14/01/2025"),
        "channels.stable.releases[3].released_at",
        "not an ISO date",
    ),
    (
        "released_at type",
        _set([*REL, 3, "released_at"], 20250114),
        "channels.stable.releases[3].released_at",
        "not an ISO date",
    ),
    (
        "after as_of",
        _set([*REL, 3, "released_at"], "2025-07-01"),
        "channels.stable.releases[3].released_at",
        "after the document's as_of",
    ),
    (
        "note type",
        _set([*REL, 0, "note"], 5),
        "channels.stable.releases[0].note",
        "non-empty string",
    ),
    (
        "platform major",
        _set([*REL, 0, "platform_version_major"], "19"),
        "channels.stable.releases[0].platform_version_major",
        "non-negative integer",
    ),
    (
        "release key",
        _set([*REL, 0, "date"], "2024-01-01"),
        "channels.stable.releases[0].date",
        "unknown key",
    ),
]


@pytest.mark.parametrize(
    ("case", "mutate", "path", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_documents_name_file_and_path(
    case: str, mutate: Mutator, path: str, message: str
) -> None:
    doc = copy.deepcopy(minimal_doc())
    mutate(doc)
    with pytest.raises(ReleaseDataError) as info:
        product_from_dict(doc, origin="chrome.json")
    err = info.value
    assert err.origin == "chrome.json"
    assert err.path == path
    assert message in err.message
    assert str(err).startswith(f"chrome.json: {path}: ")


def test_not_an_object() -> None:
    with pytest.raises(ReleaseDataError) as info:
        product_from_dict([], origin="x.json")  # type: ignore[arg-type]
    assert str(info.value).startswith("x.json: expected an object")


# ------------------------------------------------------------------ catalog and shipped data


def test_catalog_get() -> None:
    catalog = ReleaseCatalog.of([shipped("chrome"), shipped("firefox")])
    assert catalog.get("chrome") is not None
    assert catalog.get("opera") is None
    with pytest.raises(ValueError):
        ReleaseCatalog.of([shipped("chrome"), shipped("chrome")])
    with pytest.raises(ValueError):
        ReleaseCatalog({"edge": shipped("chrome")})


@pytest.mark.parametrize("path", sorted(RELEASES_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_file_loads(path: Path) -> None:
    product = product_from_dict(json.loads(path.read_text(encoding="utf-8")), origin=path.name)
    assert path.stem == product.product
    assert product.sources
    for ch in product.channels:
        for release in ch.releases:
            assert release.released_at <= product.as_of


def test_all_expected_products_are_shipped() -> None:
    names = {p.stem for p in RELEASES_DIR.glob("*.json")}
    assert {
        "chrome",
        "edge",
        "firefox",
        "safari",
        "windows",
        "macos",
        "ios",
        "android",
        "ipados",
        "phishwall",
    } <= names
