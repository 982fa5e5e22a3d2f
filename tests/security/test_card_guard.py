"""The card-number guard: every format is seen, look-alikes are not, every
place in a message is walked, and no refusal names the number."""

from __future__ import annotations

import time
import uuid

import pytest
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from anshin.v1 import claims_pb2, events_pb2, posture_pb2
from server.errors import Violations
from server.pii import _chain_holds_pan, _long_chain_holds_pan, contains_pan
from server.wire.card_guard import (
    DIGIT_BUDGET,
    REFUSED,
    TOO_MANY_DIGITS,
    card_violations,
    may_hold_card,
    metadata_violations,
    request_violations,
)
from tests.security.hostile import FORMATS, PANS, every_card_value


@pytest.mark.parametrize(("name", "pan", "written"), every_card_value())
def test_every_format_of_every_pan_is_seen(name: str, pan: str, written: str) -> None:
    assert contains_pan(written), name


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_number_failing_luhn_is_not_a_card_in_any_format(name: str) -> None:
    not_luhn = "4111111111111112"
    assert not contains_pan(FORMATS[name](not_luhn))


@pytest.mark.parametrize(
    ("value", "pan"),
    [
        # Length boundaries: 12 and 20 digits are not card numbers, 13 and 19 are.
        ("411111111113", False),  # 12 digits, Luhn-valid
        ("4222222222222", True),  # 13
        ("6304000000000000018", True),  # 19
        ("63040000000000000180", False),  # 20 digits: one longer number, not a card
        ("1" + "4111111111111111", False),  # glued to more digits: a 17-digit number
        ("4111 1111 1111 1111 1", True),  # a whole group more does not hide it
        # Every character but a letter or digit separates groups (colons and
        # commas too); only letters end a number.
        ("4111:1111:1111:1111", True),
        ("4111,1111,1111,1111", True),
        ("4111\u30021111\u30fc1111\u31641111", True),
        ("4111a1111b1111c1111", False),
        ("4111\u30a21111\u30a21111\u30a21111", False),  # katakana ア: a letter
        # Everyday values with many digits.
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/158.0.7826.45 Safari/537.36",
            False,
        ),
        ("2026-12-07 10:00:00", False),
        # The price of colons joining groups: this instant's last five groups
        # (07 10 00 00 123456) pass Luhn. Instants travel as Timestamps, not
        # text; docs/security.md lists the false positives.
        ("2026-12-07 10:00:00.123456", True),
        ("+81 90 1234 5678", False),
        ("090-1234-5678", False),
        ("", False),
    ],
)
def test_boundaries(value: str, pan: bool) -> None:
    assert contains_pan(value) is pan


@settings(max_examples=300)
@given(st.uuids())
def test_uuids_are_not_card_numbers(u: uuid.UUID) -> None:
    assert not contains_pan(str(u))
    assert not contains_pan(str(u).upper())


def test_an_all_digit_uuid_shape_is_still_read() -> None:
    assert contains_pan("41111111-1111-1111-1111-000000000000")


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 99999).map(str), min_size=1, max_size=120),
    st.sampled_from([" ", "  ", "-", ".", "\u200b", " - "]),
)
def test_long_and_short_chain_checks_agree_with_brute_force(groups: list[str], sep: str) -> None:
    digits = "".join(groups)
    bounds = [0]
    for g in groups:
        bounds.append(bounds[-1] + len(g))
    expected = any(
        13 <= bounds[j] - bounds[i] <= 19 and luhn.is_valid(digits[bounds[i] : bounds[j]])
        for j in range(len(bounds))
        for i in range(j)
    )
    assert _chain_holds_pan(groups) is expected
    assert _long_chain_holds_pan(" ".join(groups)) is expected
    assert contains_pan(sep.join(groups)) is expected


def test_a_four_megabyte_chain_of_tiny_groups_is_checked_quickly() -> None:
    # One group per two bytes: the worst case for the search. Its cost must
    # stay far below a second (it runs on the event loop).
    hostile = "12 " * 1_300_000 + "4111 1111 1111 1111"
    started = time.perf_counter()
    assert contains_pan(hostile)
    assert not contains_pan("1 " * 2_000_000)
    assert time.perf_counter() - started < 8  # generous: a shared CI core; ~1 s locally


def _paths(msg: Message) -> list[str]:
    v = Violations()
    card_violations(msg, v)
    assert all(x.description == REFUSED for x in v.items)
    return [x.field for x in v.items]


