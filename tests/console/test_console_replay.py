"""The replay page: what it shows of the operator's directories, how it
refuses a bad period or a candidate that stopped loading, and the record
of its views (the outside attack on issue 22: B4, B8, B9 and the paths)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from rules.load import BUILTIN_RULES_DIR, digest_of
from tests.conftest import RunningServer, db_rows
from tests.console.conftest import BASE, Console, auth_config, console_for, csrf_of, login

pytestmark = pytest.mark.sqlite_only(reason="the console's own page; replay is tested below it")


@pytest.fixture
async def with_candidate(server: RunningServer, tmp_path: Path) -> AsyncIterator[Console]:
    """The console offering one candidate: a copy of the built-in rules."""
    candidate = tmp_path / "operators" / "hnb-candidate"
    shutil.copytree(BUILTIN_RULES_DIR, candidate)
    c = console_for(server, auth_config(), replay_dirs=(candidate,))
    yield c
    c.app.app.state.replay.close()  # type: ignore[attr-defined]


def access_rpcs(server: RunningServer) -> list[tuple[str, str, bytes | str]]:
    rows = db_rows(
        server.db_url,
        "SELECT caller, result, inputs FROM verdicts WHERE kind = 'analyst_access' ORDER BY seq",
    )
    return [(r[0], orjson.loads(r[1])["rpc"], r[2]) for r in rows]


async def test_the_directories_are_shown_by_name_and_digest_never_by_path(
    with_candidate: Console,
) -> None:
    candidate = with_candidate.deps.replay_dirs[0]
    in_force = Path(with_candidate.deps.rules.current.directory)
    async with with_candidate.client() as c:
        await login(c, "alice")
        page = await c.get("/replay")
    assert page.status_code == 200
    assert f"hnb-candidate · {digest_of(candidate)}" in page.text
    assert f"{in_force.name} · {with_candidate.deps.rules.current.digest}" in page.text
    assert str(candidate.parent) not in page.text and str(in_force) not in page.text


async def test_viewing_the_replay_form_is_recorded_like_every_page(
    with_candidate: Console,
) -> None:
    before = len(access_rpcs(with_candidate.server))
    async with with_candidate.client() as c:
        await login(c, "alice")
        await c.get("/replay")
    assert access_rpcs(with_candidate.server)[before:] == [("alice (analyst)", "ReplayForm", "{}")]


async def test_a_reversed_period_is_refused_like_search_refuses_it(
    with_candidate: Console,
) -> None:
    async with with_candidate.client() as c:
        await login(c, "alice")
        csrf = csrf_of((await c.get("/replay")).text)
        before = len(access_rpcs(with_candidate.server))
        period = {"csrf": csrf, "rules": "0", "since": "2026-12-31T00:00+09:00"}
        reversed_ = await c.post(
            "/replay", data={**period, "until": "2026-01-01T00:00+09:00"}, headers={"origin": BASE}
        )
        assert reversed_.status_code == 422 and "before since" in reversed_.text
        assert len(access_rpcs(with_candidate.server)) == before  # refused: nothing read
        # The boundary: an empty period [t, t) is a period, replayed (and recorded).
        empty = await c.post(
            "/replay", data={**period, "until": period["since"]}, headers={"origin": BASE}
        )
        assert empty.status_code == 200 and 'id="n-replayed">0<' in empty.text
    recorded = access_rpcs(with_candidate.server)[before:]
    assert [rpc for _, rpc, _ in recorded] == ["Replay"]
    # The auditor's record names the directory as the operator did, and its digest.
    current = with_candidate.deps.rules.current
    inputs = orjson.loads(recorded[0][2])
    assert (inputs["rules"], inputs["digest"]) == (str(current.directory), current.digest)


async def test_a_candidate_that_stopped_loading_is_a_message_on_the_form(
    with_candidate: Console,
) -> None:
    candidate = with_candidate.deps.replay_dirs[0]
    async with with_candidate.client() as c:
        await login(c, "alice")
        csrf = csrf_of((await c.get("/replay")).text)
        ok = await c.post("/replay", data={"csrf": csrf, "rules": "1"}, headers={"origin": BASE})
        assert ok.status_code == 200 and "hnb-candidate" in ok.text
        assert str(candidate) not in ok.text  # the summary names it too, by name
        # Edited after the start: its rules no longer load.
        (candidate / "posture.toml").write_text("this is = = not toml\n")
        broken = await c.post(
            "/replay", data={"csrf": csrf, "rules": "1"}, headers={"origin": BASE}
        )
    assert broken.status_code == 422
    assert "hnb-candidate/posture.toml" in broken.text and str(candidate) not in broken.text
    assert 'id="replay-result"' not in broken.text
