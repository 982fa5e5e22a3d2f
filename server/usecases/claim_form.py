"""GetClaimForm: the questions a claim under a policy must answer, from the rules in force.

No gRPC, no store: the form is a pure function of the policy file
(``rules.engine.form``); this use case picks the policy from the rules the
server runs and turns a bad policy id or incident kind into INVALID_ARGUMENT
naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules import engine as eng
from rules.engine.form import FormError, FormField, claim_form, incident_kinds
from rules.load import RuleSet
from server.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class ClaimForm:
    """The form of one policy and incident kind, with the rules it was derived from."""

    policy: eng.Policy
    incident: str
    fields: tuple[FormField, ...]
    digest: str


def form_for(rules: RuleSet, policy_id: str, incident: str) -> ClaimForm:
    """The form, or ``InvalidArgument`` naming ``policy_id`` / ``incident``."""
    policies = rules.policies.policies
    policy = policies.get(policy_id.strip().upper()) if policy_id.strip() else None
    if policy is None:
        raise InvalidArgument.of(
            "policy_id", f"unknown policy: one of {', '.join(sorted(policies))}"
        )
    try:
        fields = claim_form(policy, incident.strip())
    except FormError as exc:
        kinds = ", ".join(incident_kinds(policy))
        raise InvalidArgument.of(exc.field, f"{exc.message} (one of {kinds})") from exc
    return ClaimForm(policy, incident.strip(), fields, rules.digest)
