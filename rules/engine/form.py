"""The claim form: which facts a decision under a policy needs for one incident kind.

Derived from the policy file, clause by clause, through each clause kind's
parameters (``fields`` parameters, a boolean ``fact``, ``or_fact``, the terms
of a ``facts_combine`` formula, the alternatives of ``unless``), the kinds'
implicit reads (``KindSpec.reads``) and the attestation keys they accept
(``KindSpec.attests``). A claims system builds its intake form from it
instead of hard-coding clause ids; a claim that answers every question
leaves no claim fact missing (tests/claims/test_claim_form.py).

Pure: a function of the policy and the incident kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields

from checks.event_model import FundingSource
from checks.security_standard import PaymentMethod
from rules.engine.kinds import KINDS
from rules.engine.kinds.amounts import series_absent_ja
from rules.engine.kinds.facts import parse_atom
from rules.engine.model import INCIDENT_FIELDS, INCIDENT_TYPES, TOP_LEVEL_FIELDS, IssuerAnswerKind
from rules.engine.policy import Clause, Policy
from rules.engine.questions import QUESTIONS_JA

__all__ = ["REQUIRED_ABSENT", "FormError", "FormField", "claim_form", "incident_kinds"]


class FormError(ValueError):
    """The incident kind is not one the policy covers; ``field`` names the request field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# A condition under which an absent fact matters: each (path, value) must hold —
# a request field and "true" / "false" / "<=N", or POSTURE_FAILS.
Condition = tuple[tuple[str, str], ...]
POSTURE_FAILS = ("context.postures", "fails or none")


@dataclass(frozen=True, slots=True)
class FormField:
    """One question of the form: the request path, its type, the clauses reading it.

    ``review_when``: when not empty, absence gives REVIEW only under one of these
    conditions (``if_absent`` says them); otherwise it changes nothing.
    """

    path: str
    type: str
    clause_ids: tuple[str, ...]
    question_ja: str
    if_absent: str
    allowed: tuple[str, ...] = ()
    review_when: tuple[Condition, ...] = ()


_REVIEW = "REVIEW: {ids}を判断できません（人による審査）。"
REQUIRED_ABSENT = "必須項目です。なければ請求は受け付けられません（INVALID_ARGUMENT）。"
_OR = "{other}もなければREVIEW: {ids}を判断できません。"
_PROVISO = "但し書きは適用されず、{ids}はそのまま判断されます。"
_UNLESS = "これが示されなければ、{ids}はその条項自体の事実・申告で判断します。"
_WHEN = "{when}のときだけREVIEW: {ids}を判断できません（人による審査）。それ以外は不要です。"
_SERVICE = (
    "決済サービスを経た不正利用でなければ不要です。なければ{ids}はこのカードの決済サービスへの"
    "登録・ログインの記録で判断し、記録がなければ適用されません。決済サービスを示した場合、"
    "その登録・ログインの記録がなければREVIEWです。"
)
_STANDS_IN_FOR = (
    "{field}がわからない場合にだけ答えます（{field}と食い違えば請求は受け付けられません: "
    "INVALID_ARGUMENT）。どちらもなければREVIEW: {ids}を判断できません。"
)


def incident_kinds(policy: Policy) -> tuple[str, ...]:
    """The incident kinds of ``policy``: each incident type, and ``type:subkind`` for
    every sub-kind a clause of the policy distinguishes."""
    kinds: dict[str, None] = {}
    for incident in policy.incidents:
        kinds.setdefault(incident)
        for sub in _subkinds(policy, incident):
            kinds.setdefault(f"{incident}:{sub}")
    return tuple(kinds)


