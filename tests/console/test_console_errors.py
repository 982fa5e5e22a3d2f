"""Pages outside the routes (404, 405) are console pages in the viewer's
language, and the pre-login cookie is scoped and cleared like the session's."""

from __future__ import annotations

import pytest

from tests.conftest import RunningServer
from tests.console.conftest import TOKENS, Console, auth_config, console_for, csrf_of, login

SQLITE = pytest.mark.sqlite_only(reason="the console's pages, not the store")


def attrs(set_cookie: str) -> list[str]:
    """A Set-Cookie header's attributes but its lifetime, in order."""
    return sorted(
        a.strip().lower()
        for a in set_cookie.split(";")[1:]
        if not a.strip().lower().startswith(("max-age", "expires"))
    )


@SQLITE
async def test_unknown_paths_and_methods_are_console_pages_in_the_viewers_language(
    console: Console,
) -> None:
    async with console.client() as c:
        anonymous = await c.get("/nowhere", headers={"accept-language": "ja"})
        assert anonymous.status_code == 404
        assert anonymous.headers["content-type"].startswith("text/html")
        assert '<html lang="ja">' in anonymous.text and "見つかりません" in anonymous.text
        assert 'id="home-link" href="/"' in anonymous.text
        assert "no-store" in anonymous.headers["cache-control"]
        await login(c, "alice")
        en = await c.get("/nowhere", headers={"accept-language": "en"})
        assert en.status_code == 404 and '<html lang="en">' in en.text and "Not found" in en.text
        assert 'id="caller">alice (analyst)<' in en.text and "<nav" in en.text  # navigation
        wrong = await c.put("/search", headers={"accept-language": "ja"})
        assert wrong.status_code == 405 and "このメソッドは使えません" in wrong.text
        assert "GET" in wrong.headers["allow"] and "<nav" in wrong.text
        # A known page is not caught by the handler.
        assert (await c.get("/search")).status_code == 200


@SQLITE
@pytest.mark.parametrize("tls", [True, False])
async def test_the_prelogin_cookie_is_host_scoped_under_tls_and_cleared_as_it_was_set(
    server: RunningServer, tls: bool
) -> None:
    console = console_for(server, auth_config(), tls=tls)
    base = "https://console.test" if tls else "http://console.test"
    name = "__Host-anshin_prelogin" if tls else "anshin_prelogin"
    try:
        async with console.client(base) as c:
            page = await c.get("/login")
            set_cookie = page.headers["set-cookie"]
            assert set_cookie.startswith(f"{name}=")
            assert ("Secure" in set_cookie) is tls
            ok = await c.post(
                "/login",
                data={"csrf": csrf_of(page.text), "token": TOKENS["alice"][1]},
                headers={"origin": base},
            )
            assert ok.status_code == 303
            cleared = [v for k, v in ok.headers.multi_items() if k == "set-cookie" and name in v]
            assert len(cleared) == 1 and "Max-Age=0" in cleared[0]
            assert attrs(cleared[0]) == attrs(set_cookie)  # SameSite=strict both times
        # A cookie of the other name (a sibling host's, without the prefix) does not count.
        if tls:
            async with console.client(base) as c:
                page = await c.get("/login")
                nonce = c.cookies.get(name)
                c.cookies.delete(name)
                c.cookies.set("anshin_prelogin", nonce or "", domain="console.test")
                r = await c.post(
                    "/login",
                    data={"csrf": csrf_of(page.text), "token": TOKENS["alice"][1]},
                    headers={"origin": base},
                )
                assert r.status_code == 403
    finally:
        console.app.app.state.replay.close()  # type: ignore[attr-defined]
