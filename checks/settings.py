"""Posture-check parameters (rules/data/posture.toml) and product data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


class SettingsError(ValueError):
    """A settings file is malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class PostureSettings:
    browser_grace: timedelta
    same_major_at_lower_precision: str  # "PASS" | "UNKNOWN"
    release_stale_after: timedelta
    antivirus_accept_builtin: bool
    antivirus_required_on: frozenset[str]
    antivirus_max_signature_age: timedelta
    phishwall_required_on: frozenset[str]
    phishwall_grace: timedelta
    lookback: timedelta


@dataclass(frozen=True, slots=True)
class AntivirusProduct:
    id: str
    name: str
    aliases: tuple[str, ...]
    builtin: bool


def _get(doc: Mapping[str, Any], origin: str, section: str, key: str, kind: type) -> Any:
    sec = doc.get(section)
    if not isinstance(sec, Mapping) or key not in sec:
        raise SettingsError(f"{origin}: [{section}] missing key {key!r}")
    value = sec[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise SettingsError(f"{origin}: [{section}].{key}: expected {kind.__name__}, got {value!r}")
    if isinstance(value, int) and value < 0:
        raise SettingsError(f"{origin}: [{section}].{key}: must not be negative")
    return value


def settings_from_dict(doc: Mapping[str, Any], *, origin: str) -> PostureSettings:
    same_major = _get(doc, origin, "browser", "same_major_at_lower_precision", str)
    if same_major not in ("PASS", "UNKNOWN"):
        raise SettingsError(
            f"{origin}: [browser].same_major_at_lower_precision: expected PASS or UNKNOWN"
        )
    return PostureSettings(
        browser_grace=timedelta(days=_get(doc, origin, "browser", "grace_days", int)),
        same_major_at_lower_precision=same_major,
        release_stale_after=timedelta(
            days=_get(doc, origin, "release_data", "stale_after_days", int)
        ),
        antivirus_accept_builtin=_get(doc, origin, "antivirus", "accept_builtin", bool),
        antivirus_required_on=frozenset(_get(doc, origin, "antivirus", "required_on", list)),
        antivirus_max_signature_age=timedelta(
            hours=_get(doc, origin, "antivirus", "max_signature_age_hours", int)
        ),
        phishwall_required_on=frozenset(_get(doc, origin, "phishwall", "required_on", list)),
        phishwall_grace=timedelta(days=_get(doc, origin, "phishwall", "grace_days", int)),
        lookback=timedelta(days=_get(doc, origin, "lookback", "days", int)),
    )


def antivirus_from_dict(doc: Mapping[str, Any], *, origin: str) -> tuple[AntivirusProduct, ...]:
    products = []
    for i, raw in enumerate(doc.get("product", [])):
        try:
            products.append(
                AntivirusProduct(
                    id=str(raw["id"]),
                    name=str(raw["name"]),
                    aliases=tuple(str(a).lower() for a in raw["aliases"]),
                    builtin=bool(raw.get("builtin", False)),
                )
            )
        except KeyError as exc:
            raise SettingsError(f"{origin}: product[{i}]: missing key {exc.args[0]!r}") from exc
    return tuple(products)


def safari_macos_from_dict(doc: Mapping[str, Any], *, origin: str) -> dict[str, tuple[str, ...]]:
    table = doc.get("safari_macos")
    if not isinstance(table, Mapping):
        raise SettingsError(f"{origin}: missing table [safari_macos]")
    return {str(k): tuple(str(v) for v in vs) for k, vs in table.items()}
