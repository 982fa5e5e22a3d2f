"""Fact kinds: what the claimant states (exclusion facts, required facts, the incident type)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from checks.model import Compared
from rules.engine.kinds.base import (
    FAIL,
    PASS,
    UNKNOWN,
    Finding,
    KindSpec,
    ParamSpec,
    cmp,
    missing,
    not_defined,
    per_clause,
)
from rules.engine.kinds.cached import format_jst
from rules.engine.model import (
    INCIDENT_TYPES,
    ClaimFacts,
    Effect,
    EvaluationContext,
    IssuerAnswer,
    resolve,
)
from rules.engine.policy import Clause, ClauseEffect

ALL_EFFECTS = frozenset(ClauseEffect)


@dataclass(frozen=True, slots=True)
class _FactSpec:
    name: str  # the ``fact`` parameter
    exclusion: bool  # the fact is stated in facts.exclusions (not a claim field)
    key: str  # its facts.exclusions key
    path: str  # its request path
    fires_when: bool
    rebuttal: str
    code: str  # for a code-set field
    unless: tuple[str, ...]  # claim fields showing what the clause sanctions was done
    # Attested facts (``exclusion``): the findings so far by (value, the rebuttal's
    # value), at most nine — kept here rather than looked up by all five arguments.
    seen: dict[tuple[bool | None, bool | None], Finding] = field(
        default_factory=dict, compare=False
    )


@per_clause
def _fact_spec(clause: Clause) -> _FactSpec:
    name = clause.str_param("fact")
    exclusion = name == "" or name.startswith("exclusions.")
    key = clause.id if name == "" else name.removeprefix("exclusions.") if exclusion else ""
    return _FactSpec(
        name,
        exclusion,
        key,
        f"facts.exclusions[{key}]" if exclusion else "",
        clause.bool_param("fires_when"),
        clause.str_param("rebuttal"),
        clause.str_param("code") or clause.id,
        clause.list_param("unless"),
    )


def attested_keys(clause: Clause) -> tuple[str, ...]:
    """The facts.exclusions keys the clause reads: its fact (when stated there) and
    the rebuttal that turns a fired exclusion into REVIEW (DCM-X6.unrelated)."""
    spec = _fact_spec(clause)
    keys = (spec.key,) if spec.exclusion else ()
    return (*keys, spec.rebuttal) if spec.rebuttal else keys


def _fact_value(
    clause: Clause, claim: ClaimFacts, spec: _FactSpec | None = None
) -> tuple[str, bool | None, bool]:
    """(request path, value or None when not stated, defined for this incident)."""
    if spec is None:
        spec = _fact_spec(clause)
    if spec.exclusion:
        return spec.path, claim.exclusions.get(spec.key), True
    name = spec.name
    r = resolve(claim, (name,))
    if not r.defined:
        return r.path, None, False
    if isinstance(r.value, frozenset):
        code = spec.code
        return f"{r.path}[{code}]", code in r.value, True
    if r.value is None or isinstance(r.value, bool):
        return r.path, r.value, True
    raise TypeError(f"clause {clause.label}: fact {name} is not a boolean fact")


def _done(value: object) -> bool:
    """A report shown as made: an instant or an answer stated, or a fact stated true."""
    return value is True or (value is not None and not isinstance(value, bool))


def _unless(clause: Clause, claim: ClaimFacts) -> tuple[tuple[str, str], ...] | None:
    """The claim fields that show what the clause sanctions was done (``unless``):
    (path, value shown) of each when every one this incident defines is stated, else None."""
    compared: list[tuple[str, str]] = []
    for item in _fact_spec(clause).unless:
        names = tuple(item.split("|"))
        r = resolve(claim, names)
        if not r.defined:
            continue
        done = None
        for name in names:
            alt = resolve(claim, (name,))
            if alt.defined and _done(alt.value):
                done = alt
                break
        if done is None:
            return None
        value = done.value
        if isinstance(value, datetime):
            shown = format_jst(value)
        elif isinstance(value, IssuerAnswer):
            shown = value.kind.name
        else:
            shown = str(value).lower()
        compared.append((done.path, shown))
    return tuple(compared) if compared else None


@lru_cache(maxsize=1024)
def _unless_finding(shown: tuple[tuple[str, str], ...], explanation_ja: str) -> Finding:
    """The clause cannot apply: what it sanctions was done (memoised, like every
    finding of this kind, so the engine reuses its result)."""
    return Finding(
        PASS,
        explanation_ja or _UNLESS_DEFAULT_JA,
        tuple(cmp(path, value, "stated") for path, value in shown),
    )


_UNLESS_DEFAULT_JA = "届出・通知が行われているため、この条項は適用されません。"


def boolean_fact(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    spec = _fact_spec(clause)
    # A stated fact decides; ``unless`` (reports shown made) answers only for an
    # unstated one: an attested DCM-X12 is not overridden by a report instant.
    if spec.unless and _fact_value(clause, claim, spec)[1] is None:
        shown = _unless(clause, claim)
        if shown is not None:
            return _unless_finding(shown, clause.str_param("unless_ja"))
    if spec.exclusion:  # stated in facts.exclusions (most of them): no claim field
        value = claim.exclusions.get(spec.key)
        rebuttal = spec.rebuttal if value is not None and value == spec.fires_when else ""
        rebutted = claim.exclusions.get(rebuttal) if rebuttal else None
        seen = spec.seen
        found = seen.get((value, rebutted))
        if found is None:  # (exclusions hold bools only: ClaimFacts refuses anything else)
            found = seen[(value, rebutted)] = _boolean_finding(
                spec.path, value, spec.fires_when, rebuttal, rebutted
            )
        return found
    path, value, defined = _fact_value(clause, claim, spec)
    if not defined:
        return not_defined(path)
    fires_when = spec.fires_when
    rebuttal = spec.rebuttal if value is not None and value == fires_when else ""
    rebutted = claim.exclusions.get(rebuttal) if rebuttal else None
    return _boolean_finding(path, value, fires_when, rebuttal, rebutted)


@lru_cache(maxsize=4096)
def _boolean_finding(
    path: str, value: bool | None, fires_when: bool, rebuttal: str, rebutted: bool | None
) -> Finding:
    """The finding of a boolean fact: a pure function of these values (memoised)."""
    expected = f"not {str(fires_when).lower()}"
    if value is None:
        return missing(path, "この条項に当たるかどうか", cmp(path, "", expected))
    compared: tuple[Compared, ...] = (cmp(path, str(value).lower(), expected),)
    if value != fires_when:
        return Finding(PASS, "申告によれば、この条項には当たりません。", compared)
    if rebuttal:
        r_path = f"facts.exclusions[{rebuttal}]"
        compared = (*compared, cmp(r_path, "" if rebutted is None else str(rebutted).lower(), ""))
        if rebutted is True:
            return Finding(
                FAIL,
                "申告によればこの条項に当たりますが、被保険者が適用されない事情を証明したと"
                "申告しているため、保険会社の判断が必要です。",
                compared,
                effect=Effect.REVIEW,
            )
    return Finding(FAIL, "申告によれば、この条項に当たります。", compared)


def required_fact(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    values: list[tuple[str, bool | None]] = []
    for name in clause.list_param("facts"):
        r = resolve(claim, (name,))
        if not r.defined:
            return not_defined(r.path)
        value = r.value
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"clause {clause.label}: fact {name} is not a boolean fact")
        values.append((r.path, value))
    return _required_finding(tuple(values))


@lru_cache(maxsize=4096)
def _required_finding(values: tuple[tuple[str, bool | None], ...]) -> Finding:
    """The finding of required boolean facts (path, value): pure, memoised."""
    compared = []
    missing_paths: list[str] = []
    failed: list[str] = []
    for path, value in values:
        compared.append(cmp(path, "" if value is None else str(value).lower(), "true"))
        if value is None:
            missing_paths.append(path)
        elif value is False:
            failed.append(path)
    if failed:
        return Finding(
            FAIL,
            f"条件（{', '.join(failed)}）が満たされていないため、この条項の要件を欠きます。",
            tuple(compared),
        )
    if missing_paths:
        return missing(tuple(missing_paths), "この条項の要件となる事実", *compared)
    return Finding(PASS, "申告によれば、この条項の要件を満たします。", tuple(compared))


def required_instant(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    r = resolve(claim, clause.list_param("field"))
    if not r.defined:
        return not_defined(r.path)
    fact_name = clause.str_param("or_fact")
    if fact_name:
        f = resolve(claim, (fact_name,))
        # Stated false, the fact decides even beside an instant: a date the claimant
        # gives but says cannot be confirmed (KDN-C7) is not a confirmed date.
        if f.defined and (r.value is None or f.value is False):
            value = f.value if isinstance(f.value, bool) else None
            shown = "" if r.value is None else str(r.value)
            return _instant_or_fact_finding(r.path, shown, f.path, value)
    # Keyed on the text shown, not the datetime: equal instants in other zones print otherwise.
    return _instant_finding(r.path, None if r.value is None else str(r.value))


def required_instant_contradiction(
    clause: Clause, claim: ClaimFacts, _: EvaluationContext
) -> tuple[str, str] | None:
    """(field, message) when ``facts.exclusions[<clause id>]`` is attested false (none
    of the clause's omissions) while the typed fact this part reads says one of them
    happened: ``or_fact`` false and no instant (HNB-X4: exclusions[HNB-X4] = false
    beside police_consulted = false). Either would be accepted and decide a part of
    its own; the claim is refused naming both. True beside a stated instant is not
    a contradiction: the clause names other omissions, which the attestation
    answers (HNB-X4.cooperation: documents, cooperation)."""
    if claim.exclusions.get(clause.id) is not False:
        return None
    fact_name = clause.str_param("or_fact")
    if not fact_name:
        return None
    r = resolve(claim, clause.list_param("field"))
    f = resolve(claim, (fact_name,))
    if not f.defined or f.value is not False or r.value is not None:
        return None
    return (
        f"exclusions[{clause.id}]",
        f"false (none of {clause.id}'s omissions) contradicts {f.path} false (not done: "
        f"{clause.label} fires on it): send one of the two",
    )


@lru_cache(maxsize=1024)
def _instant_or_fact_finding(path: str, shown: str, fact_path: str, value: bool | None) -> Finding:
    """No instant, or one beside a fact stated false: the typed fact says whether it
    was done (False: it was not, or its date cannot be confirmed). ``shown``: the
    instant as stated ("" when not), so the trace shows what the claim said."""
    compared = (
        cmp(path, shown, "stated"),
        cmp(fact_path, "" if value is None else str(value).lower(), "true"),
    )
    if value is None:
        return missing((path, fact_path), "この条項が求める届出・報告の有無と日時", *compared)
    if value:
        return Finding(PASS, "申告によれば、この条項が求める届出・報告は行われています。", compared)
    return Finding(
        FAIL,
        "申告によれば、この条項が求める届出・報告は行われていません（または確認できません）。",
        compared,
    )


@lru_cache(maxsize=4096)
def _instant_finding(path: str, shown: str | None) -> Finding:
    compared = (cmp(path, "" if shown is None else shown, "stated"),)
    if shown is None:
        return missing(path, "この条項が求める届出・報告の日時", *compared)
    return Finding(PASS, "この条項が求める届出・報告の日時が確認できます。", compared)


# --------------------------------------------------------------------------- facts_combine


@dataclass(frozen=True, slots=True)
class _Atom:
    """One term of a ``when`` formula: a boolean field (negated with "!") or an
    integer field compared with ``<=`` a bound."""

    name: str
    negated: bool = False
    at_most: int | None = None

    def value(self, claim: ClaimFacts) -> tuple[str, bool | None, str]:
        """(request path, the term's truth or None when unstated, the value as stated)."""
        r = resolve(claim, (self.name,))
        v = r.value if r.defined else None
        shown = "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        if self.at_most is not None:
            ok = None if not isinstance(v, int) or isinstance(v, bool) else v <= self.at_most
            return r.path, ok, shown
        if not isinstance(v, bool):
            return r.path, None, shown
        return r.path, (not v) if self.negated else v, shown


def parse_atom(text: str) -> _Atom:
    """``name``, ``!name`` or ``name<=N`` (the ``when`` syntax; checked by the loader)."""
    if "<=" in text:
        name, _, bound = text.partition("<=")
        return _Atom(name.strip(), at_most=int(bound))
    if text.startswith("!"):
        return _Atom(text[1:].strip(), negated=True)
    return _Atom(text.strip())


@per_clause
def _formula(clause: Clause) -> tuple[tuple[_Atom, ...], ...]:
    return tuple(
        tuple(parse_atom(t) for t in term.split("+")) for term in clause.list_param("when")
    )


def formula_fields(clause: Clause) -> tuple[str, ...]:
    """Every field a ``facts_combine`` clause reads, in order (for the claim form)."""
    seen: dict[str, None] = {}
    for term in _formula(clause):
        for atom in term:
            seen.setdefault(atom.name)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class _Combined:
    """What every claim asks of a ``facts_combine`` clause (``per_clause``): the
    fields it reads, as ``resolve`` takes them, and its findings so far."""

    fields: tuple[tuple[str, ...], ...]  # the formula's fields, then the codes field if any
    # (incident type, each field's value as stated) → the finding: the finding is a
    # pure function of those (a field's path follows from the incident type).
    seen: dict[tuple[object, ...], Finding]


_COMBINED_LIMIT = 1024  # findings kept per clause (integer facts make many)


@per_clause
def _combined(clause: Clause) -> _Combined:
    codes = clause.str_param("codes")
    fields = tuple((name,) for name in formula_fields(clause))
    return _Combined(fields + (((codes,),) if codes else ()), {})


def _stated(claim: ClaimFacts, names: tuple[str, ...]) -> object:
    """The value ``resolve`` finds (None when the incident has no such field), typed:
    True and 1 are equal as keys, not as facts."""
    r = resolve(claim, names)
    v = r.value if r.defined else None
    return v if v is None or v is True or v is False else (type(v), v)


def facts_combine(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    """Kleene's three-valued logic over the stated facts: a formula that is true,
    false, or undecided because a fact it needs is not stated (→ REVIEW naming it).

    Claims state few combinations of the few facts a formula reads: the clause
    keeps the finding of each combination it has seen (the same object, so the
    engine reuses its result too: ``memoised``)."""
    spec = _combined(clause)
    key = (claim.incident.NAME, *(_stated(claim, names) for names in spec.fields))
    try:
        hit = spec.seen.get(key)
    except TypeError:  # a value that cannot be a key: decided afresh
        return _facts_combine(clause, claim)
    if hit is not None:
        return hit
    finding = _facts_combine(clause, claim)
    if len(spec.seen) >= _COMBINED_LIMIT:
        spec.seen.clear()
    spec.seen[key] = finding
    return finding


def _facts_combine(clause: Clause, claim: ClaimFacts) -> Finding:
    terms = _formula(clause)
    read = tuple(tuple(a.value(claim) for a in term) for term in terms)
    values = tuple(tuple((path, v) for path, v, _ in term) for term in read)
    # The trace shows each fact once, as the claim stated it (not a term's truth:
    # "!x" of a stated false is true, "degree<=2" of a stated 3 is false).
    stated = tuple(dict.fromkeys((path, shown) for term in read for path, _, shown in term))
    codes = clause.str_param("codes")
    if codes and all(v is None for term in values for _, v in term):
        r = resolve(claim, (codes,))
        if r.defined and isinstance(r.value, frozenset):  # the legacy codes were sent
            code = clause.id
            found = code in r.value
            compared = (cmp(f"{r.path}[{code}]", str(found).lower(), "false"),)
            if found:
                return Finding(FAIL, "申告された区分によれば、この条項に当たります。", compared)
            return Finding(PASS, "申告された区分によれば、この条項には当たりません。", compared)
    return _combined_finding(values, stated, clause.bool_param("passes"))


@lru_cache(maxsize=4096)
def _combined_finding(
    values: tuple[tuple[tuple[str, bool | None], ...], ...],
    stated: tuple[tuple[str, str], ...],
    passes: bool,
) -> Finding:
    compared = tuple(cmp(path, shown, "") for path, shown in stated)
    result: bool | None = False
    unknown: dict[str, None] = {}
    for term in values:
        if any(v is False for _, v in term):
            continue
        if all(v is True for _, v in term):
            result = True
            break
        result = None
        for path, v in term:
            if v is None:
                unknown.setdefault(path)
    if result is None:
        return missing(tuple(unknown), "この条項の判断に必要な事実", *compared)
    if result is passes:
        if passes:
            return Finding(PASS, "申告された事実によれば、この条項の要件を満たします。", compared)
        return Finding(PASS, "申告された事実によれば、この条項には当たりません。", compared)
    if passes:
        return Finding(FAIL, "申告された事実によれば、この条項の要件を満たしません。", compared)
    return Finding(FAIL, "申告された事実によれば、この条項に当たります。", compared)


def value_in(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    r = resolve(claim, clause.list_param("field"))
    if not r.defined:
        return not_defined(r.path)
    value = r.value if isinstance(r.value, str) else ""
    return _value_in_finding(r.path, value, clause.list_param("allowed"))


@lru_cache(maxsize=4096)
def _value_in_finding(path: str, value: str, allowed: tuple[str, ...]) -> Finding:
    compared = (cmp(path, value, " or ".join(allowed)),)
    if value == "":
        return missing(path, "この条項が区別する種類", *compared)
    if value in allowed:
        return Finding(PASS, f"種類「{value}」は対象です。", compared)
    return Finding(FAIL, f"種類「{value}」は対象ではありません。", compared)


def incident_type(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    return _incident_finding(
        clause.str_param("incident"),
        clause.list_param("subkinds"),
        claim.incident_type,
        claim.incident.subkind,
    )


@lru_cache(maxsize=4096)
def _incident_finding(want: str, subkinds: tuple[str, ...], incident: str, sub: str) -> Finding:
    compared = (
        cmp("incident", incident, want),
        *((cmp(f"{want}.subkind", sub, " or ".join(subkinds)),) if subkinds else ()),
    )
    if incident != want:
        return Finding(FAIL, f"事故の種類「{incident}」はこの類型ではありません。", compared)
    if subkinds:
        if sub == "":
            return Finding(
                UNKNOWN,
                "事故の類型が申告されていないため、判断できません。",
                compared,
                (f"{want}.{_SUBKIND_FIELD[want]}",),
            )
        if sub not in subkinds:
            return Finding(FAIL, f"事故の類型「{sub}」はこの類型ではありません。", compared)
    return Finding(PASS, "事故はこの類型に当たります。", compared)


_SUBKIND_FIELD = {
    "qr_payment": "event_kind",
    "liability": "claim_kind",
    "skimming_phishing": "kind",
    "legal_cost": "kind",
    "ib_transfer": "",
    "card_fraud": "",
}
assert set(_SUBKIND_FIELD) == set(INCIDENT_TYPES)


def no_count_limit(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    return _no_count_limit(clause.list_param("limits"))


@lru_cache(maxsize=256)
def _no_count_limit(limits: tuple[str, ...]) -> Finding:
    return Finding(
        PASS,
        "請求の回数に制限はありません（限度額" + "・".join(limits) + "の範囲内）。",
        (cmp("count_limit", "none", "none"),),
    )


_FACT = ParamSpec(
    "fact",
    "str",
    'Where the fact is: "" = facts.exclusions[<clause id>]; "exclusions.KEY"; or a boolean '
    "claim field (e.g. resident_in_japan, used_in_japan); or a code-set field (negligence): "
    "then the fact is whether ``code`` is in the set.",
    required=False,
    default="",
)
_FIRES_WHEN = ParamSpec(
    "fires_when",
    "bool",
    "The fact value that makes the clause fire (false for e.g. resident_in_japan).",
    required=False,
    default=True,
)
_REBUTTAL = ParamSpec(
    "rebuttal",
    "str",
    "An exclusions key: when it is true the fired clause gives REVIEW instead (the insured "
    "proves the exclusion unrelated, DCM-X6).",
    required=False,
    default="",
)
_CODE = ParamSpec(
    "code",
    "str",
    "For a code-set fact: the code to look for; default the clause id.",
    required=False,
    default="",
)

_UNLESS = ParamSpec(
    "unless",
    "str_list",
    "Claim fields showing that what the clause sanctions was done (a report instant, a "
    "fact stated true, an answer); alternatives joined with '|'. When the clause's own "
    "fact is not stated and every item this incident defines is stated, the clause does "
    "not apply (PASS); a stated fact always decides (DCM-X12: police_reported_at|"
    "police_reported, the issuer / operator notified).",
    required=False,
    default=(),
)

_UNLESS_JA = ParamSpec(
    "unless_ja",
    "str",
    "The explanation (Japanese) when ``unless`` answers the clause; default: the "
    "reports were made (届出・通知が行われているため…).",
    required=False,
    default="",
)

KINDS = (
    KindSpec(
        "exclusion_fact",
        "A boolean fact stated on the claim: fires → the clause's effect (DENY for an "
        "exclusion); does not fire → PASS; not stated → REVIEW naming the fact.",
        (_FACT, _FIRES_WHEN, _REBUTTAL, _CODE, _UNLESS, _UNLESS_JA),
        ALL_EFFECTS,
        check=boolean_fact,
        memoised=True,
        attests=attested_keys,
    ),
    KindSpec(
        "review_fact",
        "Like exclusion_fact, for clauses where the insurer 'may' reduce or refuse: "
        "fires → REVIEW.",
        (_FACT, _FIRES_WHEN, _REBUTTAL, _CODE, _UNLESS, _UNLESS_JA),
        frozenset({ClauseEffect.REVIEW}),
        check=boolean_fact,
        memoised=True,
        attests=attested_keys,
    ),
    KindSpec(
        "required_fact",
        "Boolean facts that must all be true (a condition): any false → FAIL; "
        "any not stated → REVIEW naming each.",
        (
            ParamSpec(
                "facts", "fields", "The boolean claim fields.", field_types=frozenset({"bool"})
            ),
        ),
        ALL_EFFECTS,
        check=required_fact,
        memoised=True,
    ),
    KindSpec(
        "required_instant",
        "An instant the clause requires to be known (a police report, an issuer report): "
        "stated → PASS; not stated → REVIEW naming it.",
        (
            ParamSpec("field", "fields", "The instant field.", field_types=frozenset({"instant"})),
            ParamSpec(
                "or_fact",
                "str",
                "A boolean claim field saying whether it was done at all: true (or the "
                "instant stated) → PASS; false → FAIL, even beside an instant (not done, or "
                "the date cannot be confirmed); neither stated → REVIEW naming both. "
                "facts.exclusions[<clause id>] attested false beside it false (no instant) "
                "is refused (INVALID_ARGUMENT naming both: HNB-X4).",
                required=False,
                default="",
            ),
        ),
        ALL_EFFECTS,
        check=required_instant,
        memoised=True,
    ),
    KindSpec(
        "facts_combine",
        "A formula over typed facts, in Kleene's three-valued logic: ``when`` is a list of "
        "alternatives, each a conjunction of terms joined with '+' (``name``, ``!name``, "
        "``name<=N``). True → the clause fires (FAIL), false → PASS; with ``passes`` the "
        "formula is the condition instead (true → PASS, false → FAIL). A formula left "
        "undecided by an unstated fact → REVIEW naming each such fact (never DENY).",
        (
            ParamSpec("when", "str_list", "The alternatives (disjunctive normal form)."),
            ParamSpec(
                "passes",
                "bool",
                "The formula is the condition that must hold (default: the formula fires).",
                required=False,
                default=False,
            ),
            ParamSpec(
                "codes",
                "str",
                "A code-set field with pre-classified clause ids (JPE negligence codes): used "
                "when none of the formula's facts is stated.",
                required=False,
                default="",
            ),
        ),
        ALL_EFFECTS,
        check=facts_combine,
        memoised=True,
    ),
    KindSpec(
        "value_in",
        "A claim string field must be one of the allowed values; empty → REVIEW.",
        (
            ParamSpec("field", "fields", "The string field.", field_types=frozenset({"str"})),
            ParamSpec("allowed", "str_list", "The values that pass."),
        ),
        ALL_EFFECTS,
        check=value_in,
        memoised=True,
    ),
    KindSpec(
        "incident_type",
        "The claim's incident is of this type (and one of these sub-kinds). Use ``any_of`` "
        "to make a group of insured events of which one must match.",
        (
            ParamSpec("incident", "incident", "The incident type (oneof name)."),
            ParamSpec(
                "subkinds",
                "str_list",
                "Allowed sub-kinds (event_kind, claim_kind, kind); empty = any.",
                required=False,
                default=(),
            ),
        ),
        frozenset({ClauseEffect.GATE, ClauseEffect.DENY}),
        check=incident_type,
        memoised=True,
    ),
    KindSpec(
        "no_count_limit",
        "States that the number of claims is not limited (only the amount limits apply).",
        (ParamSpec("limits", "clause_ids", "The amount limits that do apply."),),
        frozenset({ClauseEffect.GATE}),
        check=no_count_limit,
        memoised=True,
    ),
)
