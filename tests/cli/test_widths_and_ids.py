"""Issue 21 (A21b breaks C and D): an invalid ``$COLUMNS`` counts as unset,
and an id is never cut, whatever its script."""

from __future__ import annotations

import json

import pytest

from anshin.v1 import verdicts_pb2
from server.cli import verdicts
from server.cli.output import width
from server.cli.table import cell_width, layout, whole, wrap
from tests.cli import samples

JA_ID = "日本語の顧客ID番号とても長い名前の顧客です1234567890"  # 54 columns


def _resolution(customer: str = "hnb-contract-0001") -> verdicts_pb2.VerdictEntry:
    scope = f"HNB-L1/customer:{customer}/card:tok"
    result = {"reservations": [{"scopeKey": scope, "capIds": ["HNB-L1"], "amountYen": "5000",
                                "usedYenBefore": "0", "limitYen": "1000000"}]}  # fmt: skip
    inputs = {"request": {"analyst": "suzuki", "note": "確認済み"}, "caller": "reviewer"}
    return verdicts_pb2.VerdictEntry(
        id=samples.ENTRY_ID, seq=4, kind="review_resolution", customer_id=customer,
        policy_id="HNB", outcome="APPROVE", refers_to=samples.CLAIM_ID,
        result_json=json.dumps(result, ensure_ascii=False),
        inputs_json=json.dumps(inputs, ensure_ascii=False),
        entry_hash="9" * 64, prev_hash="8" * 64,
    )  # fmt: skip


@pytest.mark.parametrize("columns", ["0", "-5", "abc", ""])
def test_an_invalid_columns_counts_as_unset(
    columns: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert width() == 80  # not a terminal under pytest
    verdicts.explain(_resolution())
    out = capsys.readouterr().out
    assert "analyst suzuki" in out and "ledger reservations" in out and samples.CLAIM_ID in out
    assert max(cell_width(line) for line in out.splitlines()) <= 80


def test_a_valid_columns_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1")
    assert width() == 1
    monkeypatch.setenv("COLUMNS", "200")
    assert width() == 200


def test_a_japanese_customer_id_is_moved_whole_like_an_ascii_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "64")
    for customer in (JA_ID, "c" * 54):
        verdicts.explain(_resolution(customer))
        lines = capsys.readouterr().out.splitlines()
        assert any(customer in line for line in lines), customer
        assert any(f"/customer:{customer}/card:tok" in line for line in lines)  # the scope key


def test_a_marked_id_is_one_piece_and_plain_japanese_still_wraps() -> None:
    assert wrap(f"customer {whole(JA_ID)}", 30) == ["customer", JA_ID]  # overflowing, whole
    assert wrap(f"customer {whole(JA_ID)}", 80) == [f"customer {JA_ID}"]
    assert wrap(f"x {whole(JA_ID)}、です", 60) == [f"x {JA_ID}、です"]
    assert len(wrap(JA_ID, 30)) == 2  # unmarked text is Japanese prose: it breaks


def test_a_scope_key_is_never_cut_in_the_reservations_table() -> None:
    reservation = {"scopeKey": f"HNB-L1/customer:{JA_ID}/card:tok", "capIds": ["HNB-L1"],
                   "amountYen": "5000", "limitYen": "1000000"}  # fmt: skip
    row = verdicts._reservation_row(reservation)
    for columns in (80, 200):
        lines = layout(verdicts.RESERVATIONS.columns, [row], columns)
        assert any(row[0] in line for line in lines)
