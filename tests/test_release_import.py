"""Release-history importers: server/release_import.py.

``tests/fixtures/chrome_versionhistory_win_stable.json`` is a small synthetic
page in the exact shape of the VersionHistory API
(``/v1/chrome/platforms/win/channels/stable/versions/all/releases``); its
timestamps are made up for the tests.
"""

from __future__ import annotations

import json
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from checks.releases import (
    Channel,
    ProductReleases,
    Release,
    ReleaseDataError,
    channel_for,
    product_from_dict,
)
from server.release_import import (
    MOZILLA_FILES,
    import_feed,
    load_catalog,
    load_product,
    merge,
    merge_with_report,
    parse_chrome_versionhistory,
    parse_mozilla_product_details,
    render_product,
    write_product,
)

ROOT = Path(__file__).resolve().parents[1]
# Copies of the real feed files from shared/data (product-details, March 2025).
MOZILLA_DIR = Path(__file__).parent / "fixtures" / "mozilla-product-details"
RELEASES_DIR = ROOT / "rules" / "data" / "releases"
FIXTURES = ROOT / "tests" / "fixtures"
CHROME_FIXTURE = FIXTURES / "chrome_versionhistory_win_stable.json"

needs_mozilla = pytest.mark.skipif(
    not MOZILLA_DIR.is_dir(), reason="Mozilla product-details seed not present"
)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=UTC)


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def mozilla() -> ProductReleases:
    return parse_mozilla_product_details(
        read(MOZILLA_DIR / MOZILLA_FILES[0]),
        read(MOZILLA_DIR / MOZILLA_FILES[1]),
        read(MOZILLA_DIR / MOZILLA_FILES[2]),
    )


def dates(channel: Channel | None) -> dict[str, datetime]:
    assert channel is not None
    return {r.version: r.released_at for r in channel.releases}


# --------------------------------------------------------------------------- Mozilla


@needs_mozilla
class TestMozilla:
    def test_real_release_dates(self) -> None:
        firefox = mozilla()
        release = dates(firefox.channel("release"))
        assert release["136.0"] == utc(2025, 3, 4)
        assert release["136.0.2"] == utc(2025, 3, 18)
        assert release["125.0.1"] == utc(2024, 4, 16)  # 125.0 was never released
        assert release["1.0"] == utc(2004, 11, 9)
        assert release["128.0.3"] == utc(2024, 7, 26)
        assert firefox.as_of == utc(2025, 3, 18)
        assert firefox.default_channel.name == "release"
        assert firefox.granularity == "build"

    def test_esr_lines(self) -> None:
        firefox = mozilla()
        assert {c.name for c in firefox.channels} == {"release", "esr115", "esr128"}
        esr128 = dates(firefox.channel("esr128"))
        assert esr128["128.0"] == utc(2024, 7, 9)  # the ESR starts with the release build
        assert esr128["128.8.0"] == utc(2025, 3, 4)
        assert "128.0.3" not in esr128  # a release-channel dot release
        esr115 = dates(firefox.channel("esr115"))
        assert esr115["115.21.0"] == utc(2025, 3, 4)
        assert esr115["115.16.1"] == utc(2024, 10, 9)
        release = dates(firefox.channel("release"))
        assert "128.8.0" not in release and "115.21.0" not in release
        assert "128.0" in release
        assert channel_for(firefox, "128.0").name == "esr128"

    def test_duplicate_entries_are_merged(self) -> None:
        release = mozilla().channel("release")
        assert release is not None
        versions = [r.version for r in release.releases]
        assert versions.count("14.0.1") == 1
        assert len(versions) == len(set(versions))

    def test_as_of_override(self) -> None:
        firefox = parse_mozilla_product_details(
            read(MOZILLA_DIR / MOZILLA_FILES[0]),
            read(MOZILLA_DIR / MOZILLA_FILES[1]),
            read(MOZILLA_DIR / MOZILLA_FILES[2]),
            as_of=utc(2025, 3, 20, 12),
        )
        assert firefox.as_of == utc(2025, 3, 20, 12)

    def test_import_is_idempotent(self, tmp_path: Path) -> None:
        first = import_feed("mozilla", [MOZILLA_DIR], tmp_path, None)
        text = (tmp_path / "firefox.json").read_text(encoding="utf-8")
        again = import_feed("mozilla", [MOZILLA_DIR], tmp_path, None)
        assert first.written and not again.written
        assert (tmp_path / "firefox.json").read_text(encoding="utf-8") == text

    def test_import_by_file_names_in_any_order(self, tmp_path: Path) -> None:
        files = [MOZILLA_DIR / name for name in reversed(MOZILLA_FILES)]
        summary = import_feed("mozilla", files, tmp_path, None)
        assert summary.product == "firefox" and summary.written
        assert ("release", "136.0") in summary.added
        assert summary.new_as_of == utc(2025, 3, 18)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"firefox_versions\.json"):
            import_feed(
                "mozilla",
                [MOZILLA_DIR / MOZILLA_FILES[0], MOZILLA_DIR / MOZILLA_FILES[1]],
                tmp_path,
                None,
            )


