"""``anshin releases refresh`` against recorded feeds replayed over local HTTP.

No internet here: tests/feed_replay.py serves the files of
tests/fixtures/feeds (built from ../shared/data by its build.py) on
127.0.0.1, and scripts the failure modes: a server slower than the client's
timeout, 500s then success, 429 with Retry-After, 304 on the second run, a
truncated body, a feed that goes backwards, pagination.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from checks.releases import parse_instant
from rules.load import BUILTIN_RULES_DIR, load_rules
from server.cli import main
from server.feed_http import FeedFetcher, FeedHttpError, FetchPolicy, retry_after_seconds
from server.feed_state import STATE_NAME, load_state
from server.release_import import load_product
from server.release_refresh import (
    RefreshError,
    SourceOutcome,
    parse_base_urls,
    refresh_releases,
    resolve_sources,
)
from tests.feed_replay import FeedReplay, Reply, fixture, standard_routes

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
FAST = FetchPolicy(connect_timeout=2.0, read_timeout=2.0, attempts=3, backoff=0.01)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, target)
    return target


@pytest.fixture
def feeds() -> Iterator[FeedReplay]:
    with FeedReplay(standard_routes()) as server:
        yield server


def snapshot(rules: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the releases directory: bytes and mtime (nothing rewritten = equal)."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted((rules / "releases").iterdir())
        if p.is_file()
    }


def run(
    rules: Path,
    feeds: FeedReplay,
    *,
    sources: list[str] | None = None,
    policy: FetchPolicy = FAST,
    sleeps: list[float] | None = None,
) -> dict[str, SourceOutcome]:
    waits = sleeps if sleeps is not None else []
    with FeedFetcher(policy, sleep=waits.append) as fetcher:
        report = refresh_releases(
            rules, sources=sources, base_urls=feeds.base_urls(), fetcher=fetcher, now=lambda: NOW
        )
    return {o.source: o for o in report.outcomes}


# --------------------------------------------------------------------------- the happy path


def test_first_refresh_applies_every_source_and_the_second_is_not_modified(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    shipped = load_product(rules_copy / "releases" / "chrome.json")
    first = run(rules_copy, feeds)
    assert {s: o.result for s, o in first.items()} == {
        "bcd": "updated",
        "chrome": "updated",
        "mozilla": "updated",
        "eol-release-data": "updated",
        "eol": "updated",
    }
    chrome = load_product(rules_copy / "releases" / "chrome.json")
    # bcd of 2026-12-06: Chrome 158 (2026-11-17) is out; as_of = the feed's own timestamp.
    assert chrome.as_of == parse_instant("2026-12-06T09:00:00Z") > shipped.as_of
    assert "158" in {r.version for r in chrome.default_channel.releases}
    assert chrome.granularity == "major"  # VersionHistory's builds reduced to majors
    assert all(r.key[1:] == () for r in chrome.default_channel.releases)
    # Every page of VersionHistory was followed (nextPageToken).
    pages = [s.query for s in feeds.requests_to("/chrome/")]
    assert [q.split("pageToken=")[-1] if "pageToken" in q else "1" for q in pages] == [
        "1",
        "token-2",
        "token-3",
    ]
    # The loader accepts the result as rules.
    assert load_rules(rules_copy).release_as_of()["edge"] == chrome.as_of
    before = snapshot(rules_copy)
    seen = len(feeds.seen)

    second = run(rules_copy, feeds)
    assert {o.result for o in second.values()} == {"not_modified"}
    assert snapshot(rules_copy) == before, "a 304 rewrites nothing, the cache included"
    conditional = feeds.seen[seen:]
    assert conditional and all(
        "if-none-match" in s.headers or "if-modified-since" in s.headers for s in conditional
    )
    # Only the first VersionHistory page is asked for conditionally.
    assert [s.query for s in conditional if s.path.startswith("/chrome/")] == ["pageSize=1000"]


def test_cache_file_is_not_release_data_and_does_not_change_the_digest(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    run(rules_copy, feeds, sources=["bcd"])
    digest = load_rules(rules_copy).digest
    state = rules_copy / "releases" / STATE_NAME
    assert state.exists() and not state.name.endswith(".json")
    state.write_text("{}", encoding="utf-8")
    assert load_rules(rules_copy).digest == digest
    # A lost or unreadable cache only costs a full fetch.
    state.write_text("not json", encoding="utf-8")
    assert load_state(rules_copy / "releases").sources == {}
    assert run(rules_copy, feeds, sources=["bcd"])["bcd"].result == "unchanged"


def test_only_the_named_sources_and_unknown_names_refused(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    out = run(rules_copy, feeds, sources=["mozilla,eol"])
    assert list(out) == ["mozilla", "eol"]
    assert not feeds.requests_to("/bcd/")
    with pytest.raises(ValueError, match="unknown source"):
        resolve_sources(["bcd", "nope"])
    with pytest.raises(ValueError, match="SOURCE=URL"):
        parse_base_urls(["bcd"])
    assert parse_base_urls(["bcd=http://a/b,eol=http://c"]) == {
        "bcd": "http://a/b",
        "eol": "http://c",
    }


# --------------------------------------------------------------------------- failure modes


def test_a_server_slower_than_the_timeout_is_retried_then_reported(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    before = (rules_copy / "releases" / "chrome.json").read_bytes()
    feeds.script("/bcd/data.json", Reply(fixture("bcd", "data-2026-12-06.json"), delay=1.5))
    sleeps: list[float] = []
    policy = FetchPolicy(connect_timeout=0.3, read_timeout=0.3, attempts=2, backoff=0.01)
    out = run(rules_copy, feeds, sources=["bcd", "mozilla"], policy=policy, sleeps=sleeps)
    bcd = out["bcd"]
    assert bcd.result == "error" and "timed out" in bcd.detail
    assert "after 2 attempts" in bcd.detail
    assert len(feeds.requests_to("/bcd/")) == 2 and len(sleeps) == 1
    assert (rules_copy / "releases" / "chrome.json").read_bytes() == before
    # The other source still applies.
    assert out["mozilla"].result == "updated"
    # Nothing remembered for the failed source: the next run asks unconditionally.
    assert "bcd" not in load_state(rules_copy / "releases").sources


def test_500s_then_success_is_retried_with_backoff(rules_copy: Path, feeds: FeedReplay) -> None:
    body = fixture("bcd", "data-2026-12-06.json")
    feeds.script(
        "/bcd/data.json",
        Reply(b"oops", status=500),
        Reply(b"oops", status=503),
        Reply(body, etag='"x"'),
    )
    sleeps: list[float] = []
    out = run(rules_copy, feeds, sources=["bcd"], sleeps=sleeps)
    assert out["bcd"].result == "updated"
    assert len(feeds.requests_to("/bcd/")) == 3
    # Exponential backoff with jitter: the second wait is longer than half the first doubled.
    assert len(sleeps) == 2 and 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02


def test_429_retry_after_is_honoured_up_to_a_cap(rules_copy: Path, feeds: FeedReplay) -> None:
    body = fixture("bcd", "data-2026-12-06.json")
    feeds.script(
        "/bcd/data.json",
        Reply(b"", status=429, headers={"Retry-After": "7"}),
        Reply(b"", status=429, headers={"Retry-After": "3600"}),
        Reply(body),
    )
    sleeps: list[float] = []
    policy = FetchPolicy(attempts=3, backoff=0.01, retry_after_cap=60.0)
    assert run(rules_copy, feeds, sources=["bcd"], policy=policy, sleeps=sleeps)["bcd"].result == (
        "updated"
    )
    assert sleeps == [7.0, 60.0]
    assert retry_after_seconds("Wed, 09 Dec 2026 01:00:10 GMT", NOW) == 2 * 86400 + 10
    assert retry_after_seconds("soon", NOW) is None


def test_a_404_is_final_not_retried(rules_copy: Path, feeds: FeedReplay) -> None:
    feeds.script("/bcd/data.json", Reply(b"gone", status=404))
    out = run(rules_copy, feeds, sources=["bcd"])
    assert out["bcd"].result == "error" and "HTTP 404" in out["bcd"].detail
    assert len(feeds.requests_to("/bcd/")) == 1


def test_truncated_json_is_refused_and_the_data_unchanged(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    before = snapshot(rules_copy)
    body = fixture("bcd", "data-2026-12-06.json")
    feeds.script("/bcd/data.json", Reply(body[: len(body) // 2], etag='"half"'))
    out = run(rules_copy, feeds, sources=["bcd"])
    assert out["bcd"].result == "refused"
    assert "not valid JSON" in out["bcd"].detail
    assert {k: v for k, v in snapshot(rules_copy).items() if k.endswith(".json")} == {
        k: v for k, v in before.items() if k.endswith(".json")
    }
    # The refused body's ETag is not remembered: the next run fetches it whole again.
    feeds.script("/bcd/data.json", Reply(body, etag='"whole"'))
    seen = len(feeds.seen)
    assert run(rules_copy, feeds, sources=["bcd"])["bcd"].result == "updated"
    assert "if-none-match" not in feeds.seen[seen].headers


def test_a_cut_off_transfer_is_a_network_error_and_retried(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    body = fixture("bcd", "data-2026-12-06.json")
    # Content-Length promises more than is sent: the client sees a broken transfer.
    feeds.script(
        "/bcd/data.json",
        Reply(body[:1000], headers={"Content-Length": str(len(body))}),
        Reply(body),
    )
    out = run(rules_copy, feeds, sources=["bcd"])
    assert out["bcd"].result == "updated"
    assert len(feeds.requests_to("/bcd/")) == 2


def test_a_feed_that_goes_backwards_is_refused_while_others_apply(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    assert run(rules_copy, feeds, sources=["bcd"])["bcd"].result == "updated"
    applied = snapshot(rules_copy)
    # A stale mirror: the 2026-11-12 build of bcd after the 2026-12-06 one.
    feeds.script("/bcd/data.json", Reply(fixture("bcd", "data-2026-11-12.json"), etag='"old"'))
    out = run(rules_copy, feeds, sources=["bcd", "mozilla"])
    bcd = out["bcd"]
    assert bcd.result == "refused"
    assert "goes backwards" in bcd.detail and "2026-11-12T14:10:29.391000Z" in bcd.detail
    assert "older than the 2026-12-06T09:00:00Z bcd gave" in bcd.detail
    assert out["mozilla"].result == "updated"
    for name in ("chrome.json", "edge.json", "safari.json"):
        assert snapshot(rules_copy)[name] == applied[name]


def test_a_feed_that_drops_releases_it_listed_is_refused(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    assert run(rules_copy, feeds, sources=["bcd"])["bcd"].result == "updated"
    doc = json.loads(fixture("bcd", "data-2026-12-06.json"))
    del doc["browsers"]["edge"]["releases"]["150"]
    feeds.script("/bcd/data.json", Reply(json.dumps(doc).encode(), etag='"rewritten"'))
    out = run(rules_copy, feeds, sources=["bcd"])
    assert out["bcd"].result == "refused"
    detail = out["bcd"].detail
    assert "edge: no longer lists 1 release(s)" in detail and ": 150: " in detail


def test_a_feed_losing_only_its_oldest_entries_is_not_backwards(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    assert run(rules_copy, feeds, sources=["bcd"])["bcd"].result == "updated"
    doc = json.loads(fixture("bcd", "data-2026-12-06.json"))
    for old in ("1", "2", "3"):  # retention: the oldest versions age out
        del doc["browsers"]["chrome"]["releases"][old]
    feeds.script("/bcd/data.json", Reply(json.dumps(doc).encode(), etag='"trimmed"'))
    assert run(rules_copy, feeds, sources=["bcd"])["bcd"].result == "unchanged"
    chrome = load_product(rules_copy / "releases" / "chrome.json")
    assert "1" in {r.version for r in chrome.default_channel.releases}


def test_a_response_over_the_size_cap_is_cut_off(rules_copy: Path, feeds: FeedReplay) -> None:
    out = run(rules_copy, feeds, sources=["bcd"], policy=FetchPolicy(max_bytes=10_000))
    assert out["bcd"].result == "error" and "cap" in out["bcd"].detail


def test_a_looping_page_token_is_refused(rules_copy: Path, feeds: FeedReplay) -> None:
    page = json.loads(fixture("chrome", "page-1.json"))
    page["nextPageToken"] = "token-2"
    feeds.script("/chrome/releases?pageToken=token-2", Reply(json.dumps(page).encode()))
    out = run(rules_copy, feeds, sources=["chrome"])
    assert out["chrome"].result == "refused" and "token" in out["chrome"].detail


def test_plain_http_is_refused_except_on_loopback() -> None:
    with FeedFetcher(FAST) as fetcher, pytest.raises(FeedHttpError, match="HTTPS only"):
        fetcher.get("http://mirror.example/data.json")


def test_a_write_that_fails_leaves_whole_files(
    rules_copy: Path, feeds: FeedReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace
    calls: list[str] = []

    def failing_replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    before = snapshot(rules_copy)
    monkeypatch.setattr(os, "replace", failing_replace)
    out = run(rules_copy, feeds, sources=["bcd"])
    assert out["bcd"].result == "error" and "No space left" in out["bcd"].detail
    after = snapshot(rules_copy)
    # chrome.json replaced whole, edge.json untouched; no temporary file left behind.
    assert after["chrome.json"] != before["chrome.json"]
    assert after["edge.json"] == before["edge.json"]
    load_rules(rules_copy)
    assert not [p for p in (rules_copy / "releases").iterdir() if p.name.endswith(".tmp")]


def test_the_built_in_rules_and_a_read_only_directory_are_refused(
    rules_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RefreshError, match="built-in rules"):
        refresh_releases(BUILTIN_RULES_DIR)

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(RefreshError, match="not writable"):
        refresh_releases(rules_copy)


# --------------------------------------------------------------------------- the command


def cli_args(rules: Path, feeds: FeedReplay, *extra: str) -> list[str]:
    args = ["releases", "refresh", "--rules", str(rules), "--timeout", "2", "--attempts", "1"]
    for name, url in feeds.base_urls().items():
        args += ["--base-url", f"{name}={url}"]
    return [*args, *extra]


def test_cli_prints_a_line_per_source_and_product(
    rules_copy: Path, feeds: FeedReplay, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(cli_args(rules_copy, feeds, "--sources", "bcd,mozilla")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["bcd", "updated"]
    assert [line.split()[0] for line in out[1:5]] == ["chrome", "edge", "firefox", "safari"]
    assert "as_of 2026-12-06T09:00:00Z" in out[1] and out[1].endswith("written")
    assert any(line.startswith("mozilla ") for line in out)
    assert main(cli_args(rules_copy, feeds, "--sources", "bcd")) == 0
    assert capsys.readouterr().out.split()[:2] == ["bcd", "not_modified"]


def test_cli_exits_1_when_a_source_is_refused(
    rules_copy: Path, feeds: FeedReplay, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds.script("/bcd/data.json", Reply(b"{", etag='"bad"'))
    assert main(cli_args(rules_copy, feeds, "--sources", "bcd,eol")) == 5  # exit_codes.FAILED
    out = capsys.readouterr().out
    assert "bcd               refused" in out and "eol               updated" in out


def test_cli_refuses_the_built_in_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["releases", "refresh", "--rules", str(BUILTIN_RULES_DIR)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "built-in rules" in err


# -- found by the outside attack: implausible feeds, trickling servers, links -----------


def test_a_trickling_server_is_cut_off_at_the_body_deadline(
    rules_copy: Path, feeds: FeedReplay
) -> None:
    """A byte every 0.2 s never trips the 1 s read timeout; the body deadline ends it."""
    before = (rules_copy / "releases" / "chrome.json").read_bytes()
    feeds.script("/bcd/data.json", Reply(b"{" + b" " * 200 + b"}", drip=0.2))
    policy = FetchPolicy(read_timeout=1.0, attempts=1, backoff=0.01, body_deadline=1.5)
    started = time.monotonic()
    out = run(rules_copy, feeds, sources=["bcd"], policy=policy)
    assert out["bcd"].result == "error" and "still arriving" in out["bcd"].detail
    assert time.monotonic() - started < 10
    assert (rules_copy / "releases" / "chrome.json").read_bytes() == before


def _bcd_with(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(fixture("bcd", "data-2026-12-06.json"))
    mutate(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("name", "mutate", "reason"),
    [
        (
            "timestamp from the future",
            lambda d: d["__meta"].update(timestamp="2099-01-01T00:00:00.000Z"),
            "in the future",
        ),
        (
            "a fake major far beyond the newest",
            lambda d: d["browsers"]["chrome"]["releases"].update(
                {"999999999999": {"release_date": "2026-12-01", "status": "current"}}
            ),
            "jumps more than",
        ),
    ],
)
def test_an_implausible_feed_is_refused_and_changes_nothing(
    rules_copy: Path,
    feeds: FeedReplay,
    name: str,
    mutate: Callable[[dict[str, Any]], None],
    reason: str,
) -> None:
    before = {p.name: p.read_bytes() for p in (rules_copy / "releases").glob("*.json")}
    feeds.script("/bcd/data.json", Reply(_bcd_with(mutate)))
    out = run(rules_copy, feeds, sources=["bcd"])
    assert out["bcd"].result == "refused" and reason in out["bcd"].detail, name
    after = {p.name: p.read_bytes() for p in (rules_copy / "releases").glob("*.json")}
    assert after == before
    # An honest feed afterwards still applies (nothing was locked in).
    feeds.script("/bcd/data.json", Reply(fixture("bcd", "data-2026-12-06.json")))
    assert run(rules_copy, feeds, sources=["bcd"])["bcd"].result == "updated"


def test_releases_linked_into_the_built_in_rules_are_refused(tmp_path: Path) -> None:
    from rules.load import BUILTIN_RULES_DIR
    from server.release_refresh import RefreshError, releases_dir_for

    copy = tmp_path / "rules"
    copy.mkdir()
    (copy / "releases").symlink_to(BUILTIN_RULES_DIR / "releases")
    with pytest.raises(RefreshError, match="resolves into the built-in rules"):
        releases_dir_for(copy)


def test_an_import_claiming_evidence_from_the_future_is_refused_even_forced(
    tmp_path: Path,
) -> None:
    from server.release_import import FeedAsOfError, import_feeds

    data = tmp_path / "releases"
    shutil.copytree(BUILTIN_RULES_DIR / "releases", data)
    before = {p.name: p.read_bytes() for p in data.glob("*.json")}
    feed = tmp_path / "browsers.json"
    feed.write_bytes(_bcd_with(lambda d: d["__meta"].update(timestamp="2099-01-01T00:00:00.000Z")))
    for force in (False, True):
        with pytest.raises(FeedAsOfError, match="from the future"):
            import_feeds("bcd", [feed], data, None, force=force)
    assert {p.name: p.read_bytes() for p in data.glob("*.json")} == before
