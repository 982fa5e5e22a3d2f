"""The attestations a policy accepts: the ``facts.exclusions`` keys its clauses read.

Derived from the policy file through each clause kind's ``attests`` (an
exclusion fact's key, a rebuttal key, a before-cover-start fallback), so the
API can refuse a key no clause of the claim's policy reads — ``HNB-X04``, or
``DCM-X1`` on an HNB claim — instead of accepting and ignoring it.
"""

from __future__ import annotations

from rules.engine.kinds import KINDS
from rules.engine.policy import Policy

__all__ = ["attestation_keys", "codes_read", "unknown_attestations"]

_MEMO_KEY = ("attestation keys", "")  # Policy.plans entry: derived once per policy object


def attestation_keys(policy: Policy) -> frozenset[str]:
    """Every ``facts.exclusions`` key some clause of ``policy`` reads."""
    hit = policy.plans.get(_MEMO_KEY)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    keys: set[str] = set()
    for clause in policy.clauses:
        attests = KINDS[clause.kind].attests
        if attests is not None:
            keys.update(attests(clause))
    found = frozenset(keys)
    policy.plans[_MEMO_KEY] = found
    return found


def unknown_attestations(policy: Policy, keys: list[str]) -> list[str]:
    """The keys (in the order given) that no clause of ``policy`` reads."""
    valid = attestation_keys(policy)
    return [k for k in keys if k not in valid]


def codes_read(policy: Policy, field: str) -> tuple[str, ...]:
    """The codes of a code-set field (``negligence``) some clause of ``policy`` looks
    for: each such clause's ``code`` (default its id), in file order."""
    found: dict[str, None] = {}
    for clause in policy.clauses:
        if clause.params.get("codes") == field or clause.params.get("fact") == field:
            code = clause.params.get("code") or clause.id
            found.setdefault(str(code))
    return tuple(found)