def test_mozilla_bad_entries_name_file_and_key() -> None:
    with pytest.raises(ReleaseDataError) as info:
        parse_mozilla_product_details({"136.0": "March 4"}, {}, {})
    assert str(info.value) == (
        "firefox_history_major_releases.json: 136.0: not a YYYY-MM-DD date: 'March 4'"
    )
    with pytest.raises(ReleaseDataError) as info:
        parse_mozilla_product_details({}, {"136.0.x": "2025-03-04"}, {})
    assert str(info.value).startswith("firefox_history_stability_releases.json: 136.0.x: ")
    with pytest.raises(ReleaseDataError) as info:
        parse_mozilla_product_details({}, {"136.0.1": "2025-02-30"}, {})
    assert "not a calendar date" in str(info.value)
    with pytest.raises(ReleaseDataError) as info:
        parse_mozilla_product_details({"1.0": "2004-11-09"}, {}, {"FIREFOX_ESR": "esr"})
    assert str(info.value).startswith("firefox_versions.json: FIREFOX_ESR: ")


def test_mozilla_esr_suffix_marks_an_esr_line() -> None:
    firefox = parse_mozilla_product_details(
        {"140.0": "2025-06-24"}, {"140.0.1": "2025-07-01", "140.1.0esr": "2025-07-22"}, {}
    )
    assert dates(firefox.channel("esr140")) == {
        "140.0": utc(2025, 6, 24),
        "140.1.0": utc(2025, 7, 22),
    }
    assert set(dates(firefox.channel("release"))) == {"140.0", "140.0.1"}


# --------------------------------------------------------------------------- Chrome


