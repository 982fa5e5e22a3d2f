"""Load and validate policy files (``rules/data/policies/*.toml``).

A file that does not validate refuses to load, with one message per problem
naming the file, the clause and the key::

    hnb.toml: clause HNB-X5: params.days: missing (N, the number of days.)
    hnb.toml: clause HNB-X9: kind: unknown clause kind 'exclusion_facts'
    kdn.toml: clause KDN-L2.once: params.year_anchor: bad anchor '07-32 16:00'

``validate_dir`` returns every message (for ``anshin rules validate DIR``);
``load_policies`` raises ``PolicyError`` carrying them.

File layout (see docs/claims.md)::

    policy = "HNB"                    # three capital letters, prefix of every clause id
    name = "…"                        # the policy's Japanese name
    version = "2024-02-20"            # the seed's date or a revision label
    effective_from = 2014-12-15       # TOML date
    source_seed = "004_….txt"         # the authoritative Japanese text
    incidents = ["ib_transfer"]       # incident types a claim under this policy may have

    [params]                          # shared ASSUMPTIONs, referenced as "@name"
    posture_lookback_days = 90

    [[clauses]]
    id = "HNB-X5"                     # stable id from policies.md
    part = ""                         # optional: several entries of one clause id
    kind = "notice_within_days_after" # a registered kind (rules.engine.kinds.KINDS)
    effect = "DENY"                   # DENY | REVIEW | gate
    applies_to = ["ib_transfer"]      # optional: incident types (or type:subkind)
    any_of = ""                       # optional: a group of which one must PASS
    summary = "…"                     # one English line
    text_ja = "…"                     # quoted from the seed
    [clauses.params]
    days = 30
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from checks.cover import Cover
from checks.event_model import FundingSource
from checks.security_standard import PaymentMethod, PaymentMethodRow
from rules.engine.cover import parse_cover, refs_in
from rules.engine.kinds import KINDS, KindSpec, ParamSpec
from rules.engine.kinds.facts import parse_atom
from rules.engine.model import (
    INCIDENT_FIELDS,
    INCIDENT_TYPES,
    TOP_LEVEL_FIELDS,
    IssuerAnswerKind,
    field_type,
)
from rules.engine.policy import Clause, ClauseEffect, ParamValue, Policy, PolicySet
from timing.instants import InstantError, parse_instant
from timing.money import parse_percent
from timing.years import YearAnchor

__all__ = ["BUILTIN_POLICIES_DIR", "PolicyError", "load_policies", "validate_dir"]

BUILTIN_POLICIES_DIR = Path(__file__).resolve().parent.parent / "data" / "policies"

_POLICY_ID = re.compile(r"^[A-Z]{3}$")
_CLAUSE_ID = re.compile(r"^[A-Z]{3}-[A-Z]+[0-9]*$")
_PART = re.compile(r"^[a-z][a-z0-9_]*$")
_ANCHOR = re.compile(r"^(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?$")

_TOP_KEYS = frozenset(
    {
        "policy",
        "name",
        "version",
        "effective_from",
        "source_seed",
        "incidents",
        "params",
        "cover",
        "clauses",
    }
)
_CLAUSE_KEYS = frozenset(
    {"id", "part", "kind", "effect", "summary", "text_ja", "params", "applies_to", "any_of"}
)


class PolicyError(ValueError):
    """Policy files refused to load; ``errors`` lists every problem (file, clause, key)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class _Bad(Exception):
    """One bad value; the caller adds file, clause and key."""


# --------------------------------------------------------------------------- values


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object, minimum: int, what: str) -> int:
    if isinstance(value, float):
        raise _Bad(f"expected {what}, got the float {value!r}")
    if not _is_int(value):
        raise _Bad(f"expected {what}, got {type(value).__name__} {value!r}")
    assert isinstance(value, int)
    if value < minimum:
        raise _Bad(f"expected {what} (>= {minimum}), got {value}")
    return value


def _str_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _instant(value: object) -> datetime:
    # The one parser of instants (timing/instants.py), as UTC; a date is refused.
    try:
        return parse_instant(value)
    except InstantError as exc:
        raise _Bad(str(exc)) from None


