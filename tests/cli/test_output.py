"""``-o table|json|csv|yaml`` on each command's reply (golden files), tables at
80 and 200 columns with Japanese text, and the one JSON mapping.

Golden files are in tests/cli/golden/; ``ANSHIN_UPDATE_GOLDEN=1`` rewrites
them (read the diff before committing it).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from server.cli import (
    check_login,
    claim,
    events,
    log,
    ops,
    posture,
    releases,
    replay,
    reviews,
    rules,
    verdicts,
)
from server.cli.output import emit_doc, emit_one, emit_rows, message_dict
from server.cli.table import cell_width, units, wrap
from tests.cli import samples

GOLDEN = Path(__file__).parent / "golden"
FORMATS = ("table", "json", "csv", "yaml")


def _render(name: str, fmt: str) -> None:
    """What ``anshin …`` prints for the sample reply of ``name``."""
    if name == "verdicts":
        emit_rows(samples.entries(), fmt, verdicts.CSV if fmt == "csv" else verdicts.ENTRIES)
    elif name == "reviews":
        emit_rows(samples.reviews(), fmt, reviews.REVIEWS)
    elif name == "posture":
        emit_rows(samples.devices().devices, fmt, posture.DEVICES)
    elif name == "events-coverage":
        cov = samples.coverage()
        if fmt in ("json", "yaml"):
            emit_one(cov, fmt, table=events.COVERAGE)
        else:
            emit_rows(cov.periods, fmt, events.COVERAGE)
    elif name == "ops-status":
        emit_one(samples.status(), fmt, table=ops.STATUS)
    elif name == "check-login":
        resp = samples.login_reply()
        if fmt == "csv":
            emit_rows(resp.checks, "csv", check_login.CHECKS)
        else:
            emit_one(resp, fmt, table=lambda: check_login.render(resp))
    # Commands whose data is a document of their own, not a reply.
    elif name == "replay":
        replay.emit(samples.replay_doc(), fmt)
    elif name == "events-ingest":
        events.emit_ingest(samples.ingest_doc(), fmt)
    elif name == "releases-status":
        releases.emit_status(samples.releases_doc(), fmt)
    elif name == "rules-validate":
        rules.emit_validation(samples.rules_doc(), fmt)
    elif name == "rules-validate-problems":
        rules.emit_validation(samples.rules_doc(valid=False), fmt)
    elif name == "log-verify":
        log.emit_verify(samples.verify_doc(), fmt)
    elif name == "log-verify-tampered":
        log.emit_verify(samples.verify_doc(ok=False), fmt)
    elif name == "releases-import":
        found = samples.import_summaries()
        doc = releases.import_doc(found)
        emit_doc(
            doc,
            fmt,
            text=lambda: releases._print_import(found),
            rows=(releases.IMPORTED, doc["products"]),
        )
    elif name == "releases-refresh":
        report = samples.refresh_report()
        doc = releases.refresh_doc(report)
        emit_doc(
            doc,
            fmt,
            text=lambda: releases.print_refresh(report),
            rows=(releases.REFRESHED, releases._rows(doc)),
        )
    elif name == "log-checkpoints":
        view = log.CHECKPOINTS_CSV if fmt == "csv" else log.CHECKPOINTS
        emit_rows(samples.checkpoints(), fmt, view, to_dict=lambda cp: cp.to_json())
    elif name == "rules-explain":
        from server.usecases.explain_clause import render

        explained = samples.clause_explanation()
        doc = rules.explanation_doc(explained)
        emit_doc(
            doc,
            fmt,
            text=lambda: rules._print_wrapped(render(explained)),
            rows=(rules.LOCATIONS, doc["locations"]),
        )
    # The claim trace, the claim form and `verdicts show`: as `anshin claim`,
    # `anshin claim form` and `anshin verdicts show` call them.
    elif name == "claim":
        resp = samples.claim_reply()
        emit_one(
            resp,
            fmt,
            table=lambda: claim.render_decision(resp, source="127.0.0.1:50051"),
            rows=(claim.csv_clause(resp), resp.clauses),
        )
    elif name == "claim-form":
        form = samples.form_reply()
        emit_one(
            form,
            fmt,
            table=lambda: claim.render_form(form, source="local, built-in rules"),
            rows=(claim.FIELDS_CSV, form.fields),
        )
    elif name in ("verdicts-show-claim", "verdicts-show-posture"):
        e = samples.shown_claim() if name == "verdicts-show-claim" else samples.shown_posture()
        state = "open: in the review queue (anshin reviews resolve)" if e.kind == "claim" else ""
        emit_one(
            e,
            fmt,
            table=lambda: verdicts.explain(e, review_state=state),
            rows=(verdicts.CSV, [e]),
        )


def _capture(capsys: pytest.CaptureFixture[str], run: Callable[[], object]) -> str:
    capsys.readouterr()
    run()
    return capsys.readouterr().out


def _golden(path: Path, text: str) -> None:
    if os.environ.get("ANSHIN_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with ANSHIN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


NAMES = (
    "verdicts",
    "reviews",
    "posture",
    "events-coverage",
    "ops-status",
    "check-login",
    "replay",
    "events-ingest",
    "releases-status",
    "rules-validate",
    "rules-validate-problems",
    "log-verify",
    "log-verify-tampered",
    "claim",
    "claim-form",
    "verdicts-show-claim",
    "verdicts-show-posture",
    "releases-import",
    "releases-refresh",
    "log-checkpoints",
    "rules-explain",
)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_each_format_of_each_command(
    name: str, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = _capture(capsys, lambda: _render(name, fmt))
    _golden(GOLDEN / f"{name}.{'txt' if fmt == 'table' else fmt}", out)
    if fmt == "json":
        json.loads(out)  # one document
    elif fmt == "yaml":
        yaml.safe_load(out)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert len({len(r) for r in rows}) == 1  # a header and rows of its width


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize(
    "name",
    [
        "reviews",
        "posture",
        "check-login",
        "verdicts",
        "rules-validate",
        "claim",
        "verdicts-show-claim",
        "verdicts-show-posture",
    ],
)
def test_tables_fit_the_width_and_cut_nothing(
    name: str, width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    out = _capture(capsys, lambda: _render(name, "table"))
    _golden(GOLDEN / f"{name}.{width}.txt", out)
    table = out.splitlines()
    if name == "rules-validate":  # the verdict sentence after the table is the terminal's to wrap
        table = table[:-1]
    for line in table:
        assert cell_width(line) <= width, line
    kept = {  # the id to paste into the next command, whole, on one line
        "rules-validate": ["KDN@seed-001"],
        # the decision id in the head, the posture id in a clause's compared values
        "claim": [samples.CLAIM_ID, samples.POSTURE_ID, "2025-04-12T10:00:00+09:00"],
        "verdicts-show-claim": [samples.CLAIM_ID, samples.POSTURE_ID, "¥10,000,000"],
        "verdicts-show-posture": [
            samples.POSTURE_ID,
            "2000-01-01T00:00:00+00:00",
            "2026-11-23T01:00:00+00:00",
            "143.0.7499.40",
            "7" * 64,
        ],
    }.get(name, [samples.ENTRY_ID])
    for value in kept:
        assert any(value in line for line in out.splitlines()), value
    if name in ("reviews", "verdicts"):
        assert "¥1,200,000" in out or "¥12,000,000" in out
    # Japanese text, wrapped but complete: its characters in order.
    flat = "".join(ch for ch in out if ord(ch) > 0x3000)
    japanese = {
        "check-login": samples.GUIDANCE_JA,
        "reviews": "代替的な対策の説明",
        "rules-validate": "ダークウェブモニタリングプラス付帯保険",
        "claim": samples.EXPLANATION_JA,
        "verdicts-show-claim": samples.EXPLANATION_JA,
        "verdicts-show-posture": samples.GUIDANCE_JA,
    }.get(name, "")
    assert "".join(ch for ch in japanese if ord(ch) > 0x3000) in flat


def test_wide_terminal_has_one_line_per_verdict(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = _capture(capsys, lambda: _render("verdicts", "table"))
    assert len(out.splitlines()) == 2 + 2  # header, rule, one line each
    monkeypatch.setenv("COLUMNS", "80")
    out = _capture(capsys, lambda: _render("verdicts", "table"))
    assert len(out.splitlines()) > 4  # blocks of name/value lines: nothing cut


def test_json_is_the_protobuf_mapping_with_defaults() -> None:
    d = message_dict(samples.entries()[1])
    assert d["payableYen"] == "0"  # int64 as a string, and present at its default
    assert d["customerId"] == "hnb-contract-0001"  # lowerCamelCase
    assert d["recordedAt"] == "2025-04-20T06:31:00Z"
    reply = message_dict(samples.login_reply())
    assert reply["verdict"] == "POSTURE_VERDICT_UNKNOWN"  # enums by name


def test_a_list_in_json_is_one_array_even_empty(capsys: pytest.CaptureFixture[str]) -> None:
    out = _capture(capsys, lambda: emit_rows([], "json", verdicts.ENTRIES))
    assert json.loads(out) == []
    out = _capture(capsys, lambda: emit_rows([], "yaml", verdicts.ENTRIES))
    assert yaml.safe_load(out) == []


def test_the_ingest_summary_keeps_line_numbers_and_event_ids_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    doc = samples.ingest_doc()
    out = _capture(capsys, lambda: events.emit_ingest(doc, "table"))
    assert f"line 7: INVALID_ARGUMENT {doc['rejected'][0]['clientEventId']}" in out
    out = _capture(capsys, lambda: events.emit_ingest(doc, "table", show=1))
    assert "line 7: " in out and "… 1 more (use --show N)" in out
    assert "INVALID_JSON" not in out  # the second rejected line is past --show
    rows = list(csv.reader(io.StringIO(_capture(capsys, lambda: events.emit_ingest(doc, "csv")))))
    assert [r[0] for r in rows] == ["line", "7", "12"]  # csv lists every line, --show or not


def test_replay_lists_show_changes_in_the_table_and_all_elsewhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = samples.replay_doc()
    doc["changes"] = doc["changes"] * 3
    out = _capture(capsys, lambda: replay.emit(doc, "table", show=2))
    assert out.count(samples.ENTRY_ID) == 2 and "(first 2; --show 0: all)" in out
    out = _capture(capsys, lambda: replay.emit(doc, "json", show=2))
    assert len(json.loads(out)["changes"]) == 3
    out = _capture(capsys, lambda: replay.emit(doc, "csv", show=2))
    assert out.splitlines()[1].split(",")[5:8] == ["12000000", "DENY", "0"]


def test_rules_validate_ends_its_table_with_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    rules.emit_validation(samples.rules_doc(), "table")
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("rules/data: valid — 2 policies, 49 clauses (54 entries)")
    rules.emit_validation(samples.rules_doc(valid=False), "table")
    out = capsys.readouterr().out
    assert out.startswith("/tmp/anshin-rules-copy/policies/hnb.toml: clause HNB-X5")
    assert out.splitlines()[-1].endswith(
        "1 problem(s); the server would refuse to load these rules"
    )
    rules.emit_validation(samples.rules_doc(valid=False), "csv")  # the data alone
    assert capsys.readouterr().out.splitlines() == [
        "problem",
        samples.rules_doc(False)["problems"][0],
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--rules", "rules/data"],
        ["log", "verify"],
        ["releases", "status"],
        ["rules", "validate", "rules/data"],
        ["events", "ingest", "x.jsonl"],
        ["claim", "x.json"],
        ["claim", "form", "DCM", "qr_payment:DCM-E1"],
        ["verdicts", "show", samples.CLAIM_ID],
        ["check-login", "--ua", "x"],
        ["rules", "explain", "HNB-P2"],
        ["releases", "import", "--format", "anshin", "feed.json"],
        ["releases", "refresh"],
        ["log", "verify-receipt", "receipt.json", "--public-key", "log.pem"],
    ],
)
def test_every_command_takes_each_format(argv: list[str]) -> None:
    from server.cli import build_parser

    parser = build_parser()
    for fmt in FORMATS:
        assert parser.parse_args([*argv, "-o", fmt]).output == fmt
    assert parser.parse_args(argv).output == "table"
    with pytest.raises(SystemExit):
        parser.parse_args([*argv, "-o", "xml"])


def test_the_trace_follows_the_terminal_width(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim trace is side by side where it fits and blocks where it does not."""
    monkeypatch.setenv("COLUMNS", "200")
    wide = _capture(capsys, lambda: _render("claim", "table"))
    monkeypatch.setenv("COLUMNS", "80")
    narrow = _capture(capsys, lambda: _render("claim", "table"))
    assert any(
        line.startswith("clause  ") and "status / effect" in line for line in wide.splitlines()
    )
    assert not any(
        "status / effect  " in line and "explanation" in line for line in narrow.splitlines()
    )
    assert max(cell_width(line) for line in wide.splitlines()) > 80


