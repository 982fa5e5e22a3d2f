"""The one parser of instants (timing/instants.py): every accepted and refused
form, both sides of each boundary, and the same answer from every caller."""

from __future__ import annotations

import argparse
import tomllib
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from checks.event_settings import event_rules_from_dict
from checks.matrix import MatrixError, matrix_from_dict
from checks.releases import parse_instant as release_instant
from checks.settings import SettingsError
from rules.engine.cover import parse_cover
from server.cli.args import instant, instant_or_date
from timing import JST, DateMeaning, InstantError, parse_instant

RULES_DATA = Path(__file__).resolve().parents[2] / "rules" / "data"
T = datetime(2025, 4, 10, 1, 0, tzinfo=UTC)  # 2025-04-10 10:00 JST


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    "text",
    [
        "2025-04-10T10:00:00+09:00",
        "2025-04-10T01:00:00Z",
        "2025-04-10T01:00:00+00:00",
        "2025-04-10T01:00:00-00:00",  # RFC 3339: UTC, local offset unknown
        "2025-04-09T20:00:00-05:00",
        "2025-04-10t01:00:00z",
        "2025-04-10 10:00:00+09:00",
        "2025-04-10T10:00+09:00",  # seconds may be left out
        "2025-04-10T06:30:00+05:30",
        "2025-04-10T10:00:00.000+09:00",
    ],
)
def test_the_same_instant_in_every_accepted_spelling(text: str) -> None:
    got = parse_instant(text)
    assert got == T
    assert got.tzinfo is UTC  # always UTC, whatever offset was written


def test_offset_and_z_differ_by_exactly_the_offset() -> None:
    jst = parse_instant("2025-04-10T10:00:00+09:00")
    utc = parse_instant("2025-04-10T10:00:00+00:00")
    assert utc - jst == timedelta(hours=9)
    assert parse_instant("2025-04-10T10:00:00Z") == utc


@pytest.mark.parametrize(
    ("fraction", "micro"),
    [(".1", 100_000), (".123456", 123_456), (".123456789", 123_456), (".9999999", 999_999)],
)
def test_fractions_are_cut_to_the_microsecond_never_rounded_up(fraction: str, micro: int) -> None:
    got = parse_instant(f"2025-04-10T23:59:59{fraction}Z")
    assert got == datetime(2025, 4, 10, 23, 59, 59, micro, tzinfo=UTC)


def test_the_day_at_the_jst_boundary() -> None:
    # 00:00 JST is still the previous day in UTC; one microsecond before is 23:59:59.999999 JST.
    assert parse_instant("2025-04-10T00:00:00+09:00") == datetime(2025, 4, 9, 15, tzinfo=UTC)
    assert parse_instant("2025-04-09T23:59:59.999999+09:00") == datetime(
        2025, 4, 9, 14, 59, 59, 999_999, tzinfo=UTC
    )


def test_leap_day_only_in_leap_years() -> None:
    assert parse_instant("2024-02-29T00:00:00Z") == datetime(2024, 2, 29, tzinfo=UTC)
    with pytest.raises(InstantError, match="no such day"):
        parse_instant("2025-02-29T00:00:00Z")


# --------------------------------------------------------------------------- plain dates


def test_a_plain_date_is_refused_unless_the_caller_says_what_it_means() -> None:
    with pytest.raises(InstantError, match="a date without a time of day"):
        parse_instant("2025-04-10")
    assert parse_instant("2025-04-10", date_means=DateMeaning.JST_MIDNIGHT) == datetime(
        2025, 4, 9, 15, tzinfo=UTC
    )
    assert parse_instant("2025-04-10", date_means=DateMeaning.UTC_MIDNIGHT) == datetime(
        2025, 4, 10, tzinfo=UTC
    )


def test_a_date_allowance_does_not_excuse_a_naive_time() -> None:
    with pytest.raises(InstantError, match="no UTC offset"):
        parse_instant("2025-04-10T10:00", date_means=DateMeaning.JST_MIDNIGHT)


