"""The console's security: who may see what, CSRF and origin on every POST,
the headers of every response, sessions, and the record of every view."""

from __future__ import annotations

import re
import time

import orjson
import pytest

from server.console.app import loopback_host
from server.console.auth import PAGE_RPC, Unauthenticated, Viewer, cert_principal, identify
from server.console.pages.login import revoke
from server.console.session import (
    ABSOLUTE_SECONDS,
    IDLE_SECONDS,
    Session,
    credential,
    csrf_ok,
    csrf_token,
    new_session_key,
    seal,
    unseal,
)
from server.security.config import auth_config_from_dict, token_digest
from server.security.roles import ADMITTED, Role
from tests.conftest import RunningServer, db_rows
from tests.console.conftest import BASE, TOKENS, Console, auth_config, console_for, csrf_of, login
from tests.service.test_verdict_log_service import build_log

SQLITE = pytest.mark.sqlite_only(reason="the console's own checks; the store is tested below it")
KEY = b"k" * 32


def access_entries(server: RunningServer) -> list[tuple[str, str, str, str | None]]:
    """(caller, rpc, inputs, refers_to) of every analyst_access entry, in log order."""
    rows = db_rows(
        server.db_url,
        "SELECT caller, result, inputs, refers_to FROM verdicts "
        "WHERE kind = 'analyst_access' ORDER BY seq",
    )
    return [(r[0], orjson.loads(r[1])["rpc"], r[2], r[3]) for r in rows]


# --------------------------------------------------------------------------- sessions


def test_a_sealed_session_opens_only_unchanged_with_its_key_and_in_time() -> None:
    now = int(time.time())
    s = Session.new("alice", "analyst", now)
    cookie = seal(KEY, s)
    assert unseal(KEY, cookie, now) == s
    assert unseal(b"x" * 32, cookie, now) is None  # another server's key
    body, mac = cookie.split(".")
    forged = seal(KEY, Session(s.sid, "alice", "operator", now, now)).split(".")[0]
    assert unseal(KEY, f"{forged}.{mac}", now) is None  # role changed, old MAC
    assert unseal(KEY, body + ".", now) is None
    assert unseal(KEY, "garbage", now) is None
    assert unseal(KEY, cookie, now + IDLE_SECONDS) == s  # idle limit itself: still in
    assert unseal(KEY, cookie, now + IDLE_SECONDS + 1) is None  # idle too long
    busy = Session(s.sid, "alice", "analyst", now - ABSOLUTE_SECONDS - 1, now)
    assert unseal(KEY, seal(KEY, busy), now) is None  # a working day at most


def test_csrf_tokens_are_per_session_and_compared_whole() -> None:
    token = csrf_token(KEY, "sid-1")
    assert csrf_ok(KEY, "sid-1", token)
    assert not csrf_ok(KEY, "sid-2", token)
    assert not csrf_ok(KEY, "sid-1", token[:-1])
    assert not csrf_ok(KEY, "sid-1", "")


def test_a_certificate_maps_to_its_caller_and_may_not_disagree_with_the_session() -> None:
    config = auth_config()
    now = int(time.time())
    carol = {"cn": ["carol.analyst.example"], "san_uri": []}
    v = identify(config, KEY, None, carol, now)
    assert (v.identity, v.role, v.via) == ("carol", "analyst", "certificate")
    assert cert_principal(config, ["nobody.example"], []) is None
    alice = seal(KEY, Session.new("alice", "analyst", now, token_cred("alice")))
    with pytest.raises(Unauthenticated, match="name different callers"):
        identify(config, KEY, alice, carol, now)
    with pytest.raises(Unauthenticated):
        identify(config, KEY, None, {"cn": ["nobody.example"], "san_uri": []}, now)
    # A session of someone the config no longer names is no session.
    mallory = credential(KEY, token_digest("anshin_test_token_of_nobody"))
    gone = seal(KEY, Session.new("mallory", "analyst", now, mallory))
    with pytest.raises(Unauthenticated):
        identify(config, KEY, gone, None, now)
    # A logged-out session is no session either.
    s = Session.new("alice", "analyst", now, token_cred("alice"))
    assert identify(config, KEY, seal(KEY, s), None, now).identity == "alice"
    with pytest.raises(Unauthenticated):
        identify(config, KEY, seal(KEY, s), None, now, revoked={s.sid})


