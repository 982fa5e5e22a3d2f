"""Importers of real release feeds (server/release_feeds.py) and the shipped-data rebuild.

Small inline documents in each feed's exact shape test the parsers on both
sides of each rule; the real files in ``../shared/data`` (skipped only when
absent, like tests/claims/test_catalogue.py) prove that the shipped
``rules/data/releases`` are exactly what the importers make of them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checks.releases import ReleaseDataError, channel_for, line_channel
from server.release_feeds import (
    collect_versionhistory_pages,
    eol_product_releases,
    parse_bcd_browsers,
    parse_eol_product,
    parse_eol_release_data,
)
from server.release_import import (
    REBUILT_PRODUCTS,
    FeedAsOfError,
    build_release_data,
    check_as_of,
    fetch_chrome_versionhistory,
    import_feed,
    import_feeds,
    load_product,
    render_product,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RELEASES_DIR = ROOT / "rules" / "data" / "releases"
MOZILLA_DIR = Path(__file__).parent / "fixtures" / "mozilla-product-details"
US = timedelta(microseconds=1)

needs_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "browser-compat-data" / "browsers.json").exists(),
    reason="../shared/data not available",
)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=UTC)


def bcd_doc(timestamp: str = "2026-11-12T14:10:29.391Z") -> dict[str, Any]:
    def rel(date: str | None, status: str) -> dict[str, Any]:
        out: dict[str, Any] = {"engine": "Blink", "status": status}
        if date:
            out["release_date"] = date
        return out

    return {
        "__meta": {"timestamp": timestamp, "version": "8.1.9"},
        "browsers": {
            "chrome": {
                "releases": {
                    "156": rel("2026-10-20", "retired"),
                    "157": rel("2026-11-03", "current"),
                    "158": rel("2026-11-17", "beta"),
                    "159": rel("2026-12-08", "nightly"),
                    "160": rel(None, "planned"),
                }
            },
            "edge": {"releases": {"157": rel("2026-11-05", "current")}},
            "firefox": {
                "releases": {
                    "153": rel("2026-07-21", "esr"),
                    "160": rel("2026-11-10", "current"),
                    # "current" yet dated after the package was built: a schedule.
                    "161": rel("2026-11-24", "current"),
                }
            },
            "safari": {
                "releases": {
                    "27.1": rel("2026-10-23", "retired"),
                    "27.2": rel("2026-10-26", "current"),
                    "27.3": rel(None, "beta"),
                }
            },
        },
    }


# --------------------------------------------------------------------------- bcd


class TestBcd:
    def test_as_of_is_the_package_timestamp_and_only_shipped_versions_count(self) -> None:
        products = {p.product: p for p in parse_bcd_browsers(json.dumps(bcd_doc()).encode())}
        chrome = products["chrome"]
        assert chrome.as_of == utc(2026, 11, 12, 14, 10, 29, 391000)
        assert [r.version for r in chrome.default_channel.releases] == ["156", "157"]
        assert chrome.granularity == "major" and chrome.display_name == "Google Chrome"
        firefox = products["firefox"]
        assert "161" not in [r.version for r in firefox.default_channel.releases]
        assert channel_for(firefox, "153").name == "esr153"
        safari = products["safari"]
        assert safari.granularity == "minor"
        assert [r.version for r in safari.default_channel.releases] == ["27.1", "27.2"]

    def test_a_release_dated_at_the_timestamp_counts_one_after_does_not(self) -> None:
        doc = bcd_doc(timestamp="2026-11-17T00:00:00Z")
        (chrome,) = parse_bcd_browsers(json.dumps(doc), products=["chrome"])
        assert [r.version for r in chrome.default_channel.releases] == ["156", "157"]
        doc["browsers"]["chrome"]["releases"]["158"]["status"] = "current"
        (chrome,) = parse_bcd_browsers(json.dumps(doc), products=["chrome"])
        assert [r.version for r in chrome.default_channel.releases][-1] == "158"
        doc["__meta"]["timestamp"] = "2026-11-16T23:59:59.999999Z"
        (chrome,) = parse_bcd_browsers(json.dumps(doc), products=["chrome"])
        assert [r.version for r in chrome.default_channel.releases][-1] == "157"

    @pytest.mark.parametrize(
        ("mutate", "path"),
        [
            (lambda d: d.pop("__meta"), "__meta"),
            (lambda d: d["__meta"].update(timestamp="yesterday"), "__meta.timestamp"),
            (lambda d: d["browsers"].pop("edge"), "browsers.edge"),
            (
                lambda d: d["browsers"]["chrome"]["releases"]["157"].update(release_date="11/3"),
                "browsers.chrome.releases.157.release_date",
            ),
        ],
    )
    def test_bad_documents_name_the_path(self, mutate: Any, path: str) -> None:
        doc = bcd_doc()
        mutate(doc)
        with pytest.raises(ReleaseDataError) as info:
            parse_bcd_browsers(json.dumps(doc))
        assert info.value.path == path

    def test_import_writes_every_product_and_is_idempotent(self, tmp_path: Path) -> None:
        feed = tmp_path / "browsers.json"
        feed.write_text(json.dumps(bcd_doc()), encoding="utf-8")
        first = import_feeds("bcd", [feed], tmp_path / "data", None)
        assert {s.product for s in first} == {"chrome", "edge", "firefox", "safari"}
        assert all(s.written for s in first)
        again = import_feeds("bcd", [feed], tmp_path / "data", None)
        assert not any(s.written for s in again)
        with pytest.raises(ValueError, match="import_feeds"):
            import_feed("bcd", [feed], tmp_path / "data", None)


# --------------------------------------------------------------------------- endoflife.date

IOS_RELEASE_DATA = {
    "releases": {},
    "versions": {
        "18.7.10": {"name": "18.7.10", "date": "2026-08-17"},
        "18.7": {"name": "18.7", "date": "2025-09-15"},
        "26.6.1": {"name": "26.6.1", "date": "2026-08-17"},
        "26.6": {"name": "26.6", "date": "2026-07-27"},
        "10.3.4": {"name": "10.3.4", "date": "2019-07-22"},
    },
}

WINDOWS_PAGE = """---
title: Microsoft Windows
releases:
  - releaseCycle: "11-25h2-w"
    releaseLabel: "11 25H2 (W)"
    releaseDate: 2025-09-30
    eol: 2027-10-12
    latest: 10.0.26200
  - releaseCycle: "11-24h2-e"
    releaseLabel: "11 24H2 (E)"
    releaseDate: 2024-10-01
    eol: 2027-10-12
    latest: 10.0.26100
  - releaseCycle: "11-24h2-w"
    releaseLabel: "11 24H2 (W)"
    releaseDate: 2024-10-01
    eol: 2026-10-13
    latest: 10.0.26100
  - releaseCycle: "10-22h2"
    releaseLabel: "10 22H2"
    releaseDate: 2022-10-18
    eol: 2025-10-14
    latest: 10.0.19045
  - releaseCycle: "10-21h2-e-lts"
    releaseLabel: "10 21H2 (E)"
    releaseDate: 2021-11-16
    lts: true
    eol: 2027-01-12
    latest: 10.0.19044
