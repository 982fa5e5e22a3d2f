"""Sessions across a real restart of `anshin serve --console-listen`.

The outside attack on issue 22 (B1) logged out, restarted the server and
found the old cookie valid again: revocations lived in memory, the session
key in the state directory. The key is now drawn per process, so a restart
ends every session; this restarts a real server on the same state to show
that a logged-out cookie can neither read a page nor resolve a review."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import db_rows
from tests.console.stack import EXAMPLES, Stack, free_port, prepare, start_serve

pytestmark = pytest.mark.slow
COOKIE = "anshin_session"  # plaintext loopback: no __Host- prefix


def log_in(stack: Stack, who: str) -> httpx.Client:
    """A client logged in through the form, as a browser (Origin, CSRF, pre-login cookie)."""
    c = httpx.Client(base_url=stack.url, follow_redirects=False, timeout=30)
    form = c.get("/login")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post(
        "/login",
        data={"csrf": csrf, "token": stack.tokens[who], "next": "/search"},
        headers={"origin": stack.url},
    )
    assert r.status_code == 303, r.text
    return c


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def test_a_logged_out_session_stays_out_after_a_real_restart(tmp_path: Path) -> None:
    db, tokens = prepare(tmp_path)
    stack = start_serve(
        tmp_path, db, tokens, f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    )
    try:
        claim = json.loads(stack.cli("hnb-ib-1", "claim", "-o", "json", str(EXAMPLES / "hnb.json")))
        assert claim["outcome"] == "OUTCOME_REVIEW", claim["outcome"]
        review = claim["decisionId"]
        with contextlib.closing(log_in(stack, "alice")) as c:
            form = c.get(f"/reviews/{review}")
            assert form.status_code == 200 and 'id="resolve-form"' in form.text
            csrf, cookie = csrf_of(form.text), c.cookies[COOKIE]
            assert (
                c.post("/logout", data={"csrf": csrf}, headers={"origin": stack.url}).status_code
                == 303
            )
        with httpx.Client(base_url=stack.url, cookies={COOKIE: cookie}) as old:
            assert old.get("/search").status_code == 401
    finally:
        stack.stop()
    # The same database, auth config and rules; a new process.
    stack = start_serve(tmp_path, db, tokens, stack.grpc, f"127.0.0.1:{free_port()}")
    try:
        with httpx.Client(base_url=stack.url, cookies={COOKIE: cookie}, timeout=30) as old:
            page = old.get("/search")
            assert page.status_code == 401 and 'name="token"' in page.text
            resolve = old.post(
                f"/reviews/{review}/resolve",
                data={"csrf": csrf, "outcome": "DENY", "clauses": "HNB-R1", "note": "back"},
                headers={"origin": stack.url},
            )
            assert resolve.status_code == 401
        # The other side: the restarted console serves a fresh login, and it may resolve.
        with contextlib.closing(log_in(stack, "alice")) as c:
            assert c.get("/search").status_code == 200
            assert c.get(f"/reviews/{review}").status_code == 200
    finally:
        stack.stop()
    resolutions = db_rows(db, "SELECT count(*) FROM verdicts WHERE kind = 'review_resolution'")
    assert resolutions == [(0,)]
