"""Plain values shared by the posture checks.

Everything here is a frozen dataclass or an enum so that checks stay pure
functions of their inputs: no clock, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Precision(enum.Enum):
    """How much of a reported version we actually know.

    Never claim more than the client told us: a reduced Chrome UA says
    ``131.0.0.0`` but only the major is real.
    """

    EXACT = "exact"  # every component as sent by a trustworthy source (client hints)
    MAJOR_MINOR = "major_minor"  # e.g. Safari's ``Version/18.3``
    MAJOR_ONLY = "major_only"  # e.g. reduced Chrome UA, Firefox ``Firefox/136.0``
    FROZEN = "frozen"  # a placeholder value the client always sends (``10_15_7``)
    INFERRED = "inferred"  # derived from another field (macOS from the Safari version)
    ABSENT = "absent"  # not sent at all


class ClientKind(enum.Enum):
    BROWSER = "browser"
    IN_APP_BROWSER = "in_app_browser"  # LINE, Yahoo! JAPAN app, Instagram, ...
    BOT = "bot"
    UNRECOGNISED = "unrecognised"


class CheckStatus(enum.Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class Verdict(enum.Enum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class ClientHints:
    """The ``Sec-CH-UA-*`` request headers exactly as the IB server received them."""

    sec_ch_ua: str = ""
    full_version_list: str = ""
    platform: str = ""
    platform_version: str = ""
    mobile: str = ""
    model: str = ""


@dataclass(frozen=True, slots=True)
class HintConflict:
    """The user agent and the client hints name different values for one field.

    ``field`` is ``browser``, ``browser_version``, ``os`` or ``os_version``;
    the two values are as each source said them. A contradiction is not
    resolved in favour of either source: the checks that depend on the field
    answer UNKNOWN (HNB-P1), naming both values.
    """

    field: str
    user_agent: str
    client_hints: str


@dataclass(frozen=True, slots=True)
class ParsedClient:
    """What a login's user-agent and client hints tell us, with precision per field.

    ``browser`` and ``os`` are product ids as used in the release data and the
    support matrix: browsers ``chrome``, ``edge``, ``firefox``, ``safari``
    (others keep a lower-case ua-parser family, e.g. ``opera``, ``samsung_internet``);
    OS ``windows``, ``macos``, ``ios``, ``ipados``, ``android``, ``linux``,
    ``chromeos`` (others lower-case family). Versions are dotted strings of only
    the components we know (``"131"`` when only the major is real, never ``"131.0.0.0"``).
    For Windows ``os_version`` is the marketing major, ``"10"`` or ``"11"``,
    and ``os_build`` the platform version from the hints (``"15.0.0"``) when sent.
    """

    kind: ClientKind
    browser: str | None = None
    browser_version: str | None = None
    browser_version_precision: Precision = Precision.ABSENT
    os: str | None = None
    os_version: str | None = None
    os_version_precision: Precision = Precision.ABSENT
    os_build: str | None = None
    mobile: bool | None = None
    device_model: str | None = None
    in_app: str | None = None  # name of the host app for IN_APP_BROWSER, e.g. "LINE"
    bot: str | None = None  # name of the crawler for BOT, e.g. "Googlebot"
    hints_used: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    conflicts: tuple[HintConflict, ...] = ()

    def conflict(self, *fields: str) -> HintConflict | None:
        """The first UA / client-hint contradiction about one of ``fields``."""
        return next((c for c in self.conflicts if c.field in fields), None)


class TokenStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    REPORTED_LOST = "REPORTED_LOST"
    NOT_ISSUED = "NOT_ISSUED"
    SUSPENDED = "SUSPENDED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class AntivirusFacts:
    product: str = ""
    running: bool | None = None
    signatures_updated_at: datetime | None = None
    wsc_product_state: int | None = None


@dataclass(frozen=True, slots=True)
class PhishwallFacts:
    installed: bool | None = None
    client_version: str = ""
    extension_version: str = ""


@dataclass(frozen=True, slots=True)
class LoginFacts:
    """Everything the IB server told us about one login."""

    customer_id: str
    device_id: str
    login_time: datetime
    user_agent: str
    hints: ClientHints | None
    antivirus: AntivirusFacts | None
    phishwall: PhishwallFacts | None
    token_status: TokenStatus
    max_touch_points: int | None = None


@dataclass(frozen=True, slots=True)
class Compared:
    name: str
    observed: str
    expected: str
    precision: Precision = Precision.EXACT


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    check_id: str
    status: CheckStatus
    clause_ids: tuple[str, ...]
    reason: str
    message_ja: str = ""
    compared: tuple[Compared, ...] = ()
