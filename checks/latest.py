"""Whether a version is the latest of its channel at an instant (HNB-P1, P2).

Duo / Okta device-assurance semantics: "out of date" means a newer release
of the same channel has been out for longer than the grace period; a
version the release data does not know is UNKNOWN, never out of date; and
release data older than its staleness limit answers UNKNOWN instead of
judging customers on old facts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from checks.model import CheckStatus, Compared, Precision
from checks.releases import (
    Channel,
    ProductReleases,
    classify_version,
    compare_at_precision,
    effective_components,
    is_stale,
    latest_at,
)


@dataclass(frozen=True, slots=True)
class LatestJudgement:
    status: CheckStatus
    reason: str
    compared: tuple[Compared, ...]
    install_version: str | None = None  # the exact version to install, when known
    update_by: datetime | None = None  # WARN: end of the grace period


def known_components(version: str, precision: Precision) -> int | None:
    """How many leading components of ``version`` are real (None: nothing usable)."""
    parts = len(version.split("."))
    if precision in (Precision.EXACT, Precision.INFERRED):
        return parts
    if precision is Precision.MAJOR_MINOR:
        return min(2, parts)
    if precision is Precision.MAJOR_ONLY:
        return 1
    return None


@dataclass(frozen=True, slots=True)
class _Thresholds:
    """The instants a channel's "latest" answer changes at, for one grace period.

    Apart from the staleness test, :func:`_judge_latest` looks at ``at`` only
    through ``released_at <= at`` (visible releases), ``at >= end_of_life``
    (both: "at >= c", counted by ``bisect_right`` over ``inclusive``) and
    ``released_at + grace < at`` (required releases: "at > c", counted by
    ``bisect_left`` over ``exclusive``). Two instants with the same two counts
    therefore get the same judgement.
    """

    channel: Channel
    inclusive: tuple[datetime, ...]
    exclusive: tuple[datetime, ...]


_CACHE_SIZE: Final = 4096
_THRESHOLDS: dict[tuple[int, timedelta], _Thresholds] = {}
_JUDGED: dict[tuple[object, ...], tuple[ProductReleases, Channel, LatestJudgement]] = {}


def _thresholds(channel: Channel, grace: timedelta) -> _Thresholds:
    key = (id(channel), grace)
    hit = _THRESHOLDS.get(key)
    if hit is not None and hit.channel is channel:
        return hit
    inclusive = [r.released_at for r in channel.releases]
    if channel.end_of_life is not None:
        inclusive.append(channel.end_of_life)
    found = _Thresholds(
        channel,
        tuple(sorted(inclusive)),
        tuple(sorted(r.released_at + grace for r in channel.releases)),
    )
    if len(_THRESHOLDS) >= _CACHE_SIZE:
        _THRESHOLDS.clear()
    _THRESHOLDS[key] = found
    return found


def judge_latest(
    product: ProductReleases,
    channel: Channel,
    version: str | None,
    precision: Precision,
    at: datetime,
    grace: timedelta,
    stale_after: timedelta,
    same_major_at_lower_precision: str,
    *,
    name: str = "version",
) -> LatestJudgement:
    """Whether ``version`` is the latest of ``channel`` at ``at`` (see the module docstring).

    Pure; judgements are memoised per interval of ``at`` between the instants
    the answer can change at (:class:`_Thresholds`), so a cached answer is
    exactly the one a fresh evaluation gives. Stale-data answers name ``at``
    itself and are never memoised.
    """
    args = (version, precision, at, grace, stale_after, same_major_at_lower_precision)
    if is_stale(product, at, stale_after) or grace < timedelta(0):
        return _judge_latest(product, channel, *args, name=name)
    th = _thresholds(channel, grace)
    key = (
        id(product),
        id(channel),
        version,
        precision,
        grace,
        same_major_at_lower_precision,
        name,
        bisect_right(th.inclusive, at),
        bisect_left(th.exclusive, at),
    )
    hit = _JUDGED.get(key)
    if hit is not None and hit[0] is product and hit[1] is channel:
        return hit[2]
    judged = _judge_latest(product, channel, *args, name=name)
    if len(_JUDGED) >= _CACHE_SIZE:
        _JUDGED.clear()
    _JUDGED[key] = (product, channel, judged)
    return judged


def _judge_latest(
    product: ProductReleases,
    channel: Channel,
    version: str | None,
    precision: Precision,
    at: datetime,
    grace: timedelta,
    stale_after: timedelta,
    same_major_at_lower_precision: str,
    *,
    name: str = "version",
) -> LatestJudgement:
    if is_stale(product, at, stale_after):
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            "release_data_stale",
            (
                Compared(
                    "release_data_as_of",
                    product.as_of.isoformat(),
                    f"> {(at - stale_after).isoformat()}",
                ),
            ),
        )
    if not version:
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            "version_not_reported",
            (Compared(name, "(not reported)", "latest", Precision.ABSENT),),
        )
    kc = known_components(version, precision)
    if kc is None:
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            "version_precision_insufficient",
            (Compared(name, version, "latest", precision),),
        )
    answer = latest_at(channel, at, grace)
    newest = answer.newest
    required = answer.required
    if channel.end_of_life is not None and at >= channel.end_of_life:
        return LatestJudgement(
            CheckStatus.FAIL,
            "channel_end_of_life",
            (
                Compared(
                    name,
                    version,
                    f"supported channel (ended {channel.end_of_life.date()})",
                    precision,
                ),
            ),
        )
    # Compare no deeper than both the client and the data are precise:
    # major-only Chrome data cannot judge a build, a major-only UA cannot either.
    kc = effective_components(product, kc)
    try:
        standing = classify_version(channel, version, kc, at=at)
    except ValueError:
        standing = "unknown"
    if standing == "older_than_data" and required is not None:
        # Below every release the data lists, so below the required one too.
        return LatestJudgement(
            CheckStatus.FAIL,
            "older_than_release_data",
            (Compared(name, version, f">= {required.version}", precision),),
            install_version=newest.version if newest else required.version,
        )
    if standing != "known":
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            f"version_{standing}",
            (Compared(name, version, "a version in the release data", precision),),
        )
    if required is None:
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            "no_release_past_grace",
            (Compared(name, version, "latest", precision),),
        )
    compared = [Compared(name, version, f">= {required.version}", precision)]
    install = newest.version if newest is not None else required.version
    verdict = compare_at_precision(version, kc, required.version)
    if verdict == "older":
        return LatestJudgement(
            CheckStatus.FAIL, "newer_release_past_grace", tuple(compared), install_version=install
        )
    if verdict == "indeterminate":
        if same_major_at_lower_precision == "PASS":
            return LatestJudgement(
                CheckStatus.PASS,
                "same_version_at_lower_precision",
                tuple(compared),
                install_version=install,
            )
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            "version_precision_insufficient",
            tuple(compared),
            install_version=install,
        )
    if (
        newest is not None
        and newest.version != required.version
        and compare_at_precision(version, kc, newest.version) == "older"
    ):
        compared.append(Compared(f"{name}_newest", version, f">= {newest.version}", precision))
        return LatestJudgement(
            CheckStatus.WARN,
            "newer_release_in_grace",
            tuple(compared),
            install_version=newest.version,
            update_by=newest.released_at + grace,
        )
    return LatestJudgement(CheckStatus.PASS, "latest", tuple(compared))