---

> Microsoft Windows is a family of operating systems.
"""

MACOS_PAGE = """---
title: Apple macOS
releases:
  - releaseCycle: "26"
    codename: "Tahoe"
    releaseDate: 2025-09-15
    eol: false
    latest: "26.6.2"
    latestReleaseDate: 2026-08-17
  - releaseCycle: "13"
    codename: "Ventura"
    releaseDate: 2022-10-24
    eol: 2025-09-15
    latest: "13.7.8"
    latestReleaseDate: 2025-08-20
  - releaseCycle: "10.10"
    codename: "Yosemite"
    releaseDate: 2014-10-16
    eol: 2017-08-01
    latest: 10.10.5
---
"""


class TestEndOfLife:
    def test_release_data_lines_and_as_of(self) -> None:
        ios = parse_eol_release_data(json.dumps(IOS_RELEASE_DATA).encode(), product="ios")
        assert ios.as_of == utc(2026, 8, 17)  # the newest date in the file
        assert ios.granularity == "build"
        assert ios.default_channel.name == "26"
        line = line_channel(ios, "18.7.2")
        assert line is not None and [r.version for r in line.releases] == ["18.7", "18.7.10"]
        line10 = line_channel(ios, "10.3")
        assert line10 is not None and line10.name == "10"  # iOS numbers lines by major

    def test_firefox_esr_lines_inferred_from_minor_versions(self) -> None:
        doc = {
            "versions": {
                "140.13.0": {"name": "140.13.0", "date": "2026-07-21"},
                "140.0": {"name": "140.0", "date": "2025-06-24"},
                "154.0": {"name": "154.0", "date": "2026-08-18"},
                "33.1.1": {"name": "33.1.1", "date": "2014-11-14"},  # a release update
            }
        }
        firefox = parse_eol_release_data(json.dumps(doc), product="firefox")
        assert channel_for(firefox, "140").name == "esr140"
        assert channel_for(firefox, "33").name == "release"
        assert firefox.as_of == utc(2026, 8, 18)

    def test_windows_page(self) -> None:
        windows = eol_product_releases(parse_eol_product(WINDOWS_PAGE, product="windows"))
        assert windows.as_of == utc(2025, 9, 30)
        win11 = windows.channel("11")
        win10 = windows.channel("10")
        assert win11 is not None and win10 is not None and win11.default
        by_version = {r.version: r for r in win11.releases}
        assert by_version["10.0.26100"].label == "24H2"
        assert by_version["10.0.26100"].platform_version_major == 19
        assert by_version["10.0.26200"].platform_version_major is None  # not verified
        # Windows 10 is not the newest line: its end is 22H2's (Home/Pro) end.
        assert win10.end_of_life == utc(2025, 10, 14)
        # The newest line has no known end, whatever its feature updates say.
        assert win11.end_of_life is None

    def test_macos_page_keeps_10_10_as_text_and_labels_lines(self) -> None:
        page = parse_eol_product(MACOS_PAGE.encode(), product="macos")
        assert [c.cycle for c in page.cycles] == ["26", "13", "10.10"]
        assert page.cycles[2].latest == "10.10.5"  # not the float 10.1
        macos = eol_product_releases(page)
        assert macos.granularity == "minor"
        yosemite = line_channel(macos, "10.10.5")
        assert yosemite is not None and yosemite.name == "10.10" and not yosemite.match_majors
        ventura = line_channel(macos, "13.7")
        assert ventura is not None and ventura.end_of_life == utc(2025, 9, 15)
        assert ventura.releases[0].label == "Ventura"
        tahoe = line_channel(macos, "26.6")
        assert tahoe is not None and tahoe.end_of_life is None

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("no front matter", "no YAML front matter"),
            ("---\ntitle: x\n", "not closed"),
            ("---\nreleases: 3\n---\n", "release cycles"),
            ("---\nreleases:\n  - releaseCycle: '1'\n    releaseDate: soon\n---\n", "YYYY-MM-DD"),
        ],
    )
    def test_bad_pages(self, text: str, message: str) -> None:
        with pytest.raises(ReleaseDataError, match=message):
            parse_eol_product(text, product="macos")


# --------------------------------------------------------------------------- VersionHistory paging


def vh_page(versions: list[tuple[str, str]], token: str | None) -> bytes:
    doc: dict[str, Any] = {
        "releases": [
            {
                "name": f"chrome/platforms/win/channels/stable/versions/{v}/releases/1",
                "version": v,
                "serving": {"startTime": t},
                "fraction": 1,
            }
            for v, t in versions
        ]
    }
    if token:
        doc["nextPageToken"] = token
    return json.dumps(doc).encode()


class TestVersionHistoryPaging:
    def test_follows_next_page_token_to_the_end(self) -> None:
        pages = {
            None: vh_page([("143.0.7499.40", "2025-12-02T18:00:00Z")], "p2"),
            "p2": vh_page([("142.0.7444.59", "2025-10-28T18:00:00Z")], "p3"),
            "p3": vh_page([("141.0.7390.54", "2025-09-30T18:00:00Z")], None),
        }
        asked: list[str | None] = []

        def fetch(token: str | None) -> bytes:
            asked.append(token)
            return pages[token]

        chrome = fetch_chrome_versionhistory(fetch)
        assert asked == [None, "p2", "p3"]
        assert [r.version for r in chrome.default_channel.releases] == [
            "141.0.7390.54",
            "142.0.7444.59",
            "143.0.7499.40",
        ]
        # as_of: the feed's own newest evidence, not the clock.
        assert chrome.as_of == utc(2025, 12, 2, 18)
        assert chrome.granularity == "build"

    def test_a_repeated_token_is_refused(self) -> None:
        pages = {None: vh_page([], "a"), "a": vh_page([], "a")}
        with pytest.raises(ReleaseDataError, match="repeated"):
            collect_versionhistory_pages(lambda t: pages[t])

    def test_page_limit(self) -> None:
        def endless(token: str | None) -> bytes:
            return vh_page([], f"t{int((token or 't0')[1:]) + 1}")

        assert len(collect_versionhistory_pages(lambda t: vh_page([], None))) == 1
        with pytest.raises(ReleaseDataError, match="more than 5 pages"):
            collect_versionhistory_pages(endless, max_pages=5)


# --------------------------------------------------------------------------- as_of evidence


class TestAsOfEvidence:
    """``--as-of`` later than the feed's own newest evidence is refused unless forced."""

    def test_both_sides_of_the_evidence(self) -> None:
        (chrome,) = parse_bcd_browsers(json.dumps(bcd_doc()), products=["chrome"])
        check_as_of(chrome, chrome.as_of, force=False)
        check_as_of(chrome, chrome.as_of - US, force=False)
        check_as_of(chrome, None, force=False)
        with pytest.raises(FeedAsOfError, match="newest evidence"):
            check_as_of(chrome, chrome.as_of + US, force=False)
        check_as_of(chrome, chrome.as_of + US, force=True)

    def test_a_march_2025_feed_cannot_be_made_current_in_december_2026(
        self, tmp_path: Path
    ) -> None:
        with pytest.raises(FeedAsOfError):
            import_feed("mozilla", [MOZILLA_DIR], tmp_path, utc(2026, 12, 7))
        assert not (tmp_path / "firefox.json").exists()
        ok = import_feed("mozilla", [MOZILLA_DIR], tmp_path, utc(2025, 3, 18))
        assert ok.new_as_of == utc(2025, 3, 18)
        forced = import_feed("mozilla", [MOZILLA_DIR], tmp_path, utc(2026, 12, 7), force=True)
        assert forced.new_as_of == utc(2026, 12, 7)