def _subkinds(policy: Policy, incident: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for clause in policy.clauses:
        for item in clause.applies_to:
            inc, _, sub = item.partition(":")
            if inc == incident and sub:
                found.setdefault(sub)
        if clause.kind == "incident_type" and clause.params.get("incident") == incident:
            for sub in clause.list_param("subkinds"):
                found.setdefault(sub)
    return tuple(found)


def _applies(clause: Clause, incident: str, sub: str) -> bool:
    """As the engine applies it; without a sub-kind, a clause of any sub-kind counts."""
    if not clause.applies_to:
        return True
    for item in clause.applies_to:
        inc, _, want = item.partition(":")
        if inc == incident and (not want or not sub or want == sub):
            return True
    return False


def _reads(clause: Clause, incident: str) -> list[tuple[str, str]]:
    """(field name, its alternative) pairs the clause reads of an ``incident`` claim:
    the alternative is the field that can stand in for it ("" when none)."""
    spec = KINDS[clause.kind]
    own = INCIDENT_FIELDS[incident]
    out: list[tuple[str, str]] = []

    def first_defined(names: tuple[str, ...]) -> str:
        for name in names:
            if name == "occurred_at":
                return INCIDENT_TYPES[incident].OCCURRED
            if name in own or name in TOP_LEVEL_FIELDS:
                return name
        return ""

    for p in spec.params:
        value = clause.params.get(p.name)
        if p.relevant_if and not clause.params.get(p.relevant_if):
            continue
        if p.name == "facts" and isinstance(value, tuple):  # required_fact: each of them
            out.extend((str(v), "") for v in value if v in own or v in TOP_LEVEL_FIELDS)
        elif p.type == "fields" and isinstance(value, tuple):  # alternatives: the first defined
            name = first_defined(tuple(str(v) for v in value))
            if name:
                out.append((name, ""))
        elif p.name == "fact" and isinstance(value, str) and value and "." not in value:
            if value in own or value in TOP_LEVEL_FIELDS:
                out.append((value, ""))
        elif p.name == "when" and isinstance(value, tuple):
            for term in value:
                for text in str(term).split("+"):
                    out.append((parse_atom(text).name, ""))
        elif p.name == "unless" and isinstance(value, tuple):
            for item in value:
                names = [n for n in str(item).split("|") if n in own]
                for n in names:
                    out.append((n, "|".join(m for m in names if m != n)))
    or_fact = clause.params.get("or_fact")
    if isinstance(or_fact, str) and or_fact in own:
        instant = [n for n, _ in out]
        out = [(n, or_fact if n in instant else alt) for n, alt in out]
        out.append((or_fact, "|".join(instant)))
    if spec.reads is not None:
        out.extend((n, "") for n in spec.reads(clause) if n in own)
    return out


def _absence_matters(clause: Clause, name: str) -> tuple[Condition, ...] | None:
    """When the absence of ``name`` can give REVIEW under ``clause``: None always; else
    the conditions, one of which must hold (the other facts of a conjunction of a
    ``facts_combine`` formula; a failing or missing posture for a posture excuse)."""
    if clause.kind in ("posture_required", "posture_excuse") and name in clause.list_param(
        "excuse"
    ):
        return ((POSTURE_FAILS,),)
    if clause.kind != "facts_combine":
        return None
    out: list[Condition] = []
    for term in clause.list_param("when"):
        atoms = [parse_atom(t) for t in str(term).split("+")]
        if not any(a.name == name for a in atoms):
            continue
        others = [a for a in atoms if a.name != name]
        if not others:
            return None
        out.append(
            tuple(
                (
                    a.name,
                    f"<={a.at_most}" if a.at_most is not None else str(not a.negated).lower(),
                )
                for a in others
            )
        )
    return tuple(out) or None


def _when_ja(incident: str, conditions: tuple[Condition, ...]) -> str:
    def one(c: Condition) -> str:
        parts = []
        for path, value in c:
            if (path, value) == POSTURE_FAILS:
                parts.append(
                    "不正利用前のログイン時の確認記録で対策が講じられていない（または記録がない）"
                )
            elif value.startswith("<="):
                parts.append(f"{incident}.{path}が{value[2:]}以下")
            else:
                parts.append(f"{incident}.{path}が{value}")
        return "かつ".join(parts)

    return "、または".join(one(c) for c in conditions)


def claim_form(policy: Policy, kind: str) -> tuple[FormField, ...]:
    """The questions whose answers a decision under ``policy`` reads, for an
    incident ``kind`` (``qr_payment`` or ``qr_payment:DCM-E1``), in file order."""
    incident, _, sub = kind.partition(":")
    if incident not in policy.incidents:
        raise FormError(
            "incident", f"{policy.id} covers {', '.join(policy.incidents)}, not {incident!r}"
        )
    subs = _subkinds(policy, incident)
    if sub and sub not in subs:
        raise FormError(
            "incident", f"{incident} sub-kinds under {policy.id}: {', '.join(subs) or 'none'}"
        )
    types = INCIDENT_FIELDS[incident]
    # What the request requires first (the incident's fields without a default, as
    # the wire requires them), then what the clauses read, in file order.
    ids: dict[str, dict[str, None]] = {name: {} for name in _REQUIRED_FIELDS[incident]}
    alternatives: dict[str, str] = {}
    unless_of: dict[str, None] = {}
    required: dict[str, None] = {}
    keys: dict[str, dict[str, None]] = {}
    allowed: dict[str, tuple[str, ...]] = {}
    series_cap: Clause | None = None  # a series cap reads series_id (一連の事故)
    # name → conditions under which its absence gives REVIEW (absent key: always)
    matters: dict[str, tuple[Condition, ...]] = {}
    always: set[str] = set()
    service_optional: dict[str, None] = {}  # a stated service must be on record (KDN-X1)
    stands_in: dict[str, str] = {}  # attestation key → the instant it stands in for
    sub_field = _SUBKIND_FIELDS.get(incident, "")
    for clause in policy.clauses:
        if not _applies(clause, incident, sub):
            continue
        if sub_field and any(
            item.partition(":")[0] == incident and item.partition(":")[2]
            for item in clause.applies_to
        ):  # the engine reads the sub-kind to apply it (legal_cost:consultation)
            ids.setdefault(sub_field, {}).setdefault(clause.id)
        if clause.kind == "incident_type" and clause.params.get("incident") == incident:
            subkinds = clause.list_param("subkinds")
            if subkinds:
                field = _SUBKIND_FIELDS.get(incident, "")
                if field:
                    ids.setdefault(field, {}).setdefault(clause.id)
                    # A form for one sub-kind asks for that one.
                    allowed[field] = (sub,) if sub else (*allowed.get(field, ()), *subkinds)
        for name, alt in _reads(clause, incident):
            if name not in _REQUEST_FIELDS[incident]:
                continue  # derived from others (occurred_at, a QR claim's payment method)
            ids.setdefault(name, {}).setdefault(clause.id)
            if alt:
                alternatives[name] = alt
            if clause.kind in ("exclusion_fact", "review_fact") and clause.list_param("unless"):
                unless_of.setdefault(name)
            else:
                required.setdefault(name)
            when = _absence_matters(clause, name)
            if when is None:
                always.add(name)
            else:
                matters[name] = tuple(dict.fromkeys((*matters.get(name, ()), *when)))
            if (
                name == "payment_service_id"
                and clause.kind == "security_standard"
                and clause.str_param("when_none") == "not_applicable"
            ):
                service_optional.setdefault(name)
            if clause.kind == "before_cover_start":
                stands_in[clause.id] = f"{incident}.{name}"
                alternatives[name] = f"exclusions[{clause.id}]"
        if clause.kind == "cap_per_series":
            ids.setdefault("series_id", {}).setdefault(clause.id)
            series_cap = series_cap or clause
        if clause.kind == "value_in":
            for name, _ in _reads(clause, incident)[:1]:
                allowed[name] = clause.list_param("allowed")
        attests = KINDS[clause.kind].attests
        if attests is not None:
            for key in attests(clause):
                keys.setdefault(key, {}).setdefault(clause.id)
    if sub_field in ids and sub_field not in allowed and (sub or subs):
        allowed[sub_field] = (sub,) if sub else subs  # the sub-kinds the policy tells apart
    fields: list[FormField] = []
    for name, by in ids.items():
        cids = tuple(by)
        path = name if name in TOP_LEVEL_FIELDS else f"{incident}.{name}"
        shown = "・".join(cids)
        if name in _REQUIRED_FIELDS[incident]:
            absent = REQUIRED_ABSENT
        elif name == "series_id" and series_cap is not None:
            absent = series_absent_ja(series_cap, shown)
        elif name in unless_of and name not in required:
            absent = _UNLESS.format(ids=shown)
        elif name in alternatives:
            other = ", ".join(
                n if n.startswith("exclusions[") else f"{incident}.{n}"
                for n in alternatives[name].split("|")
            )
            absent = _OR.format(other=other, ids=shown)
        elif name in service_optional and len(cids) == 1:
            absent = _SERVICE.format(ids=shown)
        elif name in matters and name not in always:
            absent = _WHEN.format(when=_when_ja(incident, matters[name]), ids=shown)
        else:
            absent = _REVIEW.format(ids=shown)
        conditional = name in matters and name not in always and name not in alternatives
        fields.append(
            FormField(
                path,
                types.get(name) or TOP_LEVEL_FIELDS.get(name, "other"),
                cids,
                _question(incident, name),
                absent,
                tuple(
                    dict.fromkeys(
                        allowed.get(name, ()) or _ENUM_VALUES.get(types.get(name, ""), ())
                    )
                ),
                matters[name] if conditional else (),
            )
        )
    for key, by in keys.items():
        cid = key.split(".")[0] if key.split(".")[0] in policy.clause_ids else next(iter(by))
        clause = policy.clause(cid)
        proviso = key != clause.id and key.startswith(clause.id + ".")
        fields.append(
            FormField(
                f"exclusions[{key}]",
                "bool",
                tuple(by),
                _attestation_question(key, clause, _parts_texts(policy, clause)),
                _PROVISO.format(ids="・".join(by))
                if proviso
                else _STANDS_IN_FOR.format(field=stands_in[key], ids="・".join(by))
                if key in stands_in
                else _REVIEW.format(ids="・".join(by)),
            )
        )
    return tuple(fields)


# The fields a request carries (a claim field derived from others is not asked).
_REQUEST_FIELDS: Mapping[str, frozenset[str]] = {
    name: frozenset(f.name for f in fields(cls)) | frozenset(TOP_LEVEL_FIELDS)
    for name, cls in INCIDENT_TYPES.items()
}

# The fields every request of an incident carries: the incident's fields without a
# default (the wire refuses a request without them).
_REQUIRED_FIELDS: Mapping[str, tuple[str, ...]] = {
    name: tuple(
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    )
    for name, cls in INCIDENT_TYPES.items()
}

# The values of an enum-typed field as the request takes them (claims.proto's value
# names, which the JSON of a claim spells): every member but UNSPECIFIED, which is
# "not stated". Without them a client building claims from the form alone could not
# name a funding or a payment method (A19c).
_ENUM_VALUES: Mapping[str, tuple[str, ...]] = {
    "funding": tuple(
        f"FUNDING_SOURCE_{m.name}" for m in FundingSource if m is not FundingSource.UNSPECIFIED
    ),
    "payment_method": tuple(f"PAYMENT_METHOD_{m.name}" for m in PaymentMethod),
    # An issuer's / operator's answer: the values of its ``kind`` (IssuerAnswer.Kind).
    "answer": tuple(
        f"KIND_{m.name}" for m in IssuerAnswerKind if m is not IssuerAnswerKind.UNSPECIFIED
    ),
}

# The field naming an incident's sub-kind (the ``incident_type`` kind reads it).
_SUBKIND_FIELDS: Mapping[str, str] = {
    "qr_payment": "event_kind",
    "liability": "claim_kind",
    "skimming_phishing": "kind",
    "legal_cost": "kind",
}


def _question(incident: str, name: str) -> str:
    return QUESTIONS_JA.get(f"{incident}.{name}") or QUESTIONS_JA[name]


def _parts_texts(policy: Policy, clause: Clause) -> tuple[str, ...]:
    """The distinct texts of every part of ``clause``'s id: the attestation named by
    the id answers the clause as a whole (HNB-X4: the police consultation, a typed
    fact, and the documents and cooperation its .cooperation part reads)."""
    return tuple(c.text_ja for c in policy.clauses if c.id == clause.id)


def _attestation_question(key: str, clause: Clause, texts: tuple[str, ...] = ()) -> str:
    text = "／".join(dict.fromkeys(t.split(" … ")[0] for t in texts or (clause.text_ja,)))
    if key != clause.id and key.startswith(clause.id + "."):
        return f"{clause.id}の但し書き（{key}）に当たりますか（true = 当たる）: {clause.text_ja}"
    return f"次に当たりますか（true = 当たる、false = 当たらない）: {text}"
