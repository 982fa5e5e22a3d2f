"""The pure parts of the refresh (API parser, merge planning) and the import command.

The endoflife.date API responses in tests/fixtures/feeds/eol are the real
product pages of ../shared/data rendered in the API's shape, so the API
parser must make exactly what the page parser makes of the same page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.releases import Channel, ProductReleases, Release, ReleaseDataError
from server.cli import main
from server.eol_api import parse_eol_api_product
from server.release_feeds import eol_product_releases, parse_eol_product
from server.release_import import FORMATS
from server.release_refresh_plan import coarsen, plan_product, regression
from tests.feed_replay import FEEDS

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent / "shared" / "data" / "endoflife" / "products"
BCD = ROOT.parent / "shared" / "data" / "browser-compat-data" / "browsers.json"
DAY = timedelta(days=1)


def utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


# --------------------------------------------------------------------------- endoflife.date API


@pytest.mark.skipif(not PAGES.exists(), reason="../shared/data not available")
@pytest.mark.parametrize("product", ["android", "firefox", "ios", "ipados", "macos", "windows"])
def test_api_response_gives_what_the_product_page_gives(product: str) -> None:
    api = eol_product_releases(
        parse_eol_api_product((FEEDS / "eol" / f"{product}.json").read_bytes(), product=product)
    )
    page = eol_product_releases(
        parse_eol_product((PAGES / f"{product}.md").read_bytes(), product=product)
    )
    assert api == page


def test_api_response_shape_errors_name_the_path() -> None:
    doc = json.loads((FEEDS / "eol" / "ios.json").read_bytes())
    with pytest.raises(ReleaseDataError, match="response for 'ios', asked for 'ipados'"):
        parse_eol_api_product(json.dumps(doc), product="ipados")
    doc["result"]["releases"][0]["releaseDate"] = "15/09/2025"
    with pytest.raises(ReleaseDataError, match=r"result\.releases\[0\]\.releaseDate"):
        parse_eol_api_product(json.dumps(doc), product="ios")
    with pytest.raises(ReleaseDataError, match="expected an API v1 product response"):
        parse_eol_api_product(b"[]", product="ios")


def test_api_eol_flags_and_dates() -> None:
    doc = {
        "result": {
            "name": "android",
            "releases": [
                {"name": "15", "releaseDate": "2024-09-03", "isEol": False, "eolFrom": None},
                {"name": "14", "releaseDate": "2023-10-04", "isEol": True, "eolFrom": "2026-03-02"},
                {"name": "4.4", "releaseDate": "2013-10-31", "isEol": True, "eolFrom": None},
            ],
        }
    }
    cycles = parse_eol_api_product(json.dumps(doc), product="android").cycles
    assert [c.eol for c in cycles] == [False, utc(2026, 3, 2), True]


# --------------------------------------------------------------------------- planning


def product(
    granularity: str,
    releases: dict[str, tuple[Release, ...]],
    as_of: datetime,
    kind: str = "browser",
) -> ProductReleases:
    names = sorted(releases)
    return ProductReleases(
        "p",
        "P",
        kind,
        as_of,
        granularity,
        ("test",),
        tuple(Channel(n, releases[n], default=n == names[-1]) for n in names),
    )


def test_coarsen_dates_each_major_by_its_earliest_build() -> None:
    builds = product(
        "build",
        {
            "stable": (
                Release("157.0.7730.20", utc(2026, 10, 28), note="first served to 1% of users"),
                Release("157.0.7730.60", utc(2026, 11, 3)),
                Release("158.0.1", utc(2026, 11, 17)),
            )
        },
        utc(2026, 11, 20),
    )
    majors = coarsen(builds, "major")
    assert majors.granularity == "major"
    assert [(r.version, r.released_at, r.note) for r in majors.default_channel.releases] == [
        ("157", utc(2026, 10, 28), "first stable build 157.0.7730.20; first served to 1% of users"),
        ("158", utc(2026, 11, 17), "first stable build 158.0.1"),
    ]
    assert coarsen(majors, "build") is majors  # never finer than the feed


def test_a_coarser_feed_never_moves_as_of_and_holds_back_later_releases() -> None:
    stored = product(
        "build",
        {"26": (Release("26.0", utc(2025, 9, 15)), Release("26.6.1", utc(2026, 8, 17)))},
        utc(2026, 8, 17),
        kind="os",
    )
    cycles = product(
        "minor",
        {
            "26": (Release("26.0", utc(2025, 9, 15)), Release("26.7.2", utc(2026, 11, 30))),
            "27": (Release("27.0", utc(2026, 9, 15)),),
        },
        utc(2026, 11, 30),
        kind="os",
    )
    plan = plan_product(stored, cycles)
    assert plan.product.as_of == utc(2026, 8, 17), "cycles cannot show no build is missing"
    assert {r.version for r in plan.product.channel("26").releases} == {"26.0", "26.6.1"}  # type: ignore[union-attr]
    assert plan.product.channel("27") is None, "no empty new line"
    assert any("2 release(s) after as_of held back" in n for n in plan.notes)


def test_an_os_line_older_than_the_newest_is_scraper_noise() -> None:
    stored = product("build", {"26": (Release("26.0", utc(2025, 9, 15)),)}, utc(2026, 8, 1), "os")
    feed = product(
        "build",
        {
            "5": (Release("5.11", utc(2026, 6, 1)),),  # Server app, not macOS 5
            "26": (Release("26.0", utc(2025, 9, 15)),),
            "27": (Release("27.0", utc(2026, 9, 15)),),
        },
        utc(2026, 9, 15),
        "os",
    )
    plan = plan_product(stored, feed)
    assert [c.name for c in plan.product.channels] == ["26", "27"]
    assert plan.product.as_of == utc(2026, 9, 15)
    assert any("lines 5 not in the data" in n for n in plan.notes)


def test_regression_on_both_sides_of_each_boundary() -> None:
    feed = product("major", {"s": (Release("10", utc(2026, 1, 1)),)}, utc(2026, 12, 6))
    assert regression("bcd", feed, utc(2026, 12, 6), None, None) is None  # equal: fine
    assert regression("bcd", feed, utc(2026, 12, 6) + timedelta(microseconds=1), None, None)
    assert regression("bcd", feed, None, frozenset({"10"}), None) is None
    assert regression("bcd", feed, None, frozenset({"9"}), None) is None, "aged out: retention"
    assert "11" in (regression("bcd", feed, None, frozenset({"10", "11"}), None) or "")


# --------------------------------------------------------------------------- releases import


def test_import_format_choices_are_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["releases", "import", "--format", "nope", "x"])
    err = capsys.readouterr().err
    for name in sorted(FORMATS):
        assert name in err


@pytest.mark.skipif(not BCD.exists(), reason="../shared/data not available")
def test_import_bcd_prints_one_line_per_product(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    (rules / "releases").mkdir(parents=True)
    assert main(["releases", "import", "--format", "bcd", "--rules", str(rules), str(BCD)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["chrome", "edge", "firefox", "safari"]
    assert all(line.endswith("written") for line in lines)


@pytest.mark.skipif(not BCD.exists(), reason="../shared/data not available")
def test_import_as_of_after_the_evidence_exits_2_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    (rules / "releases").mkdir(parents=True)
    args = ["releases", "import", "--format", "bcd", "--rules", str(rules)]
    late = ["--as-of", "2026-12-07T00:00:00Z", str(BCD)]
    assert main([*args, *late]) == 2
    err = capsys.readouterr().err
    # One line saying what is wrong, one hint saying what to do.
    lines = err.splitlines()
    assert len(lines) == 2 and "later than the feed's newest evidence" in lines[0], err
    assert lines[1].startswith("hint:"), err
    assert "Traceback" not in err and not list((rules / "releases").iterdir())
    assert main([*args, "--force", *late]) == 0
    assert "as_of 2026-12-07" in capsys.readouterr().out