class TestChrome:
    def test_parse_fixture(self) -> None:
        releases = parse_chrome_versionhistory(read(CHROME_FIXTURE))
        assert [r.version for r in releases] == [
            "130.0.6723.117",
            "131.0.6778.69",
            "131.0.6778.70",
            "131.0.6778.86",
        ]
        by_version = {r.version: r for r in releases}
        # Served twice: the earliest startTime counts, whatever its fraction.
        assert by_version["131.0.6778.70"].released_at == utc(2024, 11, 12, 18)
        assert by_version["131.0.6778.70"].note == "first served to 25% of users"
        assert by_version["131.0.6778.69"].note == "first served to 1% of users"
        assert by_version["131.0.6778.86"].note is None
        # Nanoseconds truncated to microseconds.
        assert by_version["131.0.6778.86"].released_at == utc(2024, 11, 19, 20, 0, 0, 123456)
        # fraction 0 reached nobody.
        assert "131.0.6778.60" not in by_version

    def test_wrong_channel_is_refused(self) -> None:
        with pytest.raises(ReleaseDataError) as info:
            parse_chrome_versionhistory(read(CHROME_FIXTURE), channel="beta", origin="page.json")
        assert str(info.value).startswith("page.json: releases[0].name: release of chrome/stable")

    @pytest.mark.parametrize(
        ("item", "path"),
        [
            (
                {"version": "131.x", "serving": {"startTime": "2024-11-12T00:00:00Z"}},
                "releases[0].version",
            ),
            ({"version": "131.0.1.2", "serving": {}}, "releases[0].serving.startTime"),
            (
                {"version": "131.0.1.2", "serving": {"startTime": "soon"}},
                "releases[0].serving.startTime",
            ),
            (
                {
                    "version": "131.0.1.2",
                    "fraction": 2,
                    "serving": {"startTime": "2024-11-12T00:00:00Z"},
                },
                "releases[0].fraction",
            ),
        ],
    )
    def test_bad_entries_name_file_and_path(self, item: dict[str, Any], path: str) -> None:
        with pytest.raises(ReleaseDataError) as info:
            parse_chrome_versionhistory({"releases": [item]}, origin="page.json")
        assert info.value.origin == "page.json" and info.value.path == path

    def test_empty_page(self) -> None:
        assert parse_chrome_versionhistory({}) == []

    def test_import_creates_then_is_idempotent(self, tmp_path: Path) -> None:
        # The fixture's newest startTime is 2024-11-19T20:00Z; claiming the
        # next day needs force (a feed fetched complete at that instant).
        first = import_feed("chrome", [CHROME_FIXTURE], tmp_path, utc(2024, 11, 20), force=True)
        assert first.written and len(first.added) == 4 and first.unchanged == 0
        assert first.new_as_of == utc(2024, 11, 20)
        text = (tmp_path / "chrome.json").read_text(encoding="utf-8")
        product = load_product(tmp_path / "chrome.json")
        assert product.granularity == "build"
        assert "platform win" in product.sources[0]

        again = import_feed("chrome", [CHROME_FIXTURE], tmp_path, utc(2024, 11, 20), force=True)
        assert not again.written
        assert again.added == () and again.unchanged == 4 and again.conflicts == ()
        assert (tmp_path / "chrome.json").read_text(encoding="utf-8") == text

        # An older as_of never moves the data back.
        older = import_feed(
            "chrome", [CHROME_FIXTURE], tmp_path, utc(2024, 11, 19, 21), force=True
        )
        assert not older.written and older.new_as_of == utc(2024, 11, 20)

    def test_as_of_before_a_release_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ReleaseDataError, match="after the document's as_of"):
            import_feed("chrome", [CHROME_FIXTURE], tmp_path, utc(2024, 11, 15))
        assert not (tmp_path / "chrome.json").exists()

    def test_import_into_shipped_major_data_reports_granularity(self, tmp_path: Path) -> None:
        shutil.copy(RELEASES_DIR / "chrome.json", tmp_path / "chrome.json")
        summary = import_feed("chrome", [CHROME_FIXTURE], tmp_path, None)
        assert any("granularity: kept 'major'" in note for note in summary.notes)
        product = load_product(tmp_path / "chrome.json")
        assert product.granularity == "major"
        # the feed's newest date is older than the shipped data's
        assert product.as_of == utc(2026, 11, 12, 14, 10, 29, 391000)
        assert len(product.sources) == 3

    def test_incomplete_paging_is_reported(self, tmp_path: Path) -> None:
        page = read(CHROME_FIXTURE)
        page["nextPageToken"] = "abc"
        path = tmp_path / "page1.json"
        path.write_text(json.dumps(page), encoding="utf-8")
        summary = import_feed("chrome", [path], tmp_path / "data", None)
        assert any("nextPageToken" in note for note in summary.notes)


# --------------------------------------------------------------------------- merge


NEW_YEAR_2025 = utc(2025, 1, 1)


def product(*releases: Release, as_of: datetime = NEW_YEAR_2025) -> ProductReleases:
    return ProductReleases(
        product="edge",
        display_name="Microsoft Edge",
        kind="browser",
        as_of=as_of,
        granularity="major",
        sources=("test",),
        channels=(Channel("stable", tuple(sorted(releases, key=lambda r: r.key)), default=True),),
    )


