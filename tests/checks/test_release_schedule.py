"""Schedule-aware coverage of HNB-P1 "latest" (docs/release-data.md, "Schedules").

The shipped browser data ends 2026-11-12 (browser-compat-data's build), but
bcd also carries the vendors' published schedule: Chrome 158 on 2026-11-17,
159 on 2026-12-08; Edge 158 on 11-19, 159 on 12-10; Firefox 161 on 11-24,
162 on 12-08. With the 14-day grace and the 7-day early-release margin of
posture.toml, a client on the newest major is covered until the next major's
date minus 7 days, never further; a schedule never makes a FAIL. Each
boundary is tested on both sides.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.latest import judge_latest
from checks.model import CheckStatus, Precision
from checks.platform import _restricted
from checks.releases import (
    Channel,
    ProductReleases,
    Release,
    ReleaseDataError,
    ScheduledRelease,
    product_from_dict,
    product_to_dict,
    prune_schedule,
    scheduled_after,
    scheduled_on,
)
from rules.load import BUILTIN_RULES_DIR, RuleSet, load_rules
from server.release_import import merge_with_report
from tests.checks.test_latest_honesty import WIN_CHROME, WIN_FIREFOX, latest

US = timedelta(microseconds=1)
GRACE = timedelta(days=14)
MARGIN = timedelta(days=7)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0"
)
LOGIN = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 2026-12-07 10:00 JST


def utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_rules()


# --------------------------------------------------------------------------- the shipped data


@pytest.mark.parametrize(
    ("ua", "version", "status", "reason"),
    [
        (WIN_CHROME, 143, CheckStatus.FAIL, "newer_release_past_grace"),  # the data shows 157
        (WIN_CHROME, 157, CheckStatus.UNKNOWN, "release_data_stale"),  # 158 due 11-17: maybe out
        (WIN_CHROME, 158, CheckStatus.PASS, "latest_per_schedule"),  # 159 not before 12-01
        (WIN_CHROME, 159, CheckStatus.UNKNOWN, "release_data_stale"),  # a beta on 12-07
        (EDGE, 157, CheckStatus.UNKNOWN, "release_data_stale"),
        (EDGE, 158, CheckStatus.PASS, "latest_per_schedule"),
        (WIN_FIREFOX, 160, CheckStatus.UNKNOWN, "release_data_stale"),  # 161 due 11-24
        (WIN_FIREFOX, 161, CheckStatus.PASS, "latest_per_schedule"),
    ],
)
def test_current_browsers_on_2026_12_07_answer_from_the_shipped_data(
    shipped: RuleSet, ua: str, version: int, status: CheckStatus, reason: str
) -> None:
    got = latest(shipped, ua.format(v=version), LOGIN)
    assert got[:2] == (status, reason)


def test_the_pass_says_which_scheduled_release_covers_it(shipped: RuleSet) -> None:
    product = shipped.posture.releases.get("chrome")
    assert product is not None
    judged = judge_latest(
        product,
        product.default_channel,
        "158",
        Precision.MAJOR_ONLY,
        LOGIN,
        GRACE,
        "PASS",
        name="browser_version",
        schedule_margin=MARGIN,
    )
    assert judged.status is CheckStatus.PASS
    row = next(c for c in judged.compared if c.name == "release_schedule")
    assert row.observed == "159 scheduled 2026-12-08T00:00:00+00:00"
    assert row.expected.startswith(">= 2026-11-30T01:00:00+00:00")


def test_coverage_ends_at_the_next_scheduled_date_minus_the_margin(shipped: RuleSet) -> None:
    # Chrome 159 is scheduled 2026-12-08: covered while login - 14 d <= 12-08 - 7 d.
    edge_of_cover = utc(2026, 12, 8) - MARGIN + GRACE  # 2026-12-15T00:00Z
    ua = WIN_CHROME.format(v=158)
    assert latest(shipped, ua, edge_of_cover)[:2] == (CheckStatus.PASS, "latest_per_schedule")
    assert latest(shipped, ua, edge_of_cover + US)[:2] == (
        CheckStatus.UNKNOWN,
        "release_data_stale",
    )


def test_a_client_on_a_scheduled_version_is_known_from_its_date_on(shipped: RuleSet) -> None:
    ua = WIN_CHROME.format(v=158)  # scheduled 2026-11-17; the data (to 11-12) covers that day
    assert latest(shipped, ua, utc(2026, 11, 17))[:2] == (CheckStatus.PASS, "latest")
    assert latest(shipped, ua, utc(2026, 11, 17) - US)[:2] == (
        CheckStatus.UNKNOWN,
        "version_newer_than_data",
    )


def test_a_schedule_never_fails_a_client(shipped: RuleSet) -> None:
    # Chrome 158 was due 2026-11-17, so by 12-20 Chrome 157 is probably out of date,
    # but only data showing 158 released can say so.
    got = latest(shipped, WIN_CHROME.format(v=157), utc(2026, 12, 20))
    assert got[:2] == (CheckStatus.UNKNOWN, "release_data_stale")


def test_off_in_posture_toml_means_no_schedule(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, rules_dir)
    posture = rules_dir / "posture.toml"
    posture.write_text(
        posture.read_text(encoding="utf-8").replace("use_schedule = true", "use_schedule = false"),
        encoding="utf-8",
    )
    rules = load_rules(rules_dir)
    assert rules.posture.settings.release_schedule_margin is None
    assert latest(rules, WIN_CHROME.format(v=158), LOGIN)[:2] == (
        CheckStatus.UNKNOWN,
        "release_data_stale",
    )
    posture.write_text(
        "\n".join(
            line
            for line in posture.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("use_schedule", "schedule_early_days"))
        ),
        encoding="utf-8",
    )
    assert load_rules(rules_dir).posture.settings.release_schedule_margin is None


def test_an_os_limited_channel_drops_the_schedule_beyond_its_last_major(
    shipped: RuleSet,
) -> None:
    product = shipped.posture.releases.get("chrome")
    assert product is not None
    channel = product.default_channel
    assert [p.version for p in channel.scheduled] == ["158", "159"]
    assert _restricted(channel, 109).scheduled == ()  # Chrome 109: the last for Windows 7
    assert [p.version for p in _restricted(channel, 158).scheduled] == ["158"]


# --------------------------------------------------------------------------- the model


def channel(*scheduled: tuple[str, datetime]) -> Channel:
    return Channel(
        "stable",
        (Release("156", utc(2026, 10, 20)), Release("157", utc(2026, 11, 3))),
        default=True,
        scheduled=tuple(ScheduledRelease(v, d) for v, d in scheduled),
    )


def test_scheduled_on_and_after() -> None:
    ch = channel(("158", utc(2026, 11, 17)), ("159", utc(2026, 12, 8)))
    assert scheduled_on(ch, "158.0.7800.1", 1, utc(2026, 11, 17)) == ch.scheduled[0]
    assert scheduled_on(ch, "158", 1, utc(2026, 11, 17) - US) is None
    assert scheduled_after(ch, "158", 1) == ch.scheduled[1]
    assert scheduled_after(ch, "157", 1) == ch.scheduled[0]
    assert scheduled_after(ch, "156", 1) is None, "157, a release the data shows, is newer"
    assert scheduled_after(ch, "159", 1) is None, "nothing newer is scheduled"


def test_a_schedule_that_skips_the_next_major_covers_nothing() -> None:
    """159 listed without a date (dropped) and 160 dated: nothing says when 159
    ships, so 158 gets no coverage from the schedule (both sides)."""
    gap = channel(("158", utc(2026, 11, 17)), ("160", utc(2027, 1, 12)))
    assert scheduled_after(gap, "158", 1) is None
    whole = channel(
        ("158", utc(2026, 11, 17)), ("159", utc(2026, 12, 8)), ("160", utc(2027, 1, 12))
    )
    assert scheduled_after(whole, "158", 1) == whole.scheduled[1]


def test_file_format_round_trip_and_validation() -> None:
    product = ProductReleases(
        "chrome",
        "Google Chrome",
        "browser",
        utc(2026, 11, 12),
        "major",
        ("test",),
        (channel(("158", utc(2026, 11, 17))),),
    )
    doc = product_to_dict(product)
    assert doc["channels"]["stable"]["scheduled"] == [
        {"version": "158", "scheduled_at": "2026-11-17"}
    ]
    assert product_from_dict(doc, origin="chrome.json") == product
    doc["channels"]["stable"]["scheduled"] = [{"version": "157", "scheduled_at": "2026-11-17"}]
    with pytest.raises(ReleaseDataError, match="not newer than the release '157'"):
        product_from_dict(doc, origin="chrome.json")
    doc["channels"]["stable"]["scheduled"] = [{"version": "158", "scheduled_at": "2026-11-12"}]
    with pytest.raises(ReleaseDataError, match=r"scheduled\[0\]\.scheduled_at.*not after"):
        product_from_dict(doc, origin="chrome.json")
    doc["channels"]["stable"]["scheduled"] = [{"version": "158", "released_at": "2026-11-17"}]
    with pytest.raises(ReleaseDataError, match="unknown key"):
        product_from_dict(doc, origin="chrome.json")


def test_merge_takes_the_newer_plan_and_drops_what_was_released() -> None:
    def data(
        as_of: datetime, releases: tuple[str, ...], *plan: tuple[str, datetime]
    ) -> ProductReleases:
        dates = {"156": utc(2026, 10, 20), "157": utc(2026, 11, 3), "158": utc(2026, 11, 17)}
        return ProductReleases(
            "chrome",
            "Google Chrome",
            "browser",
            as_of,
            "major",
            ("test",),
            (
                Channel(
                    "stable",
                    tuple(Release(v, dates[v]) for v in releases),
                    default=True,
                    scheduled=tuple(ScheduledRelease(v, d) for v, d in plan),
                ),
            ),
        )

    stored = data(
        utc(2026, 11, 12), ("156", "157"), ("158", utc(2026, 11, 17)), ("159", utc(2026, 12, 8))
    )
    newer = data(
        utc(2026, 12, 6), ("157", "158"), ("159", utc(2026, 12, 9)), ("160", utc(2027, 1, 12))
    )
    merged = merge_with_report(stored, newer, None).product.default_channel
    assert [r.version for r in merged.releases] == ["156", "157", "158"]
    assert [(p.version, p.scheduled_at) for p in merged.scheduled] == [
        ("159", utc(2026, 12, 9)),
        ("160", utc(2027, 1, 12)),
    ]
    # An older feed's plan never replaces a newer one.
    older = data(utc(2026, 11, 1), ("156",), ("157", utc(2026, 11, 3)))
    again = merge_with_report(merge_with_report(stored, newer, None).product, older, None)
    assert again.product.default_channel.scheduled == merged.scheduled
    # A plan whose date passes as_of without the release appearing is dropped.
    late = prune_schedule(
        ProductReleases(
            "chrome",
            "Google Chrome",
            "browser",
            utc(2026, 12, 9),
            "major",
            ("test",),
            (merged,),
        )
    )
    assert [p.version for p in late.default_channel.scheduled] == ["160"]


def test_memoised_answers_change_at_a_scheduled_date(shipped: RuleSet) -> None:
    product = shipped.posture.releases.get("chrome")
    assert product is not None

    def judge(at: datetime) -> str:
        return judge_latest(
            product,
            product.default_channel,
            "158",
            Precision.MAJOR_ONLY,
            at,
            GRACE,
            "PASS",
            schedule_margin=MARGIN,
        ).reason

    # Both inside the data's coverage (memoised path): the schedule date splits them.
    assert judge(utc(2026, 11, 17) - US) == "version_newer_than_data"
    assert judge(utc(2026, 11, 17)) == "latest"
    assert judge(utc(2026, 11, 17) - US) == "version_newer_than_data"