def test_wrap_breaks_at_spaces_and_between_japanese_characters_only() -> None:
    # An instant, a version, an id: one piece each, never broken.
    for word in ("2026-12-08T00:00:00+00:00", "143.0.7499.40", samples.CLAIM_ID, "¥10,000,000"):
        assert units(word) == [word]
        assert word in wrap(f"as of {word} here", len(word))
    assert wrap("latest_per_schedule rule", 12) == ["latest_per_schedule", "rule"]
    # Japanese breaks between characters; mixed words at the script boundary.
    assert wrap("最新版に更新", 6) == ["最新版", "に更新"]
    assert units("Chromeを最新版(157") == ["Chrome", "を", "最", "新", "版", "(157"]
    # No line starts with closing punctuation nor ends with an opening one.
    lines = wrap("確認できません（HNB-R1により）。", 16)
    assert all(not line.startswith(("）", "。", "、")) for line in lines), lines
    assert all(not line.endswith("（") for line in lines), lines
    # A fact path wider than a whole line breaks after / . ] , rather than overflow.
    path = samples.FACT_PATH
    assert wrap(path, 45) == ["ledger[HNB-L1/customer:hnb-contract-0001/", "year:2025].amount_yen"]
    assert "".join(wrap(path, 30)) == path and max(map(len, wrap(path, 30))) <= 30
    assert wrap("9" * 64, 40) == ["9" * 64]  # nowhere to break: whole, on its own line
    # An instant written with spaces is one piece too.
    assert wrap("consulted 2025-04-14 01:00:00+00:00 vs stated", 28) == [
        "consulted",
        "2025-04-14 01:00:00+00:00 vs",
        "stated",
    ]
    assert wrap("at 2025-04-10 10:00 JSTまで", 20) == ["at", "2025-04-10 10:00 JST", "まで"]
    # Never there: a version's dots, an amount's commas, an instant, an id.
    for word in ("143.0.7499.40", "¥10,000,000", "2026-12-08T00:00:00+00:00", samples.CLAIM_ID):
        assert wrap(f"x {word}", 5) == ["x", word]