class TestMerge:
    def test_add_and_idempotent(self) -> None:
        base = product(Release("131", utc(2024, 11, 14)))
        incoming = [Release("132", utc(2025, 1, 17)), Release("131", utc(2024, 11, 14))]
        once = merge_with_report(base, incoming, utc(2025, 2, 1))
        assert once.added == (("stable", "132"),) and once.unchanged == 1 and once.changed
        twice = merge_with_report(once.product, incoming, utc(2025, 2, 1))
        assert twice.added == () and twice.unchanged == 2 and not twice.changed
        assert twice.product == once.product

    def test_conflict_keeps_the_earlier_date_either_way(self) -> None:
        base = product(Release("131", utc(2024, 11, 14)))
        later = merge_with_report(base, [Release("131", utc(2024, 11, 20))], None)
        assert later.product == base and not later.changed
        assert len(later.conflicts) == 1
        conflict = later.conflicts[0]
        assert conflict.kept == utc(2024, 11, 14)
        assert conflict.describe() == (
            "stable 131: data says 2024-11-14, feed says 2024-11-20; kept 2024-11-14"
        )
        earlier = merge_with_report(base, [Release("131", utc(2024, 11, 12))], None)
        assert earlier.changed and len(earlier.conflicts) == 1
        assert earlier.product.default_channel.releases[0].released_at == utc(2024, 11, 12)

    def test_as_of_moves_forward_only(self) -> None:
        base = product(Release("131", utc(2024, 11, 14)), as_of=utc(2025, 1, 1))
        assert merge(base, [], utc(2024, 12, 1)).as_of == utc(2025, 1, 1)
        assert merge(base, [], utc(2025, 3, 1)).as_of == utc(2025, 3, 1)
        # None: the newest incoming release.
        assert merge(base, [Release("134", utc(2025, 3, 6))], None).as_of == utc(2025, 3, 6)

    def test_release_after_as_of_is_refused(self) -> None:
        base = product(Release("131", utc(2024, 11, 14)))
        with pytest.raises(ValueError, match="after as_of"):
            merge(base, [Release("134", utc(2025, 3, 6))], utc(2025, 2, 1))

    def test_fills_missing_details_only(self) -> None:
        base = product(Release("131", utc(2024, 11, 14)))
        noted = merge(
            base, [Release("131", utc(2024, 11, 14), note="first stable build 131.0.2903.48")], None
        )
        assert noted.default_channel.releases[0].note == "first stable build 131.0.2903.48"
        kept = merge(noted, [Release("131", utc(2024, 11, 14), note="other")], None)
        assert kept == noted

    def test_whole_product_merge_adds_channels_and_metadata(self) -> None:
        base = product(Release("131", utc(2024, 11, 14)))
        incoming = ProductReleases(
            product="edge",
            display_name="Edge",
            kind="browser",
            as_of=utc(2025, 2, 1),
            granularity="build",
            sources=("bank export",),
            channels=(
                Channel(
                    "stable",
                    (Release("132", utc(2025, 1, 17)),),
                    end_of_life=utc(2030, 1, 1),
                ),
                Channel(
                    "extended",
                    (Release("130", utc(2024, 10, 17)),),
                    match_majors=(130,),
                    default=True,
                ),
            ),
        )
        outcome = merge_with_report(base, incoming, None)
        merged = outcome.product
        assert merged.display_name == "Microsoft Edge" and merged.granularity == "major"
        assert merged.sources == ("test", "bank export")
        assert merged.as_of == utc(2025, 2, 1)
        assert merged.default_channel.name == "stable"
        assert merged.default_channel.end_of_life == utc(2030, 1, 1)
        extended = merged.channel("extended")
        assert extended is not None and not extended.default and extended.match_majors == (130,)
        assert any("display_name" in n for n in outcome.notes)
        assert any("non-default" in n for n in outcome.notes)
        again = merge_with_report(merged, incoming, None)
        assert not again.changed

    def test_other_product_is_refused(self) -> None:
        firefox = ProductReleases(
            "firefox",
            "Firefox",
            "browser",
            utc(2025, 1, 1),
            "build",
            ("x",),
            (Channel("release", (), default=True),),
        )
        with pytest.raises(ValueError, match="cannot merge"):
            merge(product(), firefox, None)


# ------------------------------------------------------------------ anshin format and files


def phishwall_doc(
    *releases: tuple[str, str], as_of: str = "2025-06-15T00:00:00Z"
) -> dict[str, Any]:
    return {
        "schema": 1,
        "product": "phishwall",
        "display_name": "PhishWallプレミアム",
        "kind": "security_client",
        "as_of": as_of,
        "granularity": "build",
        "sources": ["bank export (test)"],
        "channels": {
            "client": {
                "default": True,
                "releases": [{"version": v, "released_at": d} for v, d in releases],
            }
        },
    }