def test_every_place_in_a_message_is_walked() -> None:
    pan = "4111 1111 1111 1111"
    req = posture_pb2.CheckLoginRequest(customer_id=pan, device_id="d1", user_agent="ua")
    req.client_hints.model = pan
    req.antivirus.product = pan
    assert sorted(_paths(req)) == ["antivirus.product", "client_hints.model", "customer_id"]
    claim = claims_pb2.EvaluateClaimRequest(claim_id="c1")
    claim.skimming_phishing.negligence.extend(["JPE-G1", pan])
    assert _paths(claim) == ["skimming_phishing.negligence[1]"]


def test_a_map_key_holding_a_number_is_named_by_position_never_by_itself() -> None:
    req = claims_pb2.EvaluateClaimRequest()
    req.exclusions["DCM-X1"] = True
    req.exclusions["4900 0000 0000 0086"] = True
    req.exclusions["HNB-X10"] = False
    paths = _paths(req)
    # Sorted keys: "4900 …" (1), "DCM-X1" (2), "HNB-X10" (3).
    assert paths == ["exclusions[<key 1>]"]
    assert not any("4900" in p for p in paths)


def test_wide_integers_holding_a_number_are_refused() -> None:
    req = claims_pb2.EvaluateClaimRequest()
    req.amounts.loss_yen = 4111111111111111
    assert _paths(req) == ["amounts.loss_yen"]
    req.amounts.loss_yen = 4111111111111112  # fails Luhn: an amount, if absurd
    assert _paths(req) == []
    req.amounts.loss_yen = 411111111113  # 12 digits
    assert _paths(req) == []


def test_metadata_keys_and_values() -> None:
    v = Violations()
    metadata_violations(
        [
            ("x-request-id", "4111111111111111"),
            ("user-agent", "grpc-python/1.70"),
            ("4111-1111-1111-1111", "v"),
            ("trace-bin", b"\x00" + b"5500005555555559"),
        ],
        v,
    )
    fields = [x.field for x in v.items]
    assert fields == ["metadata[x-request-id]", "metadata[<key 3>]", "metadata[trace-bin]"]


def test_the_prefilter_skips_only_messages_that_cannot_hold_one() -> None:
    login = posture_pb2.CheckLoginRequest(
        customer_id="c-1",
        device_id="d-1",
        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/158.0.0.0 Safari/537.36",
    )
    assert not may_hold_card(login.SerializeToString())
    for _, _, written in every_card_value():
        holding = posture_pb2.CheckLoginRequest(customer_id="c-1", user_agent=written)
        assert may_hold_card(holding.SerializeToString())


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60), st.sampled_from(PANS))
def test_prefilter_never_hides_a_number_a_field_holds(noise: str, pan: str) -> None:
    text = noise + " " + FORMATS["spaces"](pan) + " " + noise
    ev = events_pb2.ReportRegistrationRequest()
    ev.header.customer_id = text
    v = Violations()
    request_violations(ev, ev.SerializeToString(), v)
    assert [x.field for x in v.items] == ["header.customer_id"]


def test_checklogin_guard_cost_is_small() -> None:
    """The guard's share of a typical CheckLogin (prefilter and, when digits
    abound, the walk): microseconds, against a 5 ms p99 budget."""
    req = posture_pb2.CheckLoginRequest(
        customer_id="cust-000123", device_id="dev-1234567890", user_agent="Mozilla/5.0 " * 8
    )
    req.client_hints.full_version_list = '"Chromium";v="158.0.7826.45", "Not A(Brand";v="24.0.0.0"'
    req.antivirus.product = "ESET Cyber Security 8.1.2024.1"
    raw = req.SerializeToString()
    n = 2000
    started = time.perf_counter()
    for _ in range(n):
        v = Violations()
        request_violations(req, raw, v)
    per_call = (time.perf_counter() - started) / n
    assert v.items == []
    assert per_call < 0.0005  # measured ~10–30 µs; a slow shared runner stays far below