def test_an_empty_list_prints_the_same_at_any_width(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outs = set()
    for width in ("80", "200"):
        monkeypatch.setenv("COLUMNS", width)
        capsys.readouterr()
        emit_rows([], "table", reviews.REVIEWS, footer=reviews.queue_footer)
        got = capsys.readouterr()
        outs.add((got.out, got.err))
    assert outs == {("", "no open reviews\n")}
    emit_rows([], "csv", reviews.REVIEWS)
    assert capsys.readouterr().out.startswith("seq,recorded (JST),customer")  # the header alone


def test_log_checkpoints_stays_json_lines_unless_asked() -> None:
    """Its default is the export that `log verify --checkpoints FILE` reads back."""
    from server.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["log", "checkpoints"]).output == "jsonl"
    for fmt in FORMATS:
        assert parser.parse_args(["log", "checkpoints", "-o", fmt]).output == fmt


def test_claim_json_is_an_output_format_and_the_claim_is_the_file() -> None:
    """`--json` is `-o json` on `claim` as everywhere; the older `claim --json
    FILE` still reads FILE (now a positional) and prints JSON."""
    from server.cli import build_parser

    parser = build_parser()
    for argv in (["claim", "x.json", "--json"], ["claim", "--json", "x.json"]):
        ns = parser.parse_args(argv)
        assert (ns.output, ns.words) == ("json", ["x.json"])
    assert parser.parse_args(["claim", "x.json", "--json-output"]).output == "json"
    assert "--json FILE" not in parser._subparsers._group_actions[0].choices["claim"].format_help()