def token_cred(who: str, key: bytes = KEY) -> str:
    """The credential a login with ``who``'s test token gives its session."""
    return credential(key, token_digest(TOKENS[who][1]))


def test_a_session_lasts_only_while_the_token_that_made_it_is_in_the_config() -> None:
    """B2: deleting a token ends its sessions even when a certificate entry
    names the same caller (the usual shared identity)."""
    now = int(time.time())
    token = {"identity": "alice", "role": "analyst", "sha256": token_digest(TOKENS["alice"][1])}
    cert = {"identity": "alice", "role": "analyst", "common_name": "alice.analyst.example"}
    both = auth_config_from_dict({"tokens": [token], "certificates": [cert]})
    cert_only = auth_config_from_dict({"certificates": [cert]})
    other_token = auth_config_from_dict(
        {"tokens": [{**token, "sha256": token_digest("anshin_a_new_token_for_alice")}]}
    )
    cookie = seal(KEY, Session.new("alice", "analyst", now, token_cred("alice")))
    assert identify(both, KEY, cookie, None, now).via == "session"
    for config in (cert_only, other_token):  # the token that made it is gone
        with pytest.raises(Unauthenticated):
            identify(config, KEY, cookie, None, now)
    # The certificate still signs alice in; the dead session is dropped, not honoured.
    by_cert = identify(cert_only, KEY, cookie, {"cn": ["alice.analyst.example"]}, now)
    assert by_cert.via == "certificate" and by_cert.session is None
    # A session made for a certificate viewer (CSRF only) is no login without it.
    carol = seal(KEY, Session.new("carol", "analyst", now))
    with pytest.raises(Unauthenticated):
        identify(auth_config(), KEY, carol, None, now)
    assert identify(auth_config(), KEY, carol, {"cn": ["carol.analyst.example"]}, now).session


@SQLITE
async def test_deleting_a_token_from_the_config_ends_its_console_sessions(
    console: Console,
) -> None:
    async with console.client() as c:
        await login(c, "alice")
        assert (await c.get("/search")).status_code == 200
        kept = console.deps.auth
        assert kept is not None
        # The same process key (the worst case): only the credential binding ends it.
        console.deps.auth = auth_config_from_dict(
            {
                "tokens": [
                    {"identity": who, "role": role, "sha256": token_digest(token)}
                    for who, (role, token) in TOKENS.items()
                    if who != "alice"
                ],
                "certificates": [
                    {"identity": "alice", "role": "analyst", "common_name": "alice.example"}
                ],
            }
        )
        assert (await c.get("/search")).status_code == 401
        console.deps.auth = kept
        assert (await c.get("/search")).status_code == 200


def test_revocations_are_kept_while_their_sessions_could_live() -> None:
    now = int(time.time())
    revoked = {"old": now - ABSOLUTE_SECONDS - 1, "recent": now - ABSOLUTE_SECONDS}
    revoke(revoked, Session.new("alice", "analyst", now), now)
    assert "old" not in revoked and "recent" in revoked and len(revoked) == 2


def test_every_process_seals_sessions_under_its_own_key() -> None:
    """B1's cure: a restart draws a new key, so no cookie of before opens after."""
    first, second = new_session_key(), new_session_key()
    assert first != second and len(first) == 32
    s = Session.new("alice", "analyst", int(time.time()), credential(first, "d"))
    assert unseal(first, seal(first, s), s.issued) == s
    assert unseal(second, seal(first, s), s.issued) is None


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize("page", sorted(PAGE_RPC))
def test_each_page_admits_exactly_the_roles_of_the_rpc_it_mirrors(role: str, page: str) -> None:
    rule = ADMITTED[PAGE_RPC[page]]
    assert isinstance(rule, frozenset)
    assert Viewer("x", role, "session").may(page) == (Role(role) in rule)