def test_wide_integers_are_not_skipped_by_the_prefilter() -> None:
    # Issue 18: no text digits at all, so the old prefilter skipped the walk.
    claim = claims_pb2.EvaluateClaimRequest()
    claim.amounts.loss_yen = 4111111111111111
    raw = claim.SerializeToString()
    assert may_hold_card(raw, claim.DESCRIPTOR)
    v = Violations()
    request_violations(claim, raw, v)
    assert [x.field for x in v.items] == ["amounts.loss_yen"]
    # The other side: an everyday amount (five varint bytes at most) is skipped.
    claim.amounts.loss_yen = 34_359_738_367  # 2**35 - 1: the largest five-byte varint
    assert not may_hold_card(claim.SerializeToString(), claim.DESCRIPTOR)
    claim.amounts.loss_yen = 10**12  # 13 digits: six bytes, walked
    assert may_hold_card(claim.SerializeToString(), claim.DESCRIPTOR)


def test_a_request_past_the_digit_budget_is_refused_unread_and_quickly() -> None:
    # Issue 18: single-digit groups cost about a second per 4 MB request.
    hostile = " ".join(("53" * 1_000_000)[:2_000_000])
    req = posture_pb2.CheckLoginRequest(customer_id="c-1", user_agent=hostile)
    raw = req.SerializeToString()
    best = float("inf")
    for _ in range(3):
        v = Violations()
        started = time.perf_counter()
        request_violations(req, raw, v)
        best = min(best, time.perf_counter() - started)
    assert [(x.field, x.description) for x in v.items] == [("user_agent", TOO_MANY_DIGITS)]
    # Unbudgeted, this request costs about a second; budgeted, a few ms. The
    # bound sits between the two with room for a busy CI machine (a 20 ms bound
    # failed once at 23 ms on a fresh-clone run); the figure itself is a bench's.
    assert best < 0.2


def test_the_digit_budget_boundary() -> None:
    # Groups of 20 digits, too long to be part of a card number: exactly the
    # budget is screened, one more digit is refused; digits in other fields
    # add up.
    at_budget = " ".join(["7" * 20] * (DIGIT_BUDGET // 20))
    req = posture_pb2.CheckLoginRequest(customer_id="c-a", user_agent=at_budget)
    v = Violations()
    request_violations(req, req.SerializeToString(), v)
    assert v.items == []
    req.device_id = "d7"
    v = Violations()
    request_violations(req, req.SerializeToString(), v)
    assert [x.description for x in v.items] == [TOO_MANY_DIGITS]
    # Full-width digits count as digits.
    wide = posture_pb2.CheckLoginRequest(user_agent="\uff10" * (DIGIT_BUDGET + 1))
    v = Violations()
    request_violations(wide, wide.SerializeToString(), v)
    assert [x.field for x in v.items] == ["user_agent"]


def test_japanese_text_without_digits_is_within_budget() -> None:
    text = "カード番号の代わりにトークンを送ってください。" * 2000  # 46,000 characters
    req = posture_pb2.CheckLoginRequest(customer_id="c-1", user_agent=text)
    v = Violations()
    request_violations(req, req.SerializeToString(), v)
    assert v.items == []


def test_ideographic_zero_is_a_digit() -> None:
    """Second outside attack: 〇 (U+3007), how Japanese writes zero, was taken
    for a separator, so 518〇 9679 29〇8 1〇〇9 was stored."""
    from server.pii import contains_pan

    assert contains_pan("518〇 9679 29〇8 1〇〇9")
    assert contains_pan("５１８〇　９６７９　２９〇８　１〇〇９")
    assert not contains_pan("二〇二五年四月")  # a year in kanji: no card number


def test_a_request_past_the_non_ascii_budget_is_refused_quickly() -> None:
    """Second outside attack: 1.95 M × "½" (NFKC: 1⁄2) cost ~0.5 s per request
    on the event loop. Past 128 KiB of non-ASCII text a request is refused
    before any normalisation; just under it, it is screened as usual."""
    import time

    from anshin.v1 import posture_pb2
    from server.wire.card_guard import NON_ASCII_BUDGET, TOO_MUCH_TEXT

    def refused(text: str) -> tuple[list[str], float]:
        msg = posture_pb2.CheckLoginRequest(customer_id="c", user_agent=text)
        v = Violations()
        started = time.perf_counter()
        request_violations(msg, msg.SerializeToString(), v)
        return [x.description for x in v.items], time.perf_counter() - started

    over, seconds = refused("½" * 1_950_000)
    assert over == [TOO_MUCH_TEXT] and seconds < 0.05
    under, _ = refused("½" * (NON_ASCII_BUDGET // 2 - 8))  # 2 bytes each: just under
    assert TOO_MUCH_TEXT not in under
