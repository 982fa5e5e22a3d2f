"""Whether a version is the latest of its channel at an instant (HNB-P1, P2).

Duo / Okta device-assurance semantics: "out of date" means a newer release
of the same channel has been out for longer than the grace period; a
version the release data does not know is UNKNOWN, never out of date.

Never claiming more than the data shows (issue 20):

* FAIL needs only a release the data shows, out for longer than the grace
  period at the login instant, that the client is older than: that is a
  fact however old the data is.
* PASS and WARN need the data to **cover** ``at - grace``
  (``as_of >= at - grace``): a release the data cannot see (after
  ``as_of``) would already be past its grace period otherwise. Without
  coverage the answer is UNKNOWN (``release_data_stale``).
* A client whose version is known only to the major (Firefox's UA) is
  warned about a newer release in its grace period like any other.

Schedules (``schedule_margin``, posture.toml ``[release_data]``): where the
vendor's published schedule is in the data (``Channel.scheduled``, from
browser-compat-data), a release newer than the client cannot reach users
before its scheduled date minus the early-release margin. So when the data
lists nothing newer than the client, coverage extends to the earliest
scheduled newer version's date minus the margin, and never past it. A
client on a scheduled version whose date has come (Chrome 158 after its
2026-11-17) is on a version the data knows of. A schedule never makes a
FAIL or a WARN: those still need a release the data shows.
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
    latest_at,
    scheduled_after,
    scheduled_on,
)


@dataclass(frozen=True, slots=True)
class LatestJudgement:
    status: CheckStatus
    reason: str
    compared: tuple[Compared, ...]
    install_version: str | None = None  # the exact version to install, when known
    update_by: datetime | None = None  # WARN: end of the grace period
    # The data ends before the login instant (``at > as_of``): a release newer
    # than ``install_version`` may exist, so messages say "X or later".
    install_at_least: bool = False


def covers(product: ProductReleases, at: datetime, grace: timedelta) -> bool:
    """Whether the data knows every release that could be past grace at ``at`` (HNB-P1).

    ``as_of >= at - grace``: exactly at the boundary a release the data
    cannot see (``released_at > as_of``) is at most ``grace`` old, so it is
    still in its grace period and cannot make the client out of date.
    """
    return product.as_of >= at - grace


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

    Apart from the coverage tests, :func:`_judge_latest` looks at ``at`` only
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
    # A client on a scheduled version is known from its scheduled date on.
    inclusive.extend(p.scheduled_at for p in channel.scheduled)
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
    same_major_at_lower_precision: str,
    *,
    name: str = "version",
    schedule_margin: timedelta | None = None,
) -> LatestJudgement:
    """Whether ``version`` is the latest of ``channel`` at ``at`` (see the module docstring).

    HNB-P1 (browsers) and HNB-P2 (Phishwall Premium). Pure; judgements are
    memoised per interval of ``at`` between the instants the answer can
    change at (:class:`_Thresholds`, plus whether the data covers
    ``at - grace`` and ``at``), so a cached answer is exactly the one a
    fresh evaluation gives. Answers from data that does not cover
    ``at - grace`` may name ``at`` itself and are never memoised.
    """
    args = (version, precision, at, grace, same_major_at_lower_precision)
    if grace < timedelta(0) or not covers(product, at, grace):
        return _judge_latest(product, channel, *args, name=name, schedule_margin=schedule_margin)
    th = _thresholds(channel, grace)
    key = (
        id(product),
        id(channel),
        version,
        precision,
        grace,
        same_major_at_lower_precision,
        name,
        schedule_margin,
        bisect_right(th.inclusive, at),
        bisect_left(th.exclusive, at),
        at <= product.as_of,
    )
    hit = _JUDGED.get(key)
    if hit is not None and hit[0] is product and hit[1] is channel:
        return hit[2]
    judged = _judge_latest(product, channel, *args, name=name, schedule_margin=schedule_margin)
    if len(_JUDGED) >= _CACHE_SIZE:
        _JUDGED.clear()
    _JUDGED[key] = (product, channel, judged)
    return judged


def _stale(product: ProductReleases, at: datetime, grace: timedelta) -> LatestJudgement:
    return LatestJudgement(
        CheckStatus.UNKNOWN,
        "release_data_stale",
        (
            Compared(
                "release_data_as_of",
                product.as_of.isoformat(),
                f">= {(at - grace).isoformat()} (login instant - grace)",
            ),
        ),
    )


def _judge_latest(
    product: ProductReleases,
    channel: Channel,
    version: str | None,
    precision: Precision,
    at: datetime,
    grace: timedelta,
    same_major_at_lower_precision: str,
    *,
    name: str = "version",
    schedule_margin: timedelta | None = None,
) -> LatestJudgement:
    covered = covers(product, at, grace)
    at_least = at > product.as_of
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
    schedule: list[Compared] = []
    if schedule_margin is not None and standing in ("known", "newer_than_data"):
        if standing == "newer_than_data" and scheduled_on(channel, version, kc, at) is not None:
            standing = "known"  # Chrome 158 after its scheduled date: a version the data knows of
        if not covered:
            nxt = scheduled_after(channel, version, kc, at=at)
            bound = at - grace + schedule_margin
            if nxt is not None and nxt.scheduled_at >= bound:
                # Nothing newer can have reached users before at - grace: covered.
                covered = True
                schedule.append(
                    Compared(
                        "release_schedule",
                        f"{nxt.version} scheduled {nxt.scheduled_at.isoformat()}",
                        f">= {bound.isoformat()} (login instant - grace + early-release margin)",
                    )
                )
    install = newest.version if newest is not None else None
    if standing == "older_than_data" and required is not None:
        # Below every release the data lists, so below the required one too.
        return LatestJudgement(
            CheckStatus.FAIL,
            "older_than_release_data",
            (Compared(name, version, f">= {required.version}", precision),),
            install_version=install or required.version,
            install_at_least=at_least,
        )
    if standing != "known":
        if not covered:  # a release the data cannot see may be what this client runs
            return _stale(product, at, grace)
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            f"version_{standing}",
            (Compared(name, version, "a version in the release data", precision),),
        )
    if required is None:
        if not covered:
            return _stale(product, at, grace)
        if newest is None:
            return LatestJudgement(
                CheckStatus.UNKNOWN,
                "no_release_past_grace",
                (Compared(name, version, "latest", precision),),
            )
        # Nothing of the channel is past its grace period yet (a new iOS line
        # in its first two weeks): nothing is required, so the client cannot
        # be out of date; only the in-grace warning below can apply.
        compared = [Compared(name, version, "(nothing past grace yet)", precision)]
        verdict: str = "newer_or_equal"
    else:
        compared = [Compared(name, version, f">= {required.version}", precision)]
        install = install or required.version
        verdict = compare_at_precision(version, kc, required.version)
    if verdict == "older":
        return LatestJudgement(
            CheckStatus.FAIL,
            "newer_release_past_grace",
            tuple(compared),
            install_version=install,
            install_at_least=at_least,
        )
    if not covered:
        # Not older than anything the data shows, but the data ends before
        # at - grace: an unseen release may already be past its grace period.
        return _stale(product, at, grace)
    compared.extend(schedule)  # why it is covered, when the schedule says so
    if verdict == "indeterminate" and same_major_at_lower_precision != "PASS":
        return LatestJudgement(
            CheckStatus.UNKNOWN,
            "version_precision_insufficient",
            tuple(compared),
            install_version=install,
            install_at_least=at_least,
        )
    if (
        newest is not None
        and (required is None or newest.version != required.version)
        and compare_at_precision(version, kc, newest.version) == "older"
    ):
        # Also for a client known to the major only (Firefox 135 while 136 is
        # in its grace period): the major alone shows it is older.
        compared.append(Compared(f"{name}_newest", version, f">= {newest.version}", precision))
        return LatestJudgement(
            CheckStatus.WARN,
            "newer_release_in_grace",
            tuple(compared),
            install_version=newest.version,
            update_by=newest.released_at + grace,
            install_at_least=at_least,
        )
    if verdict == "indeterminate":
        return LatestJudgement(
            CheckStatus.PASS,
            "same_version_at_lower_precision",
            tuple(compared),
            install_version=install,
            install_at_least=at_least,
        )
    return LatestJudgement(
        CheckStatus.PASS, "latest_per_schedule" if schedule else "latest", tuple(compared)
    )