# --------------------------------------------------------------------------- over HTTP


@SQLITE
async def test_every_response_carries_the_security_headers(console: Console) -> None:
    async with console.client() as c:
        responses = [
            await c.get("/search"),
            await c.get("/login"),
            await c.get("/static/console.css"),
        ]
        await login(c, "alice")
        responses += [await c.get("/search"), await c.get("/decisions/nope")]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
    assert responses[0].headers["cache-control"] == "no-store"  # pages: customers' data
    # The pages have no inline style or script at all (the CSP would block them).
    page = responses[3].text
    assert "<script" not in page and "style=" not in page and "<style" not in page


@SQLITE
async def test_nobody_sees_a_page_before_logging_in_and_nothing_is_recorded(
    console: Console,
) -> None:
    await build_log(console.server)
    before = access_entries(console.server)
    async with console.client() as c:
        for path in ("/search", "/reviews", "/charts", "/replay", "/decisions/x", "/reviews/x"):
            r = await c.get(path)
            assert r.status_code == 401, path
            assert 'name="token"' in r.text and "<table" not in r.text
        r = await c.post("/reviews/x/resolve", data={"outcome": "DENY"}, headers={"origin": BASE})
        assert r.status_code == 401
    assert access_entries(console.server) == before


@SQLITE
async def test_login_sets_a_strict_httponly_cookie_and_bad_tokens_are_limited(
    console: Console,
) -> None:
    async with console.client() as c:
        page = await c.get("/login")
        csrf = csrf_of(page.text)
        for _ in range(5):
            bad = await c.post(
                "/login", data={"csrf": csrf, "token": "anshin_wrong"}, headers={"origin": BASE}
            )
            assert bad.status_code == 401 and "Unknown or revoked token" in bad.text
        good = {"csrf": csrf, "token": TOKENS["alice"][1]}
        throttled = await c.post("/login", data=good, headers={"origin": BASE})
        assert throttled.status_code == 429  # even the right token, for a minute
        console.deps.failed_logins.clear()
        # Login CSRF: another site's form (wrong origin, no pre-login cookie) is refused.
        async with console.client() as other:
            r = await other.post("/login", data=good, headers={"origin": "https://evil.example"})
            assert r.status_code == 403
        ok = await c.post(
            "/login", data={**good, "next": "//evil.example/x"}, headers={"origin": BASE}
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/"  # no open redirect
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert TOKENS["alice"][1] not in cookie  # the token is never stored
        assert (await c.get("/search")).status_code == 200
        # Logging out ends the session: the old cookie is refused from then on.
        old = c.cookies.get("anshin_session")
        home = await c.get("/search")
        r = await c.post("/logout", data={"csrf": csrf_of(home.text)}, headers={"origin": BASE})
        assert r.status_code == 303
        c.cookies.set("anshin_session", old or "", domain="console.test")
        assert (await c.get("/search")).status_code == 401


@SQLITE
async def test_wrong_roles_are_refused_page_by_page(console: Console) -> None:
    log = await build_log(console.server)
    async with console.client() as ib, console.client() as ops, console.client() as analyst:
        await login(ib, "hnb-ib-1")
        await login(ops, "olga")
        await login(analyst, "alice")
        for path in ("/search", "/reviews", "/charts", "/replay", f"/decisions/{log.review}"):
            r = await ib.get(path)
            assert r.status_code == 403 and "ib_server" in r.text, path
            assert (await ops.get(path)).status_code == 200, path  # operators read
            assert (await analyst.get(path)).status_code == 200, path
        # Operators may read the queue but never resolve (ResolveReview: analysts only).
        assert (await ops.get(f"/reviews/{log.review}")).status_code == 403
        form = await analyst.get(f"/reviews/{log.review}")
        csrf_ops = csrf_of((await ops.get("/search")).text)
        r = await ops.post(
            f"/reviews/{log.review}/resolve",
            data={"csrf": csrf_ops, "outcome": "DENY", "clauses": "HNB-R1"},
            headers={"origin": BASE},
        )
        assert r.status_code == 403
        assert 'id="resolve-form"' in form.text
    kinds = db_rows(
        console.server.db_url, "SELECT count(*) FROM verdicts WHERE kind = 'review_resolution'"
    )
    assert kinds == [(0,)]


@SQLITE
async def test_a_post_without_the_sessions_csrf_token_or_from_elsewhere_is_refused(
    console: Console,
) -> None:
    log = await build_log(console.server)
    async with console.client() as c:
        await login(c, "alice")
        csrf = csrf_of((await c.get(f"/reviews/{log.review}")).text)
        deny = {"outcome": "DENY", "clauses": "HNB-R1", "note": "n"}
        url = f"/reviews/{log.review}/resolve"
        cases = [
            ({**deny}, {"origin": BASE}),  # no token
            ({**deny, "csrf": csrf[:-1] + ("1" if csrf[-1] == "0" else "0")}, {"origin": BASE}),
            ({**deny, "csrf": csrf}, {"origin": "https://evil.example"}),  # other origin
            ({**deny, "csrf": csrf}, {"origin": "null"}),  # opaque origin, no fetch metadata
            ({**deny, "csrf": csrf}, {"origin": "null", "sec-fetch-site": "cross-site"}),
            ({**deny, "csrf": csrf}, {}),  # neither Origin nor Sec-Fetch-Site
            # No Origin at all: no browser's form, whatever Sec-Fetch-Site says (B7).
            ({**deny, "csrf": csrf}, {"sec-fetch-site": "same-origin"}),
        ]
        for data, headers in cases:
            r = await c.post(url, data=data, headers=headers)
            assert r.status_code == 403, (data, headers)
        rows = db_rows(
            console.server.db_url, "SELECT count(*) FROM verdicts WHERE kind = 'review_resolution'"
        )
        assert rows == [(0,)]
        # The browser's own same-origin post under no-referrer: Origin null + Sec-Fetch-Site.
        ok = await c.post(
            url,
            data={**deny, "csrf": csrf},
            headers={"origin": "null", "sec-fetch-site": "same-origin"},
        )
        assert ok.status_code == 303


async def test_resolving_records_the_signed_in_analyst_and_refuses_a_second(
    console: Console,
) -> None:
    log = await build_log(console.server)
    url = f"/reviews/{log.review}/resolve"
    async with console.client() as alice, console.client() as bob:
        await login(alice, "alice")
        await login(bob, "bob")
        csrf = csrf_of((await alice.get(f"/reviews/{log.review}")).text)
        r = await alice.post(
            url,
            # An "analyst" field is not the console's to take: ignored.
            data={
                "csrf": csrf,
                "outcome": "DENY",
                "clauses": ["HNB-R1"],
                "note": "no measures",
                "analyst": "mallory",
            },
            headers={"origin": BASE},
        )
        assert r.status_code == 303
        shown = await alice.get(r.headers["location"])
        assert "Resolution recorded" in shown.text and 'id="analyst">alice<' in shown.text
        csrf_b = csrf_of((await bob.get(f"/reviews/{log.review}")).text)
        again = await bob.post(
            url,
            data={"csrf": csrf_b, "outcome": "APPROVE", "amount": "1000"},
            headers={"origin": BASE},
        )
        assert again.status_code == 409
        assert "Already resolved" in again.text and "already resolved by" in again.text
    rows = db_rows(
        console.server.db_url,
        "SELECT caller, inputs FROM verdicts WHERE kind = 'review_resolution'",
    )
    assert len(rows) == 1
    assert rows[0][0] == "alice (analyst)"
    assert orjson.loads(rows[0][1])["request"]["analyst"] == "alice"


@SQLITE
async def test_a_bad_resolution_is_refused_on_the_form_with_its_reason(console: Console) -> None:
    log = await build_log(console.server)
    async with console.client() as c:
        await login(c, "alice")
        csrf = csrf_of((await c.get(f"/reviews/{log.review}")).text)
        url = f"/reviews/{log.review}/resolve"
        no_clause = await c.post(
            url, data={"csrf": csrf, "outcome": "DENY"}, headers={"origin": BASE}
        )
        assert no_clause.status_code == 422 and "a DENY names the clauses" in no_clause.text
        too_much = await c.post(
            url,
            data={"csrf": csrf, "outcome": "APPROVE", "amount": "99999999"},
            headers={"origin": BASE},
        )
        assert too_much.status_code == 409 and "exceeds" in too_much.text
        # An amount no int64 holds is the field's message, not a crash (B5);
        # the largest one the request holds reaches the use case (which refuses it).
        for amount, status, text in (
            ("99999999999999999999999999", 422, "too large"),
            (str(-(2**63)), 422, "too large"),
            (str(2**63 - 1), 409, "exceeds"),
        ):
            r = await c.post(
                url,
                data={"csrf": csrf, "outcome": "APPROVE", "amount": amount},
                headers={"origin": BASE},
            )
            assert r.status_code == status and text in r.text, amount
    rows = db_rows(
        console.server.db_url, "SELECT count(*) FROM verdicts WHERE kind = 'review_resolution'"
    )
    assert rows == [(0,)]


@SQLITE
async def test_every_page_view_is_recorded_as_the_grpc_reads_are(console: Console) -> None:
    log = await build_log(console.server)
    before = len(access_entries(console.server))
    async with console.client() as c:
        await login(c, "alice")
        await c.get("/search?outcome=REVIEW")
        await c.get(f"/decisions/{log.review}")
        await c.get("/reviews")
        await c.get("/charts")
        await c.get("/replay")
    new = access_entries(console.server)[before:]
    assert all(caller == "alice (analyst)" for caller, *_ in new)
    rpcs = [rpc for _, rpc, _, _ in new]
    assert rpcs == [
        "QueryVerdicts",
        "GetVerdict",
        "ListReviews",
        "QueryVerdicts",
        "QueryVerdicts",
        "ListReviews",
        "ReplayForm",
    ]
    assert orjson.loads(new[0][2])["outcome"] == "REVIEW"  # what was asked is kept
    assert new[1][3] == log.review  # the entry read


@SQLITE
async def test_development_mode_answers_loopback_hosts_only(server: RunningServer) -> None:
    console = console_for(server, None)
    async with console.client("http://127.0.0.1:8080") as c:
        r = await c.get("/search")
        assert r.status_code == 200 and "anonymous (local)" in r.text
        assert "Development mode" in r.text
    async with console.client("http://rebound.example:8080") as c:
        assert (await c.get("/search")).status_code == 421  # DNS rebinding
    # The whole Host must be a loopback name and a port: nothing after it.
    async with console.client("http://127.0.0.1:8581") as c:
        for host in ("127.0.0.1:8581@evil.example", "127.0.0.1:8581/x", "127.0.0.1:", "[::1]x"):
            assert (await c.get("/search", headers={"host": host})).status_code == 421, host
        for host in ("127.0.0.1:8581", "LOCALHOST:8581", "[::1]:8581", "localhost"):
            assert (await c.get("/search", headers={"host": host})).status_code == 200, host


def test_only_a_loopback_name_and_a_port_are_a_loopback_host() -> None:
    assert loopback_host("127.0.0.1") and loopback_host("[::1]:65535")
    assert not loopback_host("127.0.0.1:8581@evil") and not loopback_host("127.0.0.1.evil")
    assert not loopback_host("localhost:8581\n") and not loopback_host("")


@SQLITE
async def test_replay_names_rules_directories_by_number_only(
    server: RunningServer, tmp_path: object
) -> None:
    console = console_for(server, auth_config())
    try:
        async with console.client() as c:
            await login(c, "alice")
            page = await c.get("/replay")
            assert page.status_code == 200 and "(in force)" in page.text
            csrf = csrf_of(page.text)
            for bad in ("1", "-1", "/etc", "../rules"):
                r = await c.post(
                    "/replay", data={"csrf": csrf, "rules": bad}, headers={"origin": BASE}
                )
                assert r.status_code == 422 and "choose one of the listed" in r.text, bad
            r = await c.post("/replay", data={"csrf": csrf, "rules": "0"}, headers={"origin": BASE})
            assert r.status_code == 200 and 'id="n-changed">0<' in r.text
    finally:
        console.app.app.state.replay.close()  # type: ignore[attr-defined]


@SQLITE
async def test_search_validates_like_the_rpc_and_pages_by_its_cursor(console: Console) -> None:
    await build_log(console.server)
    async with console.client() as c:
        await login(c, "alice")
        bad = await c.get("/search?clause=not-a-clause&since=2025-04-01")
        assert bad.status_code == 422
        assert "not a clause id" in bad.text and "UTC offset" in bad.text
        first = await c.get("/search?size=2&order=oldest")
        assert first.status_code == 200 and first.text.count('href="/decisions/') == 2
        token = first.text.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
        second = await c.get(token)
        assert second.status_code == 200 and "First page" in second.text
        seqs1 = [int(n) for n in re.findall(r'aria-label="\w+ (\d+) ', first.text)]
        seqs2 = [int(n) for n in re.findall(r'aria-label="\w+ (\d+) ', second.text)]
        assert seqs1 and seqs2 and max(seqs1) < min(seqs2)  # oldest first, no overlap
        # A token reused with other filters is refused, as by the RPC.
        other = await c.get(token.replace("order=oldest", "order=newest"))
        assert other.status_code == 422 and "issued for other filters" in other.text


@SQLITE
async def test_japanese_from_accept_language_and_the_switch(console: Console) -> None:
    async with console.client() as c:
        await login(c, "alice")
        ja = await c.get("/search", headers={"accept-language": "ja-JP,ja;q=0.9,en;q=0.5"})
        assert '<html lang="ja">' in ja.text and "検索" in ja.text
        en = await c.get("/search", headers={"accept-language": "fr, en;q=0.8, ja;q=0.1"})
        assert '<html lang="en">' in en.text
        r = await c.get("/lang/ja?next=/reviews")
        assert r.status_code == 303 and r.headers["location"] == "/reviews"
        assert '<html lang="ja">' in (await c.get("/search")).text
        assert (await c.get("/lang/en?next=https://evil.example")).headers["location"] == "/"


@SQLITE
async def test_the_access_log_is_refused_to_its_readers_with_a_403_naming_who_reads_it(
    console: Console,
) -> None:
    """B3: where gRPC answers PERMISSION_DENIED the console answers 403, not 500."""
    await build_log(console.server)
    async with console.client() as analyst, console.client() as ops:
        async with console.client() as auditor:
            await login(analyst, "alice")
            await login(ops, "olga")
            await login(auditor, "audrey")
            await analyst.get("/search")  # one access entry to open
            access_id = db_rows(
                console.server.db_url,
                "SELECT id FROM verdicts WHERE kind = 'analyst_access' ORDER BY seq LIMIT 1",
            )[0][0]
            search = await auditor.get("/search?kind=analyst_access")
            assert search.status_code == 200 and access_id in search.text
            assert '<option value="analyst_access"' in search.text
            assert (await auditor.get(f"/decisions/{access_id}")).status_code == 200
        for c in (analyst, ops):
            page = await c.get("/search")
            assert page.status_code == 200 and '<option value="analyst_access"' not in page.text
            assert '<option value="claim"' in page.text
        before = access_entries(console.server)
        refused = [
            await analyst.get("/search?kind=analyst_access"),
            await ops.get("/search?kind=analyst_access"),
            await analyst.get(f"/decisions/{access_id}"),
            await ops.get(f"/decisions/{access_id}"),
            await analyst.get(f"/reviews/{access_id}"),
        ]
    for r in refused:
        assert r.status_code == 403, r.request.url
        refusal = r.text.split('id="refusal">')[1].split("<")[0]
        assert "may not read these entries" in refusal and "auditor" in refusal
    assert access_entries(console.server) == before  # refused before any read or record
