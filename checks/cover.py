"""Where a policy's cover comes from: the ``[cover]`` table of its policy file, as values.

Nothing here names a policy. Each policy file says whether its cover follows
security-app activations (``ActivationCover``), JOINED / LEFT enrolments in the
policy (``EnrolmentCover``) or both, and which clauses the resulting periods
serve; ``checks.coverage`` builds the periods from these values alone, and
``rules.engine.cover`` reads and validates the table (docs/claims.md, "Where
cover comes from").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from checks.event_model import SecurityApp
from timing.jst import require_aware

__all__ = ["ActivationCover", "Cover", "EnrolmentCover", "plan_key"]


def plan_key(plan: str) -> str:
    """A plan name as compared: NFKC (full-width 「ｊ＿ｓａｆｅ」 is ``j_safe``, as
    identifiers are elsewhere), trimmed, lower case."""
    return unicodedata.normalize("NFKC", plan).strip().lower()


OtherApps = Literal["skip", "report"]


@dataclass(frozen=True, slots=True)
class ActivationCover:
    """Cover while listed security apps are active on a counted device.

    ``clause_ids``: the clauses its periods serve; the first judges an
    activation (and names one that does not count), ``ended_by`` judges a
    deactivation or invalidation. ``all_apps``: every listed app must be
    active at once (the later activation completes the set), else any one of
    them (a switch between listed apps at one instant keeps the period).
    ``other_apps``: an activation of an app that is not listed is skipped (it
    is another policy's business) or reported as not counting (FAIL; UNKNOWN
    when the app was not reported). ``basis`` says what a period means, in
    English, for ``Period.basis``; ``started_ja`` is the reply to an
    activation that counts.

    The covered device: an activation of an app of
    ``carrier_shop_required_for`` counts only through ``carrier_shop_channel``
    and, with ``require_billed_phone``, with the billed phone number.
    ``campaign_ends_at``: every period ends then at the latest and later
    activations start none (configuration, so whatever ``as_of`` is).
    """

    clause_ids: tuple[str, ...]
    ended_by: str
    apps: frozenset[SecurityApp]
    all_apps: bool
    other_apps: OtherApps
    basis: str
    started_ja: str
    carrier_shop_channel: str = ""
    carrier_shop_required_for: frozenset[SecurityApp] = frozenset()
    require_billed_phone: bool = False
    campaign_ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.clause_ids or not self.apps:
            raise ValueError("an activation cover needs its clause ids and at least one app")
        if self.campaign_ends_at is not None:
            require_aware(self.campaign_ends_at, "campaign_ends_at")


@dataclass(frozen=True, slots=True)
class EnrolmentCover:
    """Cover from the JOINED / LEFT enrolments reported in the policy.

    ``clause_ids``: the clauses its periods serve; the first names an
    enrolment that does not count, ``acked_by`` is the clause the reply to an
    enrolment cites. ``basis`` says what a period is, in English. ``plans``:
    only a JOINED with one of these plans (compared as ``plan_key``) counts;
    empty = any plan. ``one_insured_person``: the clause that allows one
    insured person per period; a second, different person joining while a
    period is in force is flagged on the period ("" = persons are only listed).
    """

    clause_ids: tuple[str, ...]
    acked_by: str
    basis: str
    plans: frozenset[str] = frozenset()
    one_insured_person: str = ""

    def __post_init__(self) -> None:
        if not self.clause_ids:
            raise ValueError("an enrolment cover needs its clause ids")


@dataclass(frozen=True, slots=True)
class Cover:
    """Where one policy's cover comes from, and the rules every period obeys.

    With both sources, a period of one that overlaps a period of the other is
    one period (a continuous subscription, however it was reported).
    ``in_force_from``: periods start no earlier (``in_force_clause`` says why).
    ``begins_months_after_start``: cover begins that many calendar months
    after the JST start date of each enrolment period (``begins_clause``);
    the claim engine applies it itself from the clause, so claims read the
    ``service`` periods.
    """

    policy_id: str
    name_ja: str
    activation: ActivationCover | None = None
    enrolment: EnrolmentCover | None = None
    in_force_from: datetime | None = None
    in_force_clause: str = ""
    begins_months_after_start: int = 0
    begins_clause: str = ""

    def __post_init__(self) -> None:
        if self.activation is None and self.enrolment is None:
            raise ValueError(f"{self.policy_id}: cover needs activations or enrolments")
        if self.in_force_from is not None:
            require_aware(self.in_force_from, "in_force_from")

    @property
    def reads(self) -> tuple[tuple[str, str | None], ...]:
        """The recorded events the periods are built from: (event kind, subject or None)."""
        out: list[tuple[str, str | None]] = []
        if self.activation is not None:
            out.append(("activation", None))
        if self.enrolment is not None:
            out.append(("enrolment", self.policy_id))
        return tuple(out)

    def service(self) -> Cover:
        """The same cover without the start delay: the service periods a claim reads."""
        if not self.begins_months_after_start:
            return self
        return replace(self, begins_months_after_start=0)
