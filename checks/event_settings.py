"""Event-judgement and coverage parameters from rules/data/events.toml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checks.coverage import CoverageSettings
from checks.event_model import SecurityApp
from checks.security_standard import SecurityStandardSettings
from checks.settings import SettingsError


@dataclass(frozen=True, slots=True)
class EventRules:
    security: SecurityStandardSettings
    coverage: CoverageSettings


def _section(doc: Mapping[str, Any], origin: str, name: str) -> Mapping[str, Any]:
    sec = doc.get(name)
    if not isinstance(sec, Mapping):
        raise SettingsError(f"{origin}: missing table [{name}]")
    return sec


def _typed(sec: Mapping[str, Any], origin: str, table: str, key: str, kind: type) -> Any:
    if key not in sec:
        raise SettingsError(f"{origin}: [{table}] missing key {key!r}")
    value = sec[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise SettingsError(f"{origin}: [{table}].{key}: expected {kind.__name__}, got {value!r}")
    return value


def _instant(sec: Mapping[str, Any], origin: str, table: str, key: str) -> datetime:
    raw = _typed(sec, origin, table, key, str)
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SettingsError(f"{origin}: [{table}].{key}: not an RFC 3339 instant") from exc
    if dt.tzinfo is None:
        raise SettingsError(f"{origin}: [{table}].{key}: instant without a UTC offset")
    return dt


def _apps(sec: Mapping[str, Any], origin: str, table: str, key: str) -> frozenset[SecurityApp]:
    names = _typed(sec, origin, table, key, list)
    try:
        return frozenset(SecurityApp[str(n)] for n in names)
    except KeyError as exc:
        valid = ", ".join(a.name for a in SecurityApp)
        raise SettingsError(
            f"{origin}: [{table}].{key}: unknown app {exc.args[0]!r} ({valid})"
        ) from exc


def event_rules_from_dict(doc: Mapping[str, Any], *, origin: str) -> EventRules:
    s = _section(doc, origin, "security_standard")
    t = "security_standard"
    security = SecurityStandardSettings(
        accept_3ds_attempt=_typed(s, origin, t, "accept_3ds_attempt", bool),
        three_ds_1_retired_at=_instant(s, origin, t, "three_ds_1_retired_at"),
        accept_email_otp=_typed(s, origin, t, "accept_email_otp", bool),
        s3_accept_biometric_registered_device=_typed(
            s, origin, t, "s3_accept_biometric_registered_device", bool
        ),
        s3_accept_passkey=_typed(s, origin, t, "s3_accept_passkey", bool),
        dcm_t_qr_debit_card_covered=_typed(s, origin, t, "dcm_t_qr_debit_card_covered", bool),
        card_own_funding_is_bank_account=_typed(
            s, origin, t, "card_own_funding_is_bank_account", bool
        ),
        dcm_services_with_unpublished_standard=frozenset(
            str(x) for x in _typed(s, origin, t, "dcm_services_with_unpublished_standard", list)
        ),
    )
    c = _section(doc, origin, "coverage")
    t = "coverage"
    coverage = CoverageSettings(
        kdn_campaign_ends_at=(
            _instant(c, origin, t, "kdn_campaign_ends_at") if "kdn_campaign_ends_at" in c else None
        ),
        kdn_carrier_shop_channel=_typed(c, origin, t, "kdn_carrier_shop_channel", str),
        kdn_carrier_shop_required_for=_apps(c, origin, t, "kdn_carrier_shop_required_for"),
        kdn_require_billed_phone=_typed(c, origin, t, "kdn_require_billed_phone", bool),
        isa_products=_apps(c, origin, t, "isa_products"),
        isa_in_force_from=_instant(c, origin, t, "isa_in_force_from"),
        jpe_cover_delay_months=_typed(c, origin, t, "jpe_cover_delay_months", int),
    )
    return EventRules(security, coverage)