# --------------------------------------------------------------------------- the shipped data


@needs_shared_data
def test_shipped_release_data_is_what_the_importers_make_of_shared_data() -> None:
    """``python -m server.release_import rebuild ../shared/data rules/data/releases``."""
    built = build_release_data(SHARED_DATA)
    assert set(built) == set(REBUILT_PRODUCTS)
    for product, data in built.items():
        shipped = (RELEASES_DIR / f"{product}.json").read_text(encoding="utf-8")
        assert render_product(data) == shipped, f"{product}.json differs: run the rebuild"


@needs_shared_data
def test_shipped_as_of_is_each_feeds_newest_evidence() -> None:
    bcd = utc(2026, 11, 12, 14, 10, 29, 391000)  # browsers.json __meta.timestamp
    expected = {
        "chrome": bcd,
        "edge": bcd,
        "firefox": bcd,
        "safari": bcd,
        "ios": utc(2026, 8, 17),
        "ipados": utc(2026, 8, 17),
        "macos": utc(2026, 8, 17),
        "windows": utc(2026, 2, 10),
        "android": utc(2026, 6, 16),
    }
    assert {p: load_product(RELEASES_DIR / f"{p}.json").as_of for p in expected} == expected


def test_phishwall_is_the_banks_and_never_rebuilt() -> None:
    assert "phishwall" not in REBUILT_PRODUCTS
    example = ROOT / "docs" / "examples" / "phishwall-export.example.json"
    product = load_product_from(example)
    assert product.product == "phishwall" and product.kind == "security_client"
    assert {c.name for c in product.channels} == {"client", "extension"}
    assert any("EXAMPLE" in s for s in product.sources)


def load_product_from(path: Path) -> Any:
    from checks.releases import product_from_dict

    return product_from_dict(json.loads(path.read_text(encoding="utf-8")), origin=path.name)