@pytest.mark.parametrize("fmt", ["csv", "json", "yaml", "table"])
def test_claim_and_verdicts_show_print_every_format_they_offer(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o csv` is listed by --help and works: one row per clause, per field, per entry."""
    sizes = {}
    for name in ("claim", "claim-form", "verdicts-show-claim"):
        out = _capture(capsys, lambda name=name: _render(name, fmt))
        assert out.strip(), name
        if fmt == "csv":
            sizes[name] = len(list(csv.reader(io.StringIO(out)))) - 1
    if fmt == "csv":
        assert sizes == {"claim": 2, "claim-form": 2, "verdicts-show-claim": 1}


@pytest.mark.parametrize("width", [80, 200])
def test_check_login_keeps_instants_versions_and_words_whole(
    width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows A21 saw cut at 80 columns: an instant, a version, a long word
    and Japanese guidance with a version in it."""
    from anshin.v1 import common_pb2

    resp = samples.login_reply()
    c = resp.checks.add(
        check_id="browser.latest",
        status=common_pb2.CHECK_STATUS_FAIL,
        clause_ids=["HNB-P1"],
        reason="latest_per_schedule",
        message_ja="Google Chromeを最新版(157 以降)に更新してください。",
    )
    x = c.compared.add()
    x.name, x.observed = "browser_version", "143.0.7499.40"
    x.expected = ">= 157 (released 2026-12-08T00:00:00+00:00, grace 14 days)"
    monkeypatch.setenv("COLUMNS", str(width))
    out = _capture(capsys, lambda: check_login.render(resp))
    lines = out.splitlines()
    assert max(cell_width(line) for line in lines) <= width
    for whole in ("2026-12-08T00:00:00+00:00", "143.0.7499.40", "latest_per_schedule"):
        assert any(whole in line for line in lines), (whole, out)
    flat = "".join(ch for ch in out if ord(ch) > 0x3000)
    assert "最新版以降に更新してください" in flat
