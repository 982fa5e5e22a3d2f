"""The login posture check: facts in, one verdict with every check out.

Pure: the rules in force and the login instant are arguments; nothing here
reads the clock or touches storage, so a verdict replayed later with the same
rules gives the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from checks.antivirus import check_antivirus
from checks.matrix import MatrixRevision, SupportMatrix
from checks.model import CheckOutcome, CheckStatus, LoginFacts, ParsedClient, Verdict
from checks.phishwall import check_phishwall
from checks.platform import (
    check_browser_latest,
    check_browser_listed,
    check_os,
    latest_products,
    os_vendor_support,
)
from checks.releases import ReleaseCatalog
from checks.settings import AntivirusProduct, BrowserOsLimit, PostureSettings
from checks.token import check_token
from checks.useragent import parse_client


@dataclass(frozen=True, slots=True)
class PostureRules:
    matrix: SupportMatrix
    releases: ReleaseCatalog
    settings: PostureSettings
    antivirus_products: tuple[AntivirusProduct, ...]
    safari_macos: Mapping[str, tuple[str, ...]]
    # platforms.toml [[browser_os_limit]]: the last major an OS version can run.
    browser_os_limits: tuple[BrowserOsLimit, ...] = ()


@dataclass(frozen=True, slots=True)
class PostureResult:
    verdict: Verdict
    client: ParsedClient
    checks: tuple[CheckOutcome, ...]
    matrix_revision: MatrixRevision | None
    release_products: tuple[str, ...]  # products whose release data was consulted

    @property
    def clause_ids(self) -> tuple[str, ...]:
        """Clauses of the checks that did not pass (the reasons of the verdict)."""
        seen: dict[str, None] = {}
        for c in self.checks:
            if c.status in (CheckStatus.FAIL, CheckStatus.UNKNOWN):
                for cid in c.clause_ids:
                    seen.setdefault(cid)
        return tuple(seen)


def aggregate(checks: tuple[CheckOutcome, ...]) -> Verdict:
    # Any FAIL makes it NON_COMPLIANT, else any UNKNOWN makes it UNKNOWN.
    unknown = False
    for c in checks:
        if c.status is CheckStatus.FAIL:
            return Verdict.NON_COMPLIANT
        if c.status is CheckStatus.UNKNOWN:
            unknown = True
    return Verdict.UNKNOWN if unknown else Verdict.COMPLIANT


_CLIENT_CHECKS_SIZE: Final = 4096
# (ua, hints, touch, id(rules), id(revision)) -> (rules, revision, client, os check,
# browser-listed check). The entry holds ``rules`` and ``revision`` themselves, so
# their ids cannot be reused while it exists; a hit is confirmed by identity.
_CLIENT_CHECKS: dict[
    tuple[object, ...],
    tuple[PostureRules, MatrixRevision | None, ParsedClient, CheckOutcome, CheckOutcome],
] = {}


def _client_checks(
    facts: LoginFacts, rules: PostureRules, revision: MatrixRevision | None
) -> tuple[ParsedClient, CheckOutcome, CheckOutcome]:
    """The parsed client and the two checks that depend only on it and the revision.

    None of the three looks at the login instant (only the revision, chosen
    by it, does), so they are memoised per client and revision.
    """
    key = (facts.user_agent, facts.hints, facts.max_touch_points, id(rules), id(revision))
    hit = _CLIENT_CHECKS.get(key)
    if hit is not None and hit[0] is rules and hit[1] is revision:
        return hit[2], hit[3], hit[4]
    client = parse_client(facts.user_agent, facts.hints, facts.max_touch_points)
    os_check = check_os(client, revision, rules.safari_macos, rules.releases)
    listed = check_browser_listed(client, revision, rules.releases)
    if len(_CLIENT_CHECKS) >= _CLIENT_CHECKS_SIZE:
        _CLIENT_CHECKS.clear()
    _CLIENT_CHECKS[key] = (rules, revision, client, os_check, listed)
    return client, os_check, listed


def evaluate_login(facts: LoginFacts, rules: PostureRules) -> PostureResult:
    """HNB-P1..P4 for one login, judged at its own instant against the rules in force."""
    at = facts.login_time
    revision = rules.matrix.revision_at(at)
    client, os_check, listed = _client_checks(facts, rules, revision)
    os_check = os_vendor_support(client, os_check, rules.releases, at)
    latest = check_browser_latest(
        client,
        listed,
        rules.releases,
        at,
        rules.settings,
        rules.safari_macos,
        rules.browser_os_limits,
    )
    checks = (
        os_check,
        listed,
        latest,
        check_antivirus(facts.antivirus, client.os, at, rules.settings, rules.antivirus_products),
        check_phishwall(facts.phishwall, client.os, at, rules.settings, rules.releases),
        check_token(facts.token_status),
    )
    consulted = tuple(
        dict.fromkeys(
            (
                *latest_products(
                    client, rules.releases, rules.safari_macos, rules.browser_os_limits
                ),
                *(("phishwall",) if rules.releases.get("phishwall") is not None else ()),
            )
        )
    )
    return PostureResult(aggregate(checks), client, checks, revision, consulted)
