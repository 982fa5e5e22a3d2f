"""Posture-check parameters (rules/data/posture.toml) and product data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet


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
    # [release_data] use_schedule / schedule_early_days: how much earlier than
    # its published date a scheduled release may reach users; None: the
    # vendors' schedules are not used (checks/latest.py, "schedule").
    release_schedule_margin: timedelta | None = None


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
        release_schedule_margin=_schedule_margin(doc, origin),
    )


def _schedule_margin(doc: Mapping[str, Any], origin: str) -> timedelta | None:
    """Off unless ``[release_data] use_schedule = true`` (a rules copy made before it: off)."""
    section = doc.get("release_data")
    if not isinstance(section, Mapping) or "use_schedule" not in section:
        return None
    if not _get(doc, origin, "release_data", "use_schedule", bool):
        return None
    return timedelta(days=_get(doc, origin, "release_data", "schedule_early_days", int))


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


@dataclass(frozen=True, slots=True)
class BrowserOsLimit:
    """The last major of a browser that some versions of an OS can run (HNB-P1).

    "Latest" is the latest the customer's OS can install: Chrome 109 is the
    newest Chrome for Windows 7 / 8.1, so a Windows 7 login on Chrome 109 is
    judged against Chrome 109's line, not against Chrome 157 it cannot
    install (whether Windows 7 itself is acceptable is the support matrix's
    question). ``versions`` is a PEP 440 specifier over the OS marketing
    version, like the matrix; it is never shown to customers.
    """

    browser: str
    os: str
    versions: SpecifierSet
    last_major: int
    source: str


def browser_os_limits_from_dict(
    doc: Mapping[str, Any], *, origin: str
) -> tuple[BrowserOsLimit, ...]:
    """The ``[[browser_os_limit]]`` tables of platforms.toml (none is fine)."""
    raw = doc.get("browser_os_limit", [])
    if not isinstance(raw, list):
        raise SettingsError(f"{origin}: browser_os_limit: expected an array of tables")
    out = []
    for i, entry in enumerate(raw):
        where = f"{origin}: browser_os_limit[{i}]"
        if not isinstance(entry, Mapping):
            raise SettingsError(f"{where}: expected a table")
        try:
            browser, os, spec = str(entry["browser"]), str(entry["os"]), str(entry["versions"])
            last, source = entry["last_major"], str(entry["source"])
        except KeyError as exc:
            raise SettingsError(f"{where}: missing key {exc.args[0]!r}") from exc
        if isinstance(last, bool) or not isinstance(last, int) or last < 1:
            raise SettingsError(f"{where}.last_major: expected a positive integer, got {last!r}")
        try:
            versions = SpecifierSet(spec)
        except InvalidSpecifier as exc:
            raise SettingsError(f"{where}.versions: {exc}") from exc
        out.append(BrowserOsLimit(browser, os, versions, last, source))
    return tuple(out)
