"""Amount kinds: recovered amounts, points, percentage, and caps.

Applied in stage order (recovered → points → percentage → caps in file
order), each recording a ``timing.Step``. Caps read the ledger usage of
their scope from the context (``ledger_scopes`` names the keys) and, on
APPROVE, the engine reserves the payable amount in every scope.

Scope keys are stable strings the store can index::

    HNB-L1/customer:C/year:2026                        per customer per year
    DCM-A1/customer:C/series:S                         per series (一連の事故)
    JPE-A1/customer:C/instrument:T/at:2026-04-01T01:00:00.000000Z
                                                       per incident: what the claim
                                                       states of it (instrument, instant)
    KDN-L2/customer:C/at:2026-05-01T01:00:00.000000Z   per incident (no instrument)
    ISA-A1/customer:C/at:2026-04-01T01:00:00.000000Z   one consultation (incurred_at)
    KDN-A1/customer:C/card:T                           per card
    KDN-L2/customer:C/year:2025                        once per policy year
    DCM-A4/programme/year:2026                         per programme per year (all customers)

An incident is identified by the facts a re-claim of it must repeat (the
instrument and the instant), never by the claim id: a new claim id for the same
incident reads the same scope, and such a cap's limit is at most the claim's own
payable, so one loss is paid once (an exact duplicate gets nothing; a re-claim asking
more than was paid, or another paid incident of the same instrument within
``near_days`` JST days, is REVIEW: ``_incident_again``). A series
(series_id) is the claimant's grouping of several incidents; a claim without one is a
series of its own incident (missing_series = incident) or REVIEW (review).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from checks.model import Compared
from rules.engine.kinds.base import (
    FAIL,
    PASS,
    AmountFinding,
    Finding,
    KindSpec,
    ParamSpec,
    ReservationSpec,
    cmp,
    fmt,
    instant_of,
    missing,
    not_defined,
    not_provided,
    per_clause,
)
from rules.engine.kinds.cached import period_year_containing
from rules.engine.model import ClaimFacts, Effect, EvaluationContext, LedgerUsage, resolve
from rules.engine.policy import Clause, ClauseEffect
from timing.caps import CapUsage, CountCap
from timing.jst import JST
from timing.money import format_yen, minus_recovered, percentage_floor
from timing.trace import Step
from timing.years import PeriodYear

GATE_ONLY = frozenset({ClauseEffect.GATE})
ALL_EFFECTS = frozenset(ClauseEffect)

STAGE_RECOVERED = 1
STAGE_POINTS = 2
STAGE_PERCENT = 3
STAGE_CAP = 4


def _zero(
    clause: Clause, amount: int, out: int, step: Step, text_ja: Callable[[bool], str]
) -> AmountFinding:
    """FAIL when nothing is left to pay, else PASS; ``text_ja(nothing_left)`` explains
    (only the text of the finding made is built)."""
    compared = (cmp("amount", f"{format_yen(amount)} → {format_yen(out)}", "> ¥0"),)
    if out == 0:
        return AmountFinding(
            Finding(FAIL, text_ja(True), compared), out, (step,), binding=amount > 0
        )
    return AmountFinding(
        Finding(PASS, text_ja(False), compared), out, (step,), binding=out < amount
    )


def minus_recovered_kind(
    clause: Clause, claim: ClaimFacts, _: EvaluationContext, amount: int
) -> AmountFinding:
    recovered = claim.amounts.recovered_yen
    out = minus_recovered(amount, recovered)
    r = format_yen(recovered)
    step = Step("minus recovered", clause.id, amount, out, f"recovered {r}")
    return _zero(
        clause,
        amount,
        out,
        step,
        lambda nothing_left: (
            f"損害額{format_yen(amount)}から返金・補償を受けた{r}を差し引くと、"
            "支払う額は残りません。"
            if nothing_left
            else f"返金・補償を受けた{r}を差し引きます。"
        ),
    )


def exclude_points(
    clause: Clause, claim: ClaimFacts, _: EvaluationContext, amount: int
) -> AmountFinding:
    points = claim.amounts.points_yen
    out = minus_recovered(amount, points)
    p = format_yen(points)
    step = Step("points excluded", clause.id, amount, out, f"points {p}")
    return _zero(
        clause,
        amount,
        out,
        step,
        lambda nothing_left: (
            f"ポイント{p}は補償対象外のため、支払う額は残りません。"
            if nothing_left
            else f"補償対象外のポイント{p}を除きます。"
        ),
    )


def percentage(
    clause: Clause, _claim: ClaimFacts, _ctx: EvaluationContext, amount: int
) -> AmountFinding:
    p = clause.percent_param("percent")
    shown = str(p.numerator) if p.denominator == 1 else f"{float(p):g}"
    out = percentage_floor(amount, p)
    step = Step("percentage", clause.id, amount, out, f"{shown}% rounded down to the yen")
    return _zero(
        clause,
        amount,
        out,
        step,
        lambda nothing_left: (
            f"{format_yen(amount)}の{shown}%は1円未満のため支払えません。"
            if nothing_left
            else f"{format_yen(amount)}の{shown}%（1円未満切捨て）を支払います。"
        ),
    )


# --------------------------------------------------------------------------- scopes


@dataclass(frozen=True, slots=True)
class _CapParams:
    """What a cap clause's parameters say about its scope, read once per clause
    (``per_clause``): every claim asks the same of them."""

    name: str  # the scope name: scope_name, else the clause id
    incident: bool  # a cap on one incident as the claim states it (``_is_incident_cap``)
    incident_at: tuple[str, ...]  # the fields naming the incident's instant
    instrument: tuple[str, ...] | None  # the fields naming its instrument; None: the instant alone
    near_days: int  # incident caps: how many JST days either side to look (0: none)
    # The name of the incident's own keys (its day, claimed, refused): incident_name,
    # else the scope name — two parts sharing it see each other's incidents.
    incident_name: str


@per_clause
def _cap_params(clause: Clause) -> _CapParams:
    params = clause.params
    incident = _is_incident_cap(clause)
    return _CapParams(
        clause.str_param("scope_name") or clause.id,
        incident,
        clause.list_param("incident_at") if "incident_at" in params else _OCCURRED,
        clause.list_param("incident_instrument") if "incident_instrument" in params else None,
        clause.int_param("near_days") if incident else 0,
        (clause.str_param("incident_name") if incident else "")
        or clause.str_param("scope_name")
        or clause.id,
    )


def _name(clause: Clause) -> str:
    return _cap_params(clause).name


def _year(clause: Clause, claim: ClaimFacts) -> tuple[PeriodYear | None, str]:
    r, at = instant_of(claim, clause.list_param("year_of"))
    if at is None:
        return None, r.path
    return period_year_containing(at, clause.anchor_param("year_anchor")), r.path


def _own(claim: ClaimFacts) -> str:
    return f"customer:{claim.customer_id}"


def _utc(at: datetime) -> str:
    """An instant as the key writes it: UTC to the microsecond, whatever offset it came in.

    The text of ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` (%Y unpadded, as glibc
    writes it), built without strftime: a third of its cost, once per claim and cap."""
    u = at.astimezone(UTC)
    return (
        f"{u.year}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


_OCCURRED = ("occurred_at",)


def _incident_parts(clause: Clause, claim: ClaimFacts) -> tuple[str, datetime | None, str]:
    """(``instrument:T/`` or "", the incident instant, "") as the claim states the
    incident; (…, None, the missing fact's path) when it does not."""
    params = _cap_params(clause)
    at_r, at = instant_of(claim, params.incident_at)
    if at is None:
        return "", None, at_r.path
    if params.instrument is None:
        return "", at, ""
    r = resolve(claim, params.instrument)
    token = r.value if isinstance(r.value, str) else ""
    if not token:
        return "", None, r.path
    return f"instrument:{token}/", at, ""


def _incident(clause: Clause, claim: ClaimFacts) -> tuple[str | None, str]:
    """``instrument:T/at:ISO`` (or ``at:ISO``): the incident as the claim states it —
    the same instrument misused at the same instant is the same incident, whatever
    the claim id (a re-claim repeats both); else (None, the missing fact's path)."""
    instrument, at, path = _incident_parts(clause, claim)
    if at is None:
        return None, path
    return f"{instrument}at:{_utc(at)}", ""


def near_scopes(clause: Clause, claim: ClaimFacts) -> tuple[str, tuple[str, ...]]:
    """(the key this incident's day counts in, the keys of every day within
    ``near_days`` of it) for an incident cap with ``near_days``; ("", ()) otherwise.

    A day key (``HNB-L2/customer:C/day:2026-04-01``, the incident's JST calendar
    day, with the instrument when the cap has one) counts the incidents paid that
    day. Another paid incident of the same customer and instrument within the
    window, not this very one, may be the same loss stated at another instant
    (a re-claim whose fraud_at moved by a minute): a human looks (REVIEW)."""
    scope = _scope(clause, claim)
    return scope.own_day, scope.window


def _near(
    params: _CapParams, claim: ClaimFacts, instrument: str, at: datetime
) -> tuple[str, tuple[str, ...]]:
    """``near_scopes`` of an incident the claim states (``instrument``, ``at``)."""
    days = params.near_days
    if days <= 0:
        return "", ()
    day = at.astimezone(JST).date()
    prefix = f"{params.incident_name}/{_own(claim)}/{instrument}day:"
    window = tuple(
        f"{prefix}{(day + timedelta(days=d)).isoformat()}" for d in range(-days, days + 1)
    )
    return f"{prefix}{day.isoformat()}", window


def scope_key(clause: Clause, claim: ClaimFacts) -> tuple[str | None, str]:
    """(scope key, the path of the missing fact when the key cannot be built)."""
    scope = _scope(clause, claim)
    return scope.key, scope.path


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where one claim counts under one cap clause."""

    key: str | None  # None: a fact the key is built from is missing
    path: str  # that fact's path ("" when the key was built)
    year: PeriodYear | None = None  # the kinds counted per year: the year
    year_path: str = ""  # … and the field whose instant chose it
    own_day: str = ""  # incident caps with near_days: ``near_scopes``
    window: tuple[str, ...] = ()
    # Series caps: the incident's keys counting the recorded claims of it (any
    # outcome), all of them and those stating this claim's series (``series_marks``).
    claimed: str = ""
    in_series: str = ""
    # Incident caps with near_days: the day key counting the recorded claims of
    # incidents that day (any outcome), and the window's such keys.
    claimed_day: str = ""
    claimed_window: tuple[str, ...] = ()
    refused: str = ""  # … and the incident's key counting its recorded DENYs


_LAST_SCOPE = "last scope"  # Clause.memo key


def _scope(clause: Clause, claim: ClaimFacts) -> _Scope:
    """``scope_key``, ``near_scopes`` and, for the kinds counted per year, the year.

    ledger_scopes() and then the cap itself ask for the scope of the same
    claim: the clause keeps the last (claim, answer), for that very claim only.
    """
    hit = clause.memo.get(_LAST_SCOPE)
    if hit is not None and hit[0] is claim:
        return hit[1]  # type: ignore[no-any-return]
    answer = _scope_of(clause, claim)
    clause.memo[_LAST_SCOPE] = (claim, answer)
    return answer


def _scope_of(clause: Clause, claim: ClaimFacts) -> _Scope:
    kind = clause.kind
    params = _cap_params(clause)
    name = params.name
    if kind == "cap_per_incident" and clause.str_param("incident_ref") == "claim":
        return _Scope(f"{name}/{_own(claim)}/claim:{claim.claim_id}", "")
    if kind == "cap_per_series" and claim.series_id:
        claimed, in_series = _series_marks(clause, claim, claim.series_id)
        key = f"{name}/{_own(claim)}/series:{claim.series_id}"
        return _Scope(key, "", claimed=claimed, in_series=in_series)
    if kind == "cap_per_series" and clause.str_param("missing_series") == "review":
        return _Scope(None, "series_id")
    if kind in ("cap_per_incident", "cap_per_series"):
        # No series stated: the claim's series is its incident alone, the very key
        # cap_per_incident reads, so a re-claim of it under any claim id meets it.
        instrument, at, path = _incident_parts(clause, claim)
        if at is None:
            return _Scope(None, path)
        key = f"{name}/{_own(claim)}/{instrument}at:{_utc(at)}"
        if kind == "cap_per_series":  # the incident as a series of its own
            return _Scope(key, "", claimed=f"{key}/in-series", in_series=f"{key}/series:-")
        own_day, window = _near(params, claim, instrument, at)
        if not own_day:
            return _Scope(key, "")
        incident = f"{params.incident_name}/{_own(claim)}/{instrument}at:{_utc(at)}"
        return _Scope(
            key,
            "",
            own_day=own_day,
            window=window,
            claimed=f"{incident}/claimed",
            claimed_day=f"{own_day}/claimed",
            claimed_window=tuple(f"{k}/claimed" for k in window),
            refused=f"{incident}/refused",
        )
    if kind == "cap_per_card":
        r = resolve(claim, clause.list_param("card"))
        token = r.value if isinstance(r.value, str) else ""
        if not token:
            return _Scope(None, r.path)
        return _Scope(f"{name}/{_own(claim)}/card:{token}", "")
    year, path = _year(clause, claim)
    if year is None:
        return _Scope(None, path)
    if kind == "programme_cap_per_year":
        return _Scope(f"{name}/programme/year:{year.label}", "", year, path)
    return _Scope(f"{name}/{_own(claim)}/year:{year.label}", "", year, path)


def _series_marks(clause: Clause, claim: ClaimFacts, series: str) -> tuple[str, str]:
    """The incident's ``/in-series`` and ``/series:S`` keys ("", "" when the claim
    does not state the incident)."""
    instrument, at, _path = _incident_parts(clause, claim)
    if at is None:
        return "", ""
    base = f"{_cap_params(clause).name}/{_own(claim)}/{instrument}at:{_utc(at)}"
    # …/in-series, not the incident's …/claimed: a claim that stated no series
    # (DCM: REVIEW asking for it) is no statement a later series contradicts.
    return f"{base}/in-series", f"{base}/series:{series}"


def recorded_marks(clause: Clause, claim: ClaimFacts, refused: bool) -> tuple[str, ...]:
    """The keys a *recorded* decision of ``claim`` counts in (``refused``: it is a
    DENY); () for a clause that marks nothing.

    An incident cap with near_days: the incident's and its day's ``…/claimed``
    whatever the outcome, and the incident's ``…/refused`` for a decision that
    held the payment back on what was stated (a DENY, or a REVIEW a clause judged:
    ``rules.engine.held_back``) — such an incident claimed again with other facts
    (an attestation withdrawn) is REVIEW (``_incident_again``), while one re-sent
    after a REVIEW that only asked for a missing fact is not.

    A series (一連の事故) is the claimant's statement. An incident claimed as part
    of series S — paid, or refused because S's limit was used — and claimed again
    under another series (or none) would meet a fresh limit: the statement
    changed, so a human looks (REVIEW, ``_series_changed``). The marks are what
    makes the earlier statement visible: every recorded claim stating the
    incident's series counts once in ``…/in-series`` and once in ``…/series:S``
    (``series:-``: the incident alone, where a claim without series is that)."""
    if clause.kind == "cap_per_incident":
        scope = _scope(clause, claim)
        if not scope.claimed_day:
            return ()
        marks = (scope.claimed, scope.claimed_day)
        return (*marks, scope.refused) if refused else marks
    if clause.kind != "cap_per_series":
        return ()
    scope = _scope(clause, claim)
    return (scope.claimed, scope.in_series) if scope.in_series else ()


def _series_changed(scope: _Scope, ctx: EvaluationContext) -> Finding | None:
    """REVIEW when the incident was claimed before under another series (or none);
    not read is not zero (REVIEW naming the scope); None otherwise."""
    claimed, mine = ctx.ledger.get(scope.claimed), ctx.ledger.get(scope.in_series)
    if claimed is None or mine is None:
        unread = scope.claimed if claimed is None else scope.in_series
        return not_provided(f"context.ledger[{unread}]", "この事故の以前の請求の記録")
    if claimed.count <= mine.count:
        return None
    others = claimed.count - mine.count
    return Finding(
        FAIL,
        f"この事故（同じカード・口座、同じ日時）は以前{others}回、別の一連の事故として"
        "（または一連の事故を示さずに）請求されています。一連の事故の申告が変わったため、"
        "人による確認が必要です。",
        (
            cmp(f"ledger[{scope.claimed}].count", str(claimed.count), str(mine.count)),
            cmp(f"ledger[{scope.in_series}].count", str(mine.count), str(claimed.count)),
        ),
        effect=Effect.REVIEW,
    )


def _is_incident_cap(clause: Clause) -> bool:
    """A cap on one incident as the claim states it (not ISA's legacy per-claim one)."""
    return clause.kind == "cap_per_incident" and clause.str_param("incident_ref") == "facts"


def cap_scopes(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> tuple[str, ...]:
    scope = _scope(clause, claim)
    if scope.key is None:
        return ()
    marks = (scope.claimed, scope.in_series) if scope.in_series else ()
    claimed = (scope.claimed, scope.refused, *scope.claimed_window) if scope.claimed_day else ()
    return (scope.key, *scope.window, *marks, *claimed)


def _scope_detail(clause: Clause, scope: _Scope) -> str:
    year = scope.year
    if year is None or clause.kind in ("cap_per_incident", "cap_per_series", "cap_per_card"):
        return ""
    return _year_detail(scope.year_path, year)


@lru_cache(maxsize=1024)
def _year_detail(path: str, year: PeriodYear) -> str:
    """Pure in the path and the year (its instants are only formatted in JST)."""
    return f"（{path}の属する{year.label}年の期間: {fmt(year.start)}から{fmt(year.end)}の前まで）"


def cap(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext, amount: int) -> AmountFinding:
    """Every amount and count cap: the kind names the scope."""
    scope = _scope(clause, claim)
    key, path = scope.key, scope.path
    if key is None:
        if (
            clause.kind == "cap_per_card"
            and path.endswith(".card_token")
            and not resolve(claim, clause.list_param("card")).defined
        ):
            return AmountFinding(not_defined(path), amount)
        return AmountFinding(missing(path, "限度額の範囲を決める項目"), amount)
    usage = ctx.ledger.get(key)
    if usage is None:
        return AmountFinding(
            not_provided(f"context.ledger[{key}]", "この限度額の支払済み額の記録"), amount
        )
    if scope.in_series:
        changed = _series_changed(scope, ctx)
        if changed is not None:
            return AmountFinding(changed, amount)
    detail = _scope_detail(clause, scope)
    if clause.kind == "once_per_policy_year":
        max_count = clause.int_param("max_count")
        count_cap = CountCap(clause.id, max_count, usage.count, key)
        step = count_cap.apply(amount)
        compared = (cmp(f"ledger[{key}].count", str(usage.count), f"< {max_count}"),)
        spec = ReservationSpec(key, max_count=max_count)
        if count_cap.exhausted:
            return AmountFinding(
                Finding(
                    FAIL,
                    f"この1年間{detail}に既に{usage.count}回保険金を支払っているため、"
                    "支払えません。",
                    compared,
                    reservation=spec,
                ),
                step.output,
                (step,),
                binding=amount > 0,
            )
        return AmountFinding(
            Finding(
                PASS,
                f"この1年間{detail}の支払は{usage.count}回で、{max_count}回の限度内です。",
                compared,
                reservation=spec,
            ),
            step.output,
            (step,),
        )
    limit = clause.int_param("limit_yen")
    incident = _cap_params(clause).incident
    if incident:
        # The loss is paid once: one incident never pays more than it is payable,
        # whatever claim id a re-claim carries — the limit is this claim's own payable
        # (the amount reaching this cap), within limit_yen.
        limit = min(limit, amount)
    amount_cap = CapUsage(clause.id, limit, usage.amount_yen, key)
    remaining = amount_cap.remaining
    limit_s, used_s, remaining_s = (
        format_yen(limit),
        format_yen(usage.amount_yen),
        format_yen(remaining),
    )
    compared = (
        cmp(
            f"ledger[{key}].amount_yen",
            used_s,
            f"limit {limit_s}, remaining {remaining_s}",
        ),
    )
    spec = ReservationSpec(key, limit_yen=limit)
    if clause.kind == "programme_cap_per_year":
        step = Step(
            f"cap {key}",
            clause.id,
            amount,
            amount,
            f"limit {limit_s}, used {used_s}, "
            f"remaining {remaining_s}; "
            + ("exceeded: payment may be refused" if amount > remaining else "not binding"),
        )
        if amount > remaining:
            return AmountFinding(
                Finding(
                    FAIL,
                    f"制度の年間総支払限度額{limit_s}{detail}の残り{remaining_s}を"
                    f"超えるため、保険金をお支払いできないことがあります。",
                    compared,
                    reservation=spec,
                ),
                amount,
                (step,),
            )
        return AmountFinding(
            Finding(
                PASS,
                f"制度の年間総支払限度額{detail}の残り{remaining_s}の範囲内です。",
                compared,
                reservation=spec,
            ),
            amount,
            (step,),
        )
    step = amount_cap.apply(amount)
    if incident:
        own_day = scope.own_day
        if own_day:
            # The incident's day counts it too (an approval reserves in both).
            spec = ReservationSpec(key, limit_yen=limit, also=(ReservationSpec(own_day),))
        again = _incident_again(clause, ctx, remaining, usage, spec, compared, step, scope)
        if again is not None:
            return again
    if incident and remaining == 0 and amount > 0:
        return AmountFinding(
            Finding(
                FAIL,
                f"この事故は以前の決定で既に{used_s}が支払われており、同じ事故の損害"
                f"（支払える額{limit_s}）に残りはありません。",
                compared,
                reservation=spec,
            ),
            0,
            (step,),
            binding=True,
        )
    if remaining == 0 and amount > 0:
        return AmountFinding(
            Finding(
                FAIL,
                f"限度額{limit_s}{detail}は既に使い切られています（支払済み{used_s}）。",
                compared,
                reservation=spec,
            ),
            0,
            (step,),
            binding=True,
        )
    if step.output < amount:
        text = (
            f"限度額{limit_s}{detail}の残り{remaining_s}まで減額します"
            f"（{format_yen(amount)} → {format_yen(step.output)}）。"
        )
    else:
        text = f"限度額{limit_s}{detail}の残り{remaining_s}の範囲内です。"
    return AmountFinding(
        Finding(PASS, text, compared, reservation=spec),
        step.output,
        (step,),
        binding=step.output < amount,
    )


def _incident_again(
    clause: Clause,
    ctx: EvaluationContext,
    remaining: int,
    usage: LedgerUsage,
    spec: ReservationSpec,
    compared: tuple[Compared, ...],
    step: Step,
    scope: _Scope,
) -> AmountFinding | None:
    """REVIEW when this incident looks paid already in another form; None otherwise.

    - a re-claim of a paid incident stating more than was paid (a loss that grew
      between claims is a story that changed: a human looks, nothing is paid
      automatically on top);
    - another paid incident of the same customer and instrument within
      ``near_days`` JST days (``near_scopes``): the same loss at a moved instant?
    An exact re-claim of what was paid in full stays the cap's FAIL (nothing left).
    The reservations stay, so an analyst's approval counts in both scopes.
    """
    if usage.amount_yen > 0 and remaining > 0:
        return AmountFinding(
            Finding(
                FAIL,
                f"この事故には以前の決定で既に{format_yen(usage.amount_yen)}が支払われて"
                f"います。それを超える損害（残り{format_yen(remaining)}）を求める再請求のため、"
                "人による確認が必要です。",
                compared,
                effect=Effect.REVIEW,
                reservation=spec,
            ),
            step.output,
            (step,),
        )
    window = scope.window
    if not window or remaining == 0:
        # An exact duplicate of what was paid in full stays DENY: nothing is left
        # to pay, whoever looks at it.
        return None
    unread = [
        k
        for k in (*window, scope.claimed, scope.refused, *scope.claimed_window)
        if k not in ctx.ledger
    ]
    if unread:
        # Not read is not zero: without the neighbouring days nobody knows.
        return AmountFinding(
            not_provided(f"context.ledger[{unread[0]}]", "近接する事故の支払済み額の記録"),
            step.output,
            (step,),
        )
    days = clause.int_param("near_days")
    whose = "同じ契約者"
    if _cap_params(clause).instrument is not None:
        whose += "・同じカード／口座"
    if ctx.ledger[scope.refused].count > 0:
        # Refused before and claimed again: the same facts would be refused again (the
        # clause that refused decides); other facts are a story that changed.
        return AmountFinding(
            Finding(
                FAIL,
                f"この事故は以前{ctx.ledger[scope.refused].count}回、支払わない、または人による"
                "審査が必要と判定されています。内容を変えた再請求のため、人による確認が必要です。",
                (
                    *compared,
                    cmp(
                        f"ledger[{scope.refused}].count", str(ctx.ledger[scope.refused].count), "0"
                    ),
                ),
                effect=Effect.REVIEW,
                reservation=spec,
            ),
            step.output,
            (step,),
        )
    paid_near = sum(ctx.ledger[k].count for k in window) - usage.count
    if paid_near > 0:
        text = (
            f"{whose}の別の事故{paid_near}件（発生日の前後{days}日以内）に既に支払っています。"
            "同じ損害を別の日時で請求していないか、人による確認が必要です。"
        )
        seen = cmp("ledger[近接する事故].count", str(paid_near), "0")
    else:
        # Claimed nearby and not paid (refused, or waiting for review): a refused loss
        # restated at a moved instant — in another series, with other facts — is the
        # same story told again until a human says otherwise.
        claimed = ctx.ledger[scope.claimed].count
        claimed_near = sum(ctx.ledger[k].count for k in scope.claimed_window) - claimed
        if claimed_near <= 0:
            return None
        text = (
            f"{whose}の別の事故{claimed_near}件（発生日の前後{days}日以内）の請求が既に"
            "記録されています（支払なし）。同じ損害を別の日時・内容で請求していないか、"
            "人による確認が必要です。"
        )
        seen = cmp("ledger[近接する事故の請求].count", str(claimed_near), "0")
    return AmountFinding(
        Finding(FAIL, text, (*compared, seen), effect=Effect.REVIEW, reservation=spec),
        step.output,
        (step,),
    )


_SCOPE_NAME = ParamSpec(
    "scope_name",
    "str",
    "Ledger scope name; default the clause id. Two clauses with the same scope name share "
    "one counter (KDN-Y1 shares KDN-L2's).",
    required=False,
    default="",
)
_LIMIT = ParamSpec("limit_yen", "yen", "The limit in whole yen.")
_ANCHOR = ParamSpec("year_anchor", "anchor", 'When each year begins, JST: "MM-DD HH:MM".')
_YEAR_OF = ParamSpec(
    "year_of",
    "fields",
    "The instant whose year counts: occurred_at (the incident) or claimed_at (the claim, "
    "the nearest the engine has to the payment).",
    field_types=frozenset({"instant"}),
)
_INCIDENT_AT = ParamSpec(
    "incident_at",
    "fields",
    "The instant that identifies one incident (with incident_instrument): a re-claim of "
    "the incident states the same one. Not set: occurred_at.",
    required=False,
    field_types=frozenset({"instant"}),
)
_INCIDENT_INSTRUMENT = ParamSpec(
    "incident_instrument",
    "fields",
    "The card / account token that, with incident_at, identifies one incident (first "
    "defined of the alternatives); not set: the instant alone.",
    required=False,
    field_types=frozenset({"str"}),
)


def series_absent_ja(clause: Clause, ids: str) -> str:
    """What an absent series_id means for a cap_per_series clause (the claim form's
    if_absent); ``ids`` names the clauses reading it."""
    if clause.str_param("missing_series") == "review":
        return f"REVIEW: {ids}を判断できません（一連の事故が分からないため、人による審査）。"
    what = "カード・口座と発生日時" if "incident_instrument" in clause.params else "発生日時"
    return (
        f"なければ、この請求の事故（{what}が同じもの）だけを一連の事故として{ids}の限度額を"
        "数えます。同じ事故の再請求は、請求IDが違っても同じ限度額を使います。"
    )


def _cap_kind(name: str, summary: str, *params: ParamSpec) -> KindSpec:
    return KindSpec(
        name,
        summary,
        (*params, _SCOPE_NAME),
        ALL_EFFECTS,
        amount=cap,
        stage=STAGE_CAP,
        scopes=cap_scopes,
        marks=recorded_marks,
    )


KINDS = (
    KindSpec(
        "minus_recovered",
        "Deducts amounts refunded or compensated elsewhere (amounts.recovered_yen), floored "
        "at zero; nothing left → the clause fires.",
        (),
        GATE_ONLY,
        amount=minus_recovered_kind,
        stage=STAGE_RECOVERED,
    ),
    KindSpec(
        "exclude_points",
        "Deducts the part paid with service points (amounts.points_yen), never covered.",
        (),
        GATE_ONLY,
        amount=exclude_points,
        stage=STAGE_POINTS,
    ),
    KindSpec(
        "percentage",
        "Pays a percentage of the amount, rounded down to the yen.",
        (ParamSpec("percent", "percent", 'The percentage: an integer or a string ("62.5").'),),
        GATE_ONLY,
        amount=percentage,
        stage=STAGE_PERCENT,
    ),
    _cap_kind(
        "cap_per_incident",
        "At most limit_yen per incident: incident_ref=facts — the incident the claim states "
        "(incident_instrument and incident_at: a re-claim of it under a new claim id shares "
        "the cap), and never more than the claim's own payable (the amount reaching this "
        "cap): the loss is paid once — an exact duplicate gets nothing, a re-claim stating "
        "more than was paid is REVIEW; incident_ref=claim — every claim is its own incident.",
        _LIMIT,
        ParamSpec(
            "incident_ref",
            "choice",
            "What one incident is: facts (the instrument and instant stated) or claim.",
            choices=("facts", "claim"),
        ),
        _INCIDENT_AT,
        _INCIDENT_INSTRUMENT,
        ParamSpec(
            "incident_name",
            "str",
            "incident_ref=facts with near_days: the name of the incident's day, claimed and "
            "refused keys; default the scope name. Parts sharing it see each other's "
            "incidents (ISA's consultation and bill: one legal cost however the claim calls "
            "it).",
            required=False,
            default="",
        ),
        ParamSpec(
            "near_days",
            "int",
            "incident_ref=facts: another paid incident of the same customer (and "
            "instrument) within this many JST calendar days of this one is REVIEW — the "
            "same loss stated at another instant? 0: not looked for.",
            required=False,
            default=0,
        ),
    ),
    _cap_kind(
        "cap_per_series",
        "At most limit_yen per series of incidents (一連の事故, series_id).",
        _LIMIT,
        ParamSpec(
            "missing_series",
            "choice",
            "A claim without series_id: incident (a series of its own incident, identified "
            "by incident_instrument and incident_at) or review.",
            choices=("incident", "review"),
        ),
        _INCIDENT_AT,
        _INCIDENT_INSTRUMENT,
    ),
    _cap_kind(
        "cap_per_card",
        "At most limit_yen per card (over the life of the card).",
        _LIMIT,
        ParamSpec(
            "card",
            "fields",
            "The card token field.",
            required=False,
            default=("card_token",),
            field_types=frozenset({"str"}),
        ),
    ),
    _cap_kind(
        "cap_per_customer_year",
        "At most limit_yen per customer per anchored year.",
        _LIMIT,
        _ANCHOR,
        _YEAR_OF,
    ),
    _cap_kind(
        "once_per_policy_year",
        "At most max_count payouts per customer per anchored policy year; exhausted → fires.",
        ParamSpec("max_count", "count", "Payouts allowed per year (1 = once)."),
        _ANCHOR,
        _YEAR_OF,
    ),
    _cap_kind(
        "programme_cap_per_year",
        "The whole programme pays at most limit_yen per anchored year across all customers; "
        "a claim exceeding what remains fires (REVIEW: the insurer may refuse) and is not "
        "reduced.",
        _LIMIT,
        _ANCHOR,
        _YEAR_OF,
    ),
)
