"""Load a rules directory (support matrix, release history, posture
parameters, later the policies) into immutable values, validating every file.

A bad file refuses to load with a message naming the file and the key; the
caller decides what happens next (refuse to start, keep the last good rules).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from checks.event_settings import EventRules, event_rules_from_dict
from checks.matrix import MatrixError, SupportMatrix, matrix_from_dict
from checks.posture import PostureRules
from checks.releases import ReleaseCatalog, ReleaseDataError, product_from_dict
from checks.security_standard import (
    LOGIN_CLAUSES,
    PAYMENT_METHOD_CLAUSE,
    REGISTRATION_CLAUSES,
    SecurityStandardSettings,
)
from checks.settings import (
    SettingsError,
    antivirus_from_dict,
    browser_os_limits_from_dict,
    safari_macos_from_dict,
    settings_from_dict,
)
from rules.engine import PolicyError, PolicySet, load_policies

BUILTIN_RULES_DIR = Path(__file__).resolve().parent / "data"


class RulesError(ValueError):
    """The rules directory cannot be loaded; the message says where and why."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    directory: Path
    digest: str
    posture: PostureRules
    events: EventRules
    policies: PolicySet

    def release_as_of(self) -> dict[str, datetime]:
        return {p.product: p.as_of for p in self.posture.releases.products.values()}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise RulesError(f"{path}: missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: {exc}") from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RulesError(f"{path}: {exc}") from exc


def digest_of(directory: Path) -> str:
    """Content digest of every rules file: changes whenever any rule does."""
    h = hashlib.sha256()
    for path in sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix in (".toml", ".json")
    ):
        h.update(path.relative_to(directory).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def load_rules(directory: Path | str | None = None) -> RuleSet:
    root = Path(directory) if directory is not None else BUILTIN_RULES_DIR
    if not root.is_dir():
        raise RulesError(f"{root}: not a directory")
    try:
        matrix: SupportMatrix = matrix_from_dict(
            _read_toml(root / "matrix" / "hnb.toml"), origin=str(root / "matrix" / "hnb.toml")
        )
        settings = settings_from_dict(
            _read_toml(root / "posture.toml"), origin=str(root / "posture.toml")
        )
        products = antivirus_from_dict(
            _read_toml(root / "antivirus.toml"), origin=str(root / "antivirus.toml")
        )
        platforms = _read_toml(root / "platforms.toml")
        safari_macos = safari_macos_from_dict(platforms, origin=str(root / "platforms.toml"))
        browser_os_limits = browser_os_limits_from_dict(
            platforms, origin=str(root / "platforms.toml")
        )
        events = event_rules_from_dict(
            _read_toml(root / "events.toml"), origin=str(root / "events.toml")
        )
        releases = {}
        for path in sorted((root / "releases").glob("*.json")):
            product = product_from_dict(_read_json(path), origin=path.name)
            releases[product.product] = product
        policies = load_policies(root / "policies")
    except (MatrixError, SettingsError, ReleaseDataError) as exc:
        raise RulesError(str(exc)) from exc
    except PolicyError as exc:
        raise RulesError("; ".join(exc.errors) if exc.errors else str(exc)) from exc
    posture = PostureRules(
        matrix, ReleaseCatalog(releases), settings, products, safari_macos, browser_os_limits
    )
    # An event's reply says what it means for the cover of each policy (checks.event_acks),
    # and judges registrations and logins with the tables and texts of the policy files.
    covers = {p.id: p.cover for p in policies.policies.values() if p.cover is not None}
    events = replace(events, security=_from_policies(events.security, policies), covers=covers)
    return RuleSet(root, digest_of(root), posture, events, policies)


def _from_policies(
    security: SecurityStandardSettings, policies: PolicySet
) -> SecurityStandardSettings:
    """The security-standard settings with what the policy files say: the payment
    method table (the ``table`` of ``PAYMENT_METHOD_CLAUSE``) and the clause texts."""
    judged = set(REGISTRATION_CLAUSES) | set(LOGIN_CLAUSES)
    texts: dict[str, str] = {}
    table = security.payment_table
    for policy in policies.policies.values():
        for clause in policy.clauses:
            if clause.id in judged:
                texts.setdefault(clause.id, clause.text_ja)
            if clause.id == PAYMENT_METHOD_CLAUSE and "table" in clause.params:
                table = clause.table_param("table")
    return replace(security, payment_table=table, texts=texts)
