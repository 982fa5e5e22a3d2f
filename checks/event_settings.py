"""Event-judgement parameters from rules/data/events.toml, and the policies' covers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from checks.cover import Cover
from checks.security_standard import SecurityStandardSettings
from checks.settings import SettingsError
from timing.instants import InstantError, parse_instant


@dataclass(frozen=True, slots=True)
class EventRules:
    """What judging an event needs: the security standard (events.toml) and, by
    policy id, where each policy's cover comes from (the policy files' ``[cover]``)."""

    security: SecurityStandardSettings
    covers: Mapping[str, Cover] = field(default_factory=dict)


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
    """An instant with its offset (TOML text or a TOML offset date-time), as UTC."""
    if key not in sec:
        raise SettingsError(f"{origin}: [{table}] missing key {key!r}")
    try:
        return parse_instant(sec[key])
    except InstantError as exc:
        raise SettingsError(f"{origin}: [{table}].{key}: {exc}") from None


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
    if "coverage" in doc:
        # Per-policy choices live in the policy files: refuse rather than ignore them here.
        raise SettingsError(
            f"{origin}: [coverage] is no longer read here; where cover comes from is the "
            "[cover] table of each policy file (policies/*.toml, docs/claims.md)"
        )
    return EventRules(security)