def test_an_impossible_date_is_refused_even_where_dates_are_allowed() -> None:
    with pytest.raises(InstantError, match="no such day"):
        parse_instant("2025-02-30", date_means=DateMeaning.JST_MIDNIGHT)


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2025-04-10T10:00:00", "no UTC offset"),
        ("2025-04-10T10:00", "no UTC offset"),
        ("2025-04-10 10:00:00.5", "no UTC offset"),
        ("2016-12-31T23:59:60Z", "leap second"),
        ("2025-02-30T10:00:00+09:00", "no such day"),
        ("2025-13-01T10:00:00+09:00", "no such day"),
        ("0000-01-01T00:00:00Z", "no such day"),
        ("2025-04-10T24:00:00Z", "no such time of day"),
        ("2025-04-10T10:60:00Z", "no such time of day"),
        ("2025-04-10T10:00:00+24:00", "out of range"),
        ("2025-04-10T10:00:00+09:60", "out of range"),
        ("0001-01-01T00:00:00+09:00", "outside the years 1 to 9999"),
        ("9999-12-31T23:00:00-09:00", "outside the years 1 to 9999"),
        ("2025-04-10T10:00:00+0900", "not an ISO 8601 instant"),
        ("2025-04-10T10:00:00+09", "not an ISO 8601 instant"),
        ("20250410T100000+0900", "not an ISO 8601 instant"),
        ("2025-W15-4T10:00:00+09:00", "not an ISO 8601 instant"),
        ("2025-04-10T10+09:00", "not an ISO 8601 instant"),
        ("2025/04/10 10:00+09:00", "not an ISO 8601 instant"),
        ("２０２５-04-10T10:00:00+09:00", "not an ISO 8601 instant"),
        (" 2025-04-10T10:00:00+09:00", "not an ISO 8601 instant"),
        ("2025-04-10T10:00:00+09:00\n", "not an ISO 8601 instant"),
        ("", "not an ISO 8601 instant"),
        ("yesterday", "not an ISO 8601 instant"),
    ],
)
def test_refused_forms_say_why(text: str, problem: str) -> None:
    with pytest.raises(InstantError) as exc:
        parse_instant(text, date_means=DateMeaning.JST_MIDNIGHT)
    assert problem in str(exc.value)
    assert isinstance(exc.value, ValueError)  # callers catching ValueError keep working


def test_the_message_names_what_was_given_what_is_accepted_and_an_example() -> None:
    with pytest.raises(InstantError) as exc:
        parse_instant("2025-04-10T10:00")
    message = str(exc.value)
    assert message.startswith("'2025-04-10T10:00': no UTC offset")
    assert "ISO 8601 instant with its UTC offset" in message
    assert "2025-04-10T10:00:00+09:00" in message and "Z" in message
    assert "date" not in message.split(";", 1)[1]  # no date offered where none is taken
    with pytest.raises(InstantError) as exc:
        parse_instant("soon", date_means=DateMeaning.JST_MIDNIGHT)
    assert "a date YYYY-MM-DD meaning 00:00 JST" in str(exc.value)


def test_a_long_input_is_not_repeated_in_full() -> None:
    with pytest.raises(InstantError) as exc:
        parse_instant("x" * 10_000)
    assert len(str(exc.value)) < 300


# --------------------------------------------------------------------------- TOML values


def test_toml_values_follow_the_same_rules() -> None:
    doc = tomllib.loads(
        "aware = 2025-04-10T10:00:00+09:00\nnaive = 2025-04-10T10:00:00\n"
        "day = 2025-04-10\nclock = 10:00:00\n"
    )
    assert parse_instant(doc["aware"]) == T and parse_instant(doc["aware"]).tzinfo is UTC
    with pytest.raises(InstantError, match="no UTC offset"):
        parse_instant(doc["naive"])
    with pytest.raises(InstantError, match="a date without a time"):
        parse_instant(doc["day"])
    assert parse_instant(doc["day"], date_means=DateMeaning.JST_MIDNIGHT) == datetime(
        2025, 4, 9, 15, tzinfo=UTC
    )
    with pytest.raises(InstantError, match="expected text, got time"):
        parse_instant(doc["clock"])