def _date(value: object) -> date:
    if isinstance(value, datetime):
        raise _Bad(f"expected a date, got the date-time {value.isoformat()}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _Bad(f"bad date {value!r}") from None
    raise _Bad(f"expected a date (YYYY-MM-DD), got {value!r}")


def _anchor(value: object) -> YearAnchor:
    if not isinstance(value, str):
        raise _Bad(f'expected an anchor "MM-DD HH:MM", got {value!r}')
    m = _ANCHOR.match(value.strip())
    if not m:
        raise _Bad(f'bad anchor {value!r}; expected "MM-DD HH:MM" (JST)')
    month, day, hour, minute = (int(g) if g else 0 for g in m.groups())
    try:
        return YearAnchor(month, day, hour, minute)
    except ValueError as exc:
        raise _Bad(f"bad anchor {value!r}: {exc}") from None


def _fields(spec: ParamSpec, value: object) -> tuple[str, ...]:
    names = _str_list(value)
    if not names:
        raise _Bad("expected at least one field name")
    for name in names:
        types = field_type(name)
        if not types:
            raise _Bad(f"unknown claim field {name!r}")
        if spec.field_types and not types & spec.field_types:
            raise _Bad(
                f"field {name!r} is {'/'.join(sorted(types))}, expected "
                f"{'/'.join(sorted(spec.field_types))}"
            )
    return names


_METHODS = {m.value: m for m in PaymentMethod}
_FUNDING = {f.name: f for f in FundingSource if f is not FundingSource.UNSPECIFIED}
_ROW_KEYS = frozenset({"method", "funding", "covered", "label_ja"})


def _payment_table(value: object) -> tuple[PaymentMethodRow, ...]:
    """Rows {method, funding, covered, label_ja}: a payment method (PaymentMethod value),
    its funding sources (FundingSource names; [] = "－", any), ○ or ×, the row as printed."""
    if not isinstance(value, list) or not value:
        raise _Bad(f"expected a non-empty list of rows, got {value!r}")
    rows = []
    for n, row in enumerate(value, 1):
        if not isinstance(row, dict) or set(row) != _ROW_KEYS:
            raise _Bad(f"row {n}: expected the keys {', '.join(sorted(_ROW_KEYS))}, got {row!r}")
        method = _METHODS.get(row["method"])
        if method is None:
            raise _Bad(f"row {n}: method: unknown {row['method']!r} (known: {', '.join(_METHODS)})")
        funding = row["funding"]
        if not isinstance(funding, list) or any(f not in _FUNDING for f in funding):
            raise _Bad(f"row {n}: funding: expected FundingSource names, got {funding!r}")
        if not isinstance(row["covered"], bool):
            raise _Bad(f"row {n}: covered: expected true or false, got {row['covered']!r}")
        label = row["label_ja"]
        if not isinstance(label, str) or not label.strip():
            raise _Bad(f"row {n}: label_ja: missing")
        rows.append(
            PaymentMethodRow(
                method, frozenset(_FUNDING[f] for f in funding), row["covered"], label.strip()
            )
        )
    return tuple(rows)


def convert(spec: ParamSpec, value: object) -> ParamValue:
    """Convert and check one raw TOML value for ``spec``; raises ``_Bad``."""
    t = spec.type
    if t == "days":
        return _int(value, 1, "a number of days")
    if t == "int":
        return _int(value, 0, "a non-negative integer")
    if t == "count":
        return _int(value, 1, "a count")
    if t == "yen":
        return _int(value, 0, "whole yen (an integer)")
    if t == "percent":
        if isinstance(value, bool | float):
            raise _Bad(f'expected a percentage as an integer or a string ("62.5"), got {value!r}')
        if not isinstance(value, int | str):
            raise _Bad(f"expected a percentage, got {value!r}")
        try:
            p = parse_percent(value)
        except (TypeError, ValueError) as exc:
            raise _Bad(str(exc)) from None
        if p > 100:
            raise _Bad(f"percentage {value} is over 100")
        return Fraction(p)
    if t == "bool":
        if not isinstance(value, bool):
            raise _Bad(f"expected true or false, got {value!r}")
        return value
    if t == "str":
        if not isinstance(value, str):
            raise _Bad(f"expected a string, got {value!r}")
        return value
    if t == "choice":
        if value not in spec.choices:
            raise _Bad(f"expected one of {', '.join(spec.choices)}, got {value!r}")
        assert isinstance(value, str)
        return value
    if t == "fields":
        return _fields(spec, value)
    if t == "str_list":
        return _str_list(value)
    if t == "clause_ids":
        ids = () if value == [] else _str_list(value)
        for cid in ids:
            if not _CLAUSE_ID.match(cid):
                raise _Bad(f"not a clause id: {cid!r}")
        return ids
    if t == "answer_kinds":
        kinds = () if value == [] else _str_list(value)
        known = {k.name for k in IssuerAnswerKind} - {"UNSPECIFIED"}
        for k in kinds:
            if k not in known:
                raise _Bad(f"unknown answer kind {k!r}; expected one of {sorted(known)}")
        return kinds
    if t == "instant":
        return _instant(value)
    if t == "anchor":
        return _anchor(value)
    if t == "payment_table":
        return _payment_table(value)
    if t == "incident":
        if value not in INCIDENT_TYPES:
            raise _Bad(f"unknown incident type {value!r}; expected one of {sorted(INCIDENT_TYPES)}")
        assert isinstance(value, str)
        return value
    raise AssertionError(f"unhandled parameter type {t}")


# --------------------------------------------------------------------------- files


def _params(
    where: str,
    spec: KindSpec,
    raw: object,
    shared: Mapping[str, object],
    errors: list[str],
) -> dict[str, ParamValue]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append(f"{where}: params: expected a table, got {raw!r}")
        return {}
    out: dict[str, ParamValue] = {}
    known = {p.name for p in spec.params}
    for key in raw:
        if key not in known:
            expected = ", ".join(sorted(known)) or "none"
            errors.append(
                f"{where}: params.{key}: unknown parameter of kind {spec.name} "
                f"(expected: {expected})"
            )
    for p in spec.params:
        if p.name not in raw:
            if p.required:
                errors.append(f"{where}: params.{p.name}: missing ({p.doc})")
            elif p.default is not None:
                out[p.name] = p.default
            continue
        value = raw[p.name]
        ref = ""
        if isinstance(value, str) and value.startswith("@"):
            ref = value[1:]
            if ref not in shared:
                errors.append(
                    f"{where}: params.{p.name}: refers to unknown policy parameter @{ref}"
                )
                continue
            value = shared[ref]
        try:
            out[p.name] = convert(p, value)
        except _Bad as exc:
            via = f" (via @{ref})" if ref else ""
            errors.append(f"{where}: params.{p.name}{via}: {exc}")
    return out


def _applies_to(where: str, raw: object, errors: list[str]) -> tuple[str, ...]:
    try:
        items = () if raw is None or raw == [] else _str_list(raw)
    except _Bad as exc:
        errors.append(f"{where}: applies_to: {exc}")
        return ()
    for item in items:
        incident = item.split(":", 1)[0]
        if incident not in INCIDENT_TYPES:
            errors.append(
                f"{where}: applies_to: unknown incident type {incident!r}; "
                f"expected one of {sorted(INCIDENT_TYPES)}"
            )
    return items


def _clause(
    name: str,
    index: int,
    policy_id: str,
    raw: object,
    shared: Mapping[str, object],
    errors: list[str],
) -> Clause | None:
    if not isinstance(raw, dict):
        errors.append(f"{name}: clauses[{index}]: expected a table")
        return None
    cid = raw.get("id")
    part = raw.get("part", "")
    label = f"{cid}.{part}" if part else str(cid)
    where = f"{name}: clause {label}" if isinstance(cid, str) else f"{name}: clauses[{index}]"
    before = len(errors)
    for key in raw:
        if key not in _CLAUSE_KEYS:
            errors.append(
                f"{where}: {key}: unknown key (expected: {', '.join(sorted(_CLAUSE_KEYS))})"
            )
    if not isinstance(cid, str) or not _CLAUSE_ID.match(cid):
        errors.append(f"{where}: id: expected a clause id like {policy_id}-X5, got {cid!r}")
    elif not cid.startswith(policy_id + "-"):
        errors.append(f"{where}: id: clause id {cid!r} does not belong to policy {policy_id}")
    if not isinstance(part, str) or (part and not _PART.match(part)):
        errors.append(f"{where}: part: expected a snake_case label, got {part!r}")
    text = raw.get("text_ja")
    if not isinstance(text, str) or not text.strip():
        errors.append(f"{where}: text_ja: missing (quote the clause from the seed)")
    summary = raw.get("summary", "")
    if not isinstance(summary, str):
        errors.append(f"{where}: summary: expected a string")
    any_of = raw.get("any_of", "")
    if not isinstance(any_of, str):
        errors.append(f"{where}: any_of: expected a string")
    kind_name = raw.get("kind")
    spec = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if spec is None:
        errors.append(
            f"{where}: kind: unknown clause kind {kind_name!r} (known: {', '.join(sorted(KINDS))})"
        )
    effect_raw = raw.get("effect")
    effect: ClauseEffect | None = None
    try:
        effect = ClauseEffect(effect_raw)
    except ValueError:
        errors.append(f"{where}: effect: expected DENY, REVIEW or gate, got {effect_raw!r}")
    if spec is not None and effect is not None and effect not in spec.effects:
        allowed = ", ".join(sorted(e.value for e in spec.effects))
        errors.append(
            f"{where}: effect: {effect.value} is not allowed for kind {spec.name} ({allowed})"
        )
    applies_to = _applies_to(where, raw.get("applies_to"), errors)
    params = _params(where, spec, raw.get("params"), shared, errors) if spec else {}
    if len(errors) > before or spec is None or effect is None:
        return None
    assert isinstance(cid, str) and isinstance(text, str) and isinstance(part, str)
    assert isinstance(summary, str) and isinstance(any_of, str)
    return Clause(
        id=cid,
        kind=spec.name,
        effect=effect,
        text_ja=text.strip(),
        params=params,
        part=part,
        summary=summary.strip(),
        applies_to=applies_to,
        any_of=any_of,
    )


def _policy(path: Path, errors: list[str]) -> Policy | None:
    name = path.name
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        errors.append(f"{name}: not valid TOML: {exc}")
        return None
    except OSError as exc:
        errors.append(f"{name}: cannot read: {exc}")
        return None
    before = len(errors)
    for key in data:
        if key not in _TOP_KEYS:
            errors.append(f"{name}: {key}: unknown key (expected: {', '.join(sorted(_TOP_KEYS))})")
    policy_id = data.get("policy")
    if not isinstance(policy_id, str) or not _POLICY_ID.match(policy_id):
        errors.append(f"{name}: policy: expected a three-letter policy id, got {policy_id!r}")
        policy_id = "???"
    for key in ("name", "version", "source_seed"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            errors.append(f"{name}: {key}: missing")
    effective: date | None = None
    try:
        effective = _date(data.get("effective_from"))
    except _Bad as exc:
        errors.append(f"{name}: effective_from: {exc}")
    incidents: tuple[str, ...] = ()
    try:
        incidents = _str_list(data.get("incidents"))
        for inc in incidents:
            if inc not in INCIDENT_TYPES:
                errors.append(f"{name}: incidents: unknown incident type {inc!r}")
        if not incidents:
            errors.append(f"{name}: incidents: at least one incident type")
    except _Bad as exc:
        errors.append(f"{name}: incidents: {exc}")
    shared = data.get("params", {})
    if not isinstance(shared, dict):
        errors.append(f"{name}: params: expected a table")
        shared = {}
    raw_clauses = data.get("clauses")
    if not isinstance(raw_clauses, list) or not raw_clauses:
        errors.append(f"{name}: clauses: expected at least one [[clauses]] table")
        raw_clauses = []
    clauses: list[Clause] = []
    seen: dict[str, list[str]] = {}
    for index, raw in enumerate(raw_clauses):
        clause = _clause(name, index, policy_id, raw, shared, errors)
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            seen.setdefault(raw["id"], []).append(str(raw.get("part", "")))
        if clause is not None:
            clauses.append(clause)
    for cid, parts in seen.items():
        if len(parts) > 1 and (len(set(parts)) != len(parts) or "" in parts):
            errors.append(
                f"{name}: clause {cid}: id: duplicate clause id (entries of one clause need "
                f"distinct, non-empty `part` labels; got {parts})"
            )
    cover: Cover | None = None
    if "cover" in data:
        title = data.get("name")
        cover = parse_cover(
            name,
            policy_id,
            title.strip() if isinstance(title, str) else policy_id,
            data["cover"],
            shared,
            set(seen),
            errors,
        )
    for cid in sorted(set(shared) - _used_refs(raw_clauses) - refs_in(data.get("cover"))):
        errors.append(f"{name}: params.{cid}: policy parameter is never used")
    for clause in clauses:
        _check_fields_defined(name, clause, incidents, errors)
    _check_coverage_read(name, policy_id, clauses, "cover" in data, cover, errors)
    if len(errors) > before or effective is None:
        return None
    return Policy(
        id=policy_id,
        name=str(data["name"]).strip(),
        version=str(data["version"]).strip(),
        effective_from=effective,
        source_seed=str(data["source_seed"]).strip(),
        incidents=incidents,
        clauses=tuple(clauses),
        path=path,
        params=dict(shared),
        cover=cover,
    )


def _check_coverage_read(
    name: str,
    policy_id: str,
    clauses: list[Clause],
    has_cover: bool,
    cover: Cover | None,
    errors: list[str],
) -> None:
    """A clause reads the policy's own cover, which the file says where to build from.

    The servicer provides the periods of the claim's policy only (under its
    id), so another name could never be read. The engine applies a clause's
    start delay to the service periods itself: GetCoverage applies the one of
    ``[cover]``, so the two must be the same.
    """
    for clause in clauses:
        coverage = clause.params.get("coverage")
        if not isinstance(coverage, str):
            continue
        where = f"{name}: clause {clause.label}: params.coverage"
        if coverage != policy_id:
            errors.append(
                f"{where}: {coverage!r} is not this policy's cover; a claim reads only "
                f"its own ({policy_id!r})"
            )
        elif not has_cover:
            errors.append(
                f"{where}: the file has no [cover] table saying where {policy_id} cover "
                "comes from (docs/claims.md)"
            )
        delay = clause.params.get("begins_months_after_start")
        months = cover.begins_months_after_start if cover is not None else None
        if months is not None and isinstance(delay, int) and delay != months:
            errors.append(
                f"{name}: clause {clause.label}: params.begins_months_after_start: {delay} "
                f"differs from cover.begins_months_after_start ({months}); "
                "share one policy parameter"
            )


def _check_fields_defined(
    name: str, clause: Clause, incidents: tuple[str, ...], errors: list[str]
) -> None:
    """Every field a clause names exists on every incident type the clause applies to.

    Otherwise the clause would silently not apply to that incident type.
    """
    spec = KINDS[clause.kind]
    targets = [
        inc
        for inc in incidents
        if (inc in INCIDENT_FIELDS and not clause.applies_to)
        or any(a.split(":", 1)[0] == inc for a in clause.applies_to)
    ]
    for p in spec.params:
        value = clause.params.get(p.name)
        if p.relevant_if and not clause.params.get(p.relevant_if):
            continue
        if p.name == "when" and isinstance(value, tuple):  # facts_combine's formula
            _check_formula(name, clause, value, targets, errors)
            continue
        if p.type == "fields" and isinstance(value, tuple):
            names = tuple(n for n in value if isinstance(n, str))
        elif p.name == "fact" and isinstance(value, str) and value and "." not in value:
            names = (value,)
        else:
            continue
        for inc in targets:
            if not any(n in INCIDENT_FIELDS[inc] or n in TOP_LEVEL_FIELDS for n in names):
                errors.append(
                    f"{name}: clause {clause.label}: params.{p.name}: {' / '.join(names)} is "
                    f"not a field of {inc} claims (restrict the clause with applies_to)"
                )


def _check_formula(
    name: str, clause: Clause, terms: tuple[Any, ...], targets: list[str], errors: list[str]
) -> None:
    """Every term of a ``when`` formula is a boolean field (``name``, ``!name``) or an
    integer field compared (``name<=N``) of every incident type the clause applies to."""
    for term in terms:
        for text in str(term).split("+"):
            try:
                atom = parse_atom(text)
            except ValueError:
                errors.append(f"{name}: clause {clause.label}: params.when: bad term {text!r}")
                continue
            want = "int" if atom.at_most is not None else "bool"
            for inc in targets:
                got = INCIDENT_FIELDS[inc].get(atom.name) or TOP_LEVEL_FIELDS.get(atom.name)
                if got != want:
                    errors.append(
                        f"{name}: clause {clause.label}: params.when: {atom.name} is not a "
                        f"{want} field of {inc} claims"
                    )


def _used_refs(raw_clauses: list[Any]) -> set[str]:
    used: set[str] = set()
    for raw in raw_clauses:
        if isinstance(raw, dict) and isinstance(raw.get("params"), dict):
            for value in raw["params"].values():
                if isinstance(value, str) and value.startswith("@"):
                    used.add(value[1:])
    return used


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _load(directory: Path) -> tuple[PolicySet | None, list[str]]:
    errors: list[str] = []
    if not directory.is_dir():
        return None, [f"{directory}: not a directory"]
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        return None, [f"{directory}: no policy files (*.toml)"]
    policies: dict[str, Policy] = {}
    for path in paths:
        policy = _policy(path, errors)
        if policy is None:
            continue
        if policy.id in policies:
            other = policies[policy.id].path
            errors.append(
                f"{path.name}: policy: {policy.id} is already defined in "
                f"{other.name if other else '?'}"
            )
            continue
        policies[policy.id] = policy
    if errors:
        return None, errors
    return PolicySet(policies, _digest(paths), directory), []


def validate_dir(directory: Path | str) -> list[str]:
    """Every problem of the policy files in ``directory`` (empty when they load)."""
    return _load(Path(directory))[1]


def load_policies(directory: Path | str | None = None) -> PolicySet:
    """Load and validate every ``*.toml`` in ``directory`` (default: the built-in policies)."""
    root = Path(directory) if directory is not None else BUILTIN_POLICIES_DIR
    policy_set, errors = _load(root)
    if policy_set is None:
        raise PolicyError(errors)
    return policy_set
