"""End to end: Debian's Chromium (headless, background networking off),
driven by Playwright, against a real `anshin serve --console-listen` whose
log was made through the real gRPC API (tests/console/stack.py).

An analyst searches and opens a decision, resolves a review and sees a
second resolution refused, runs a replay and sees its diff, sees each chart
drawn with data; an unauthenticated browser and wrong-role browsers are
refused; the pages work in Japanese, at 390 px and from the keyboard; and
the browser asks nothing of any host but the console.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.console.stack import Stack, launch_chromium, log_in, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(Path(tmp_path_factory.mktemp("console-e2e"))) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A fresh browser context (no cookies) that records every request it makes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    hosts: list[str] = []
    p.on("request", lambda r: hosts.append(r.url))
    yield p
    context.close()
    foreign = [u for u in hosts if not u.startswith(stack.url)]
    assert not foreign, f"requests beyond the console: {foreign}"


def _status(page: Page, url: str) -> int:
    response = page.goto(url)
    assert response is not None
    return response.status


def test_unauthenticated_and_wrong_role_browsers_are_refused(page: Page, stack: Stack) -> None:
    review = stack.decisions["review"]
    for path in ("/search", f"/decisions/{review}", "/reviews", "/replay", "/charts"):
        assert _status(page, stack.url + path) == 401, path
        assert page.get_by_label("Bearer token").is_visible()
        assert page.locator("table").count() == 0
        assert review not in page.content() or path.startswith("/decisions")
    page.get_by_label("Bearer token").fill("anshin_not_a_token")
    page.get_by_role("button", name="Log in").click()
    assert page.locator("#login-message").inner_text() == "Unknown or revoked token."
    # The bank's IB server has a valid token, but no business in the verdict log.
    log_in(page, stack, "hnb-ib-1")
    for path in ("/search", f"/decisions/{review}", "/reviews", "/replay", "/charts"):
        assert _status(page, stack.url + path) == 403, path
        assert "ib_server" in page.locator("#refusal").inner_text()
    # An operator reads the queue but may not resolve.
    page.context.clear_cookies()
    log_in(page, stack, "olga")
    assert _status(page, stack.url + "/reviews") == 200
    assert page.get_by_role("link", name=re.compile("^Resolve")).count() == 0
    assert _status(page, stack.url + f"/reviews/{review}") == 403


def test_search_and_open_a_decision(page: Page, stack: Stack) -> None:
    log_in(page, stack, "alice")
    assert page.url.endswith("/search")
    page.get_by_label("Policy").fill("HNB")
    page.get_by_label("Outcome").select_option("DENY")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1
    assert "HNB-X3" in rows.first.inner_text()
    rows.first.get_by_role("link").click()
    assert page.url.endswith(f"/decisions/{stack.decisions['deny']}")
    assert page.locator("h1").inner_text().startswith("claim")
    clauses = page.locator("#clauses tbody tr")
    assert clauses.count() > 20  # every clause of HNB, in policy order
    x3 = page.locator("#clauses tbody tr", has_text="HNB-X3")
    assert "DENY" in x3.inner_text()
    assert re.search(r"[ぁ-んァ-ン一-龥]", x3.inner_text())  # the Japanese clause text
    assert page.locator("#computation tbody tr").count() >= 3  # the amount's steps
    assert page.locator("#seq").inner_text().isdigit()
    assert (
        "signed tree" in page.locator("#proof").inner_text()
        or "Pending" in page.locator("#proof").inner_text()
    )
    assert page.get_by_role("heading", name="Facts used").is_visible()


def test_resolve_a_review_and_see_the_second_resolution_refused(page: Page, stack: Stack) -> None:
    log_in(page, stack, "alice")
    page.get_by_role("link", name="Review queue").click()
    queue = page.locator("#queue tbody tr")
    assert queue.count() >= 1
    oldest = queue.first
    assert "HNB-R1" in oldest.inner_text() and "¥1,500,000" in oldest.inner_text()
    oldest.get_by_role("link", name=re.compile("^Resolve")).click()
    review_url = page.url
    assert review_url.endswith(f"/reviews/{stack.decisions['review']}")
    # A second analyst's tab with the same form open (stale once this one resolves).
    stale = page.context.new_page()
    stale.goto(review_url)
    page.get_by_label("Deny", exact=True).check()
    page.get_by_label("HNB-R1 *").check()
    page.get_by_label("Note").fill("customer asserts no measures beyond the bank's")
    page.get_by_role("button", name="Record the resolution").click()
    assert page.locator("#resolved-ok").is_visible()
    assert page.locator("#analyst").inner_text() == "alice"  # who is signed in
    resolution = page.url.split("/decisions/")[1].split("?")[0]
    # Reopened, the review says who resolved it and offers no form.
    page.goto(review_url)
    assert resolution in page.locator("#review-state").inner_text()
    assert page.locator("#resolve-form").count() == 0
    # The stale tab's resolution is refused, naming the one on record.
    stale.get_by_label("Approve", exact=True).check()
    stale.get_by_label("Amount (yen)").fill("1000")
    with stale.expect_response(lambda r: r.url.endswith("/resolve")) as info:
        stale.get_by_role("button", name="Record the resolution").click()
    assert info.value.status == 409
    refusal = stale.locator("#refusal")
    assert "Already resolved" in refusal.inner_text() and resolution in refusal.inner_text()


def test_run_a_replay_and_see_its_diff(page: Page, stack: Stack) -> None:
    log_in(page, stack, "alice")
    page.get_by_role("link", name="Replay").click()
    assert str(stack.root) not in page.content()  # directories by name, never by path
    page.get_by_label("Candidate rules").select_option(label=stack.candidate_label)
    page.get_by_label("Policy").select_option("HNB")
    page.get_by_role("button", name="Run the replay").click()
    result = page.locator("#replay-result")
    result.wait_for(timeout=30_000)
    assert int(page.locator("#n-changed").inner_text()) >= 1
    link = f'a[href="/decisions/{stack.decisions["approve"]}"]'
    assert page.locator(f"#changes {link}").count() == 1
    text = page.locator("#changes tbody tr", has=page.locator(link)).inner_text()
    assert "¥1,200,000" in text and "¥1,000,000" in text  # as logged | under the candidate
    # Under the rules in force nothing changes.
    page.get_by_label("Candidate rules").select_option(index=0)
    page.get_by_role("button", name="Run the replay").click()
    page.locator("#replay-result").wait_for()
    assert page.locator("#n-changed").inner_text() == "0"


def _bars(page: Page, section: str) -> int:
    return page.locator(f"#{section} svg rect").count()


def test_each_chart_renders_with_data(page: Page, stack: Stack) -> None:
    log_in(page, stack, "alice")
    page.get_by_role("link", name="Charts").click()
    assert _bars(page, "chart-daily") >= 5  # five policies with decisions today
    assert page.locator("#chart-daily figcaption").all_inner_texts() == [
        "DCM", "HNB", "ISA", "JPE", "KDN"
    ]  # fmt: skip
    assert _bars(page, "chart-clauses") >= 2  # HNB-X3 (DENY), HNB-R1 … (REVIEW), JPE-P1
    assert page.locator("#chart-clauses svg", has_text="HNB-X3").count() == 1
    assert _bars(page, "chart-age") >= 1  # the review left open
    assert _bars(page, "chart-caps") >= 4  # HNB-L1, DCM-A1, KDN-A1, …
    assert page.locator("#chart-caps figcaption", has_text="HNB-L1").count() == 1
    # Each bar is drawn to scale and says what it is.
    title = page.locator("#chart-caps svg rect title").first.text_content() or ""
    assert re.search(r"\d+/\d+", title)


def test_japanese_narrow_and_keyboard(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
    page: Any = context.new_page()
    try:
        log_in(page, stack, "alice")
        assert page.locator("html").get_attribute("lang") == "ja"  # Accept-Language
        assert page.get_by_role("heading", name="検索").is_visible()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at 390 px ({width})"
        # The first Tab reaches the skip link, and it moves focus to the content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.get_by_role("link", name="English").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", name="Search").is_visible()
    finally:
        context.close()