@pytest.mark.parametrize("value", [None, 1744246800, 1.5, True, b"2025-04-10T01:00:00Z"])
def test_other_types_are_refused(value: Any) -> None:
    with pytest.raises(InstantError, match="expected text"):
        parse_instant(value)


def test_aware_datetimes_in_any_zone_become_utc() -> None:
    assert parse_instant(datetime(2025, 4, 10, 10, tzinfo=JST)) == T
    minus5 = timezone(timedelta(hours=-5))
    assert parse_instant(datetime(2025, 4, 9, 20, tzinfo=minus5)).tzinfo is UTC
    assert parse_instant(date(2025, 4, 10), date_means=DateMeaning.UTC_MIDNIGHT) == datetime(
        2025, 4, 10, tzinfo=UTC
    )


# --------------------------------------------------------------------------- every caller


def _cli(text: str) -> datetime:
    try:
        return instant(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(str(exc)) from exc


def _cli_or_date(text: str) -> datetime:
    try:
        return instant_or_date(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(str(exc)) from exc


def _events_toml(text: str) -> datetime:
    doc = tomllib.loads((RULES_DATA / "events.toml").read_text())
    doc["security_standard"]["three_ds_1_retired_at"] = text
    try:
        return event_rules_from_dict(doc, origin="events.toml").security.three_ds_1_retired_at
    except SettingsError as exc:
        assert "events.toml: [security_standard].three_ds_1_retired_at: " in str(exc)
        raise ValueError(str(exc)) from exc


def _matrix(text: str) -> datetime:
    doc = tomllib.loads((RULES_DATA / "matrix" / "hnb.toml").read_text())
    doc["revision"] = doc["revision"][:1]
    doc["revision"][0]["effective_from"] = text
    try:
        return matrix_from_dict(doc, origin="hnb.toml").revisions[0].effective_from
    except MatrixError as exc:
        assert "hnb.toml: revision[0].effective_from: " in str(exc)
        raise ValueError(str(exc)) from exc


def _cover(text: str) -> datetime:
    errors: list[str] = []
    raw = tomllib.loads((RULES_DATA / "policies" / "isa.toml").read_text())["cover"]
    raw["in_force_from"] = text
    clauses = {"ISA-P1", "ISA-P2", "ISA-I1"}
    cover = parse_cover("isa.toml", "ISA", "ISA", raw, {}, clauses, errors)
    if cover is None or cover.in_force_from is None:
        assert errors and errors[0].startswith("isa.toml: cover.in_force_from: "), errors
        raise ValueError(errors[0])
    return cover.in_force_from


CALLERS = {
    "anshin --at": _cli,
    "anshin --as-of": _cli_or_date,
    "events.toml": _events_toml,
    "matrix": _matrix,
    "policy [cover]": _cover,
    "release data": release_instant,
}
FORMS = [
    "2025-04-10T10:00:00+09:00",
    "2025-04-10T01:00:00Z",
    "2025-04-10 10:00+09:00",
    "2025-04-10T01:00:00.123456789z",
    "2025-04-10T10:00:00",
    "2025-04-10T10:00:00+0900",
    "2016-12-31T23:59:60Z",
    "2025-02-29T00:00:00Z",
    "yesterday",
]


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("text", FORMS)
def test_every_caller_accepts_and_refuses_the_same_instants(caller: str, text: str) -> None:
    try:
        expected: datetime | None = parse_instant(text)
    except InstantError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            CALLERS[caller](text)
    else:
        got = CALLERS[caller](text)
        assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_a_plain_date_only_where_documented(caller: str) -> None:
    meaning = {
        "anshin --as-of": datetime(2025, 4, 9, 15, tzinfo=UTC),  # README: midnight JST
        "release data": datetime(2025, 4, 10, tzinfo=UTC),  # docs/release-data.md: 00:00 UTC
    }
    if caller in meaning:
        assert CALLERS[caller]("2025-04-10") == meaning[caller]
    else:
        with pytest.raises(ValueError):
            CALLERS[caller]("2025-04-10")
