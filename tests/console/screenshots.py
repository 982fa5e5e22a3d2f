"""Screenshots of each console page for docs/analysts.md (docs/console/*.png).

    .venv/bin/python -m tests.console.screenshots [OUT_DIR]

Starts the same real server and log as the end-to-end tests
(tests/console/stack.py), logs in as an analyst in Debian's Chromium and
saves every page at 1280 px wide, and the search page and a decision at
390 px. Regenerate after changing a template or the stylesheet.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from tests.console.stack import ROOT, Stack, launch_chromium, log_in, running_stack


def shoot(page: Any, out: Path, name: str) -> None:
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(f"  {out / name}.png", file=sys.stderr)


def pages(page: Any, stack: Stack, out: Path, suffix: str) -> None:
    d = stack.decisions
    log_in(page, stack, "alice")
    page.goto(stack.url + "/search?policy=HNB")
    shoot(page, out, f"search{suffix}")
    page.goto(stack.url + f"/decisions/{d['review']}")
    shoot(page, out, f"decision{suffix}")
    if suffix:
        return
    page.goto(stack.url + "/reviews")
    shoot(page, out, "reviews")
    stale = page.context.new_page()  # another tab with the same form open
    stale.goto(stack.url + f"/reviews/{d['review2']}")
    page.goto(stack.url + f"/reviews/{d['review2']}")
    page.get_by_label("Deny", exact=True).check()
    page.get_by_label("HNB-R1 *").check()
    page.get_by_label("Note").fill("no measures beyond the bank's asserted")
    shoot(page, out, "resolve")
    page.get_by_role("button", name="Record the resolution").click()
    shoot(page, out, "resolved")
    stale.get_by_label("Approve", exact=True).check()
    stale.get_by_role("button", name="Record the resolution").click()
    shoot(stale, out, "resolve-refused")
    stale.close()
    page.goto(stack.url + "/replay")
    page.get_by_label("Candidate rules").select_option(label=stack.candidate_label)
    page.get_by_role("button", name="Run the replay").click()
    page.locator("#replay-result").wait_for(timeout=60_000)
    shoot(page, out, "replay")
    page.goto(stack.url + "/charts")
    shoot(page, out, "charts")
    page.goto(stack.url + "/lang/ja?next=/search")
    shoot(page, out, "search-ja")
    page.context.clear_cookies()
    page.goto(stack.url + "/search")
    shoot(page, out, "login")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "console"
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp) / "stack") as stack,
        sync_playwright() as p,
    ):
        browser = launch_chromium(p)
        for width, suffix in ((1280, ""), (390, "-390")):
            context = browser.new_context(viewport={"width": width, "height": 900})
            pages(context.new_page(), stack, out, suffix)
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
