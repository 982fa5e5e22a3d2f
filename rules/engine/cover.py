"""Read and validate a policy file's ``[cover]`` table: where the policy's cover comes from.

The table becomes a ``checks.cover.Cover``; every problem is one message
naming the file and the key, as for clauses::

    kdn.toml: cover.activation.apps: unknown app 'NORTON_361' (known: NORTON_360, …)
    isa.toml: cover.enrolment.acked_by: 'ISA-Q1' is not a clause of this file

Layout (docs/claims.md, "Where cover comes from")::

    [cover]
    in_force_from = 2024-04-01T00:00:00+09:00   # optional: no cover before (with in_force_clause)
    in_force_clause = "ISA-P2"
    begins_months_after_start = 2               # optional: enrolment cover begins N months later
    begins_clause = "JPE-P1"

    [cover.activation]                          # cover while listed apps are active
    clauses = ["KDN-P1", "KDN-P2"]
    ended_by = "KDN-P2"                         # default: the first clause
    apps = ["NORTON_360", "NORTON_MONITOR"]
    all_apps = true                             # every app at once (false: any one)
    other_apps = "skip"                         # skip | report
    basis = "both apps active"
    started_ja = "…"
    carrier_shop_channel = "carrier_shop"       # optional: the covered device
    carrier_shop_required_for = ["NORTON_360"]
    require_billed_phone = true
    campaign_ends_at = 2027-04-01T00:00:00+09:00  # optional

    [cover.enrolment]                           # cover from JOINED / LEFT enrolments
    clauses = ["ISA-P1", "ISA-P2", "ISA-I1"]
    acked_by = "ISA-I1"                         # default: the first clause
    basis = "ISA subscription (…)"
    plans = ["j_safe", …]                        # optional: only these plans count
    one_insured_person = "ISA-I1"               # optional

Any value may be ``"@name"``, a policy parameter of ``[params]`` (one value
shared with a clause, e.g. ISA-P2's ``after``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar

from checks.cover import ActivationCover, Cover, EnrolmentCover, OtherApps, plan_key
from checks.event_model import SecurityApp
from timing.instants import InstantError, parse_instant

__all__ = ["COVER_SOURCES", "parse_cover", "refs_in"]

COVER_SOURCES = ("activation", "enrolment")

_TOP = frozenset(
    {
        "in_force_from",
        "in_force_clause",
        "begins_months_after_start",
        "begins_clause",
        *COVER_SOURCES,
    }
)
_ACTIVATION = frozenset(
    {
        "clauses",
        "ended_by",
        "apps",
        "all_apps",
        "other_apps",
        "basis",
        "started_ja",
        "carrier_shop_channel",
        "carrier_shop_required_for",
        "require_billed_phone",
        "campaign_ends_at",
    }
)
_ENROLMENT = frozenset({"clauses", "acked_by", "basis", "plans", "one_insured_person"})
_APPS = {a.name: a for a in SecurityApp if a is not SecurityApp.UNSPECIFIED}


class _Required:
    """The default of a key that must be present."""


REQUIRED = _Required()

T = TypeVar("T")


class _Bad(Exception):
    """One bad value; the reader adds file and key."""


def refs_in(raw: object) -> set[str]:
    """The ``@name`` policy parameters a ``[cover]`` table refers to."""
    if isinstance(raw, dict):
        return {r for v in raw.values() for r in refs_in(v)}
    if isinstance(raw, str) and raw.startswith("@"):
        return {raw[1:]}
    return set()


class _Table:
    """One table of ``[cover]``: typed reads that record problems instead of raising."""

    def __init__(
        self,
        where: str,
        raw: Mapping[str, Any],
        known: frozenset[str],
        shared: Mapping[str, object],
        clause_ids: Collection[str],
        errors: list[str],
    ) -> None:
        self.where, self.raw, self.shared, self.clause_ids = where, raw, shared, clause_ids
        self.errors = errors
        self.before = len(errors)
        for key in raw:
            if key not in known:
                self.bad(key, f"unknown key (expected: {', '.join(sorted(known))})")

    @property
    def ok(self) -> bool:
        return len(self.errors) == self.before

    def bad(self, key: str, message: str) -> None:
        self.errors.append(f"{self.where}.{key}: {message}")

    def get(
        self, key: str, convert: Callable[[object], T], default: T | _Required | None = REQUIRED
    ) -> T | None:
        """The converted value, ``default`` when absent; None (and a problem) when bad."""
        if key not in self.raw:
            if isinstance(default, _Required):
                self.bad(key, "missing")
                return None
            return default
        value = self.raw[key]
        via = ""
        if isinstance(value, str) and value.startswith("@"):
            if value[1:] not in self.shared:
                self.bad(key, f"refers to unknown policy parameter {value}")
                return None
            via, value = f" (via {value})", self.shared[value[1:]]
        try:
            return convert(value)
        except _Bad as exc:
            self.bad(key, f"{exc}{via}")
            return None

    def clause(self, value: object) -> str:
        text = _text(value)
        if text not in self.clause_ids:
            raise _Bad(f"{text!r} is not a clause of this file")
        return text

    def clauses(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise _Bad(f"expected a non-empty list of clause ids, got {value!r}")
        return tuple(dict.fromkeys(self.clause(v) for v in value))


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {value!r}")
    return value


def _months(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(f"expected a whole number of months (>= 0), got {value!r}")
    return value


def _instant(value: object) -> datetime:
    # The one parser of instants (timing/instants.py), as UTC; a date is refused.
    try:
        return parse_instant(value)
    except InstantError as exc:
        raise _Bad(str(exc)) from None


def _apps(value: object) -> frozenset[SecurityApp]:
    if not isinstance(value, list):
        raise _Bad(f"expected a list of app names, got {value!r}")
    for name in value:
        if name not in _APPS:
            raise _Bad(f"unknown app {name!r} (known: {', '.join(_APPS)})")
    return frozenset(_APPS[n] for n in value)


def _plans(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Bad(f"expected a list of plan names, got {value!r}")
    return frozenset(plan_key(v) for v in value)


def _other_apps(value: object) -> OtherApps:
    if value == "skip":
        return "skip"
    if value == "report":
        return "report"
    raise _Bad(f"expected skip or report, got {value!r}")


def _activation(t: _Table) -> ActivationCover | None:
    clauses = t.get("clauses", t.clauses)
    ended_by = t.get("ended_by", t.clause, "")
    apps = t.get("apps", _apps)
    if apps is not None and not apps:
        t.bad("apps", "at least one app")
    all_apps = t.get("all_apps", _flag)
    other_apps: OtherApps | None = t.get("other_apps", _other_apps, "skip")
    basis = t.get("basis", _text)
    started_ja = t.get("started_ja", _text)
    shop = t.get("carrier_shop_channel", _text, "")
    no_apps: frozenset[SecurityApp] = frozenset()
    shop_for = t.get("carrier_shop_required_for", _apps, no_apps)
    if shop_for and apps is not None and not shop_for <= apps:
        t.bad("carrier_shop_required_for", "names an app that is not in apps")
    if shop_for and not shop:
        t.bad("carrier_shop_channel", "missing (carrier_shop_required_for names apps)")
    billed = t.get("require_billed_phone", _flag, False)
    campaign = t.get("campaign_ends_at", _instant, None)
    if (
        not t.ok
        or clauses is None
        or apps is None
        or all_apps is None
        or other_apps is None
        or basis is None
        or started_ja is None
    ):
        return None
    return ActivationCover(
        clause_ids=clauses,
        ended_by=ended_by or clauses[0],
        apps=apps,
        all_apps=all_apps,
        other_apps=other_apps,
        basis=basis,
        started_ja=started_ja,
        carrier_shop_channel=shop or "",
        carrier_shop_required_for=shop_for or frozenset(),
        require_billed_phone=bool(billed),
        campaign_ends_at=campaign,
    )


def _enrolment(t: _Table) -> EnrolmentCover | None:
    clauses = t.get("clauses", t.clauses)
    acked_by = t.get("acked_by", t.clause, "")
    basis = t.get("basis", _text)
    no_plans: frozenset[str] = frozenset()
    plans = t.get("plans", _plans, no_plans)
    person = t.get("one_insured_person", t.clause, "")
    if not t.ok or clauses is None or basis is None:
        return None
    return EnrolmentCover(
        clause_ids=clauses,
        acked_by=acked_by or clauses[0],
        basis=basis,
        plans=plans or frozenset(),
        one_insured_person=person or "",
    )


def parse_cover(
    name: str,
    policy_id: str,
    name_ja: str,
    raw: object,
    shared: Mapping[str, object],
    clause_ids: Collection[str],
    errors: list[str],
) -> Cover | None:
    """The ``[cover]`` table of file ``name`` as a ``Cover``, or None with ``errors`` added."""
    if not isinstance(raw, dict):
        errors.append(f"{name}: cover: expected a table, got {raw!r}")
        return None
    top = _Table(f"{name}: cover", raw, _TOP, shared, clause_ids, errors)

    def table(source: str, known: frozenset[str]) -> _Table | None:
        sub = raw.get(source)
        if sub is None:
            return None
        if not isinstance(sub, dict):
            top.bad(source, f"expected a table, got {sub!r}")
            return None
        return _Table(f"{name}: cover.{source}", sub, known, shared, clause_ids, errors)

    act_table = table("activation", _ACTIVATION)
    enrol_table = table("enrolment", _ENROLMENT)
    activation = _activation(act_table) if act_table is not None else None
    enrolment = _enrolment(enrol_table) if enrol_table is not None else None
    if not any(s in raw for s in COVER_SOURCES):
        top.bad(
            "activation",
            "missing: say where cover comes from ([cover.activation] and/or [cover.enrolment])",
        )
    in_force = top.get("in_force_from", _instant, None)
    in_force_clause = top.get("in_force_clause", top.clause, "")
    if (in_force is None) != (not in_force_clause) and top.ok:
        top.bad("in_force_clause", "in_force_from and in_force_clause go together")
    months = top.get("begins_months_after_start", _months, 0)
    begins_clause = top.get("begins_clause", top.clause, "")
    if months and not begins_clause:
        top.bad("begins_clause", "missing (begins_months_after_start is set)")
    if months and "activation" in raw:
        top.bad(
            "begins_months_after_start",
            "a start delay applies to enrolment periods only; this cover follows activations",
        )
    if not top.ok or (activation is None and enrolment is None):
        return None
    return Cover(
        policy_id=policy_id,
        name_ja=name_ja,
        activation=activation,
        enrolment=enrolment,
        in_force_from=in_force,
        in_force_clause=in_force_clause or "",
        begins_months_after_start=months or 0,
        begins_clause=begins_clause or "",
    )