class TestAnshinImport:
    def test_replaces_the_shipped_placeholder_then_merges(self, tmp_path: Path) -> None:
        shutil.copy(RELEASES_DIR / "phishwall.json", tmp_path / "phishwall.json")
        export = tmp_path / "export.json"
        export.write_text(
            json.dumps(phishwall_doc(("4.2.0", "2024-10-01"), ("4.3.0", "2025-03-01")))
        )
        first = import_feed("anshin", [export], tmp_path, None)
        assert first.written and any("placeholder" in n for n in first.notes)
        assert first.new_as_of == utc(2025, 6, 15)
        loaded = load_product(tmp_path / "phishwall.json")
        assert not any("PLACEHOLDER" in s for s in loaded.sources)

        second = tmp_path / "export2.json"
        second.write_text(
            json.dumps(
                phishwall_doc(
                    ("4.3.0", "2025-02-28"), ("4.3.1", "2025-06-10"), as_of="2025-06-20T00:00:00Z"
                )
            )
        )
        summary = import_feed("anshin", [second], tmp_path, None)
        assert summary.added == (("client", "4.3.1"),)
        assert [c.version for c in summary.conflicts] == ["4.3.0"]
        assert summary.new_as_of == utc(2025, 6, 20)
        client = load_product(tmp_path / "phishwall.json").default_channel
        assert {r.version: r.released_at for r in client.releases}["4.3.0"] == utc(2025, 2, 28)

        repeat = import_feed("anshin", [second], tmp_path, None)
        assert not repeat.written and repeat.added == () and repeat.conflicts == ()

    def test_bad_document_names_file_and_path(self, tmp_path: Path) -> None:
        bad = tmp_path / "export.json"
        doc = phishwall_doc(("4.2.0", "2024-10-01"))
        doc["channels"]["client"]["releases"][0]["released_at"] = "1 Oct 2024"
        bad.write_text(json.dumps(doc))
        with pytest.raises(ReleaseDataError) as info:
            import_feed("anshin", [bad], tmp_path, None)
        assert str(info.value).startswith(
            "export.json: channels.client.releases[0].released_at: not an ISO date"
        )

    def test_invalid_json_and_duplicate_keys(self, tmp_path: Path) -> None:
        broken = tmp_path / "broken.json"
        broken.write_text("{")
        with pytest.raises(ReleaseDataError, match=r"^broken\.json: not valid JSON"):
            import_feed("anshin", [broken], tmp_path, None)
        dup = tmp_path / "dup.json"
        dup.write_text('{"schema": 1, "schema": 1}')
        with pytest.raises(ReleaseDataError, match="duplicate key 'schema'"):
            import_feed("anshin", [dup], tmp_path, None)

    def test_mixed_products_are_refused(self, tmp_path: Path) -> None:
        a = tmp_path / "a.json"
        a.write_text(json.dumps(phishwall_doc(("4.2.0", "2024-10-01"))))
        b = tmp_path / "b.json"
        b.write_text((RELEASES_DIR / "android.json").read_text(encoding="utf-8"))
        with pytest.raises(ValueError, match="mixes products"):
            import_feed("anshin", [a, b], tmp_path / "data", None)

    def test_unknown_kind(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="unknown feed kind"):
            import_feed("opera", [CHROME_FIXTURE], tmp_path, None)  # type: ignore[arg-type]


class TestFiles:
    def test_write_is_deterministic(self, tmp_path: Path) -> None:
        original = load_product(RELEASES_DIR / "safari.json")
        path = tmp_path / "safari.json"
        assert write_product(path, original)
        text = path.read_text(encoding="utf-8")
        assert text.endswith("}\n") and text.startswith('{\n  "schema": 1,\n  "product": "safari"')
        assert not write_product(path, original)
        assert path.read_text(encoding="utf-8") == text
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert not list(tmp_path.glob(".*.tmp"))

    @pytest.mark.parametrize("path", sorted(RELEASES_DIR.glob("*.json")), ids=lambda p: p.name)
    def test_shipped_files_are_in_canonical_form(self, path: Path) -> None:
        assert render_product(load_product(path)) == path.read_text(encoding="utf-8")

    def test_load_catalog_of_shipped_data(self) -> None:
        catalog = load_catalog(RELEASES_DIR)
        assert set(catalog.products) >= {
            "chrome",
            "edge",
            "firefox",
            "safari",
            "windows",
            "macos",
            "ios",
            "android",
            "phishwall",
        }

    def test_file_name_must_match_product(self, tmp_path: Path) -> None:
        shutil.copy(RELEASES_DIR / "edge.json", tmp_path / "chrome.json")
        with pytest.raises(ReleaseDataError, match="declares 'edge'"):
            load_product(tmp_path / "chrome.json")

    def test_write_refuses_invalid_product(self, tmp_path: Path) -> None:
        bad = product(Release("131", utc(2025, 6, 1)), as_of=utc(2025, 1, 1))
        with pytest.raises(ReleaseDataError, match="after the document's as_of"):
            write_product(tmp_path / "edge.json", bad)
        assert not (tmp_path / "edge.json").exists()


def test_shipped_data_round_trips_through_the_validator() -> None:
    for path in sorted(RELEASES_DIR.glob("*.json")):
        doc = read(path)
        assert product_from_dict(doc, origin=path.name) == load_product(path)


def test_naive_as_of_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        import_feed("chrome", [CHROME_FIXTURE], tmp_path, datetime(2025, 1, 1))
